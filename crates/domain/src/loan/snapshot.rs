//! Snapshots: the engine at the end of a day, with the number of stored events it covers, so that
//! a command, a read or the close of business resumes from it at the cost of the new events only.
//!
//! Replay from zero stays the reference: resuming a snapshot with the events stored after it
//! gives exactly the state (and, for those events and the day-ends after the snapshot, the
//! effects) of a full replay. When it cannot (an event back-dated to the snapshot's day or before,
//! or a reversal of a receipt the snapshot applied) it says so, and the caller resumes from an
//! earlier snapshot or from [`Snapshot::zero`].

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::events::Event;
use crate::terms::Terms;

use super::receipts::{self, Prior};
use super::replay::ordered;
use super::{Effect, Engine, LoanState, ReplayError, day_after, limits};

/// The version of the snapshot JSON encoding; [`Snapshot::from_json`] refuses any other.
///
/// Format 2 keeps of each receipt its reference and date (format 1 also kept its amount and where
/// it went, which nothing after the receipt's day reads): a snapshot of format 1 is refused, and
/// the caller takes a new one from the events.
pub const SNAPSHOT_FORMAT: u32 = 2;

/// The engine after the first `version` stored events, at the end of `day`.
///
/// Every covered event is dated on or before `day`; events stored after `version` may have been
/// applied too when dated on or before `day` (a resume then asks for an earlier snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: u32,
    /// Number of stored events covered (a stream version).
    pub version: i64,
    /// The last day whose day-end the engine ran; [`Date::MIN`] before the first disbursement.
    pub day: Date,
    pub engine: Engine,
}

/// Why a snapshot's JSON was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot JSON: {0}")]
    Json(String),
    #[error(
        "snapshot format {found}: this build reads format {SNAPSHOT_FORMAT} only; take a new \
         snapshot from the events"
    )]
    Format { found: u32 },
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// Why new events cannot be applied on top of a snapshot: an earlier one (whose `day` is before
/// `before`), or replay from zero, is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsEarlier {
    /// A snapshot to resume from must have ended before this day.
    pub before: Date,
    /// Stored index of the event that needs it (`None`: the date asked for is before the
    /// snapshot's day).
    pub index: Option<usize>,
    pub reason: &'static str,
}

/// What resuming gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// The new events applied: the snapshot after them, the state at `as_of` and the effects of
    /// the new events and of the day-ends after the old snapshot's day.
    Applied(Box<Resumption>),
    NeedsEarlier(NeedsEarlier),
}

/// A successful resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumption {
    pub snapshot: Snapshot,
    pub state: LoanState,
    pub effects: Vec<Effect>,
}

impl Snapshot {
    /// The snapshot of a loan with no events: resuming it is a full replay.
    pub fn zero(terms: &Terms) -> Snapshot {
        Snapshot {
            format: SNAPSHOT_FORMAT,
            version: 0,
            day: Date::MIN,
            engine: Engine::new(terms),
        }
    }

    /// Replay the stored `events` to the end of `as_of` and snapshot the engine. It covers the
    /// longest run of the first events dated on or before `as_of` (all of them, unless some are
    /// dated later).
    pub fn take(terms: &Terms, events: &[Event], as_of: Date) -> Result<Snapshot, ReplayError> {
        let covered = events.iter().take_while(|e| e.date <= as_of).count();
        let mut engine = Engine::new(terms);
        engine.run(terms, &events[..covered], as_of)?;
        Ok(Snapshot::of(engine, covered))
    }

    fn of(mut engine: Engine, covered: usize) -> Snapshot {
        engine.receipts.seal();
        Snapshot {
            format: SNAPSHOT_FORMAT,
            version: i64::try_from(covered).unwrap_or(i64::MAX),
            day: engine.day.unwrap_or(Date::MIN),
            engine,
        }
    }

    /// The stable JSON encoding.
    pub fn to_json(&self) -> Result<String, SnapshotError> {
        serde_json::to_string(self).map_err(|e| SnapshotError::Json(e.to_string()))
    }

