//! The disbursement and first due dates, the broken period and the rounding of instalments.

use rust_decimal::Decimal;

use crate::money::Currency;
use crate::terms::types::{BrokenPeriod, InterestBasis};
use crate::terms::wire::TermsDoc;

use super::Validator;

impl Validator {
    pub(super) fn dates(&mut self, doc: &TermsDoc) {
        self.date("disbursement_date", doc.disbursement_date);
        if let Some(first) = doc.first_due_date {
            self.date("first_due_date", first);
            if first <= doc.disbursement_date {
                self.err(
                    "first_due_date",
                    "first_due_date.order",
                    "must be after disbursement_date",
                );
            } else if let Ok(limit) = doc.frequency.step(doc.disbursement_date, 2) {
                if first > limit {
                    self.err(
                        "first_due_date",
                        "first_due_date.gap",
                        "must be at most two periods after disbursement_date",
                    );
                }
            }
        }
    }

    pub(super) fn broken_period(&mut self, doc: &TermsDoc) -> BrokenPeriod {
        match (doc.broken_period, doc.interest_basis) {
            (Some(_), basis) if basis != InterestBasis::EqualPeriods => {
                self.err(
                    "broken_period",
                    "broken_period.basis",
                    "applies only to interest_basis equal_periods (daily bases charge actual days)",
                );
                BrokenPeriod::default()
            }
            (bp, _) => bp.unwrap_or_default(),
        }
    }

    pub(super) fn rounding(&mut self, doc: &TermsDoc, cur: Currency) {
        let multiple = doc.rounding.installment.multiple;
        let minor_multiple = multiple * Decimal::from(cur.minor_per_major());
        if multiple <= Decimal::ZERO || !minor_multiple.fract().is_zero() {
            self.err(
                "rounding.installment.multiple",
                "rounding.multiple",
                format!(
                    "must be a positive whole number of minor units of {}",
                    cur.code()
                ),
            );
        } else if minor_multiple > Decimal::from(100_000_000) {
            self.err(
                "rounding.installment.multiple",
                "rounding.multiple",
                "must be at most 1000000",
            );
        }
    }
}
