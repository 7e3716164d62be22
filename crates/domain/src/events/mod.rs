//! Loan events: the append-only, value-dated facts a loan's state is replayed from.
//!
//! The JSON form is versioned: an event object may carry `"v"` (default 1). Each version has its
//! own document type, and older versions are upgraded to the current [`Event`] when read, so an
//! event written today still replays after the code grows.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::money::{Currency, Money, format_minor};
use crate::terms::{FieldError, Moratorium, amount_limit_rule, parse_plain_decimal};

mod stored;

/// The current version of the event JSON.
pub const EVENT_VERSION: u32 = 1;

/// Kinds of charge a `charge` event can levy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChargeKind {
    Bounce,
    Penal,
    Other,
}

/// What a waiver reduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WaiverComponent {
    /// Charges due, oldest first.
    Charges,
    /// Interest due (overdue instalment interest), oldest first.
    Interest,
}

/// How a prepayment re-shapes the remaining schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PrepaymentAdjust {
    /// Same number of instalments, lower instalment.
    ReduceEmi,
    /// Same instalment, fewer instalments.
    ReduceTenure,
}

/// What a rate change keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RateChangeKeep {
    /// The instalment stays; the tenure moves.
    Emi,
    /// The tenure stays; the instalment moves.
    Tenure,
}

/// One event, typed. Money is in minor units of the loan's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Disbursement {
        amount: i64,
        reference: Option<String>,
    },
    Payment {
        amount: i64,
        reference: String,
        channel: Option<String>,
    },
    PaymentReversal {
        reference: String,
        reason: Option<String>,
    },
    Charge {
        kind: ChargeKind,
        amount: i64,
        reference: Option<String>,
    },
    Waiver {
        component: WaiverComponent,
        amount: i64,
    },
    Prepayment {
        amount: i64,
        adjust: PrepaymentAdjust,
        reference: String,
    },
    RateChange {
        annual_rate: Decimal,
        keep: RateChangeKeep,
    },
    Restructure {
        installments: Option<u32>,
        installment_amount: Option<i64>,
        moratorium: Option<Moratorium>,
    },
    WriteOff {
        reason: Option<String>,
    },
    /// The lender, its auditors or an RBI inspection identify an NPA as a loss asset.
    LossIdentified {
        reason: Option<String>,
    },
    Recovery {
        amount: i64,
        reference: Option<String>,
    },
    Settlement {
        amount: i64,
        reference: Option<String>,
    },
    Foreclosure {
        amount: i64,
        reference: Option<String>,
    },
}

impl EventKind {
    /// The reference of money received, which a `payment_reversal` can name.
    pub fn receipt_reference(&self) -> Option<&str> {
        match self {
            EventKind::Payment { reference, .. } | EventKind::Prepayment { reference, .. } => {
                Some(reference)
            }
            EventKind::Recovery { reference, .. }
            | EventKind::Settlement { reference, .. }
            | EventKind::Foreclosure { reference, .. } => reference.as_deref(),
            _ => None,
        }
    }

    /// The event's `type` name in JSON.
    pub const fn name(&self) -> &'static str {
        match self {
            EventKind::Disbursement { .. } => "disbursement",
            EventKind::Payment { .. } => "payment",
            EventKind::PaymentReversal { .. } => "payment_reversal",
            EventKind::Charge { .. } => "charge",
            EventKind::Waiver { .. } => "waiver",
            EventKind::Prepayment { .. } => "prepayment",
            EventKind::RateChange { .. } => "rate_change",
            EventKind::Restructure { .. } => "restructure",
            EventKind::WriteOff { .. } => "write_off",
            EventKind::LossIdentified { .. } => "loss_identified",
            EventKind::Recovery { .. } => "recovery",
            EventKind::Settlement { .. } => "settlement",
            EventKind::Foreclosure { .. } => "foreclosure",
        }
    }
}

