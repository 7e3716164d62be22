//! One loan through one day's close, in pure code: resume the engine from its snapshot to the end
//! of the day, post the effects that no earlier close posted, and say what to write.
//!
//! What a close has posted for a loan is its [`EodMark`]: the events the close had read
//! (`version`), the day it closed (`day`), the interest earned to that day (`earned`), the
//! provision held and whether the loan was NPA. An effect is new when its event was stored after
//! the mark or is dated after the marked day; a day-end effect is new when it is dated after
//! the marked day.
//!
//! A loan whose history changed under the mark (an event back-dated to the marked day or before, a
//! reversal of a receipt applied then, a loan the close has never seen) is *reposted*: its whole
//! history is replayed, and one adjustment entry moves its GL position from what the journal holds
//! to what the replay gives. Both balance, so the adjustment does.

use std::collections::BTreeMap;

use loanbook_domain::calendar::Date;
use loanbook_domain::delinquency::Classification;
use loanbook_domain::events::Event;
use loanbook_domain::gl::{self, JournalEntry, Position, Poster, Role};
use loanbook_domain::loan::{self, Effect, LoanState, Resumed, Snapshot};
use loanbook_domain::provisioning::{self, ProvisionRates};
use loanbook_domain::terms::Terms;
use loanbook_store::{EodMark, NewSnapshot, Projection};

use crate::servicing::projection;

/// What the close knows of one loan before closing the day.
pub(crate) struct LoanInput {
    pub(crate) loan_id: String,
    pub(crate) product: Option<String>,
    pub(crate) partners: Vec<String>,
    pub(crate) terms: Terms,
    /// The newest snapshot, or [`Snapshot::zero`].
    pub(crate) snapshot: Snapshot,
    /// The stored events after the snapshot's version, in stored order.
    pub(crate) tail: Vec<Event>,
    pub(crate) mark: Option<EodMark>,
    /// For a repost: every stored event and the loan's GL position as the journal holds it.
    pub(crate) history: Option<History>,
}

/// What a repost reads besides the close's chunk.
pub(crate) struct History {
    pub(crate) events: Vec<Event>,
    pub(crate) journal: Position,
}

/// What closing the day did to one loan.
pub(crate) struct LoanClosed {
    pub(crate) loan_id: String,
    pub(crate) product: Option<String>,
    /// The projection as of the new business date.
    pub(crate) projection: Projection,
    /// A snapshot at the end of the closed day, when the loan changed.
    pub(crate) snapshot: Option<NewSnapshot>,
    pub(crate) mark: EodMark,
    /// Balanced entries for this loan (its effects, an adjustment, the provision movement).
    pub(crate) entries: Vec<JournalEntry>,
    /// Interest earned today (may be negative: a reversal), for the product's summary accrual.
    pub(crate) accrued: i64,
    /// Whether the loan is NPA at the end of the day (its accrual goes to suspense).
    pub(crate) npa: bool,
    /// Whether anything about the loan changed beyond the passing of the day.
    pub(crate) changed: bool,
}

/// The outcome for one loan.
pub(crate) enum Outcome {
    Closed(Box<LoanClosed>),
    /// Its history changed under the mark: read its events and journal, then close it again.
    NeedsHistory,
    /// It does not replay: reported, and left as it was.
    Failed(String),
}

/// Close `date` for one loan; `rates` prices its provision.
pub(crate) fn close_loan(input: &LoanInput, date: Date, rates: &ProvisionRates) -> Outcome {
    match input.history {
        Some(_) => repost(input, date, rates),
        None => match normal(input, date) {
            Ok(Some((resumed, effects))) => finish(input, date, rates, resumed, effects, None),
            Ok(None) => Outcome::NeedsHistory,
            Err(e) => Outcome::Failed(e),
        },
    }
}

/// The usual path: the snapshot and the tail carry the loan to `date`; the new effects.
fn normal(input: &LoanInput, date: Date) -> Result<Option<(loan::Resumption, Vec<Effect>)>, String> {
    let Some(mark) = &input.mark else {
        return Ok(None);
    };
    let marked_day: Date = mark
        .day
        .parse()
        .map_err(|e| format!("mark day `{}`: {e}", mark.day))?;
    let base = input.snapshot.version;
    if base > mark.version || input.snapshot.day > marked_day {
        return Ok(None);
    }
    let stored_after_mark = |index: usize| index as i64 >= mark.version;
    let base_index = usize::try_from(base).unwrap_or(usize::MAX);
    let rewritten = input
        .tail
        .iter()
        .enumerate()
        .any(|(k, e)| stored_after_mark(base_index + k) && e.date <= marked_day);
    if rewritten {
        return Ok(None);
    }
    let resumed = loan::snapshot::resume(&input.terms, &input.snapshot, &input.tail, date)
        .map_err(|e| e.to_string())?;
    let Resumed::Applied(resumed) = resumed else {
        return Ok(None);
    };
    let event_date = |index: usize| {
        index
            .checked_sub(base_index)
            .and_then(|k| input.tail.get(k))
            .map(|e| e.date)
    };
    let new: Vec<Effect> = resumed
        .effects
        .iter()
        .filter(|e| match e.event {
            Some(i) => stored_after_mark(i) || event_date(i).is_some_and(|d| d > marked_day),
            None => e.date > marked_day,
        })
        .cloned()
        .collect();
    Ok(Some((*resumed, new)))
}

