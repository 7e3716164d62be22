//! Eligibility: the product's knock-out rules over an applicant's facts (bureau score, FOIR,
//! age, income, LTV, delinquency), each evaluated with its inputs, threshold and reason.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::bounds::display_amount;
use super::product::wire;
use crate::calendar::Date;
use crate::terms::FieldError;

/// Oldest age (years) a rule may name.
pub const MAX_AGE: u32 = 120;
/// The bureau score range the rules accept (CIBIL's 300 to 900).
pub const MIN_BUREAU_SCORE: u16 = 300;
pub const MAX_BUREAU_SCORE: u16 = 900;

/// What is known about an applicant and the loan applied for, as the rules read it. Money in
/// minor units (decimal strings in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The bureau score; none when the applicant has no (or too little) bureau history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bureau_score: Option<u16>,
    /// The worst days past due on any account in the last 12 months.
    #[serde(default)]
    pub max_dpd_12m: u32,
    /// The monthly instalments of existing loans.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "12000.00"))]
    #[serde(with = "wire::amount")]
    pub existing_emi: i64,
    /// Net monthly income.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "80000.00"))]
    #[serde(with = "wire::amount")]
    pub monthly_income: i64,
    /// The instalment of the loan applied for.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "22042.84"))]
    #[serde(with = "wire::amount")]
    pub proposed_emi: i64,
    pub age_years: u32,
    /// The applicant's age (whole years) on the loan's last due date.
    pub age_at_maturity_years: u32,
    /// The loan's principal as a percent of the collateral's value; none without collateral.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "75"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::percent_opt"
    )]
    pub ltv_percent: Option<Decimal>,
    /// Debits returned unpaid on the bank statement.
    #[serde(default)]
    pub bounced_debits: u32,
    /// Bureau enquiries in the last 6 months.
    #[serde(default)]
    pub enquiries_6m: u32,
}

/// A product's eligibility rules; an absent rule is not applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    #[cfg_attr(
        feature = "schema",
        schema(minimum = 300, maximum = 900, example = 700)
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_bureau_score: Option<u16>,
    /// Fixed obligations (existing EMIs and the proposed one) as a percent of net monthly income.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "50"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::percent_opt"
    )]
    pub max_foir_percent: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_at_maturity: Option<u32>,
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "25000.00"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::amount_opt"
    )]
    pub min_monthly_income: Option<i64>,
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "75"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::percent_opt"
    )]
    pub max_ltv_percent: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dpd_12m: Option<u32>,
    /// Whether an applicant without a bureau score passes `min_bureau_score` (new to credit).
    #[serde(default)]
    pub allow_no_bureau_history: bool,
}

/// One rule evaluated: what it read, what it compared against, and why it passed or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RuleResult {
    /// The rule's name: the [`Eligibility`] field (`min_bureau_score`, `max_foir_percent`, …).
    pub rule: String,
    /// The facts the rule read, as text.
    pub inputs: BTreeMap<String, String>,
    pub threshold: String,
    pub passed: bool,
    /// In English, with the figures.
    pub reason: String,
}

impl RuleResult {
    /// The stable reason code of the rule (`eligibility.min_bureau_score`), for a failed rule.
    pub fn code(&self) -> String {
        format!("eligibility.{}", self.rule)
    }

    fn new(rule: &str, inputs: &[(&str, String)], threshold: String) -> RuleResult {
        RuleResult {
            rule: rule.to_owned(),
            inputs: inputs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            threshold,
            passed: false,
            reason: String::new(),
        }
    }

    fn decided(mut self, passed: bool, reason: String) -> RuleResult {
        self.passed = passed;
        self.reason = reason;
        self
    }
}

