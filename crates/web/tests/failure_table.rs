//! `/v1/collections/failure-codes` against a real server on SQLite and PostgreSQL: the seed
//! read as JSON and as CSV, a change proposed and held, the maker's own approval refused, a
//! checker's approval putting version 2 in effect (and the classify lookup with it), a
//! rejection changing nothing, bad rows refused naming the field, and the roles.

mod common;

use common::Server;
use loanbook_app::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    the_seed_is_read_and_an_approved_change_takes_effect,
    a_rejected_change_changes_nothing,
    bad_changes_name_the_field_and_change_nothing,
    the_roles_read_propose_and_approve,
);

const TABLE: &str = "/v1/collections/failure-codes";
const CHANGES: &str = "/v1/collections/failure-codes/changes";

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default()
}

/// The seed's row for NACH `04` (insufficient funds) made a hard failure that stops.
fn nach_04_stops() -> Value {
    json!({
        "rail": "nach", "code": "04", "class": "hard", "handling": "normal",
        "reason": "insufficient_funds", "action": "stop_and_contact", "charge": true,
        "description": "Balance insufficient"
    })
}

async fn classify(s: &Server, token: &str, query: &str) -> Value {
    let (status, c) = s.get(token, &format!("{TABLE}/classify?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

async fn decide(s: &Server, token: &str, held: &Value, verdict: &str) -> (StatusCode, Value) {
    let id = held["approval"]["id"].as_str().unwrap();
    s.post(
        token,
        &format!("/v1/approvals/{id}/{verdict}"),
        &json!({}),
        None,
    )
    .await
}

async fn pending(s: &Server) -> usize {
    let (_, list) = s.get(&s.admin, "/v1/approvals?status=pending").await;
    list["items"].as_array().unwrap().len()
}

async fn the_seed_is_read_and_an_approved_change_takes_effect(s: Server) {
    let maker = s.token("olga", Role::Operations, None).await;
    let checker = s.token("oscar", Role::Operations, None).await;
    let (status, seed) = s.get(&maker, TABLE).await;
    assert_eq!(status, StatusCode::OK, "{seed}");
    assert_eq!(seed["version"], 1);
    assert_eq!(seed["rows"].as_array().unwrap().len(), 187);
    assert!(seed.get("changed_by").is_none(), "{seed}");
    let csv = s
        .http
        .get(format!("{}{TABLE}?format=csv", s.base))
        .bearer_auth(&maker)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let kind = csv.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/csv"), "{kind}");
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("rail,code,class,handling,reason,action,charge,description\n"));
    assert_eq!(text.lines().count(), 188);

    let before = classify(&s, &maker, "rail=nach&code=04").await;
    assert_eq!(before["class"], "soft");
    assert_eq!(before["action"], "retry");
    assert_eq!(before["retryable"], true);
    assert_eq!(before["table_version"], 1);
    assert!(
        before["borrower_message"]
            .as_str()
            .unwrap()
            .contains("funds")
    );

    let change = json!({"replace": [nach_04_stops()], "remove": [{"rail": "ach", "code": "R01"}]});
    // A dry run shows the table as it would be and holds nothing.
    let (status, dry) = s
        .post(&maker, &format!("{CHANGES}?dry_run=true"), &change, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["version"], 2);
    assert_eq!(dry["rows"].as_array().unwrap().len(), 186);
    assert_eq!(pending(&s).await, 0);

    let (status, held) = s.post(&maker, CHANGES, &change, Some("c-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    assert_eq!(held["approval"]["target"], "failure-table/main");
    assert_eq!(held["approval"]["maker"], "olga");
    assert_eq!(held["approval"]["request"]["version"], 2);
    // Retried, the same request answers the same, and is held once.
    let (status, again) = s.post(&maker, CHANGES, &change, Some("c-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again, held);
    assert_eq!(pending(&s).await, 1);
    assert_eq!(s.get(&maker, TABLE).await.1, seed);

    let (status, problem) = decide(&s, &maker, &held, "approve").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(s.get(&maker, TABLE).await.1["version"], 1);

    let approve = format!(
        "/v1/approvals/{}/approve",
        held["approval"]["id"].as_str().unwrap()
    );
    let (status, written) = s.post(&checker, &approve, &json!({}), Some("a-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{written}");
    // The checker's retry gets the first answer.
    let (status, replayed) = s.post(&checker, &approve, &json!({}), Some("a-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{replayed}");
    assert_eq!(replayed, written);
    assert_eq!(written["version"], 2);
    assert_eq!(written["changed_by"], "olga");
    let (_, now) = s.get(&s.admin, TABLE).await;
    assert_eq!(now, written);
    assert_eq!(now["rows"].as_array().unwrap().len(), 186);
    let after = classify(&s, &maker, "rail=nach&code=04").await;
    assert_eq!(after["class"], "hard");
    assert_eq!(after["action"], "stop_and_contact");
    assert_eq!(after["retryable"], false);
    assert_eq!(after["table_version"], 2);
    let gone = classify(&s, &maker, "rail=ach&code=R01").await;
    assert_eq!(gone["known"], false);
    assert_eq!(gone["class"], "technical");
    // A wrapped UPI answer is classified by its inner code; text-only answers by their word.
    let wrapped = classify(
        &s,
        &maker,
        "rail=upi_autopay&code=U30%7CDEBIT%20HAS%20BEEN%20FAILED%7CZ9%7CINSUFFICIENT%20FUNDS",
    )
    .await;
    assert_eq!(wrapped["code"], "Z9");
    assert_eq!(wrapped["reason"], "insufficient_funds");
    let revoked = classify(
        &s,
        &maker,
        "rail=upi_autopay&code=&text=Mandate%20Has%20Been%20Revoked",
    )
    .await;
    assert_eq!(revoked["code"], "REVOKED");
    // Decided once.
    let (status, problem) = decide(&s, &checker, &held, "approve").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
}

async fn a_rejected_change_changes_nothing(s: Server) {
    let checker = s.token("oscar", Role::Operations, None).await;
    let (_, before) = s.get(&s.admin, TABLE).await;
    let change = json!({"replace": [nach_04_stops()]});
    let (status, held) = s.post(&s.admin, CHANGES, &change, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    let (status, problem) = decide(&s, &s.admin, &held, "reject").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, rejected) = decide(&s, &checker, &held, "reject").await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(s.get(&s.admin, TABLE).await.1, before);
    assert_eq!(
        classify(&s, &s.admin, "rail=nach&code=04").await["class"],
        "soft"
    );
    let (status, problem) = decide(&s, &checker, &held, "approve").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(s.get(&s.admin, TABLE).await.1, before);
}

async fn bad_changes_name_the_field_and_change_nothing(s: Server) {
    let (_, seed) = s.get(&s.admin, TABLE).await;
    let rows = seed["rows"].as_array().unwrap().clone();
    let with = |i: usize, field: &str, value: Value| {
        let mut r = rows.clone();
        r[i][field] = value;
        json!({"rows": r})
    };
    let mut twice = rows.clone();
    twice.push(rows[3].clone());
    let mut soft_stop = nach_04_stops();
    soft_stop["class"] = json!("soft");
    let mut unknown = nach_04_stops();
    unknown["code"] = json!("QQ");
    let dup = format!("rows[{}].code", rows.len());
    let cases = [
        (with(3, "class", json!("bogus")), vec!["rows[3].class"]),
        (with(3, "class", json!("hard")), vec!["rows[3].action"]),
        (with(5, "code", json!("0 4")), vec!["rows[5].code"]),
        (
            with(2, "description", json!(" padded")),
            vec!["rows[2].description"],
        ),
        (with(2, "charge", json!("yes")), vec!["rows[2].charge"]),
        (json!({"rows": twice}), vec![dup.as_str()]),
        (json!({"rows": []}), vec!["rows"]),
        (json!({}), vec!["rows"]),
        (
            json!({"rows": rows, "add": [nach_04_stops()]}),
            vec!["rows"],
        ),
        (json!({"add": [nach_04_stops()]}), vec!["add[0].code"]),
        (
            json!({"replace": [soft_stop, unknown]}),
            vec!["replace[0].action", "replace[1].code"],
        ),
        (
            json!({"remove": [{"rail": "ach", "code": "ZZ"}]}),
            vec!["remove[0]"],
        ),
        (
            json!({"remove": [{"rail": "swift", "code": "01"}]}),
            vec!["remove[0].rail"],
        ),
        (json!({"colour": "red"}), vec!["colour"]),
    ];
    for (body, expected) in cases {
        let (status, problem) = s.post(&s.admin, CHANGES, &body, None).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(fields(&problem), expected, "{problem}");
    }
    let (status, problem) = s.get(&s.admin, &format!("{TABLE}?format=xml")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, problem) = s.get(&s.admin, &format!("{TABLE}/classify?code=04")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let long = "9".repeat(201);
    let (status, problem) = s
        .get(&s.admin, &format!("{TABLE}/classify?rail=nach&code={long}"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["code"]);
    assert_eq!(pending(&s).await, 0);
    assert_eq!(s.get(&s.admin, TABLE).await.1, seed);
}

async fn the_roles_read_propose_and_approve(s: Server) {
    let auditor = s.token("audrey", Role::Auditor, None).await;
    let collections = s.token("cole", Role::Collections, None).await;
    let credit = s.token("cara", Role::Credit, None).await;
    let partner = s.token("pat", Role::Partner, Some("P-1")).await;
    let change = json!({"replace": [nach_04_stops()]});
    for token in [&auditor, &collections] {
        let (status, table) = s.get(token, TABLE).await;
        assert_eq!(status, StatusCode::OK, "{table}");
        classify(&s, token, "rail=card&code=51").await;
        let (status, problem) = s.post(token, CHANGES, &change, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    }
    let (status, problem) = s.get(&partner, TABLE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, problem) = s
        .get(&partner, &format!("{TABLE}/classify?rail=nach&code=04"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    // Credit may approve, but not a change it could not propose.
    let (status, held) = s.post(&s.admin, CHANGES, &change, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    let (status, problem) = decide(&s, &credit, &held, "approve").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(s.get(&s.admin, TABLE).await.1["version"], 1);

    let doc = serde_json::to_value(loanbook_web::openapi()).unwrap();
    for (path, method) in [
        (TABLE, "get"),
        (CHANGES, "post"),
        ("/v1/collections/failure-codes/classify", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let changes = &doc["paths"][CHANGES]["post"]["responses"];
    assert!(
        changes["202"].is_object() && changes["200"].is_object(),
        "{changes}"
    );
    let table = &doc["paths"][TABLE]["get"]["responses"]["200"]["content"];
    assert!(
        table["text/csv"].is_object() && table["application/json"].is_object(),
        "{table}"
    );
    let row = &doc["components"]["schemas"]["FailureRow"];
    assert_eq!(row["additionalProperties"], false, "{row}");
    assert!(row["properties"]["code"]["pattern"].is_string(), "{row}");
    let class = &doc["components"]["schemas"]["FailureClass"]["enum"];
    assert_eq!(*class, json!(["soft", "hard", "technical", "mandate"]));
    assert!(doc["components"]["schemas"]["FailureAction"]["enum"].is_array());
}
