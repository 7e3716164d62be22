//! The store contract: every test runs on SQLite and on PostgreSQL, and both must behave alike.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    Approval, Attempt, AuditEntry, CommandWrite, Decision, IdempotencyRecord, LoanFilter,
    LoanRecord, NewEvent, NewOutbox, Party, ProductVersion, Projection, Store, StoreError, User,
    WebhookEndpoint, connect, verify_chain,
};

loanbook_store::on_both_backends!(
    migrations_apply_again_without_harm,
    a_command_round_trips_exactly,
    a_stale_version_is_refused_and_changes_nothing,
    concurrent_commands_all_land_once_in_sequence,
    an_idempotency_key_is_used_once,
    the_audit_chain_verifies_and_names_tampering,
    loans_filter_and_paginate,
    outbox_keeps_order,
    tokens_find_their_user,
    approvals_are_decided_once_with_their_command,
    webhook_deliveries_go_out_in_order_per_endpoint,
    products_version_and_parties_round_trip,
);

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let s = connect(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
    s.ensure_book("main", "Main book", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(s.business_date("main").await.unwrap(), "2024-02-01");
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

fn projection(loan: &str, version: i64, status: &str, class: &str, dpd: i64) -> Projection {
    Projection {
        loan_id: loan.into(),
        version,
        as_of: "2024-02-01".into(),
        status: status.into(),
        classification: class.into(),
        dpd,
        principal_outstanding: 1_928_027,
        total_overdue: 0,
        state: format!(r#"{{"loan": "{loan}", "version": {version}}}"#),
    }
}

fn book(loan: &str, number: &str, partners: &[&str]) -> CommandWrite {
    CommandWrite {
        command_id: format!("cmd-book-{loan}"),
        at: "2024-01-01T09:00:00Z".into(),
        loan_id: loan.into(),
        expected_version: 0,
        new_loan: Some(LoanRecord {
            id: loan.into(),
            book_id: "main".into(),
            loan_number: number.into(),
            borrower_id: None,
            product_id: None,
            product_version: None,
            terms: r#"{"currency":"INR","principal":"20000.00"}"#.into(),
            terms_hash: "cd".repeat(32),
            partner_ids: partners.iter().map(|p| (*p).to_owned()).collect(),
            created_at: "2024-01-01T09:00:00Z".into(),
            application_id: None,
        }),
        events: vec![NewEvent {
            value_date: "2024-01-01".into(),
            event: r#"{"type":"disbursement","date":"2024-01-01","amount":"20000.00"}"#.into(),
        }],
        projection: projection(loan, 1, "active", "standard", 0),
        audit: audit("book_loan", loan),
        outbox: vec![NewOutbox {
            id: format!("out-book-{loan}"),
            loan_id: Some(loan.into()),
            topic: "loan.booked".into(),
            payload: format!(r#"{{"loan_id":"{loan}"}}"#),
        }],
        idempotency: None,
        approval: None,
        application: None,
        snapshot: None,
    }
}

fn payment(loan: &str, version: i64, reference: &str, key: Option<&str>) -> CommandWrite {
    CommandWrite {
        command_id: format!("cmd-{reference}"),
        at: "2024-02-01T10:00:00Z".into(),
        loan_id: loan.into(),
        expected_version: version,
        new_loan: None,
        events: vec![NewEvent {
            value_date: "2024-02-01".into(),
            event: format!(
                r#"{{"type":"payment","date":"2024-02-01","amount":"969.73","reference":"{reference}"}}"#
            ),
        }],
        projection: projection(loan, version + 1, "active", "standard", 0),
        audit: AuditEntry {
            event_ids: vec![format!("{loan}:{}", version + 1)],
            ..audit("post_payment", loan)
        },
        outbox: vec![NewOutbox {
            id: format!("out-{reference}"),
            loan_id: Some(loan.into()),
            topic: "payment.posted".into(),
            payload: format!(r#"{{"reference":"{reference}"}}"#),
        }],
        idempotency: key.map(|k| IdempotencyRecord {
            scope: "user-1".into(),
            key: k.into(),
            target: "POST /v1/loans/L1/payments".into(),
            request_digest: format!("digest-{reference}"),
            status: 201,
            body: format!(r#"{{"reference":"{reference}"}}"#),
        }),
        approval: None,
        application: None,
        snapshot: None,
    }
}

async fn migrations_apply_again_without_harm(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&book("L1", "LN-1", &[])).await.unwrap();
    drop(s);
    let s = open(db).await;
    assert_eq!(s.events("L1").await.unwrap().len(), 1);
}

async fn a_command_round_trips_exactly(db: &TestDatabase) {
    let s = open(db).await;
    let w = book("L1", "LN-1", &["bank", "nbfc"]);
    assert_eq!(s.commit(&w).await.unwrap(), vec![1]);
    let loan = s.loan("L1").await.unwrap().unwrap();
    assert_eq!(Some(&loan), w.new_loan.as_ref());
    let events = s.events("L1").await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, w.events[0].event);
    assert_eq!(events[0].value_date, "2024-01-01");
    assert_eq!(events[0].command_id, "cmd-book-L1");
    assert_eq!(
        s.projection("L1").await.unwrap(),
        Some(w.projection.clone())
    );
    assert_eq!(
        s.commit(&payment("L1", 1, "U1", None)).await.unwrap(),
        vec![2]
    );
    let p = s.projection("L1").await.unwrap().unwrap();
    assert_eq!(p.version, 2);
    assert!(s.loan("nope").await.unwrap().is_none());
    // A loan number is unique within its book.
    let mut again = book("L2", "LN-1", &[]);
    again.outbox[0].id = "other".into();
    assert!(matches!(
        s.commit(&again).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert!(s.loan("L2").await.unwrap().is_none());
}

async fn a_stale_version_is_refused_and_changes_nothing(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&book("L1", "LN-1", &[])).await.unwrap();
    s.commit(&payment("L1", 1, "U1", None)).await.unwrap();
    let before = s.audit_records().await.unwrap().len();
    let err = s
        .commit(&payment("L1", 1, "U2", Some("k2")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2
            }
        ),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(s.events("L1").await.unwrap().len(), 2);
    assert_eq!(s.audit_records().await.unwrap().len(), before);
    assert!(s.idempotency("user-1", "k2").await.unwrap().is_none());
    assert_eq!(db.outbox().await.len(), 2);
}

async fn concurrent_commands_all_land_once_in_sequence(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&book("L1", "LN-1", &[])).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let version = s.projection("L1").await.unwrap().unwrap().version;
                match s
                    .commit(&payment("L1", version, &format!("U{i}"), None))
                    .await
                {
                    Ok(seqs) => return seqs[0],
                    Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=21).collect::<Vec<i64>>());
    let events = s.events("L1").await.unwrap();
    assert_eq!(events.len(), 21);
    let mut references: Vec<String> = events[1..].iter().map(|e| e.command_id.clone()).collect();
    references.sort();
    references.dedup();
    assert_eq!(references.len(), 20);
    assert_eq!(verify_chain(&s.audit_records().await.unwrap()), Ok(()));
}

async fn an_idempotency_key_is_used_once(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&book("L1", "LN-1", &[])).await.unwrap();
    s.commit(&payment("L1", 1, "U1", Some("key-1")))
        .await
        .unwrap();
    let stored = s.idempotency("user-1", "key-1").await.unwrap().unwrap();
    assert_eq!(stored.status, 201);
    assert_eq!(stored.request_digest, "digest-U1");
    let err = s
        .commit(&payment("L1", 2, "U1b", Some("key-1")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IdempotencyConflict { .. }),
        "{err}"
    );
    assert_eq!(s.events("L1").await.unwrap().len(), 2);
    // Keys belong to their user.
    assert!(s.idempotency("user-2", "key-1").await.unwrap().is_none());
}

async fn the_audit_chain_verifies_and_names_tampering(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&book("L1", "LN-1", &[])).await.unwrap();
    for v in 1..5 {
        s.commit(&payment("L1", v, &format!("U{v}"), None))
            .await
            .unwrap();
    }
    let records = s.audit_records().await.unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(verify_chain(&records), Ok(()));
    assert_eq!(records[1].entry.event_ids, vec!["L1:2".to_owned()]);
    // Someone edits record 3 in the database.
    let mut tampered = records.clone();
    tampered[2].entry.actor = "intruder".into();
    assert_eq!(verify_chain(&tampered).map_err(|b| b.seq), Err(3));
    sqlx_update(db, "UPDATE audit_log SET actor = 'intruder' WHERE seq = 3").await;
    let records = s.audit_records().await.unwrap();
    assert_eq!(verify_chain(&records).map_err(|b| b.seq), Err(3));
}

async fn sqlx_update(db: &TestDatabase, sql: &str) {
    use sqlx::Connection;
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

async fn loans_filter_and_paginate(db: &TestDatabase) {
    let s = open(db).await;
    for i in 0..7 {
        let id = format!("L{i}");
        let mut w = book(
            &id,
            &format!("LN-{i}"),
            if i % 2 == 0 { &["bank"] } else { &[] },
        );
        w.projection = projection(
            &id,
            1,
            if i == 6 { "closed" } else { "active" },
            if i >= 4 { "npa" } else { "standard" },
            i * 30,
        );
        s.commit(&w).await.unwrap();
    }
    let all = |f: LoanFilter| {
        let s = s.clone();
        async move {
            s.list_loans(&LoanFilter { limit: 100, ..f })
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.projection.loan_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(all(LoanFilter::default()).await.len(), 7);
    assert_eq!(
        all(LoanFilter {
            status: Some("closed".into()),
            ..Default::default()
        })
        .await,
        vec!["L6"]
    );
    assert_eq!(
        all(LoanFilter {
            classification: Some("npa".into()),
            ..Default::default()
        })
        .await,
        vec!["L4", "L5", "L6"]
    );
    assert_eq!(
        all(LoanFilter {
            dpd_min: Some(60),
            dpd_max: Some(120),
            ..Default::default()
        })
        .await,
        vec!["L2", "L3", "L4"]
    );
    assert_eq!(
        all(LoanFilter {
            partner_id: Some("bank".into()),
            ..Default::default()
        })
        .await,
        vec!["L0", "L2", "L4", "L6"]
    );
    // Pages of three, by cursor.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_loans(&LoanFilter {
                after: after.clone(),
                limit: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.projection.loan_id.clone());
        seen.extend(page.into_iter().map(|p| p.projection.loan_id));
    }
    assert_eq!(seen, vec!["L0", "L1", "L2", "L3", "L4", "L5", "L6"]);
}

async fn outbox_keeps_order(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&book("A", "LN-A", &[])).await.unwrap();
    s.commit(&book("B", "LN-B", &[])).await.unwrap();
    s.commit(&payment("A", 1, "A1", None)).await.unwrap();
    s.commit(&payment("B", 1, "B1", None)).await.unwrap();
    s.commit(&payment("A", 2, "A2", None)).await.unwrap();
    let out = db.outbox().await;
    let ids: Vec<&str> = out.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["out-book-A", "out-book-B", "out-A1", "out-B1", "out-A2"]
    );
    assert!(out.windows(2).all(|w| w[0].position < w[1].position));
    let rest = out.iter().filter(|m| m.position > out[2].position).count();
    assert_eq!(rest, 2);
}

