//! Stored events: validated once, when they were written, so a read only decodes them.
//!
//! The stored encoding is the current version's document ([`EventDocV1`]) written by
//! [`Event::to_stored_json`]: compact JSON, fields in the document type's order, money in the
//! currency's minor digits, rates normalised. The same event always encodes to the same bytes, and
//! decoding then encoding a stored event gives back its text.
//!
//! [`Event::from_trusted_json`] reads that encoding in one pass into a flat record (no buffering of
//! the tagged document, no copies of strings that need no unescaping) and types it without
//! re-checking the rules: it refuses only what the types force (a missing field, an amount that
//! is not decimal). A document of another version, or of a type this fast path has no arm for,
//! takes the general reader (which refuses an unknown type).

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::calendar::Date;
use crate::money::{Currency, Money};
use crate::terms::{FieldError, Moratorium};

use super::{
    ChargeKind, EVENT_VERSION, Event, EventDocV1, EventKind, PrepaymentAdjust, RateChangeKeep,
    WaiverComponent,
};

/// Every field any event version 1 can carry, read in one pass.
#[derive(Deserialize)]
struct Stored<'a> {
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[serde(default)]
    v: Option<u64>,
    date: Date,
    #[serde(default, borrow)]
    amount: Option<Cow<'a, str>>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    facility: Option<String>,
    #[serde(default, rename = "kind")]
    charge: Option<ChargeKind>,
    #[serde(default)]
    component: Option<WaiverComponent>,
    #[serde(default)]
    adjust: Option<PrepaymentAdjust>,
    #[serde(default)]
    keep: Option<RateChangeKeep>,
    #[serde(default, borrow)]
    annual_rate: Option<Cow<'a, str>>,
    #[serde(default)]
    installments: Option<u32>,
    #[serde(default, borrow)]
    installment_amount: Option<Cow<'a, str>>,
    #[serde(default)]
    moratorium: Option<Moratorium>,
}

fn missing(field: &'static str) -> FieldError {
    FieldError::coded(field, "field.missing", format!("missing field `{field}`"))
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, FieldError> {
    value.ok_or_else(|| missing(field))
}

fn minor(field: &'static str, s: Option<&str>, currency: Currency) -> Result<i64, FieldError> {
    let s = required(s, field)?;
    Money::parse(s, currency)
        .map(Money::minor)
        .map_err(|e| FieldError::coded(field, "amount.format", e.to_string()))
}

impl Stored<'_> {
    fn amount(&self, currency: Currency) -> Result<i64, FieldError> {
        minor("amount", self.amount.as_deref(), currency)
    }

    /// The event's kind, or `None` for a type this fast path does not know: that one takes the
    /// general reader, so a new kind needs no arm here to be read (only to be read fast).
    fn into_kind(self, currency: Currency) -> Result<Option<EventKind>, FieldError> {
        Ok(Some(match self.event_type.as_ref() {
            "disbursement" => EventKind::Disbursement {
                amount: self.amount(currency)?,
                reference: self.reference,
            },
            "payment" => EventKind::Payment {
                amount: self.amount(currency)?,
                reference: required(self.reference, "reference")?,
                channel: self.channel,
            },
            "payment_reversal" => EventKind::PaymentReversal {
                reference: required(self.reference, "reference")?,
                reason: self.reason,
            },
            "charge" => EventKind::Charge {
                kind: required(self.charge, "kind")?,
                amount: self.amount(currency)?,
                reference: self.reference,
            },
            "waiver" => EventKind::Waiver {
                component: required(self.component, "component")?,
                amount: self.amount(currency)?,
            },
            "prepayment" => EventKind::Prepayment {
                amount: self.amount(currency)?,
                adjust: required(self.adjust, "adjust")?,
                reference: required(self.reference, "reference")?,
            },
            "rate_change" => EventKind::RateChange {
                annual_rate: required(self.annual_rate.as_deref(), "annual_rate")?
                    .parse::<Decimal>()
                    .map_err(|e| FieldError::coded("annual_rate", "rate.format", e.to_string()))?,
                keep: required(self.keep, "keep")?,
            },
            "restructure" => EventKind::Restructure {
                installments: self.installments,
                installment_amount: match self.installment_amount.as_deref() {
                    Some(a) => Some(minor("installment_amount", Some(a), currency)?),
                    None => None,
                },
                moratorium: self.moratorium,
            },
            "write_off" => EventKind::WriteOff {
                reason: self.reason,
            },
            "loss_identified" => EventKind::LossIdentified {
                reason: self.reason,
            },
            "recovery" => EventKind::Recovery {
                amount: self.amount(currency)?,
                reference: self.reference,
            },
            "borrower_npa" => EventKind::BorrowerNpa {
                facility: required(self.facility, "facility")?,
            },
            "borrower_upgraded" => EventKind::BorrowerUpgraded,
            "settlement" => EventKind::Settlement {
                amount: self.amount(currency)?,
                reference: self.reference,
            },
            "foreclosure" => EventKind::Foreclosure {
                amount: self.amount(currency)?,
                reference: self.reference,
            },
            _ => return Ok(None),
        }))
    }
}

impl Event {
    /// Read one stored event without re-validating it (it was validated when it was written):
    /// see [the module](self). Older versions are upgraded by the general reader.
    pub fn from_trusted_json(text: &str, currency: Currency) -> Result<Event, FieldError> {
        let stored: Stored<'_> =
            serde_json::from_str(text).map_err(|e| FieldError::from_json("event", &e))?;
        if stored.v.is_some_and(|v| v != u64::from(EVENT_VERSION)) {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| FieldError::from_json("event", &e))?;
            return Event::from_json_value(&value, currency);
        }
        let date: Date = stored.date;
        match stored.into_kind(currency)? {
            Some(kind) => Ok(Event { date, kind }),
            None => {
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| FieldError::from_json("event", &e))?;
                Event::from_json_value(&value, currency)
            }
        }
    }

    /// The stored encoding of this event: its current-version document as compact JSON.
    pub fn to_stored_json(&self, currency: Currency) -> String {
        let doc: EventDocV1 = self.to_doc(currency);
        // A document of strings, numbers and enums always serialises.
        serde_json::to_string(&doc).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_without_a_fast_arm_takes_the_general_reader() {
        let unknown = r#"{"type":"teleport","date":"2024-01-01","amount":"1.00"}"#;
        let fast = Event::from_trusted_json(unknown, Currency::INR).unwrap_err();
        let general = Event::from_stored_json(unknown, Currency::INR).unwrap_err();
        assert_eq!(fast, general);
        let known = r#"{"type":"payment","date":"2024-01-01","amount":"1.00","reference":"R"}"#;
        assert_eq!(
            Event::from_trusted_json(known, Currency::INR).unwrap(),
            Event::from_stored_json(known, Currency::INR).unwrap()
        );
    }
}
