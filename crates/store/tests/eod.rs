//! The close of business and the general ledger in the store: opening a close moves the business
//! date once, partitions are claimed once, chunks are applied exactly once, a partition's loans
//! are read page by page with their snapshot and the events after it, and GL balances sum with a
//! date cutoff. On SQLite and on PostgreSQL; concurrent claims on PostgreSQL.

use std::collections::BTreeSet;
use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    AuditEntry, ChunkWrite, CommandWrite, LoanRecord, NewEvent, NewGlLine, NewOutbox, NewSnapshot,
    PgStore, Projection, Store, StoreError, connect, partition_of, terms_digest,
};

loanbook_store::on_both_backends!(
    opening_a_close_moves_the_business_date_once,
    each_partition_is_claimed_once,
    a_stale_claim_is_taken_over,
    a_chunk_is_applied_exactly_once,
    a_chunk_keeps_newer_projections_and_prunes_snapshots,
    loans_are_read_by_partition_and_cursor,
    the_sql_partition_agrees_with_partition_of,
    balances_sum_with_a_date_cutoff,
    bulk_writes_span_several_statements,
);

const BOOK: &str = "main";
const DAY: &str = "2024-05-01";
const NEXT: &str = "2024-05-02";
const TERMS: &str = r#"{"currency":"INR"}"#;

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let s = connect(&db.url).await.unwrap();
    s.ensure_book(BOOK, "Main", DAY, "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s
}

fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: "2024-05-01T20:00:00Z".into(),
        actor: "eod".into(),
        action: action.into(),
        target: target.into(),
        request_digest: String::new(),
        event_ids: vec![],
    }
}

async fn open_close(s: &Arc<dyn Store>) {
    s.open_run(
        BOOK,
        DAY,
        NEXT,
        "2024-05-01T20:00:00Z",
        &audit("eod", "book"),
    )
    .await
    .unwrap();
}

fn projection(loan: &str, version: i64, status: &str) -> Projection {
    Projection {
        loan_id: loan.into(),
        version,
        as_of: DAY.into(),
        status: status.into(),
        classification: "standard".into(),
        dpd: 0,
        principal_outstanding: 1000,
        total_overdue: 0,
        state: "{}".into(),
    }
}

/// A command on `loan` at `version` (0 books it), one event recorded at `at`.
fn command(
    loan: &str,
    version: i64,
    at: &str,
    status: &str,
    snapshot: Option<i64>,
) -> CommandWrite {
    CommandWrite {
        command_id: format!("{loan}-c{version}"),
        at: at.into(),
        loan_id: loan.into(),
        expected_version: version,
        new_loan: (version == 0).then(|| LoanRecord {
            id: loan.into(),
            book_id: BOOK.into(),
            loan_number: format!("LN-{loan}"),
            borrower_id: Some("B1".into()),
            product_id: Some("PL".into()),
            product_version: Some(1),
            terms: TERMS.into(),
            terms_hash: terms_digest(TERMS),
            partner_ids: vec!["P2".into(), "P1".into()],
            created_at: at.into(),
            application_id: None,
        }),
        events: vec![NewEvent {
            value_date: DAY.into(),
            event: format!(r#"{{"n":{}}}"#, version + 1),
        }],
        projection: projection(loan, version + 1, status),
        snapshot: snapshot.map(|v| NewSnapshot {
            version: v,
            day: DAY.into(),
            engine: format!(r#"{{"at":{v}}}"#),
        }),
        audit: audit("post", &format!("loan/{loan}")),
        outbox: vec![],
        idempotency: None,
        approval: None,
        application: None,
    }
}

/// Book `loan` with `events` events, recorded at `at`.
async fn book(s: &Arc<dyn Store>, loan: &str, events: i64, at: &str, status: &str) {
    for v in 0..events {
        s.commit(&command(loan, v, at, status, None)).await.unwrap();
    }
}

fn line(
    entry: &str,
    no: i32,
    on: &str,
    account: &str,
    loan: Option<&str>,
    dr: i64,
    cr: i64,
) -> NewGlLine {
    NewGlLine {
        entry_id: entry.into(),
        line_no: no,
        posted_on: on.into(),
        kind: "accrual".into(),
        narration: "interest".into(),
        account: account.into(),
        loan_id: loan.map(Into::into),
        product_id: Some("PL".into()),
        partner_id: None,
        debit: dr,
        credit: cr,
        source: "test".into(),
    }
}

/// An entry of two lines: `amount` debited to `debit` and credited to `credit`.
fn entry(
    id: &str,
    on: &str,
    loan: Option<&str>,
    debit: &str,
    credit: &str,
    amount: i64,
) -> Vec<NewGlLine> {
    vec![
        line(id, 1, on, debit, loan, amount, 0),
        line(id, 2, on, credit, loan, 0, amount),
    ]
}

fn chunk(partition: u32, cursor: Option<&str>, done: bool) -> ChunkWrite {
    ChunkWrite {
        book_id: BOOK.into(),
        business_date: DAY.into(),
        step: "loans".into(),
        partition,
        at: "2024-05-01T20:01:00Z".into(),
        cursor: cursor.map(Into::into),
        done,
        loans_read: 2,
        loans_changed: 1,
        millis: 7,
        ..ChunkWrite::default()
    }
}

async fn count(db: &TestDatabase, table: &str) -> i64 {
    use sqlx::Connection;
    let q = format!("SELECT COUNT(*) FROM {table}");
    let (n,): (i64,) = if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(&q).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(&q).fetch_one(&mut c).await.unwrap()
    };
    n
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict { .. }))
}

