//! Co-lending glue: each partner's part of what is funded and received (the split rules are in
//! [`crate::colending`]).

use crate::colending;
use crate::terms::{Component, Split, Terms};

use super::{Engine, PartnerLedger, Target};

impl Engine {
    pub(super) fn partner_parts(
        &self,
        terms: &Terms,
        target: Target,
        component: Component,
        amount: i64,
    ) -> Vec<i64> {
        if terms.partners.is_empty() {
            return Vec::new();
        }
        match (target, component, terms.split) {
            (Target::Due(i), Component::Interest, Split::PrincipalProRata) => {
                let d = &self.dues[i];
                let weights = colending::interest_parts(
                    d.interest,
                    d.opening_balance,
                    d.annual_rate,
                    &terms.partners,
                    terms.split,
                );
                colending::by_weights(amount, &weights, &terms.partners)
            }
            (_, Component::Principal, _) => self.principal_parts(terms, amount),
            _ => colending::by_share(amount, &terms.partners),
        }
    }

    /// Principal repaid is split by the partners' principal outstanding, so no partner is ever
    /// repaid more than it lent and repaying the whole outstanding clears every partner exactly.
    pub(super) fn principal_parts(&self, terms: &Terms, amount: i64) -> Vec<i64> {
        let weights: Vec<i64> = self
            .partners
            .iter()
            .map(PartnerLedger::principal_outstanding)
            .collect();
        if weights.iter().all(|w| *w <= 0) {
            return colending::by_share(amount, &terms.partners);
        }
        colending::by_weights(amount, &weights, &terms.partners)
    }

    pub(super) fn credit_partners(&mut self, component: Component, parts: &[i64], sign: i64) {
        for (ledger, &p) in self.partners.iter_mut().zip(parts) {
            match component {
                Component::Principal => ledger.principal_received += sign * p,
                Component::Interest => ledger.interest_received += sign * p,
                Component::Charges => ledger.charges_received += sign * p,
            }
        }
    }

    /// Each partner funds its share of `amount` of principal; returns the parts.
    pub(super) fn fund_partners(&mut self, terms: &Terms, amount: i64) -> Vec<i64> {
        if terms.partners.is_empty() || amount == 0 {
            return Vec::new();
        }
        let parts = colending::by_share(amount, &terms.partners);
        for (ledger, p) in self.partners.iter_mut().zip(&parts) {
            ledger.principal_funded += p;
        }
        parts
    }
}
