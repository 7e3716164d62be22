//! A product version's typed policy: the bounds its loans must keep, the eligibility rules and
//! scorecard an application is decided by, the approval and co-lending arrangements, the KFS
//! settings and the pre-disbursement checklist.
//!
//! The policy sits beside the product's `terms` template in one configuration object; the
//! template stays JSON (the app completes it per loan), and this module reads every other key.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::bounds::Bounds;
use super::eligibility::Eligibility;
use super::kfs::KfsSettings;
use super::scorecard::Scorecard;
use crate::terms::FieldError;

/// The keys of a product configuration this module reads (`terms` is the app's).
pub const POLICY_KEYS: [&str; 7] = [
    "bounds",
    "eligibility",
    "scorecard",
    "approval",
    "colending",
    "kfs",
    "checklist",
];

/// Longest partner id or checklist item name.
const MAX_NAME: usize = 200;
/// Most checklist items a product may list.
pub const MAX_CHECKLIST: usize = 50;
/// Longest co-lending decision window in days: the 2025 directions give the partner 15 calendar
/// days to take its share of a loan the originator has disbursed.
pub const MAX_DECISION_DAYS: u32 = 15;
/// Each lender keeps at least this share (percent) of every co-lent loan (2025 directions).
pub const MIN_RETENTION_PERCENT: Decimal = Decimal::from_parts(10, 0, 0, false, 0);

/// The product configuration's typed part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductPolicy {
    #[serde(default)]
    pub bounds: Bounds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligibility: Option<Eligibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scorecard: Option<Scorecard>,
    #[serde(default)]
    pub approval: ApprovalPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colending: Option<ColendingArrangement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kfs: Option<KfsSettings>,
    /// What must be done before disbursement: `kyc`, `agreement_signed`, `mandate_registered`, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<String>,
}

/// Who approves a sanction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    /// A sanction above this amount (minor units) needs a second approver; none: one approver.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "500000.00"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire::amount_opt"
    )]
    pub second_approver_above: Option<i64>,
}

/// The product's co-lending partner and the terms of its participation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ColendingArrangement {
    pub partner_id: String,
    /// The partner's share of the principal, percent (10 to 90: each lender keeps at least 10%).
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "80"))]
    #[serde(with = "wire::percent")]
    pub partner_share: Decimal,
    /// The partner's own rate, percent per annum.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "10"))]
    #[serde(with = "wire::percent")]
    pub partner_rate: Decimal,
    /// Days the partner has to take its share (RBI 2025: 15 calendar days at most).
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 15, example = 15))]
    pub decision_days: u32,
    pub on_timeout: OnTimeout,
    /// The partner's own eligibility rules, run on the application's facts when it is sent to
    /// the partner: an application that breaks one is declined for the partner at once (and the
    /// fallback applies), one that passes waits for the partner's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<super::eligibility::Eligibility>,
}

/// What happens to a loan the partner has not decided on within its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// The originator books the whole loan on its own books.
    BookFully,
    /// The application is declined.
    Decline,
}

impl Default for ProductPolicy {
    fn default() -> Self {
        ProductPolicy::open()
    }
}

impl ProductPolicy {
    /// No bounds, no rules, one approver: what a product without a policy means.
    pub fn open() -> ProductPolicy {
        ProductPolicy {
            bounds: Bounds::default(),
            eligibility: None,
            scorecard: None,
            approval: ApprovalPolicy::default(),
            colending: None,
            kfs: None,
            checklist: Vec::new(),
        }
    }

