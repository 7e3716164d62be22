//! The scorecard: points for each characteristic of the applicant by the band its value falls in,
//! summed and compared with the approve and refer thresholds.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::eligibility::{Facts, foir_percent};
use super::product::wire;
use crate::terms::FieldError;

/// The facts a characteristic may score. Money (`monthly_income`) is in major units (rupees).
pub const CHARACTERISTICS: [&str; 7] = [
    "bureau_score",
    "foir_percent",
    "monthly_income",
    "age_years",
    "enquiries_6m",
    "bounced_debits",
    "ltv_percent",
];

/// Most characteristics, and most bands in one characteristic.
pub const MAX_CHARACTERISTICS: usize = 50;
pub const MAX_BANDS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Scorecard {
    pub characteristics: Vec<Characteristic>,
    /// A score at or above this approves.
    pub approve_from: i32,
    /// A score at or above this (and below `approve_from`) is referred; below it rejects.
    pub refer_from: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Characteristic {
    /// One of [`CHARACTERISTICS`].
    pub name: String,
    /// Bands in ascending order, covering every value without overlap: the first has no `from`,
    /// the last no `to`, and each `to` is the next `from`.
    pub bands: Vec<Band>,
    /// Points when the fact is unknown (no bureau score, no collateral, no income for FOIR).
    #[serde(default)]
    pub missing_points: i32,
}

/// The values `[from, to)`; an absent end is unbounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Band {
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "700"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::percent_opt"
    )]
    pub from: Option<Decimal>,
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "750"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::percent_opt"
    )]
    pub to: Option<Decimal>,
    pub points: i32,
}

impl Band {
    pub fn contains(&self, value: Decimal) -> bool {
        self.from.is_none_or(|f| value >= f) && self.to.is_none_or(|t| value < t)
    }
}

/// A scored applicant: the total and each characteristic's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Score {
    pub points: i32,
    pub lines: Vec<ScoreLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ScoreLine {
    pub characteristic: String,
    /// The fact's value as text; none when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The band the value fell in (0-based); none when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<usize>,
    pub points: i32,
}

/// The value of a characteristic for `facts`; none when the fact is unknown (or the name is not
/// one of [`CHARACTERISTICS`]).
pub fn fact_value(facts: &Facts, name: &str) -> Option<Decimal> {
    let minor_per_major = wire::POLICY_CURRENCY.minor_per_major();
    match name {
        "bureau_score" => facts.bureau_score.map(Decimal::from),
        "foir_percent" => foir_percent(facts),
        "monthly_income" => {
            Some(Decimal::from(facts.monthly_income) / Decimal::from(minor_per_major))
        }
        "age_years" => Some(Decimal::from(facts.age_years)),
        "enquiries_6m" => Some(Decimal::from(facts.enquiries_6m)),
        "bounced_debits" => Some(Decimal::from(facts.bounced_debits)),
        "ltv_percent" => facts.ltv_percent,
        _ => None,
    }
}

impl Scorecard {
    /// Score `facts`: each characteristic's band points (its `missing_points` when the fact is
    /// unknown), summed. A validated scorecard puts every value in exactly one band.
    pub fn score(&self, facts: &Facts) -> Score {
        let mut points: i32 = 0;
        let mut lines = Vec::with_capacity(self.characteristics.len());
        for c in &self.characteristics {
            let value = fact_value(facts, &c.name);
            let band = value.and_then(|v| c.bands.iter().position(|b| b.contains(v)));
            let p = match band.and_then(|i| c.bands.get(i)) {
                Some(b) => b.points,
                None => c.missing_points,
            };
            points = points.saturating_add(p);
            lines.push(ScoreLine {
                characteristic: c.name.clone(),
                value: value.map(|v| v.normalize().to_string()),
                band,
                points: p,
            });
        }
        Score { points, lines }
    }

