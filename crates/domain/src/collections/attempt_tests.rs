use super::*;
use crate::collections::failure::FailureTable;
use crate::collections::mandate::{MandateFrequency, MandateKind, MandateStatus};
use crate::collections::rail::Rail;
use jiff::civil::date;

fn mandate(kind: MandateKind) -> Mandate {
    Mandate {
        reference: "M1".into(),
        kind,
        bank: "HDFC".into(),
        max_amount_minor: 5_000_000,
        frequency: MandateFrequency::Monthly,
        start: date(2026, 1, 1),
        end: None,
        submitted_on: date(2026, 1, 1),
        status: MandateStatus::Active {
            since: date(2026, 1, 2),
        },
    }
}

fn intent() -> Intent {
    Intent {
        loan_id: "L1".into(),
        installment: 3,
        due_date: date(2026, 3, 5),
        amount: 1_200_000,
        cycle_start: date(2026, 3, 2),
        cycle_end: date(2026, 4, 4),
    }
}

fn failed(rail: Rail, code: &str, n: u32, at: Slot) -> Attempt {
    Attempt {
        n,
        at,
        notice_at: None,
        amount: 1_200_000,
        outcome: Outcome::Failed {
            failure: FailureTable::seed().classify(rail, code, ""),
        },
        why: String::new(),
    }
}

fn code(r: Result<(), Breach>) -> Option<&'static str> {
    r.err().map(|b| b.code)
}

#[test]
fn upi_needs_a_notice_24_hours_before() {
    let rules = Rail::UpiAutopay.rules();
    let m = mandate(MandateKind::UpiAutopay);
    let at = Slot::new(date(2026, 3, 5), 8);
    let check = |notice| check_attempt(&rules, &m, &intent(), &[], at, notice);
    assert_eq!(code(check(None)), Some("rail.pre_debit_notice"));
    assert_eq!(
        code(check(Some(Slot::new(date(2026, 3, 4), 9)))),
        Some("rail.pre_debit_notice"),
        "23 hours is not enough"
    );
    assert_eq!(code(check(Some(Slot::new(date(2026, 3, 4), 8)))), None);
    // Peak hours are refused whatever the notice.
    let peak = Slot::new(date(2026, 3, 5), 11);
    let early = Some(Slot::new(date(2026, 3, 3), 0));
    assert_eq!(
        code(check_attempt(&rules, &m, &intent(), &[], peak, early)),
        Some("rail.hours")
    );
    // NACH needs no notice.
    let nach = mandate(MandateKind::Enach);
    assert_eq!(
        code(check_attempt(
            &Rail::Nach.rules(),
            &nach,
            &intent(),
            &[],
            peak,
            None
        )),
        None
    );
}

#[test]
fn one_success_per_cycle_and_the_attempt_limit() {
    let rules = Rail::UpiAutopay.rules();
    let m = mandate(MandateKind::UpiAutopay);
    let notice = Some(Slot::new(date(2026, 3, 1), 0));
    let day = |d| Slot::new(date(2026, 3, d), 8);
    let paid = Attempt {
        outcome: Outcome::Paid,
        ..failed(Rail::UpiAutopay, "Z9", 1, day(5))
    };
    let later = check_attempt(&rules, &m, &intent(), &[paid], day(8), notice);
    assert_eq!(code(later), Some("rail.one_success"));
    let fails: Vec<Attempt> = (1..=4)
        .map(|n| failed(Rail::UpiAutopay, "Z9", n, day(4 + n as i8)))
        .collect();
    assert_eq!(
        code(check_attempt(
            &rules,
            &m,
            &intent(),
            &fails[..3],
            day(10),
            notice
        )),
        None,
        "one attempt and three retries"
    );
    assert_eq!(
        code(check_attempt(
            &rules,
            &m,
            &intent(),
            &fails,
            day(10),
            notice
        )),
        Some("rail.attempts")
    );
    // Not before the last attempt.
    assert_eq!(
        code(check_attempt(
            &rules,
            &m,
            &intent(),
            &fails[..1],
            day(5),
            notice
        )),
        Some("rail.order")
    );
}

