//! Money and control integrity through the API: idempotency keys scoped to their request,
//! retries racing their original, maker-checker on every write path, partners' view of
//! approvals, and a loan list that tells the truth on the business date. On SQLite and
//! PostgreSQL.

mod common;

use std::sync::Arc;

use common::{Server, payment, rbi_terms};
use loanbook_app::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    an_idempotency_key_answers_only_its_own_request,
    every_post_honours_its_idempotency_key,
    a_retry_racing_its_original_gets_its_reply,
    concurrent_bookings_with_one_key_book_one_loan,
    a_booked_history_is_held_as_a_whole,
    a_settlement_with_a_shortfall_is_held,
    waivers_are_held_by_their_sum_over_the_window,
    partners_see_only_approvals_of_their_loans,
    the_loan_list_tells_the_truth_on_the_business_date,
    unknown_webhook_topics_are_refused,
    a_loss_identification_is_held_under_its_own_name,
    a_receipt_reference_names_one_receipt_forever,
    dates_are_exactly_yyyy_mm_dd,
    a_token_is_never_created_under_an_idempotency_key,
);

async fn an_idempotency_key_answers_only_its_own_request(s: Server) {
    let a = s.booked_loan("LN-A", rbi_terms()).await;
    let b = s.booked_loan("LN-B", rbi_terms()).await;
    let pay = payment("2024-02-01", "969.73", "NACH-1");
    let (st, first) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{a}/payments"),
            &pay,
            Some("k-1"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{first}");
    // The same key and body to another loan is refused, not answered with loan A's reply.
    let (st, body) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{b}/payments"),
            &pay,
            Some("k-1"),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("idempotency-key-reused")
    );
    assert_eq!(s.event_count(&b).await, 1, "nothing is posted on loan B");
    // The original request still gets its own reply.
    let (st, again) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{a}/payments"),
            &pay,
            Some("k-1"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(again, first);
    // One key on /charges and then on /waivers: the waiver is refused.
    let same = json!({"date": "2024-02-02", "amount": "100.00", "kind": "bounce"});
    let (st, body) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{a}/charges"),
            &same,
            Some("k-2"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    // A body is typed for its route before its key is looked at, so the same key on another
    // route is tried with a body that route also takes.
    let (st, body) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{b}/charges"),
            &same,
            Some("k-2"),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("/charges"),
        "{body}"
    );
    assert_eq!(s.event_count(&a).await, 3);
}

async fn every_post_honours_its_idempotency_key(s: Server) {
    let party = json!({"kind": "borrower", "name": "Asha Rao"});
    let (st, one) = s.post(&s.admin, "/v1/parties", &party, Some("p-1")).await;
    assert_eq!(st, StatusCode::CREATED, "{one}");
    let (st, two) = s.post(&s.admin, "/v1/parties", &party, Some("p-1")).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(one["id"], two["id"], "the retry answers the first party");
    let (_, list) = s.get(&s.admin, "/v1/parties").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let hook = json!({"url": "http://127.0.0.1:9/hook", "topics": ["payment.posted"]});
    let (st, one) = s.post(&s.admin, "/v1/webhooks", &hook, Some("w-1")).await;
    assert_eq!(st, StatusCode::CREATED, "{one}");
    let (_, two) = s.post(&s.admin, "/v1/webhooks", &hook, Some("w-1")).await;
    assert_eq!(one["id"], two["id"]);
    let (_, list) = s.get(&s.admin, "/v1/webhooks").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // A key of one route is refused on another.
    let (st, _) = s.post(&s.admin, "/v1/webhooks", &hook, Some("p-1")).await;
    assert_eq!(st, StatusCode::CONFLICT);
}

async fn a_retry_racing_its_original_gets_its_reply(s: Server) {
    let id = s.booked_loan("LN-R", rbi_terms()).await;
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let s = s.clone();
        let path = format!("/v1/loans/{id}/payments");
        tasks.push(tokio::spawn(async move {
            let pay = payment("2024-02-01", "969.73", "NACH-RACE");
            s.post(&s.admin, &path, &pay, Some("race-1")).await
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        let (st, body) = t.await.unwrap();
        match st {
            StatusCode::CREATED => created.push(body),
            StatusCode::CONFLICT => {
                assert!(
                    body["type"]
                        .as_str()
                        .unwrap()
                        .ends_with("request-in-progress"),
                    "a copy is never refused as if it were another request: {body}"
                );
            }
            other => panic!("a copy of the request got {other}: {body}"),
        }
    }
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|b| *b == created[0]),
        "every copy gets one reply"
    );
    assert_eq!(s.event_count(&id).await, 2, "the payment is posted once");
}

async fn concurrent_bookings_with_one_key_book_one_loan(s: Server) {
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"loan_number": "LN-ONCE", "terms": rbi_terms()});
            s.post(&s.admin, "/v1/loans", &body, Some("book-1")).await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (st, body) = t.await.unwrap();
        match st {
            StatusCode::CREATED => ids.push(body["id"].clone()),
            StatusCode::CONFLICT => {
                assert!(
                    body["type"]
                        .as_str()
                        .unwrap()
                        .ends_with("request-in-progress"),
                    "{body}"
                )
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(ids.iter().all(|i| *i == ids[0]));
    let (_, list) = s.get(&s.admin, "/v1/loans").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn a_booked_history_is_held_as_a_whole(s: Server) {
    let ops = s.token("olga", Role::Operations, None).await;
    let credit = s.token("chandra", Role::Credit, None).await;
    let history = json!([
        {"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"},
        {"type": "write_off", "date": "2024-09-01"}
    ]);
    let body = json!({"loan_number": "LN-WO", "terms": rbi_terms(), "events": history});
    let (st, held) = s.post(&ops, "/v1/loans", &body, None).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{held}");
    assert_eq!(held["approval"]["action"], "write_off");
    let (_, list) = s.get(&s.admin, "/v1/loans?loan_number=LN-WO").await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "nothing is booked yet"
    );
    // A role that may not make a command in the history may not book it at all.
    let coll = s.token("colin", Role::Collections, None).await;
    let (st, _) = s.post(&coll, "/v1/loans", &body, None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // The checker's approval books it, once.
    let approval = held["approval"]["id"].as_str().unwrap();
    let (st, booked) = s
        .post(
            &credit,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{booked}");
    assert_eq!(booked["state"]["status"], "written_off");
    let (st, _) = s
        .post(
            &credit,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
}

async fn a_settlement_with_a_shortfall_is_held(s: Server) {
    let id = s.booked_loan("LN-S", rbi_terms()).await;
    let coll = s.token("colin", Role::Collections, None).await;
    let settle = json!({"date": "2024-03-01", "amount": "1.00", "reference": "SET-1"});
    let (st, held) = s
        .post(&coll, &format!("/v1/loans/{id}/settlements"), &settle, None)
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{held}");
    assert_eq!(held["approval"]["action"], "settle");
    assert_eq!(
        s.event_count(&id).await,
        1,
        "the settlement waits for a checker"
    );
}

async fn waivers_are_held_by_their_sum_over_the_window(s: Server) {
    let id = s.booked_loan("LN-W", rbi_terms()).await;
    let ops = s.token("olga", Role::Operations, None).await;
    for (k, date) in ["2024-02-02", "2024-02-03", "2024-02-04"]
        .iter()
        .enumerate()
    {
        let charge = json!({"date": date, "amount": "1000.00", "kind": "other", "reference": format!("C{k}")});
        let (st, b) = s
            .post(&s.admin, &format!("/v1/loans/{id}/charges"), &charge, None)
            .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
    }
    let waive = |d: &str| json!({"date": d, "amount": "1000.00", "component": "charges"});
    let (st, b) = s
        .post(
            &ops,
            &format!("/v1/loans/{id}/waivers"),
            &waive("2024-02-05"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    // The second 1,000.00 within 30 days passes the 1,000.00 threshold: held.
    let (st, b) = s
        .post(
            &ops,
            &format!("/v1/loans/{id}/waivers"),
            &waive("2024-02-06"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["approval"]["action"], "waive_charge");
    // A back-dated one is held too: it falls in the same window.
    let (st, _) = s
        .post(
            &ops,
            &format!("/v1/loans/{id}/waivers"),
            &waive("2024-02-04"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
}

async fn partners_see_only_approvals_of_their_loans(s: Server) {
    let mut terms = rbi_terms();
    terms["partners"] = json!([
        {"id": "bank", "share": "80", "annual_rate": "12"},
        {"id": "nbfc", "share": "20", "annual_rate": "15"}
    ]);
    terms["split"] = json!("principal_pro_rata");
    let funded = s.booked_loan("LN-P", terms).await;
    let other = s.booked_loan("LN-O", rbi_terms()).await;
    let ops = s.token("olga", Role::Operations, None).await;
    for id in [&funded, &other] {
        let (st, b) = s
            .post(
                &ops,
                &format!("/v1/loans/{id}/write-offs"),
                &json!({"date": "2024-06-01"}),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    }
    let partner = s.token("nina", Role::Partner, Some("nbfc")).await;
    let (st, list) = s.get(&partner, "/v1/approvals").await;
    assert_eq!(st, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["target"], format!("loan/{funded}"));
    let (_, all) = s.get(&s.admin, "/v1/approvals").await;
    let hidden = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target"] == format!("loan/{other}"))
        .unwrap();
    let (st, _) = s
        .get(
            &partner,
            &format!("/v1/approvals/{}", hidden["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

async fn the_loan_list_tells_the_truth_on_the_business_date(s: Server) {
    let today = s.app.business_date().await.unwrap();
    let start = today.checked_sub(jiff::Span::new().days(25)).unwrap();
    let mut terms = rbi_terms();
    terms["disbursement_date"] = json!(start.to_string());
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-T", "terms": terms}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/disbursements"),
            &json!({"date": start.to_string(), "amount": "20000.00"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (_, list) = s.get(&s.admin, "/v1/loans?dpd_min=1").await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    // Move the business date: the unpaid first instalment is now overdue.
    let later = today.checked_add(jiff::Span::new().days(10)).unwrap();
    let res = s
        .http
        .put(format!("{}/v1/business-date", s.base))
        .bearer_auth(&s.admin)
        .header("content-type", "application/json")
        .body(json!({"date": later.to_string()}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, list) = s.get(&s.admin, "/v1/loans?dpd_min=1").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let row = &items[0];
    assert_eq!(row["as_of"], later.to_string());
    assert_eq!(row["loan_number"], "LN-T");
    assert_eq!(
        row["principal_outstanding"], "20000.00",
        "money as decimal strings"
    );
    assert!(row["total_overdue"].as_str().unwrap().contains('.'));
    let (_, found) = s.get(&s.admin, "/v1/loans?loan_number=LN-T").await;
    assert_eq!(found["items"][0]["id"], Value::String(id));
    for bad in ["status=bogus", "classification=sma9", "dpd_min=-1"] {
        let (st, b) = s.get(&s.admin, &format!("/v1/loans?{bad}")).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
}

async fn unknown_webhook_topics_are_refused(s: Server) {
    let hook =
        json!({"url": "http://127.0.0.1:9/hook", "topics": ["payment.posted", "payment.psoted"]});
    let (st, b) = s.post(&s.admin, "/v1/webhooks", &hook, None).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["field"], "topics[1]");
}

async fn a_loss_identification_is_held_under_its_own_name(s: Server) {
    // Never paid since 2024: an NPA long before the business date.
    let id = s.booked_loan("LN-L", rbi_terms()).await;
    let ops = s.token("olga", Role::Operations, None).await;
    let (st, b) = s
        .post(
            &ops,
            &format!("/v1/loans/{id}/loss-identifications"),
            &json!({"date": "2025-06-01", "reason": "statutory auditor"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["approval"]["action"], "identify_loss");
}

async fn a_receipt_reference_names_one_receipt_forever(s: Server) {
    let id = s.booked_loan("LN-X", rbi_terms()).await;
    let path = format!("/v1/loans/{id}/payments");
    let (st, b) = s
        .post(
            &s.admin,
            &path,
            &payment("2024-02-01", "969.73", "X"),
            Some("x-1"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/reversals"),
            &json!({"date": "2024-02-05", "reference": "X", "reason": "bounced"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    // A back-dated payment reusing the bounced receipt's reference is refused.
    let (st, b) = s
        .post(
            &s.admin,
            &path,
            &payment("2024-02-03", "969.73", "X"),
            Some("x-2"),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["field"], "reference", "{b}");
    // So is a recovery on a loan that was never written off.
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/recoveries"),
            &json!({"date": "2024-03-01", "amount": "100.00", "reference": "R-1"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // The loan reads on every date around the history.
    let mut day = loanbook_domain::calendar::parse_date("2023-12-25").unwrap();
    let end = loanbook_domain::calendar::parse_date("2024-03-10").unwrap();
    while day <= end {
        let (st, b) = s
            .get(&s.admin, &format!("/v1/loans/{id}?as_of={day}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{day}: {b}");
        day = day.tomorrow().unwrap();
    }
}

async fn dates_are_exactly_yyyy_mm_dd(s: Server) {
    let id = s.booked_loan("LN-D", rbi_terms()).await;
    for bad in ["20240201", "2024-2-1", "2024-02-01T00:00"] {
        let (st, b) = s
            .get(&s.admin, &format!("/v1/loans/{id}?as_of={bad}"))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
        let (st, b) = s
            .post(
                &s.admin,
                &format!("/v1/loans/{id}/payments"),
                &payment(bad, "969.73", "D-1"),
                Some(bad),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
        assert_eq!(b["errors"][0]["field"], "date", "{b}");
    }
}

async fn a_token_is_never_created_under_an_idempotency_key(s: Server) {
    let body = json!({"user": "tara", "role": "auditor"});
    let (st, b) = s.post(&s.admin, "/v1/tokens", &body, Some("t-1")).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["field"], "Idempotency-Key");
    let (st, _) = s.post(&s.admin, "/v1/tokens", &body, None).await;
    assert_eq!(st, StatusCode::CREATED);
}
