//! One loan through one day's close, in pure code: resume the engine from its snapshot to the end
//! of the day, post what happened, and say what to write.
//!
//! What the closes have posted for a loan is its [`EodMark`]: the events read (`version`), the
//! day closed (`day`), the summary accruals posted for it (`earned`, of which `suspended` went to
//! interest suspense), the provision held and whether it was NPA.
//!
//! **The usual day.** The loan was closed yesterday and nothing stored since is dated yesterday or
//! before. Its GL position yesterday is what its own state says it should be (the GL reconciled),
//! so the day's entries are posted from there: the day's accrual, then every effect of the day.
//!
//! **A repost.** A loan whose history changed under the mark (an event back-dated to a closed day,
//! a reversal of a receipt applied then), a loan no close has seen, or one not closed yesterday,
//! is replayed from its first event; every effect is posted again on a fresh position, with the
//! accrual caught up before each effect that depends on what the loan carries (a class change, a
//! write-off, a settlement) and at the end. One adjustment entry then moves the loan's GL lines
//! from what its journal holds to what the replay gives, and the summary accruals catch up with
//! the replay's.

use std::collections::BTreeMap;

use loanbook_domain::calendar::Date;
use loanbook_domain::delinquency::Classification;
use loanbook_domain::events::Event;
use loanbook_domain::gl::{self, JournalEntry, Position, Poster, Role};
use loanbook_domain::loan::{
    self, Capitalisation, Effect, EffectKind, LoanState, QuietPlan, Resumed, Resumption, Snapshot,
    Status,
};
use loanbook_domain::provisioning;
use loanbook_domain::terms::Terms;
use loanbook_store::{EodMark, NewSnapshot, PlannedAccrual, Projection};

use crate::provisioning::ProvisioningSetup;
use crate::servicing::projection;

/// What the close knows of one loan before closing the day.
pub(crate) struct LoanInput {
    pub(crate) loan_id: String,
    pub(crate) product: Option<String>,
    pub(crate) terms: Terms,
    /// The newest snapshot, or [`Snapshot::zero`].
    pub(crate) snapshot: Snapshot,
    /// The stored events after the snapshot's version, in stored order.
    pub(crate) tail: Vec<Event>,
    /// What the closes have posted for it, its plan settled to the day before this close
    /// ([`settle_plan`]).
    pub(crate) mark: Option<EodMark>,
    /// Its planned accruals for this day and after, taken back (the close posts from here on).
    pub(crate) unplanned: Vec<PlannedAccrual>,
    /// For a repost: every stored event and the loan's GL lines as its journal holds them.
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
    /// Interest earned today, for the product's summary accruals: to income and to suspense
    /// (either may be negative after a repost).
    pub(crate) accrued_income: i64,
    pub(crate) accrued_suspense: i64,
    /// Whether anything about the loan changed beyond the passing of the day.
    pub(crate) changed: bool,
    /// Changes to the planned summary accruals: the old plan taken back from today, the new one
    /// added for the quiet days ahead.
    pub(crate) planned: Vec<PlannedAccrual>,
}

/// The outcome for one loan.
pub(crate) enum Outcome {
    Closed(Box<LoanClosed>),
    /// Read its events and journal, then close it again as a repost.
    NeedsHistory,
    /// It does not replay or post: reported, and left as it was.
    Failed(String),
}

/// What the day's engine run gave, and what was posted from it.
struct Posted {
    resumed: Resumption,
    entries: Vec<JournalEntry>,
    /// The summary accruals the loan should have in all after today: total, and to suspense.
    earned: i64,
    suspended: i64,
    reposted: bool,
}

/// Close `date` for one loan; `rates` prices its provision.
pub(crate) fn close_loan(input: &LoanInput, date: Date, rates: &ProvisioningSetup) -> Outcome {
    let posted = match &input.history {
        Some(history) => repost(input, history, date),
        None => match usual(input, date) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => return Outcome::NeedsHistory,
            Err(e) => Err(e),
        },
    };
    match posted {
        Ok(p) => finish(input, date, rates, p),
        Err(e) => Outcome::Failed(e),
    }
}

