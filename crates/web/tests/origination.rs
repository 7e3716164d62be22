//! Origination through the API, on both backends: an application from draft to the disbursed
//! loan on the same record, and every way a step is refused.

mod common;

use common::Server;
use loanbook_app::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    draft_to_disbursed_loan,
    bad_input_changes_nothing,
    referral_second_approval_and_self_decision,
    kfs_expiry,
    partner_approval_and_its_lapse,
    payout_failure_and_unknown_result,
    account_aggregator_data_and_partner_rules,
    later_tranches_through_the_rail,
    a_product_change_after_sanction
);

/// Three months of an HDFC savings account: a salary of about ₹1.5 lakh, an EMI by ACH, a
/// return charge.
const HDFC: &str = include_str!("../../../docs/examples/hdfc-statement.csv");

fn config() -> Value {
    json!({
        "terms": {"currency": "INR", "method": "emi", "frequency": "monthly", "annual_rate": "14",
            "fees": [{"name": "processing", "percent": "1", "tax_percent": "18", "collect": "deduct"}]},
        "bounds": {"amount": {"min": "50000.00", "max": "1000000.00"},
            "installments": {"min": 6, "max": 60}, "methods": ["emi"], "frequencies": ["monthly"],
            "rate": {"type": "fixed", "min": "10", "max": "24"}},
        "eligibility": {"min_bureau_score": 650, "max_foir_percent": "70", "min_age": 21,
            "max_age_at_maturity": 65, "min_monthly_income": "20000.00", "max_dpd_12m": 30},
        "approval": {"second_approver_above": "800000.00"},
        "kfs": {"lender": "Loanbook Finance Ltd", "validity_days": 3, "cooling_off_days": 3,
            "grievance_officer": {"name": "R. Iyer", "phone": "+918000000000", "email": "grievance@example.in"}},
        "checklist": ["kyc", "agreement_signed", "mandate_registered"]
    })
}

fn draft(pan: &str, amount: &str, account: &str) -> Value {
    json!({
        "applicant": {"name": "Asha Rao", "date_of_birth": "1988-03-14", "pan": pan,
            "aadhaar_last4": "4321", "phone": "9876543210", "email": "asha@example.in",
            "address": {"line1": "12 MG Road", "city": "Bengaluru", "state": "Karnataka", "pin": "560001"},
            "employment": {"kind": "salaried", "employer": "Acme Technologies", "monthly_income": "90000.00"}},
        "request": {"amount": amount, "installments": 36, "purpose": "home renovation"},
        "consents": [{"purpose": "bureau", "given_at": "2025-06-30T10:00:00+05:30", "channel": "otp"}],
        "payout_account": {"name": "Asha Rao", "account_number": account, "ifsc": "HDFC0001234"}
    })
}

struct Flow<'a> {
    s: &'a Server,
    ops: String,
    credit: String,
    credit2: String,
}