/// Replay the whole history and move the loan's GL position to the replay's.
fn repost(input: &LoanInput, date: Date, rates: &ProvisionRates) -> Outcome {
    let Some(history) = &input.history else {
        return Outcome::Failed("a repost needs the loan's history".into());
    };
    let (state, effects) = match loan::replay_with_effects(&input.terms, &history.events, date) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let snapshot = match Snapshot::take(&input.terms, &history.events, date) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let mut poster = Poster::new(
        &input.loan_id,
        input.product.as_deref(),
        &input.partners,
        false,
    );
    let replayed: Vec<JournalEntry> = effects.iter().flat_map(|e| poster.post(e)).collect();
    let target = gl::position(&replayed);
    let adjustment = gl::adjustment(
        date,
        &input.loan_id,
        input.product.as_deref(),
        &history.journal,
        &target,
    );
    let resumed = loan::Resumption {
        snapshot,
        state,
        effects: Vec::new(),
    };
    // As if the whole history were the tail of an empty snapshot.
    let whole = LoanInput {
        loan_id: input.loan_id.clone(),
        product: input.product.clone(),
        partners: input.partners.clone(),
        terms: input.terms.clone(),
        snapshot: Snapshot::zero(&input.terms),
        tail: history.events.clone(),
        mark: input.mark.clone(),
        history: None,
    };
    finish(&whole, date, rates, resumed, Vec::new(), Some(adjustment))
}

/// The interest a loan has earned to the end of `date`: what has fallen due and what has accrued
/// since. The day's accrual is its rise.
pub(crate) fn earned(state: &LoanState, date: Date) -> i64 {
    let fallen: i64 = state
        .installments
        .iter()
        .filter(|i| i.due_date <= date)
        .map(|i| i.interest)
        .sum();
    fallen + state.balances.interest_accrued
}

/// Post the effects, the provision movement and the accrual; build the writes.
fn finish(
    input: &LoanInput,
    date: Date,
    rates: &ProvisionRates,
    resumed: loan::Resumption,
    effects: Vec<Effect>,
    adjustment: Option<Option<JournalEntry>>,
) -> Outcome {
    let was_npa = input.mark.as_ref().is_some_and(|m| m.npa);
    let mut poster = Poster::new(
        &input.loan_id,
        input.product.as_deref(),
        &input.partners,
        was_npa,
    );
    let mut entries: Vec<JournalEntry> = effects.iter().flat_map(|e| poster.post(e)).collect();
    let reposted = adjustment.is_some();
    if let Some(Some(entry)) = adjustment {
        entries.push(entry);
    }
    let state = &resumed.state;
    let npa = state.classification == Classification::Npa;
    let provision = provisioning::provision(
        rates,
        state.asset_class,
        state.balances.principal_outstanding,
        0,
    );
    let held = input.mark.as_ref().map_or(0, |m| m.provision);
    if let Some(entry) = gl::provision_entry(
        date,
        &input.loan_id,
        input.product.as_deref(),
        held,
        provision,
    ) {
        entries.push(entry);
    }
    let earned_now = earned(state, date);
    let accrued = earned_now - input.mark.as_ref().map_or(0, |m| m.earned);
    let version = input.snapshot.version + input.tail.len() as i64;
    let changed = reposted
        || !effects.is_empty()
        || provision != held
        || input.mark.as_ref().is_none_or(|m| m.version != version);
    let after = resumed.snapshot.version;
    let snapshot = changed.then(|| NewSnapshot {
        version: after,
        day: date.to_string(),
        engine: resumed.snapshot.to_json().unwrap_or_default(),
    });
    let next_day = date.tomorrow().unwrap_or(date);
    let projected = project(input, &resumed.snapshot, after, next_day)
        .unwrap_or_else(|| resumed.state.clone());
    Outcome::Closed(Box::new(LoanClosed {
        loan_id: input.loan_id.clone(),
        product: input.product.clone(),
        projection: projection(&input.loan_id, version, &projected),
        snapshot,
        mark: EodMark {
            loan_id: input.loan_id.clone(),
            version,
            day: date.to_string(),
            earned: earned_now,
            provision,
            npa,
        },
        entries,
        accrued,
        npa,
        changed,
    }))
}

/// The state on the new business date: the day's snapshot carried one day on with the events it
/// does not cover. `None` when that cannot be done from the snapshot.
fn project(input: &LoanInput, snapshot: &Snapshot, after: i64, day: Date) -> Option<LoanState> {
    let skip = usize::try_from(after - input.snapshot.version).ok()?;
    let rest = input.tail.get(skip..)?;
    match loan::snapshot::resume(&input.terms, snapshot, rest, day).ok()? {
        Resumed::Applied(r) => Some(r.state),
        Resumed::NeedsEarlier(_) => None,
    }
}

/// The GL position of a loan's journal lines, by role: `accounts` maps each account code to its
/// role; a line on an account the chart does not know is kept under no role and reported.
pub(crate) fn journal_position(
    lines: &[loanbook_store::GlLine],
    roles: &BTreeMap<String, Role>,
) -> Result<Position, String> {
    let mut position = Position::new();
    for line in lines {
        let role = roles
            .get(&line.account)
            .ok_or_else(|| format!("journal line {} is on unknown account `{}`", line.id, line.account))?;
        *position
            .entry((*role, line.partner_id.clone()))
            .or_insert(0) += line.debit - line.credit;
    }
    Ok(position)
}