    /// Read the policy keys of a whole product configuration (its `terms` key is left alone).
    /// Every broken field is named with its path (`bounds.amount.min`); unknown keys are refused.
    pub fn from_config(config: &serde_json::Value) -> Result<ProductPolicy, Vec<FieldError>> {
        let Some(object) = config.as_object() else {
            return Err(vec![FieldError::coded(
                "config",
                "product.config",
                "must be a JSON object",
            )]);
        };
        let mut errors = Vec::new();
        for key in object.keys() {
            if key != "terms" && !POLICY_KEYS.contains(&key.as_str()) {
                errors.push(FieldError::coded(
                    key.as_str(),
                    "field.unknown",
                    format!(
                        "unknown field `{key}`, expected terms or one of {}",
                        POLICY_KEYS.join(", ")
                    ),
                ));
            }
        }
        let mut policy = ProductPolicy::open();
        if let Some(v) = read(object, "bounds", &mut errors) {
            policy.bounds = v;
        }
        policy.eligibility = read(object, "eligibility", &mut errors);
        policy.scorecard = read(object, "scorecard", &mut errors);
        if let Some(v) = read(object, "approval", &mut errors) {
            policy.approval = v;
        }
        policy.colending = read(object, "colending", &mut errors);
        policy.kfs = read(object, "kfs", &mut errors);
        if let Some(v) = read(object, "checklist", &mut errors) {
            policy.checklist = v;
        }
        errors.extend(policy.validate());
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(errors)
        }
    }

    /// Every rule the typed policy breaks (ranges, orders, coverage), each named with its path.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = self.bounds.validate("bounds");
        if let Some(e) = &self.eligibility {
            errors.extend(e.validate("eligibility"));
        }
        if let Some(s) = &self.scorecard {
            errors.extend(s.validate("scorecard"));
        }
        if self.approval.second_approver_above.is_some_and(|a| a <= 0) {
            errors.push(FieldError::coded(
                "approval.second_approver_above",
                "amount.positive",
                "must be greater than zero",
            ));
        }
        if let Some(c) = &self.colending {
            errors.extend(c.validate("colending"));
        }
        if let Some(k) = &self.kfs {
            errors.extend(kfs_rules(k));
        }
        errors.extend(checklist_rules(&self.checklist));
        errors
    }
}

impl ColendingArrangement {
    /// The arrangement's rules, fields named under `prefix`.
    pub fn validate(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(e) = name_rule(&self.partner_id) {
            errors.push(e.at(format!("{prefix}.partner_id")));
        }
        let max_share = Decimal::ONE_HUNDRED - MIN_RETENTION_PERCENT;
        if self.partner_share < MIN_RETENTION_PERCENT || self.partner_share > max_share {
            errors.push(FieldError::coded(
                format!("{prefix}.partner_share"),
                "colending.share",
                format!(
                    "must be between {MIN_RETENTION_PERCENT} and {max_share}: each lender keeps at least {MIN_RETENTION_PERCENT}% of every loan"
                ),
            ));
        }
        if let Some(e) = wire::percent_range(
            &format!("{prefix}.partner_rate"),
            self.partner_rate,
            Decimal::ZERO,
            Decimal::ONE_HUNDRED,
        ) {
            errors.push(e);
        }
        if let Some(r) = &self.rules {
            errors.extend(r.validate(&format!("{prefix}.rules")));
        }
        if !(1..=MAX_DECISION_DAYS).contains(&self.decision_days) {
            errors.push(FieldError::coded(
                format!("{prefix}.decision_days"),
                "colending.decision_days",
                format!("must be between 1 and {MAX_DECISION_DAYS} days"),
            ));
        }
        errors
    }
}

/// A name or id: not blank, at most [`MAX_NAME`] characters.
fn name_rule(s: &str) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        Err(FieldError::coded("", "text.empty", "must not be empty"))
    } else if s.chars().count() > MAX_NAME {
        Err(FieldError::coded(
            "",
            "text.length",
            format!("must be at most {MAX_NAME} characters"),
        ))
    } else {
        Ok(())
    }
}

fn kfs_rules(k: &KfsSettings) -> Vec<FieldError> {
    let texts = [
        ("kfs.lender", &k.lender),
        ("kfs.grievance_officer.name", &k.grievance_officer.name),
        ("kfs.grievance_officer.phone", &k.grievance_officer.phone),
        ("kfs.grievance_officer.email", &k.grievance_officer.email),
    ];
    texts
        .into_iter()
        .filter_map(|(field, text)| name_rule(text).err().map(|e| e.at(field)))
        .collect()
}