    /// Read a snapshot written by [`Snapshot::to_json`]. Any other input is refused with an error,
    /// never a panic; a snapshot whose indexes do not fit its instalments is refused too.
    pub fn from_json(json: &str) -> Result<Snapshot, SnapshotError> {
        /// The format alone, read first so that another format is named as such.
        #[derive(Deserialize)]
        struct Header {
            format: u32,
        }
        let json_error = |e: serde_json::Error| SnapshotError::Json(e.to_string());
        // `to_json` writes the format first: read it from there without a pass over the rest.
        let written = format!("{{\"format\":{SNAPSHOT_FORMAT},");
        if !json.starts_with(&written) {
            let header: Header = serde_json::from_str(json).map_err(json_error)?;
            if header.format != SNAPSHOT_FORMAT {
                return Err(SnapshotError::Format {
                    found: header.format,
                });
            }
        }
        let snapshot: Snapshot = serde_json::from_str(json).map_err(json_error)?;
        snapshot.check()?;
        Ok(snapshot)
    }

    /// The engine's own invariants, which a replay keeps and code reading the engine relies on.
    fn check(&self) -> Result<(), SnapshotError> {
        let e = &self.engine;
        let fail = |rule| Err(SnapshotError::Inconsistent(rule));
        if self.version < 0 || usize::try_from(self.version).is_ok_and(|v| v > limits::MAX_EVENTS) {
            return fail("version is outside 0..=MAX_EVENTS");
        }
        if e.day.unwrap_or(Date::MIN) != self.day {
            return fail("day is not the engine's day");
        }
        if e.receipts.len() > limits::MAX_EVENTS || e.voided.len() > limits::MAX_EVENTS {
            return fail("more receipts than MAX_EVENTS");
        }
        if e.fallen > e.dues.len() || e.settled > e.fallen {
            return fail("instalment indexes past the instalments");
        }
        // Every figure stays far inside i64 (as a replay's figures do under the amount limits).
        const BOUND: i64 = 1 << 60;
        let in_bound = |v: i64| (-BOUND..=BOUND).contains(&v);
        let dues_ok = e.dues.iter().all(|d| {
            [
                d.principal,
                d.interest,
                d.paid_principal,
                d.paid_interest,
                d.waived_interest,
                d.capitalised,
                d.capitalises,
                d.opening_balance,
            ]
            .into_iter()
            .all(in_bound)
        });
        let charges_ok = e
            .charges
            .iter()
            .all(|c| [c.amount, c.paid, c.waived].into_iter().all(in_bound));
        let totals_ok = [
            e.installment_amount,
            e.disbursed,
            e.capitalised,
            e.prepaid,
            e.penal_accrued,
            e.recovered,
            e.first_extra,
        ]
        .into_iter()
        .chain(e.excess.iter().map(|(_, a)| *a))
        .chain(e.partners.iter().flat_map(|p| {
            [
                p.principal_funded,
                p.principal_received,
                p.interest_received,
                p.charges_received,
            ]
        }))
        .all(in_bound);
        if !(dues_ok && charges_ok && totals_ok) {
            return fail("an amount is out of range");
        }
        Ok(())
    }
}

/// Apply `new_events` (the events stored after the snapshot's version, in stored order) on top of
/// `snapshot` and run to the end of `as_of`, at the cost of the new events only: the checks that a
/// full replay makes over all events (limits, receipt references, reversals) are made from the
/// snapshot's own indexes and the new events.
///
/// Returns [`Resumed::NeedsEarlier`] when the snapshot cannot carry them: a new event dated on or
/// before the snapshot's day, a reversal (dated on or before `as_of`) of a receipt the snapshot
/// applied, or an `as_of` before the snapshot's day.
///
/// The snapshot's receipts, the one part that grows with every event, are shared rather than
/// copied: what is copied is bounded by the instalments, charges and classification history.
pub fn resume(
    terms: &Terms,
    snapshot: &Snapshot,
    new_events: &[Event],
    as_of: Date,
) -> Result<Resumed, ReplayError> {
    match admit(terms, snapshot, new_events, as_of)? {
        Ok(order) => carry(
            terms,
            snapshot.engine.clone(),
            &order,
            snapshot,
            new_events,
            as_of,
        ),
        Err(needs) => Ok(Resumed::NeedsEarlier(needs)),
    }
}

