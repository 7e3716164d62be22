//! Collection intents and attempts, and the rail rules a new attempt must keep.
//!
//! Each instalment falling due gets one [`Intent`]: collect `amount` of instalment `installment`
//! between the start and the end of its cycle. Each debit try is an [`Attempt`], numbered from 1.
//! [`check_attempt`] is the one gate every attempt passes, whichever policy proposed it: the
//! mandate must allow the debit, the rail's notice, hours, attempt limit and one-success rule
//! hold, and the last failure must allow a retry.

use serde::{Deserialize, Serialize};

use super::failure::{Action, Classified, Handling};
use super::mandate::{Mandate, MandateProblem};
use super::rail::RailRules;
use crate::calendar::Date;

/// A moment a debit starts or a notice is sent: a date and an hour of the day (0–23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot {
    pub date: Date,
    pub hour: u8,
}

impl Slot {
    pub fn new(date: Date, hour: u8) -> Slot {
        Slot {
            date,
            hour: hour.min(23),
        }
    }

    /// Whole hours from `self` to `later` (negative if `later` is earlier).
    pub fn hours_until(self, later: Slot) -> i64 {
        let days = (later.date - self.date).get_days() as i64;
        days * 24 + i64::from(later.hour) - i64::from(self.hour)
    }
}

/// One instalment to collect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub loan_id: String,
    pub installment: u32,
    pub due_date: Date,
    pub amount: i64,
    /// The first day a debit may be presented for it.
    pub cycle_start: Date,
    /// The last day of its billing cycle (the day before the next instalment is due).
    pub cycle_end: Date,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Sent; no answer yet.
    Presented,
    Paid,
    Failed {
        failure: Classified,
    },
}

/// One debit try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first presentation, 2 for the first retry, …
    pub n: u32,
    pub at: Slot,
    /// When the borrower was told of this debit, on rails that need a notice.
    pub notice_at: Option<Slot>,
    pub amount: i64,
    pub outcome: Outcome,
    /// Why the policy chose this moment.
    pub why: String,
}

/// A rule a proposed attempt breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {rule}")]
pub struct Breach {
    /// A stable code, `rail.…` or `mandate.…`.
    pub code: &'static str,
    pub rule: String,
}

impl From<MandateProblem> for Breach {
    fn from(p: MandateProblem) -> Breach {
        Breach {
            code: p.code,
            rule: format!("{}: {}", p.field, p.rule),
        }
    }
}

fn breach(code: &'static str, rule: String) -> Breach {
    Breach { code, rule }
}

/// Whether an attempt at `at`, announced at `notice_at`, may be made for `intent` after
/// `attempts` under `rules` and `mandate`.
pub fn check_attempt(
    rules: &RailRules,
    mandate: &Mandate,
    intent: &Intent,
    attempts: &[Attempt],
    at: Slot,
    notice_at: Option<Slot>,
) -> Result<(), Breach> {
    check_cycle(rules, intent, at)?;
    mandate.check_debit(rules, intent.amount, at.date)?;
    if !rules.hour_allowed(at.hour) {
        return Err(breach(
            "rail.hours",
            format!(
                "{} debits do not start at {}:00",
                rules.rail.code(),
                at.hour
            ),
        ));
    }
    if rules.pre_debit_notice_hours > 0 {
        let early_enough =
            notice_at.is_some_and(|n| n.hours_until(at) >= rules.pre_debit_notice_hours);
        if !early_enough {
            return Err(breach(
                "rail.pre_debit_notice",
                format!(
                    "the borrower must be told at least {} hours before the debit",
                    rules.pre_debit_notice_hours
                ),
            ));
        }
    }
    check_history(rules, attempts, at)
}

fn check_cycle(rules: &RailRules, intent: &Intent, at: Slot) -> Result<(), Breach> {
    if at.date < intent.cycle_start || at.date > intent.cycle_end {
        return Err(breach(
            "rail.cycle",
            format!(
                "instalment {} is collected from {} to {}; {} is outside",
                intent.installment, intent.cycle_start, intent.cycle_end, at.date
            ),
        ));
    }
    if rules.last_day_of_cycle_fails && at.date == intent.cycle_end {
        return Err(breach(
            "rail.last_day",
            format!(
                "a {} debit on the cycle's last day fails",
                rules.rail.code()
            ),
        ));
    }
    Ok(())
}

fn check_history(rules: &RailRules, attempts: &[Attempt], at: Slot) -> Result<(), Breach> {
    if rules.one_success_per_cycle && attempts.iter().any(|a| a.outcome == Outcome::Paid) {
        return Err(breach(
            "rail.one_success",
            "the instalment was collected in this cycle already".into(),
        ));
    }
    if attempts.iter().any(|a| a.outcome == Outcome::Presented) {
        return Err(breach(
            "rail.in_flight",
            "an attempt is waiting for its answer".into(),
        ));
    }
    let made = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
    if made >= rules.attempts_per_cycle {
        return Err(breach(
            "rail.attempts",
            format!(
                "at most {} attempts an instalment",
                rules.attempts_per_cycle
            ),
        ));
    }
    if let Some(last) = attempts.last() {
        if at <= last.at {
            return Err(breach(
                "rail.order",
                format!("the last attempt was at {:?}", last.at),
            ));
        }
        if let Outcome::Failed { failure } = &last.outcome {
            check_retry(rules, attempts, failure, at)?;
        }
    }
    Ok(())
}

fn check_retry(
    rules: &RailRules,
    attempts: &[Attempt],
    failure: &Classified,
    at: Slot,
) -> Result<(), Breach> {
    match failure.handling {
        Handling::Duplicate => {
            return Err(breach(
                "rail.duplicate",
                "the bank reports the item debited already: reconcile, never present again".into(),
            ));
        }
        Handling::Pending => {
            return Err(breach(
                "rail.pending",
                "the last answer is not final: wait for its status".into(),
            ));
        }
        Handling::Normal => {}
    }
    if !matches!(failure.action, Action::Retry | Action::RetryQuietly) {
        return Err(breach(
            "rail.not_retryable",
            format!(
                "a {:?} failure ({}) is not presented again until it is fixed",
                failure.class, failure.code
            ),
        ));
    }
    if let Some(limit) = rules.reinitiations {
        let first = attempts.first().map(|a| a.at);
        let retries = u32::try_from(attempts.len().saturating_sub(1)).unwrap_or(u32::MAX);
        if retries >= limit.at_most {
            return Err(breach(
                "rail.reinitiations",
                format!(
                    "a returned entry is re-initiated at most {} times",
                    limit.at_most
                ),
            ));
        }
        if first.is_some_and(|f| (at.date - f.date).get_days() as i64 > limit.within_days) {
            return Err(breach(
                "rail.reinitiations",
                format!(
                    "re-initiations come within {} days of the first",
                    limit.within_days
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "attempt_tests.rs"]
mod tests;
