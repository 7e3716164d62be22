//! Tampering with the audit log, the events or the terms is caught, and the first bad record is
//! named: on SQLite and on PostgreSQL.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    AuditEntry, AuditKey, Checkpoint, CommandWrite, LoanRecord, NewEvent, OpenOptions, Projection,
    Store, connect_with, seal, terms_digest,
};

loanbook_store::on_both_backends!(
    an_intact_keyed_chain_verifies,
    an_edited_event_is_caught_at_its_command,
    edited_terms_are_caught_at_the_booking,
    an_inserted_event_is_caught,
    deleting_the_newest_record_is_caught,
    deleting_a_middle_record_is_caught,
    reordering_records_is_caught,
    rehashing_without_the_key_is_caught,
    a_keyed_chain_refuses_unkeyed_writes_and_needs_its_key_to_verify,
    a_checkpoint_is_written_and_catches_a_rewound_head,
    verify_works_read_only_and_writes_nothing,
);

const TERMS: &str = r#"{"currency":"INR","principal":"20000.00"}"#;

async fn open(db: &TestDatabase, key: &AuditKey) -> Arc<dyn Store> {
    let s = connect_with(
        &db.url,
        &OpenOptions {
            audit_key: Some(key.clone()),
            read_only: false,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    s.ensure_book("main", "Main", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s
}

fn entry(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: "2024-02-01T10:00:00Z".into(),
        actor: "ops-1".into(),
        action: action.into(),
        target: target.into(),
        request_digest: "ab".repeat(32),
        event_ids: vec![],
    }
}

fn projection(version: i64) -> Projection {
    Projection {
        loan_id: "L1".into(),
        version,
        as_of: "2024-02-01".into(),
        status: "active".into(),
        classification: "standard".into(),
        dpd: 0,
        principal_outstanding: 1,
        total_overdue: 0,
        state: "{}".into(),
    }
}

/// A booking (record 1, event L1:1) and four payments (records 2 to 5, events L1:2 to L1:5).
async fn history(s: &Arc<dyn Store>) {
    s.commit(&CommandWrite {
        command_id: "c-book".into(),
        at: "2024-01-01T09:00:00Z".into(),
        loan_id: "L1".into(),
        expected_version: 0,
        new_loan: Some(LoanRecord {
            id: "L1".into(),
            book_id: "main".into(),
            loan_number: "LN-1".into(),
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
        projection: projection(1),
        audit: entry("book_loan", "loan/L1"),
        outbox: vec![],
        idempotency: None,
        approval: None,
        application: None,
        snapshot: None,
    })
    .await
    .unwrap();
    for v in 1..5 {
        s.commit(&CommandWrite {
            command_id: format!("c-pay-{v}"),
            at: "2024-02-01T10:00:00Z".into(),
            loan_id: "L1".into(),
            expected_version: v,
            new_loan: None,
            events: vec![NewEvent {
                value_date: "2024-02-01".into(),
                event: format!(
                    r#"{{"type":"payment","date":"2024-02-01","amount":"969.73","reference":"P{v}"}}"#
                ),
            }],
            projection: projection(v + 1),
            audit: entry("post_payment", "loan/L1"),
            outbox: vec![],
            idempotency: None,
            approval: None,
            application: None,
            snapshot: None,
        })
        .await
        .unwrap();
    }
}

async fn sql(db: &TestDatabase, statements: &[&str]) {
    use sqlx::Connection;
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        for q in statements {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        for q in statements {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
    }
}

/// The first broken record's number and reason.
async fn broken(s: &Arc<dyn Store>, checkpoint: Option<&Checkpoint>) -> (i64, String) {
    match s.verify_audit(checkpoint).await.unwrap().unwrap() {
        Ok(v) => panic!("the chain verified: {v:?}"),
        Err(b) => (b.seq, b.reason),
    }
}

async fn setup(db: &TestDatabase) -> (Arc<dyn Store>, AuditKey) {
    let key = AuditKey::generate();
    let s = open(db, &key).await;
    history(&s).await;
    (s, key)
}

async fn an_intact_keyed_chain_verifies(db: &TestDatabase) {
    let (s, key) = setup(db).await;
    let v = s.verify_audit(None).await.unwrap().unwrap().unwrap();
    assert_eq!((v.records, v.keyed, v.unkeyed, v.streams), (5, 5, 0, 1));
    let records = s.audit_records().await.unwrap();
    assert!(records.iter().all(|r| r.scheme == "hmac-sha256"));
    assert!(
        records
            .iter()
            .all(|r| r.key_id.as_deref() == Some(key.id().as_str()))
    );
    assert_eq!(
        records[0].terms_hash.as_deref(),
        Some(terms_digest(TERMS).as_str())
    );
    assert_eq!(records[0].entry.event_ids, vec!["L1:1".to_owned()]);
    assert_eq!(records[3].entry.event_ids, vec!["L1:4".to_owned()]);
    assert!(records.iter().all(|r| r.content_hash.len() == 64));
    assert!(records.iter().all(|r| r.stream == "loan:L1"));
    assert_eq!(
        records.iter().map(|r| r.stream_seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let page = s.audit_page(records[1].seq, 2).await.unwrap();
    assert_eq!(page, records[2..4].to_vec());
}

async fn an_edited_event_is_caught_at_its_command(db: &TestDatabase) {
    let (s, _) = setup(db).await;
    sql(
        db,
        &["UPDATE loan_events SET event = replace(event, '969.73', '9.73') WHERE loan_id = 'L1' AND seq = 3"],
    )
    .await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("L1:3"), "{reason}");
    // A changed value date is caught as well.
    sql(
        db,
        &[
            "UPDATE loan_events SET event = replace(event, '9.73', '969.73') WHERE loan_id = 'L1' AND seq = 3",
            "UPDATE loan_events SET value_date = '2024-01-15' WHERE loan_id = 'L1' AND seq = 4",
        ],
    )
    .await;
    assert_eq!(broken(&s, None).await.0, 4);
}

async fn edited_terms_are_caught_at_the_booking(db: &TestDatabase) {
    let (s, _) = setup(db).await;
    let edited = TERMS.replace("20000.00", "2000.00");
    sql(
        db,
        &[&format!(
            "UPDATE loans SET terms = '{edited}' WHERE id = 'L1'"
        )],
    )
    .await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 1, "{reason}");
    assert!(reason.contains("terms"), "{reason}");
    // Rehashing the terms in the row does not help: the booking record holds the hash.
    sql(
        db,
        &[&format!(
            "UPDATE loans SET terms_hash = '{}' WHERE id = 'L1'",
            terms_digest(&edited)
        )],
    )
    .await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 1, "{reason}");
    assert!(reason.contains("not the one booked"), "{reason}");
}

async fn an_inserted_event_is_caught(db: &TestDatabase) {
    let (s, _) = setup(db).await;
    sql(
        db,
        &[
            "INSERT INTO loan_events (loan_id, seq, value_date, event, recorded_at, command_id) \
           VALUES ('L1', 6, '2024-02-01', '{\"type\":\"waiver\"}', '2024-02-01T10:00:00Z', 'x')",
        ],
    )
    .await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 1, "{reason}");
    assert!(reason.contains("L1:6"), "{reason}");
}

async fn deleting_the_newest_record_is_caught(db: &TestDatabase) {
    let (s, _) = setup(db).await;
    sql(db, &["DELETE FROM audit_log WHERE seq = 5"]).await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 5, "{reason}");
    assert!(reason.contains("head"), "{reason}");
}

async fn deleting_a_middle_record_is_caught(db: &TestDatabase) {
    let (s, _) = setup(db).await;
    sql(db, &["DELETE FROM audit_log WHERE seq = 3"]).await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
}

async fn reordering_records_is_caught(db: &TestDatabase) {
    let (s, _) = setup(db).await;
    sql(
        db,
        &[
            "UPDATE audit_log SET stream_seq = 100 WHERE stream_seq = 3",
            "UPDATE audit_log SET stream_seq = 3 WHERE stream_seq = 2",
            "UPDATE audit_log SET stream_seq = 2 WHERE stream_seq = 100",
        ],
    )
    .await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 2, "{reason}");
}

/// Rewrite records `from..` of the stored chain the way someone with database access but
/// without the key could: edit record `from`, reseal it and every later one, move the head.
async fn reseal(
    db: &TestDatabase,
    s: &Arc<dyn Store>,
    from: usize,
    key: Option<&AuditKey>,
    claim: Option<String>,
) {
    let mut records = s.audit_records().await.unwrap();
    records[from - 1].entry.actor = "intruder".into();
    let mut prev = records[from - 2].hash.clone();
    let mut statements = Vec::new();
    for r in records.iter().skip(from - 1) {
        let mut n = seal(
            &prev,
            r.stream_seq,
            &r.entry,
            r.content_hash.clone(),
            r.terms_hash.clone(),
            key,
        );
        if let Some(id) = &claim {
            n.key_id = Some(id.clone());
        }
        statements.push(format!(
            "UPDATE audit_log SET actor = '{}', scheme = '{}', key_id = {}, prev_hash = '{}', hash = '{}' WHERE seq = {}",
            n.entry.actor,
            n.scheme,
            n.key_id.as_ref().map_or("NULL".to_owned(), |k| format!("'{k}'")),
            n.prev_hash,
            n.hash,
            r.seq
        ));
        prev = n.hash.clone();
    }
    statements.push(format!(
        "UPDATE audit_heads SET hash = '{prev}' WHERE stream = 'loan:L1'"
    ));
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    sql(db, &refs).await;
}

async fn rehashing_without_the_key_is_caught(db: &TestDatabase) {
    let (s, key) = setup(db).await;
    // Resealed as unkeyed records.
    reseal(db, &s, 3, None, None).await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("not keyed"), "{reason}");
    // Resealed with another key, claiming the real key's id.
    reseal(db, &s, 3, Some(&AuditKey::generate()), Some(key.id())).await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("does not match its hash"), "{reason}");
}

