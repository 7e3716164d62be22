//! The close of business in the store: opening a close moves the business date once, partitions
//! are claimed once (and a stale claim taken over), chunks are applied exactly once and keep
//! newer projections, bulk chunks span several statements. On SQLite and on PostgreSQL;
//! concurrent claims on PostgreSQL. The loans a chunk reads are tested in `eod_wake.rs`, the
//! ledger in `eod_ledger.rs`.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::eod::{
    BOOK, DAY, NEXT, audit, book, chunk, command, count, entry, is_conflict, line, open,
    open_close, projection,
};
use loanbook_store::testing::TestDatabase;
use loanbook_store::{ChunkWrite, NewOutbox, NewSnapshot, PgStore, StoreError};

loanbook_store::on_both_backends!(
    opening_a_close_moves_the_business_date_once,
    each_partition_is_claimed_once,
    a_stale_claim_is_taken_over,
    a_chunk_is_applied_exactly_once,
    a_done_partition_and_a_finished_close_refuse_chunks,
    a_chunk_keeps_newer_projections_and_prunes_snapshots,
    bulk_writes_span_several_statements,
);

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
        s.claim(BOOK, DAY, "loans", 16, "w", "t", "t0").await,
        Err(StoreError::NotFound { .. })
    ));
    open_close(&s).await;
    let mut got = BTreeSet::new();
    for w in 0..16 {
        let p = s
            .claim(BOOK, DAY, "loans", 16, &format!("w{w}"), "t1", "t0")
            .await
            .unwrap()
            .unwrap();
        assert!(!p.done && p.cursor.is_none() && p.step == "loans");
        assert!(got.insert(p.partition), "partition {} twice", p.partition);
    }
    assert_eq!(got, (0..16).collect());
    assert!(
        s.claim(BOOK, DAY, "loans", 16, "w99", "t1", "t0")
            .await
            .unwrap()
            .is_none()
    );
    // A worker asking again gets its own claim back; another step has its own partitions.
    let own = s
        .claim(BOOK, DAY, "loans", 16, "w3", "t2", "t0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.partition, 3);
    assert_eq!(
        s.claim(BOOK, DAY, "gl", 16, "w99", "t1", "t0")
            .await
            .unwrap()
            .unwrap()
            .partition,
        0
    );
    // A book-level step has one partition: once it is claimed, there is nothing left to claim.
    let book_level = s
        .claim(BOOK, DAY, "checkpoint", 1, "w7", "t1", "t0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(book_level.partition, 0);
    assert!(
        s.claim(BOOK, DAY, "checkpoint", 1, "w8", "t1", "t0")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.progress(BOOK, DAY).await.unwrap().len(), 33);
    // A done partition is not handed out again, even to its worker.
    s.write_chunk(&chunk(3, None, true), None).await.unwrap();
    assert_ne!(
        s.claim(BOOK, DAY, "loans", 16, "w3", "t3", "t0")
            .await
            .unwrap()
            .map(|p| p.partition),
        Some(3)
    );
    s.finish_run(BOOK, DAY, "t9", "{}").await.unwrap();
    assert!(
        s.claim(BOOK, DAY, "gl", 16, "w98", "t9", "t0")
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
            16,
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
        .claim(BOOK, DAY, "loans", 16, "late", "2024-05-01T21:00:00Z", late)
        .await
        .unwrap();
    let b = s
        .claim(
            BOOK,
            DAY,
            "loans",
            16,
            "later",
            "2024-05-01T21:00:00Z",
            late,
        )
        .await
        .unwrap();
    let c = s
        .claim(BOOK, DAY, "loans", 16, "last", "2024-05-01T21:00:00Z", late)
        .await
        .unwrap();
    assert_eq!(a.map(|p| p.partition), Some(0));
    assert_eq!(b.map(|p| p.partition), Some(1));
    assert!(c.is_none());
}

/// The first chunk of partition 10 (cursor `L1a`): a projection, an entry of two lines and an
/// outbox message.
fn first_chunk() -> ChunkWrite {
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
    first
}

async fn a_chunk_is_applied_exactly_once(db: &TestDatabase) {
    let s = open(db).await;
    book(&s, "L1a", 1, "2024-04-01T10:00:00Z", "active").await;
    open_close(&s).await;
    let p = s
        .claim(BOOK, DAY, "loans", 16, "w", "t", "t0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.partition, 0);
    let outbox_before = count(db, "outbox").await;
    let first = first_chunk();
    s.write_chunk(&first, None).await.unwrap();
    let after_first = || async {
        (
            s.trial_balance(BOOK, DAY).await.unwrap(),
            count(db, "outbox").await,
            s.projection("L1a").await.unwrap().unwrap().status,
        )
    };
    let state = after_first().await;
    assert_eq!(state.0.len(), 2);
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
    assert_eq!(s.trial_balance(BOOK, DAY).await.unwrap().len(), 3);
}

async fn a_done_partition_and_a_finished_close_refuse_chunks(db: &TestDatabase) {
    let s = open(db).await;
    book(&s, "L1a", 1, "2024-04-01T10:00:00Z", "active").await;
    open_close(&s).await;
    s.claim(BOOK, DAY, "loans", 16, "w", "t", "t0")
        .await
        .unwrap();
    s.write_chunk(&first_chunk(), None).await.unwrap();
    let mut last = chunk(10, Some("L2a"), true);
    last.gl_lines = entry("E3", DAY, None, "cash", "interest_income", 5);
    s.write_chunk(&last, Some("L1a")).await.unwrap();
    let balances = s.trial_balance(BOOK, DAY).await.unwrap();
    // Past the end of a done partition, or from no cursor: refused as done.
    let mut after_done = chunk(10, Some("L3a"), true);
    after_done.gl_lines = entry("E4", DAY, None, "cash", "interest_income", 9);
    assert!(is_conflict(&s.write_chunk(&after_done, Some("L2a")).await));
    assert!(matches!(
        s.write_chunk(&chunk(10, None, true), None).await.map_err(|e| e.to_string()),
        Err(e) if e.contains("done")
    ));
    // A chunk of a finished close is refused, even for a partition not done.
    s.finish_run(BOOK, DAY, "t", "{}").await.unwrap();
    let mut late = chunk(0, Some("L1a"), false);
    late.gl_lines = after_done.gl_lines.clone();
    assert!(matches!(
        s.write_chunk(&late, None).await.map_err(|e| e.to_string()),
        Err(e) if e.contains("done")
    ));
    assert_eq!(s.trial_balance(BOOK, DAY).await.unwrap(), balances);
    let zero = s.progress(BOOK, DAY).await.unwrap();
    let zero = zero.iter().find(|p| p.partition == 0).unwrap();
    assert!(!zero.done && zero.cursor.is_none());
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
    s.claim(BOOK, DAY, "loans", 16, "w", "t", "t0")
        .await
        .unwrap();
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

async fn bulk_writes_span_several_statements(db: &TestDatabase) {
    let s = open(db).await;
    open_close(&s).await;
    s.claim(BOOK, DAY, "gl", 16, "w", "t", "t0").await.unwrap();
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
                        .claim(BOOK, DAY, &step, 16, &format!("w{w}"), "t1", "t0")
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