async fn opening_a_close_moves_the_business_date_once(db: &TestDatabase) {
    let s = open(db).await;
    let records = s.audit_records().await.unwrap().len();
    let a = audit("eod", "book");
    let (run, opened) = s.open_run(BOOK, DAY, NEXT, "t1", &a).await.unwrap();
    assert!(opened);
    assert_eq!(
        (run.status.as_str(), run.business_date.as_str()),
        ("running", DAY)
    );
    assert_eq!(s.business_date(BOOK).await.unwrap(), NEXT);
    assert_eq!(s.audit_records().await.unwrap().len(), records + 1);
    // Again: the open run, nothing moved or recorded.
    let (again, opened) = s.open_run(BOOK, DAY, NEXT, "t2", &a).await.unwrap();
    assert!(!opened);
    assert_eq!(again, run);
    assert_eq!(s.business_date(BOOK).await.unwrap(), NEXT);
    assert_eq!(s.audit_records().await.unwrap().len(), records + 1);
    // A date the book is not at is refused; so is a next day that is not after.
    let wrong = s.open_run(BOOK, "2024-05-03", "2024-05-04", "t3", &a).await;
    assert!(is_conflict(&wrong), "{wrong:?}");
    assert!(is_conflict(&s.open_run(BOOK, NEXT, DAY, "t3", &a).await));
    assert!(matches!(
        s.open_run("nope", DAY, NEXT, "t3", &a).await,
        Err(StoreError::NotFound { .. })
    ));
    // Finished (twice: idempotent, the first summary stays), it cannot be opened again.
    s.finish_run(BOOK, DAY, "t4", r#"{"loans":0}"#)
        .await
        .unwrap();
    s.finish_run(BOOK, DAY, "t5", r#"{"loans":9}"#)
        .await
        .unwrap();
    assert!(is_conflict(&s.open_run(BOOK, DAY, NEXT, "t6", &a).await));
    assert!(matches!(
        s.finish_run(BOOK, "2023-01-01", "t", "{}").await,
        Err(StoreError::NotFound { .. })
    ));
    let (next, opened) = s
        .open_run(BOOK, NEXT, "2024-05-03", "t7", &a)
        .await
        .unwrap();
    assert!(opened && next.status == "running");
    let runs = s.runs(BOOK, 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].business_date, NEXT);
    assert_eq!(runs[1].status, "done");
    assert_eq!(runs[1].finished_at.as_deref(), Some("t4"));
    assert_eq!(runs[1].summary.as_deref(), Some(r#"{"loans":0}"#));
    assert_eq!(s.runs(BOOK, 1).await.unwrap().len(), 1);
}

async fn each_partition_is_claimed_once(db: &TestDatabase) {
    let s = open(db).await;
    assert!(matches!(
        s.claim(BOOK, DAY, "loans", "w", "t", "t0").await,
        Err(StoreError::NotFound { .. })
    ));
    open_close(&s).await;
    let mut got = BTreeSet::new();
    for w in 0..16 {
        let p = s
            .claim(BOOK, DAY, "loans", &format!("w{w}"), "t1", "t0")
            .await
            .unwrap()
            .unwrap();
        assert!(!p.done && p.cursor.is_none() && p.step == "loans");
        assert!(got.insert(p.partition), "partition {} twice", p.partition);
    }
    assert_eq!(got, (0..16).collect());
    assert!(
        s.claim(BOOK, DAY, "loans", "w99", "t1", "t0")
            .await
            .unwrap()
            .is_none()
    );
    // A worker asking again gets its own claim back; another step has its own partitions.
    let own = s
        .claim(BOOK, DAY, "loans", "w3", "t2", "t0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.partition, 3);
    assert_eq!(
        s.claim(BOOK, DAY, "gl", "w99", "t1", "t0")
            .await
            .unwrap()
            .unwrap()
            .partition,
        0
    );
    assert_eq!(s.progress(BOOK, DAY).await.unwrap().len(), 32);
    // A done partition is not handed out again, even to its worker.
    s.write_chunk(&chunk(3, None, true), None).await.unwrap();
    assert_ne!(
        s.claim(BOOK, DAY, "loans", "w3", "t3", "t0")
            .await
            .unwrap()
            .map(|p| p.partition),
        Some(3)
    );
    s.finish_run(BOOK, DAY, "t9", "{}").await.unwrap();
    assert!(
        s.claim(BOOK, DAY, "gl", "w98", "t9", "t0")
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_stale_claim_is_taken_over(db: &TestDatabase) {
    let s = open(db).await;
    open_close(&s).await;
    for w in 0..16 {
        let at = format!("2024-05-01T20:{w:02}:00Z");
        s.claim(
            BOOK,
            DAY,
            "loans",
            &format!("w{w}"),
            &at,
            "2024-05-01T00:00:00Z",
        )
        .await
        .unwrap()
        .unwrap();
    }
    // Claims made before 20:02 are stale: w0's and w1's, in partition order.
    let late = "2024-05-01T20:02:00Z";
    let a = s
        .claim(BOOK, DAY, "loans", "late", "2024-05-01T21:00:00Z", late)
        .await
        .unwrap();
    let b = s
        .claim(BOOK, DAY, "loans", "later", "2024-05-01T21:00:00Z", late)
        .await
        .unwrap();
    let c = s
        .claim(BOOK, DAY, "loans", "last", "2024-05-01T21:00:00Z", late)
        .await
        .unwrap();
    assert_eq!(a.map(|p| p.partition), Some(0));
    assert_eq!(b.map(|p| p.partition), Some(1));
    assert!(c.is_none());
}

async fn a_chunk_is_applied_exactly_once(db: &TestDatabase) {
    let s = open(db).await;
    book(&s, "L1a", 1, "2024-04-01T10:00:00Z", "active").await;
    open_close(&s).await;
    let p = s
        .claim(BOOK, DAY, "loans", "w", "t", "t0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.partition, 0);
    let outbox_before = count(db, "outbox").await;
    let mut first = chunk(10, Some("L1a"), false);
    first.projections = vec![projection("L1a", 1, "overdue")];
    first.gl_lines = entry(
        "E1",
        DAY,
        Some("L1a"),
        "interest_receivable",
        "interest_income",
        50,
    );
    first.outbox = vec![NewOutbox {
        id: "o1".into(),
        loan_id: Some("L1a".into()),
        topic: "loan.dpd".into(),
        payload: "{}".into(),
    }];
    s.write_chunk(&first, None).await.unwrap();
    let after_first = || async {
        (
            s.trial_balance(BOOK, DAY).await.unwrap(),
            count(db, "outbox").await,
            s.projection("L1a").await.unwrap().unwrap().status,
        )
    };
    let state = after_first().await;
    assert_eq!(state.1, outbox_before + 1);
    assert_eq!(state.2, "overdue");
    // Replayed, from a wrong cursor, or moving the cursor back: refused, nothing written.
    let mut replay = first.clone();
    replay.gl_lines = entry(
        "E9",
        DAY,
        Some("L1a"),
        "interest_receivable",
        "interest_income",
        1,
    );
    assert!(is_conflict(&s.write_chunk(&replay, None).await));
    let mut skipped = chunk(10, Some("L9a"), false);
    skipped.gl_lines = replay.gl_lines.clone();
    assert!(is_conflict(&s.write_chunk(&skipped, Some("L5a")).await));
    assert!(matches!(
        s.write_chunk(&chunk(10, Some("L0a"), false), Some("L1a"))
            .await,
        Err(StoreError::Corrupt(_))
    ));
    // An unbalanced entry is refused before anything is written.
    let mut unbalanced = chunk(10, Some("L2a"), false);
    unbalanced.gl_lines = vec![line("E2", 1, DAY, "cash", None, 5, 0)];
    assert!(matches!(
        s.write_chunk(&unbalanced, Some("L1a")).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(after_first().await, state);
    // The next chunk, from where the first ended, finishes the partition.
    let mut last = chunk(10, Some("L2a"), true);
    last.gl_lines = entry("E3", DAY, None, "cash", "interest_income", 5);
    s.write_chunk(&last, Some("L1a")).await.unwrap();
    let progress = s.progress(BOOK, DAY).await.unwrap();
    let ten = progress.iter().find(|p| p.partition == 10).unwrap();
    assert!(ten.done);
    assert_eq!(ten.cursor.as_deref(), Some("L2a"));
    assert_eq!((ten.loans_read, ten.loans_changed, ten.millis), (4, 2, 14));
    // A projection, two GL lines and an outbox message; then two GL lines.
    assert_eq!(ten.rows_written, 6);
    assert!(is_conflict(
        &s.write_chunk(&chunk(10, Some("L3a"), true), Some("L2a"))
            .await
    ));
    assert!(matches!(
        s.write_chunk(&chunk(10, None, true), None).await.map_err(|e| e.to_string()),
        Err(e) if e.contains("done")
    ));
    // A chunk of a finished close is refused.
    s.finish_run(BOOK, DAY, "t", "{}").await.unwrap();
    assert!(is_conflict(
        &s.write_chunk(&chunk(0, Some("L1a"), false), None).await
    ));
    assert_eq!(s.trial_balance(BOOK, DAY).await.unwrap().len(), 3);
}

async fn a_chunk_keeps_newer_projections_and_prunes_snapshots(db: &TestDatabase) {
    let s = open(db).await;
    book(&s, "L1a", 2, "2024-04-01T10:00:00Z", "active").await;
    s.commit(&command(
        "L1a",
        2,
        "2024-04-01T10:00:00Z",
        "active",
        Some(2),
    ))
    .await
    .unwrap();
    open_close(&s).await;
    s.claim(BOOK, DAY, "loans", "w", "t", "t0").await.unwrap();
    // Computed from version 2 while a command wrote version 3: the command's projection stays.
    let mut w = chunk(10, Some("L1a"), false);
    w.projections = vec![projection("L1a", 2, "overdue")];
    w.snapshots = (3..=7)
        .map(|v| {
            let snapshot = NewSnapshot {
                version: v,
                day: DAY.into(),
                engine: format!(r#"{{"eod":{v}}}"#),
            };
            ("L1a".to_owned(), snapshot)
        })
        .collect();
    s.write_chunk(&w, None).await.unwrap();
    let p = s.projection("L1a").await.unwrap().unwrap();
    assert_eq!((p.version, p.status.as_str()), (3, "active"));
    let kept: Vec<i64> = s
        .snapshots("L1a")
        .await
        .unwrap()
        .iter()
        .map(|s| s.version)
        .collect();
    assert_eq!(kept, vec![4, 5, 6, 7]);
    let snap = s.snapshots("L1a").await.unwrap().pop().unwrap();
    assert_eq!(snap.created_at, "2024-05-01T20:01:00Z");
    // Same version, changed: written. A projection that did not change counts no row.
    let mut w = chunk(10, Some("L2a"), false);
    w.projections = vec![projection("L1a", 3, "overdue")];
    s.write_chunk(&w, Some("L1a")).await.unwrap();
    assert_eq!(
        s.projection("L1a").await.unwrap().unwrap().status,
        "overdue"
    );
    let mut w = chunk(10, Some("L3a"), false);
    w.projections = vec![projection("L1a", 3, "overdue")];
    s.write_chunk(&w, Some("L2a")).await.unwrap();
    let rows = |ps: Vec<loanbook_store::EodProgress>| {
        ps.into_iter()
            .find(|p| p.partition == 10)
            .unwrap()
            .rows_written
    };
    // 5 snapshots (the older projection is not written), then 1 projection, then none.
    assert_eq!(rows(s.progress(BOOK, DAY).await.unwrap()), 6);
}

async fn loans_are_read_by_partition_and_cursor(db: &TestDatabase) {
    let s = open(db).await;
    let old = "2024-01-01T10:00:00Z";
    let new = "2024-05-01T10:00:00Z";
    for id in ["L1a", "L2a", "L3A", "L4a", "L5a"] {
        book(&s, id, 1, old, "active").await;
    }
    book(&s, "L6a", 1, old, "closed").await;
    book(&s, "L7a", 1, new, "closed").await;
    book(&s, "L8a", 1, old, "written_off").await;
    book(&s, "L1b", 1, old, "active").await;
    book(&s, "L1-", 1, old, "active").await;
    book(&s, "L10", 1, old, "active").await;
    // L2a: three more events, a snapshot at version 3 of 4.
    for v in 1..4 {
        let snapshot = (v == 2).then_some(3);
        s.commit(&command("L2a", v, new, "active", snapshot))
            .await
            .unwrap();
    }
    assert_eq!(partition_of("L3A"), 10);
    let since = "2024-04-30T00:00:00Z";
    let ids = |loans: &[loanbook_store::EodLoan]| {
        loans.iter().map(|l| l.loan_id.clone()).collect::<Vec<_>>()
    };
    let page1 = s.eod_loans(BOOK, 10, None, 3, since).await.unwrap();
    assert_eq!(ids(&page1), vec!["L1a", "L2a", "L3A"]);
    let page2 = s.eod_loans(BOOK, 10, Some("L3A"), 3, since).await.unwrap();
    // L6a is closed and unchanged; L7a is closed but took an event since.
    assert_eq!(ids(&page2), vec!["L4a", "L5a", "L7a"]);
    let page3 = s.eod_loans(BOOK, 10, Some("L7a"), 3, since).await.unwrap();
    assert_eq!(ids(&page3), vec!["L8a"]);
    assert!(
        s.eod_loans(BOOK, 10, Some("L8a"), 3, since)
            .await
            .unwrap()
            .is_empty()
    );
    // With an earlier cut, the closed loan counts as changed too.
    let all = s
        .eod_loans(BOOK, 10, None, 100, "2023-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(
        ids(&s.eod_loans(BOOK, 11, None, 100, since).await.unwrap()),
        vec!["L1b"]
    );
    assert_eq!(
        ids(&s.eod_loans(BOOK, 0, None, 100, since).await.unwrap()),
        vec!["L1-", "L10"]
    );
    assert!(
        s.eod_loans("other", 10, None, 100, since)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.eod_loans(BOOK, 16, None, 1, since).await,
        Err(StoreError::NotFound { .. })
    ));
    // Terms, partners, the newest snapshot and the events after it, the projection.
    let l2 = &page1[1];
    assert_eq!(l2.terms, TERMS);
    assert_eq!(l2.partner_ids, vec!["P1", "P2"]);
    assert_eq!(
        (l2.product_id.as_deref(), l2.borrower_id.as_deref()),
        (Some("PL"), Some("B1"))
    );
    let snap = l2.snapshot.as_ref().unwrap();
    assert_eq!((snap.version, snap.engine.as_str()), (3, r#"{"at":3}"#));
    assert_eq!(l2.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4]);
    assert_eq!(l2.events, s.events_after("L2a", 3).await.unwrap());
    assert_eq!(l2.projection, s.projection("L2a").await.unwrap());
    let l1 = &page1[0];
    assert!(l1.snapshot.is_none());
    assert_eq!(l1.events, s.events("L1a").await.unwrap());
    assert_eq!(l1.projection.as_ref().unwrap().version, 1);
}

async fn the_sql_partition_agrees_with_partition_of(db: &TestDatabase) {
    let s = open(db).await;
    let ids: Vec<String> = "0123456789abcdefABCDEF-gZ~"
        .chars()
        .map(|c| format!("K{c}"))
        .collect();
    for id in &ids {
        book(&s, id, 1, "2024-01-01T10:00:00Z", "active").await;
    }
    let mut seen = 0;
    for p in 0..16 {
        let got: BTreeSet<String> = s
            .eod_loans(BOOK, p, None, 100, "2024-05-01T00:00:00Z")
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.loan_id)
            .collect();
        let want: BTreeSet<String> = ids
            .iter()
            .filter(|id| partition_of(id) == p)
            .cloned()
            .collect();
        assert_eq!(got, want, "partition {p}");
        seen += got.len();
    }
    assert_eq!(seen, ids.len());
}

async fn balances_sum_with_a_date_cutoff(db: &TestDatabase) {
    let s = open(db).await;
    let entries = [
        ("D1", "2024-05-01", "L1", "loan_principal", "bank", 100_000),
        ("D2", "2024-05-01", "L2", "loan_principal", "bank", 50_000),
        ("R1", "2024-05-03", "L1", "bank", "loan_principal", 10_000),
        (
            "S1",
            "2024-05-02",
            "L1",
            "loan_principal",
            "partner_payable",
            7,
        ),
    ];
    let mut lines: Vec<NewGlLine> = entries
        .iter()
        .flat_map(|(id, on, loan, dr, cr, amount)| entry(id, on, Some(loan), dr, cr, *amount))
        .collect();
    // The co-lending partner's share carries the partner, not the product.
    for l in lines.iter_mut().filter(|l| l.entry_id == "S1") {
        l.partner_id = Some("P1".into());
        l.product_id = None;
    }
    s.post_lines(BOOK, &lines).await.unwrap();
    // Posted twice, or unbalanced: refused, nothing written.
    assert!(matches!(
        s.post_lines(BOOK, &lines[..2]).await,
        Err(StoreError::Duplicate { .. })
    ));
    let bad = vec![line("X", 1, "2024-05-01", "bank", None, 1, 0)];
    assert!(matches!(
        s.post_lines(BOOK, &bad).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(count(db, "gl_lines").await, 8);
    let tb = |date: &'static str| {
        let s = s.clone();
        async move {
            s.trial_balance(BOOK, date)
                .await
                .unwrap()
                .into_iter()
                .map(|b| (b.account, b.product_id, b.partner_id, b.debit, b.credit))
                .collect::<Vec<_>>()
        }
    };
    let pl = || Some("PL".to_owned());
    assert_eq!(
        tb("2024-05-02").await,
        vec![
            ("bank".into(), pl(), None, 0, 150_000),
            ("loan_principal".into(), None, Some("P1".into()), 7, 0),
            ("loan_principal".into(), pl(), None, 150_000, 0),
            ("partner_payable".into(), None, Some("P1".into()), 0, 7),
        ]
    );
    let later = tb("2024-05-31").await;
    assert_eq!(later[0], ("bank".into(), pl(), None, 10_000, 150_000));
    assert_eq!(
        later[2],
        ("loan_principal".into(), pl(), None, 150_000, 10_000)
    );
    let (dr, cr) = later.iter().fold((0, 0), |(d, c), b| (d + b.3, c + b.4));
    assert_eq!(dr, cr);
    assert!(tb("2024-04-30").await.is_empty());
    let balances = s.loan_balances(BOOK, "2024-05-03").await.unwrap();
    let l1: Vec<_> = balances
        .iter()
        .filter(|b| b.loan_id == "L1")
        .map(|b| (b.account.as_str(), b.partner_id.as_deref(), b.balance))
        .collect();
    assert_eq!(
        l1,
        vec![
            ("bank", None, -90_000),
            ("loan_principal", None, 90_000),
            ("loan_principal", Some("P1"), 7),
            ("partner_payable", Some("P1"), -7),
        ]
    );
    let before = s.loan_balances(BOOK, "2024-05-01").await.unwrap();
    assert_eq!(before.len(), 4);
    assert!(
        before
            .iter()
            .any(|b| b.loan_id == "L1" && b.account == "bank" && b.balance == -100_000)
    );
    let journal = s.journal(BOOK, "L1").await.unwrap();
    let order: Vec<_> = journal
        .iter()
        .map(|l| (l.entry_id.as_str(), l.line_no))
        .collect();
    assert_eq!(
        order,
        vec![
            ("D1", 1),
            ("D1", 2),
            ("S1", 1),
            ("S1", 2),
            ("R1", 1),
            ("R1", 2)
        ]
    );
    assert!(journal.windows(2).all(|w| w[0].posted_on <= w[1].posted_on));
    assert!(s.journal("other", "L1").await.unwrap().is_empty());
}

async fn bulk_writes_span_several_statements(db: &TestDatabase) {
    let s = open(db).await;
    open_close(&s).await;
    s.claim(BOOK, DAY, "gl", "w", "t", "t0").await.unwrap();
    let outbox_before = count(db, "outbox").await;
    // More lines and messages than one statement takes on either backend.
    let mut w = chunk(0, None, true);
    w.step = "gl".into();
    w.gl_lines = (0..2_600)
        .flat_map(|n| {
            entry(
                &format!("A{n}"),
                DAY,
                Some("L1"),
                "interest_receivable",
                "interest_income",
                n + 1,
            )
        })
        .collect();
    w.outbox = (0..3_100)
        .map(|n| NewOutbox {
            id: format!("m{n}"),
            loan_id: None,
            topic: "gl.posted".into(),
            payload: "{}".into(),
        })
        .collect();
    s.write_chunk(&w, None).await.unwrap();
    assert_eq!(count(db, "gl_lines").await, 5_200);
    assert_eq!(count(db, "outbox").await, outbox_before + 3_100);
    let total: i64 = (1..=2_600).sum();
    let tb = s.trial_balance(BOOK, DAY).await.unwrap();
    assert_eq!(
        (tb[0].account.as_str(), tb[0].credit),
        ("interest_income", total)
    );
    assert_eq!(
        (tb[1].account.as_str(), tb[1].debit),
        ("interest_receivable", total)
    );
    let gl0 = s
        .progress(BOOK, DAY)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.step == "gl" && p.partition == 0);
    assert_eq!(gl0.map(|p| (p.done, p.rows_written)), Some((true, 8_300)));
    let mut more = entry("B1", DAY, None, "cash", "bank", 1);
    more.extend(
        (0..4_500).flat_map(|n| entry(&format!("B{}", n + 2), DAY, None, "cash", "bank", 1)),
    );
    s.post_lines(BOOK, &more).await.unwrap();
    assert_eq!(count(db, "gl_lines").await, 5_200 + 9_002);
}

/// Two stores (two pools) claiming at once, many times: no partition is handed out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_on_postgres_never_share_a_partition() {
    let db = TestDatabase::postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = open(&db).await;
    open_close(&s).await;
    let a = Arc::new(PgStore::open(&db.url).await.unwrap());
    let b = Arc::new(PgStore::open(&db.url).await.unwrap());
    for round in 0..5 {
        let step = format!("step{round}");
        let mut tasks = Vec::new();
        for w in 0..20 {
            let store = if w % 2 == 0 { a.clone() } else { b.clone() };
            let step = step.clone();
            tasks.push(tokio::spawn(async move {
                use loanbook_store::Eod;
                loop {
                    match store
                        .claim(BOOK, DAY, &step, &format!("w{w}"), "t1", "t0")
                        .await
                    {
                        Ok(p) => return p.map(|p| p.partition),
                        // Two first claims may race creating the step's rows: retried.
                        Err(e) if e.is_retryable() => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }));
        }
        let mut got = Vec::new();
        for t in tasks {
            if let Some(p) = t.await.unwrap() {
                got.push(p);
            }
        }
        got.sort_unstable();
        assert_eq!(got, (0..16).collect::<Vec<_>>(), "round {round}");
    }
    drop((s, a, b));
    db.drop_database().await;
}
