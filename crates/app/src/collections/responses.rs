//! A bank's answer to a debit presentation, applied to the book: each debited item becomes the
//! loan's payment, each return is classified on the failure table and, where its class says so,
//! levies the bounce charge, all posted in bulk ([`App::post_batch`]). Applying the same answer
//! again changes nothing: every payment and charge carries the attempt's reference.

use std::collections::{BTreeMap, HashMap};

use loanbook_domain::calendar::Date;
use loanbook_domain::collections::{FailureTable, Rail};
use loanbook_domain::money::format_minor;
use loanbook_rails::debit::{DebitOutcome, ResponseRead};
use serde::Serialize;

use crate::servicing::LoanCommand;
use crate::servicing::batch::{BatchItem, BatchReport};
use crate::servicing::commands::{ChargeKindDoc, LevyCharge, PostPayment};
use crate::{App, AppError, Principal, RequestMeta};

/// One item of a presentation as collections keep it: the debit and the loan it collects for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedDebit {
    /// The attempt's reference, as the file carries it.
    pub reference: String,
    pub loan_id: String,
    /// Paise (or cents).
    pub amount_minor: i64,
    pub settlement_date: Date,
    pub rail: Rail,
    /// The product's bounce charge, levied on a return whose class carries one (0: none).
    pub bounce_charge_minor: i64,
}

/// What applying a response did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResponseReport {
    /// Results read from the file.
    pub results: usize,
    pub paid: usize,
    pub returned: usize,
    /// Neither debited nor returned yet: nothing is posted for them.
    pub pending: usize,
    /// ACH notifications of change: the mandate's details must change before the next debit.
    pub changed: usize,
    /// Malformed rows of the file (they gave no result).
    pub row_errors: usize,
    /// Presented items the file does not answer.
    pub unanswered: usize,
    /// Results whose reference names no item of the presentation.
    pub unknown: usize,
    /// Returns by failure class (`soft`, `hard`, `technical`, `mandate`).
    pub returned_by_class: BTreeMap<String, usize>,
    /// Bounce charges levied (or already levied by an earlier application).
    pub bounce_charges: usize,
    /// The bulk posting of the payments and charges.
    pub posting: BatchReport,
}

/// The reference of the bounce charge of the attempt `reference`.
pub fn bounce_reference(reference: &str) -> String {
    format!("BNC-{reference}")
}

/// The batch items of a response (pure): a payment per debited item, a bounce charge per return
/// whose class carries one.
pub fn response_items(
    presented: &[PresentedDebit],
    read: &ResponseRead,
    table: &FailureTable,
) -> (Vec<BatchItem>, ResponseReport) {
    let by_reference: HashMap<&str, &PresentedDebit> = presented
        .iter()
        .map(|p| (p.reference.as_str(), p))
        .collect();
    let mut report = ResponseReport {
        results: read.results.len(),
        row_errors: read.row_errors.len(),
        unanswered: read.unanswered.len(),
        ..ResponseReport::default()
    };
    let mut items = Vec::new();
    for result in &read.results {
        let Some(debit) = by_reference.get(result.reference.as_str()) else {
            report.unknown += 1;
            continue;
        };
        match &result.outcome {
            DebitOutcome::Paid => {
                report.paid += 1;
                items.push(BatchItem {
                    loan_id: debit.loan_id.clone(),
                    command: LoanCommand::PostPayment(PostPayment {
                        date: debit.settlement_date,
                        amount: format_minor(debit.amount_minor, 2),
                        reference: debit.reference.clone(),
                        channel: Some(debit.rail.code().to_owned()),
                    }),
                });
            }
            DebitOutcome::Returned { code, text } => {
                report.returned += 1;
                let classified = table.classify(debit.rail, code, text);
                *report
                    .returned_by_class
                    .entry(classified.class.code().to_owned())
                    .or_insert(0) += 1;
                if classified.charge && debit.bounce_charge_minor > 0 {
                    report.bounce_charges += 1;
                    items.push(BatchItem {
                        loan_id: debit.loan_id.clone(),
                        command: LoanCommand::LevyCharge(LevyCharge {
                            date: debit.settlement_date,
                            kind: ChargeKindDoc::Bounce,
                            amount: format_minor(debit.bounce_charge_minor, 2),
                            reference: Some(bounce_reference(&debit.reference)),
                        }),
                    });
                }
            }
            DebitOutcome::Pending { .. } => report.pending += 1,
            DebitOutcome::Changed { .. } => report.changed += 1,
        }
    }
    (items, report)
}

impl App {
    /// Apply a bank's answer (`read`, matched against its presentation) to the book: the
    /// payments and bounce charges it gives, in bulk.
    pub async fn apply_debit_response(
        &self,
        p: &Principal,
        presented: &[PresentedDebit],
        read: &ResponseRead,
        table: &FailureTable,
        meta: &RequestMeta,
    ) -> Result<ResponseReport, AppError> {
        p.require(crate::auth::Action::CollectDebits)?;
        let (items, mut report) = response_items(presented, read, table);
        report.posting = self.post_batch(p, &items, meta).await?;
        Ok(report)
    }
}

impl App {
    /// The collection demands falling due from `from` on, day by day for `days` days, at most
    /// `limit` of them: what a presentation debits.
    pub async fn demands_from(
        &self,
        p: &Principal,
        from: Date,
        days: u32,
        limit: usize,
    ) -> Result<Vec<loanbook_store::Demand>, AppError> {
        p.require(crate::auth::Action::Read)?;
        let mut demands = Vec::new();
        let mut day = from;
        for _ in 0..days {
            if demands.len() >= limit {
                break;
            }
            demands.extend(self.store.demands_due(&self.book, &day.to_string()).await?);
            day = day
                .tomorrow()
                .map_err(|e| AppError::invalid("from", e.to_string()))?;
        }
        demands.truncate(limit);
        Ok(demands)
    }
}
