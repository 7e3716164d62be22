//! The collateral an application offers becomes the booked loan's security value: sanctioned in
//! its terms (and so in their hash) and carried byte for byte into the loan. On both backends.

mod common;

use common::Server;
use loanbook_app::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(the_collateral_value_is_the_loans_security_value);

const HDFC: &str = include_str!("../../../docs/examples/hdfc-statement.csv");

fn config() -> Value {
    json!({
        "terms": {"currency": "INR", "method": "emi", "frequency": "monthly", "annual_rate": "14"},
        "bounds": {"amount": {"min": "50000.00", "max": "1000000.00"},
            "installments": {"min": 6, "max": 60}, "methods": ["emi"], "frequencies": ["monthly"],
            "rate": {"type": "fixed", "min": "10", "max": "24"}},
        "eligibility": {"min_bureau_score": 650, "max_foir_percent": "70", "min_age": 21,
            "max_age_at_maturity": 65, "min_monthly_income": "20000.00", "max_dpd_12m": 30},
        "kfs": {"lender": "Loanbook Finance Ltd", "validity_days": 3, "cooling_off_days": 3,
            "grievance_officer": {"name": "R. Iyer", "phone": "+918000000000", "email": "grievance@example.in"}},
        "checklist": ["kyc"]
    })
}

fn draft(collateral: Option<&str>) -> Value {
    let mut d = json!({
        "applicant": {"name": "Asha Rao", "date_of_birth": "1988-03-14", "pan": "ABCPE0002F",
            "aadhaar_last4": "4321", "phone": "9876543210", "email": "asha@example.in",
            "address": {"line1": "12 MG Road", "city": "Bengaluru", "state": "Karnataka", "pin": "560001"},
            "employment": {"kind": "salaried", "employer": "Acme Technologies", "monthly_income": "90000.00"}},
        "request": {"amount": "200000.00", "installments": 36, "purpose": "vehicle"},
        "consents": [{"purpose": "bureau", "given_at": "2025-06-30T10:00:00+05:30", "channel": "otp"}],
        "payout_account": {"name": "Asha Rao", "account_number": "50100012345671", "ifsc": "HDFC0001234"}
    });
    if let Some(value) = collateral {
        d["collateral"] = json!({"kind": "vehicle", "value": value});
    }
    d
}

async fn ok(s: &Server, token: &str, path: &str, body: Value) -> Value {
    let (st, b) = s.post(token, path, &body, None).await;
    assert!(st.is_success(), "{path}: {st} {b}");
    b
}

/// From draft to the disbursed loan; the sanctioned terms and the loan.
async fn originate(s: &Server, number: &str, collateral: Option<&str>) -> (String, Value) {
    let ops = s
        .token(&format!("ops-{number}"), Role::Operations, None)
        .await;
    let credit = s
        .token(&format!("credit-{number}"), Role::Credit, None)
        .await;
    let body = json!({"number": number, "product": "VL", "draft": draft(collateral)});
    let id = ok(s, &ops, "/v1/applications", body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let step = |name: &str| format!("/v1/applications/{id}/{name}");
    ok(s, &ops, &step("submit"), json!({})).await;
    ok(s, &ops, &step("bureau"), json!({})).await;
    let res = s
        .http
        .post(format!("{}{}", s.base, step("statements")))
        .bearer_auth(&ops)
        .header("content-type", "text/csv")
        .body(HDFC)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let assessed = ok(s, &ops, &step("assess"), json!({})).await;
    assert_eq!(assessed["status"], "approved", "{assessed}");
    ok(s, &credit, &step("sanction"), json!({})).await;
    let accepted = ok(s, &ops, &step("accept"), json!({"channel": "otp"})).await;
    ok(s, &ops, &step("checklist"), json!({"item": "kyc"})).await;
    let done = ok(s, &ops, &step("disburse"), json!({"rail": "neft"})).await;
    assert_eq!(done["status"], "disbursed", "{done}");
    let loan_id = done["loan_id"].as_str().unwrap();
    let (st, loan) = s.get(&ops, &format!("/v1/loans/{loan_id}")).await;
    assert_eq!(st, StatusCode::OK, "{loan}");
    let sanction = &accepted["application"]["sanction"];
    assert_eq!(loan["terms_hash"], sanction["terms_hash"]);
    (sanction["terms"].as_str().unwrap().to_owned(), loan)
}

async fn the_collateral_value_is_the_loans_security_value(s: Server) {
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/products",
            &json!({"code": "VL", "name": "Vehicle loan", "config": config()}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let checker = s.token("checker", Role::Credit, None).await;
    let approval = b["approval"]["id"].as_str().unwrap();
    ok(
        &s,
        &checker,
        &format!("/v1/approvals/{approval}/approve"),
        json!({}),
    )
    .await;

    let (terms, loan) = originate(&s, "APP-SEC", Some("150000.00")).await;
    let t = loanbook_domain::terms::Terms::from_json(&terms).unwrap();
    assert_eq!(t.security_value, Some(15_000_000));
    assert_eq!(loanbook_domain::provisioning::secured_value(&t), 15_000_000);
    assert_eq!(loan["terms_hash"], loanbook_app::digest(terms.as_bytes()));

    // Without collateral the terms say nothing of security.
    let (terms, _) = originate(&s, "APP-UNSEC", None).await;
    assert!(!terms.contains("security_value"), "{terms}");
}
