//! The applications store: each test runs on SQLite and on PostgreSQL. Applications are
//! created and appended at an expected version, listed, written with their idempotency record,
//! outbox and approval, and booked into a loan atomically with the loan's first command; their
//! audit records verify, and an edited or inserted application event is caught.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    ApplicationAppend, ApplicationFilter, ApplicationWrite, Approval, AuditEntry, CommandWrite,
    Decision, IdempotencyRecord, LoanRecord, NewApplication, NewEvent, NewOutbox, Projection,
    Store, StoreError, connect,
};
use loanbook_store::{AuditKey, OpenOptions, audit_schemes, connect_with};

loanbook_store::on_both_backends!(
    an_application_is_created_and_appended,
    a_stale_version_is_refused_and_changes_nothing,
    concurrent_appends_land_once_in_sequence,
    a_duplicate_number_is_refused_within_its_book,
    applications_filter_and_paginate,
    the_idempotency_record_outbox_and_approval_are_written_with_it,
    a_disbursement_books_the_loan_and_closes_the_application,
    a_stale_application_version_leaves_no_loan,
    a_loan_conflict_leaves_the_application_unchanged,
    audit_verifies_application_writes_and_catches_edited_events,
    a_keyed_store_seals_application_records_with_its_key,
);

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let s = connect(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
    s.ensure_book("main", "Main book", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s
}

fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: "2024-02-01T10:00:00Z".into(),
        actor: "ops-1".into(),
        action: action.into(),
        target: target.into(),
        request_digest: "ab".repeat(32),
        event_ids: vec![],
    }
}

