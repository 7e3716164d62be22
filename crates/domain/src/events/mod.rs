//! Loan events: the append-only, value-dated facts a loan's state is replayed from.
//!
//! The JSON form is versioned: an event object may carry `"v"` (default 1). Each version has its
//! own document type, and older versions are upgraded to the current [`Event`] when read, so an
//! event written today still replays after the code grows.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::money::{Currency, format_minor};
use crate::terms::{FieldError, Moratorium};

mod stored;
mod wire;

pub use wire::{EventDocV1, MAX_TEXT};

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
#[derive(Debug, Clone, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
    /// Another facility of the same borrower (`facility`, its loan id) is NPA, so this one is
    /// classified NPA with it: asset classification is borrower-wise. Written by the close.
    BorrowerNpa {
        facility: String,
    },
    /// Every facility of the borrower has its arrears paid: the NPA it was held in with the
    /// borrower ends. Written by the close.
    BorrowerUpgraded,
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
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

/// A value-dated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Value date: the day the event takes effect.
    pub date: Date,
    pub kind: EventKind,
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
            EventKind::BorrowerNpa { facility } => EventDocV1::BorrowerNpa {
                date,
                facility: facility.clone(),
            },
            EventKind::BorrowerUpgraded => EventDocV1::BorrowerUpgraded { date },
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
