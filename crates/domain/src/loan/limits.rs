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
pub(super) fn amount(kind: &EventKind) -> Option<i64> {
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
    check_count(events, 0)?;
    check_amounts(terms, events, 0)
}

/// Refuse `events` if, after `before` events already stored, the loan would carry more than
/// [`MAX_EVENTS`]. Indexes in errors are stored indexes (`before` + position in `events`).
pub(super) fn check_count(events: &[Event], before: usize) -> Result<(), ReplayError> {
    if before.saturating_add(events.len()) > MAX_EVENTS {
        let index = MAX_EVENTS.max(before);
        let Some(event) = events.get(index - before) else {
            return Ok(());
        };
        return Err(fail(
            index,
            event,
            (
                "events",
                format!("a loan carries at most {MAX_EVENTS} events"),
            ),
        ));
    }
    Ok(())
}

/// Refuse an amount outside `0..=MAX_AMOUNT_MAJOR` among `events`, stored from index `before` on.
pub(super) fn check_amounts(
    terms: &Terms,
    events: &[Event],
    before: usize,
) -> Result<(), ReplayError> {
    let max = terms.currency.max_amount_minor();
    for (index, event) in (before..).zip(events) {
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