/// [`resume`] taking the snapshot by value: nothing of it is copied, so the cost is that of the
/// new events and days alone.
pub fn resume_owned(
    terms: &Terms,
    snapshot: Snapshot,
    new_events: &[Event],
    as_of: Date,
) -> Result<Resumed, ReplayError> {
    match admit(terms, &snapshot, new_events, as_of)? {
        Ok(order) => {
            let header = Snapshot {
                engine: Engine::new(terms),
                ..snapshot
            };
            carry(terms, snapshot.engine, &order, &header, new_events, as_of)
        }
        Err(needs) => Ok(Resumed::NeedsEarlier(needs)),
    }
}

/// Events with their stored indexes, in application order.
type Ordered<'e> = Vec<(usize, &'e Event)>;

/// The checks of [`resume`]: the new events in application order with their stored indexes, or
/// why an earlier snapshot is needed.
fn admit<'e>(
    terms: &Terms,
    snapshot: &Snapshot,
    new_events: &'e [Event],
    as_of: Date,
) -> Result<Result<Ordered<'e>, NeedsEarlier>, ReplayError> {
    let engine = &snapshot.engine;
    let base = usize::try_from(snapshot.version).unwrap_or(usize::MAX);
    let refuse = |rule: String| ReplayError {
        index: base,
        event: "snapshot",
        date: snapshot.day,
        field: "snapshot",
        rule,
    };
    if engine.partners.len() != terms.partners.len() {
        return Err(refuse(format!(
            "the snapshot has {} co-lenders and the terms {}: it is not this loan's",
            engine.partners.len(),
            terms.partners.len()
        )));
    }
    if let Some(day) = engine.day {
        if as_of < day {
            return Ok(Err(NeedsEarlier {
                before: day_after(as_of),
                index: None,
                reason: "the date asked for is before the snapshot's day",
            }));
        }
        if let Some((index, event)) = (base..)
            .zip(new_events)
            .filter(|(_, e)| e.date <= day)
            .min_by_key(|(_, e)| e.date)
        {
            return Ok(Err(NeedsEarlier {
                before: event.date,
                index: Some(index),
                reason: "an event is dated on or before the snapshot's day",
            }));
        }
    }
    limits::check_count(new_events, base)?;
    limits::check_amounts(terms, new_events, base)?;
    let order: Vec<(usize, &Event)> = ordered(new_events)
        .into_iter()
        .map(|(i, e)| (base + i, e))
        .collect();
    let prior = |reference: &str| {
        engine
            .receipts
            .get(reference)
            .map(Prior::Applied)
            .or_else(|| engine.voided.get(reference).map(|on| Prior::Reversed(*on)))
    };
    let prior_reversals = receipts::check_references_after(new_events, &order, base, prior)?;
    if let Some(r) = prior_reversals
        .iter()
        .filter(|r| r.reversal_date <= as_of)
        .min_by_key(|r| r.receipt_date)
    {
        return Ok(Err(NeedsEarlier {
            before: r.receipt_date,
            index: Some(r.index),
            reason: "a reversal takes out a receipt the snapshot applied",
        }));
    }
    Ok(Ok(order))
}

/// Run `engine` (the snapshot's) over the admitted `order` to the end of `as_of`.
fn carry(
    terms: &Terms,
    mut next: Engine,
    order: &[(usize, &Event)],
    snapshot: &Snapshot,
    new_events: &[Event],
    as_of: Date,
) -> Result<Resumed, ReplayError> {
    let base = usize::try_from(snapshot.version).unwrap_or(usize::MAX);
    let voided = receipts::voided_receipts(order, as_of);
    next.effects.start();
    let result = next.fold(terms, order, &voided, as_of, base + new_events.len());
    let effects = next.effects.finish();
    result?;
    let covered = new_events.iter().take_while(|e| e.date <= as_of).count();
    let state = LoanState::new(terms, &next, as_of);
    Ok(Resumed::Applied(Box::new(Resumption {
        snapshot: Snapshot::of(next, base + covered),
        state,
        effects,
    })))
}
