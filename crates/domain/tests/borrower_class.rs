//! Borrower-wise classification on one loan: `borrower_npa` makes a loan NPA whatever its own
//! DPD, and keeps it NPA until `borrower_upgraded`; then it takes its own class again.

use jiff::civil::{Date, date};
use loanbook_domain::delinquency::{AssetClass, Classification};
use loanbook_domain::events::Event;
use loanbook_domain::loan::{LoanState, check_history, replay};
use loanbook_domain::terms::Terms;
use serde_json::{Value, json};

fn march_loan() -> Terms {
    Terms::from_json(
        &json!({
            "currency": "INR", "principal": "100000.00", "annual_rate": "12", "method": "emi",
            "installments": 12, "frequency": "monthly", "disbursement_date": "2024-03-01",
            "first_due_date": "2024-03-31", "broken_period": "ignore"
        })
        .to_string(),
    )
    .unwrap()
}

fn events(t: &Terms, list: Value) -> Vec<Event> {
    Event::list_from_json(&list.to_string(), t.currency).unwrap_or_else(|e| panic!("{e:?}"))
}

fn state(t: &Terms, ev: &[Event], on: Date) -> LoanState {
    replay(t, ev, on).unwrap_or_else(|e| panic!("{e}"))
}

fn disbursed() -> Value {
    json!({"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"})
}

#[test]
fn a_loan_held_with_its_borrower_is_npa_until_the_borrower_is_upgraded() {
    let t = march_loan();
    let held = events(
        &t,
        json!([
            disbursed(),
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "P1"},
            {"type": "borrower_npa", "date": "2024-04-10", "facility": "LOAN-2"},
        ]),
    );
    let before = state(&t, &held, date(2024, 4, 9));
    assert_eq!(before.classification, Classification::Standard);
    let s = state(&t, &held, date(2024, 4, 10));
    assert_eq!((s.dpd, s.classification), (0, Classification::Npa));
    assert_eq!(s.npa_since, Some(date(2024, 4, 10)));
    assert_eq!(s.borrower_npa_since, Some(date(2024, 4, 10)));
    assert_eq!(s.asset_class, AssetClass::Substandard);
    // Interest is not income while it is NPA, however well the loan itself pays.
    assert_eq!(s.balances.interest_suspended, s.balances.interest_accrued);
    // Paid on time throughout, still NPA months later.
    let mut paid = held.clone();
    paid.extend(events(
        &t,
        json!([
            {"type": "payment", "date": "2024-04-30", "amount": "8884.88", "reference": "P2"},
            {"type": "payment", "date": "2024-05-31", "amount": "8884.88", "reference": "P3"},
        ]),
    ));
    let s = state(&t, &paid, date(2024, 6, 15));
    assert_eq!((s.dpd, s.classification), (0, Classification::Npa));
    let mut upgraded = paid.clone();
    upgraded.extend(events(
        &t,
        json!([{"type": "borrower_upgraded", "date": "2024-06-15"}]),
    ));
    let s = state(&t, &upgraded, date(2024, 6, 15));
    assert_eq!(s.classification, Classification::Standard);
    assert_eq!(s.borrower_npa_since, None);
    assert_eq!(s.npa_since, None);
    assert_eq!(
        s.classification_history.last(),
        Some(&(date(2024, 6, 15), Classification::Standard))
    );
}

#[test]
fn an_upgrade_leaves_a_loan_that_owes_in_its_own_npa() {
    let t = march_loan();
    // Never paid: NPA of its own on 29 June, held from 1 July, released on 10 July while it
    // still owes: it stays NPA (an NPA is upgraded only when its arrears are paid).
    let ev = events(
        &t,
        json!([
            disbursed(),
            {"type": "borrower_npa", "date": "2024-07-01", "facility": "LOAN-2"},
            {"type": "borrower_upgraded", "date": "2024-07-10"},
        ]),
    );
    let s = state(&t, &ev, date(2024, 7, 10));
    assert_eq!(s.classification, Classification::Npa);
    assert_eq!(s.npa_since, Some(date(2024, 6, 29)));
    assert_eq!(s.borrower_npa_since, None);
}

#[test]
fn holding_twice_or_releasing_what_is_not_held_is_refused() {
    let t = march_loan();
    for (list, rule) in [
        (
            json!([
                disbursed(),
                {"type": "borrower_npa", "date": "2024-04-01", "facility": "L2"},
                {"type": "borrower_npa", "date": "2024-04-02", "facility": "L3"},
            ]),
            "already",
        ),
        (
            json!([disbursed(), {"type": "borrower_upgraded", "date": "2024-04-01"}]),
            "not NPA with its borrower",
        ),
    ] {
        let ev = events(&t, list);
        let e = check_history(&t, &ev, date(2024, 4, 5)).unwrap_err();
        assert!(e.to_string().contains(rule), "{e}");
    }
    let blank = Event::list_from_json(
        &json!([{"type": "borrower_npa", "date": "2024-04-01", "facility": " "}]).to_string(),
        t.currency,
    )
    .unwrap_err();
    assert!(format!("{blank:?}").contains("facility"), "{blank:?}");
}

#[test]
fn the_events_read_back_as_they_were_written() {
    let t = march_loan();
    for doc in [
        json!({"type": "borrower_npa", "date": "2024-04-01", "facility": "L2"}),
        json!({"type": "borrower_upgraded", "date": "2024-04-01"}),
    ] {
        let e = Event::from_json_value(&doc, t.currency).unwrap();
        let stored = e.to_stored_json(t.currency);
        assert_eq!(Event::from_trusted_json(&stored, t.currency).unwrap(), e);
        assert_eq!(Event::from_stored_json(&stored, t.currency).unwrap(), e);
    }
}