fn event(kind: &str) -> String {
    format!(r#"{{"type":"{kind}","amount":"20000.00"}}"#)
}

/// An append to application `id` at `version`: one event, the given status and queue.
fn append(id: &str, version: i64, status: &str, queue: Option<&str>) -> ApplicationAppend {
    ApplicationAppend {
        application_id: id.into(),
        expected_version: version,
        new: None,
        events: vec![event(status)],
        applicant_id: Some("party-1".into()),
        status: status.into(),
        queue: queue.map(str::to_owned),
        loan_id: None,
        state: format!(r#"{{"status":"{status}","version":{}}}"#, version + 1),
        audit: audit(status, &format!("application/{id}")),
    }
}

fn write(append: ApplicationAppend) -> ApplicationWrite {
    ApplicationWrite {
        command_id: format!("cmd-{}-{}", append.application_id, append.expected_version),
        at: "2024-02-01T10:00:00Z".into(),
        append,
        outbox: vec![],
        idempotency: None,
        approval: None,
        parties: vec![],
    }
}

/// A new application `id` numbered `number` in book `book`, with two events (drafted and
/// submitted).
fn create(id: &str, number: &str, book: &str) -> ApplicationWrite {
    let mut a = append(id, 0, "submitted", Some("credit"));
    a.new = Some(NewApplication {
        book_id: book.into(),
        number: number.into(),
        product_id: "P-PL".into(),
        product_version: 3,
    });
    a.events = vec![event("drafted"), event("submitted")];
    a.state = r#"{"status":"submitted","version":2}"#.into();
    a.audit = audit("create_application", &format!("application/{id}"));
    write(a)
}

fn projection(loan: &str, version: i64) -> Projection {
    Projection {
        loan_id: loan.into(),
        version,
        as_of: "2024-02-01".into(),
        status: "active".into(),
        classification: "standard".into(),
        dpd: 0,
        principal_outstanding: 2_000_000,
        total_overdue: 0,
        state: "{}".into(),
    }
}

/// The disbursement of application `app` (at `app_version`) booking loan `loan`.
fn disbursement(loan: &str, app: &str, app_version: i64) -> CommandWrite {
    let mut closing = append(app, app_version, "disbursed", None);
    closing.loan_id = Some(loan.into());
    CommandWrite {
        command_id: format!("cmd-disburse-{loan}"),
        at: "2024-02-01T11:00:00Z".into(),
        loan_id: loan.into(),
        expected_version: 0,
        new_loan: Some(LoanRecord {
            id: loan.into(),
            book_id: "main".into(),
            loan_number: format!("LN-{loan}"),
            borrower_id: Some("party-1".into()),
            product_id: Some("P-PL".into()),
            product_version: Some(3),
            terms: r#"{"currency":"INR","principal":"20000.00"}"#.into(),
            terms_hash: loanbook_store::terms_digest(
                r#"{"currency":"INR","principal":"20000.00"}"#,
            ),
            partner_ids: vec![],
            created_at: "2024-02-01T11:00:00Z".into(),
            application_id: None,
        }),
        events: vec![NewEvent {
            value_date: "2024-02-01".into(),
            event: r#"{"type":"disbursement","date":"2024-02-01","amount":"20000.00"}"#.into(),
        }],
        projection: projection(loan, 1),
        snapshot: None,
        audit: audit("disburse", &format!("loan/{loan}")),
        outbox: vec![],
        idempotency: None,
        approval: None,
        application: Some(closing),
    }
}

async fn an_application_is_created_and_appended(db: &TestDatabase) {
    let s = open(db).await;
    assert_eq!(
        s.commit_application(&create("A1", "APP-1", "main"))
            .await
            .unwrap(),
        vec![1, 2]
    );
    let a = s.application("A1").await.unwrap().unwrap();
    assert_eq!(
        (
            a.book_id.as_str(),
            a.number.as_str(),
            a.product_id.as_str(),
            a.product_version
        ),
        ("main", "APP-1", "P-PL", 3)
    );
    assert_eq!(
        (a.status.as_str(), a.queue.as_deref(), a.version),
        ("submitted", Some("credit"), 2)
    );
    assert_eq!(a.applicant_id.as_deref(), Some("party-1"));
    assert_eq!(a.state, r#"{"status":"submitted","version":2}"#);
    assert_eq!(a.created_at, "2024-02-01T10:00:00Z");
    assert_eq!(
        s.application_by_number("APP-1").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(s.application_by_number("APP-2").await.unwrap(), None);
    assert_eq!(s.application("A2").await.unwrap(), None);

    let mut next = write(append("A1", 2, "assessed", Some("partner:P9")));
    next.at = "2024-02-02T10:00:00Z".into();
    assert_eq!(s.commit_application(&next).await.unwrap(), vec![3]);
    let b = s.application("A1").await.unwrap().unwrap();
    assert_eq!(
        (b.status.as_str(), b.queue.as_deref(), b.version),
        ("assessed", Some("partner:P9"), 3)
    );
    assert_eq!(
        (b.created_at.as_str(), b.updated_at.as_str()),
        ("2024-02-01T10:00:00Z", "2024-02-02T10:00:00Z")
    );
    let events = s.application_events("A1").await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(events[0].event, event("drafted"));
    assert_eq!(events[2].event, event("assessed"));
    assert_eq!(events[2].command_id, "cmd-A1-2");
    assert_eq!(events[2].recorded_at, "2024-02-02T10:00:00Z");

    // Each write has its record on the application's stream, naming the events it appended.
    let records = s.audit_records().await.unwrap();
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.stream == "application:A1")
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!((mine[0].stream_seq, mine[1].stream_seq), (1, 2));
    assert_eq!(mine[0].entry.event_ids, vec!["A1:1", "A1:2"]);
    assert_eq!(mine[1].entry.event_ids, vec!["A1:3"]);
    assert!(!mine[0].content_hash.is_empty());
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
}

async fn a_stale_version_is_refused_and_changes_nothing(db: &TestDatabase) {
    let s = open(db).await;
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    s.commit_application(&write(append("A1", 2, "assessed", None)))
        .await
        .unwrap();
    let before = s.application("A1").await.unwrap();
    let records = s.audit_records().await.unwrap().len();

    let stale = s
        .commit_application(&write(append("A1", 2, "rejected", None)))
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::VersionConflict {
                expected: 2,
                actual: 3
            })
        ),
        "{stale:?}"
    );
    // Creating an application that exists is a duplicate, whatever its number.
    let again = s.commit_application(&create("A1", "APP-9", "main")).await;
    assert!(
        matches!(&again, Err(StoreError::Duplicate { what }) if what == "application `A1`"),
        "{again:?}"
    );
    // Appending to one that does not exist is refused.
    let missing = s
        .commit_application(&write(append("A9", 0, "assessed", None)))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    // An audit target of another stream is refused.
    let mut elsewhere = append("A1", 3, "rejected", None);
    elsewhere.audit.target = "loan/A1".into();
    assert!(s.commit_application(&write(elsewhere)).await.is_err());

    assert_eq!(s.application("A1").await.unwrap(), before);
    assert_eq!(s.application_events("A1").await.unwrap().len(), 3);
    assert_eq!(s.audit_records().await.unwrap().len(), records);
    assert!(s.application("A9").await.unwrap().is_none());
}

