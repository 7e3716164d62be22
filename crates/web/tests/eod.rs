//! The close of business over 400 days of a small mixed book: payments on time, a loan that
//! never pays and reaches NPA on RBI's dates, a bounced payment reversed, back-dated payments, a
//! co-lent loan and a flat-rate loan, and a second facility of the NPA borrower that pays on
//! time but is NPA with its borrower until the borrower's arrears are paid. After every close the trial balance is zero, the GL
//! reconciles to the loans to the paisa, and every projection equals a fresh replay.

mod common;

use std::collections::BTreeMap;

use common::{Server, TODAY, payment};
use loanbook_app::eod::{CloseOptions, Quiet};
use loanbook_domain::calendar::Date;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(four_hundred_days_of_closes_reconcile_every_day);

const DAYS: i64 = 400;

fn day(offset: i64) -> Date {
    let start: Date = TODAY.parse().unwrap();
    start.checked_add(jiff::Span::new().days(offset)).unwrap()
}

fn terms(principal: &str, rate: &str, n: u32, extra: Value) -> Value {
    let mut t = json!({
        "currency": "INR", "principal": principal, "annual_rate": rate, "method": "emi",
        "installments": n, "frequency": "monthly", "disbursement_date": TODAY,
        "penal": {"percent": "24"},
        "fees": [{"name": "processing", "amount": "500.00", "collect": "deduct"}]
    });
    if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            t.insert(k.clone(), v.clone());
        }
    }
    t
}

async fn book(s: &Server, number: &str, terms: Value) -> String {
    book_for(s, number, terms, None).await
}

async fn book_for(s: &Server, number: &str, terms: Value, borrower: Option<&str>) -> String {
    let principal = terms["principal"].clone();
    let mut body = json!({"loan_number": number, "terms": terms});
    if let Some(b) = borrower {
        body["borrower_id"] = json!(b);
    }
    let (st, b) = s.post(&s.admin, "/v1/loans", &body, None).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/disbursements"),
            &json!({"date": TODAY, "amount": principal}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    id
}

async fn installment_due(s: &Server, id: &str, on: Date) -> Option<String> {
    let (_, b) = s.get(&s.admin, &format!("/v1/loans/{id}")).await;
    b["state"]["installments"]
        .as_array()?
        .iter()
        .find(|i| i["due_date"] == on.to_string())
        .map(|i| i["total"].as_str().unwrap_or("0").to_owned())
}

async fn pay(s: &Server, id: &str, on: Date, amount: &str, reference: &str) {
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/payments"),
            &payment(&on.to_string(), amount, reference),
            Some(&format!("{id}-{reference}")),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reference}: {b}");
}

async fn reverse(s: &Server, id: &str, on: Date, reference: &str) {
    let (st, b) = s
        .post(
            &s.admin,
            &format!("/v1/loans/{id}/reversals"),
            &json!({"date": on.to_string(), "reference": reference, "reason": "bounced"}),
            Some(&format!("{id}-rev-{reference}")),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reference}: {b}");
}

/// Close the business date, then check the ledger and the projections.
/// Close `on` and check the books; the loans the close read.
async fn close_and_check(s: &Server, on: Date) -> i64 {
    let closed = s
        .app
        .close_business(None, &CloseOptions::default(), &Quiet)
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].date, on.to_string());
    assert!(closed[0].failures.is_empty(), "{:?}", closed[0].failures);
    let auditor = s.app.system_principal();
    let tb = s.app.trial_balance(&auditor, on).await.unwrap();
    assert!(tb.balanced, "{on}: {tb:?}");
    let r = s.app.reconcile(&auditor, on).await.unwrap();
    assert!(r.reconciled, "{on}: {:#?}", r.differences);
    assert_eq!(
        s.app.projection_mismatches().await.unwrap(),
        Vec::<String>::new(),
        "{on}"
    );
    closed[0].steps[0].loans_read
}

async fn class_on(s: &Server, id: &str, on: Date) -> (i64, String) {
    let (_, b) = s.get(&s.admin, &format!("/v1/loans/{id}?as_of={on}")).await;
    (
        b["state"]["dpd"].as_i64().unwrap(),
        b["state"]["classification"].as_str().unwrap().to_owned(),
    )
}

/// A webhook for the reminders, at an address nothing answers: its deliveries count them.
async fn reminder_hook(s: &Server) -> String {
    let (st, hook) = s
        .post(
            &s.admin,
            "/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/reminders", "topics": ["loan.installment_due"]}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{hook}");
    hook["id"].as_str().unwrap().to_owned()
}

