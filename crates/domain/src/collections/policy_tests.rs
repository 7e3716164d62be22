use super::*;
use crate::collections::failure::FailureTable;
use crate::collections::rail::Rail;
use jiff::civil::date;

pub(crate) fn intent() -> Intent {
    Intent {
        loan_id: "L1".into(),
        installment: 2,
        due_date: date(2026, 3, 5),
        amount: 1_000_000,
        cycle_start: date(2026, 3, 2),
        cycle_end: date(2026, 4, 4),
    }
}

pub(crate) fn failed(rail: Rail, code: &str, n: u32, at: Slot) -> Attempt {
    Attempt {
        n,
        at,
        notice_at: None,
        amount: 1_000_000,
        outcome: Outcome::Failed {
            failure: FailureTable::seed().classify(rail, code, ""),
        },
        why: String::new(),
    }
}

fn at(d: Decision) -> Option<Slot> {
    match d {
        Decision::Present { at, .. } => Some(at),
        Decision::Stop { .. } => None,
    }
}

#[test]
fn fixed_presents_on_the_due_date_and_retries_every_three_days_twice() {
    let rules = Rail::Nach.rules();
    let intent = intent();
    let p = FixedPolicy::default();
    let case = |attempts: &[Attempt]| {
        p.decide(&Case {
            intent: &intent,
            rules: &rules,
            bank: "HDFC",
            borrower: "B1",
            attempts,
            earliest: Slot::new(date(2026, 3, 1), 9),
        })
    };
    assert_eq!(at(case(&[])), Some(Slot::new(date(2026, 3, 5), 10)));
    let one = [failed(Rail::Nach, "04", 1, Slot::new(date(2026, 3, 5), 10))];
    assert_eq!(at(case(&one)), Some(Slot::new(date(2026, 3, 8), 10)));
    let two = [
        one[0].clone(),
        failed(Rail::Nach, "04", 2, Slot::new(date(2026, 3, 8), 10)),
    ];
    assert_eq!(at(case(&two)), Some(Slot::new(date(2026, 3, 11), 10)));
    let three = [
        two[0].clone(),
        two[1].clone(),
        failed(Rail::Nach, "04", 3, Slot::new(date(2026, 3, 11), 10)),
    ];
    assert!(matches!(case(&three), Decision::Stop { .. }));
    let closed = [failed(Rail::Nach, "01", 1, Slot::new(date(2026, 3, 5), 10))];
    match case(&closed) {
        Decision::Stop { why } => assert!(why.contains("hard") && why.contains("stop_and_contact")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fixed_keeps_to_upi_hours_and_its_cycle() {
    let rules = Rail::UpiAutopay.rules();
    let mut intent = intent();
    let p = FixedPolicy::default();
    let case = |intent: &Intent, attempts: &[Attempt]| {
        let c = Case {
            intent,
            rules: &rules,
            bank: "HDFC",
            borrower: "B1",
            attempts,
            earliest: Slot::new(date(2026, 3, 1), 9),
        };
        p.decide(&c)
    };
    // 10:00 is peak for UPI: 13:00 instead.
    assert_eq!(
        at(case(&intent, &[])),
        Some(Slot::new(date(2026, 3, 5), 13))
    );
    intent.cycle_end = date(2026, 3, 8);
    let one = [failed(
        Rail::UpiAutopay,
        "Z9",
        1,
        Slot::new(date(2026, 3, 5), 13),
    )];
    // The retry would fall on the cycle's last day, which fails on UPI.
    assert!(matches!(case(&intent, &one), Decision::Stop { .. }));
}