/// Write a product version as the admin and approve it as a second user (products are under
/// maker-checker).
async fn product(s: &Server, checker: &str, path: &str, body: Value) {
    let (st, b) = s.post(&s.admin, path, &body, None).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let approval = b["approval"]["id"].as_str().unwrap();
    let (st, b) = s
        .post(
            checker,
            &format!("/v1/approvals/{approval}/approve"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
}

impl<'a> Flow<'a> {
    async fn new(s: &'a Server, code: &str, config: Value) -> Flow<'a> {
        let f = Flow {
            s,
            ops: s.token("olga", Role::Operations, None).await,
            credit: s.token("cara", Role::Credit, None).await,
            credit2: s.token("cyril", Role::Credit, None).await,
        };
        let body = json!({"code": code, "name": "Personal loan", "config": config});
        product(s, &f.credit, "/v1/products", body).await;
        f
    }

    async fn open(&self, number: &str, code: &str, draft: Value) -> String {
        let (st, b) = self
            .s
            .post(
                &self.ops,
                "/v1/applications",
                &json!({"number": number, "product": code, "draft": draft}),
                Some(&format!("open-{number}")),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        assert_eq!(b["status"], "draft");
        b["id"].as_str().unwrap().to_owned()
    }

    async fn step_as(&self, token: &str, id: &str, step: &str, body: Value) -> (StatusCode, Value) {
        self.s
            .post(token, &format!("/v1/applications/{id}/{step}"), &body, None)
            .await
    }

    async fn step(&self, id: &str, step: &str, body: Value) -> Value {
        let (st, b) = self.step_as(&self.ops, id, step, body).await;
        assert_eq!(st, StatusCode::OK, "{step}: {b}");
        b
    }

    /// Submit, pull the bureau, add the statement and assess.
    async fn assess(&self, id: &str) -> Value {
        self.step(id, "submit", json!({})).await;
        self.step(id, "bureau", json!({})).await;
        let (st, b) = self.statement(id, HDFC).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        self.step(id, "assess", json!({})).await
    }

    async fn statement(&self, id: &str, csv: &str) -> (StatusCode, Value) {
        let res = self
            .s
            .http
            .post(format!("{}/v1/applications/{id}/statements", self.s.base))
            .bearer_auth(&self.ops)
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await
            .unwrap();
        let st = res.status();
        (st, res.json().await.unwrap_or(Value::Null))
    }

    async fn sanction_and_accept(&self, id: &str) -> Value {
        let (st, b) = self.step_as(&self.credit, id, "sanction", json!({})).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "sanctioned");
        let b = self.step(id, "accept", json!({"channel": "otp"})).await;
        assert_eq!(b["status"], "accepted");
        for item in ["kyc", "agreement_signed"] {
            self.step(id, "checklist", json!({"item": item})).await;
        }
        b
    }

    async fn disburse(&self, id: &str) -> (StatusCode, Value) {
        self.step_as(&self.ops, id, "disburse", json!({"rail": "neft"}))
            .await
    }
}

fn problem_fields(b: &Value) -> Vec<String> {
    b["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn draft_to_disbursed_loan(s: Server) {
    let f = Flow::new(&s, "PL", config()).await;
    let id = f
        .open(
            "APP-1",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    let assessed = f.assess(&id).await;
    assert_eq!(
        assessed["status"], "approved",
        "{}",
        assessed["application"]["assessment"]
    );
    let a = &assessed["application"];
    assert_eq!(
        a["bureau"][0]["summary"]["score"]
            .as_u64()
            .map(|v| v >= 780),
        Some(true)
    );
    assert_eq!(a["bank"][0]["analysis"]["salary_detected"], true);
    let rules = a["assessment"]["assessment"]["rules"].as_array().unwrap();
    assert!(
        rules.len() >= 5 && rules.iter().all(|r| r["passed"] == true),
        "{rules:?}"
    );
    assert!(a["assessment"]["offer"]["principal"].is_string(), "{a}");

    let accepted = f.sanction_and_accept(&id).await;
    let sanction = &accepted["application"]["sanction"];
    let hash = sanction["terms_hash"].as_str().unwrap().to_owned();
    let kfs = sanction["kfs"].clone();

    // The KFS in its three forms.
    let (st, json_kfs) = s.get(&f.ops, &format!("/v1/applications/{id}/kfs")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json_kfs, kfs);
    for (format, starts) in [("html", "<!DOCTYPE html"), ("pdf", "%PDF-")] {
        let res = s
            .http
            .get(format!(
                "{}/v1/applications/{id}/kfs?format={format}",
                s.base
            ))
            .bearer_auth(&f.ops)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.bytes().await.unwrap();
        assert!(
            String::from_utf8_lossy(&body[..starts.len().min(body.len())])
                .eq_ignore_ascii_case(starts),
            "{format}"
        );
    }
    // Accepting twice is refused and changes nothing.
    let (st, b) = f
        .step_as(&f.ops, &id, "accept", json!({"channel": "otp"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "application.status");

    let (st, done) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "disbursed");
    let loan_id = done["loan_id"].as_str().unwrap().to_owned();
    let (st, loan) = s.get(&f.ops, &format!("/v1/loans/{loan_id}")).await;
    assert_eq!(st, StatusCode::OK, "{loan}");
    // The loan is the sanctioned record: the same terms hash, schedule and figures as the KFS.
    assert_eq!(loan["terms_hash"], hash.as_str());
    assert_eq!(loan["product_version"], 1);
    assert_eq!(
        loan["state"]["installment_amount"],
        kfs["installments"]["amount"]
    );
    let rows = loan["state"]["installments"].as_array().unwrap();
    let kfs_rows = kfs["schedule"].as_array().unwrap();
    assert_eq!(rows.len(), kfs_rows.len());
    for (r, k) in rows.iter().zip(kfs_rows) {
        assert_eq!(r["due_date"], k["due_date"]);
        assert_eq!(r["principal"], k["principal"]);
        assert_eq!(r["interest"], k["interest"]);
        assert_eq!(r["total"], k["installment"]);
    }
    let (_, events) = s.get(&f.ops, &format!("/v1/loans/{loan_id}/events")).await;
    let first = &events["events"][0]["event"];
    assert_eq!(first["type"], "disbursement");
    assert_eq!(first["amount"], kfs["loan_amount"]);
    // The application's stream ends where the loan's begins.
    let (_, app_events) = s
        .get(&f.ops, &format!("/v1/applications/{id}/events"))
        .await;
    let kinds: Vec<&str> = app_events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "drafted",
            "submitted",
            "bureau_pulled",
            "bank_data_added",
            "assessed",
            "sanctioned",
            "accepted",
            "checklist_ticked",
            "checklist_ticked",
            "payout_sent",
            "disbursed"
        ]
    );
    let last = &app_events[10]["event"];
    assert_eq!(last["loan_id"], loan_id.as_str());
    assert_eq!(last["terms_hash"], hash.as_str());
    // A replay of every loan still matches its projection, and the audit chain holds.
    assert_eq!(
        s.app.projection_mismatches().await.unwrap(),
        Vec::<String>::new()
    );
    assert!(s.app.verify_audit().await.unwrap().is_ok());
}

async fn bad_input_changes_nothing(s: Server) {
    let f = Flow::new(&s, "PL", config()).await;
    // Malformed fields are named, each with its rule; nothing is created.
    let mut bad = draft("ABCP1234F", "-5", "50100012345671");
    bad["applicant"]["date_of_birth"] = json!("2031-02-30");
    bad["applicant"]["employment"]["monthly_income"] = json!("-100.00");
    let (st, b) = s
        .post(
            &f.ops,
            "/v1/applications",
            &json!({"number": "APP-X", "product": "PL", "draft": bad}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields = problem_fields(&b);
    for want in [
        "applicant.pan",
        "applicant.date_of_birth",
        "applicant.employment.monthly_income",
        "request.amount",
    ] {
        assert!(fields.iter().any(|f| f == want), "{want} in {fields:?}");
    }
    let (_, list) = s.get(&f.ops, "/v1/applications").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));

    // An incomplete draft is refused at submission with every missing field listed.
    let id = f
        .open("APP-2", "PL", json!({"applicant": {"name": "Asha Rao"}}))
        .await;
    let (st, b) = f.step_as(&f.ops, &id, "submit", json!({})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields = problem_fields(&b);
    for want in [
        "applicant.pan",
        "applicant.address.pin",
        "request.amount",
        "payout_account",
    ] {
        assert!(fields.iter().any(|f| f == want), "{want} in {fields:?}");
    }
    let (_, a) = s.get(&f.ops, &format!("/v1/applications/{id}")).await;
    assert_eq!(
        (a["status"].as_str(), a["version"].as_i64()),
        (Some("draft"), Some(1))
    );

    // A statement with broken rows is refused whole, row by row.
    f.step(
        &id,
        "draft",
        json!({"draft": draft("ABCPE0002F", "200000.00", "50100012345671")}),
    )
    .await;
    f.step(&id, "submit", json!({})).await;
    let broken = HDFC
        .replacen("05/01/25,ACH D", "35/01/25,ACH D", 1)
        .replacen(
            "\"12,000.00\",,\"2,83,000.00\"",
            "\"12,0x0.00\",,\"2,83,000.00\"",
            1,
        );
    let (st, b) = f.statement(&id, &broken).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields = problem_fields(&b);
    assert!(
        fields.len() >= 2 && fields.iter().all(|f| f.starts_with("rows[")),
        "{fields:?}"
    );
    let (_, a) = s.get(&f.ops, &format!("/v1/applications/{id}")).await;
    assert_eq!(a["version"], 3);
    assert_eq!(a["application"]["bank"], json!([]));

    // A step at the wrong time names the status.
    let (st, b) = f.step_as(&f.credit, &id, "sanction", json!({})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "application.status");
    // An auditor reads, masked, and may not originate.
    let auditor = s.token("audra", Role::Auditor, None).await;
    let (st, a) = s.get(&auditor, &format!("/v1/applications/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    let pan = a["application"]["draft"]["applicant"]["pan"]
        .as_str()
        .unwrap();
    assert!(pan.starts_with("******"), "{pan}");
    let (st, _) = f.step_as(&auditor, &id, "assess", json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

async fn referral_second_approval_and_self_decision(s: Server) {
    let mut c = config();
    c["approval"]["second_approver_above"] = json!("100000.00");
    let f = Flow::new(&s, "PL", c).await;
    // Opened by a credit officer: referred (above one approver's limit) to the credit queue.
    let (st, b) = s
        .post(
            &f.credit,
            "/v1/applications",
            &json!({"number": "APP-3", "product": "PL",
                "draft": draft("ABCPE0002F", "200000.00", "50100012345671")}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let b = f.assess(&id).await;
    assert_eq!(b["status"], "referred", "{b}");
    assert_eq!(b["queue"], "credit");
    let (_, q) = s.get(&f.credit, "/v1/queues/credit").await;
    assert_eq!(q["items"][0]["id"], id.as_str());

    // Its maker may not decide it.
    let approve = json!({"outcome": "approve", "terms": {"amount": "150000.00"}});
    let (st, b) = f.step_as(&f.credit, &id, "decision", approve.clone()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "decision.own_application");
    // A first approval (with changed terms) leaves it referred; the same officer cannot give
    // the second; another can.
    let (st, b) = f
        .step_as(&f.credit2, &id, "decision", approve.clone())
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "referred");
    let (st, b) = f
        .step_as(&f.credit2, &id, "decision", json!({"outcome": "approve"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "decision.second_approver");
    let admin_approve = json!({"outcome": "approve"});
    let (st, b) = f.step_as(&s.admin, &id, "decision", admin_approve).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "approved");
    // Sanctioned on the changed amount.
    let (st, b) = f.step_as(&f.credit, &id, "sanction", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(
        b["application"]["sanction"]["kfs"]["loan_amount"],
        "150000.00"
    );

    // Terms outside the bounds are refused naming the bound; a rejection carries its reasons;
    // a request for more sends it back to draft.
    let id2 = f
        .open(
            "APP-4",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    f.assess(&id2).await;
    let (st, b) = f
        .step_as(
            &f.credit,
            &id2,
            "decision",
            json!({"outcome": "approve", "terms": {"amount": "5000000.00"}}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        problem_fields(&b).iter().any(|f| f.contains("principal")),
        "{b}"
    );
    let b = f
        .step_as(
            &f.credit,
            &id2,
            "decision",
            json!({"outcome": "ask_for_more", "note": "salary slips"}),
        )
        .await
        .1;
    assert_eq!(b["status"], "draft", "{b}");
    f.step(&id2, "submit", json!({})).await;
    f.step(&id2, "assess", json!({})).await;
    let (st, b) = f
        .step_as(
            &f.credit,
            &id2,
            "decision",
            json!({"outcome": "reject", "reasons": ["income.unverified"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "rejected");
}

async fn kfs_expiry(s: Server) {
    let f = Flow::new(&s, "PL", config()).await;
    let id = f
        .open(
            "APP-5",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    assert_eq!(f.assess(&id).await["status"], "approved");
    let (st, b) = f.step_as(&f.credit, &id, "sanction", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let valid_until = b["application"]["sanction"]["valid_until"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(valid_until, "2025-07-03");
    // Not expired yet.
    let (st, _) = f.step_as(&f.ops, &id, "expire", json!({})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    set_date(&s, "2025-07-04").await;
    let (st, b) = f
        .step_as(&f.ops, &id, "accept", json!({"channel": "otp"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "kfs.expired");
    let b = f.step(&id, "expire", json!({})).await;
    assert_eq!(b["status"], "expired");
}

async fn set_date(s: &Server, date: &str) {
    let res = s
        .http
        .put(format!("{}/v1/business-date", s.base))
        .bearer_auth(&s.admin)
        .json(&json!({"date": date}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn colending(on_timeout: &str) -> Value {
    let mut c = config();
    c["colending"] = json!({"partner_id": "NBFC-P", "partner_share": "80", "partner_rate": "10",
        "decision_days": 15, "on_timeout": on_timeout});
    c
}

async fn partner_approval_and_its_lapse(s: Server) {
    let f = Flow::new(&s, "CL", colending("book_fully")).await;
    let partner = s.token("pat", Role::Partner, Some("NBFC-P")).await;
    let other = s.token("otto", Role::Partner, Some("NBFC-Q")).await;
    let id = f
        .open(
            "APP-6",
            "CL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    let b = f.assess(&id).await;
    assert_eq!(
        (b["status"].as_str(), b["queue"].as_str()),
        (Some("approved"), Some("partner:NBFC-P"))
    );
    // Sanction waits for the partner; only that partner sees and decides it.
    let (st, _) = f.step_as(&f.credit, &id, "sanction", json!({})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, q) = s.get(&partner, "/v1/queues/partner").await;
    assert_eq!(q["items"].as_array().map(Vec::len), Some(1), "{q}");
    let (_, q) = s.get(&other, "/v1/queues/partner").await;
    assert_eq!(q["items"].as_array().map(Vec::len), Some(0), "{q}");
    let (st, _) = s.get(&other, &format!("/v1/applications/{id}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, b) = f
        .step_as(&partner, &id, "partner-decision", json!({"approve": true}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    f.sanction_and_accept(&id).await;
    let (st, done) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::OK, "{done}");
    let (_, loan) = s
        .get(
            &f.ops,
            &format!("/v1/loans/{}", done["loan_id"].as_str().unwrap()),
        )
        .await;
    let partners: Vec<&str> = loan["state"]["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(partners, ["main", "NBFC-P"]);

    // No decision in the window: booked fully on the originator's book.
    let id = f
        .open(
            "APP-7",
            "CL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    f.assess(&id).await;
    let (st, _) = f.step_as(&f.ops, &id, "partner-lapse", json!({})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "the window is open");
    set_date(&s, "2025-07-16").await;
    let (st, b) = f
        .step_as(&partner, &id, "partner-decision", json!({"approve": true}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "partner.window");
    let b = f.step(&id, "partner-lapse", json!({})).await;
    assert_eq!(b["application"]["partner"]["outcome"], "lapsed_book_fully");
    let b = f.sanction_and_accept(&id).await;
    assert_eq!(
        b["application"]["sanction"]["kfs"]["co_lending"],
        Value::Null
    );

    // A product that books only co-lent loans: the application expires instead.
    let g = Flow {
        s: &s,
        ops: f.ops.clone(),
        credit: f.credit.clone(),
        credit2: f.credit2.clone(),
    };
    let body = json!({"code": "CLD", "name": "Co-lent only", "config": colending("decline")});
    product(&s, &f.credit, "/v1/products", body).await;
    let id = g
        .open(
            "APP-8",
            "CLD",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    g.assess(&id).await;
    set_date(&s, "2025-08-01").await;
    let b = g.step(&id, "partner-lapse", json!({})).await;
    assert_eq!(b["status"], "expired");
}

async fn payout_failure_and_unknown_result(s: Server) {
    let f = Flow::new(&s, "PL", config()).await;
    // The bank refuses the account: nothing is booked and the application stays accepted.
    let id = f
        .open(
            "APP-9",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345675"),
        )
        .await;
    f.assess(&id).await;
    f.sanction_and_accept(&id).await;
    let (st, b) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "accepted");
    assert_eq!(b["application"]["payout"]["status"], "failed");
    assert_eq!(b["loan_id"], Value::Null);
    let (_, loans) = s.get(&f.ops, "/v1/loans").await;
    assert_eq!(loans["items"].as_array().map(Vec::len), Some(0), "{loans}");

    // A timeout: the payout is in flight, never sent again, and reconciled to paid.
    let id = f
        .open(
            "APP-10",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345678"),
        )
        .await;
    f.assess(&id).await;
    f.sanction_and_accept(&id).await;
    let (st, b) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["application"]["payout"]["status"], "unknown");
    let (st, b) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "payout.in_flight");
    let (st, b) = f
        .step_as(&f.ops, &id, "withdraw", json!({"reason": "changed mind"}))
        .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a payout in flight cannot be withdrawn: {b}"
    );
    let b = f.step(&id, "payout/reconcile", json!({})).await;
    assert_eq!(b["status"], "disbursed");
    let (_, events) = s
        .get(&f.ops, &format!("/v1/applications/{id}/events"))
        .await;
    let sent = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "payout_sent")
        .count();
    assert_eq!(sent, 1);

    // A timeout that the bank then reports failed.
    let id = f
        .open(
            "APP-11",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345679"),
        )
        .await;
    f.assess(&id).await;
    f.sanction_and_accept(&id).await;
    f.disburse(&id).await;
    let b = f.step(&id, "payout/reconcile", json!({})).await;
    assert_eq!(
        (
            b["status"].as_str(),
            b["application"]["payout"]["status"].as_str()
        ),
        (Some("accepted"), Some("failed"))
    );
    let (_, loans) = s.get(&f.ops, "/v1/loans").await;
    assert_eq!(
        loans["items"].as_array().map(Vec::len),
        Some(1),
        "only APP-10's loan"
    );
}

async fn a_product_change_after_sanction(s: Server) {
    let f = Flow::new(&s, "PL", config()).await;
    let id = f
        .open(
            "APP-12",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    f.assess(&id).await;
    let sanctioned = f.sanction_and_accept(&id).await;
    let hash = sanctioned["application"]["sanction"]["terms_hash"].clone();
    // Version 2 changes the rate.
    let mut c = config();
    c["terms"]["annual_rate"] = json!("16");
    product(
        &s,
        &f.credit,
        "/v1/products/PL/versions",
        json!({"config": c}),
    )
    .await;
    let (st, done) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::OK, "{done}");
    let (_, loan) = s
        .get(
            &f.ops,
            &format!("/v1/loans/{}", done["loan_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(loan["terms_hash"], hash);
    assert_eq!(loan["state"]["annual_rate"], "14");
    assert_eq!(loan["product_version"], 1);
    let id2 = f
        .open(
            "APP-13",
            "PL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    let (_, a) = s.get(&f.ops, &format!("/v1/applications/{id2}")).await;
    assert_eq!(a["product_version"], 2);

    // A product priced off a benchmark: the rate is its rate plus the spread, and the KFS says
    // it floats, with the effect of a 25 bp rise.
    let mut c = config();
    c["bounds"]["rate"] = json!({"type": "floating", "benchmark": "repo", "benchmark_rate": "5.5",
        "spread": "8.5", "reset_months": 3});
    product(
        &s,
        &f.credit,
        "/v1/products",
        json!({"code": "FL", "name": "Floating", "config": c}),
    )
    .await;
    let id3 = f
        .open(
            "APP-16",
            "FL",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    assert_eq!(f.assess(&id3).await["status"], "approved");
    let (st, b) = f.step_as(&f.credit, &id3, "sanction", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let rate = &b["application"]["sanction"]["kfs"]["interest_rate"];
    assert_eq!(rate["rate_type"], "floating", "{rate}");
    assert_eq!(rate["annual_rate"], "14");
    assert_eq!(rate["floating"]["benchmark"], "repo");
    assert!(
        rate["floating"]["installment_at_plus_25bp"]
            .as_str()
            .unwrap()
            > "6835.53"
    );
}

async fn account_aggregator_data_and_partner_rules(s: Server) {
    // The partner's own rules ask for a score the applicant does not have: it is declined for
    // the partner at once, and the loan goes ahead on the originator's book.
    let mut c = colending("book_fully");
    c["colending"]["rules"] = json!({"min_bureau_score": 900});
    let f = Flow::new(&s, "CLR", c).await;
    let mut d = draft("ABCPE0002F", "200000.00", "50100012345671");
    d["consents"]
        .as_array_mut()
        .unwrap()
        .push(json!({"purpose": "account_aggregator", "given_at": "2025-06-30T10:05:00+05:30", "channel": "app"}));
    let id = f.open("APP-14", "CLR", d).await;
    f.step(&id, "submit", json!({})).await;
    f.step(&id, "bureau", json!({})).await;
    // Bank data through the Account Aggregator: the consent is recorded with the data.
    let b = f
        .step(
            &id,
            "account-aggregator",
            json!({"handle": "9876543210@finvu", "from": "2025-01-01", "to": "2025-06-30"}),
        )
        .await;
    let bank = &b["application"]["bank"][0];
    assert_eq!(bank["source"]["kind"], "account_aggregator", "{bank}");
    assert_eq!(bank["source"]["purpose_code"], "103");
    assert_eq!(bank["source"]["data_life_days"], 30);
    assert!(bank["transactions"].as_u64().unwrap() > 0);
    assert_eq!(bank["analysis"]["salary_detected"], true, "{bank}");
    let b = f.step(&id, "assess", json!({})).await;
    assert_eq!(
        b["status"], "approved",
        "{}",
        b["application"]["assessment"]
    );
    let partner = &b["application"]["partner"];
    assert_eq!(partner["outcome"], "declined", "{partner}");
    assert_eq!(partner["reasons"][0], "eligibility.min_bureau_score");
    assert_eq!(partner["act"]["by"], "partner rules");
    assert_eq!(b["queue"], Value::Null);
    let b = f.sanction_and_accept(&id).await;
    assert_eq!(
        b["application"]["sanction"]["kfs"]["co_lending"],
        Value::Null
    );
    // Without the consent, no fetch.
    let id = f
        .open(
            "APP-15",
            "CLR",
            draft("ABCPE0002F", "200000.00", "50100012345671"),
        )
        .await;
    f.step(&id, "submit", json!({})).await;
    let (st, b) = f
        .step_as(
            &f.ops,
            &id,
            "account-aggregator",
            json!({"handle": "9876543210@finvu", "from": "2025-01-01", "to": "2025-06-30"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "consent.missing");
}

async fn later_tranches_through_the_rail(s: Server) {
    // A staged loan: ₹1,50,000 at disbursement, ₹50,000 on 15 July.
    let f = Flow::new(&s, "ST", config()).await;
    let mut d = draft("ABCPE0002F", "200000.00", "50100012345671");
    d["request"]["tranches"] = json!([{"date": "2025-07-15", "amount": "50000.00"}]);
    let id = f.open("APP-17", "ST", d).await;
    assert_eq!(f.assess(&id).await["status"], "approved");
    let b = f.sanction_and_accept(&id).await;
    let kfs = &b["application"]["sanction"]["kfs"];
    assert_eq!(
        kfs["disbursements"].as_array().map(Vec::len),
        Some(2),
        "{kfs}"
    );
    // Not before the disbursement, and not before its date.
    let rail = json!({"rail": "neft"});
    let (st, b) = f.step_as(&f.ops, &id, "tranches", rail.clone()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (st, done) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::OK, "{done}");
    let loan = done["loan_id"].as_str().unwrap().to_owned();
    let (st, b) = f.step_as(&f.ops, &id, "tranches", rail.clone()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "tranche.date");
    // The disbursement is not paid twice.
    let (st, b) = f.disburse(&id).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    set_date(&s, "2025-07-15").await;
    let b = f.step(&id, "tranches", rail.clone()).await;
    assert_eq!(b["application"]["tranches_paid"], 1, "{b}");
    assert_eq!(b["application"]["payout"]["status"], "paid");
    let utr = b["application"]["payout"]["utr"]
        .as_str()
        .unwrap()
        .to_owned();
    // The loan's own disbursement event, referenced by the rail's UTR.
    let (_, events) = s.get(&f.ops, &format!("/v1/loans/{loan}/events")).await;
    let list = events["events"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{events}");
    assert_eq!(list[1]["event"]["type"], "disbursement");
    assert_eq!(list[1]["event"]["amount"], "50000.00");
    assert_eq!(list[1]["event"]["reference"], utr.as_str());
    let (_, l) = s.get(&f.ops, &format!("/v1/loans/{loan}")).await;
    assert_eq!(
        l["state"]["balances"]["principal_outstanding"], "200000.00",
        "{l}"
    );
    // Every tranche is paid out.
    let (st, b) = f.step_as(&f.ops, &id, "tranches", rail).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "tranche.none_left");
    assert_eq!(
        s.app.projection_mismatches().await.unwrap(),
        Vec::<String>::new()
    );
    assert!(s.app.verify_audit().await.unwrap().is_ok());
}
