//! The repayment-likelihood score: the chance that a due instalment is paid within
//! [`GRACE_DAYS`] of its due date, from a logistic regression (smartcore's, fitted by L-BFGS)
//! trained on the book's own history of instalments.
//!
//! The features are what the lender knows when the instalment's intent opens: the loan's days
//! past due and what it has overdue, the borrower's record in earlier cycles (how many, how often
//! the first presentation failed, how often an instalment stayed unpaid, how late payments came),
//! the rail and the instalment's size. [`evaluate`] trains on the earlier months and scores the
//! later ones it has not seen, and compares the model's AUC with a score from the days past due
//! alone.

use serde::Serialize;
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

/// An instalment counts as paid when paid in full within this many days of its due date.
pub const GRACE_DAYS: i64 = 5;

/// The features' names, in the order of [`Sample::x`].
pub const FEATURES: [&str; 8] = [
    "dpd",
    "overdue_per_instalment",
    "past_cycles",
    "past_first_failure_rate",
    "past_unpaid_rate",
    "past_mean_days_late",
    "upi",
    "log_instalment",
];

/// A loan's record in its earlier cycles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub cycles: u32,
    pub first_failures: u32,
    pub unpaid: u32,
    pub paid: u32,
    pub days_late: i64,
}

impl Record {
    /// One more cycle: whether its first presentation failed, and how many days after the due
    /// date it was paid in full (`None`: not paid).
    pub fn add(&mut self, first_failed: bool, days_late: Option<i64>) {
        self.cycles += 1;
        self.first_failures += u32::from(first_failed);
        match days_late {
            Some(d) => {
                self.paid += 1;
                self.days_late += d.max(0);
            }
            None => self.unpaid += 1,
        }
    }
}

/// The features of an instalment of a loan with `record`, `dpd` days past due and `overdue`
/// unpaid, on UPI or not, in the order of [`FEATURES`].
pub fn features(
    record: &Record,
    dpd: u32,
    overdue: i64,
    instalment: i64,
    upi: bool,
) -> [f64; FEATURES.len()] {
    let r = record;
    let rate = |n: u32| f64::from(n) / f64::from(r.cycles.max(1));
    [
        f64::from(dpd),
        overdue as f64 / instalment.max(1) as f64,
        f64::from(r.cycles),
        rate(r.first_failures),
        rate(r.unpaid),
        r.days_late as f64 / f64::from(r.paid.max(1)),
        if upi { 1.0 } else { 0.0 },
        (instalment.max(1) as f64).ln(),
    ]
}

/// One due instalment: its features when its intent opened, and whether it was paid.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Months from the run's first month to the due date's.
    pub month: u32,
    pub x: [f64; FEATURES.len()],
    pub paid: bool,
}

/// A trained model: standardisation and the regression's weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Likelihood {
    mean: Vec<f64>,
    scale: Vec<f64>,
    pub weights: Vec<(String, f64)>,
    pub intercept: f64,
}

/// How the model did on the months it was not trained on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub label: String,
    pub train_months: Vec<u32>,
    pub test_months: Vec<u32>,
    pub train_instalments: usize,
    pub test_instalments: usize,
    pub test_paid_rate: f64,
    pub auc: f64,
    /// The AUC of the days past due alone (fewer days, likelier to pay).
    pub dpd_only_auc: f64,
    pub model: Likelihood,
}

impl Likelihood {
    /// Fit on `samples`; refused when they hold only one outcome.
    pub fn train(samples: &[Sample]) -> Result<Likelihood, String> {
        let n = FEATURES.len();
        if samples.iter().all(|s| s.paid) || samples.iter().all(|s| !s.paid) {
            return Err("the training instalments must hold paid and unpaid ones".into());
        }
        let count = samples.len() as f64;
        let mean: Vec<f64> = (0..n)
            .map(|j| samples.iter().map(|s| s.x[j]).sum::<f64>() / count)
            .collect();
        let scale: Vec<f64> = (0..n)
            .map(|j| {
                let var = samples
                    .iter()
                    .map(|s| (s.x[j] - mean[j]).powi(2))
                    .sum::<f64>()
                    / count;
                if var > 1e-12 { var.sqrt() } else { 1.0 }
            })
            .collect();
        let rows: Vec<f64> = samples
            .iter()
            .flat_map(|s| {
                (0..n)
                    .map(|j| (s.x[j] - mean[j]) / scale[j])
                    .collect::<Vec<_>>()
            })
            .collect();
        let x = DenseMatrix::new(samples.len(), n, rows, false).map_err(|e| e.to_string())?;
        let y: Vec<u32> = samples.iter().map(|s| u32::from(s.paid)).collect();
        let params = LogisticRegressionParameters::default().with_alpha(1.0);
        let fit = LogisticRegression::fit(&x, &y, params).map_err(|e| e.to_string())?;
        let weights = (0..n)
            .map(|j| (FEATURES[j].to_owned(), *fit.coefficients().get((0, j))))
            .collect();
        Ok(Likelihood {
            mean,
            scale,
            weights,
            intercept: *fit.intercept().get((0, 0)),
        })
    }

