//! The book's debit failure table in the store, on SQLite and PostgreSQL: versions added one
//! after another with their audit record, the approval they carry out and their idempotency
//! reply in one transaction; the newest is the table in effect; a stale or refused write
//! changes nothing.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    Approval, AuditEntry, Decision, IdempotencyRecord, Store, StoreError, StoredFailureTable,
    connect,
};

loanbook_store::on_both_backends!(
    versions_are_added_and_the_newest_is_in_effect,
    a_refused_write_changes_nothing,
    a_version_carries_out_its_approval_and_keeps_its_reply,
);

fn audit(version: i64) -> AuditEntry {
    AuditEntry {
        at: "2024-02-01T10:00:00Z".into(),
        actor: "ravi".into(),
        action: "change_failure_table".into(),
        target: format!("failure-table/main/{version}"),
        request_digest: String::new(),
        event_ids: vec![],
    }
}

fn table(version: i64) -> StoredFailureTable {
    StoredFailureTable {
        book_id: "main".into(),
        version,
        csv: format!(
            "rail,code,class,handling,reason,action,charge,description\n\
             nach,04,soft,normal,insufficient_funds,retry,yes,Balance insufficient {version}\n"
        ),
        changed_by: "asha".into(),
        changed_at: format!("2024-02-0{version}T10:00:00Z"),
    }
}

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let s = connect(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
    s.ensure_book("main", "Main", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s
}

async fn versions_are_added_and_the_newest_is_in_effect(db: &TestDatabase) {
    let s = open(db).await;
    assert_eq!(s.failure_table("main").await.unwrap(), None);
    let before = s.audit_records().await.unwrap().len();
    for version in 2..=4 {
        s.add_failure_table(&table(version), &audit(version), None, None)
            .await
            .unwrap();
        assert_eq!(s.failure_table("main").await.unwrap(), Some(table(version)));
    }
    // Every version is kept.
    for version in 2..=4 {
        assert_eq!(
            s.failure_table_version("main", version).await.unwrap(),
            Some(table(version))
        );
    }
    assert_eq!(s.failure_table_version("main", 5).await.unwrap(), None);
    assert_eq!(s.failure_table("other").await.unwrap(), None);
    let records = s.audit_records().await.unwrap();
    assert_eq!(records.len(), before + 3);
    // The seed is version 1 and is never stored.
    assert_eq!(s.failure_table_version("main", 1).await.unwrap(), None);
    let last = records.last().unwrap();
    assert_eq!(last.entry.target, "failure-table/main/4");
    assert_eq!(last.stream, "failure-table:main");
    assert_eq!(last.stream_seq, 3);
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
}

async fn a_refused_write_changes_nothing(db: &TestDatabase) {
    let s = open(db).await;
    s.add_failure_table(&table(2), &audit(2), None, None)
        .await
        .unwrap();
    let stored = s.failure_table("main").await.unwrap();
    let before = s.audit_records().await.unwrap().len();
    // A second first version, a version skipped, a version gone back to: each a conflict.
    for (version, actual) in [(2, 2), (4, 2), (1, 2)] {
        let e = s
            .add_failure_table(&table(version), &audit(version), None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::VersionConflict { actual: a, .. } if a == actual),
            "{version}: {e}"
        );
    }
    // A book that does not exist has no table to write.
    let mut stray = table(2);
    stray.book_id = "nobody".into();
    assert!(
        s.add_failure_table(&stray, &audit(2), None, None)
            .await
            .is_err()
    );
    // An approval that is not pending refuses the whole write.
    let decision = Decision {
        approval_id: "AP-NONE".into(),
        checker: "ravi".into(),
        at: "2024-02-01T10:00:00Z".into(),
    };
    let e = s
        .add_failure_table(&table(3), &audit(3), Some(&decision), None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    assert_eq!(s.failure_table("main").await.unwrap(), stored);
    assert_eq!(s.failure_table_version("main", 3).await.unwrap(), None);
    assert_eq!(s.failure_table("nobody").await.unwrap(), None);
    assert_eq!(s.audit_records().await.unwrap().len(), before);
}

async fn a_version_carries_out_its_approval_and_keeps_its_reply(db: &TestDatabase) {
    let s = open(db).await;
    let held = Approval {
        id: "AP-1".into(),
        action: "configure_collections".into(),
        target: "failure-table/main".into(),
        payload: "{}".into(),
        maker: "asha".into(),
        status: "pending".into(),
        checker: None,
        created_at: "2024-02-01T09:00:00Z".into(),
        decided_at: None,
    };
    let request = AuditEntry {
        target: "approval/AP-1".into(),
        ..audit(1)
    };
    s.create_approval(&held, &request, None).await.unwrap();
    let decision = Decision {
        approval_id: "AP-1".into(),
        checker: "ravi".into(),
        at: "2024-02-01T10:00:00Z".into(),
    };
    let key = IdempotencyRecord {
        scope: "user-ravi".into(),
        key: "k-1".into(),
        target: "POST /v1/approvals/AP-1/approve".into(),
        request_digest: "d".into(),
        status: 201,
        body: r#"{"version":2}"#.into(),
    };
    s.add_failure_table(&table(2), &audit(2), Some(&decision), Some(&key))
        .await
        .unwrap();
    let a = s.approval("AP-1").await.unwrap().unwrap();
    assert_eq!(a.status, "approved");
    assert_eq!(a.checker.as_deref(), Some("ravi"));
    assert_eq!(
        s.idempotency("user-ravi", "k-1")
            .await
            .unwrap()
            .map(|k| k.body),
        Some(key.body.clone())
    );
    // The approval is decided once: carrying it out again writes nothing.
    let again = s
        .add_failure_table(&table(3), &audit(3), Some(&decision), None)
        .await;
    assert!(again.is_err());
    assert_eq!(
        s.failure_table("main").await.unwrap().map(|t| t.version),
        Some(2)
    );
}