fn poster_for(input: &LoanInput, npa: bool) -> Poster {
    Poster::for_terms(
        &input.loan_id,
        input.product.as_deref().unwrap_or(""),
        &input.terms,
        npa,
    )
}

fn originator(terms: &Terms) -> Option<&str> {
    terms
        .partners
        .iter()
        .find(|p| p.originator)
        .map(|p| p.id.as_str())
}

/// Interest that left "accrued" by an effect: fallen due, or capitalised in a moratorium.
fn accrued_out(effect: &Effect) -> i64 {
    match &effect.kind {
        EffectKind::FellDue { interest, .. } => *interest,
        EffectKind::Capitalised {
            cause: Capitalisation::Moratorium,
            amount,
            ..
        } => *amount,
        _ => 0,
    }
}

/// Whether posting the effect reads what the loan carries (so the accrual must be up to date).
fn reads_position(effect: &Effect) -> bool {
    matches!(
        effect.kind,
        EffectKind::ClassChanged { .. }
            | EffectKind::WrittenOff { .. }
            | EffectKind::Settled { .. }
            | EffectKind::Capitalised { .. }
    )
}

/// The usual day; `None` when the loan must be reposted.
fn usual(input: &LoanInput, date: Date) -> Result<Option<Posted>, String> {
    let Some(mark) = &input.mark else {
        return Ok(None);
    };
    let Ok(yesterday) = date.yesterday() else {
        return Ok(None);
    };
    if mark.day != yesterday.to_string() || input.snapshot.version > mark.version {
        return Ok(None);
    }
    let base = usize::try_from(input.snapshot.version).map_err(|e| e.to_string())?;
    let marked = usize::try_from(mark.version).map_err(|e| e.to_string())?;
    let rewritten = input
        .tail
        .iter()
        .enumerate()
        .any(|(k, e)| base + k >= marked && e.date <= yesterday);
    if rewritten || input.snapshot.day > yesterday {
        return Ok(None);
    }
    let resume = |s: &Snapshot, events: &[Event], to: Date| match loan::resume(
        &input.terms,
        s,
        events,
        to,
    ) {
        Ok(Resumed::Applied(r)) => Ok(Some(*r)),
        Ok(Resumed::NeedsEarlier(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    };
    let Some(before) = resume(&input.snapshot, &input.tail, yesterday)? else {
        return Ok(None);
    };
    let covered = usize::try_from(before.snapshot.version).map_err(|e| e.to_string())? - base;
    let rest = input.tail.get(covered..).unwrap_or_default();
    let Some(today) = resume(&before.snapshot, rest, date)? else {
        return Ok(None);
    };
    let prev = &before.state;
    let mut poster = poster_for(input, prev.classification == Classification::Npa).resume(
        gl::subledger(prev, originator(&input.terms)),
        prev.status == Status::WrittenOff,
    );
    let accrual = today.state.balances.interest_accrued - prev.balances.interest_accrued
        + today.effects.iter().map(accrued_out).sum::<i64>();
    let to_suspense = poster.is_npa();
    poster.note_accrual(accrual);
    let mut entries = Vec::new();
    for effect in &today.effects {
        if let Some(e) = poster.post(effect).map_err(|e| e.to_string())? {
            entries.push(e);
        }
    }
    Ok(Some(Posted {
        resumed: today,
        entries,
        earned: mark.earned + accrual,
        suspended: mark.suspended + if to_suspense { accrual } else { 0 },
        reposted: false,
    }))
}

/// The whole history posted again on a fresh position.
fn repost(input: &LoanInput, history: &History, date: Date) -> Result<Posted, String> {
    let terms = &input.terms;
    let (state, effects) =
        loan::replay_with_effects(terms, &history.events, date).map_err(|e| e.to_string())?;
    let snapshot = Snapshot::take(terms, &history.events, date).map_err(|e| e.to_string())?;
    let mut poster = poster_for(input, false);
    let (mut noted, mut suspended, mut out) = (0i64, 0i64, 0i64);
    let mut accrued_on: BTreeMap<Date, i64> = BTreeMap::new();
    let mut catch_up = |poster: &mut Poster, accrued: i64, out: i64| {
        let amount = accrued + out - noted;
        if poster.is_npa() {
            suspended += amount;
        }
        poster.note_accrual(amount);
        noted += amount;
    };
    let mut entries = Vec::new();
    for effect in &effects {
        if reads_position(effect) {
            let accrued = match accrued_on.get(&effect.date) {
                Some(a) => *a,
                None => {
                    let s = loan::replay(terms, &history.events, effect.date)
                        .map_err(|e| e.to_string())?;
                    accrued_on.insert(effect.date, s.balances.interest_accrued);
                    s.balances.interest_accrued
                }
            };
            catch_up(&mut poster, accrued, out);
        }
        out += accrued_out(effect);
        if let Some(e) = poster.post(effect).map_err(|e| e.to_string())? {
            entries.push(e);
        }
    }
    catch_up(&mut poster, state.balances.interest_accrued, out);
    let target = gl::position(&entries);
    let product = input.product.as_deref().unwrap_or("");
    let adjustment = gl::adjustment(date, &input.loan_id, product, &history.journal, &target)
        .map_err(|e| e.to_string())?;
    Ok(Posted {
        resumed: Resumption {
            snapshot,
            state,
            effects: Vec::new(),
        },
        entries: adjustment.into_iter().collect(),
        earned: noted,
        suspended,
        reposted: true,
    })
}

/// The provision movement and the writes.
fn finish(input: &LoanInput, date: Date, rates: &ProvisioningSetup, p: Posted) -> Outcome {
    let mut entries = p.entries;
    let state = &p.resumed.state;
    let provision = rates.provision(
        input.product.as_deref(),
        state.asset_class,
        state.balances.principal_outstanding,
        provisioning::secured_value(&input.terms),
    );
    let mark = input.mark.as_ref();
    let held = mark.map_or(0, |m| m.provision);
    let product = input.product.as_deref().unwrap_or("");
    entries.extend(gl::provision_entry(
        date,
        &input.loan_id,
        product,
        held,
        provision,
    ));
    let version = stored_events(input);
    let changed = p.reposted || !entries.is_empty() || mark.is_none_or(|m| m.version != version);
    let snapshot = changed.then(|| NewSnapshot {
        version: p.resumed.snapshot.version,
        day: date.to_string(),
        engine: p.resumed.snapshot.to_json().unwrap_or_default(),
    });
    let Ok(tomorrow) = date.tomorrow() else {
        return Outcome::Failed(format!("no day after {date}"));
    };
    let projected =
        project(input, &p.resumed.snapshot, tomorrow).unwrap_or_else(|| p.resumed.state.clone());
    let (earned_before, suspended_before) = mark.map_or((0, 0), |m| (m.earned, m.suspended));
    let accrued_suspense = p.suspended - suspended_before;
    let npa = state.classification == Classification::Npa;
    let plan = plan_after(input, &p.resumed.snapshot, date, tomorrow);
    let demand = p.resumed.snapshot.engine.demand();
    let mut planned = input.unplanned.clone();
    planned.extend(planned_days(date, product, npa, &plan.accruals));
    Outcome::Closed(Box::new(LoanClosed {
        loan_id: input.loan_id.clone(),
        product: input.product.clone(),
        projection: projection(&input.loan_id, version, &projected),
        snapshot,
        mark: EodMark {
            loan_id: input.loan_id.clone(),
            version,
            day: date.to_string(),
            earned: p.earned,
            suspended: p.suspended,
            provision,
            npa,
            held: state.borrower_npa_since.is_some(),
            arrears: state.dpd > 0,
            due_installment: demand.map(|d| i64::from(d.installment)),
            due_on: demand.map(|d| d.due_date.to_string()),
            due_amount: demand.map_or(0, |d| d.amount),
            currency: demand.map(|_| input.terms.currency.code().to_owned()),
            wake_on: plan.wake_on.map(|d| d.to_string()),
            plan: plan
                .accruals
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        },
        entries,
        accrued_income: p.earned - earned_before - accrued_suspense,
        accrued_suspense,
        changed,
        planned,
    }))
}

/// When the loan wakes after `date` and what it accrues until then. An event stored for a later
/// day (a command during the close takes the new date) wakes it on the next day; otherwise it
/// sleeps through its quiet days.
fn plan_after(input: &LoanInput, snapshot: &Snapshot, date: Date, tomorrow: Date) -> QuietPlan {
    let pending = events_after(input, snapshot).is_none_or(|rest| !rest.is_empty());
    if pending {
        return QuietPlan {
            wake_on: Some(tomorrow),
            accruals: Vec::new(),
        };
    }
    snapshot.engine.quiet_plan(&input.terms, date)
}

/// The plan's amounts as planned accruals of the days after `day`, each multiplied by `sign`.
fn planned_days(day: Date, product: &str, npa: bool, amounts: &[i64]) -> Vec<PlannedAccrual> {
    let mut on = day;
    amounts
        .iter()
        .filter_map(|amount| {
            on = on.tomorrow().ok()?;
            Some(PlannedAccrual {
                day: on.to_string(),
                product_id: product.to_owned(),
                npa,
                amount: *amount,
            })
        })
        .collect()
}

/// A mark as the close of `date` starts from: the plan's days before `date` have been posted by
/// the summary accruals of their closes, so they count as closed and earned; its days from `date`
/// on are taken back (returned negated), to be posted by this close and the new plan.
pub(crate) fn settle_plan(
    mark: EodMark,
    product: &str,
    date: Date,
) -> Result<(EodMark, Vec<PlannedAccrual>), String> {
    let amounts = mark.planned().map_err(|e| e.to_string())?;
    if amounts.is_empty() {
        return Ok((mark, Vec::new()));
    }
    let day: Date = mark
        .day
        .parse()
        .map_err(|e| format!("mark day `{}`: {e}", mark.day))?;
    let mut settled = mark.clone();
    let mut back = Vec::new();
    let mut on = day;
    for amount in amounts {
        on = on
            .tomorrow()
            .map_err(|e| format!("mark day `{}`: {e}", mark.day))?;
        if on < date {
            settled.earned += amount;
            if mark.npa {
                settled.suspended += amount;
            }
            settled.day = on.to_string();
        } else {
            back.push(PlannedAccrual {
                day: on.to_string(),
                product_id: product.to_owned(),
                npa: mark.npa,
                amount: -amount,
            });
        }
    }
    settled.plan.clear();
    Ok((settled, back))
}

/// How many events the loan has stored.
fn stored_events(input: &LoanInput) -> i64 {
    match &input.history {
        Some(h) => h.events.len() as i64,
        None => input.snapshot.version + input.tail.len() as i64,
    }
}

/// The events stored after `snapshot`'s version.
fn events_after<'a>(input: &'a LoanInput, snapshot: &Snapshot) -> Option<&'a [Event]> {
    match &input.history {
        Some(h) => h.events.get(usize::try_from(snapshot.version).ok()?..),
        None => {
            let skip = usize::try_from(snapshot.version - input.snapshot.version).ok()?;
            input.tail.get(skip..)
        }
    }
}