#[test]
fn the_cycle_bounds_every_attempt_and_upi_loses_its_last_day() {
    let upi = Rail::UpiAutopay.rules();
    let m = mandate(MandateKind::UpiAutopay);
    let notice = Some(Slot::new(date(2026, 3, 1), 0));
    let at = |d: Date| check_attempt(&upi, &m, &intent(), &[], Slot::new(d, 8), notice);
    assert_eq!(code(at(date(2026, 3, 1))), Some("rail.cycle"));
    assert_eq!(code(at(date(2026, 4, 5))), Some("rail.cycle"));
    assert_eq!(code(at(date(2026, 4, 4))), Some("rail.last_day"));
    assert_eq!(code(at(date(2026, 4, 3))), None);
    let nach = mandate(MandateKind::Enach);
    let last = Slot::new(date(2026, 4, 4), 8);
    assert_eq!(
        code(check_attempt(
            &Rail::Nach.rules(),
            &nach,
            &intent(),
            &[],
            last,
            None
        )),
        None
    );
}

#[test]
fn a_failure_retries_only_as_its_class_allows() {
    let rules = Rail::Nach.rules();
    let m = mandate(MandateKind::Enach);
    let first = Slot::new(date(2026, 3, 5), 10);
    let next = Slot::new(date(2026, 3, 8), 10);
    let after = |c: &str| {
        let a = [failed(Rail::Nach, c, 1, first)];
        code(check_attempt(&rules, &m, &intent(), &a, next, None))
    };
    assert_eq!(after("04"), None, "insufficient funds: retry");
    assert_eq!(after("59"), None, "network failure: retry quietly");
    assert_eq!(after("01"), Some("rail.not_retryable"), "account closed");
    assert_eq!(after("61"), Some("rail.not_retryable"), "mandate cancelled");
    assert_eq!(
        after("74"),
        Some("rail.not_retryable"),
        "fix the file first"
    );
    assert_eq!(after("13"), Some("rail.duplicate"));
    assert_eq!(after("98"), Some("rail.pending"));
    assert_eq!(
        after("ZZ"),
        Some("rail.not_retryable"),
        "unknown codes are reviewed"
    );
}

#[test]
fn ach_re_initiates_r01_at_most_twice() {
    let rules = Rail::Ach.rules();
    let m = mandate(MandateKind::Ach);
    let day = |d| Slot::new(date(2026, 3, d), 10);
    let a = [
        failed(Rail::Ach, "R01", 1, day(5)),
        failed(Rail::Ach, "R01", 2, day(8)),
    ];
    assert_eq!(
        code(check_attempt(&rules, &m, &intent(), &a, day(11), None)),
        None
    );
    let b = [
        failed(Rail::Ach, "R01", 1, day(5)),
        failed(Rail::Ach, "R09", 2, day(8)),
        failed(Rail::Ach, "R01", 3, day(11)),
    ];
    let r = check_attempt(&rules, &m, &intent(), &b, day(14), None);
    assert!(matches!(
        code(r),
        Some("rail.reinitiations" | "rail.attempts")
    ));
    let stopped = [failed(Rail::Ach, "R08", 1, day(5))];
    assert_eq!(
        code(check_attempt(&rules, &m, &intent(), &stopped, day(8), None)),
        Some("rail.not_retryable"),
        "R08 needs a new authorisation"
    );
}

#[test]
fn the_mandate_bounds_the_debit() {
    let rules = Rail::Nach.rules();
    let mut m = mandate(MandateKind::Enach);
    m.max_amount_minor = 1_000_000;
    let at = Slot::new(date(2026, 3, 5), 10);
    assert_eq!(
        code(check_attempt(&rules, &m, &intent(), &[], at, None)),
        Some("mandate.max_amount")
    );
    m.max_amount_minor = 5_000_000;
    m.status = MandateStatus::Paused {
        since: date(2026, 3, 1),
    };
    assert_eq!(
        code(check_attempt(&rules, &m, &intent(), &[], at, None)),
        Some("mandate.active")
    );
}

#[test]
fn slots_count_hours_across_days() {
    let a = Slot::new(date(2026, 3, 4), 8);
    assert_eq!(a.hours_until(Slot::new(date(2026, 3, 5), 8)), 24);
    assert_eq!(a.hours_until(Slot::new(date(2026, 3, 4), 5)), -3);
    assert_eq!(Slot::new(date(2026, 3, 4), 40).hour, 23);
}
