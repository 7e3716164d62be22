use super::*;
use crate::collections::attempt::{Attempt, Intent};
use crate::collections::policy::tests::{failed, intent};
use crate::collections::rail::{Rail, RailRules};
use jiff::civil::date;

fn case<'a>(
    intent: &'a Intent,
    rules: &'a RailRules,
    attempts: &'a [Attempt],
    borrower: &'a str,
) -> Case<'a> {
    Case {
        intent,
        rules,
        bank: "HDFC",
        borrower,
        attempts,
        earliest: Slot::new(date(2026, 3, 1), 0),
    }
}

fn seen(
    p: &mut AdaptivePolicy,
    borrower: &str,
    d: Date,
    hour: u8,
    failure: Option<(FailureClass, Reason)>,
) {
    p.observe(&Observation {
        borrower,
        bank: "HDFC",
        at: Slot::new(d, hour),
        due_date: d,
        attempt: 1,
        failure,
    });
}

const FUNDS: Option<(FailureClass, Reason)> = Some((FailureClass::Soft, Reason::InsufficientFunds));

#[test]
fn it_learns_a_borrowers_salary_day_and_presents_after_it() {
    let mut p = AdaptivePolicy::default();
    // Two months of this borrower: the 5th fails for want of funds, the 8th is paid.
    for m in [1, 2] {
        seen(&mut p, "late", date(2026, m, 5), 10, FUNDS);
        seen(&mut p, "late", date(2026, m, 8), 10, None);
    }
    // Most of the book is paid on the 5th.
    for b in ["early", "b2", "b3", "b4", "b5", "b6"] {
        for m in [1, 2] {
            seen(&mut p, b, date(2026, m, 5), 10, None);
        }
    }
    let rules = Rail::Nach.rules();
    let intent = intent();
    let late = p.decide(&case(&intent, &rules, &[], "late"));
    match late {
        Decision::Present { at, why } => {
            assert_eq!(at.date, date(2026, 3, 8), "{why}");
            assert!(why.contains("from 4 of the borrower's outcomes"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let early = p.decide(&case(&intent, &rules, &[], "early"));
    assert!(matches!(early, Decision::Present { at, .. } if at.date == date(2026, 3, 5)));
    // Someone unknown is presented on the due date.
    let new = p.decide(&case(&intent, &rules, &[], "new"));
    assert!(matches!(new, Decision::Present { at, .. } if at.date == date(2026, 3, 5)));
}

#[test]
fn it_avoids_a_banks_bad_hours_on_upi() {
    let mut p = AdaptivePolicy::default();
    for d in 1..=20 {
        let day = date(2026, 2, d);
        seen(
            &mut p,
            "x",
            day,
            13,
            Some((FailureClass::Technical, Reason::Technical)),
        );
        seen(&mut p, "y", day, 15, None);
    }
    let rules = Rail::UpiAutopay.rules();
    let intent = intent();
    match p.decide(&case(&intent, &rules, &[], "new")) {
        Decision::Present { at, .. } => {
            assert_eq!(at.date, date(2026, 3, 5));
            assert_eq!(at.hour, 15, "13:00 fails technically at this bank");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn it_stops_retrying_when_success_is_unlikely_and_on_hard_failures() {
    let mut p = AdaptivePolicy::default();
    // This borrower's account never holds the instalment.
    for m in 1..=3 {
        for d in [5, 8, 11, 14, 20] {
            seen(&mut p, "dry", date(2026, m, d), 10, FUNDS);
        }
    }
    let rules = Rail::Nach.rules();
    let intent = intent();
    let one = [failed(Rail::Nach, "04", 1, Slot::new(date(2026, 3, 5), 10))];
    let mut c = case(&intent, &rules, &one, "dry");
    c.earliest = Slot::new(date(2026, 3, 6), 0);
    match p.decide(&c) {
        Decision::Stop { why } => assert!(why.contains("below"), "{why}"),
        other => panic!("{other:?}"),
    }
    let closed = [failed(Rail::Nach, "01", 1, Slot::new(date(2026, 3, 5), 10))];
    let c = case(&intent, &rules, &closed, "new");
    assert!(matches!(p.decide(&c), Decision::Stop { why } if why.contains("hard")));
}

#[test]
fn a_technical_failure_retries_on_another_day() {
    let p = AdaptivePolicy::default();
    let rules = Rail::Nach.rules();
    let intent = intent();
    let one = [failed(Rail::Nach, "59", 1, Slot::new(date(2026, 3, 5), 10))];
    let mut c = case(&intent, &rules, &one, "new");
    c.earliest = Slot::new(date(2026, 3, 5), 11);
    match p.decide(&c) {
        Decision::Present { at, .. } => assert_eq!(at.date, date(2026, 3, 6)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn days_of_the_month_wrap() {
    assert_eq!(circular_distance(1, 30), 1);
    assert_eq!(circular_distance(5, 8), 3);
    assert_eq!(circular_distance(31, 1), 0);
}