async fn tokens_find_their_user(db: &TestDatabase) {
    let s = open(db).await;
    let u = User {
        id: "user-1".into(),
        name: "asha".into(),
        role: "operations".into(),
        partner_id: None,
        created_at: "2024-01-01T00:00:00Z".into(),
    };
    assert_eq!(s.user_count().await.unwrap(), 0);
    s.create_user(&u, &audit("create_user", "user/asha"))
        .await
        .unwrap();
    assert!(matches!(
        s.create_user(&u, &audit("create_user", "user/asha")).await,
        Err(StoreError::Duplicate { .. })
    ));
    let token = loanbook_store::NewToken {
        id: "tok-1".into(),
        hash: "hash-1".into(),
        prefix: "lb_0123".into(),
        user_id: "user-1".into(),
        created_at: "2024-01-01T00:00:00Z".into(),
        expires_at: None,
    };
    s.issue_token(&token, &audit("create_token", "token/tok-1"))
        .await
        .unwrap();
    let grant = s.token_grant("hash-1").await.unwrap().unwrap();
    assert_eq!(grant.user, u);
    assert_eq!(s.token_grant("hash-2").await.unwrap(), None);
    assert_eq!(s.user_by_name("asha").await.unwrap(), Some(u));
    assert_eq!(s.user_count().await.unwrap(), 1);
    assert_eq!(verify_chain(&s.audit_records().await.unwrap()), Ok(()));
}