async fn concurrent_appends_land_once_in_sequence(db: &TestDatabase) {
    let s = open(db).await;
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    // At one version, one lands; the others are told to retry (a version conflict, or the
    // audit stream's next number taken, whichever the database meets first).
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut w = write(append("A1", 2, &format!("assessed-{k}"), None));
                w.command_id = format!("cmd-{k}");
                s.commit_application(&w).await
            })
        })
        .collect();
    let mut landed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(seqs) => landed.push(seqs),
            Err(e) => assert!(e.is_retryable(), "{e:?}"),
        }
    }
    assert_eq!(landed, vec![vec![3]]);
    let a = s.application("A1").await.unwrap().unwrap();
    let events = s.application_events("A1").await.unwrap();
    assert_eq!((a.version, events.len()), (3, 3));
    assert_eq!(
        a.status,
        format!("assessed-{}", &events[2].command_id["cmd-".len()..])
    );
    // Retrying from the version read, all land once, in sequence.
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let s = s.clone();
            tokio::spawn(async move {
                loop {
                    let version = s.application("A1").await.unwrap().unwrap().version;
                    let mut w = write(append("A1", version, "assessed", None));
                    w.command_id = format!("retry-{k}");
                    match s.commit_application(&w).await {
                        Ok(seqs) => return seqs[0],
                        Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (4..=11).collect::<Vec<i64>>());
    assert_eq!(s.application("A1").await.unwrap().unwrap().version, 11);
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
}

async fn a_duplicate_number_is_refused_within_its_book(db: &TestDatabase) {
    let s = open(db).await;
    s.ensure_book("other", "Other book", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    let dup = s.commit_application(&create("A2", "APP-1", "main")).await;
    assert!(
        matches!(&dup, Err(StoreError::Duplicate { what }) if what == "application number `APP-1`"),
        "{dup:?}"
    );
    assert!(s.application("A2").await.unwrap().is_none());
    assert!(s.application_events("A2").await.unwrap().is_empty());
    assert!(
        s.audit_records()
            .await
            .unwrap()
            .iter()
            .all(|r| r.stream != "application:A2")
    );
    // The same number in another book is another application.
    s.commit_application(&create("A3", "APP-1", "other"))
        .await
        .unwrap();
    assert_eq!(s.application("A3").await.unwrap().unwrap().book_id, "other");
}

async fn applications_filter_and_paginate(db: &TestDatabase) {
    let s = open(db).await;
    for (id, status, queue, applicant) in [
        ("A1", "submitted", Some("credit"), "party-1"),
        ("A2", "assessed", Some("partner:P9"), "party-2"),
        ("A3", "submitted", Some("credit"), "party-2"),
        ("A4", "rejected", None, "party-3"),
        ("A5", "submitted", Some("credit"), "party-1"),
    ] {
        let mut w = create(id, &format!("APP-{id}"), "main");
        w.append.status = status.into();
        w.append.queue = queue.map(str::to_owned);
        w.append.applicant_id = Some(applicant.into());
        s.commit_application(&w).await.unwrap();
    }
    let ids = |rows: Vec<loanbook_store::ApplicationRecord>| -> Vec<String> {
        rows.into_iter().map(|r| r.id).collect()
    };
    let list = |f: ApplicationFilter| {
        let s = s.clone();
        async move { ids(s.list_applications(&f).await.unwrap()) }
    };
    let all = ApplicationFilter {
        limit: 100,
        ..ApplicationFilter::default()
    };
    assert_eq!(list(all.clone()).await, ["A1", "A2", "A3", "A4", "A5"]);
    let submitted = ApplicationFilter {
        status: Some("submitted".into()),
        ..all.clone()
    };
    assert_eq!(list(submitted.clone()).await, ["A1", "A3", "A5"]);
    let credit = ApplicationFilter {
        queue: Some("credit".into()),
        ..all.clone()
    };
    assert_eq!(list(credit).await, ["A1", "A3", "A5"]);
    let partner = ApplicationFilter {
        queue: Some("partner:P9".into()),
        ..all.clone()
    };
    assert_eq!(list(partner).await, ["A2"]);
    let party = ApplicationFilter {
        applicant_id: Some("party-2".into()),
        ..all.clone()
    };
    assert_eq!(list(party).await, ["A2", "A3"]);
    let both = ApplicationFilter {
        status: Some("submitted".into()),
        applicant_id: Some("party-1".into()),
        ..all.clone()
    };
    assert_eq!(list(both).await, ["A1", "A5"]);
    // Keyset pages of two, until an empty page.
    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let page = list(ApplicationFilter {
            after: after.clone(),
            limit: 2,
            ..submitted.clone()
        })
        .await;
        if page.is_empty() {
            break;
        }
        after = page.last().cloned();
        pages.push(page);
    }
    assert_eq!(pages, vec![vec!["A1", "A3"], vec!["A5"]]);
    // A limit below one is one.
    assert_eq!(list(ApplicationFilter { limit: 0, ..all }).await, ["A1"]);
}

fn key(k: &str, reference: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: "user-1".into(),
        key: k.into(),
        target: "POST /v1/applications".into(),
        request_digest: format!("digest-{reference}"),
        status: 201,
        body: format!(r#"{{"reference":"{reference}"}}"#),
    }
}

async fn the_idempotency_record_outbox_and_approval_are_written_with_it(db: &TestDatabase) {
    let s = open(db).await;
    s.create_approval(
        &Approval {
            id: "AP1".into(),
            action: "sanction".into(),
            target: "application/A1".into(),
            payload: "{}".into(),
            maker: "mira".into(),
            status: "pending".into(),
            checker: None,
            created_at: "2024-02-01T09:00:00Z".into(),
            decided_at: None,
        },
        &audit("request_sanction", "approval/AP1"),
        None,
    )
    .await
    .unwrap();
    let mut w = create("A1", "APP-1", "main");
    w.idempotency = Some(key("k-1", "A1"));
    w.outbox = vec![NewOutbox {
        id: "out-A1".into(),
        loan_id: None,
        topic: "application.submitted".into(),
        payload: r#"{"application_id":"A1"}"#.into(),
    }];
    w.approval = Some(Decision {
        approval_id: "AP1".into(),
        checker: "chetan".into(),
        at: "2024-02-01T10:00:00Z".into(),
    });
    s.commit_application(&w).await.unwrap();
    assert_eq!(
        s.idempotency("user-1", "k-1").await.unwrap(),
        Some(key("k-1", "A1"))
    );
    let outbox = db.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].id.as_str(), outbox[0].topic.as_str()),
        ("out-A1", "application.submitted")
    );
    assert_eq!(outbox[0].created_at, "2024-02-01T10:00:00Z");
    let ap = s.approval("AP1").await.unwrap().unwrap();
    assert_eq!(
        (ap.status.as_str(), ap.checker.as_deref()),
        ("approved", Some("chetan"))
    );

    // The key used again for another request writes nothing.
    let mut reuse = create("A2", "APP-2", "main");
    reuse.idempotency = Some(key("k-1", "A2"));
    let err = s.commit_application(&reuse).await;
    assert!(
        matches!(&err, Err(StoreError::IdempotencyConflict { key }) if key == "k-1"),
        "{err:?}"
    );
    assert!(s.application("A2").await.unwrap().is_none());
    // So does a second decision on the approval.
    let mut twice = write(append("A1", 2, "sanctioned", None));
    twice.approval = w.approval.clone();
    assert!(matches!(
        s.commit_application(&twice).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.application("A1").await.unwrap().unwrap().version, 2);
    assert_eq!(db.outbox().await.len(), 1);
}