/// The fixed-obligation-to-income ratio: (existing + proposed EMI) ÷ monthly income × 100,
/// rounded half-up to 2 decimal places; none for a zero (or negative) income.
pub fn foir_percent(facts: &Facts) -> Option<Decimal> {
    if facts.monthly_income <= 0 {
        return None;
    }
    let obligations = i128::from(facts.existing_emi) + i128::from(facts.proposed_emi);
    let ratio = Decimal::from_i128_with_scale(obligations, 0).checked_mul(Decimal::ONE_HUNDRED)?
        / Decimal::from(facts.monthly_income);
    Some(ratio.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// The loan's principal as a percent of the collateral's value, rounded half-up to 2 decimal
/// places; none for no (or a zero) collateral value.
pub fn ltv_percent(principal: i64, collateral_value: i64) -> Option<Decimal> {
    if collateral_value <= 0 {
        return None;
    }
    let ratio = Decimal::from(principal).checked_mul(Decimal::ONE_HUNDRED)?
        / Decimal::from(collateral_value);
    Some(ratio.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// Age in whole years on `on` of a person born on `birth` (0 before the birth date).
pub fn age_on(birth: Date, on: Date) -> u32 {
    let mut years = i32::from(on.year()) - i32::from(birth.year());
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

fn pct(d: Decimal) -> String {
    format!("{}%", d.normalize())
}

/// A whole-number minimum (`at_least`) or maximum rule on one fact.
fn limit(
    rule: &str,
    input: &str,
    what: &str,
    ok: bool,
    (value, threshold): (u32, u32),
    at_least: bool,
) -> RuleResult {
    let (word, bound) = match (at_least, ok) {
        (true, true) => ("at least", "minimum"),
        (true, false) => ("below", "minimum"),
        (false, true) => ("within", "maximum"),
        (false, false) => ("above", "maximum"),
    };
    RuleResult::new(rule, &[(input, value.to_string())], threshold.to_string()).decided(
        ok,
        format!("{what} {value} is {word} the {bound} {threshold}"),
    )
}

fn foir_rule(max: Decimal, facts: &Facts) -> RuleResult {
    let inr = |m: i64| display_amount(m, wire::POLICY_CURRENCY);
    let r = RuleResult::new(
        "max_foir_percent",
        &[
            ("existing_emi", wire::format_amount(facts.existing_emi)),
            ("proposed_emi", wire::format_amount(facts.proposed_emi)),
            ("monthly_income", wire::format_amount(facts.monthly_income)),
        ],
        max.normalize().to_string(),
    );
    match foir_percent(facts) {
        None => r.decided(
            false,
            "no monthly income to measure obligations against".into(),
        ),
        Some(f) => r.decided(
            f <= max,
            format!(
                "obligations of {} against income of {} give a FOIR of {}, {} the maximum {}",
                inr(facts.existing_emi.saturating_add(facts.proposed_emi)),
                inr(facts.monthly_income),
                pct(f),
                if f <= max { "within" } else { "above" },
                pct(max)
            ),
        ),
    }
}

fn ltv_rule(max: Decimal, ltv: Option<Decimal>) -> RuleResult {
    let input = ltv.map(|l| l.normalize().to_string()).unwrap_or_default();
    let r = RuleResult::new(
        "max_ltv_percent",
        &[("ltv_percent", input)],
        max.normalize().to_string(),
    );
    match ltv {
        None => r.decided(
            false,
            "no collateral value to measure the loan against".into(),
        ),
        Some(l) => {
            let word = if l <= max { "within" } else { "above" };
            r.decided(
                l <= max,
                format!("LTV {} is {word} the maximum {}", pct(l), pct(max)),
            )
        }
    }
}

impl Eligibility {
    /// Evaluate every rule the product sets, in a fixed order; a value equal to its threshold
    /// passes.
    pub fn evaluate(&self, facts: &Facts) -> Vec<RuleResult> {
        let mut out = Vec::new();
        let inr = |m: i64| display_amount(m, wire::POLICY_CURRENCY);
        if let Some(min) = self.min_bureau_score {
            out.push(self.bureau_rule(min, facts.bureau_score));
        }
        if let Some(max) = self.max_foir_percent {
            out.push(foir_rule(max, facts));
        }
        if let Some(min) = self.min_age {
            let age = facts.age_years;
            out.push(limit(
                "min_age",
                "age_years",
                "age",
                age >= min,
                (age, min),
                true,
            ));
        }
        if let Some(max) = self.max_age_at_maturity {
            let age = facts.age_at_maturity_years;
            let ok = age <= max;
            out.push(limit(
                "max_age_at_maturity",
                "age_at_maturity_years",
                "age at maturity",
                ok,
                (age, max),
                false,
            ));
        }
        if let Some(min) = self.min_monthly_income {
            let income = facts.monthly_income;
            let mut r = RuleResult::new(
                "min_monthly_income",
                &[("monthly_income", wire::format_amount(income))],
                wire::format_amount(min),
            );
            let ok = income >= min;
            let word = if ok { "at least" } else { "below" };
            r = r.decided(
                ok,
                format!(
                    "monthly income {} is {word} the minimum {}",
                    inr(income),
                    inr(min)
                ),
            );
            out.push(r);
        }
        if let Some(max) = self.max_ltv_percent {
            out.push(ltv_rule(max, facts.ltv_percent));
        }
        if let Some(max) = self.max_dpd_12m {
            let dpd = facts.max_dpd_12m;
            let ok = dpd <= max;
            out.push(limit(
                "max_dpd_12m",
                "max_dpd_12m",
                "worst days past due in 12 months",
                ok,
                (dpd, max),
                false,
            ));
        }
        out
    }

    fn bureau_rule(&self, min: u16, score: Option<u16>) -> RuleResult {
        let input = score.map(|s| s.to_string()).unwrap_or_default();
        let r = RuleResult::new(
            "min_bureau_score",
            &[("bureau_score", input)],
            min.to_string(),
        );
        match score {
            None if self.allow_no_bureau_history => r.decided(
                true,
                "no bureau history; the product accepts applicants new to credit".into(),
            ),
            None => r.decided(
                false,
                format!("no bureau score; the product needs at least {min}"),
            ),
            Some(s) => r.decided(
                s >= min,
                format!(
                    "bureau score {s} is {} the minimum {min}",
                    if s >= min { "at least" } else { "below" }
                ),
            ),
        }
    }

    /// The rules' own ranges, fields named under `prefix`.
    pub fn validate(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let field = |f: &str| format!("{prefix}.{f}");
        if let Some(s) = self
            .min_bureau_score
            .filter(|s| !(MIN_BUREAU_SCORE..=MAX_BUREAU_SCORE).contains(s))
        {
            errors.push(FieldError::coded(
                field("min_bureau_score"),
                "eligibility.bureau_score",
                format!("{s} must be between {MIN_BUREAU_SCORE} and {MAX_BUREAU_SCORE}"),
            ));
        }
        for (name, value) in [
            ("max_foir_percent", self.max_foir_percent),
            ("max_ltv_percent", self.max_ltv_percent),
        ] {
            if let Some(e) = value.and_then(|v| {
                wire::percent_range(&field(name), v, Decimal::ZERO, Decimal::ONE_HUNDRED)
            }) {
                errors.push(e);
            }
        }
        for (name, value) in [
            ("min_age", self.min_age),
            ("max_age_at_maturity", self.max_age_at_maturity),
        ] {
            if value.is_some_and(|a| a > MAX_AGE) {
                errors.push(FieldError::coded(
                    field(name),
                    "eligibility.age",
                    format!("must be at most {MAX_AGE}"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min_age, self.max_age_at_maturity) {
            if min > max {
                errors.push(FieldError::coded(
                    field("max_age_at_maturity"),
                    "eligibility.age",
                    "must be at least min_age",
                ));
            }
        }
        errors
    }
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "eligibility.bureau_score",
        "A minimum bureau score is between 300 and 900",
    ),
    (
        "eligibility.age",
        "An age is at most 120, and the maximum age at maturity at least the minimum age",
    ),
    (
        "eligibility.min_bureau_score",
        "The bureau score is below the product's minimum (or there is none)",
    ),
    (
        "eligibility.max_foir_percent",
        "Fixed obligations take more of the income than the product allows",
    ),
    (
        "eligibility.min_age",
        "The applicant is younger than the product's minimum age",
    ),
    (
        "eligibility.max_age_at_maturity",
        "The applicant would be older at maturity than the product allows",
    ),
    (
        "eligibility.min_monthly_income",
        "The monthly income is below the product's minimum",
    ),
    (
        "eligibility.max_ltv_percent",
        "The loan is a larger share of the collateral's value than the product allows",
    ),
    (
        "eligibility.max_dpd_12m",
        "The applicant was further past due in the last 12 months than the product allows",
    ),
];

#[cfg(test)]
#[path = "eligibility_tests.rs"]
mod tests;