fn checklist_rules(items: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if items.len() > MAX_CHECKLIST {
        errors.push(FieldError::coded(
            "checklist",
            "checklist.count",
            format!("must list at most {MAX_CHECKLIST} items"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let field = format!("checklist[{i}]");
        let snake = !item.is_empty()
            && item.chars().count() <= MAX_NAME
            && item
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !snake {
            errors.push(FieldError::coded(
                field,
                "checklist.name",
                "must be a snake_case name such as kyc or mandate_registered",
            ));
        } else if items[..i].contains(item) {
            errors.push(FieldError::coded(
                field,
                "checklist.unique",
                format!("`{item}` is listed twice"),
            ));
        }
    }
    errors
}

/// Read `key` of the configuration as `T`; a reading error is named with its full path.
fn read<T: serde::de::DeserializeOwned>(
    object: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = object.get(key)?;
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() {
                key.to_owned()
            } else if path.starts_with('[') {
                format!("{key}{path}")
            } else {
                format!("{key}.{path}")
            };
            errors.push(wire::json_error(field, e.inner()));
            None
        }
    }
}

/// The JSON forms of the policy's amounts and percentages: decimal strings, read strictly.
///
/// Amounts are in a currency with two minor digits (INR, USD, EUR, GBP), as the policy of a
/// product in such a currency is written: `"10000.00"` is ₹10,000.
pub(crate) mod wire {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::money::{Currency, Money, format_minor};
    use crate::terms::{FieldError, amount_limit_rule, parse_plain_decimal};

    /// The currency whose minor digits the policy's amounts carry.
    pub const POLICY_CURRENCY: Currency = Currency::INR;

    const AMOUNT_FORMAT: &str = "must be a decimal amount";
    const AMOUNT_NEGATIVE: &str = "must not be negative";
    const RATE_FORMAT: &str = "is not a plain decimal number";
    const RATE_PRECISION: &str = "must have at most 6 decimal places";

    /// An error from reading the policy's JSON, coded as the terms' rules are.
    pub fn json_error(field: String, e: &serde_json::Error) -> FieldError {
        let message = e.to_string();
        let code = if message.starts_with(AMOUNT_FORMAT) {
            "amount.format"
        } else if message.starts_with(AMOUNT_NEGATIVE) {
            "amount.non_negative"
        } else if message.starts_with("must be at most") {
            "amount.max"
        } else if message.contains(RATE_FORMAT) {
            "rate.format"
        } else if message.starts_with(RATE_PRECISION) {
            "rate.precision"
        } else {
            return FieldError::from_json(field, e);
        };
        FieldError::coded(field, code, message)
    }

    /// Read a non-negative amount in minor units, within the largest amount accepted.
    pub fn parse_amount(s: &str) -> Result<i64, String> {
        let c = POLICY_CURRENCY;
        let m = Money::parse(s, c).map_err(|e| format!("{AMOUNT_FORMAT}: {e}"))?;
        if m.minor() < 0 {
            Err(AMOUNT_NEGATIVE.to_owned())
        } else if m.minor() > c.max_amount_minor() {
            Err(amount_limit_rule(c))
        } else {
            Ok(m.minor())
        }
    }

    pub fn format_amount(minor: i64) -> String {
        format_minor(minor, POLICY_CURRENCY.minor_digits())
    }

    /// Read a percentage or rate: a plain decimal with at most 6 decimal places.
    pub fn parse_percent(s: &str) -> Result<Decimal, String> {
        let d = parse_plain_decimal(s).ok_or_else(|| format!("`{s}` {RATE_FORMAT}"))?;
        if d.scale() > 6 {
            return Err(RATE_PRECISION.to_owned());
        }
        Ok(d)
    }

    /// The rule a percentage outside `[min, max]` breaks.
    pub fn percent_range(
        field: &str,
        value: Decimal,
        min: Decimal,
        max: Decimal,
    ) -> Option<FieldError> {
        (value < min || value > max).then(|| {
            FieldError::coded(
                field,
                "rate.range",
                format!("must be between {min} and {max}"),
            )
        })
    }

    pub mod amount {
        use super::*;
        pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format_amount(*v))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
            let s = String::deserialize(d)?;
            parse_amount(&s).map_err(serde::de::Error::custom)
        }
    }

    pub mod amount_opt {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_some(&format_amount(*v)),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| parse_amount(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }

    pub mod percent {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&v.normalize().to_string())
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
            let s = String::deserialize(d)?;
            parse_percent(&s).map_err(serde::de::Error::custom)
        }
    }

    pub mod percent_opt {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_some(&v.normalize().to_string()),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| parse_percent(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "product.config",
        "A product configuration must be a JSON object",
    ),
    (
        "colending.share",
        "The partner's share of principal is between 10 and 90 percent: each lender keeps at least 10%",
    ),
    (
        "colending.decision_days",
        "The partner's decision window is between 1 and 15 calendar days",
    ),
    (
        "checklist.name",
        "A checklist item is a snake_case name (kyc, agreement_signed, mandate_registered, …)",
    ),
    ("checklist.unique", "A checklist item is listed once"),
    ("checklist.count", "A checklist lists at most 50 items"),
];

#[cfg(test)]
#[path = "product_tests.rs"]
mod tests;
