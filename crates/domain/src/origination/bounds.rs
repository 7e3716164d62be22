//! The bounds a product puts on its loans' terms: amount, tenure, methods, frequencies, the rate
//! (a fixed band, or a floating benchmark plus spread), moratorium and fees.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::product::wire;
use crate::calendar::Frequency;
use crate::money::{Currency, format_minor};
use crate::terms::{FeeAmount, FieldError, MAX_INSTALLMENTS, Method, Terms};

/// An inclusive range: `min ≤ value ≤ max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Range<T> {
    pub min: T,
    pub max: T,
}

impl<T: PartialOrd> Range<T> {
    pub fn contains(&self, value: &T) -> bool {
        self.min <= *value && *value <= self.max
    }
}

/// The JSON form of an amount range: decimal strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AmountRange {
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "10000.00"))]
    #[serde(with = "wire::amount")]
    pub min: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "500000.00"))]
    #[serde(with = "wire::amount")]
    pub max: i64,
}

mod amount_range {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{AmountRange, Range};

    pub fn serialize<S: Serializer>(v: &Option<Range<i64>>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|r| AmountRange {
            min: r.min,
            max: r.max,
        })
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Range<i64>>, D::Error> {
        Ok(Option::<AmountRange>::deserialize(d)?.map(|r| Range {
            min: r.min,
            max: r.max,
        }))
    }
}

/// How a product prices its loans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RatePolicy {
    /// The loan's rate is chosen per loan within `[min, max]`, percent per annum.
    Fixed {
        #[cfg_attr(feature = "schema", schema(value_type = String, example = "10.5"))]
        #[serde(with = "wire::percent")]
        min: Decimal,
        #[cfg_attr(feature = "schema", schema(value_type = String, example = "24"))]
        #[serde(with = "wire::percent")]
        max: Decimal,
    },
    /// The loan's rate is the benchmark's current rate plus the spread, reset every few months
    /// (the KFS shows all three).
    Floating {
        /// The external benchmark's name (`repo`, `t_bill_91`, …).
        benchmark: String,
        #[cfg_attr(feature = "schema", schema(value_type = String, example = "5.5"))]
        #[serde(with = "wire::percent")]
        benchmark_rate: Decimal,
        #[cfg_attr(feature = "schema", schema(value_type = String, example = "3.25"))]
        #[serde(with = "wire::percent")]
        spread: Decimal,
        #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 120, example = 3))]
        reset_months: u32,
    },
}

/// Longest reset interval of a floating rate, in months.
pub const MAX_RESET_MONTHS: u32 = 120;

/// The bounds a product's loans keep; an absent bound (or an empty list) allows anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// The principal's range (minor units; decimal strings in JSON).
    #[cfg_attr(feature = "schema", schema(value_type = Option<AmountRange>))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "amount_range"
    )]
    pub amount: Option<Range<i64>>,
    /// The number of instalments' range.
    #[cfg_attr(feature = "schema", schema(value_type = Option<Range<u32>>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installments: Option<Range<u32>>,
    /// The methods allowed; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<Method>,
    /// The frequencies allowed; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frequencies: Vec<Frequency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RatePolicy>,
    /// The longest moratorium, in periods; 0: none allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_moratorium_periods: Option<u32>,
    /// The most the fees (before tax) may add up to, percent of the principal: a percentage fee
    /// counts at its percentage, a fixed fee at its share of the principal.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "2"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::percent_opt"
    )]
    pub max_fee_percent: Option<Decimal>,
    /// The offer's principal is a whole multiple of this amount (minor units; decimal string in
    /// JSON, e.g. `"1000.00"`); none: to the rupee.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "1000.00"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::amount_opt"
    )]
    pub amount_step: Option<i64>,
}