async fn a_disbursement_books_the_loan_and_closes_the_application(db: &TestDatabase) {
    let s = open(db).await;
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    s.commit_application(&write(append("A1", 2, "sanctioned", None)))
        .await
        .unwrap();
    assert_eq!(
        s.commit(&disbursement("L1", "A1", 3)).await.unwrap(),
        vec![1]
    );
    let loan = s.loan("L1").await.unwrap().unwrap();
    assert_eq!(loan.loan_number, "LN-L1");
    assert_eq!(s.events("L1").await.unwrap().len(), 1);
    let a = s.application("A1").await.unwrap().unwrap();
    assert_eq!(
        (a.status.as_str(), a.loan_id.as_deref(), a.version),
        ("disbursed", Some("L1"), 4)
    );
    assert_eq!(a.updated_at, "2024-02-01T11:00:00Z");
    let events = s.application_events("A1").await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].command_id, "cmd-disburse-L1");
    // One record on each stream for the one command.
    let records = s.audit_records().await.unwrap();
    let closing = records
        .iter()
        .find(|r| r.stream == "application:A1" && r.stream_seq == 3);
    assert_eq!(
        closing.map(|r| r.entry.event_ids.clone()),
        Some(vec!["A1:4".to_owned()])
    );
    let booking = records.iter().find(|r| r.stream == "loan:L1").unwrap();
    assert_eq!(booking.entry.event_ids, vec!["L1:1"]);
    assert!(booking.terms_hash.is_some());
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
}