/// One borrower's two facilities: one that never pays, one that pays on time.
async fn two_facilities_of_one_borrower(s: &Server) -> (String, String) {
    let (st, party) = s
        .post(
            &s.admin,
            "/v1/parties",
            &json!({"kind": "borrower", "name": "Ravi Kumar"}),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{party}");
    let borrower = party["id"].as_str().unwrap().to_owned();
    let never = terms("50000.00", "18", 12, json!({}));
    let never = book_for(s, "EOD-2", never, Some(&borrower)).await;
    let sibling = terms("40000.00", "13", 24, json!({}));
    let sibling = book_for(s, "EOD-7", sibling, Some(&borrower)).await;
    (never, sibling)
}

async fn four_hundred_days_of_closes_reconcile_every_day(s: Server) {
    let hook = reminder_hook(&s).await;
    let on_time = book(&s, "EOD-1", terms("100000.00", "14", 12, json!({}))).await;
    let (never, sibling) = two_facilities_of_one_borrower(&s).await;
    let bounced = book(&s, "EOD-3", terms("80000.00", "16", 24, json!({}))).await;
    let late = book(&s, "EOD-4", terms("60000.00", "15", 18, json!({}))).await;
    let colent = book(
        &s,
        "EOD-5",
        terms(
            "200000.00",
            "11.6",
            36,
            json!({"partners": [{"id": "bank", "share": "80", "annual_rate": "10"},
                                {"id": "nbfc", "share": "20", "annual_rate": "18", "originator": true}],
                   "split": "principal_pro_rata"}),
        ),
    )
    .await;
    let flat = book(
        &s,
        "EOD-6",
        terms("30000.00", "9.5", 12, json!({"method": "flat"})),
    )
    .await;
    // The never-paying loan's first instalment date: RBI's worked example counts from it.
    let first_due = day(30);
    let mut back_dated: BTreeMap<i64, Vec<(String, Date, String, String)>> = BTreeMap::new();
    let mut read = 0;
    for k in 0..DAYS {
        let today = day(k);
        for id in [&on_time, &colent, &flat, &sibling] {
            if let Some(total) = installment_due(&s, id, today).await {
                pay(&s, id, today, &total, &format!("P{k}")).await;
            }
        }
        if let Some(total) = installment_due(&s, &bounced, today).await {
            pay(&s, &bounced, today, &total, &format!("B{k}")).await;
            if k < 200 {
                // It bounces three days later, and is paid again then.
                back_dated.entry(k + 3).or_default().push((
                    bounced.clone(),
                    today,
                    total,
                    format!("B{k}"),
                ));
            }
        }
        if let Some(total) = installment_due(&s, &late, today).await {
            // Paid five days late, back-dated to the due date.
            back_dated.entry(k + 5).or_default().push((
                late.clone(),
                today,
                total,
                format!("L{k}"),
            ));
        }
        for (id, due, total, reference) in back_dated.remove(&k).unwrap_or_default() {
            if id == bounced {
                reverse(&s, &id, today, &reference).await;
                pay(&s, &id, today, &total, &format!("{reference}-again")).await;
            } else {
                pay(&s, &id, due, &total, &reference).await;
            }
        }
        if k == 300 {
            // The NPA borrower pays everything owed.
            let (_, b) = s.get(&s.admin, &format!("/v1/loans/{never}")).await;
            let owed = b["state"]["total_overdue"].as_str().unwrap().to_owned();
            pay(&s, &never, today, &owed, "CLEAR").await;
        }
        read += close_and_check(&s, today).await;
    }
    // A loan is read on the days it wakes or takes an event, not every day: the on-time loans
    // sleep from one due date to the next.
    assert!(read > 400 && read < 7 * DAYS / 2, "{read} loans read");
    rbi_dates_on_the_loan_that_never_paid(&s, &never, first_due).await;
    classes_are_the_borrowers(&s, &never, &sibling, first_due).await;
    let loans = [&on_time, &never, &bounced, &late, &colent, &flat, &sibling];
    every_instalment_was_reminded(&s, &hook, &loans).await;
    the_ledger_holds_what_the_book_did(&s, &on_time).await;
    // The closes are on record, newest first.
    let (st, runs) = s.get(&s.admin, "/v1/eod/runs?limit=3").await;
    assert_eq!(st, StatusCode::OK, "{runs}");
    assert_eq!(runs["runs"][0]["business_date"], day(DAYS - 1).to_string());
    assert_eq!(runs["runs"][0]["status"], "done");
    // Each step's figures reach the metrics endpoint.
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "loanbook_eod_step_seconds",
        "loanbook_eod_loans_read_total",
        "loanbook_eod_days_total",
    ] {
        assert!(metrics.contains(name), "{name} not in {metrics}");
    }
}

async fn rbi_dates_on_the_loan_that_never_paid(s: &Server, never: &str, first_due: Date) {
    // RBI's worked example, on the loan that never paid: SMA-1 on day 31 past due, SMA-2 on 61,
    // NPA on 91 (DPD = date − oldest unpaid due date + 1).
    for (offset, dpd, class) in [
        (0, 1, "sma0"),
        (29, 30, "sma0"),
        (30, 31, "sma1"),
        (60, 61, "sma2"),
        (89, 90, "sma2"),
        (90, 91, "npa"),
    ] {
        let on = first_due
            .checked_add(jiff::Span::new().days(offset))
            .unwrap();
        assert_eq!(
            class_on(s, never, on).await,
            (dpd, class.to_owned()),
            "{on}"
        );
    }
}

