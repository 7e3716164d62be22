//! The offer: the largest loan (and the tenure for it) that the product's bounds and the
//! applicant's eligibility allow, for the terms requested.
//!
//! The principal is searched for by bisection on whole steps (the product's `amount_step`, or one
//! rupee), the tenure by bisection over the product's range; each candidate is a complete loan:
//! valid terms, within the bounds, its instalment from the schedule engine, and every eligibility
//! rule (FOIR with that instalment, LTV on the collateral, age on the last due date) passing.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::eligibility::{Facts, age_on, ltv_percent};
use super::product::{ProductPolicy, wire};
use crate::calendar::Date;
use crate::schedule;
use crate::terms::Terms;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Offer {
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "350000.00"))]
    #[serde(with = "wire::amount")]
    pub principal: i64,
    pub installments: u32,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "14"))]
    #[serde(with = "wire::percent")]
    pub annual_rate: Decimal,
    /// The regular instalment of the offered loan.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "12000.00"))]
    #[serde(with = "wire::amount")]
    pub installment_amount: i64,
    /// What stopped a larger loan or a longer tenure: bound and rule codes (`bounds.amount`,
    /// `eligibility.max_foir_percent`, `eligibility.max_age_at_maturity`, …).
    pub limited_by: Vec<String>,
}

/// The largest eligible loan for `base` (the requested terms: method, frequency, dates, fees…):
/// `principal` and `installments` vary, the rate is the product's floating rate or the requested
/// one. `collateral_value` (minor units) gives each candidate's LTV; without it the facts' LTV
/// stands. `birth_date` gives each candidate's age at maturity; without it the facts' age at
/// maturity stands. None when no loan is eligible.
pub fn offer(
    policy: &ProductPolicy,
    base: &Terms,
    facts: &Facts,
    collateral_value: Option<i64>,
    birth_date: Option<Date>,
) -> Option<Offer> {
    let search = Search {
        policy,
        base,
        facts,
        collateral_value,
        birth_date,
        rate: policy.bounds.rate().unwrap_or(base.annual_rate),
        step: policy
            .bounds
            .amount_step
            .unwrap_or(base.currency.minor_per_major())
            .max(1),
    };
    let (n_lo, n_hi) = policy
        .bounds
        .installments
        .map_or((base.installments, base.installments), |r| (r.min, r.max));
    if n_lo > n_hi {
        return None;
    }
    // The longest tenure the age rule allows (a later maturity is never younger).
    let n_star = tenure(last_true(n_lo.into(), n_hi.into(), |n| {
        search.age_fits(tenure(n))
    })?);
    let (best, _) = search.largest(n_star)?;
    // The shortest tenure that reaches the same principal.
    let n = first_true(n_lo.into(), n_star.into(), |n| {
        search.largest(tenure(n)).is_some_and(|(p, _)| p >= best)
    })
    .map_or(n_star, tenure);
    let (principal, installment_amount) = search.largest(n)?;
    let mut limited_by = search.blockers(principal + search.step, n);
    if n_star < n_hi {
        limited_by.push("eligibility.max_age_at_maturity".to_owned());
    } else if policy.bounds.installments.is_some() && n == n_hi {
        // A longer tenure would lower the instalment; it helps unless the amount itself binds.
        let tenure_blind = ["bounds.amount", "eligibility.max_ltv_percent", "amount.max"];
        if !limited_by
            .iter()
            .any(|c| tenure_blind.contains(&c.as_str()))
        {
            limited_by.push("bounds.installments".to_owned());
        }
    }
    limited_by.dedup();
    Some(Offer {
        principal,
        installments: n,
        annual_rate: search.rate,
        installment_amount,
        limited_by,
    })
}

struct Search<'a> {
    policy: &'a ProductPolicy,
    base: &'a Terms,
    facts: &'a Facts,
    collateral_value: Option<i64>,
    birth_date: Option<Date>,
    rate: Decimal,
    step: i64,
}

/// A candidate loan and what the rules read from it.
struct Candidate {
    terms: Terms,
    installment_amount: i64,
    facts: Facts,
}

