//! Commands and reads resume from the loan's snapshot: through the API, a booked history, the
//! day's payments, a back-dated payment, a reversal of a receipt the snapshot covers and a new
//! business day all read back as a replay from the first event reads them.

mod common;

use common::{Server, TODAY, payment, rbi_terms};
use loanbook_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(snapshots_carry_every_write_as_a_replay_from_zero_would);

async fn pay(s: &Server, id: &str, date: &str, amount: &str, reference: &str) -> Value {
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/payments"),
            &payment(date, amount, reference),
            Some(reference),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    b
}

async fn snapshots(s: &Server, id: &str) -> Vec<i64> {
    let store: &std::sync::Arc<dyn Store> = s.app.store();
    store
        .snapshots(id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect()
}

async fn snapshots_carry_every_write_as_a_replay_from_zero_would(s: Server) {
    let mut events =
        vec![json!({"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"})];
    for i in 0..40 {
        let day = jiff::civil::date(2024, 1, 2)
            .checked_add(jiff::Span::new().days(i * 7))
            .unwrap();
        events.push(json!({"type": "payment", "date": day.to_string(), "amount": "250.00", "reference": format!("H{i}")}));
    }
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-S", "terms": rbi_terms(), "events": events}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    // The booking covers its whole history with a snapshot at the end of the day before.
    assert_eq!(snapshots(&s, &id).await, [41]);

    // The day's payments apply on top of it.
    for i in 0..35 {
        let b = pay(&s, &id, TODAY, "10.00", &format!("T{i}")).await;
        assert_eq!(b["version"], 42 + i);
    }
    // A payment back-dated before the snapshot's day, and a reversal of a receipt it covers.
    pay(&s, &id, "2024-06-03", "5.00", "B1").await;
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/reversals"),
            &json!({"date": TODAY, "reference": "H3", "reason": "bounced"}),
            Some("R1"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (_, before) = s.get(&s.admin, &format!("/v1/loans/{id}")).await;
    assert_eq!(before["version"], 78);
    assert_eq!(
        s.app.projection_mismatches().await.unwrap(),
        Vec::<String>::new()
    );

    // A new business day: the next write carries a snapshot over the day before.
    let res = s
        .http
        .put(format!("{}/v1/business-date", s.base))
        .bearer_auth(&s.admin)
        .json(&json!({"date": "2025-07-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    pay(&s, &id, "2025-07-01", "10.00", "N1").await;
    let kept = snapshots(&s, &id).await;
    assert!(
        kept.len() == 2 && kept[1] > 41,
        "a second snapshot over the new events: {kept:?}"
    );
    let (_, after) = s.get(&s.admin, &format!("/v1/loans/{id}")).await;
    assert_eq!(after["version"], 79);
    // Each stored snapshot resumes to the replay from zero, and so does the projection.
    assert_eq!(
        s.app.projection_mismatches().await.unwrap(),
        Vec::<String>::new()
    );
    let (_, events) = s.get(&s.admin, &format!("/v1/loans/{id}/events")).await;
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(79),
        "{events}"
    );
}