/// Each instalment falling due up to three days after the last close was announced three days
/// before its due date, once: one `loan.installment_due` message each.
async fn every_instalment_was_reminded(s: &Server, hook: &str, loans: &[&String]) {
    let last = day(DAYS - 1 + 3).to_string();
    let mut due = 0;
    for id in loans {
        let (_, b) = s.get(&s.admin, &format!("/v1/loans/{id}")).await;
        due += b["state"]["installments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["due_date"].as_str().unwrap() <= last.as_str())
            .count();
    }
    let store = s.app.store();
    let now = jiff::Timestamp::now().to_string();
    while store.dispatch_outbox(&now, 10_000).await.unwrap() > 0 {}
    let deliveries = store.deliveries(hook, 100_000).await.unwrap();
    assert_eq!(deliveries.len(), due);
}

/// The facility that pays on time is NPA with its borrower from the day the other one is, and
/// both are upgraded on the day the borrower's arrears are all paid, not before.
async fn classes_are_the_borrowers(s: &Server, never: &str, sibling: &str, first_due: Date) {
    let npa_day = first_due.checked_add(jiff::Span::new().days(90)).unwrap();
    let before = npa_day.yesterday().unwrap();
    assert_eq!(class_on(s, sibling, before).await, (0, "standard".into()));
    assert_eq!(class_on(s, sibling, npa_day).await, (0, "npa".into()));
    let (_, b) = s
        .get(&s.admin, &format!("/v1/loans/{sibling}?as_of={npa_day}"))
        .await;
    assert_eq!(b["state"]["borrower_npa_since"], npa_day.to_string(), "{b}");
    // Paid on time all along, still NPA while the borrower owes on the other facility.
    assert_eq!(class_on(s, sibling, day(299)).await, (0, "npa".into()));
    assert_eq!(class_on(s, never, day(299)).await.1, "npa");
    for id in [never, sibling] {
        assert_eq!(
            class_on(s, id, day(300)).await,
            (0, "standard".into()),
            "{id}"
        );
    }
    let (_, events) = s
        .get(&s.admin, &format!("/v1/loans/{sibling}/events"))
        .await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"]["type"].as_str())
        .filter(|t| t.starts_with("borrower"))
        .collect();
    // The borrower stops paying again after clearing, and is NPA again 91 days on.
    assert_eq!(
        kinds,
        ["borrower_npa", "borrower_upgraded", "borrower_npa"],
        "{events}"
    );
}

async fn the_ledger_holds_what_the_book_did(s: &Server, on_time: &str) {
    // The ledger holds what the book did: interest income, suspense on the NPA loan, the
    // co-lender's payable, provisions.
    let last = day(DAYS - 1);
    let auditor = s.app.system_principal();
    let tb = s.app.trial_balance(&auditor, last).await.unwrap();
    let credit_of = |role: &str| -> f64 {
        tb.lines
            .iter()
            .filter(|l| l.role == role)
            .map(|l| l.credit.parse::<f64>().unwrap())
            .sum()
    };
    for role in [
        "interest_income",
        "interest_suspense",
        "partner_payable",
        "provision_held",
        "penal_income",
    ] {
        assert!(credit_of(role) > 0.0, "{role} in {tb:#?}");
    }
    // A line the loans do not explain is found, on its loan.
    let stray = |account: &str, debit: i64, credit: i64| loanbook_store::NewGlLine {
        entry_id: "stray".into(),
        line_no: if debit > 0 { 0 } else { 1 },
        posted_on: last.to_string(),
        kind: "manual".into(),
        narration: "a stray posting".into(),
        account: account.into(),
        loan_id: Some(on_time.to_owned()),
        product_id: None,
        partner_id: None,
        debit,
        credit,
        source: "test".into(),
    };
    let principal = loanbook_domain::gl::Chart::standard()
        .account(loanbook_domain::gl::Role::LoanPrincipal)
        .unwrap()
        .code
        .clone();
    let clearing = loanbook_domain::gl::Chart::standard()
        .account(loanbook_domain::gl::Role::CollectionsClearing)
        .unwrap()
        .code
        .clone();
    s.app
        .store()
        .post_lines(
            "main",
            &[stray(&principal, 100, 0), stray(&clearing, 0, 100)],
        )
        .await
        .unwrap();
    let r = s.app.reconcile(&auditor, last).await.unwrap();
    assert!(!r.reconciled);
    assert!(
        r.differences
            .iter()
            .any(|d| d.loan_id.as_deref() == Some(on_time) && d.role == "loan_principal"),
        "{:#?}",
        r.differences
    );
}
