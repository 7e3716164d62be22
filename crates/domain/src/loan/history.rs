//! Proof that a loan's history replays on every day, at the cost of a few replays.

use crate::calendar::Date;
use crate::events::{Event, EventKind};
use crate::terms::Terms;

use super::{Engine, LoanState, ReplayError, replay};

/// Prove that `events` replay on every date from the first event's to `through`, and return the
/// state at the end of `through`. A write path calls it with the list as it would be after the
/// write, so that nothing that cannot be replayed is ever recorded.
///
/// It does not replay every date. `replay(as_of)` folds the events dated on or before `as_of` day
/// by day, and what it does on a day depends only on the events of that day and before, with one
/// exception: a `payment_reversal` dated on or before `as_of` takes its receipt out of the whole
/// history. So between two consecutive reversal dates the set of receipts left out is fixed, and
/// the replay to any day of that stretch is a prefix of the replay to its last day: if the last
/// day replays, so does every earlier day of the stretch (the quiet days between events cannot
/// fail, and an event that fails fails on its own date whatever comes after it). The other rules
/// that read beyond a day (a receipt reference names one receipt; a reversal names an earlier
/// receipt) are checked on the whole list whatever `as_of` is. Hence it suffices to replay at the
/// eve of each distinct reversal date (the last day of each stretch before one) and at `through`.
/// A loan without reversals costs one replay; each distinct reversal date adds one.
///
/// Days before the first event replay to an empty loan and cannot fail.
pub fn check_history(
    terms: &Terms,
    events: &[Event],
    through: Date,
) -> Result<LoanState, ReplayError> {
    let Some(first) = events.iter().map(|e| e.date).min() else {
        return replay(terms, events, through);
    };
    let mut eves: Vec<Date> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::PaymentReversal { .. }) && e.date <= through)
        .filter_map(|e| e.date.yesterday().ok())
        .filter(|eve| *eve >= first)
        .collect();
    eves.sort_unstable();
    eves.dedup();
    for eve in eves {
        Engine::new(terms).run(terms, events, eve)?;
    }
    replay(terms, events, through)
}
