//! What a collections run achieved, counted per instalment and per attempt.

use serde::Serialize;

use super::likelihood::Evaluation;

/// The run's figures.
///
/// - `due_installments`: intents whose cycle ended within the run;
/// - `collected_on_time`: of those, paid in full on or before the due date;
/// - `recovered_by_retry`: paid in full by an attempt after the first;
/// - `recovered_otherwise`: paid in full outside the mandate (a payment link, a branch);
/// - `recovery_rate`: of the instalments not paid by their due date, the share paid in full by
///   the end of their cycle;
/// - `failed_attempts`, `attempts`: debits tried and debits that failed;
/// - `bounce_charges`: bounce charges levied (each a failure whose class carries the charge);
/// - `stopped`: instalments handed to collections when auto-debit stopped;
/// - `dpd30_plus_rate`: loans 30 or more days past due at the end, over the loans running.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub policy: String,
    pub due_installments: u64,
    pub collected_on_time: u64,
    pub recovered_by_retry: u64,
    pub recovered_otherwise: u64,
    pub unpaid_at_cycle_end: u64,
    pub recovery_rate: f64,
    pub attempts: u64,
    pub failed_attempts: u64,
    pub failed_by_class: FailedByClass,
    /// Attempts and successes by attempt number (1: the first presentation).
    pub by_attempt: Vec<ByAttempt>,
    pub bounce_charges: u64,
    pub bounce_charges_minor: i64,
    pub stopped: u64,
    pub refused_by_rules: u64,
    pub loans: u64,
    pub dpd30_plus: u64,
    pub dpd30_plus_rate: f64,
    /// The repayment-likelihood model trained on the earlier months and scored on the last two.
    pub likelihood: Option<Evaluation>,
}

/// Attempts of one number and how many were paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ByAttempt {
    pub n: u32,
    pub attempts: u64,
    pub paid: u64,
}

/// Failed attempts by the failure's class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FailedByClass {
    pub soft: u64,
    pub hard: u64,
    pub technical: u64,
    pub mandate: u64,
}

impl Metrics {
    /// Count attempt number `n`, paid or not.
    pub(crate) fn count_attempt(&mut self, n: u32, paid: bool) {
        let i = usize::try_from(n.saturating_sub(1)).unwrap_or(0);
        while self.by_attempt.len() <= i {
            let n = u32::try_from(self.by_attempt.len() + 1).unwrap_or(u32::MAX);
            self.by_attempt.push(ByAttempt {
                n,
                ..ByAttempt::default()
            });
        }
        self.by_attempt[i].attempts += 1;
        self.by_attempt[i].paid += u64::from(paid);
    }

    /// The rates, from the counts.
    pub fn finish(&mut self) {
        let late = self.due_installments.saturating_sub(self.collected_on_time);
        let recovered = late.saturating_sub(self.unpaid_at_cycle_end);
        self.recovery_rate = ratio(recovered, late);
        self.dpd30_plus_rate = ratio(self.dpd30_plus, self.loans);
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        // Counts stay far below 2^52, so the conversion is exact.
        a as f64 / b as f64
    }
}
