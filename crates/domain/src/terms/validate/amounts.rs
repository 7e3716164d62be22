//! Currency, principal, rate and number of instalments; the value of the loan's security.

use rust_decimal::Decimal;

use crate::money::Currency;
use crate::terms::types::MAX_INSTALLMENTS;
use crate::terms::wire::TermsDoc;

use super::Validator;

/// The head of the document; a field is `None` when it broke a rule.
pub(super) struct Basics {
    pub currency: Option<Currency>,
    pub principal: Option<i64>,
    pub annual_rate: Option<Decimal>,
    pub installments: Option<u32>,
}

impl Validator {
    pub(super) fn basics(&mut self, doc: &TermsDoc) -> Basics {
        let currency = match doc.currency.parse::<Currency>() {
            Ok(c) => Some(c),
            Err(e) => {
                self.err("currency", "currency.unknown", e.to_string());
                None
            }
        };
        let cur = currency.unwrap_or(Currency::INR);
        let principal = self.amount("principal", &doc.principal, cur);
        if principal.is_some_and(|p| p <= 0) {
            self.err("principal", "amount.positive", "must be greater than zero");
        }
        let annual_rate = self.percent_0_100("annual_rate", &doc.annual_rate);
        let installments = u32::try_from(doc.installments)
            .ok()
            .filter(|n| (1..=MAX_INSTALLMENTS).contains(n));
        if installments.is_none() {
            self.err(
                "installments",
                "installments.range",
                format!("must be between 1 and {MAX_INSTALLMENTS}"),
            );
        }
        Basics {
            currency,
            principal,
            annual_rate,
            installments,
        }
    }

    /// The realisable value of the security: an amount, zero or more.
    pub(super) fn security_value(&mut self, doc: &TermsDoc, cur: Currency) -> Option<i64> {
        let value = self.amount("security_value", doc.security_value.as_deref()?, cur)?;
        if value < 0 {
            self.err(
                "security_value",
                "amount.non_negative",
                "must not be negative",
            );
            return None;
        }
        Some(value)
    }
}