    /// The chance the instalment is paid.
    pub fn score(&self, x: &[f64; FEATURES.len()]) -> f64 {
        let margin = self.intercept
            + self
                .weights
                .iter()
                .enumerate()
                .map(|(j, (_, w))| w * (x[j] - self.mean[j]) / self.scale[j])
                .sum::<f64>();
        1.0 / (1.0 + (-margin).exp())
    }
}

/// Train on every month but the last two and score those two; `None` when either side is
/// empty or holds one outcome only.
pub fn evaluate(samples: &[Sample]) -> Option<Evaluation> {
    let mut months: Vec<u32> = samples.iter().map(|s| s.month).collect();
    months.sort_unstable();
    months.dedup();
    if months.len() < 3 {
        return None;
    }
    let test_months = months.split_off(months.len() - 2);
    let (test, train): (Vec<Sample>, Vec<Sample>) = samples
        .iter()
        .cloned()
        .partition(|s| test_months.contains(&s.month));
    let model = Likelihood::train(&train).ok()?;
    let labels: Vec<bool> = test.iter().map(|s| s.paid).collect();
    let scores: Vec<f64> = test.iter().map(|s| model.score(&s.x)).collect();
    let dpd: Vec<f64> = test.iter().map(|s| -s.x[0]).collect();
    let auc = auc(&scores, &labels)?;
    let dpd_only_auc = self::auc(&dpd, &labels)?;
    let paid = labels.iter().filter(|p| **p).count();
    Some(Evaluation {
        label: format!("paid in full within {GRACE_DAYS} days of the due date"),
        train_months: months,
        test_months,
        train_instalments: train.len(),
        test_instalments: test.len(),
        test_paid_rate: paid as f64 / test.len() as f64,
        auc,
        dpd_only_auc,
        model,
    })
}

/// The area under the ROC curve: the chance that a paid instalment scores above an unpaid one,
/// ties counting half (the Mann–Whitney statistic, from mid-ranks). `None` without both.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 || scores.len() != labels.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mid = (i + j + 2) as f64 / 2.0;
        rank_sum += mid * order[i..=j].iter().filter(|k| labels[**k]).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_and_halves_ties() {
        assert_eq!(
            auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(auc(&[1.0, 2.0], &[false, true]), Some(1.0));
        assert_eq!(auc(&[2.0, 1.0], &[false, true]), Some(0.0));
        assert_eq!(auc(&[1.0, 1.0, 1.0], &[false, true, true]), Some(0.5));
        assert_eq!(auc(&[1.0, 2.0], &[true, true]), None);
    }

    fn sample(month: u32, failures: f64, paid: bool) -> Sample {
        let mut x = [0.0; FEATURES.len()];
        x[3] = failures;
        x[2] = 3.0;
        Sample { month, x, paid }
    }

    #[test]
    fn it_learns_that_a_record_of_failures_predicts_failure() {
        // Borrowers who failed often before fail again; the days past due say nothing here.
        let mut samples = Vec::new();
        for month in 1..=5 {
            for i in 0..40 {
                let failures = f64::from(i % 4) / 3.0;
                let paid = (i % 4) < 2 || (i % 7 == 0);
                samples.push(sample(month, failures, paid));
            }
        }
        let e = evaluate(&samples).expect("an evaluation");
        assert_eq!(e.test_months, [4, 5]);
        assert_eq!(e.train_months, [1, 2, 3]);
        assert_eq!(e.test_instalments, 80);
        assert!(e.auc > 0.8, "{e:?}");
        assert!((e.dpd_only_auc - 0.5).abs() < 1e-9);
        let w = e
            .model
            .weights
            .iter()
            .find(|w| w.0 == "past_first_failure_rate");
        assert!(w.is_some_and(|w| w.1 < 0.0), "{e:?}");
    }

    #[test]
    fn one_outcome_is_not_enough() {
        let samples: Vec<Sample> = (1..=4).map(|m| sample(m, 0.0, true)).collect();
        assert!(evaluate(&samples).is_none());
        assert!(Likelihood::train(&samples).is_err());
    }
}
