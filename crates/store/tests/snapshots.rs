//! Snapshots are written with their command or not at all, resume points find the right one and
//! the events after it, and old snapshots are pruned: on SQLite and on PostgreSQL.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    AuditEntry, CommandWrite, LoanRecord, NewEvent, NewSnapshot, Projection, Store, StoreError,
    connect, terms_digest,
};

loanbook_store::on_both_backends!(
    a_snapshot_is_written_with_its_command_and_resumed_from,
    a_failed_command_leaves_no_snapshot,
    resume_points_respect_the_day_before,
    snapshots_are_pruned_to_a_bound,
);

const TERMS: &str = r#"{"currency":"INR"}"#;

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let s = connect(&db.url).await.unwrap();
    s.ensure_book("main", "Main", "2024-01-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s
}

fn command(version: i64, snapshot: Option<(i64, &str)>) -> CommandWrite {
    let day = format!("2024-01-{:02}", (version % 28) + 1);
    CommandWrite {
        command_id: format!("c{version}"),
        at: "2024-02-01T10:00:00Z".into(),
        loan_id: "L1".into(),
        expected_version: version,
        new_loan: (version == 0).then(|| LoanRecord {
            id: "L1".into(),
            book_id: "main".into(),
            loan_number: "LN-1".into(),
            borrower_id: None,
            product_id: None,
            product_version: None,
            terms: TERMS.into(),
            terms_hash: terms_digest(TERMS),
            partner_ids: vec![],
            created_at: "2024-01-01T00:00:00Z".into(),
            application_id: None,
        }),
        events: vec![NewEvent {
            value_date: day.clone(),
            event: format!(r#"{{"n":{}}}"#, version + 1),
        }],
        projection: Projection {
            loan_id: "L1".into(),
            version: version + 1,
            as_of: day,
            status: "active".into(),
            classification: "standard".into(),
            dpd: 0,
            principal_outstanding: 1,
            total_overdue: 0,
            state: "{}".into(),
        },
        snapshot: snapshot.map(|(v, day)| NewSnapshot {
            version: v,
            day: day.into(),
            engine: format!(r#"{{"engine_at":{v}}}"#),
        }),
        audit: AuditEntry {
            at: "2024-02-01T10:00:00Z".into(),
            actor: "ops".into(),
            action: "post".into(),
            target: "loan/L1".into(),
            request_digest: "d".into(),
            event_ids: vec![],
        },
        outbox: vec![],
        idempotency: None,
        approval: None,
        application: None,
    }
}

async fn a_snapshot_is_written_with_its_command_and_resumed_from(db: &TestDatabase) {
    let s = open(db).await;
    assert!(s.resume_point("L1", None).await.unwrap().is_none());
    s.commit(&command(0, None)).await.unwrap();
    s.commit(&command(1, Some((2, "2024-01-02"))))
        .await
        .unwrap();
    s.commit(&command(2, None)).await.unwrap();
    s.commit(&command(3, None)).await.unwrap();
    let (snap, events) = s.resume_point("L1", None).await.unwrap().unwrap();
    assert_eq!((snap.loan_id.as_str(), snap.version), ("L1", 2));
    assert_eq!(snap.day, "2024-01-02");
    assert_eq!(snap.engine, r#"{"engine_at":2}"#);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    assert_eq!(events, s.events_after("L1", 2).await.unwrap());
    assert_eq!(events[0].event, r#"{"n":3}"#);
    assert_eq!(s.events_after("L1", 4).await.unwrap(), vec![]);
    // A snapshot past the loan's events is refused, and nothing of its command is written.
    let e = s.commit(&command(4, Some((9, "2024-01-05")))).await;
    assert!(matches!(e, Err(StoreError::Corrupt(_))), "{e:?}");
    assert_eq!(s.events("L1").await.unwrap().len(), 4);
}

async fn a_failed_command_leaves_no_snapshot(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&command(0, None)).await.unwrap();
    s.commit(&command(1, None)).await.unwrap();
    // Decided on a stale version: refused, and its snapshot is not kept.
    let e = s
        .commit(&command(1, Some((2, "2024-01-02"))))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::VersionConflict { .. }), "{e}");
    assert!(s.resume_point("L1", None).await.unwrap().is_none());
    // Refused at the end of the write (the idempotency key is taken): nothing is kept either.
    let mut first = command(2, None);
    first.idempotency = Some(loanbook_store::IdempotencyRecord {
        scope: "u".into(),
        key: "k".into(),
        target: "POST /x".into(),
        request_digest: "a".into(),
        status: 201,
        body: "{}".into(),
    });
    s.commit(&first).await.unwrap();
    let mut second = command(3, Some((4, "2024-01-04")));
    second.idempotency = first.idempotency.clone().map(|mut i| {
        i.request_digest = "b".into();
        i
    });
    let e = s.commit(&second).await.unwrap_err();
    assert!(matches!(e, StoreError::IdempotencyConflict { .. }), "{e}");
    assert!(s.resume_point("L1", None).await.unwrap().is_none());
    assert_eq!(s.events("L1").await.unwrap().len(), 3);
}

async fn resume_points_respect_the_day_before(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&command(0, Some((1, "2024-01-01"))))
        .await
        .unwrap();
    s.commit(&command(1, Some((2, "2024-01-05"))))
        .await
        .unwrap();
    s.commit(&command(2, Some((3, "2024-01-09"))))
        .await
        .unwrap();
    let at = |before: Option<&'static str>| {
        let s = s.clone();
        async move {
            s.resume_point("L1", before)
                .await
                .unwrap()
                .map(|(snap, events)| (snap.version, events.len()))
        }
    };
    assert_eq!(at(None).await, Some((3, 0)));
    assert_eq!(at(Some("2024-01-10")).await, Some((3, 0)));
    // Strictly before: a snapshot of that very day is not taken.
    assert_eq!(at(Some("2024-01-09")).await, Some((2, 1)));
    assert_eq!(at(Some("2024-01-05")).await, Some((1, 2)));
    assert_eq!(at(Some("2024-01-01")).await, None);
}

async fn snapshots_are_pruned_to_a_bound(db: &TestDatabase) {
    let s = open(db).await;
    // A snapshot with every command, versions 1 to 230.
    for v in 0..230 {
        s.commit(&command(v, Some((v + 1, "2024-01-01"))))
            .await
            .unwrap();
    }
    let kept: Vec<i64> = {
        use sqlx::Connection;
        const Q: &str = "SELECT version FROM loan_snapshots WHERE loan_id = 'L1' ORDER BY version";
        let rows: Vec<(i64,)> = if db.url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(Q).fetch_all(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(Q).fetch_all(&mut c).await.unwrap()
        };
        rows.into_iter().map(|r| r.0).collect()
    };
    // The newest four, and the newest of each block of 100 versions.
    assert_eq!(kept, vec![99, 199, 227, 228, 229, 230]);
}
