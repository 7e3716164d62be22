//! Co-lending: the partners, their shares and rates, and how collections are split.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::terms::types::{Partner, Split};
use crate::terms::wire::TermsDoc;

use super::Validator;

impl Validator {
    pub(super) fn partners(
        &mut self,
        doc: &TermsDoc,
        annual_rate: Option<Decimal>,
    ) -> Vec<Partner> {
        if doc.partners.is_empty() {
            if doc.split.is_some() {
                self.err(
                    "split",
                    "split.partners",
                    "applies only when partners are given",
                );
            }
            return Vec::new();
        }
        let mut partners = Vec::with_capacity(doc.partners.len());
        let mut ids = BTreeSet::new();
        for (i, p) in doc.partners.iter().enumerate() {
            let at = |k: &str| format!("partners[{i}].{k}");
            if p.id.trim().is_empty() {
                self.err(at("id"), "text.empty", "must not be empty");
            } else if !ids.insert(p.id.as_str()) {
                self.err(at("id"), "id.unique", "must be unique among partners");
            }
            let share = self.percent_0_100(&at("share"), &p.share);
            if share.is_some_and(|s| s.is_zero()) {
                self.err(at("share"), "partner.share", "must be greater than zero");
            }
            let rate = self.percent_0_100(&at("annual_rate"), &p.annual_rate);
            if let (Some(share), Some(annual_rate)) = (share, rate) {
                partners.push(Partner {
                    id: p.id.clone(),
                    share,
                    annual_rate,
                    originator: p.originator,
                });
            }
        }
        if doc.partners.len() < 2 {
            self.err(
                "partners",
                "partners.count",
                "must list at least two lenders, the originator included",
            );
        }
        match doc.partners.iter().filter(|p| p.originator).count() {
            0 => {
                // The last lender listed is the originator unless one is marked.
                if let Some(last) = partners.last_mut() {
                    last.originator = true;
                }
            }
            1 => {}
            _ => self.err(
                "partners",
                "partners.originator",
                "at most one partner may be the originator",
            ),
        }
        if partners.len() == doc.partners.len() {
            self.shares_and_blended_rate(doc, &partners, annual_rate);
        }
        partners
    }

    /// The shares add up to 100 and, under `principal_pro_rata`, the loan's rate covers every
    /// partner's.
    fn shares_and_blended_rate(
        &mut self,
        doc: &TermsDoc,
        partners: &[Partner],
        annual_rate: Option<Decimal>,
    ) {
        let total: Decimal = partners.iter().map(|p| p.share).sum();
        if total != Decimal::ONE_HUNDRED {
            self.err(
                "partners",
                "partners.shares",
                format!("shares must add up to 100, not {total}"),
            );
        }
        let blended: Decimal = partners
            .iter()
            .map(|p| p.share * p.annual_rate / Decimal::ONE_HUNDRED)
            .sum();
        if doc.split.unwrap_or_default() == Split::PrincipalProRata
            && annual_rate.is_some_and(|rate| rate < blended)
        {
            self.err(
                "annual_rate",
                "rate.blended",
                format!(
                    "must be at least the partners' blended rate {} under principal_pro_rata",
                    blended.normalize()
                ),
            );
        }
    }
}