/// A value-dated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Value date: the day the event takes effect.
    pub date: Date,
    pub kind: EventKind,
}

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
            } => {
                let rate = parse_plain_decimal(annual_rate)
                    .filter(|r| *r >= Decimal::ZERO && *r <= Decimal::ONE_HUNDRED && r.scale() <= 6)
                    .ok_or_else(|| {
                        FieldError::coded(
                            "annual_rate",
                            "rate.range",
                            "must be a decimal between 0 and 100 with at most 6 decimal places",
                        )
                    })?;
                (
                    *date,
                    EventKind::RateChange {
                        annual_rate: rate,
                        keep: *keep,
                    },
                )
            }
            D::Restructure {
                date,
                installments,
                installment_amount,
                moratorium,
            } => {
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
                    .as_deref()
                    .map(|a| amount("installment_amount", a, currency, true))
                    .transpose()?;
                if installments.is_none() && installment_amount.is_none() && moratorium.is_none() {
                    return Err(FieldError::coded(
                        "restructure",
                        "event.restructure_empty",
                        "needs at least one of installments, installment_amount and moratorium",
                    ));
                }
                if let Some(m) = moratorium {
                    if m.periods == 0 || m.periods > 60 {
                        return Err(FieldError::coded(
                            "moratorium.periods",
                            "moratorium.periods",
                            "must be between 1 and 60",
                        ));
                    }
                }
                (
                    *date,
                    EventKind::Restructure {
                        installments,
                        installment_amount,
                        moratorium: *moratorium,
                    },
                )
            }
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

impl Event {
    /// Read one event from its JSON value, upgrading older versions.
    pub fn from_json_value(
        value: &serde_json::Value,
        currency: Currency,
    ) -> Result<Event, FieldError> {
        let mut value = value.clone();
        let version = match value.as_object_mut() {
            Some(obj) => match obj.remove("v") {
                None => 1,
                Some(v) => v.as_u64().ok_or_else(|| {
                    FieldError::coded("v", "event.version", "must be a whole number")
                })?,
            },
            None => {
                return Err(FieldError::coded(
                    "event",
                    "event.object",
                    "must be a JSON object",
                ));
            }
        };
        // An internally tagged enum buffers its fields, which hides the failing field's path;
        // check the fields' JSON types up front so an error names its field.
        if let Some(obj) = value.as_object() {
            for (k, v) in obj {
                let rule = match (k.as_str(), v) {
                    ("type" | "date" | "installments" | "moratorium", _)
                    | (_, serde_json::Value::Null) => None,
                    ("amount" | "annual_rate" | "installment_amount", v) if !v.is_string() => {
                        Some("must be a decimal string such as \"969.73\"")
                    }
                    (
                        "reference" | "channel" | "reason" | "kind" | "component" | "adjust"
                        | "keep",
                        v,
                    ) if !v.is_string() => Some("must be a string"),
                    _ => None,
                };
                if let Some(rule) = rule {
                    return Err(FieldError::coded(k.clone(), "json.type", rule));
                }
            }
            if let Some(n) = obj.get("installments") {
                if !n.is_u64() && !n.is_null() {
                    return Err(FieldError::coded(
                        "installments",
                        "json.type",
                        "must be a whole number",
                    ));
                }
            }
        }
        if let Some(date) = value.get("date") {
            match date.as_str() {
                Some(text) => {
                    crate::calendar::parse_date(text)
                        .map_err(|e| FieldError::coded("date", "date.format", e))?;
                }
                None => {
                    return Err(FieldError::coded(
                        "date",
                        "date.format",
                        "must be a date string YYYY-MM-DD",
                    ));
                }
            }
        }
        match version {
            1 => {
                let doc: EventDocV1 = serde_path_to_error::deserialize(&value).map_err(|e| {
                    let path = e.path().to_string();
                    let field = if path == "." {
                        "event".to_owned()
                    } else {
                        path
                    };
                    FieldError::from_json(field, e.inner())
                })?;
                doc.parse(currency)
            }
            v => Err(FieldError::coded(
                "v",
                "event.version",
                format!("event version {v} is not known (this build reads 1 to {EVENT_VERSION})"),
            )),
        }
    }

