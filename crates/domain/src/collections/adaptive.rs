//! The adaptive presentation and retry policy: it learns from the outcomes of its own attempts
//! when each borrower's account holds the instalment and when each bank's systems answer, and
//! presents in the best moment the rail allows.
//!
//! What it learns, all from observed outcomes and nothing else:
//! - per borrower, the days of the month their debits (and their payments by other channels)
//!   were paid or failed for want of funds: salary days show up as the day their debits start
//!   to succeed. Far from any of those days the estimate is the borrower's own rate over every
//!   day, and for a borrower with little history the book's: for a first presentation the
//!   book's rate of first presentations, the same for every day, so that a new borrower is
//!   presented on the due date; for a retry the book's rate of retries on that day of the month,
//!   which finds the days salaries arrive on. (The book's rate
//!   by day of the month is not used: it mostly measures which days retries fall on, since
//!   retries are made for the accounts that failed, and it would delay everyone's first try.)
//! - per bank and hour of the day, the share of attempts that did not fail technically (night
//!   maintenance, peak-hour load), and per bank and date, the technical failures seen today
//!   (an outage is not retried into the same day).
//!
//! For a slot it estimates `p = p_funds(borrower, day) × p_up(bank, hour)`. The first
//! presentation goes to the slot with the best `p − lateness_cost × days after the due date`
//! within `max_delay_days`; a retry goes to the best slot left in the cycle, or stops and hands
//! the instalment to collections when even that slot's `p` is below `min_success` (the point
//! where a bounce's cost outweighs the chance of collecting). Hard and mandate failures stop at
//! once; technical ones retry quietly on another day.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::attempt::Slot;
use super::failure::{FailureClass, Reason};
use super::policy::{Case, Decision, Observation, Policy, final_failure, present};
use crate::calendar::Date;

/// The adaptive policy's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveSettings {
    /// The first presentation may wait this many days after the due date for a better chance.
    pub max_delay_days: i64,
    /// What a day's delay of the first presentation after the due date costs, in probability
    /// of success.
    pub lateness_cost: f64,
    /// The same for a retry: the instalment is late already, and a retry that waits for the
    /// money to arrive beats one that bounces.
    pub retry_lateness_cost: f64,
    /// A retry is made only with at least this chance of success.
    pub min_success: f64,
    /// Pseudo-observations the book's rate counts for in a borrower's estimate.
    pub prior_weight: f64,
    /// The hour preferred when the hours are equally good.
    pub hour: u8,
}

