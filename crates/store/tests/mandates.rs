//! Mandates in the store, on SQLite and PostgreSQL: registered with their first history row and
//! audit record, changed under their version, replaced (the old revoked, the new registered and
//! the outbox told) in one transaction; a refused write changes nothing.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    AuditEntry, CommandWrite, IdempotencyRecord, LoanRecord, MandateChange, MandateEvent,
    MandateRecord, MandateWriteMeta, NewEvent, NewOutbox, Projection, Store, StoreError, connect,
    terms_digest,
};

loanbook_store::on_both_backends!(
    a_mandate_is_registered_with_its_history_and_audit,
    a_status_change_is_made_under_its_version,
    a_refused_write_changes_nothing,
    a_replacement_revokes_the_old_and_tells_the_outbox,
);

const AT: &str = "2024-02-01T10:00:00Z";
const TERMS: &str = r#"{"currency":"INR","principal":"20000.00"}"#;

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let s = connect(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
    s.ensure_book("main", "Main", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    for loan in ["L1", "L2"] {
        s.commit(&booking(loan)).await.unwrap();
    }
    s
}

fn booking(loan: &str) -> CommandWrite {
    CommandWrite {
        command_id: format!("cmd-book-{loan}"),
        at: "2024-01-01T09:00:00Z".into(),
        loan_id: loan.into(),
        expected_version: 0,
        new_loan: Some(LoanRecord {
            id: loan.into(),
            book_id: "main".into(),
            loan_number: format!("LN-{loan}"),
            borrower_id: None,
            product_id: None,
            product_version: None,
            terms: TERMS.into(),
            terms_hash: terms_digest(TERMS),
            partner_ids: vec![],
            created_at: "2024-01-01T09:00:00Z".into(),
            application_id: None,
        }),
        events: vec![NewEvent {
            value_date: "2024-01-01".into(),
            event: r#"{"type":"disbursement","date":"2024-01-01","amount":"20000.00"}"#.into(),
        }],
        projection: Projection {
            loan_id: loan.into(),
            version: 1,
            as_of: "2024-01-01".into(),
            status: "active".into(),
            classification: "standard".into(),
            dpd: 0,
            principal_outstanding: 2_000_000,
            total_overdue: 0,
            state: "{}".into(),
        },
        audit: audit("book_loan", &format!("loan/{loan}")),
        outbox: vec![],
        idempotency: None,
        approval: None,
        application: None,
        snapshot: None,
    }
}

fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: AT.into(),
        actor: "ops".into(),
        action: action.into(),
        target: target.into(),
        request_digest: String::new(),
        event_ids: vec![],
    }
}

fn mandate(id: &str, loan: &str, reference: &str) -> MandateRecord {
    MandateRecord {
        id: id.into(),
        book_id: "main".into(),
        loan_id: loan.into(),
        rail: "nach".into(),
        kind: "enach".into(),
        reference: reference.into(),
        max_amount: 2_500_000,
        currency: "INR".into(),
        frequency: "monthly".into(),
        start_date: "2024-02-01".into(),
        end_date: Some("2026-01-31".into()),
        submitted_on: "2024-02-01".into(),
        status: "pending_registration".into(),
        status_on: None,
        status_reason: None,
        debtor_name: "Asha Rao".into(),
        account_last4: "4321".into(),
        account_hash: "ab".repeat(32),
        bank_code: "HDFC0001234".into(),
        created_at: AT.into(),
        updated_at: AT.into(),
        version: 1,
    }
}

fn registered(m: &MandateRecord) -> MandateEvent {
    MandateEvent {
        mandate_id: m.id.clone(),
        seq: 1,
        at: m.created_at.clone(),
        actor: "ops".into(),
        from_status: None,
        to_status: m.status.clone(),
        reason: None,
        detail: r#"{"action":"register"}"#.into(),
    }
}

fn meta_for(id: &str, action: &str) -> MandateWriteMeta {
    MandateWriteMeta {
        audit: vec![audit(action, &format!("mandate/{id}"))],
        ..MandateWriteMeta::default()
    }
}