async fn a_stale_application_version_leaves_no_loan(db: &TestDatabase) {
    let s = open(db).await;
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    s.commit_application(&write(append("A1", 2, "sanctioned", None)))
        .await
        .unwrap();
    let before = s.application("A1").await.unwrap();
    let records = s.audit_records().await.unwrap().len();
    let stale = s.commit(&disbursement("L1", "A1", 2)).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::VersionConflict {
                expected: 2,
                actual: 3
            })
        ),
        "{stale:?}"
    );
    assert!(s.loan("L1").await.unwrap().is_none());
    assert!(s.events("L1").await.unwrap().is_empty());
    assert!(s.projection("L1").await.unwrap().is_none());
    assert_eq!(s.application("A1").await.unwrap(), before);
    assert_eq!(s.audit_records().await.unwrap().len(), records);
    // At the right version it goes through.
    s.commit(&disbursement("L1", "A1", 3)).await.unwrap();
    assert!(s.loan("L1").await.unwrap().is_some());
}

async fn a_loan_conflict_leaves_the_application_unchanged(db: &TestDatabase) {
    let s = open(db).await;
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    s.commit_application(&create("A2", "APP-2", "main"))
        .await
        .unwrap();
    s.commit(&disbursement("L1", "A1", 2)).await.unwrap();
    let before = s.application("A2").await.unwrap();
    let records = s.audit_records().await.unwrap().len();
    // A command on loan L1 at a stale version, carrying A2's append.
    let mut stale = disbursement("L1", "A2", 2);
    stale.new_loan = None;
    stale.expected_version = 0;
    stale.projection = projection("L1", 2);
    let err = s.commit(&stale).await;
    assert!(
        matches!(
            err,
            Err(StoreError::VersionConflict {
                expected: 0,
                actual: 1
            })
        ),
        "{err:?}"
    );
    // Booking a loan whose number is taken fails as well.
    let mut taken = disbursement("L2", "A2", 2);
    if let Some(l) = taken.new_loan.as_mut() {
        l.loan_number = "LN-L1".into();
    }
    assert!(matches!(
        s.commit(&taken).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(s.application("A2").await.unwrap(), before);
    assert_eq!(s.application_events("A2").await.unwrap().len(), 2);
    assert_eq!(s.events("L1").await.unwrap().len(), 1);
    assert!(s.loan("L2").await.unwrap().is_none());
    assert_eq!(s.audit_records().await.unwrap().len(), records);
}

async fn sql(db: &TestDatabase, statement: &str) {
    use sqlx::Connection;
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(statement).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(statement).execute(&mut c).await.unwrap();
    }
}

/// The first broken record's stream, number and reason.
async fn broken(s: &Arc<dyn Store>) -> (String, i64, String) {
    match s.verify_audit(None).await.unwrap().unwrap() {
        Ok(v) => panic!("the log verified: {v:?}"),
        Err(b) => (b.stream, b.seq, b.reason),
    }
}

async fn audit_verifies_application_writes_and_catches_edited_events(db: &TestDatabase) {
    let s = open(db).await;
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    s.commit_application(&write(append("A1", 2, "sanctioned", None)))
        .await
        .unwrap();
    s.commit(&disbursement("L1", "A1", 3)).await.unwrap();
    let v = s.verify_audit(None).await.unwrap().unwrap().unwrap();
    assert_eq!(v.records, 4);
    // The application's stream and the loan's.
    assert_eq!(v.streams, 2, "{v:?}");
    // An edited application event is caught at the record that appended it.
    sql(db, "UPDATE application_events SET event = replace(event, '20000.00', '2000.00') WHERE application_id = 'A1' AND seq = 2").await;
    let (stream, seq, reason) = broken(&s).await;
    assert_eq!((stream.as_str(), seq), ("application:A1", 1), "{reason}");
    assert!(reason.contains("A1:2"), "{reason}");
    sql(db, "UPDATE application_events SET event = replace(event, '2000.00', '20000.00') WHERE application_id = 'A1' AND seq = 2").await;
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
    // So is the disbursement's closing event.
    sql(
        db,
        "UPDATE application_events SET event = '{}' WHERE application_id = 'A1' AND seq = 4",
    )
    .await;
    let (stream, seq, _) = broken(&s).await;
    assert_eq!((stream.as_str(), seq), ("application:A1", 3));
    sql(
        db,
        &format!(
            "UPDATE application_events SET event = '{}' WHERE application_id = 'A1' AND seq = 4",
            event("disbursed")
        ),
    )
    .await;
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
    // An event inserted without a record, and a deleted one.
    sql(db, "INSERT INTO application_events (application_id, seq, event, recorded_at, command_id) VALUES ('A1', 5, '{}', '2024-02-02T10:00:00Z', 'x')").await;
    let (stream, _, reason) = broken(&s).await;
    assert_eq!(stream, "application:A1");
    assert!(
        reason.contains("A1:5") && reason.contains("inserted"),
        "{reason}"
    );
    sql(
        db,
        "DELETE FROM application_events WHERE application_id = 'A1' AND seq >= 3",
    )
    .await;
    let (stream, seq, reason) = broken(&s).await;
    assert_eq!((stream.as_str(), seq), ("application:A1", 2), "{reason}");
    assert!(reason.contains("missing"), "{reason}");
}

async fn a_keyed_store_seals_application_records_with_its_key(db: &TestDatabase) {
    let key = AuditKey::generate();
    let options = OpenOptions {
        audit_key: Some(key.clone()),
        read_only: false,
    };
    let s = connect_with(&db.url, &options).await.unwrap();
    s.ensure_book("main", "Main book", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s.commit_application(&create("A1", "APP-1", "main"))
        .await
        .unwrap();
    s.commit(&disbursement("L1", "A1", 2)).await.unwrap();
    let records = s.audit_records().await.unwrap();
    assert!(records.iter().all(|r| r.scheme == audit_schemes::KEYED));
    let v = s.verify_audit(None).await.unwrap().unwrap().unwrap();
    assert_eq!((v.records, v.keyed), (3, 3));
    // A store without the key neither writes nor verifies the application's stream.
    let unkeyed = connect(&db.url).await.unwrap();
    let refused = unkeyed
        .commit_application(&write(append("A1", 3, "closed", None)))
        .await;
    assert!(
        matches!(refused, Err(StoreError::AuditKey(_))),
        "{refused:?}"
    );
    assert!(unkeyed.verify_audit(None).await.unwrap().is_err());
    assert_eq!(s.application("A1").await.unwrap().unwrap().version, 3);
}