impl Search<'_> {
    /// The loan of `principal` over `n` instalments, if its terms are valid and it has a schedule.
    fn candidate(&self, principal: i64, n: u32) -> Option<Candidate> {
        let mut terms = self.base.clone();
        terms.principal = principal;
        terms.installments = n;
        terms.annual_rate = self.rate;
        let terms = Terms::parse(&terms.to_doc()).ok()?;
        let r = schedule::repayments(&terms).ok()?;
        let last_due = r.installments.last()?.due_date;
        let mut facts = self.facts.clone();
        facts.proposed_emi = r.installment_amount;
        if let Some(birth) = self.birth_date {
            facts.age_at_maturity_years = age_on(birth, last_due);
        }
        if let Some(c) = self.collateral_value {
            facts.ltv_percent = ltv_percent(principal, c);
        }
        Some(Candidate {
            terms,
            installment_amount: r.installment_amount,
            facts,
        })
    }

    /// The codes of every bound and rule the loan breaks; `terms.invalid` when it is no loan.
    fn blockers(&self, principal: i64, n: u32) -> Vec<String> {
        if principal > self.base.currency.max_amount_minor() {
            return vec!["amount.max".to_owned()];
        }
        let Some(c) = self.candidate(principal, n) else {
            return vec!["terms.invalid".to_owned()];
        };
        let mut codes: Vec<String> = self
            .policy
            .bounds
            .check(&c.terms)
            .into_iter()
            .map(|e| e.code.to_owned())
            .collect();
        if let Some(e) = &self.policy.eligibility {
            codes.extend(
                e.evaluate(&c.facts)
                    .iter()
                    .filter(|r| !r.passed)
                    .map(|r| r.code()),
            );
        }
        codes
    }

    fn eligible(&self, principal: i64, n: u32) -> Option<i64> {
        if principal <= 0 || principal > self.base.currency.max_amount_minor() {
            return None;
        }
        let c = self.candidate(principal, n)?;
        if !self.policy.bounds.check(&c.terms).is_empty() {
            return None;
        }
        let passes = self
            .policy
            .eligibility
            .as_ref()
            .is_none_or(|e| e.evaluate(&c.facts).iter().all(|r| r.passed));
        passes.then_some(c.installment_amount)
    }

    /// Whether the age rule allows a loan of `n` instalments (its due dates do not depend on the
    /// principal).
    fn age_fits(&self, n: u32) -> bool {
        let (Some(rules), Some(_)) = (&self.policy.eligibility, self.birth_date) else {
            return true;
        };
        let Some(max) = rules.max_age_at_maturity else {
            return true;
        };
        let principal = self
            .policy
            .bounds
            .amount
            .map_or(self.base.principal, |r| r.max);
        self.candidate(principal, n)
            .or_else(|| self.candidate(self.base.principal, n))
            .is_some_and(|c| c.facts.age_at_maturity_years <= max)
    }

    /// The largest eligible principal over `n` instalments (a whole number of steps) and its
    /// instalment.
    fn largest(&self, n: u32) -> Option<(i64, i64)> {
        let cap = self.base.currency.max_amount_minor();
        let (min, max) = self
            .policy
            .bounds
            .amount
            .map_or((self.step, cap), |r| (r.min, r.max.min(cap)));
        let k_lo = (min + self.step - 1) / self.step;
        let k_hi = max / self.step;
        if k_lo > k_hi {
            return None;
        }
        // The smallest loan that is valid terms (fixed fees and tranches need a large enough
        // principal); from it, eligibility holds up to some largest loan (the instalment, the
        // FOIR and the LTV grow with the principal).
        let step = self.step;
        let k_first = first_true(k_lo, k_hi, |k| self.candidate(k * step, n).is_some())?;
        let emi_first = self.eligible(k_first * step, n)?;
        let k = last_true(k_first, k_hi, |k| self.eligible(k * step, n).is_some())?;
        let emi = if k == k_first {
            emi_first
        } else {
            self.eligible(k * step, n)?
        };
        Some((k * step, emi))
    }
}

/// The last `n` in `[lo, hi]` for which `f` holds, `f` holding on a prefix.
fn last_true(lo: i64, hi: i64, f: impl Fn(i64) -> bool) -> Option<i64> {
    if lo > hi || !f(lo) {
        return None;
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        if f(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// The first `n` in `[lo, hi]` for which `f` holds, `f` holding on a suffix.
fn first_true(lo: i64, hi: i64, f: impl Fn(i64) -> bool) -> Option<i64> {
    if lo > hi || !f(hi) {
        return None;
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if f(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// A tenure from the bisection's `i64`.
fn tenure(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[(
    "terms.invalid",
    "A larger loan would not be valid terms (fees or tranches against the principal, …)",
)];

#[cfg(test)]
#[path = "offer_tests.rs"]
mod tests;
