//! Version 1 of the event JSON, and the rules an event document is checked by.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::money::{Currency, Money};
use crate::terms::{FieldError, Moratorium, amount_limit_rule, parse_plain_decimal};

use super::{ChargeKind, Event, EventKind, PrepaymentAdjust, RateChangeKeep, WaiverComponent};

/// Version 1 of the event JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventDocV1 {
    Disbursement {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        amount: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    Payment {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        amount: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        reference: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    PaymentReversal {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        reference: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Charge {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        kind: ChargeKind,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        amount: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    Waiver {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        component: WaiverComponent,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        amount: String,
    },
    Prepayment {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        amount: String,
        adjust: PrepaymentAdjust,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        reference: String,
    },
    RateChange {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
                example = "15"
            )
        )]
        annual_rate: String,
        keep: RateChangeKeep,
    },
    Restructure {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 600))]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        installments: Option<i64>,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        installment_amount: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moratorium: Option<Moratorium>,
    },
    WriteOff {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    LossIdentified {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Recovery {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        amount: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// Another facility of the borrower (`facility`, its loan id) is NPA: this one is NPA with it.
    BorrowerNpa {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        facility: String,
    },
    /// Every facility of the borrower has its arrears paid: the borrower's NPA ends.
    BorrowerUpgraded {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
    },
    Settlement {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$", example = "400.00")
        )]
        amount: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    Foreclosure {
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", example = "2024-01-01"))]
        #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
        date: Date,
        #[cfg_attr(
            feature = "schema",
            schema(
                pattern = "^([1-9][0-9]{0,11}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$",
                example = "20000.00"
            )
        )]
        amount: String,
        #[cfg_attr(
            feature = "schema",
            schema(min_length = 1, max_length = 200, pattern = "\\S")
        )]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

/// Longest reference or free-text field accepted.
pub const MAX_TEXT: usize = 200;

fn amount(field: &str, s: &str, currency: Currency, positive: bool) -> Result<i64, FieldError> {
    let m = Money::parse(s, currency).map_err(|e| {
        FieldError::coded(
            field,
            "amount.format",
            format!("must be a decimal amount: {e}"),
        )
    })?;
    if positive && m.minor() <= 0 {
        return Err(FieldError::coded(
            field,
            "amount.positive",
            "must be greater than zero",
        ));
    }
    if m.minor() < 0 {
        return Err(FieldError::coded(
            field,
            "amount.non_negative",
            "must not be negative",
        ));
    }
    if m.minor() > currency.max_amount_minor() {
        return Err(FieldError::coded(
            field,
            "amount.max",
            amount_limit_rule(currency),
        ));
    }
    Ok(m.minor())
}