/// `m` moved from its version to `status`.
fn change(m: &MandateRecord, status: &str, reason: Option<&str>) -> MandateChange {
    let next = MandateRecord {
        status: status.into(),
        status_on: Some("2024-02-02".into()),
        status_reason: reason.map(str::to_owned),
        updated_at: "2024-02-02T10:00:00Z".into(),
        version: m.version + 1,
        ..m.clone()
    };
    MandateChange {
        expected_version: m.version,
        event: MandateEvent {
            mandate_id: m.id.clone(),
            seq: next.version,
            at: next.updated_at.clone(),
            actor: "ops".into(),
            from_status: Some(m.status.clone()),
            to_status: status.into(),
            reason: reason.map(str::to_owned),
            detail: "{}".into(),
        },
        mandate: next,
    }
}

async fn register(s: &Arc<dyn Store>, m: &MandateRecord) {
    s.insert_mandate(m, &registered(m), &meta_for(&m.id, "register_mandate"))
        .await
        .unwrap();
}

async fn a_mandate_is_registered_with_its_history_and_audit(db: &TestDatabase) {
    let s = open(db).await;
    let before = s.audit_records().await.unwrap().len();
    let m = mandate("M1", "L1", "HDFC7000000000012345");
    register(&s, &m).await;
    assert_eq!(s.mandate("M1").await.unwrap(), Some(m.clone()));
    assert_eq!(s.mandate("M9").await.unwrap(), None);
    let second = MandateRecord {
        created_at: "2024-02-01T11:00:00Z".into(),
        ..mandate("M2", "L1", "HDFC7000000000099999")
    };
    register(&s, &second).await;
    let listed = s.loan_mandates("L1").await.unwrap();
    assert_eq!(listed, [m.clone(), second]);
    assert!(s.loan_mandates("L2").await.unwrap().is_empty());
    assert_eq!(s.mandate_history("M1").await.unwrap(), [registered(&m)]);
    let records = s.audit_records().await.unwrap();
    assert_eq!(records.len(), before + 2);
    let first = &records[before];
    assert_eq!(
        (first.entry.target.as_str(), first.stream.as_str()),
        ("mandate/M1", "mandate:M1")
    );
    let verified = s.verify_audit(None).await.unwrap().unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

async fn a_status_change_is_made_under_its_version(db: &TestDatabase) {
    let s = open(db).await;
    let m = mandate("M1", "L1", "HDFC7000000000012345");
    register(&s, &m).await;
    let active = change(&m, "active", None);
    s.change_mandate_status(&active, &meta_for("M1", "activate_mandate"))
        .await
        .unwrap();
    let stored = s.mandate("M1").await.unwrap().unwrap();
    assert_eq!(stored, active.mandate);
    assert_eq!(stored.version, 2);
    let revoked = change(&stored, "revoked", Some("customer"));
    s.change_mandate_status(&revoked, &meta_for("M1", "revoke_mandate"))
        .await
        .unwrap();
    let history = s.mandate_history("M1").await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.seq, e.from_status.as_deref(), e.to_status.as_str()))
            .collect::<Vec<_>>(),
        [
            (1, None, "pending_registration"),
            (2, Some("pending_registration"), "active"),
            (3, Some("active"), "revoked"),
        ]
    );
    assert_eq!(history[2].reason.as_deref(), Some("customer"));
    let stored = s.mandate("M1").await.unwrap().unwrap();
    assert_eq!(
        (stored.status_reason.as_deref(), stored.version),
        (Some("customer"), 3)
    );
    let verified = s.verify_audit(None).await.unwrap().unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

