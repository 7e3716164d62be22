//! Later disbursements (tranches) and what the first disbursement must cover.

use crate::calendar::{CalendarError, Date};
use crate::money::Currency;
use crate::terms::types::{Fee, FeeCollection, Method, Tranche};
use crate::terms::wire::TermsDoc;

use super::Validator;

impl Validator {
    pub(super) fn tranches(&mut self, doc: &TermsDoc, cur: Currency) -> Vec<Tranche> {
        let mut tranches = Vec::with_capacity(doc.tranches.len());
        if !doc.tranches.is_empty()
            && !matches!(
                doc.method,
                Method::Emi | Method::EqualPrincipal | Method::InterestOnly
            )
        {
            self.err(
                "tranches",
                "tranches.method",
                format!("are not available with method {}", doc.method.name()),
            );
        }
        for (i, t) in doc.tranches.iter().enumerate() {
            let at = |k: &str| format!("tranches[{i}].{k}");
            self.date(&at("date"), t.date);
            if t.date <= doc.disbursement_date {
                self.err(
                    at("date"),
                    "tranche.after_disbursement",
                    "must be after disbursement_date",
                );
            }
            if let Some(a) = self.amount(&at("amount"), &t.amount, cur) {
                if a <= 0 {
                    self.err(at("amount"), "amount.positive", "must be greater than zero");
                }
                tranches.push(Tranche {
                    date: t.date,
                    amount: a,
                });
            }
        }
        tranches.sort_by_key(|t| t.date);
        tranches
    }

    /// The tranches leave a first disbursement, and it covers the fees not financed.
    pub(super) fn first_disbursement(
        &mut self,
        principal: Option<i64>,
        fees: &[Fee],
        tranches: &[Tranche],
    ) {
        let Some(p) = principal.filter(|p| *p > 0) else {
            return;
        };
        let later: i64 = tranches.iter().map(|t| t.amount.max(0)).sum();
        if !tranches.is_empty() && later >= p {
            self.err(
                "tranches",
                "tranches.total",
                "must add up to less than principal",
            );
        }
        let deducted: i64 = fees
            .iter()
            .filter(|f| f.collect != FeeCollection::Finance)
            .map(|f| f.total_minor(p))
            .sum();
        if deducted >= p - later {
            self.err(
                "fees",
                "fees.first_disbursement",
                "fees deducted or paid upfront must be less than the first disbursement",
            );
        }
    }

    /// Every tranche is paid out before the last instalment falls due.
    pub(super) fn tranches_before_maturity(&mut self, doc: &TermsDoc, n: u32) {
        match last_due_unadjusted(doc, n) {
            Ok(last) => {
                for (i, t) in doc.tranches.iter().enumerate() {
                    if t.date >= last {
                        self.err(
                            format!("tranches[{i}].date"),
                            "tranche.before_maturity",
                            "must be before the last due date",
                        );
                    }
                }
            }
            Err(_) => self.err(
                "installments",
                "schedule.dates",
                "the schedule runs past the supported dates",
            ),
        }
    }
}

fn last_due_unadjusted(doc: &TermsDoc, n: u32) -> Result<Date, CalendarError> {
    let k = i32::try_from(n).unwrap_or(i32::MAX);
    match doc.first_due_date {
        Some(first) => doc.frequency.step(first, k - 1),
        None => doc.frequency.step(doc.disbursement_date, k),
    }
}
