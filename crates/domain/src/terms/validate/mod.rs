//! The rules of a terms document, one module per section, all reporting into one [`Validator`]
//! so that every broken rule is named at once.

mod amounts;
mod dates;
mod fees;
mod method;
mod partners;
mod servicing;
mod tranches;

use rust_decimal::Decimal;

use crate::calendar::Date;
use crate::money::{Currency, Money, format_minor};

use super::error::{FieldError, TermsError};
use super::types::{MAX_YEAR, MIN_YEAR, Terms};
use super::wire::{TermsDoc, parse_plain_decimal};

/// The rule an amount over [`crate::money::MAX_AMOUNT_MAJOR`] breaks: `must be at most 1000000000000.00`.
pub fn amount_limit_rule(currency: Currency) -> String {
    format!(
        "must be at most {}",
        format_minor(currency.max_amount_minor(), currency.minor_digits())
    )
}

/// Collects every broken rule of one document.
#[derive(Default)]
pub(super) struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn err(&mut self, field: impl Into<String>, code: &'static str, rule: impl Into<String>) {
        self.errors.push(FieldError::coded(field, code, rule));
    }

    /// An amount within [`crate::money::MAX_AMOUNT_MAJOR`] either way.
    fn amount(&mut self, field: &str, s: &str, currency: Currency) -> Option<i64> {
        match Money::parse(s, currency) {
            Ok(m) if m.minor().unsigned_abs() > currency.max_amount_minor().unsigned_abs() => {
                self.err(field, "amount.max", amount_limit_rule(currency));
                None
            }
            Ok(m) => Some(m.minor()),
            Err(e) => {
                self.err(
                    field,
                    "amount.format",
                    format!("must be a decimal amount in {currency:?}: {e}"),
                );
                None
            }
        }
    }

    /// A percentage between `min` and `max` with at most 6 decimal places.
    fn percent(&mut self, field: &str, s: &str, min: Decimal, max: Decimal) -> Option<Decimal> {
        match parse_plain_decimal(s) {
            Some(d) if d.scale() > 6 => {
                self.err(
                    field,
                    "rate.precision",
                    "must have at most 6 decimal places",
                );
                None
            }
            Some(d) if d < min || d > max => {
                self.err(
                    field,
                    "rate.range",
                    format!("must be between {min} and {max}"),
                );
                None
            }
            Some(d) => Some(d),
            None => {
                self.err(
                    field,
                    "rate.format",
                    format!("`{s}` is not a decimal number"),
                );
                None
            }
        }
    }

    /// A percentage between 0 and 100.
    fn percent_0_100(&mut self, field: &str, s: &str) -> Option<Decimal> {
        self.percent(field, s, Decimal::ZERO, Decimal::ONE_HUNDRED)
    }

    fn date(&mut self, field: &str, d: Date) {
        if d.year() < MIN_YEAR || d.year() > MAX_YEAR {
            self.err(
                field,
                "date.range",
                format!("must be between {MIN_YEAR} and {MAX_YEAR}"),
            );
        }
    }

    /// Check the whole document, section by section, then the rules across sections.
    pub(super) fn run(mut self, doc: &TermsDoc) -> Result<Terms, TermsError> {
        let basics = self.basics(doc);
        let cur = basics.currency.unwrap_or(Currency::INR);
        let n = basics.installments.unwrap_or(1);
        self.dates(doc);
        let broken_period = self.broken_period(doc);
        self.rounding(doc, cur);
        self.moratorium(doc, n);
        let balloon = self.balloon(doc, cur, basics.principal, n);
        let step = self.step(doc, n);
        let fees = self.fees(doc, cur);
        let tranches = self.tranches(doc, cur);
        self.calendar(doc);
        let allocation = self.allocation(doc);
        let penal = self.penal(doc, cur);
        let foreclosure_fee = self.foreclosure_fee(doc);
        let partners = self.partners(doc, basics.annual_rate);
        let security_value = self.security_value(doc, cur);
        self.first_disbursement(basics.principal, &fees, &tranches);
        self.tranches_before_maturity(doc, n);

        if !self.errors.is_empty() {
            return Err(TermsError(self.errors));
        }
        let amounts::Basics {
            currency: Some(currency),
            principal: Some(principal),
            annual_rate: Some(annual_rate),
            installments: Some(installments),
        } = basics
        else {
            return Err(TermsError(vec![FieldError::coded(
                "terms",
                "terms.unreadable",
                "could not be read",
            )]));
        };
        Ok(Terms {
            currency,
            principal,
            annual_rate,
            method: doc.method,
            installments,
            frequency: doc.frequency,
            disbursement_date: doc.disbursement_date,
            first_due_date: doc.first_due_date,
            interest_basis: doc.interest_basis,
            broken_period,
            rounding: doc.rounding,
            moratorium: doc.moratorium,
            balloon,
            step,
            fees,
            tranches,
            calendar: doc.calendar.clone(),
            allocation,
            excess: doc.excess.unwrap_or_default(),
            penal,
            foreclosure_fee,
            partners,
            split: doc.split.unwrap_or_default(),
            security_value,
        })
    }
}
