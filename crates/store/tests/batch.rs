//! Many loan commands in one transaction: a loan's writes chain on its version, a stale one
//! refuses the whole batch and writes nothing, what only a single command carries is refused,
//! and the audit chains hold. On SQLite and on PostgreSQL.

mod common;

use common::eod::{DAY, book, command, count, open};
use loanbook_store::testing::TestDatabase;
use loanbook_store::{NewOutbox, StoreError};

loanbook_store::on_both_backends!(
    a_batch_chains_each_loans_writes,
    a_stale_write_refuses_the_whole_batch,
    a_batch_refuses_what_only_one_command_carries,
);

const AT: &str = "2026-01-02T10:00:00Z";

async fn a_batch_chains_each_loans_writes(db: &TestDatabase) {
    let s = open(db).await;
    book(&s, "L1", 1, AT, "active").await;
    book(&s, "L2", 2, AT, "active").await;
    let mut second = command("L1", 2, AT, "active", Some(3));
    second.outbox = vec![NewOutbox {
        id: "m-1".into(),
        loan_id: Some("L1".into()),
        topic: "payment.posted".into(),
        payload: "{}".into(),
    }];
    let writes = vec![
        command("L1", 1, AT, "active", None),
        command("L2", 2, AT, "active", None),
        second,
    ];
    s.commit_batch(&writes).await.unwrap();
    let events = s.events("L1").await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(s.events("L2").await.unwrap().len(), 3);
    let projection = s.projection("L1").await.unwrap().unwrap();
    assert_eq!((projection.version, projection.as_of.as_str()), (3, DAY));
    assert_eq!(s.snapshots("L1").await.unwrap().len(), 1);
    assert_eq!(count(db, "outbox").await, 1);
    // One audit record a command, chained on each loan's stream.
    let verified = s.verify_audit(None).await.unwrap().unwrap();
    assert!(verified.is_ok(), "{verified:?}");
    assert_eq!(count(db, "audit_log").await, 3 + 3);
    // An empty batch writes nothing.
    s.commit_batch(&[]).await.unwrap();
}

async fn a_stale_write_refuses_the_whole_batch(db: &TestDatabase) {
    let s = open(db).await;
    book(&s, "L1", 1, AT, "active").await;
    book(&s, "L2", 2, AT, "active").await;
    let before = count(db, "loan_events").await;
    let writes = vec![
        command("L1", 1, AT, "active", None),
        // L2 is at version 2: a write decided on version 1 lost a race.
        command("L2", 1, AT, "active", None),
    ];
    let r = s.commit_batch(&writes).await;
    assert!(
        matches!(
            r,
            Err(StoreError::VersionConflict {
                expected: 1,
                actual: 2
            })
        ),
        "{r:?}"
    );
    assert_eq!(count(db, "loan_events").await, before);
    assert_eq!(s.projection("L1").await.unwrap().unwrap().version, 1);
    // A loan's second write in the batch must continue its first.
    let gap = vec![
        command("L1", 1, AT, "active", None),
        command("L1", 3, AT, "active", None),
    ];
    assert!(matches!(
        s.commit_batch(&gap).await,
        Err(StoreError::VersionConflict {
            expected: 3,
            actual: 2
        })
    ));
    assert_eq!(count(db, "loan_events").await, before);
}

async fn a_batch_refuses_what_only_one_command_carries(db: &TestDatabase) {
    let s = open(db).await;
    // A booking goes through the single command.
    let r = s
        .commit_batch(&[command("L9", 0, AT, "active", None)])
        .await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    book(&s, "L1", 1, AT, "active").await;
    let mut empty = command("L1", 1, AT, "active", None);
    empty.events.clear();
    assert!(matches!(
        s.commit_batch(&[empty]).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(count(db, "loan_events").await, 1);
}