async fn a_keyed_chain_refuses_unkeyed_writes_and_needs_its_key_to_verify(db: &TestDatabase) {
    let (_s, _) = setup(db).await;
    let unkeyed = connect_with(&db.url, &OpenOptions::default())
        .await
        .unwrap();
    let e = unkeyed
        .set_business_date(
            "main",
            "2024-02-01",
            "2024-02-02",
            &entry("set_business_date", "book/main"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, loanbook_store::StoreError::AuditKey(_)), "{e}");
    assert_eq!(unkeyed.business_date("main").await.unwrap(), "2024-02-01");
    let needs = unkeyed.verify_audit(None).await.unwrap().unwrap_err();
    assert_eq!(needs.seq, 1);
    let other = open(db, &AuditKey::generate()).await;
    let (seq, reason) = broken(&other, None).await;
    assert_eq!(seq, 1, "{reason}");
    assert!(reason.contains("not with the given key"), "{reason}");
}

async fn a_checkpoint_is_written_and_catches_a_rewound_head(db: &TestDatabase) {
    let (s, _) = setup(db).await;
    let c = s
        .audit_checkpoint(&entry("audit_checkpoint", "audit"), "out-cp-1")
        .await
        .unwrap();
    assert_eq!((c.seq, c.streams, c.count), (1, 1, 5));
    let records = s.audit_records().await.unwrap();
    assert_eq!(records.len(), 6);
    assert_eq!(records[5].entry.action, "audit_checkpoint");
    assert_eq!(records[5].stream, "audit");
    assert_eq!(records[5].entry.target, format!("audit/1:{}", c.hash));
    let stored = s.audit_checkpoints().await.unwrap();
    assert_eq!(
        stored[0].heads,
        vec![("loan:L1".to_owned(), 5, records[4].hash.clone())]
    );
    let out = db.outbox().await;
    let msg = out.iter().find(|m| m.topic == "audit.checkpoint").unwrap();
    let payload: serde_json::Value = serde_json::from_str(&msg.payload).unwrap();
    assert_eq!(payload["seq"], 1);
    assert_eq!(payload["hash"], c.hash.as_str());
    assert_eq!(payload["count"], 5);
    let cp = Checkpoint {
        seq: c.seq,
        hash: c.hash.clone(),
    };
    let v = s.verify_audit(Some(&cp)).await.unwrap().unwrap().unwrap();
    assert_eq!((v.streams, v.checkpoints), (2, 1));
    assert_eq!(v.last_checkpoint, Some(cp.clone()));
    // Cut the loan's newest records and move its head back to match: the stored checkpoint
    // still covers record 5.
    sql(
        db,
        &[
            "DELETE FROM audit_log WHERE stream = 'loan:L1' AND stream_seq >= 4",
            &format!(
                "UPDATE audit_heads SET seq = 3, hash = '{}' WHERE stream = 'loan:L1'",
                records[2].hash
            ),
            "DELETE FROM loan_events WHERE seq >= 4",
        ],
    )
    .await;
    let (seq, reason) = broken(&s, None).await;
    assert_eq!(seq, 5, "{reason}");
    assert!(reason.contains("checkpoint 1"), "{reason}");
    // Drop the checkpoint and its record too: only the checkpoint kept elsewhere shows it.
    sql(
        db,
        &[
            "DELETE FROM audit_checkpoints",
            "DELETE FROM audit_log WHERE stream = 'audit'",
            "DELETE FROM audit_heads WHERE stream = 'audit'",
        ],
    )
    .await;
    assert!(s.verify_audit(None).await.unwrap().unwrap().is_ok());
    let (seq, reason) = broken(&s, Some(&cp)).await;
    assert_eq!(seq, 1, "{reason}");
    assert!(reason.contains("checkpoint"), "{reason}");
    // A checkpoint that was never written is named.
    let wrong = Checkpoint {
        seq: 2,
        hash: "0".repeat(64),
    };
    assert_eq!(broken(&s, Some(&wrong)).await.0, 2);
}

async fn verify_works_read_only_and_writes_nothing(db: &TestDatabase) {
    let (s, key) = setup(db).await;
    drop(s);
    let ro = connect_with(
        &db.url,
        &OpenOptions {
            audit_key: Some(key),
            read_only: true,
        },
    )
    .await
    .unwrap();
    let v = ro.verify_audit(None).await.unwrap().unwrap().unwrap();
    assert_eq!(v.records, 5);
    assert!(ro.check_writable("2024-02-01T10:00:00Z").await.is_err());
    assert!(
        ro.set_business_date("main", "2024-02-01", "2024-02-02", &entry("x", "book/main"))
            .await
            .is_err()
    );
    let heads = ro.audit_heads().await.unwrap();
    assert_eq!(
        heads
            .iter()
            .map(|h| (h.stream.as_str(), h.seq))
            .collect::<Vec<_>>(),
        vec![("loan:L1", 5)]
    );
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        // Opening a database that is not there creates nothing.
        let missing = format!("{path}.missing");
        let r = connect_with(
            &format!("sqlite://{missing}"),
            &OpenOptions {
                audit_key: None,
                read_only: true,
            },
        )
        .await;
        assert!(r.is_err());
        assert!(!std::path::Path::new(&missing).exists());
    }
}
