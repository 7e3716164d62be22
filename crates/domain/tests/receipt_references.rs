//! A receipt reference names one receipt forever; a reversal names one receipt dated on or before
//! it; a history is written only if it replays on every date (`check_history`).

use jiff::ToSpan;
use jiff::civil::{Date, date};
use loanbook_domain::events::Event;
use loanbook_domain::loan::{ReplayError, check_history, replay};
use loanbook_domain::terms::Terms;
use serde_json::{Value, json};

fn march_loan() -> Terms {
    let t = json!({
        "currency": "INR", "principal": "100000.00", "annual_rate": "12", "method": "emi",
        "installments": 12, "frequency": "monthly", "disbursement_date": "2024-03-01",
        "first_due_date": "2024-03-31", "broken_period": "ignore"
    });
    Terms::from_json(&t.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn events(t: &Terms, list: Value) -> Vec<Event> {
    Event::list_from_json(&list.to_string(), t.currency).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The first date from `from` to `to` the list does not replay on, with the error.
fn first_failure(t: &Terms, list: &[Event], from: Date, to: Date) -> Option<ReplayError> {
    let mut day = from;
    while day <= to {
        if let Err(e) = replay(t, list, day) {
            return Some(e);
        }
        day = day.checked_add(1.day()).unwrap();
    }
    None
}

fn refused(t: &Terms, list: &[Event], as_of: Date) -> ReplayError {
    let err = check_history(t, list, as_of).expect_err("the history must be refused");
    // Refused on every date it is read on, not only some.
    assert_eq!(replay(t, list, as_of).unwrap_err(), err);
    err
}

#[test]
fn a_reversed_reference_cannot_be_reused_by_a_back_dated_payment() {
    let t = march_loan();
    let list = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "X"},
            {"type": "payment_reversal", "date": "2024-04-03", "reference": "X"},
            {"type": "payment", "date": "2024-03-20", "amount": "8884.88", "reference": "X"}
        ]),
    );
    let err = refused(&t, &list, date(2024, 4, 10));
    assert_eq!(
        (err.index, err.event, err.field),
        (3, "payment", "reference")
    );
    assert!(err.rule.contains("may be used once"), "{err}");
    // On every date, not only some: the old code replayed this list after the reversal (with the
    // bounced payment counted as paid again) and failed before it.
    for day in [date(2024, 3, 25), date(2024, 4, 2), date(2024, 4, 10)] {
        assert_eq!(replay(&t, &list, day).unwrap_err().field, "reference");
    }
    // Without the reuse, the history replays on every date.
    let good = &list[..3];
    assert!(check_history(&t, good, date(2024, 4, 10)).is_ok());
    assert!(first_failure(&t, good, date(2024, 3, 1), date(2024, 5, 1)).is_none());
}

#[test]
fn a_back_dated_receipt_cannot_reuse_the_reference_of_a_later_dated_one() {
    let t = march_loan();
    let list = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-04-30", "amount": "8884.88", "reference": "Y"},
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "Y"}
        ]),
    );
    let err = refused(&t, &list, date(2024, 5, 1));
    assert_eq!((err.index, err.field), (2, "reference"));
    // Even read on a date before the later-dated receipt.
    assert_eq!(
        replay(&t, &list, date(2024, 4, 1)).unwrap_err().field,
        "reference"
    );
}

