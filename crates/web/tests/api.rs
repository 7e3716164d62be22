//! The API over a real server on a random port with a fresh database, on SQLite and PostgreSQL.

mod common;

use std::sync::Arc;

use common::{Server, payment, rbi_terms};
use loanbook_app::Role;
use loanbook_store::testing::TestDatabase;
use loanbook_web::WebConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    book_pay_reverse_and_read_the_past,
    an_idempotency_key_gives_one_payment_and_the_same_answer,
    concurrent_payments_are_each_applied_once,
    roles_are_enforced,
    bad_input_gets_a_problem_and_changes_nothing,
    partners_see_only_their_loans,
    a_maker_cannot_approve_their_own_write_off,
    webhooks_are_signed_ordered_and_retried,
    products_are_versioned_approved_and_stamped_on_loans,
);

async fn book_pay_reverse_and_read_the_past(s: Server) {
    let id = s.booked_loan("LN-1", rbi_terms()).await;
    let pay = |d: &str, r: &str| payment(d, "969.73", r);
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/payments"),
            &pay("2024-02-01", "U1"),
            Some("p1"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["version"], 2);
    let (st, _) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/payments"),
            &pay("2024-03-01", "U2"),
            Some("p2"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/reversals"),
            &json!({"date": "2024-03-03", "reference": "U2", "reason": "insufficient funds"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");

    // On 2 March both payments stood; from 3 March the second reads as never received.
    let (_, before) = s
        .get(&s.admin, &format!("/v1/loans/{id}?as_of=2024-03-02"))
        .await;
    assert_eq!(before["state"]["installments"][1]["status"], "paid");
    assert_eq!(before["state"]["dpd"], 0);
    let (_, after) = s
        .get(&s.admin, &format!("/v1/loans/{id}?as_of=2024-03-10"))
        .await;
    assert_eq!(after["state"]["installments"][0]["paid"], "969.73");
    assert_eq!(after["state"]["installments"][1]["status"], "overdue");
    assert_eq!(after["state"]["dpd"], 10);
    assert_eq!(after["state"]["classification"], "sma0");
    assert_eq!(after["version"], 4);
    // The first instalment is RBI's: 719.73 principal, 250.00 interest.
    assert_eq!(after["state"]["installments"][0]["interest"], "250.00");

    let (_, events) = s.get(&s.admin, &format!("/v1/loans/{id}/events")).await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["disbursement", "payment", "payment", "payment_reversal"]
    );
    let (st, q) = s
        .get(
            &s.admin,
            &format!("/v1/loans/{id}/foreclosure-quote?date=2024-03-10"),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{q}");
    assert!(q["amount"].as_str().unwrap().parse::<f64>().unwrap() > 19_000.0);

    // A dry run answers without writing.
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/payments?dry_run=true"),
            &pay("2024-03-10", "U3"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["dry_run"], true);
    assert_eq!(b["state"]["installments"][1]["status"], "paid");
    assert_eq!(s.event_count(&id).await, 4);

    let (_, list) = s.get(&s.admin, "/v1/loans?classification=sma0").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "the projection is as of the business date: NPA by now"
    );
    let (_, list) = s.get(&s.admin, "/v1/loans?dpd_min=90").await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(
        s.app.projection_mismatches().await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(s.app.verify_audit().await.unwrap().unwrap(), 7);
}

async fn an_idempotency_key_gives_one_payment_and_the_same_answer(s: Server) {
    let id = s.booked_loan("LN-1", rbi_terms()).await;
    let path = format!("/v1/loans/{id}/payments");
    let body = payment("2024-02-01", "969.73", "U1");
    let first = s.post(&s.admin, &path, &body, Some("key-1")).await;
    let second = s.post(&s.admin, &path, &body, Some("key-1")).await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(first, second);
    assert_eq!(s.event_count(&id).await, 2);
    // The same key for a different request is a conflict and changes nothing.
    let (st, b) = s
        .post(
            &s.admin,
            &path,
            &payment("2024-02-02", "1.00", "U9"),
            Some("key-1"),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(s.event_count(&id).await, 2);
}

async fn concurrent_payments_are_each_applied_once(s: Server) {
    let id = s.booked_loan("LN-1", rbi_terms()).await;
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = s.clone();
        let path = format!("/v1/loans/{id}/payments");
        tasks.push(tokio::spawn(async move {
            let body = payment("2024-02-01", "10.00", &format!("C{i}"));
            s.post(&s.admin, &path, &body, Some(&format!("c-{i}")))
                .await
        }));
    }
    for t in tasks {
        let (st, b) = t.await.unwrap();
        assert_eq!(st, StatusCode::CREATED, "{b}");
    }
    let (_, events) = s.get(&s.admin, &format!("/v1/loans/{id}/events")).await;
    let events = events["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 51);
    let mut refs: Vec<String> = events[1..]
        .iter()
        .map(|e| e["event"]["reference"].as_str().unwrap().to_owned())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 50);
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=51).collect::<Vec<_>>());
    let (_, state) = s
        .get(&s.admin, &format!("/v1/loans/{id}?as_of=2024-02-01"))
        .await;
    assert_eq!(state["state"]["installments"][0]["paid"], "500.00");
    // The admin and its token, the booking, the disbursement and the 50 payments.
    assert_eq!(s.app.verify_audit().await.unwrap().unwrap(), 54);
}

async fn roles_are_enforced(s: Server) {
    let id = s.booked_loan("LN-1", rbi_terms()).await;
    let auditor = s.token("audrey", Role::Auditor, None).await;
    let collections = s.token("colin", Role::Collections, None).await;
    let path = format!("/v1/loans/{id}/payments");
    let body = payment("2024-02-01", "969.73", "U1");
    let (st, b) = s.post(&auditor, &path, &body, Some("a")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    let (st, _) = s.get(&auditor, &format!("/v1/loans/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, b) = s
        .post(
            &collections,
            &format!("/v1/loans/{id}/write-offs"),
            &json!({"date": "2024-03-01"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    let (st, _) = s.post(&collections, &path, &body, Some("c")).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, b) = s.post("lb_not-a-token", &path, &body, Some("x")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{b}");
    let res = s
        .http
        .get(format!("{}/v1/loans", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = s
        .http
        .get(format!("{}/health", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = s
        .http
        .get(format!("{}/metrics", s.base))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("loanbook_commands_total")
    );
    assert_eq!(s.event_count(&id).await, 2);
    // The business date: anyone reads it, only an admin moves it, and only forward.
    let (st, b) = s.get(&auditor, "/v1/business-date").await;
    assert_eq!(st, StatusCode::OK);
    let today = b["business_date"].as_str().unwrap().to_owned();
    let put = |token: &str, date: &str| {
        s.http
            .put(format!("{}/v1/business-date", s.base))
            .bearer_auth(token)
            .json(&json!({"date": date}))
            .send()
    };
    assert_eq!(
        put(&collections, "2099-01-01").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(&s.admin, "2020-01-01").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let res = put(&s.admin, "2099-01-01").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, b) = s.get(&auditor, "/v1/business-date").await;
    assert_eq!(b["business_date"], "2099-01-01");
    assert!(today.as_str() < "2099-01-01");
}

async fn bad_input_gets_a_problem_and_changes_nothing(s: Server) {
    let id = s.booked_loan("LN-1", rbi_terms()).await;
    let path = format!("/v1/loans/{id}/payments");
    let audit_before = s.app.verify_audit().await.unwrap().unwrap();
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            "{\"date\": \"2024-02-01\",".into(),
            StatusCode::BAD_REQUEST,
            "malformed-json",
        ),
        ("[1, 2]".into(), StatusCode::UNPROCESSABLE_ENTITY, "body"),
        (
            json!({"date": "2024-02-01", "amount": 969.73, "reference": "U"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            json!({"date": "2024-02-01", "amount": "969.73", "reference": "U", "colour": "red"})
                .to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
        (
            json!({"date": "2024-02-01", "amount": "-1.00", "reference": "U"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            json!({"date": "2024-02-01", "amount": "1.001", "reference": "U"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            json!({"date": "2024-02-30", "amount": "1.00", "reference": "U"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "date",
        ),
        (
            json!({"date": "9999-01-01", "amount": "1.00", "reference": "U"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "date",
        ),
        (
            json!({"date": "2023-12-01", "amount": "1.00", "reference": "U"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "date",
        ),
        (
            json!({"date": "2024-02-01", "amount": "99999999999999999999.00", "reference": "U"})
                .to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            json!({"date": "2024-02-01", "amount": "1.00"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference",
        ),
        (
            json!({"type": "waiver", "date": "2024-02-01", "amount": "1.00", "reference": "U"})
                .to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "type",
        ),
        (
            format!(
                "{{\"date\": \"2024-02-01\", \"amount\": \"1.00\", \"reference\": \"{}\"}}",
                "x".repeat(100_000)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
        ),
    ];
    for (i, (body, status, mention)) in cases.into_iter().enumerate() {
        let (st, b) = s
            .post_raw(&s.admin, &path, body.clone(), Some(&format!("bad-{i}")))
            .await;
        assert_eq!(st, status, "{body:.200}: {b}");
        assert!(b.to_string().contains(mention), "{mention} not in {b}");
    }
    // A waiver above what is due, and a reversal of an unknown payment.
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/waivers"),
            &json!({"date": "2024-02-01", "component": "charges", "amount": "5.00"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/reversals"),
            &json!({"date": "2024-02-01", "reference": "NOPE"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("NOPE"));
    // Bad terms name the field inside the terms.
    let mut terms = rbi_terms();
    terms["installments"] = json!(0);
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-2", "terms": terms}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["errors"][0]["field"], "terms.installments");
    let (st, _) = s
        .get(&s.admin, &format!("/v1/loans/{id}?as_of=2024-13-01"))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = s.get(&s.admin, "/v1/loans?limit=0").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = s.get(&s.admin, "/v1/loans/unknown-id").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Nothing changed.
    assert_eq!(s.event_count(&id).await, 1);
    assert_eq!(s.app.verify_audit().await.unwrap().unwrap(), audit_before);
}

async fn partners_see_only_their_loans(s: Server) {
    let mut terms = rbi_terms();
    terms["annual_rate"] = json!("15");
    terms["partners"] = json!([{"id": "bank", "share": "80", "annual_rate": "14"}, {"id": "nbfc", "share": "20", "annual_rate": "18"}]);
    let shared = s.booked_loan("LN-CL", terms).await;
    let own = s.booked_loan("LN-OWN", rbi_terms()).await;
    let bank = s.token("bank-user", Role::Partner, Some("bank")).await;
    let (st, b) = s.get(&bank, &format!("/v1/loans/{shared}")).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["state"]["partners"][0]["id"], "bank");
    let (st, _) = s.get(&bank, &format!("/v1/loans/{own}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, list) = s.get(&bank, "/v1/loans").await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [shared.as_str()]);
}

async fn a_maker_cannot_approve_their_own_write_off(s: Server) {
    let id = s.booked_loan("LN-1", rbi_terms()).await;
    let maker = s.token("mira", Role::Operations, None).await;
    let checker = s.token("chetan", Role::Credit, None).await;
    let (st, b) = s
        .post(
            &maker,
            &format!("/v1/loans/{id}/write-offs"),
            &json!({"date": "2024-09-01", "reason": "uncontactable"}),
            Some("wo-1"),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["approval"]["status"], "pending");
    // The same request again is the same request: one approval.
    let again = s
        .post(
            &maker,
            &format!("/v1/loans/{id}/write-offs"),
            &json!({"date": "2024-09-01", "reason": "uncontactable"}),
            Some("wo-1"),
        )
        .await;
    assert_eq!(again, (st, b.clone()));
    let approval = b["approval"]["id"].as_str().unwrap().to_owned();
    // Held, not done.
    assert_eq!(s.event_count(&id).await, 1);
    let (st, b) = s
        .post(
            &maker,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(s.event_count(&id).await, 1);
    let (_, list) = s.get(&checker, "/v1/approvals?status=pending").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (st, b) = s
        .post(
            &checker,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["state"]["status"], "written_off");
    assert_eq!(s.event_count(&id).await, 2);
    let (_, a) = s.get(&maker, &format!("/v1/approvals/{approval}")).await;
    assert_eq!(
        (a["status"].as_str(), a["checker"].as_str()),
        (Some("approved"), Some("chetan"))
    );
    // Decided once only.
    let (st, _) = s
        .post(
            &checker,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // A large waiver is held too, and can be rejected.
    let other = s.booked_loan("LN-2", rbi_terms()).await;
    let (st, b) = s
        .post(
            &maker,
            &format!("/v1/loans/{other}/charges"),
            &json!({"date": "2024-02-02", "kind": "other", "amount": "5000.00"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (st, b) = s
        .post(
            &maker,
            &format!("/v1/loans/{other}/waivers"),
            &json!({"date": "2024-02-03", "component": "charges", "amount": "2000.00"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let held = b["approval"]["id"].as_str().unwrap().to_owned();
    let (st, b) = s
        .post(
            &checker,
            "/v1/approvals",
            &json!({"id": held, "decision": "reject"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "rejected");
    assert_eq!(s.event_count(&other).await, 2);
    let (st, _) = s
        .post(
            &checker,
            &format!("/v1/approvals/{held}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // A small waiver is not held.
    let (st, b) = s
        .post(
            &maker,
            &format!("/v1/loans/{other}/waivers"),
            &json!({"date": "2024-02-03", "component": "charges", "amount": "500.00"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert!(s.app.verify_audit().await.unwrap().is_ok());
}

/// A subscriber that answers 500 to its first `fail` requests and records every request.
async fn receiver(
    fail: usize,
) -> (
    String,
    Arc<std::sync::Mutex<Vec<(u16, reqwest::header::HeaderMap, String)>>>,
) {
    use axum::http::HeaderMap;
    let seen: Arc<std::sync::Mutex<Vec<(u16, reqwest::header::HeaderMap, String)>>> =
        Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let mut log = log.lock().unwrap();
                let status = if log.len() < fail { 500 } else { 200 };
                let mut h = reqwest::header::HeaderMap::new();
                for (k, v) in &headers {
                    h.insert(k.clone(), v.clone());
                }
                log.push((status, h, body));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn webhooks_are_signed_ordered_and_retried(s: Server) {
    let (url, seen) = receiver(2).await;
    let (st, hook) = s
        .post(
            &s.admin,
            "/v1/webhooks",
            &json!({"url": url, "topics": ["*"]}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let (st, _) = s
        .post(&s.admin, "/v1/webhooks", &json!({"url": "ftp://x"}), None)
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let id = s.booked_loan("LN-1", rbi_terms()).await;
    for i in 1..=3 {
        let (st, _) = s
            .post(
                &s.admin,
                &format!("/v1/loans/{id}/payments"),
                &payment("2024-02-01", "100.00", &format!("U{i}")),
                Some(&format!("k{i}")),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let http = reqwest::Client::new();
    let t = std::time::Instant::now();
    loop {
        s.app.relay_once(&http).await.unwrap();
        // Let the backoff of the failed attempts pass.
        s.clock.advance(jiff::SignedDuration::from_secs(3600));
        let delivered = seen.lock().unwrap().iter().filter(|r| r.0 == 200).count();
        if delivered >= 6 || t.elapsed() > std::time::Duration::from_secs(20) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let seen = seen.lock().unwrap().clone();
    let ok: Vec<_> = seen.iter().filter(|r| r.0 == 200).collect();
    let topics: Vec<String> = ok
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.2).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // Disbursed in 2024 and unpaid since, the loan is NPA on today's business date.
    assert_eq!(
        topics,
        [
            "loan.booked",
            "loan.disbursed",
            "loan.class_changed",
            "payment.posted",
            "payment.posted",
            "payment.posted"
        ]
    );
    let seqs: Vec<i64> = ok
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(&r.2).unwrap()["data"]["seq"].as_i64())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // The first message failed twice and was retried; every request is signed.
    assert_eq!(seen.len(), 8);
    assert_eq!(seen[0].1["webhook-id"], seen[2].1["webhook-id"]);
    for (_, h, body) in &seen {
        let id = h["webhook-id"].to_str().unwrap();
        let ts: i64 = h["webhook-timestamp"].to_str().unwrap().parse().unwrap();
        let expected = loanbook_app::outbox::sign(&secret, id, ts, body).unwrap();
        assert_eq!(h["webhook-signature"].to_str().unwrap(), expected);
    }
    let (_, d) = s
        .get(
            &s.admin,
            &format!("/v1/webhooks/{}/deliveries", hook["id"].as_str().unwrap()),
        )
        .await;
    let items = d["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert!(items.iter().all(|i| i["status"] == "delivered"));
    assert_eq!(items.last().unwrap()["attempts"], 3);
    // Auditors read webhooks (never their secrets) and cannot add one; partners see none.
    let auditor = s.token("audrey", Role::Auditor, None).await;
    let (st, list) = s.get(&auditor, "/v1/webhooks").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.get("secret").is_none())
    );
    let (st, _) = s
        .post(
            &auditor,
            "/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/x"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let partner = s.token("pat", Role::Partner, Some("nbfc")).await;
    let (st, _) = s.get(&partner, "/v1/webhooks").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

async fn products_are_versioned_approved_and_stamped_on_loans(s: Server) {
    let maker = s.token("priya", Role::Credit, None).await;
    let checker = s.token("chetan", Role::Credit, None).await;
    let template = json!({"currency": "INR", "annual_rate": "15", "method": "emi", "installments": 24,
                          "frequency": "monthly", "fees": [{"name": "processing", "percent": "2"}]});
    // A bad template is refused naming the field inside it.
    let (st, b) = s
        .post(&maker, "/v1/products", &json!({"code": "PL", "name": "Personal loan", "config": {"terms": {"installments": 0}}}), None)
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["field"], "config.terms.installments");
    let (st, b) = s
        .post(
            &maker,
            "/v1/products",
            &json!({"code": "PL", "name": "Personal loan", "config": {"terms": template}}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let approval = b["approval"]["id"].as_str().unwrap().to_owned();
    let (st, _) = s.get(&maker, "/v1/products/PL").await;
    assert_eq!(st, StatusCode::NOT_FOUND, "held, not created");
    let (st, _) = s
        .post(
            &maker,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, b) = s
        .post(
            &checker,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["version"], 1);
    // Version 2 raises the rate; loans keep the version they were booked under.
    let mut v2 = template.clone();
    v2["annual_rate"] = json!("16");
    let (_, b) = s
        .post(
            &maker,
            "/v1/products/PL/versions",
            &json!({"config": {"terms": v2}}),
            None,
        )
        .await;
    let approval = b["approval"]["id"].as_str().unwrap().to_owned();
    let (st, _) = s
        .post(
            &checker,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, p1) = s.get(&maker, "/v1/products/PL?version=1").await;
    assert_eq!(p1["config"]["terms"]["annual_rate"], "15");
    let (_, list) = s.get(&maker, "/v1/products").await;
    assert_eq!(list["items"][0]["version"], 2);

    // A borrower, with identifiers masked for roles that do not need them.
    let (st, party) = s
        .post(&s.admin, "/v1/parties", &json!({"kind": "borrower", "name": "Asha Rao", "details": {"pan": "ABCDE1234F", "phone": "9876543210"}}), None)
        .await;
    assert_eq!(st, StatusCode::CREATED, "{party}");
    let pid = party["id"].as_str().unwrap().to_owned();
    let auditor = s.token("audrey", Role::Auditor, None).await;
    let (_, seen) = s.get(&auditor, &format!("/v1/parties/{pid}")).await;
    assert_eq!(seen["details"]["pan"], "******234F");
    assert_eq!(seen["details"]["phone"], "******3210");
    let (_, seen) = s.get(&s.admin, &format!("/v1/parties/{pid}")).await;
    assert_eq!(seen["details"]["pan"], "ABCDE1234F");

    // A loan under the product: the template fills in what the request leaves out.
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-P", "product": "PL", "borrower_id": pid,
               "terms": {"principal": "20000.00", "disbursement_date": "2024-01-01"}}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap();
    let (_, loan) = s.get(&s.admin, &format!("/v1/loans/{id}")).await;
    assert_eq!(loan["product_version"], 2);
    assert_eq!(loan["state"]["annual_rate"], "16");
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-Q", "product": "NOPE", "terms": {}}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(s.app.verify_audit().await.unwrap().is_ok());
}

/// The limit is per token and per second, and is answered as a problem; backend-independent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_limit_gets_429() {
    let db = TestDatabase::sqlite();
    let s = Server::start_with(
        &db,
        WebConfig {
            rate_limit: 5,
            ..WebConfig::default()
        },
    )
    .await;
    let other = s.token("olga", Role::Operations, None).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(s.get(&s.admin, "/v1/loans").await.0);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(
        s.get(&other, "/v1/loans").await.0,
        StatusCode::OK,
        "another token has its own limit"
    );
    db.drop_database().await;
}