impl Bounds {
    /// Every bound `terms` breaks, each naming the terms' field, the bound's code and the bound.
    pub fn check(&self, terms: &Terms) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let c = terms.currency;
        if let Some(r) = self.amount.filter(|r| !r.contains(&terms.principal)) {
            errors.push(FieldError::coded(
                "terms.principal",
                "bounds.amount",
                format!(
                    "must be between {} and {}",
                    display_amount(r.min, c),
                    display_amount(r.max, c)
                ),
            ));
        }
        if let Some(r) = self
            .installments
            .filter(|r| !r.contains(&terms.installments))
        {
            errors.push(FieldError::coded(
                "terms.installments",
                "bounds.installments",
                format!("must be between {} and {}", r.min, r.max),
            ));
        }
        if !self.methods.is_empty() && !self.methods.contains(&terms.method) {
            let names: Vec<&str> = self.methods.iter().map(|m| m.name()).collect();
            errors.push(FieldError::coded(
                "terms.method",
                "bounds.method",
                format!("must be one of {}", names.join(", ")),
            ));
        }
        if !self.frequencies.is_empty() && !self.frequencies.contains(&terms.frequency) {
            let names: Vec<String> = self.frequencies.iter().map(|f| f.to_string()).collect();
            errors.push(FieldError::coded(
                "terms.frequency",
                "bounds.frequency",
                format!("must be one of {}", names.join(", ")),
            ));
        }
        if let Some(e) = self.rate_rule(terms.annual_rate) {
            errors.push(e);
        }
        if let (Some(max), Some(m)) = (self.max_moratorium_periods, terms.moratorium) {
            if m.periods > max {
                errors.push(FieldError::coded(
                    "terms.moratorium.periods",
                    "bounds.moratorium",
                    format!("must be at most {max} periods"),
                ));
            }
        }
        if let Some(e) = self.fee_rule(terms) {
            errors.push(e);
        }
        errors
    }

    /// The rate a new loan gets: the floating benchmark plus spread; none for a fixed band (the
    /// requested rate stands, and [`Bounds::check`] checks it) or no rate policy.
    pub fn rate(&self) -> Option<Decimal> {
        match &self.rate {
            Some(RatePolicy::Floating {
                benchmark_rate,
                spread,
                ..
            }) => Some(*benchmark_rate + *spread),
            _ => None,
        }
    }

    fn rate_rule(&self, rate: Decimal) -> Option<FieldError> {
        let rule = match self.rate.as_ref()? {
            RatePolicy::Fixed { min, max } if rate < *min || rate > *max => format!(
                "must be between {}% and {}%",
                min.normalize(),
                max.normalize()
            ),
            RatePolicy::Floating {
                benchmark,
                benchmark_rate,
                spread,
                ..
            } if rate != *benchmark_rate + *spread => format!(
                "must be the benchmark {benchmark} at {}% plus the spread {}%: {}%",
                benchmark_rate.normalize(),
                spread.normalize(),
                (*benchmark_rate + *spread).normalize()
            ),
            _ => return None,
        };
        Some(FieldError::coded("terms.annual_rate", "bounds.rate", rule))
    }

    fn fee_rule(&self, terms: &Terms) -> Option<FieldError> {
        let max = self.max_fee_percent?;
        if terms.principal <= 0 {
            return None;
        }
        // A percentage fee counts at its percentage, a fixed fee at its share of the principal.
        let mut percent = Decimal::ZERO;
        for fee in &terms.fees {
            percent += match fee.amount {
                FeeAmount::Percent(p) => p,
                FeeAmount::Fixed(minor) => {
                    Decimal::from(minor) * Decimal::ONE_HUNDRED / Decimal::from(terms.principal)
                }
            };
        }
        (percent > max).then(|| {
            FieldError::coded(
                "terms.fees",
                "bounds.fees",
                format!(
                    "must add up to at most {}% of the principal before tax (they are {}%)",
                    max.normalize(),
                    percent.round_dp(2).normalize()
                ),
            )
        })
    }

    /// The bounds' own rules (each minimum at most its maximum, rates within 0 to 100), fields
    /// named under `prefix`.
    pub fn validate(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, code: &'static str, rule: String| {
            errors.push(FieldError::coded(format!("{prefix}.{field}"), code, rule));
        };
        if let Some(r) = self.amount {
            if r.min <= 0 {
                err(
                    "amount.min",
                    "amount.positive",
                    "must be greater than zero".into(),
                );
            }
            if r.min > r.max {
                err("amount", "bounds.range", "min must be at most max".into());
            }
        }
        if let Some(r) = self.installments {
            for (field, n) in [("installments.min", r.min), ("installments.max", r.max)] {
                if !(1..=MAX_INSTALLMENTS).contains(&n) {
                    let rule = format!("must be between 1 and {MAX_INSTALLMENTS}");
                    err(field, "installments.range", rule);
                }
            }
            if r.min > r.max {
                err(
                    "installments",
                    "bounds.range",
                    "min must be at most max".into(),
                );
            }
        }
        if self.amount_step.is_some_and(|s| s <= 0) {
            err(
                "amount_step",
                "amount.positive",
                "must be greater than zero".into(),
            );
        }
        if self
            .max_moratorium_periods
            .is_some_and(|m| m >= MAX_INSTALLMENTS)
        {
            let rule = format!("must be less than {MAX_INSTALLMENTS}");
            err("max_moratorium_periods", "moratorium.periods", rule);
        }
        if let Some(p) = self.max_fee_percent {
            let field = format!("{prefix}.max_fee_percent");
            errors.extend(wire::percent_range(
                &field,
                p,
                Decimal::ZERO,
                Decimal::ONE_HUNDRED,
            ));
        }
        if let Some(rate) = &self.rate {
            errors.extend(rate.validate(&format!("{prefix}.rate")));
        }
        errors
    }
}

