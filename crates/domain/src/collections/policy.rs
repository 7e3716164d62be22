//! Presentation and retry policies: when to present an instalment's debit, and whether and when
//! to try again after a failure.
//!
//! A policy sees a [`Case`] (the intent, the rail's rules, the attempts so far, the earliest
//! moment the next attempt may start) and answers with a [`Decision`] that carries its reason.
//! Whatever it answers still passes [`super::attempt::check_attempt`]; a policy that proposes
//! what the rail forbids is corrected there, not trusted.
//!
//! [`FixedPolicy`] is the schedule lenders use today: present on the due date, retry every N
//! days up to K times. [`AdaptivePolicy`](super::adaptive::AdaptivePolicy) learns from outcomes.

use serde::{Deserialize, Serialize};

use super::attempt::{Attempt, Intent, Outcome, Slot};
use super::failure::{Action, Classified, FailureClass, Reason};
use super::rail::RailRules;
use crate::calendar::Date;

/// What a policy is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    pub intent: &'a Intent,
    pub rules: &'a RailRules,
    /// The debtor's bank, as the mandate names it.
    pub bank: &'a str,
    /// Who owes: outcomes are learnt per borrower.
    pub borrower: &'a str,
    pub attempts: &'a [Attempt],
    /// The earliest moment the next attempt may start: now, or now plus the rail's notice.
    pub earliest: Slot,
}

impl Case<'_> {
    /// The last attempt's failure, if the last attempt failed.
    pub fn last_failure(&self) -> Option<&Classified> {
        match self.attempts.last().map(|a| &a.outcome) {
            Some(Outcome::Failed { failure }) => Some(failure),
            _ => None,
        }
    }

    /// The last day a debit may start for this intent.
    pub fn last_day(&self) -> Date {
        if self.rules.last_day_of_cycle_fails {
            self.intent
                .cycle_end
                .yesterday()
                .unwrap_or(self.intent.cycle_end)
        } else {
            self.intent.cycle_end
        }
    }

    /// Attempts the rail still allows for this instalment.
    pub fn attempts_left(&self) -> u32 {
        let made = u32::try_from(self.attempts.len()).unwrap_or(u32::MAX);
        let mut left = self.rules.attempts_per_cycle.saturating_sub(made);
        if let Some(r) = self.rules.reinitiations {
            left = left.min((r.at_most + 1).saturating_sub(made));
        }
        left
    }

    /// `slot` moved to the first hour the rail allows on or after it, perhaps the next day.
    pub fn allowed(&self, slot: Slot) -> Option<Slot> {
        let mut s = slot;
        for _ in 0..3 {
            if let Some(h) = self.rules.next_hour(s.hour) {
                return Some(Slot::new(s.date, h));
            }
            s = Slot::new(s.date.tomorrow().ok()?, 0);
        }
        None
    }
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Present {
        at: Slot,
        why: String,
    },
    /// No more auto-debits for this instalment; the case goes to collections.
    Stop {
        why: String,
    },
}

/// What became of an attempt, for policies that learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation<'a> {
    pub borrower: &'a str,
    pub bank: &'a str,
    pub at: Slot,
    pub due_date: Date,
    /// The attempt's number: 1 for the first presentation.
    pub attempt: u32,
    /// `None`: paid.
    pub failure: Option<(FailureClass, Reason)>,
}

pub trait Policy: Send {
    fn name(&self) -> &'static str;
    fn decide(&self, case: &Case<'_>) -> Decision;
    /// Learn from an outcome; policies that do not learn ignore it.
    fn observe(&mut self, _seen: &Observation<'_>) {}
    /// Learn from a payment the borrower made outside the mandate on `date`.
    fn observe_payment(&mut self, _borrower: &str, _date: Date) {}
}

/// Why a failure ends auto-debit for the instalment whatever the policy, if it does.
pub fn final_failure(failure: &Classified) -> Option<String> {
    match failure.action {
        Action::Retry | Action::RetryQuietly => None,
        other => Some(format!(
            "{} failure {} ({}): {}",
            failure.class.code(),
            failure.code,
            <&str>::from(failure.reason),
            <&str>::from(other)
        )),
    }
}

/// Present on the due date at a fixed hour; after a retryable failure, again every
/// `retry_every_days` days, at most `max_retries` times, within the cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedPolicy {
    pub retry_every_days: i64,
    pub max_retries: u32,
    /// The hour debits start at where the rail lets the lender choose.
    pub hour: u8,
}

impl Default for FixedPolicy {
    /// The usual baseline: retry every 3 days, twice.
    fn default() -> Self {
        FixedPolicy {
            retry_every_days: 3,
            max_retries: 2,
            hour: 10,
        }
    }
}

impl Policy for FixedPolicy {
    fn name(&self) -> &'static str {
        "fixed"
    }

    fn decide(&self, case: &Case<'_>) -> Decision {
        let Some(last) = case.attempts.last() else {
            let at = Slot::new(case.intent.due_date, self.hour).max(case.earliest);
            return present(case, at, "fixed: the due date".into());
        };
        if let Some(why) = case.last_failure().and_then(final_failure) {
            return Decision::Stop { why };
        }
        if case.attempts_left() == 0 {
            return Decision::Stop {
                why: format!("fixed: the rail's {} attempts made", case.attempts.len()),
            };
        }
        let retries = u32::try_from(case.attempts.len().saturating_sub(1)).unwrap_or(u32::MAX);
        if retries >= self.max_retries {
            return Decision::Stop {
                why: format!("fixed: {} retries made", self.max_retries),
            };
        }
        let Some(date) = last
            .at
            .date
            .checked_add(jiff::Span::new().days(self.retry_every_days))
            .ok()
        else {
            return Decision::Stop {
                why: "fixed: no date left".into(),
            };
        };
        let at = Slot::new(date, self.hour).max(case.earliest);
        let why = format!(
            "fixed: retry {} of {}, {} days after attempt {}",
            retries + 1,
            self.max_retries,
            self.retry_every_days,
            last.n
        );
        present(case, at, why)
    }
}

/// Present at `at` moved into the rail's hours, or stop if that leaves the cycle.
pub(crate) fn present(case: &Case<'_>, at: Slot, why: String) -> Decision {
    match case.allowed(at) {
        Some(at) if at.date <= case.last_day() => Decision::Present { at, why },
        _ => Decision::Stop {
            why: format!("{why}: past the cycle's last day {}", case.last_day()),
        },
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
pub(crate) mod tests;