    /// Read one stored event: the fast path for documents this build wrote (current version),
    /// falling back to the general reader for older ones.
    pub fn from_stored_json(text: &str, currency: Currency) -> Result<Event, FieldError> {
        match serde_json::from_str::<EventDocV1>(text) {
            Ok(doc) => doc.parse(currency),
            Err(_) => {
                let v: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| FieldError::from_json("event", &e))?;
                Event::from_json_value(&v, currency)
            }
        }
    }

    /// Read a JSON array of events (or JSON lines, one object per line). Errors name the event's
    /// position (`events[3].amount: …`).
    pub fn list_from_json(text: &str, currency: Currency) -> Result<Vec<Event>, Vec<FieldError>> {
        let trimmed = text.trim_start();
        let values: Vec<serde_json::Value> = if trimmed.starts_with('[') {
            serde_json::from_str(text).map_err(|e| vec![FieldError::from_json("events", &e)])?
        } else {
            let mut out = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                out.push(serde_json::from_str(line).map_err(|e| {
                    vec![FieldError::from_json(format!("events line {}", i + 1), &e)]
                })?);
            }
            out
        };
        let mut events = Vec::with_capacity(values.len());
        let mut errors = Vec::new();
        for (i, v) in values.iter().enumerate() {
            match Event::from_json_value(v, currency) {
                Ok(e) => events.push(e),
                Err(e) => {
                    let field = format!("events[{i}].{}", e.field);
                    errors.push(e.at(field));
                }
            }
        }
        if errors.is_empty() {
            Ok(events)
        } else {
            Err(errors)
        }
    }

    /// The current-version JSON document of this event.
    pub fn to_doc(&self, currency: Currency) -> EventDocV1 {
        let a = |m: i64| format_minor(m, currency.minor_digits());
        let date = self.date;
        match &self.kind {
            EventKind::Disbursement { amount, reference } => EventDocV1::Disbursement {
                date,
                amount: a(*amount),
                reference: reference.clone(),
            },
            EventKind::Payment {
                amount,
                reference,
                channel,
            } => EventDocV1::Payment {
                date,
                amount: a(*amount),
                reference: reference.clone(),
                channel: channel.clone(),
            },
            EventKind::PaymentReversal { reference, reason } => EventDocV1::PaymentReversal {
                date,
                reference: reference.clone(),
                reason: reason.clone(),
            },
            EventKind::Charge {
                kind,
                amount,
                reference,
            } => EventDocV1::Charge {
                date,
                kind: *kind,
                amount: a(*amount),
                reference: reference.clone(),
            },
            EventKind::Waiver { component, amount } => EventDocV1::Waiver {
                date,
                component: *component,
                amount: a(*amount),
            },
            EventKind::Prepayment {
                amount,
                adjust,
                reference,
            } => EventDocV1::Prepayment {
                date,
                amount: a(*amount),
                adjust: *adjust,
                reference: reference.clone(),
            },
            EventKind::RateChange { annual_rate, keep } => EventDocV1::RateChange {
                date,
                annual_rate: annual_rate.normalize().to_string(),
                keep: *keep,
            },
            EventKind::Restructure {
                installments,
                installment_amount,
                moratorium,
            } => EventDocV1::Restructure {
                date,
                installments: installments.map(i64::from),
                installment_amount: installment_amount.map(a),
                moratorium: *moratorium,
            },
            EventKind::WriteOff { reason } => EventDocV1::WriteOff {
                date,
                reason: reason.clone(),
            },
            EventKind::LossIdentified { reason } => EventDocV1::LossIdentified {
                date,
                reason: reason.clone(),
            },
            EventKind::Recovery { amount, reference } => EventDocV1::Recovery {
                date,
                amount: a(*amount),
                reference: reference.clone(),
            },
            EventKind::Settlement { amount, reference } => EventDocV1::Settlement {
                date,
                amount: a(*amount),
                reference: reference.clone(),
            },
            EventKind::Foreclosure { amount, reference } => EventDocV1::Foreclosure {
                date,
                amount: a(*amount),
                reference: reference.clone(),
            },
        }
    }
}
