//! The JSON document of the terms: money and rates as decimal strings, dates as `YYYY-MM-DD`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{Date, Frequency, HolidayCalendar, strict_date};

use crate::money::format_minor;

use super::types::{
    Allocation, BrokenPeriod, ExcessHandling, FeeAmount, FeeCollection, InterestBasis, Method,
    Moratorium, Penal, Rounding, Split, Terms,
};

/// The JSON form of the terms, as written by people and stored with a loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsDoc {
    #[cfg_attr(feature = "schema", schema(value_type = crate::money::Currency))]
    pub currency: String,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
            example = "20000.00"
        )
    )]
    pub principal: String,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "15"
        )
    )]
    pub annual_rate: String,
    pub method: Method,
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 600, example = 24))]
    pub installments: i64,
    pub frequency: Frequency,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
    #[serde(deserialize_with = "strict_date::deserialize")]
    pub disbursement_date: Date,
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_date::option"
    )]
    pub first_due_date: Option<Date>,
    #[serde(default)]
    pub interest_basis: InterestBasis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_period: Option<BrokenPeriod>,
    #[serde(default)]
    pub rounding: Rounding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moratorium: Option<Moratorium>,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
            example = "20000.00"
        )
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balloon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fees: Vec<FeeDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tranches: Vec<TrancheDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<HolidayCalendar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<Allocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excess: Option<ExcessHandling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penal: Option<PenalDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreclosure_fee: Option<ForeclosureFeeDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<PartnerDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// The realisable value of the loan's security (its collateral): a decimal amount, zero or
    /// more. Left out for a loan without security.
    #[cfg_attr(
        feature = "schema",
        schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$", example = "500000.00")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PenalDoc {
    #[cfg_attr(
        feature = "schema",
        schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$", example = "400.00")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_missed_installment: Option<String>,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "15"
        )
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ForeclosureFeeDoc {
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "15"
        )
    )]
    pub percent: String,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "15"
        )
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_percent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartnerDoc {
    #[cfg_attr(
        feature = "schema",
        schema(min_length = 1, max_length = 200, pattern = "\\S")
    )]
    pub id: String,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "80"
        )
    )]
    pub share: String,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "15"
        )
    )]
    pub annual_rate: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub originator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 599, example = 12))]
    pub every: i64,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?|-(50(\\.0{1,6})?|[1-4]?[0-9](\\.[0-9]{1,6})?))$",
            example = "5"
        )
    )]
    pub percent: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FeeDoc {
    #[cfg_attr(
        feature = "schema",
        schema(min_length = 1, max_length = 200, pattern = "\\S")
    )]
    pub name: String,
    #[cfg_attr(
        feature = "schema",
        schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$", example = "400.00")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "2"
        )
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
            example = "18"
        )
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_percent: Option<String>,
    #[serde(default)]
    pub collect: FeeCollection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrancheDoc {
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
    #[serde(deserialize_with = "strict_date::deserialize")]
    pub date: Date,
    #[cfg_attr(
        feature = "schema",
        schema(
            pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
            example = "20000.00"
        )
    )]
    pub amount: String,
}

/// Parse a plain decimal string: optional `-`, digits, optional `.` and digits. No exponent, no
/// separators, no spaces.
pub fn parse_plain_decimal(s: &str) -> Option<Decimal> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(int) || frac.is_some_and(|f| !digits_ok(f)) {
        return None;
    }
    if int.len() + frac.map_or(0, str::len) > 26 {
        return None;
    }
    s.parse::<Decimal>().ok()
}

impl Terms {
    /// The JSON document for these terms (canonical: parse(to_doc(t)) == t).
    pub fn to_doc(&self) -> TermsDoc {
        let digits = self.currency.minor_digits();
        let amount = |minor: i64| format_minor(minor, digits);
        TermsDoc {
            currency: self.currency.code().to_owned(),
            principal: amount(self.principal),
            annual_rate: self.annual_rate.normalize().to_string(),
            method: self.method,
            installments: i64::from(self.installments),
            frequency: self.frequency,
            disbursement_date: self.disbursement_date,
            first_due_date: self.first_due_date,
            interest_basis: self.interest_basis,
            broken_period: (self.interest_basis == InterestBasis::EqualPeriods)
                .then_some(self.broken_period),
            rounding: self.rounding,
            moratorium: self.moratorium,
            balloon: self.balloon.map(amount),
            step: self.step.map(|s| StepDoc {
                every: i64::from(s.every),
                percent: s.percent.normalize().to_string(),
            }),
            fees: self
                .fees
                .iter()
                .map(|f| FeeDoc {
                    name: f.name.clone(),
                    amount: match f.amount {
                        FeeAmount::Fixed(m) => Some(amount(m)),
                        FeeAmount::Percent(_) => None,
                    },
                    percent: match f.amount {
                        FeeAmount::Percent(p) => Some(p.normalize().to_string()),
                        FeeAmount::Fixed(_) => None,
                    },
                    tax_percent: (!f.tax_percent.is_zero())
                        .then(|| f.tax_percent.normalize().to_string()),
                    collect: f.collect,
                })
                .collect(),
            tranches: self
                .tranches
                .iter()
                .map(|t| TrancheDoc {
                    date: t.date,
                    amount: amount(t.amount),
                })
                .collect(),
            calendar: self.calendar.clone(),
            allocation: (self.allocation != Allocation::default()).then_some(self.allocation),
            excess: (self.excess != ExcessHandling::default()).then_some(self.excess),
            penal: self.penal.map(|p| match p {
                Penal::PerMissedInstallment(m) => PenalDoc {
                    per_missed_installment: Some(amount(m)),
                    percent: None,
                },
                Penal::Percent(pct) => PenalDoc {
                    per_missed_installment: None,
                    percent: Some(pct.normalize().to_string()),
                },
            }),
            foreclosure_fee: self.foreclosure_fee.map(|f| ForeclosureFeeDoc {
                percent: f.percent.normalize().to_string(),
                tax_percent: (!f.tax_percent.is_zero())
                    .then(|| f.tax_percent.normalize().to_string()),
            }),
            partners: self
                .partners
                .iter()
                .map(|p| PartnerDoc {
                    id: p.id.clone(),
                    share: p.share.normalize().to_string(),
                    annual_rate: p.annual_rate.normalize().to_string(),
                    originator: p.originator,
                })
                .collect(),
            split: (!self.partners.is_empty()).then_some(self.split),
            security_value: self.security_value.map(amount),
        }
    }
}
