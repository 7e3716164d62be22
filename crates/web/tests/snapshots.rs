//! Snapshots of representative answers: a booked loan, a payment's result, a validation
//! problem, a 404 and a 401. Ids, timestamps and request ids are redacted; the fixed clock makes
//! everything else the same on every run.

mod common;

use common::{Server, payment, rbi_terms};
use insta::assert_json_snapshot;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_keep_their_shape() {
    let db = loanbook_store::testing::TestDatabase::sqlite();
    let s = Server::start(&db).await;

    let (st, booked) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-SNAP", "terms": rbi_terms(), "events": [
                {"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"}
            ]}),
            None,
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::CREATED, "{booked}");
    assert_json_snapshot!("booked_loan", booked, {
        ".id" => "[id]",
    });
    let id = booked["id"].as_str().unwrap().to_owned();

    let (st, paid) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/payments"),
            &payment("2024-02-01", "969.73", "SNAP-1"),
            Some("snap-1"),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::CREATED, "{paid}");
    assert_json_snapshot!("payment_result", paid, {
        ".loan_id" => "[id]",
    });

    let (_, invalid) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/payments"),
            &json!({"date": "2024-2-1", "amount": "1.00", "reference": "X"}),
            Some("snap-2"),
        )
        .await;
    assert_json_snapshot!("validation_problem", invalid, {
        ".request_id" => "[request-id]",
    });

    let (_, missing) = s.get(&s.admin, "/v1/loans/no-such-loan").await;
    assert_json_snapshot!("not_found", missing, {
        ".request_id" => "[request-id]",
    });

    let (_, unauthorised) = s.get("lb_not_a_token", "/v1/loans").await;
    assert_json_snapshot!("unauthorized", unauthorised, {
        ".request_id" => "[request-id]",
    });
    db.drop_database().await;
}