impl Default for AdaptiveSettings {
    fn default() -> Self {
        AdaptiveSettings {
            max_delay_days: 7,
            lateness_cost: 0.03,
            retry_lateness_cost: 0.005,
            min_success: 0.4,
            prior_weight: 2.0,
            hour: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tally {
    tries: u32,
    ok: u32,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.tries += 1;
        self.ok += u32::from(ok);
    }

    /// The success rate with a uniform prior (Laplace's rule).
    fn rate(self) -> f64 {
        (f64::from(self.ok) + 1.0) / (f64::from(self.tries) + 2.0)
    }
}

/// The most outcomes kept per borrower.
const HISTORY: usize = 24;

/// The adaptive policy and what it has learnt.
#[derive(Debug, Clone, Default)]
pub struct AdaptivePolicy {
    pub settings: AdaptiveSettings,
    /// Funds outcomes of first presentations over the book.
    book: Tally,
    /// Funds outcomes of retries over the book, by the day of the month (index 1–31): after a
    /// failure, the days salaries arrive on are the days retries succeed.
    retries_by_day: [Tally; 32],
    /// Per borrower: (day of month, paid) of funds outcomes, newest last.
    borrowers: HashMap<String, Vec<(u8, bool)>>,
    /// Technical outcomes per bank and hour.
    bank_hours: HashMap<(String, u8), Tally>,
    /// Technical failures per bank and date.
    bank_days: HashMap<(String, Date), u32>,
}

impl AdaptivePolicy {
    pub fn new(settings: AdaptiveSettings) -> Self {
        AdaptivePolicy {
            settings,
            ..Default::default()
        }
    }

    /// The chance the borrower's account holds the instalment on `date`, and how many of
    /// their own outcomes it rests on.
    fn p_funds(&self, borrower: &str, date: Date, retry: bool) -> (f64, usize) {
        let day = day_of_month(date);
        let own = self
            .borrowers
            .get(borrower)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let k = self.settings.prior_weight;
        let book = if retry {
            self.retries_by_day[usize::from(day)].rate()
        } else {
            self.book.rate()
        };
        // The borrower's own rate over every day, leaning on the book's while it is short...
        let paid = own.iter().filter(|(_, paid)| *paid).count();
        let overall = (paid as f64 + k * book) / (own.len() as f64 + k);
        // ...and near this day of the month, their outcomes on the days around it.
        let (mut weight, mut ok) = (k, k * overall);
        for (d, paid) in own {
            let w = (-f64::from(circular_distance(day, *d)) / 1.5).exp();
            weight += w;
            ok += if *paid { w } else { 0.0 };
        }
        (ok / weight, own.len())
    }

    /// The chance the bank answers at `slot` without a technical failure.
    fn p_up(&self, bank: &str, slot: Slot) -> f64 {
        let hour = self
            .bank_hours
            .get(&(bank.to_owned(), slot.hour))
            .copied()
            .unwrap_or_default()
            .rate();
        let down_today = self
            .bank_days
            .get(&(bank.to_owned(), slot.date))
            .copied()
            .unwrap_or(0);
        hour * 0.5f64.powi(i32::try_from(down_today.min(8)).unwrap_or(8))
    }

    /// The best hour of `date` at or after `from_hour` for `bank` on the case's rail.
    fn best_hour(&self, case: &Case<'_>, date: Date, from_hour: u8) -> Option<(u8, f64)> {
        if !case.rules.chooses_hour() {
            let h = from_hour.max(self.settings.hour.min(23));
            let at = Slot::new(date, h);
            return Some((at.hour, self.p_up(case.bank, at)));
        }
        let preferred = self.settings.hour;
        (from_hour..24)
            .filter(|h| case.rules.hour_allowed(*h))
            .map(|h| (h, self.p_up(case.bank, Slot::new(date, h))))
            .max_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then_with(|| preferred.abs_diff(b.0).cmp(&preferred.abs_diff(a.0)))
            })
    }

    /// The best slot from `case.earliest` to `last`, scored with the lateness cost after
    /// `due`: (slot, p, own outcomes behind p).
    fn best_slot(
        &self,
        case: &Case<'_>,
        last: Date,
        late_from: Date,
    ) -> Option<(Slot, f64, usize)> {
        let mut best: Option<(Slot, f64, usize, f64)> = None;
        let mut date = case.earliest.date;
        while date <= last {
            let from_hour = if date == case.earliest.date {
                case.earliest.hour
            } else {
                0
            };
            if let Some((hour, up)) = self.best_hour(case, date, from_hour) {
                let retry = !case.attempts.is_empty();
                let (funds, seen) = self.p_funds(case.borrower, date, retry);
                let p = funds * up;
                let late = (date - late_from).get_days().max(0);
                let cost = if retry {
                    self.settings.retry_lateness_cost
                } else {
                    self.settings.lateness_cost
                };
                let score = p - cost * f64::from(late);
                if best.as_ref().is_none_or(|b| score > b.3) {
                    best = Some((Slot::new(date, hour), p, seen, score));
                }
            }
            date = date.tomorrow().ok()?;
        }
        best.map(|(slot, p, seen, _)| (slot, p, seen))
    }
}