fn pending(id: &str) -> Approval {
    Approval {
        id: id.into(),
        action: "write_off".into(),
        target: "loan/L1".into(),
        payload: r#"{"type":"write_off","date":"2024-09-01"}"#.into(),
        maker: "mira".into(),
        status: "pending".into(),
        checker: None,
        created_at: "2024-02-01T10:00:00Z".into(),
        decided_at: None,
    }
}

async fn approvals_are_decided_once_with_their_command(db: &TestDatabase) {
    let s = open(db).await;
    s.commit(&book("L1", "LN-1", &[])).await.unwrap();
    s.create_approval(
        &pending("A1"),
        &audit("request_write_off", "approval/A1"),
        None,
    )
    .await
    .unwrap();
    s.create_approval(
        &pending("A2"),
        &audit("request_write_off", "approval/A2"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.approvals(Some("pending"), 10).await.unwrap().len(), 2);
    let decision = |id: &str| Decision {
        approval_id: id.into(),
        checker: "chetan".into(),
        at: "2024-02-02T10:00:00Z".into(),
    };
    // Approved together with the command it releases.
    let mut w = payment("L1", 1, "U1", None);
    w.approval = Some(decision("A1"));
    s.commit(&w).await.unwrap();
    let a = s.approval("A1").await.unwrap().unwrap();
    assert_eq!(
        (a.status.as_str(), a.checker.as_deref()),
        ("approved", Some("chetan"))
    );
    // A second decision is refused and the command with it writes nothing.
    let mut again = payment("L1", 2, "U2", None);
    again.approval = Some(decision("A1"));
    assert!(matches!(
        s.commit(&again).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.events("L1").await.unwrap().len(), 2);
    s.reject_approval(&decision("A2"), &audit("reject", "approval/A2"), None)
        .await
        .unwrap();
    assert_eq!(s.approval("A2").await.unwrap().unwrap().status, "rejected");
    assert!(
        s.reject_approval(&decision("A2"), &audit("reject", "approval/A2"), None)
            .await
            .is_err()
    );
    assert_eq!(verify_chain(&s.audit_records().await.unwrap()), Ok(()));
}

async fn webhook_deliveries_go_out_in_order_per_endpoint(db: &TestDatabase) {
    let s = open(db).await;
    let hook = |id: &str, topics: &[&str]| WebhookEndpoint {
        id: id.into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "whsec_c2VjcmV0".into(),
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        active: true,
        created_at: "2024-01-01T00:00:00Z".into(),
    };
    s.create_webhook(
        &hook("all", &["*"]),
        &audit("create_webhook", "webhook/all"),
        None,
    )
    .await
    .unwrap();
    s.create_webhook(
        &hook("pay", &["payment.posted"]),
        &audit("create_webhook", "webhook/pay"),
        None,
    )
    .await
    .unwrap();
    s.commit(&book("L1", "LN-1", &[])).await.unwrap();
    s.commit(&payment("L1", 1, "U1", None)).await.unwrap();
    s.commit(&payment("L1", 2, "U2", None)).await.unwrap();
    let now = "2024-02-01T10:00:00Z";
    assert_eq!(s.dispatch_outbox(now, 100).await.unwrap(), 3);
    assert_eq!(
        s.dispatch_outbox(now, 100).await.unwrap(),
        0,
        "dispatched once"
    );
    // One due delivery per endpoint: the oldest.
    let due = s.due_deliveries(now).await.unwrap();
    let heads: Vec<(&str, &str)> = due
        .iter()
        .map(|(d, m)| (d.endpoint_id.as_str(), m.topic.as_str()))
        .collect();
    assert_eq!(heads, [("all", "loan.booked"), ("pay", "payment.posted")]);
    // A failure holds the endpoint's queue until its next attempt.
    let (d, _) = &due[0];
    s.record_attempt(
        "all",
        d.outbox_position,
        &Attempt::Failed {
            error: "answered 500".into(),
            next_attempt_at: Some("2024-02-01T10:00:05Z".into()),
        },
    )
    .await
    .unwrap();
    let due = s.due_deliveries(now).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0.endpoint_id, "pay");
    let later = s.due_deliveries("2024-02-01T10:00:06Z").await.unwrap();
    assert_eq!(later.len(), 2);
    s.record_attempt(
        "all",
        d.outbox_position,
        &Attempt::Delivered {
            at: "2024-02-01T10:00:06Z".into(),
        },
    )
    .await
    .unwrap();
    let next = s.due_deliveries("2024-02-01T10:00:06Z").await.unwrap();
    assert_eq!(next[0].1.id, "out-U1");
    let list = s.deliveries("all", 10).await.unwrap();
    let first = list
        .iter()
        .find(|x| x.outbox_position == d.outbox_position)
        .unwrap();
    assert_eq!((first.status.as_str(), first.attempts), ("delivered", 2));
    // Given up: no next attempt.
    s.record_attempt(
        "pay",
        due[0].0.outbox_position,
        &Attempt::Failed {
            error: "timeout".into(),
            next_attempt_at: None,
        },
    )
    .await
    .unwrap();
    let gone = s.deliveries("pay", 10).await.unwrap();
    assert!(gone.iter().any(|x| x.status == "failed"));
}

async fn products_version_and_parties_round_trip(db: &TestDatabase) {
    let s = open(db).await;
    let v = |n: i64, rate: &str| ProductVersion {
        product_id: "P1".into(),
        code: "PL".into(),
        name: "Personal loan".into(),
        version: n,
        config: format!(r#"{{"terms":{{"annual_rate":"{rate}"}}}}"#),
        created_at: "2024-01-01T00:00:00Z".into(),
    };
    s.add_product_version(
        "main",
        &v(1, "15"),
        &audit("manage_products", "product/PL"),
        None,
        None,
    )
    .await
    .unwrap();
    assert!(matches!(
        s.add_product_version(
            "main",
            &v(1, "16"),
            &audit("manage_products", "product/PL"),
            None,
            None
        )
        .await,
        Err(StoreError::VersionConflict { .. })
    ));
    s.add_product_version(
        "main",
        &v(2, "16"),
        &audit("manage_products", "product/PL"),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.product("PL", None).await.unwrap().unwrap().version, 2);
    assert_eq!(s.product("PL", Some(1)).await.unwrap(), Some(v(1, "15")));
    assert_eq!(s.products().await.unwrap(), vec![v(2, "16")]);
    assert!(s.product("XX", None).await.unwrap().is_none());
    let party = Party {
        id: "B1".into(),
        book_id: "main".into(),
        kind: "borrower".into(),
        name: "Asha Rao".into(),
        details: r#"{"pan":"ABCDE1234F"}"#.into(),
        created_at: "2024-01-01T00:00:00Z".into(),
    };
    s.create_party(&party, &audit("create_party", "party/B1"), None)
        .await
        .unwrap();
    assert_eq!(s.party("B1").await.unwrap(), Some(party.clone()));
    assert_eq!(
        s.parties(Some("borrower"), None, 10).await.unwrap(),
        vec![party]
    );
    assert!(
        s.parties(Some("guarantor"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(verify_chain(&s.audit_records().await.unwrap()), Ok(()));
}
