//! The book's provisioning table in the store, on SQLite and PostgreSQL: written whole under its
//! version with its audit record, its approval and its idempotency reply in one transaction; a
//! stale or refused write changes nothing.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    Approval, AuditEntry, Decision, IdempotencyRecord, ProvisioningTable, Store, StoreError,
    connect,
};

loanbook_store::on_both_backends!(
    a_table_is_written_whole_under_its_version,
    a_refused_write_changes_nothing,
    a_replacement_carries_out_its_approval_and_keeps_its_reply,
);

fn audit(version: i64) -> AuditEntry {
    AuditEntry {
        at: "2024-02-01T10:00:00Z".into(),
        actor: "admin".into(),
        action: "set_provisioning".into(),
        target: format!("provisioning/main/{version}"),
        request_digest: String::new(),
        event_ids: vec![],
    }
}

fn table(version: i64, preset: &str) -> ProvisioningTable {
    ProvisioningTable {
        book_id: "main".into(),
        version,
        preset: preset.into(),
        rates: format!(
            r#"[{{"asset_class":"standard","secured":"0.4","unsecured":"0.4","v":{version}}}]"#
        ),
        categories: r#"{"P-1":"housing"}"#.into(),
        changed_by: "admin".into(),
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

async fn a_table_is_written_whole_under_its_version(db: &TestDatabase) {
    let s = open(db).await;
    assert_eq!(s.provisioning_table("main").await.unwrap(), None);
    let before = s.audit_records().await.unwrap().len();
    let first = table(1, "rbi_bank");
    s.replace_provisioning_table(&first, &audit(1), None, None)
        .await
        .unwrap();
    assert_eq!(s.provisioning_table("main").await.unwrap(), Some(first));
    let second = table(2, "custom");
    s.replace_provisioning_table(&second, &audit(2), None, None)
        .await
        .unwrap();
    assert_eq!(
        s.provisioning_table("main").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(s.provisioning_table("other").await.unwrap(), None);
    let records = s.audit_records().await.unwrap();
    assert_eq!(records.len(), before + 2);
    let last = records.last().unwrap();
    assert_eq!(last.entry.target, "provisioning/main/2");
    assert_eq!(last.stream, "provisioning:main");
    assert_eq!(last.stream_seq, 2);
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
}

async fn a_refused_write_changes_nothing(db: &TestDatabase) {
    let s = open(db).await;
    s.replace_provisioning_table(&table(1, "rbi_nbfc"), &audit(1), None, None)
        .await
        .unwrap();
    let stored = s.provisioning_table("main").await.unwrap();
    let before = s.audit_records().await.unwrap().len();
    // A second first version, a version skipped, a version gone back to: each a conflict.
    for (version, actual) in [(1, 1), (3, 1), (0, 1)] {
        let e = s
            .replace_provisioning_table(&table(version, "rbi_bank"), &audit(version), None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::VersionConflict { actual: a, .. } if a == actual),
            "{version}: {e}"
        );
    }
    // A preset the table does not know is refused by the database itself.
    let e = s
        .replace_provisioning_table(&table(2, "rbi_hfc"), &audit(2), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Database(_)), "{e}");
    // A book that does not exist has no table to write.
    let mut stray = table(1, "rbi_bank");
    stray.book_id = "nobody".into();
    assert!(
        s.replace_provisioning_table(&stray, &audit(1), None, None)
            .await
            .is_err()
    );
    assert_eq!(s.provisioning_table("main").await.unwrap(), stored);
    assert_eq!(s.provisioning_table("nobody").await.unwrap(), None);
    assert_eq!(s.audit_records().await.unwrap().len(), before);
}

async fn a_replacement_carries_out_its_approval_and_keeps_its_reply(db: &TestDatabase) {
    let s = open(db).await;
    let held = Approval {
        id: "AP-1".into(),
        action: "close_business".into(),
        target: "provisioning/main".into(),
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
        target: "PUT /v1/provisioning".into(),
        request_digest: "d".into(),
        status: 200,
        body: r#"{"version":1}"#.into(),
    };
    s.replace_provisioning_table(
        &table(1, "rbi_bank"),
        &audit(1),
        Some(&decision),
        Some(&key),
    )
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
        .replace_provisioning_table(&table(2, "custom"), &audit(2), Some(&decision), None)
        .await;
    assert!(again.is_err());
    assert_eq!(
        s.provisioning_table("main")
            .await
            .unwrap()
            .map(|t| t.version),
        Some(1)
    );
}