/// The state on the new business date: the day's snapshot carried one day on with the events it
/// does not cover. `None` when that cannot be done from the snapshot.
fn project(input: &LoanInput, snapshot: &Snapshot, day: Date) -> Option<LoanState> {
    let rest = events_after(input, snapshot)?;
    match loan::resume(&input.terms, snapshot, rest, day).ok()? {
        Resumed::Applied(r) => Some(r.state),
        Resumed::NeedsEarlier(_) => None,
    }
}

/// A loan's GL lines as a position by role, leaving out the provision (posted from the mark, not
/// from the loan's effects). A line on an account the chart does not know is an error.
pub(crate) fn journal_position(
    lines: &[loanbook_store::GlLine],
    roles: &BTreeMap<String, Role>,
) -> Result<Position, String> {
    let mut position = Position::new();
    for line in lines {
        let role = *roles.get(&line.account).ok_or_else(|| {
            format!(
                "journal line {} is on unknown account `{}`",
                line.id, line.account
            )
        })?;
        if matches!(role, Role::ProvisionExpense | Role::ProvisionHeld) {
            continue;
        }
        let slot = position.entry((role, line.partner_id.clone())).or_insert(0);
        *slot += line.debit - line.credit;
    }
    position.retain(|_, v| *v != 0);
    Ok(position)
}
