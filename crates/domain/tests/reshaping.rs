//! Re-shaping a schedule with money received ahead of it keeps the principal and the due dates.

use jiff::civil::date;
use loanbook_domain::events::{Event, EventKind, PrepaymentAdjust};
use loanbook_domain::loan::{Engine, Status, replay};
use loanbook_domain::terms::Terms;

fn terms(json: &str) -> Terms {
    Terms::from_json(json).unwrap_or_else(|e| panic!("{e}"))
}

fn disbursement(amount: i64) -> Event {
    Event {
        date: date(2023, 11, 1),
        kind: EventKind::Disbursement {
            amount,
            reference: None,
        },
    }
}

/// Shortening an equal-principal loan during its moratorium keeps the moratorium instalments and
/// spreads the principal over the instalments after them (it once fitted the whole balance into
/// the moratorium's interest-only instalments, and the principal vanished).
#[test]
fn reduce_tenure_in_a_moratorium_keeps_the_principal() {
    let t = terms(
        r#"{"currency": "INR", "principal": "10000.00", "annual_rate": "11.6",
            "method": "equal_principal", "installments": 7, "frequency": "quarterly",
            "disbursement_date": "2023-11-01", "moratorium": {"periods": 3, "interest": "pay"}}"#,
    );
    let events = [
        disbursement(1_000_000),
        Event {
            date: date(2023, 11, 1),
            kind: EventKind::Prepayment {
                amount: 250_000,
                adjust: PrepaymentAdjust::ReduceTenure,
                reference: "P1".into(),
            },
        },
    ];
    let mut e = Engine::new(&t);
    e.run(&t, &events, date(2023, 11, 1)).expect("replays");
    assert_eq!(e.principal_outstanding(), 750_000);
    assert_eq!(e.dues.iter().map(|d| d.principal).sum::<i64>(), 750_000);
    let principal: Vec<i64> = e.dues.iter().map(|d| d.principal).collect();
    assert_eq!(principal, [0, 0, 0, 250_000, 250_000, 250_000]);
    assert!(e.dues[..3].iter().all(|d| d.moratorium));
}

/// A bullet loan re-shaped by an early payment (`excess: reduce_tenure`) keeps its one due date at
/// maturity, and its state on a day does not depend on the day it is read at.
#[test]
fn a_reshaped_bullet_stays_due_at_maturity() {
    let t = terms(
        r#"{"currency": "INR", "principal": "10000.00", "annual_rate": "11.6", "method": "bullet",
            "installments": 3, "frequency": "monthly", "disbursement_date": "2023-11-01",
            "excess": "reduce_tenure"}"#,
    );
    let events = [
        disbursement(1_000_000),
        Event {
            date: date(2023, 12, 1),
            kind: EventKind::Payment {
                amount: 1_029_000,
                reference: "R1".into(),
                channel: None,
            },
        },
    ];
    let mut e = Engine::new(&t);
    e.run(&t, &events, date(2023, 12, 1)).expect("replays");
    assert_eq!(e.dues.len(), 1);
    assert_eq!(e.dues[0].due_date, date(2024, 2, 1));
    let on = |d| replay(&t, &events, d).expect("replays");
    assert_eq!(on(date(2023, 12, 2)).status, Status::Active);
    let closed = on(date(2024, 2, 1));
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(closed.closed_on, Some(date(2024, 2, 1)));
    assert_eq!(on(date(2024, 3, 1)).closed_on, Some(date(2024, 2, 1)));
}