impl Policy for AdaptivePolicy {
    fn name(&self) -> &'static str {
        "adaptive"
    }

    fn decide(&self, case: &Case<'_>) -> Decision {
        let due = case.intent.due_date;
        if case.attempts.is_empty() {
            let earliest = Slot::new(due, 0).max(case.earliest);
            let case = Case { earliest, ..*case };
            let limit = due
                .checked_add(jiff::Span::new().days(self.settings.max_delay_days))
                .unwrap_or(due)
                .min(case.last_day());
            return match self.best_slot(&case, limit, due) {
                Some((at, p, seen)) => present(&case, at, explain("first", at, p, seen, case.bank)),
                None => present(
                    &case,
                    earliest,
                    "adaptive: no slot scored; the earliest".into(),
                ),
            };
        }
        let Some(failure) = case.last_failure() else {
            return Decision::Stop {
                why: "adaptive: the last attempt did not fail".into(),
            };
        };
        if let Some(why) = final_failure(failure) {
            return Decision::Stop { why };
        }
        if case.attempts_left() == 0 {
            return Decision::Stop {
                why: format!("adaptive: the rail's {} attempts made", case.attempts.len()),
            };
        }
        let mut earliest = case.earliest;
        if failure.class == FailureClass::Technical {
            // Not into the same outage: another day.
            if let Some(last) = case.attempts.last() {
                let next_day = last.at.date.tomorrow().map(|d| Slot::new(d, 0));
                earliest = earliest.max(next_day.unwrap_or(earliest));
            }
        }
        let case = Case { earliest, ..*case };
        match self.best_slot(&case, case.last_day(), due) {
            Some((at, p, seen))
                if p >= self.settings.min_success || failure.class == FailureClass::Technical =>
            {
                present(&case, at, explain("retry", at, p, seen, case.bank))
            }
            Some((at, p, _)) => Decision::Stop {
                why: format!(
                    "adaptive: the best retry left ({} {}:00) has p={p:.2}, below {:.2}; \
                     to collections",
                    at.date, at.hour, self.settings.min_success
                ),
            },
            None => Decision::Stop {
                why: format!(
                    "adaptive: no day left in the cycle after {}",
                    case.earliest.date
                ),
            },
        }
    }

    fn observe_payment(&mut self, borrower: &str, date: Date) {
        self.learn_funds(borrower, date, true);
    }

    fn observe(&mut self, seen: &Observation<'_>) {
        let technical = matches!(seen.failure, Some((FailureClass::Technical, _)));
        self.bank_hours
            .entry((seen.bank.to_owned(), seen.at.hour))
            .or_default()
            .add(!technical);
        if technical {
            *self
                .bank_days
                .entry((seen.bank.to_owned(), seen.at.date))
                .or_default() += 1;
            return;
        }
        let funds = match seen.failure {
            None => true,
            Some((FailureClass::Soft, Reason::InsufficientFunds | Reason::LimitExceeded)) => false,
            // Hard and mandate failures say nothing of the account's balance.
            Some(_) => return,
        };
        if seen.attempt > 1 {
            let day = day_of_month(seen.at.date);
            self.retries_by_day[usize::from(day)].add(funds);
        } else {
            self.book.add(funds);
        }
        self.learn_funds(seen.borrower, seen.at.date, funds);
    }
}

impl AdaptivePolicy {
    fn learn_funds(&mut self, borrower: &str, date: Date, funds: bool) {
        let day = day_of_month(date);
        let own = self.borrowers.entry(borrower.to_owned()).or_default();
        if own.len() == HISTORY {
            own.remove(0);
        }
        own.push((day, funds));
    }
}

fn explain(what: &str, at: Slot, p: f64, seen: usize, bank: &str) -> String {
    format!(
        "adaptive: {what} on {} at {}:00, p={p:.2} from {seen} of the borrower's outcomes, the \
         book's rate and {bank}'s by hour",
        at.date, at.hour
    )
}

fn day_of_month(date: Date) -> u8 {
    u8::try_from(date.day()).unwrap_or(1)
}

/// Days between two days of the month, going round the month's end (the 30th is 2 days from
/// the 1st).
fn circular_distance(a: u8, b: u8) -> u8 {
    let d = a.abs_diff(b);
    d.min(30u8.saturating_sub(d))
}

#[cfg(test)]
#[path = "adaptive_tests.rs"]
mod tests;