impl RatePolicy {
    /// The rate policy's own rules, fields named under `prefix`.
    pub fn validate(&self, prefix: &str) -> Vec<FieldError> {
        let (zero, hundred) = (Decimal::ZERO, Decimal::ONE_HUNDRED);
        let mut errors = Vec::new();
        let mut percents = Vec::new();
        match self {
            RatePolicy::Fixed { min, max } => {
                percents.push(("min", *min, zero));
                percents.push(("max", *max, zero));
                if min > max {
                    errors.push(FieldError::coded(
                        prefix,
                        "bounds.range",
                        "min must be at most max",
                    ));
                }
            }
            RatePolicy::Floating {
                benchmark,
                benchmark_rate,
                spread,
                reset_months,
            } => {
                if benchmark.trim().is_empty() || benchmark.chars().count() > 200 {
                    errors.push(FieldError::coded(
                        format!("{prefix}.benchmark"),
                        "text.empty",
                        "must be a name of 1 to 200 characters",
                    ));
                }
                percents.push(("benchmark_rate", *benchmark_rate, zero));
                percents.push(("spread", *spread, -hundred));
                if !(zero..=hundred).contains(&(*benchmark_rate + *spread)) {
                    errors.push(FieldError::coded(
                        prefix,
                        "rate.range",
                        "benchmark plus spread must be between 0 and 100",
                    ));
                }
                if !(1..=MAX_RESET_MONTHS).contains(reset_months) {
                    errors.push(FieldError::coded(
                        format!("{prefix}.reset_months"),
                        "bounds.reset",
                        format!("must be between 1 and {MAX_RESET_MONTHS}"),
                    ));
                }
            }
        }
        for (field, value, min) in percents {
            let field = format!("{prefix}.{field}");
            errors.extend(wire::percent_range(&field, value, min, hundred));
        }
        errors
    }
}

/// An amount as a person reads it: rupees with Indian digit grouping (`₹5,00,000.00`), other
/// currencies with their code and thousands (`USD 500,000.00`).
pub fn display_amount(minor: i64, currency: Currency) -> String {
    let plain = format_minor(minor, currency.minor_digits());
    let (sign, body) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let grouped = if currency == Currency::INR {
        group_indian(int)
    } else {
        group_thousands(int)
    };
    let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
    if currency == Currency::INR {
        format!("{sign}₹{grouped}{frac}")
    } else {
        format!("{sign}{} {grouped}{frac}", currency.code())
    }
}

/// `12345678` → `1,23,45,678`: the last three digits, then pairs.
fn group_indian(int: &str) -> String {
    if int.len() <= 3 {
        return int.to_owned();
    }
    let (head, tail) = int.split_at(int.len() - 3);
    let mut pairs = Vec::new();
    let mut rest = head;
    while rest.len() > 2 {
        let (h, t) = rest.split_at(rest.len() - 2);
        pairs.push(t);
        rest = h;
    }
    pairs.push(rest);
    pairs.reverse();
    format!("{},{tail}", pairs.join(","))
}

fn group_thousands(int: &str) -> String {
    let mut groups = Vec::new();
    let mut rest = int;
    while rest.len() > 3 {
        let (h, t) = rest.split_at(rest.len() - 3);
        groups.push(t);
        rest = h;
    }
    groups.push(rest);
    groups.reverse();
    groups.join(",")
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "bounds.amount",
        "The principal is outside the product's amount range",
    ),
    (
        "bounds.installments",
        "The number of instalments is outside the product's range",
    ),
    ("bounds.method", "The method is not one the product allows"),
    (
        "bounds.frequency",
        "The frequency is not one the product allows",
    ),
    (
        "bounds.rate",
        "The rate is outside the product's band, or is not its benchmark plus spread",
    ),
    (
        "bounds.moratorium",
        "The moratorium is longer than the product allows",
    ),
    (
        "bounds.fees",
        "The fees add up to more than the product's share of the principal",
    ),
    ("bounds.range", "A bound's minimum is above its maximum"),
    (
        "bounds.reset",
        "A floating rate resets every 1 to 120 months",
    ),
];

#[cfg(test)]
#[path = "bounds_tests.rs"]
mod tests;
