//! Mandates against a real server on SQLite and PostgreSQL: registered, activated and checked
//! against the loan's next instalment; flagged when they cannot collect it; illegal moves refused
//! with nothing changed; a replacement that revokes the old one and tells servicing; the roles;
//! bad input named by its field.

mod common;

use common::{Server, rbi_terms};
use loanbook_app::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    a_mandate_is_registered_activated_and_ready,
    readiness_flags_what_cannot_collect,
    illegal_moves_are_refused_and_change_nothing,
    a_replacement_revokes_the_old_and_tells_servicing,
    a_status_move_tells_servicing,
    roles_and_bad_input,
);

const UMRN: &str = "HDFC7000000000012345";

fn enach(reference: &str) -> Value {
    json!({
        "kind": "enach", "reference": reference, "max_amount": "25000.00",
        "frequency": "monthly", "start_date": "2025-06-01", "end_date": "2027-12-31",
        "debtor_name": "Asha Rao", "account_number": "50100123454321",
        "bank_code": "HDFC0001234"
    })
}

fn codes(problem: &Value) -> Vec<(String, String)> {
    let list = problem["errors"]
        .as_array()
        .or_else(|| problem["problems"].as_array());
    list.map(|e| {
        e.iter()
            .map(|f| {
                (
                    f["field"].as_str().unwrap_or_default().to_owned(),
                    f["code"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

async fn register(s: &Server, token: &str, loan: &str, body: &Value) -> Value {
    let (status, m) = s
        .post(token, &format!("/v1/loans/{loan}/mandates"), body, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

async fn act(s: &Server, token: &str, id: &Value, body: Value) -> (StatusCode, Value) {
    let id = id.as_str().unwrap();
    s.post(token, &format!("/v1/mandates/{id}/status"), &body, None)
        .await
}

async fn readiness(s: &Server, loan: &str) -> Value {
    let (status, r) = s
        .get(&s.admin, &format!("/v1/loans/{loan}/mandates/readiness"))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}

async fn mandate_of(s: &Server, id: &str) -> Value {
    s.get(&s.admin, &format!("/v1/mandates/{id}")).await.1
}

async fn a_mandate_is_registered_activated_and_ready(s: Server) {
    let loan = s.booked_loan("LN-M1", rbi_terms()).await;
    let cole = s.token("cole", Role::Collections, None).await;
    let path = format!("/v1/loans/{loan}/mandates");
    let (status, m) = s.post(&cole, &path, &enach(UMRN), Some("m-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["status"], "pending_registration");
    assert_eq!(
        (&m["rail"], &m["kind"], &m["max_amount"]),
        (&json!("nach"), &json!("enach"), &json!("25000.00"))
    );
    assert_eq!(m["account_last4"], "4321");
    assert_eq!(m["submitted_on"], common::TODAY);
    assert!(
        !m.to_string().contains("50100123454321"),
        "the account number is not shown: {m}"
    );
    // The retry gets the first answer; nothing is registered twice.
    let (status, again) = s.post(&cole, &path, &enach(UMRN), Some("m-1")).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &m));

    // Pending eNACH is active by tomorrow, the next instalment's due date.
    let r = readiness(&s, &loan).await;
    assert_eq!(r["ready"], true, "{r}");
    assert_eq!(
        (&r["installment"], &r["due_date"]),
        (&json!(18), &json!("2025-07-01"))
    );
    let (_, state) = s.get(&s.admin, &format!("/v1/loans/{loan}")).await;
    assert_eq!(r["amount"], state["state"]["installment_amount"], "{state}");

    let (status, active) = act(&s, &cole, &m["id"], json!({"action": "activate"})).await;
    assert_eq!(status, StatusCode::OK, "{active}");
    assert_eq!(
        (&active["status"], &active["status_on"], &active["version"]),
        (&json!("active"), &json!(common::TODAY), &json!(2))
    );
    let r = readiness(&s, &loan).await;
    assert_eq!(
        (&r["ready"], &r["mandate_id"]),
        (&json!(true), &m["id"]),
        "{r}"
    );

    let id = m["id"].as_str().unwrap();
    let (status, detail) = s.get(&cole, &format!("/v1/mandates/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["mandate"], active);
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{detail}");
    assert_eq!(
        (&history[0]["from_status"], &history[0]["to_status"]),
        (&Value::Null, &json!("pending_registration"))
    );
    assert_eq!(
        (
            &history[1]["to_status"],
            &history[1]["actor"],
            &history[1]["detail"]["action"]
        ),
        (&json!("active"), &json!("cole"), &json!("activate"))
    );

    // Every reader sees the loan's mandates; the auditor without the debtor's name.
    let auditor = s.token("audrey", Role::Auditor, None).await;
    let (status, list) = s.get(&auditor, &path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["mandates"].as_array().unwrap().len(), 1);
    assert_eq!(list["mandates"][0]["debtor_name"], "A*** R**");
    assert_eq!(s.get(&cole, &path).await.1["mandates"][0], active);
}

async fn readiness_flags_what_cannot_collect(s: Server) {
    let loan = s.booked_loan("LN-M2", rbi_terms()).await;
    let r = readiness(&s, &loan).await;
    assert_eq!(r["ready"], false);
    assert_eq!(codes(&r), [pair("mandates", "mandate.missing")]);

    // Its maximum below the instalment.
    let mut body = enach(UMRN);
    body["max_amount"] = json!("500.00");
    let m = register(&s, &s.admin, &loan, &body).await;
    let r = readiness(&s, &loan).await;
    assert_eq!(r["ready"], false);
    assert_eq!(codes(&r), [pair("max_amount_minor", "mandate.max_amount")]);

    // Rejected: the newest, and not active.
    let (status, _) = act(
        &s,
        &s.admin,
        &m["id"],
        json!({"action": "reject", "reason": "M003"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r = readiness(&s, &loan).await;
    assert_eq!(
        codes(&r),
        [
            pair("status", "mandate.active"),
            pair("max_amount_minor", "mandate.max_amount")
        ],
        "{r}"
    );

    // Expiring the day before the instalment falls due.
    let mut body = enach("HDFC7000000000022222");
    body["end_date"] = json!("2025-06-30");
    let early = register(&s, &s.admin, &loan, &body).await;
    let r = readiness(&s, &loan).await;
    assert_eq!(r["mandate_id"], early["id"]);
    assert_eq!(codes(&r), [pair("end", "mandate.not_expired")], "{r}");
    let (status, _) = act(
        &s,
        &s.admin,
        &early["id"],
        json!({"action": "reject", "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Physical NACH takes up to 14 days to register: not active by tomorrow.
    let mut body = enach("HDFC7000000000033333");
    body["kind"] = json!("physical_nach");
    register(&s, &s.admin, &loan, &body).await;
    let r = readiness(&s, &loan).await;
    assert_eq!(
        codes(&r),
        [pair("submitted_on", "mandate.lead_time")],
        "{r}"
    );
}

async fn illegal_moves_are_refused_and_change_nothing(s: Server) {
    let loan = s.booked_loan("LN-M3", rbi_terms()).await;
    let m = register(&s, &s.admin, &loan, &enach(UMRN)).await;
    let id = m["id"].as_str().unwrap().to_owned();
    let before = mandate_of(&s, &id).await;

    let refusals = [
        (json!({"action": "pause"}), "action", "mandate.transition"),
        (json!({"action": "resume"}), "action", "mandate.transition"),
        (
            json!({"action": "revoke", "reason": "x"}),
            "action",
            "mandate.transition",
        ),
        (json!({"action": "reject"}), "reason", "mandate.reason"),
        (
            json!({"action": "reject", "reason": " "}),
            "reason",
            "mandate.reason",
        ),
        (json!({"action": "expire"}), "action", "mandate.expiry"),
        (json!({"action": "wake"}), "action", "enum.unknown"),
        (
            json!({"action": "activate", "why": "x"}),
            "why",
            "field.unknown",
        ),
    ];
    for (body, field, code) in refusals {
        let (status, problem) = act(&s, &s.admin, &m["id"], body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(codes(&problem), [pair(field, code)], "{body}: {problem}");
    }
    // Decided on another version: a conflict.
    let (status, problem) = act(
        &s,
        &s.admin,
        &m["id"],
        json!({"action": "activate", "expected_version": 7}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    // A dry run shows the move and writes nothing.
    let (status, dry) = s
        .post(
            &s.admin,
            &format!("/v1/mandates/{id}/status?dry_run=true"),
            &json!({"action": "activate"}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        (&dry["status"], &dry["dry_run"]),
        (&json!("active"), &json!(true))
    );
    assert_eq!(mandate_of(&s, &id).await, before, "nothing changed");

    let (status, _) = act(
        &s,
        &s.admin,
        &m["id"],
        json!({"action": "activate", "expected_version": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = act(&s, &s.admin, &m["id"], json!({"action": "activate"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(codes(&problem), [pair("action", "mandate.transition")]);
    // A second mandate may not become active beside the first.
    let second = register(&s, &s.admin, &loan, &enach("HDFC7000000000044444")).await;
    let (status, problem) = act(&s, &s.admin, &second["id"], json!({"action": "activate"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(codes(&problem), [pair("action", "mandate.one_active")]);
    // The same UMRN twice is a conflict.
    let (status, problem) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{loan}/mandates"),
            &enach(UMRN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, list) = s.get(&s.admin, &format!("/v1/loans/{loan}/mandates")).await;
    let statuses: Vec<&Value> = list["mandates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["status"])
        .collect();
    assert_eq!(statuses, [&json!("active"), &json!("pending_registration")]);
}

async fn a_replacement_revokes_the_old_and_tells_servicing(s: Server) {
    let (status, hook) = s
        .post(
            &s.admin,
            "/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/hook", "topics": ["loan.mandate_changed"]}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let loan = s.booked_loan("LN-M4", rbi_terms()).await;
    let old = register(&s, &s.admin, &loan, &enach(UMRN)).await;
    let (status, _) = act(&s, &s.admin, &old["id"], json!({"action": "activate"})).await;
    assert_eq!(status, StatusCode::OK);

    let mut body = enach("ICIC7000000000054321");
    body["account_number"] = json!("000401239876");
    body["bank_code"] = json!("ICIC0000004");
    let old_id = old["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/mandates/{old_id}/replacement");
    let (status, replaced) = s.post(&s.admin, &path, &body, None).await;
    assert_eq!(status, StatusCode::CREATED, "{replaced}");
    assert_eq!(
        (
            &replaced["replaced"]["status"],
            &replaced["replaced"]["status_reason"]
        ),
        (&json!("revoked"), &json!("replaced"))
    );
    let new = &replaced["mandate"];
    assert_eq!(
        (&new["status"], &new["account_last4"], &new["loan_id"]),
        (&json!("pending_registration"), &json!("9876"), &json!(loan))
    );
    let (_, list) = s.get(&s.admin, &format!("/v1/loans/{loan}/mandates")).await;
    assert_eq!(list["mandates"], json!([replaced["replaced"], new]));
    let (_, detail) = s.get(&s.admin, &format!("/v1/mandates/{old_id}")).await;
    let last = detail["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&last["reason"], &last["detail"]["replaced_by"]),
        (&json!("replaced"), &new["id"])
    );
    let new_id = new["id"].as_str().unwrap();
    let (_, detail) = s.get(&s.admin, &format!("/v1/mandates/{new_id}")).await;
    assert_eq!(detail["history"][0]["detail"]["replaces"], json!(old_id));

    // Servicing is told on `loan.mandate_changed`, the account masked.
    let store = s.app.store().clone();
    let now = "2100-01-01T00:00:00Z";
    while store.dispatch_outbox(now, 1_000).await.unwrap() > 0 {}
    let due = store.due_deliveries(now).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    let message = &due[0].1;
    assert_eq!(
        (message.topic.as_str(), message.loan_id.as_deref()),
        ("loan.mandate_changed", Some(loan.as_str()))
    );
    let payload: Value = serde_json::from_str(&message.payload).unwrap();
    assert_eq!(
        (
            &payload["replaced_mandate_id"],
            &payload["mandate_id"],
            &payload["reason"]
        ),
        (&json!(old_id), &new["id"], &json!("replaced"))
    );
    assert!(!message.payload.contains("000401239876"), "{payload}");

    // A revoked mandate is not replaced again, and nothing is registered.
    let mut again = enach("ICIC7000000000055555");
    again["bank_code"] = json!("ICIC0000004");
    let (status, problem) = s.post(&s.admin, &path, &again, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(codes(&problem), [pair("action", "mandate.transition")]);
    let (_, after) = s.get(&s.admin, &format!("/v1/loans/{loan}/mandates")).await;
    assert_eq!(after, list);
}

async fn a_status_move_tells_servicing(s: Server) {
    let (status, hook) = s
        .post(
            &s.admin,
            "/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/hook", "topics": ["loan.mandate_status"]}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let loan = s.booked_loan("LN-M5", rbi_terms()).await;
    let m = register(&s, &s.admin, &loan, &enach(UMRN)).await;
    for body in [
        json!({"action": "activate"}),
        json!({"action": "revoke", "reason": "borrower cancelled at the bank"}),
    ] {
        let (status, moved) = act(&s, &s.admin, &m["id"], body).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
    }
    // A refused move says nothing.
    let (status, _) = act(&s, &s.admin, &m["id"], json!({"action": "resume"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let store = s.app.store().clone();
    let now = "2100-01-01T00:00:00Z";
    while store.dispatch_outbox(now, 1_000).await.unwrap() > 0 {}
    // One delivery at a time to an endpoint, in order: take each and mark it delivered.
    let mut moves: Vec<(String, String, Value)> = Vec::new();
    loop {
        let due = store.due_deliveries(now).await.unwrap();
        let Some((delivery, message)) = due.first() else {
            break;
        };
        assert_eq!(message.topic, "loan.mandate_status");
        assert_eq!(message.loan_id.as_deref(), Some(loan.as_str()));
        let p: Value = serde_json::from_str(&message.payload).unwrap();
        assert_eq!(p["mandate_id"], m["id"]);
        moves.push((
            p["from"].as_str().unwrap_or_default().to_owned(),
            p["to"].as_str().unwrap_or_default().to_owned(),
            p["reason"].clone(),
        ));
        let delivered = loanbook_store::Attempt::Delivered { at: now.into() };
        store
            .record_attempt(&delivery.endpoint_id, delivery.outbox_position, &delivered)
            .await
            .unwrap();
    }
    assert_eq!(
        moves,
        [
            ("pending_registration".into(), "active".into(), Value::Null),
            (
                "active".into(),
                "revoked".into(),
                json!("borrower cancelled at the bank")
            ),
        ]
    );
}

async fn roles_and_bad_input(s: Server) {
    let loan = s.booked_loan("LN-M5", rbi_terms()).await;
    let path = format!("/v1/loans/{loan}/mandates");
    for (name, role) in [("audrey", Role::Auditor), ("cred", Role::Credit)] {
        let token = s.token(name, role, None).await;
        let (status, problem) = s.post(&token, &path, &enach(UMRN), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {problem}");
        assert_eq!(s.get(&token, &path).await.0, StatusCode::OK);
    }
    let partner = s.token("bank", Role::Partner, Some("BANK-1")).await;
    assert_eq!(s.get(&partner, &path).await.0, StatusCode::NOT_FOUND);
    let ops = s.token("ops", Role::Operations, None).await;

    let with = |field: &str, value: Value| {
        let mut b = enach(UMRN);
        b[field] = value;
        b
    };
    let mut ach = enach("AUTH-1");
    ach["kind"] = json!("ach");
    ach["bank_code"] = json!("021000021");
    let cases = [
        (with("kind", json!("paper")), "kind", "enum.unknown"),
        (
            with("reference", json!("HDFC123")),
            "reference",
            "mandate.reference",
        ),
        (
            with("max_amount", json!("0")),
            "max_amount",
            "amount.positive",
        ),
        (
            with("max_amount", json!("1.234")),
            "max_amount",
            "amount.format",
        ),
        (with("max_amount", json!(25000)), "max_amount", "json.type"),
        (
            with("account_number", json!("12")),
            "account_number",
            "mandate.account_number",
        ),
        (
            with("bank_code", json!("HDFC1234567")),
            "bank_code",
            "mandate.bank_code",
        ),
        (
            with("end_date", json!("2025-01-01")),
            "end_date",
            "mandate.dates",
        ),
        (
            with("start_date", json!("2025-02-30")),
            "start_date",
            "date.format",
        ),
        (
            with("debtor_name", json!(" ")),
            "debtor_name",
            "mandate.debtor_name",
        ),
        (with("colour", json!("red")), "colour", "field.unknown"),
        (ach, "kind", "mandate.currency"),
    ];
    for (body, field, code) in cases {
        let (status, problem) = s.post(&ops, &path, &body, None).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(codes(&problem), [pair(field, code)], "{body}: {problem}");
    }
    let mut missing = enach(UMRN);
    missing.as_object_mut().unwrap().remove("bank_code");
    let (status, problem) = s.post(&ops, &path, &missing, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes(&problem), [pair("bank_code", "field.missing")]);
    let (_, list) = s.get(&ops, &path).await;
    assert_eq!(list["mandates"], json!([]), "nothing was registered");

    let (status, _) = s
        .post(&ops, "/v1/loans/nope/mandates", &enach(UMRN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.get(&ops, "/v1/mandates/nope").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = s
        .post(
            &ops,
            "/v1/mandates/nope/status",
            &json!({"action": "activate"}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Operations may write.
    let m = register(&s, &ops, &loan, &enach(UMRN)).await;
    let (status, _) = act(&s, &ops, &m["id"], json!({"action": "activate"})).await;
    assert_eq!(status, StatusCode::OK);
}