    /// The scorecard's own rules: known and unique characteristics, bands that cover every value
    /// without gaps or overlaps, ordered thresholds. Fields named under `prefix`.
    pub fn validate(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.characteristics.is_empty() || self.characteristics.len() > MAX_CHARACTERISTICS {
            errors.push(FieldError::coded(
                format!("{prefix}.characteristics"),
                "scorecard.characteristics",
                format!("must list 1 to {MAX_CHARACTERISTICS} characteristics"),
            ));
        }
        for (i, c) in self.characteristics.iter().enumerate() {
            let at = format!("{prefix}.characteristics[{i}]");
            if !CHARACTERISTICS.contains(&c.name.as_str()) {
                errors.push(FieldError::coded(
                    format!("{at}.name"),
                    "scorecard.characteristic",
                    format!("must be one of {}", CHARACTERISTICS.join(", ")),
                ));
            } else if self.characteristics[..i].iter().any(|o| o.name == c.name) {
                errors.push(FieldError::coded(
                    format!("{at}.name"),
                    "scorecard.unique",
                    format!("`{}` is scored twice", c.name),
                ));
            }
            errors.extend(band_rules(&c.bands, &format!("{at}.bands")));
        }
        if self.refer_from > self.approve_from {
            errors.push(FieldError::coded(
                format!("{prefix}.refer_from"),
                "scorecard.thresholds",
                format!("must be at most approve_from ({})", self.approve_from),
            ));
        }
        errors
    }
}

/// Bands in order cover every value once: the first starts unbounded, each ends where the next
/// starts, the last ends unbounded.
fn band_rules(bands: &[Band], at: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if bands.is_empty() || bands.len() > MAX_BANDS {
        errors.push(FieldError::coded(
            at,
            "scorecard.bands",
            format!("must list 1 to {MAX_BANDS} bands"),
        ));
        return errors;
    }
    let show = |d: Option<Decimal>| d.map_or("unbounded".to_owned(), |d| d.normalize().to_string());
    for (i, b) in bands.iter().enumerate() {
        let field = format!("{at}[{i}]");
        if let (Some(f), Some(t)) = (b.from, b.to) {
            if f >= t {
                errors.push(FieldError::coded(
                    &field,
                    "scorecard.band",
                    format!("from {f} must be below to {t}"),
                ));
            }
        }
        if i == 0 && b.from.is_some() {
            errors.push(FieldError::coded(
                format!("{field}.from"),
                "scorecard.gap",
                format!(
                    "values below {} fall in no band: omit the first band's from",
                    show(b.from)
                ),
            ));
        }
        if i + 1 == bands.len() && b.to.is_some() {
            errors.push(FieldError::coded(
                format!("{field}.to"),
                "scorecard.gap",
                format!(
                    "values from {} fall in no band: omit the last band's to",
                    show(b.to)
                ),
            ));
        }
        let Some(next) = bands.get(i + 1) else {
            continue;
        };
        let next_field = format!("{at}[{}].from", i + 1);
        match (b.to, next.from) {
            (Some(t), Some(f)) if t < f => errors.push(FieldError::coded(
                next_field,
                "scorecard.gap",
                format!("values from {t} to {f} fall in no band"),
            )),
            (Some(t), Some(f)) if t > f => errors.push(FieldError::coded(
                next_field,
                "scorecard.overlap",
                format!("values from {f} to {t} fall in bands {i} and {}", i + 1),
            )),
            (Some(_), Some(_)) => {}
            (None, _) | (_, None) => errors.push(FieldError::coded(
                next_field,
                "scorecard.overlap",
                format!(
                    "band {i} ends at {} and band {} starts at {}: only the first band starts, and only the last ends, unbounded",
                    show(b.to),
                    i + 1,
                    show(next.from)
                ),
            )),
        }
    }
    errors
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "scorecard.characteristics",
        "A scorecard lists 1 to 50 characteristics",
    ),
    (
        "scorecard.characteristic",
        "A characteristic is one of the facts a scorecard can read",
    ),
    ("scorecard.unique", "A characteristic is scored once"),
    ("scorecard.bands", "A characteristic lists 1 to 50 bands"),
    ("scorecard.band", "A band's from is below its to"),
    (
        "scorecard.gap",
        "The bands leave values that fall in no band",
    ),
    (
        "scorecard.overlap",
        "The bands put some values in two bands",
    ),
    (
        "scorecard.thresholds",
        "The refer threshold is at most the approve threshold",
    ),
];

#[cfg(test)]
#[path = "scorecard_tests.rs"]
mod tests;