async fn a_refused_write_changes_nothing(db: &TestDatabase) {
    let s = open(db).await;
    let m = mandate("M1", "L1", "HDFC7000000000012345");
    register(&s, &m).await;
    let active = change(&m, "active", None);
    s.change_mandate_status(&active, &meta_for("M1", "activate_mandate"))
        .await
        .unwrap();
    let other = mandate("M2", "L1", "HDFC7000000000099999");
    register(&s, &other).await;
    let audits = s.audit_records().await.unwrap().len();
    let snapshot = (
        s.loan_mandates("L1").await.unwrap(),
        s.mandate_history("M1").await.unwrap(),
    );

    // Decided on version 1, but the mandate is at version 2.
    let stale = change(&m, "rejected", Some("M003"));
    let e = s
        .change_mandate_status(&stale, &meta_for("M1", "reject_mandate"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2
            }
        ),
        "{e}"
    );
    // No such mandate.
    let ghost = change(&mandate("M9", "L1", "X"), "active", None);
    let e = s
        .change_mandate_status(&ghost, &meta_for("M9", "activate_mandate"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    // A second active mandate of the loan.
    let e = s
        .change_mandate_status(
            &change(&other, "active", None),
            &meta_for("M2", "activate_mandate"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    // The same reference on the same rail, even on another loan.
    let twin = mandate("M3", "L2", "HDFC7000000000012345");
    let e = s
        .insert_mandate(
            &twin,
            &registered(&twin),
            &meta_for("M3", "register_mandate"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate { .. }), "{e}");
    // A status the table does not know is refused by the database itself.
    let e = s
        .change_mandate_status(
            &change(&other, "cancelled", None),
            &meta_for("M2", "cancel_mandate"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Database(_)), "{e}");

    assert_eq!(s.mandate("M3").await.unwrap(), None);
    assert_eq!(
        (
            s.loan_mandates("L1").await.unwrap(),
            s.mandate_history("M1").await.unwrap()
        ),
        snapshot
    );
    assert_eq!(s.mandate_history("M2").await.unwrap().len(), 1);
    assert_eq!(s.audit_records().await.unwrap().len(), audits);
}

async fn a_replacement_revokes_the_old_and_tells_the_outbox(db: &TestDatabase) {
    let s = open(db).await;
    let old = mandate("M1", "L1", "HDFC7000000000012345");
    register(&s, &old).await;
    let active = change(&old, "active", None);
    s.change_mandate_status(&active, &meta_for("M1", "activate_mandate"))
        .await
        .unwrap();
    let new = MandateRecord {
        account_last4: "9876".into(),
        created_at: "2024-02-02T10:00:00Z".into(),
        updated_at: "2024-02-02T10:00:00Z".into(),
        ..mandate("M2", "L1", "ICIC7000000000054321")
    };
    let message = NewOutbox {
        id: "out-1".into(),
        loan_id: Some("L1".into()),
        topic: "loan.mandate_changed".into(),
        payload: r#"{"replaced":"M1","mandate":"M2"}"#.into(),
    };
    let key = IdempotencyRecord {
        scope: "user-ops".into(),
        key: "k-1".into(),
        target: "POST /v1/mandates/M1/replacement".into(),
        request_digest: "d".into(),
        status: 1,
        body: r#"{"id":"M2"}"#.into(),
    };
    let meta = MandateWriteMeta {
        audit: vec![
            audit("revoke_mandate", "mandate/M1"),
            audit("register_mandate", "mandate/M2"),
        ],
        outbox: vec![message.clone()],
        key: Some(key.clone()),
    };
    let revoke = change(&active.mandate, "revoked", Some("replaced"));

    // Decided on a stale version of the old mandate: nothing at all is written.
    let stale = MandateChange {
        expected_version: 1,
        ..change(&old, "revoked", Some("replaced"))
    };
    let e = s
        .replace_mandate(&stale, &new, &registered(&new), &meta)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::VersionConflict { .. }), "{e}");
    assert_eq!(s.mandate("M2").await.unwrap(), None);
    assert!(db.outbox().await.is_empty());
    assert_eq!(s.idempotency("user-ops", "k-1").await.unwrap(), None);

    s.replace_mandate(&revoke, &new, &registered(&new), &meta)
        .await
        .unwrap();
    let listed = s.loan_mandates("L1").await.unwrap();
    assert_eq!(listed, [revoke.mandate.clone(), new.clone()]);
    assert_eq!(listed[0].status_reason.as_deref(), Some("replaced"));
    let outbox = db.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].topic.as_str(), outbox[0].loan_id.as_deref()),
        ("loan.mandate_changed", Some("L1"))
    );
    assert_eq!(outbox[0].payload, message.payload);
    assert_eq!(
        s.idempotency("user-ops", "k-1")
            .await
            .unwrap()
            .map(|k| k.body),
        Some(key.body)
    );
    let streams: Vec<String> = s
        .audit_records()
        .await
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|r| r.stream.clone())
        .collect();
    assert_eq!(streams, ["mandate:M2", "mandate:M1"]);
    let verified = s.verify_audit(None).await.unwrap().unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}
