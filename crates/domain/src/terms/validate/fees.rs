//! Fees, penal charges and the foreclosure fee.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::money::Currency;
use crate::terms::types::{Fee, FeeAmount, ForeclosureFee, Penal};
use crate::terms::wire::{FeeDoc, PenalDoc, TermsDoc};

use super::Validator;

impl Validator {
    pub(super) fn fees(&mut self, doc: &TermsDoc, cur: Currency) -> Vec<Fee> {
        let mut fees = Vec::with_capacity(doc.fees.len());
        let mut names = BTreeSet::new();
        for (i, f) in doc.fees.iter().enumerate() {
            let at = |k: &str| format!("fees[{i}].{k}");
            if f.name.trim().is_empty() {
                self.err(at("name"), "text.empty", "must not be empty");
            } else if !names.insert(f.name.as_str()) {
                self.err(at("name"), "name.unique", "must be unique among fees");
            }
            if let Some(fee) = self.fee(f, cur, at) {
                fees.push(fee);
            }
        }
        fees
    }

    fn fee(&mut self, f: &FeeDoc, cur: Currency, at: impl Fn(&str) -> String) -> Option<Fee> {
        let amount = match (&f.amount, &f.percent) {
            (Some(a), None) => {
                let v = self.amount(&at("amount"), a, cur);
                if v.is_some_and(|v| v < 0) {
                    self.err(at("amount"), "amount.non_negative", "must not be negative");
                }
                v.map(FeeAmount::Fixed)
            }
            (None, Some(p)) => self
                .percent_0_100(&at("percent"), p)
                .map(FeeAmount::Percent),
            _ => {
                self.err(
                    at("amount"),
                    "fee.amount_or_percent",
                    "exactly one of amount and percent is required",
                );
                None
            }
        };
        let tax = match &f.tax_percent {
            Some(t) => self.percent_0_100(&at("tax_percent"), t),
            None => Some(Decimal::ZERO),
        };
        let (amount, tax_percent) = amount.zip(tax)?;
        Some(Fee {
            name: f.name.clone(),
            amount,
            tax_percent,
            collect: f.collect,
        })
    }

    pub(super) fn penal(&mut self, doc: &TermsDoc, cur: Currency) -> Option<Penal> {
        match doc.penal.as_ref()? {
            PenalDoc {
                per_missed_installment: Some(a),
                percent: None,
            } => {
                let v = self.amount("penal.per_missed_installment", a, cur)?;
                if v < 0 {
                    self.err(
                        "penal.per_missed_installment",
                        "amount.non_negative",
                        "must not be negative",
                    );
                    return None;
                }
                Some(Penal::PerMissedInstallment(v))
            }
            PenalDoc {
                per_missed_installment: None,
                percent: Some(p),
            } => self.percent_0_100("penal.percent", p).map(Penal::Percent),
            _ => {
                self.err(
                    "penal",
                    "penal.one_kind",
                    "exactly one of per_missed_installment and percent is required",
                );
                None
            }
        }
    }

    pub(super) fn foreclosure_fee(&mut self, doc: &TermsDoc) -> Option<ForeclosureFee> {
        let f = doc.foreclosure_fee.as_ref()?;
        let pct = self.percent_0_100("foreclosure_fee.percent", &f.percent);
        let tax = match &f.tax_percent {
            Some(t) => self.percent_0_100("foreclosure_fee.tax_percent", t),
            None => Some(Decimal::ZERO),
        };
        pct.zip(tax).map(|(percent, tax_percent)| ForeclosureFee {
            percent,
            tax_percent,
        })
    }
}
