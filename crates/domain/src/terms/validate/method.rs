//! The rules of the schedule method: moratorium, balloon and step.

use rust_decimal::Decimal;

use crate::money::Currency;
use crate::terms::types::{Method, Step};
use crate::terms::wire::TermsDoc;

use super::Validator;

impl Validator {
    pub(super) fn moratorium(&mut self, doc: &TermsDoc, n: u32) {
        let Some(m) = doc.moratorium else {
            return;
        };
        if !matches!(
            doc.method,
            Method::Emi | Method::EqualPrincipal | Method::Balloon | Method::Step
        ) {
            self.err(
                "moratorium",
                "moratorium.method",
                format!("is not available with method {}", doc.method.name()),
            );
        } else if m.periods == 0 || m.periods >= n {
            self.err(
                "moratorium.periods",
                "moratorium.periods",
                "must be at least 1 and fewer than installments",
            );
        }
    }

    pub(super) fn balloon(
        &mut self,
        doc: &TermsDoc,
        cur: Currency,
        principal: Option<i64>,
        n: u32,
    ) -> Option<i64> {
        let balloon = match (&doc.balloon, doc.method) {
            (Some(b), Method::Balloon) => {
                let v = self.amount("balloon", b, cur);
                if let (Some(v), Some(p)) = (v, principal) {
                    if v <= 0 {
                        self.err("balloon", "amount.positive", "must be greater than zero");
                    } else if v >= p {
                        self.err(
                            "balloon",
                            "balloon.below_principal",
                            "must be less than principal",
                        );
                    }
                }
                v
            }
            (None, Method::Balloon) => {
                self.err(
                    "balloon",
                    "balloon.required",
                    "is required with method balloon",
                );
                None
            }
            (Some(_), m) => {
                self.err(
                    "balloon",
                    "balloon.method",
                    format!("is only for method balloon, not {}", m.name()),
                );
                None
            }
            (None, _) => None,
        };
        if doc.method == Method::Balloon && n < 2 {
            self.err(
                "installments",
                "installments.balloon",
                "must be at least 2 with method balloon",
            );
        }
        balloon
    }

    pub(super) fn step(&mut self, doc: &TermsDoc, n: u32) -> Option<Step> {
        match (&doc.step, doc.method) {
            (Some(s), Method::Step) => {
                let every = u32::try_from(s.every).ok().filter(|e| *e >= 1 && *e < n);
                if every.is_none() {
                    self.err(
                        "step.every",
                        "step.every",
                        "must be at least 1 and fewer than installments",
                    );
                }
                let pct = self.percent(
                    "step.percent",
                    &s.percent,
                    Decimal::from(-50),
                    Decimal::ONE_HUNDRED,
                );
                every
                    .zip(pct)
                    .map(|(every, percent)| Step { every, percent })
            }
            (None, Method::Step) => {
                self.err("step", "step.required", "is required with method step");
                None
            }
            (Some(_), m) => {
                self.err(
                    "step",
                    "step.method",
                    format!("is only for method step, not {}", m.name()),
                );
                None
            }
            (None, _) => None,
        }
    }
}
