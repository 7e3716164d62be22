//! Limits on a loan's event list, checked before any replay: with them, every sum of amounts a
//! replay makes stays far inside `i64` minor units.

use crate::events::{Event, EventKind};
use crate::terms::{Terms, amount_limit_rule};

use super::{ReplayError, fail};

/// Most events one loan may carry: a daily payment for over a hundred years. With every amount at
/// most [`crate::money::MAX_AMOUNT_MAJOR`], the sum of all of a loan's amounts (5 × 10^18 minor
/// units at most) fits in `i64`.
pub const MAX_EVENTS: usize = 50_000;

/// The amount an event carries, if any.
fn amount(kind: &EventKind) -> Option<i64> {
    match kind {
        EventKind::Disbursement { amount, .. }
        | EventKind::Payment { amount, .. }
        | EventKind::Charge { amount, .. }
        | EventKind::Waiver { amount, .. }
        | EventKind::Prepayment { amount, .. }
        | EventKind::Recovery { amount, .. }
        | EventKind::Settlement { amount, .. }
        | EventKind::Foreclosure { amount, .. } => Some(*amount),
        EventKind::Restructure {
            installment_amount, ..
        } => *installment_amount,
        _ => None,
    }
}

/// Refuse a list longer than [`MAX_EVENTS`] or an amount outside `0..=MAX_AMOUNT_MAJOR` (events
/// built in code rather than parsed are held to the same limit as parsed ones).
pub(super) fn check_limits(terms: &Terms, events: &[Event]) -> Result<(), ReplayError> {
    if events.len() > MAX_EVENTS {
        let index = MAX_EVENTS;
        let event = &events[index];
        return Err(fail(
            index,
            event,
            (
                "events",
                format!("a loan carries at most {MAX_EVENTS} events"),
            ),
        ));
    }
    let max = terms.currency.max_amount_minor();
    for (index, event) in events.iter().enumerate() {
        match amount(&event.kind) {
            Some(a) if a > max => {
                return Err(fail(
                    index,
                    event,
                    ("amount", amount_limit_rule(terms.currency)),
                ));
            }
            Some(a) if a < 0 => {
                return Err(fail(
                    index,
                    event,
                    ("amount", "must not be negative".into()),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
