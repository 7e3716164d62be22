//! `/v1/provisioning` against a real server on SQLite and PostgreSQL: the default table, a
//! preset proposed, held, approved by a second admin and read back, bad input refused as a
//! problem naming the field with nothing changed, the roles, a retried request, the maker's
//! own approval refused and a rejection writing nothing; a loan's security value in its terms;
//! and the close of business provisioning on the book's table, the secured part at the secured
//! rate.

mod common;

use common::{Server, TODAY, rbi_terms};
use loanbook_app::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    the_table_is_read_and_replaced,
    a_replacement_waits_for_a_second_admin,
    bad_tables_are_refused_and_change_nothing,
    a_loan_carries_its_security_value,
    the_close_provisions_on_the_books_table,
);

/// `PUT /v1/provisioning` (with `query` after the path): the status, the body and whether it
/// was a replayed answer. A failure is a problem document.
async fn send(
    s: &Server,
    token: &str,
    query: &str,
    body: &Value,
    key: Option<&str>,
) -> (StatusCode, Value, bool) {
    let mut req = s
        .http
        .put(format!("{}/v1/provisioning{query}", s.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let replayed = res.headers().get("idempotent-replayed").is_some();
    let problem = res
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/problem+json"));
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(!status.is_success(), problem, "{status}: {body}");
    (status, body, replayed)
}

async fn put(s: &Server, token: &str, body: &Value) -> (StatusCode, Value) {
    let (status, body, _) = send(s, token, "", body, None).await;
    (status, body)
}

/// A second admin, who approves what `admin` proposes.
async fn checker(s: &Server) -> String {
    s.token("root", Role::Admin, None).await
}

/// Approve the held request `held` (a 202 answer) as `checker`: the table written.
async fn approve(s: &Server, checker: &str, held: &Value) -> Value {
    let id = held["approval"]["id"].as_str().unwrap();
    let path = format!("/v1/approvals/{id}/approve");
    let (status, written) = s.post(checker, &path, &json!({}), None).await;
    assert_eq!(status, StatusCode::CREATED, "{written}");
    written
}

/// Propose `body` as the admin and approve it as `checker`: the table written.
async fn set(s: &Server, checker: &str, body: &Value) -> Value {
    let (status, held) = put(s, &s.admin, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    approve(s, checker, &held).await
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default()
}

async fn the_table_is_read_and_replaced(s: Server) {
    let (status, table) = s.get(&s.admin, "/v1/provisioning").await;
    assert_eq!(status, StatusCode::OK, "{table}");
    assert_eq!(table["preset"], "rbi_nbfc");
    assert_eq!(table["version"], 0);
    assert_eq!(table["rates"].as_array().unwrap().len(), 6);
    assert_eq!(
        table["rates"][1],
        json!({"asset_class": "substandard", "secured": "10", "unsecured": "10"})
    );

    let root = checker(&s).await;
    let bank = json!({"preset": "rbi_bank"});
    let (status, held, _) = send(&s, &s.admin, "", &bank, Some("p-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    assert_eq!(held["approval"]["target"], "provisioning/main");
    // The retry gets the first answer; nothing is held twice.
    let (status, again, replayed) = send(&s, &s.admin, "", &bank, Some("p-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert!(replayed);
    assert_eq!(again, held);
    assert_eq!(s.get(&s.admin, "/v1/provisioning").await.1["version"], 0);
    let set = approve(&s, &root, &held).await;
    assert_eq!(set["preset"], "rbi_bank");
    assert_eq!(set["version"], 1);
    assert_eq!(set["changed_by"], "admin");
    assert_eq!(
        set["rates"][1],
        json!({"asset_class": "substandard", "secured": "15", "unsecured": "25"})
    );

    let auditor = s.token("audrey", Role::Auditor, None).await;
    let (status, read) = s.get(&auditor, "/v1/provisioning").await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read, set);

    // A table of the lender's own, on a dry run first.
    let mut rates = set["rates"].as_array().unwrap().clone();
    rates[0]["secured"] = json!("0.25");
    rates[0]["unsecured"] = json!("0.25");
    let own = json!({"rates": rates});
    let (status, dry, _) = send(&s, &s.admin, "?dry_run=true", &own, None).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["preset"], "custom");
    assert_eq!(s.get(&s.admin, "/v1/provisioning").await.1, set);
    let custom = self::set(&s, &root, &own).await;
    assert_eq!(custom["preset"], "custom");
    assert_eq!(custom["version"], 2);
    assert_eq!(custom["rates"][0]["secured"], "0.25");
}

async fn a_replacement_waits_for_a_second_admin(s: Server) {
    let root = checker(&s).await;
    let operations = s.token("ops", Role::Operations, None).await;
    let (status, held) = put(&s, &s.admin, &json!({"preset": "rbi_bank"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    let id = held["approval"]["id"].as_str().unwrap().to_owned();
    // The maker may not approve their own request; operations may approve, but not this.
    for token in [&s.admin, &operations] {
        let path = format!("/v1/approvals/{id}/approve");
        let (status, problem) = s.post(token, &path, &json!({}), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    }
    // Rejected, nothing is written.
    let (status, rejected) = s
        .post(
            &root,
            &format!("/v1/approvals/{id}/reject"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (_, table) = s.get(&s.admin, "/v1/provisioning").await;
    assert_eq!(table["version"], 0);
    assert_eq!(table["preset"], "rbi_nbfc");
    // Approved, the change is applied with its version; the checker's retry gets the first
    // answer.
    let (_, held) = put(&s, &s.admin, &json!({"preset": "rbi_bank"})).await;
    let path = format!(
        "/v1/approvals/{}/approve",
        held["approval"]["id"].as_str().unwrap()
    );
    let (status, written) = s.post(&root, &path, &json!({}), Some("a-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{written}");
    let (status, replayed) = s.post(&root, &path, &json!({}), Some("a-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{replayed}");
    assert_eq!(replayed, written);
    assert_eq!(written["version"], 1);
    assert_eq!(written["changed_by"], "admin");
    let (_, approval) = s
        .get(
            &s.admin,
            &format!("/v1/approvals/{}", held["approval"]["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(approval["status"], "approved");
    assert_eq!(approval["checker"], "root");
    assert_eq!(s.get(&s.admin, "/v1/provisioning").await.1, written);
}

async fn bad_tables_are_refused_and_change_nothing(s: Server) {
    let (_, before) = s.get(&s.admin, "/v1/provisioning").await;
    let bank = loanbook_domain::provisioning::ProvisionRates::rbi_bank();
    let rows = serde_json::to_value(&bank).unwrap();
    let with = |i: usize, field: &str, value: Value| {
        let mut r = rows.clone();
        r[i][field] = value;
        json!({"rates": r})
    };
    let mut short = rows.clone();
    short.as_array_mut().unwrap().remove(5);
    let mut twice = rows.clone();
    twice.as_array_mut().unwrap().push(rows[2].clone());
    let cases = [
        (json!({"preset": "rbi_hfc"}), "preset"),
        (json!({}), "preset"),
        (with(1, "unsecured", json!("101")), "rates[1].unsecured"),
        (with(0, "secured", json!("-1")), "rates[0].secured"),
        (with(3, "secured", json!("ten")), "rates[3].secured"),
        (
            with(2, "asset_class", json!("doubtful4")),
            "rates[2].asset_class",
        ),
        (with(2, "tier", json!("1")), "rates[2].tier"),
        (with(1, "secured", json!(15)), "rates[1].secured"),
        (json!({"rates": short}), "rates"),
        (json!({"rates": twice}), "rates[6]"),
        (
            json!({"preset": "rbi_bank", "categories": {"NOPE": "housing"}}),
            "categories.NOPE",
        ),
        (json!({"preset": "rbi_bank", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let (status, problem) = put(&s, &s.admin, &body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(fields(&problem), [field], "{body}: {problem}");
    }
    let operations = s.token("ops", Role::Operations, None).await;
    let (status, problem) = put(&s, &operations, &json!({"preset": "rbi_bank"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let collections = s.token("cole", Role::Collections, None).await;
    let (status, problem) = s.get(&collections, "/v1/provisioning").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(s.get(&s.admin, "/v1/provisioning").await.1, before);
}

async fn a_loan_carries_its_security_value(s: Server) {
    let mut terms = rbi_terms();
    terms["security_value"] = json!("12000.00");
    let (status, booked) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-SEC", "terms": terms}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    let canonical = loanbook_domain::terms::Terms::from_json(&terms.to_string())
        .unwrap()
        .to_json();
    assert!(
        canonical.ends_with(r#""security_value":"12000.00"}"#),
        "{canonical}"
    );
    assert_eq!(
        booked["terms_hash"],
        loanbook_app::digest(canonical.as_bytes())
    );

    terms["security_value"] = json!("-1.00");
    let (status, problem) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-NEG", "terms": terms}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        fields(&problem)
            .iter()
            .any(|f| f.ends_with("security_value")),
        "{problem}"
    );

    let doc = serde_json::to_value(loanbook_web::openapi()).unwrap();
    let field = &doc["components"]["schemas"]["TermsDoc"]["properties"]["security_value"];
    assert!(field["pattern"].is_string(), "{field}");
    for method in ["get", "put"] {
        assert!(
            doc["paths"]["/v1/provisioning"][method].is_object(),
            "{method} /v1/provisioning"
        );
    }
    assert!(doc["components"]["schemas"]["SetProvisioning"].is_object());
}

/// Book and disburse a loan of 100,000.00 on [`TODAY`], secured for `security` if any.
async fn running_loan(s: &Server, number: &str, security: Option<&str>) -> String {
    let mut terms = json!({
        "currency": "INR", "principal": "100000.00", "annual_rate": "12", "method": "emi",
        "installments": 12, "frequency": "monthly", "disbursement_date": TODAY
    });
    if let Some(v) = security {
        terms["security_value"] = json!(v);
    }
    let body = json!({"loan_number": number, "terms": terms});
    let (status, loan) = s.post(&s.admin, "/v1/loans", &body, None).await;
    assert_eq!(status, StatusCode::CREATED, "{loan}");
    let id = loan["id"].as_str().unwrap().to_owned();
    let disburse = json!({"date": TODAY, "amount": "100000.00"});
    let path = format!("/v1/loans/{id}/disbursements");
    let (status, b) = s.post(&s.admin, &path, &disburse, None).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    id
}

/// The standard-asset rates of the book set to `secured` and `unsecured` percent, approved by
/// `checker`.
async fn standard_rates(s: &Server, checker: &str, secured: &str, unsecured: &str) {
    let mut rows =
        serde_json::to_value(loanbook_domain::provisioning::ProvisionRates::rbi_nbfc()).unwrap();
    rows[0]["secured"] = json!(secured);
    rows[0]["unsecured"] = json!(unsecured);
    set(s, checker, &json!({"rates": rows})).await;
}

/// Close the business date; the provision the GL holds after it, in paise.
async fn close_and_provision(s: &Server) -> i64 {
    let closed = s
        .app
        .close_business(
            None,
            &loanbook_app::eod::CloseOptions::default(),
            &loanbook_app::eod::Quiet,
        )
        .await
        .unwrap();
    assert!(closed[0].failures.is_empty(), "{:?}", closed[0].failures);
    let on: loanbook_domain::calendar::Date = closed[0].date.parse().unwrap();
    let auditor = s.app.system_principal();
    assert!(s.app.reconcile(&auditor, on).await.unwrap().reconciled);
    let tb = s.app.trial_balance(&auditor, on).await.unwrap();
    let held: f64 = tb
        .lines
        .iter()
        .filter(|l| l.role == "provision_held")
        .map(|l| l.credit.parse::<f64>().unwrap() - l.debit.parse::<f64>().unwrap())
        .sum();
    (held * 100.0).round() as i64
}

async fn the_close_provisions_on_the_books_table(s: Server) {
    let root = checker(&s).await;
    standard_rates(&s, &root, "1", "2").await;
    running_loan(&s, "SEC-1", Some("100000.00")).await;
    running_loan(&s, "SEC-2", Some("40000.00")).await;
    running_loan(&s, "UNS-1", None).await;
    // 1% of what security covers, 2% of the rest: 1,000 + (400 + 1,200) + 2,000.
    assert_eq!(close_and_provision(&s).await, 460_000);
    // A new table reprices every loan at the next close, though none of them wakes that day.
    standard_rates(&s, &root, "3", "3").await;
    assert_eq!(close_and_provision(&s).await, 900_000);
}