#[test]
fn a_reference_names_one_receipt_across_every_receipt_kind() {
    let t = march_loan();
    let base = json!([
        {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
        {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "Z"}
    ]);
    let reuses = [
        json!({"type": "prepayment", "date": "2024-04-05", "amount": "1000.00", "adjust": "reduce_emi", "reference": "Z"}),
        json!({"type": "settlement", "date": "2024-04-05", "amount": "1000.00", "reference": "Z"}),
        json!({"type": "foreclosure", "date": "2024-04-05", "amount": "99000.00", "reference": "Z"}),
        json!({"type": "recovery", "date": "2024-04-05", "amount": "1000.00", "reference": "Z"}),
    ];
    for reuse in reuses {
        let mut v = base.clone();
        v.as_array_mut().unwrap().push(reuse.clone());
        let list = events(&t, v);
        let err = refused(&t, &list, date(2024, 4, 5));
        assert_eq!((err.index, err.field), (2, "reference"), "{reuse}: {err}");
    }
}

#[test]
fn a_reversal_must_name_one_earlier_receipt_not_reversed_already() {
    let t = march_loan();
    let base = json!([
        {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
        {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "P"},
        {"type": "payment_reversal", "date": "2024-04-03", "reference": "P"}
    ]);
    let cases = [
        // Twice, on a later date or back-dated to the same receipt's stretch.
        (
            json!({"type": "payment_reversal", "date": "2024-04-04", "reference": "P"}),
            "reference",
            "already reversed",
        ),
        (
            json!({"type": "payment_reversal", "date": "2024-04-01", "reference": "P"}),
            "reference",
            "already reversed",
        ),
        // Dated before its receipt.
        (
            json!({"type": "payment_reversal", "date": "2024-03-30", "reference": "P"}),
            "date",
            "is before the payment `P`",
        ),
        // Naming nothing.
        (
            json!({"type": "payment_reversal", "date": "2024-04-04", "reference": "Q"}),
            "reference",
            "no payment or other receipt `Q`",
        ),
    ];
    for (extra, field, rule) in cases {
        let mut v = base.clone();
        v.as_array_mut().unwrap().push(extra.clone());
        let list = events(&t, v);
        let err = check_history(&t, &list, date(2024, 4, 10)).unwrap_err();
        assert_eq!(err.field, field, "{extra}: {err}");
        assert!(err.rule.contains(rule), "{extra}: {err}");
    }
}

#[test]
fn a_recovery_on_a_loan_never_written_off_is_refused() {
    let t = march_loan();
    let list = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "recovery", "date": "2024-04-05", "amount": "1000.00", "reference": "REC1"}
        ]),
    );
    let err = refused(&t, &list, date(2024, 4, 5));
    assert_eq!((err.index, err.event, err.field), (1, "recovery", "type"));
    assert!(err.rule.contains("no write_off"), "{err}");
    // Even on a loan not yet disbursed, the rule named is the write-off.
    let err = check_history(&t, &list[1..], date(2024, 4, 5)).unwrap_err();
    assert!(err.rule.contains("no write_off"), "{err}");
}

#[test]
fn check_history_refuses_a_history_that_fails_only_before_a_reversal() {
    let t = march_loan();
    // The payment clears the first instalment's interest, so a waiver of that interest on 2 April
    // is valid only once the payment is reversed (3 April): replayed on 2 April, it fails.
    let list = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "P"},
            {"type": "payment_reversal", "date": "2024-04-03", "reference": "P"},
            {"type": "waiver", "date": "2024-04-02", "component": "interest", "amount": "500.00"}
        ]),
    );
    assert!(replay(&t, &list, date(2024, 4, 10)).is_ok());
    let failure =
        first_failure(&t, &list, date(2024, 3, 1), date(2024, 4, 10)).expect("fails on some date");
    let err = check_history(&t, &list, date(2024, 4, 10)).unwrap_err();
    assert_eq!(err, failure);
    assert_eq!((err.index, err.field), (3, "amount"));
}

#[test]
fn check_history_returns_the_state_at_its_date() {
    let t = march_loan();
    let list = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "P"},
            {"type": "payment_reversal", "date": "2024-04-03", "reference": "P"}
        ]),
    );
    let through = date(2024, 6, 1);
    assert_eq!(
        check_history(&t, &list, through).unwrap(),
        replay(&t, &list, through).unwrap()
    );
    assert!(check_history(&t, &[], through).is_ok());
}