fn text(field: &str, s: &str) -> Result<String, FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::coded(field, "text.empty", "must not be empty"));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(FieldError::coded(
            field,
            "text.length",
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    Ok(s.to_owned())
}

fn opt_text(field: &str, s: &Option<String>) -> Result<Option<String>, FieldError> {
    s.as_deref().map(|s| text(field, s)).transpose()
}

/// A rate of interest: percent per annum, 0 to 100, at most 6 decimal places.
fn rate(s: &str) -> Result<Decimal, FieldError> {
    parse_plain_decimal(s)
        .filter(|r| *r >= Decimal::ZERO && *r <= Decimal::ONE_HUNDRED && r.scale() <= 6)
        .ok_or_else(|| {
            FieldError::coded(
                "annual_rate",
                "rate.range",
                "must be a decimal between 0 and 100 with at most 6 decimal places",
            )
        })
}

/// A restructure names at least one of its changes, each within its range.
fn restructure(
    installments: Option<i64>,
    installment_amount: Option<&str>,
    moratorium: Option<Moratorium>,
    currency: Currency,
) -> Result<EventKind, FieldError> {
    let installments = installments
        .map(|n| {
            u32::try_from(n)
                .ok()
                .filter(|n| (1..=crate::terms::MAX_INSTALLMENTS).contains(n))
                .ok_or_else(|| {
                    FieldError::coded(
                        "installments",
                        "installments.range",
                        "must be between 1 and 600",
                    )
                })
        })
        .transpose()?;
    let installment_amount = installment_amount
        .map(|a| amount("installment_amount", a, currency, true))
        .transpose()?;
    if installments.is_none() && installment_amount.is_none() && moratorium.is_none() {
        return Err(FieldError::coded(
            "restructure",
            "event.restructure_empty",
            "needs at least one of installments, installment_amount and moratorium",
        ));
    }
    if moratorium.is_some_and(|m| m.periods == 0 || m.periods > 60) {
        return Err(FieldError::coded(
            "moratorium.periods",
            "moratorium.periods",
            "must be between 1 and 60",
        ));
    }
    Ok(EventKind::Restructure {
        installments,
        installment_amount,
        moratorium,
    })
}

impl EventDocV1 {
    /// Check every field and type the event in the loan's currency.
    pub fn parse(&self, currency: Currency) -> Result<Event, FieldError> {
        use EventDocV1 as D;
        let (date, kind) = match self {
            D::Disbursement {
                date,
                amount: a,
                reference,
            } => (
                *date,
                EventKind::Disbursement {
                    amount: amount("amount", a, currency, true)?,
                    reference: opt_text("reference", reference)?,
                },
            ),
            D::Payment {
                date,
                amount: a,
                reference,
                channel,
            } => (
                *date,
                EventKind::Payment {
                    amount: amount("amount", a, currency, true)?,
                    reference: text("reference", reference)?,
                    channel: opt_text("channel", channel)?,
                },
            ),
            D::PaymentReversal {
                date,
                reference,
                reason,
            } => (
                *date,
                EventKind::PaymentReversal {
                    reference: text("reference", reference)?,
                    reason: opt_text("reason", reason)?,
                },
            ),
            D::Charge {
                date,
                kind,
                amount: a,
                reference,
            } => (
                *date,
                EventKind::Charge {
                    kind: *kind,
                    amount: amount("amount", a, currency, true)?,
                    reference: opt_text("reference", reference)?,
                },
            ),
            D::Waiver {
                date,
                component,
                amount: a,
            } => (
                *date,
                EventKind::Waiver {
                    component: *component,
                    amount: amount("amount", a, currency, true)?,
                },
            ),
            D::Prepayment {
                date,
                amount: a,
                adjust,
                reference,
            } => (
                *date,
                EventKind::Prepayment {
                    amount: amount("amount", a, currency, true)?,
                    adjust: *adjust,
                    reference: text("reference", reference)?,
                },
            ),
            D::RateChange {
                date,
                annual_rate,
                keep,
            } => (
                *date,
                EventKind::RateChange {
                    annual_rate: rate(annual_rate)?,
                    keep: *keep,
                },
            ),
            D::Restructure {
                date,
                installments,
                installment_amount,
                moratorium,
            } => (
                *date,
                restructure(
                    *installments,
                    installment_amount.as_deref(),
                    *moratorium,
                    currency,
                )?,
            ),
            D::WriteOff { date, reason } => (
                *date,
                EventKind::WriteOff {
                    reason: opt_text("reason", reason)?,
                },
            ),
            D::LossIdentified { date, reason } => (
                *date,
                EventKind::LossIdentified {
                    reason: opt_text("reason", reason)?,
                },
            ),
            D::Recovery {
                date,
                amount: a,
                reference,
            } => (
                *date,
                EventKind::Recovery {
                    amount: amount("amount", a, currency, true)?,
                    reference: opt_text("reference", reference)?,
                },
            ),
            D::BorrowerNpa { date, facility } => (
                *date,
                EventKind::BorrowerNpa {
                    facility: text("facility", facility)?,
                },
            ),
            D::BorrowerUpgraded { date } => (*date, EventKind::BorrowerUpgraded),
            D::Settlement {
                date,
                amount: a,
                reference,
            } => (
                *date,
                EventKind::Settlement {
                    amount: amount("amount", a, currency, false)?,
                    reference: opt_text("reference", reference)?,
                },
            ),
            D::Foreclosure {
                date,
                amount: a,
                reference,
            } => (
                *date,
                EventKind::Foreclosure {
                    amount: amount("amount", a, currency, true)?,
                    reference: opt_text("reference", reference)?,
                },
            ),
        };
        if date.year() < crate::terms::MIN_YEAR || date.year() > crate::terms::MAX_YEAR {
            return Err(FieldError::coded(
                "date",
                "date.range",
                format!(
                    "must be between {} and {}",
                    crate::terms::MIN_YEAR,
                    crate::terms::MAX_YEAR
                ),
            ));
        }
        Ok(Event { date, kind })
    }
}
