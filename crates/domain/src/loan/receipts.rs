//! Receipt references: a reference names one receipt of a loan forever, and a reversal names one
//! receipt dated on or before it.
//!
//! These rules are checked over the whole event list, whatever the replay date, so that whether a
//! list is valid does not depend on the day it is read: a payment reusing the reference of a
//! reversed receipt, or a back-dated one reusing the reference of a later-dated receipt, is refused
//! on every day.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calendar::{Date, strict_date};
use crate::events::{Event, EventKind};

use super::{ReplayError, fail, limits};

/// The receipts a loan applied: each one's reference and date, in the order received. It is what
/// the reference checks and a resume need of them (a reversal of a receipt a snapshot applied
/// resumes from an earlier snapshot). Where a receipt's money went is in its effects (`received`,
/// `allocated`, `excess_held`, `excess_applied`), not in the state: nothing after its day reads it.
///
/// The receipts up to the last snapshot are shared between the snapshot and every engine resumed
/// from it, so that cloning costs the receipts applied since. Equality is of the receipts in
/// order, wherever they are held.
///
/// Encoded as a JSON object `{"reference": "YYYY-MM-DD", …}` in the order received.
#[derive(Debug, Clone, Default)]
pub struct Receipts {
    /// Earlier receipts: never changed while shared.
    sealed: Arc<IndexMap<String, Date>>,
    /// Receipts since.
    recent: IndexMap<String, Date>,
}

/// Receipts applied since a snapshot beyond which a new snapshot seals them even when that
/// copies the shared ones: the copy then costs at most this many copies for each receipt.
const RECENT_MAX: usize = 64;

impl Receipts {
    /// The date of receipt `reference`.
    pub fn get(&self, reference: &str) -> Option<Date> {
        self.recent
            .get(reference)
            .or_else(|| self.sealed.get(reference))
            .copied()
    }

    pub fn contains(&self, reference: &str) -> bool {
        self.get(reference).is_some()
    }

    pub fn len(&self) -> usize {
        self.sealed.len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every receipt's reference and date, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Date)> {
        self.sealed
            .iter()
            .chain(&self.recent)
            .map(|(r, d)| (r.as_str(), *d))
    }

    /// Record a receipt whose reference is new (checked by the caller).
    pub(super) fn insert(&mut self, reference: String, date: Date) {
        debug_assert!(!self.contains(&reference), "receipt `{reference}` twice");
        self.recent.insert(reference, date);
    }

    /// Move the recent receipts to the shared part when that is cheap (it is not shared) or the
    /// recent ones have grown past [`RECENT_MAX`].
    pub(super) fn seal(&mut self) {
        if self.recent.is_empty() {
            return;
        }
        if let Some(sealed) = Arc::get_mut(&mut self.sealed) {
            sealed.extend(self.recent.drain(..));
        } else if self.recent.len() > RECENT_MAX {
            Arc::make_mut(&mut self.sealed).extend(self.recent.drain(..));
        }
    }
}

impl PartialEq for Receipts {
    fn eq(&self, other: &Receipts) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Receipts {}

impl Serialize for Receipts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Receipts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Receipts, D::Error> {
        /// A date written `YYYY-MM-DD`, read without copying its text.
        #[derive(Deserialize)]
        struct Day(#[serde(deserialize_with = "strict_date::deserialize")] Date);
        struct References;
        impl<'de> Visitor<'de> for References {
            type Value = IndexMap<String, Date>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of receipt references and dates")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let capacity = map.size_hint().unwrap_or(0).min(limits::MAX_EVENTS);
                let mut receipts = IndexMap::with_capacity(capacity);
                while let Some((reference, Day(date))) = map.next_entry::<String, Day>()? {
                    if receipts.len() >= limits::MAX_EVENTS {
                        return Err(de::Error::custom("more receipts than MAX_EVENTS"));
                    }
                    if receipts.insert(reference, date).is_some() {
                        return Err(de::Error::custom("a receipt reference is listed twice"));
                    }
                }
                Ok(receipts)
            }
        }
        Ok(Receipts {
            sealed: Arc::new(deserializer.deserialize_map(References)?),
            recent: IndexMap::new(),
        })
    }
}

/// Check every receipt reference and every reversal of the list.
///
/// - Each receipt (`payment`, `prepayment`, `recovery`, `settlement`, `foreclosure` with a
///   reference) has a reference no event recorded before it used; reversed or not, whatever the
///   value dates. The later-recorded event is the one refused.
/// - Each `payment_reversal` names exactly one receipt that applies before it (dated on or before
///   it; on the same day, recorded before it) and is not reversed already.
///
/// `order` is the list in application order (value date, ties in recorded order).
pub(super) fn check_references(
    events: &[Event],
    order: &[(usize, &Event)],
) -> Result<(), ReplayError> {
    check_references_after(events, order, 0, |_| None).map(|_| ())
}

/// A receipt reference used before the events being checked (by a snapshot's history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prior {
    /// A receipt of this date that the history applied.
    Applied(Date),
    /// A receipt the history left out, reversed on this date.
    Reversed(Date),
}

/// A reversal among the events checked of a receipt the prior history applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PriorReversal {
    /// Stored index of the reversal.
    pub index: usize,
    pub reversal_date: Date,
    pub receipt_date: Date,
}

/// [`check_references`] for `events`, stored from index `base` on, recorded after a history whose
/// receipt references `prior` tells; `order` holds stored indexes. Returns the reversals of receipts the history applied
/// (which the history alone cannot undo).
pub(super) fn check_references_after(
    events: &[Event],
    order: &[(usize, &Event)],
    base: usize,
    prior: impl Fn(&str) -> Option<Prior>,
) -> Result<Vec<PriorReversal>, ReplayError> {
    let mut first_use: HashMap<&str, &Event> = HashMap::with_capacity(events.len());
    let mut reversals = false;
    for (index, event) in (base..).zip(events) {
        reversals |= matches!(event.kind, EventKind::PaymentReversal { .. });
        let Some(reference) = event.kind.receipt_reference() else {
            continue;
        };
        if prior(reference).is_some() {
            return Err(fail(
                index,
                event,
                (
                    "reference",
                    format!(
                        "`{reference}` already names a receipt of this loan: a receipt reference \
                         may be used once, even after a reversal"
                    ),
                ),
            ));
        }
        if let Some(earlier) = first_use.insert(reference, event) {
            return Err(fail(
                index,
                event,
                (
                    "reference",
                    format!(
                        "`{reference}` already names the {} of {} on this loan: a receipt \
                         reference may be used once, even after a reversal",
                        earlier.kind.name(),
                        earlier.date
                    ),
                ),
            ));
        }
    }
    if !reversals {
        return Ok(Vec::new());
    }
    check_reversals(order, &first_use, prior)
}

/// Each reversal of `order` names one receipt that applies before it and is not reversed yet
/// (`first_use`: the receipt events by reference); returns those of receipts `prior` applied.
fn check_reversals(
    order: &[(usize, &Event)],
    first_use: &HashMap<&str, &Event>,
    prior: impl Fn(&str) -> Option<Prior>,
) -> Result<Vec<PriorReversal>, ReplayError> {
    let mut prior_reversals = Vec::new();
    // Receipts applied so far (by reference), and the date each was reversed on.
    let mut applied: HashMap<&str, Option<Date>> = HashMap::with_capacity(first_use.len());
    for &(index, event) in order {
        if let Some(reference) = event.kind.receipt_reference() {
            applied.insert(reference, None);
        }
        let EventKind::PaymentReversal { reference, .. } = &event.kind else {
            continue;
        };
        let rule = match applied.get_mut(reference.as_str()) {
            Some(reversed @ None) => {
                *reversed = Some(event.date);
                continue;
            }
            Some(Some(on)) => (
                "reference",
                format!(
                    "{} `{reference}` is already reversed (on {on}): a receipt is reversed once",
                    first_use
                        .get(reference.as_str())
                        .map_or("receipt", |e| e.kind.name())
                ),
            ),
            None => match (prior(reference), first_use.get(reference.as_str())) {
                (Some(Prior::Applied(receipt_date)), _) => {
                    applied.insert(reference, Some(event.date));
                    prior_reversals.push(PriorReversal {
                        index,
                        reversal_date: event.date,
                        receipt_date,
                    });
                    continue;
                }
                (Some(Prior::Reversed(on)), _) => (
                    "reference",
                    format!(
                        "receipt `{reference}` is already reversed (on {on}): a receipt is \
                         reversed once"
                    ),
                ),
                (None, receipt) => match receipt {
                    Some(receipt) => (
                        "date",
                        format!(
                            "is before the {} `{reference}` it reverses ({}): a reversal must be \
                         dated on or after its receipt",
                            receipt.kind.name(),
                            receipt.date
                        ),
                    ),
                    None => (
                        "reference",
                        format!("no payment or other receipt `{reference}` on this loan"),
                    ),
                },
            },
        };
        return Err(fail(index, event, rule));
    }
    Ok(prior_reversals)
}

/// The receipts reversed on or before `as_of`, by reference, with their reversal date. The list
/// must have passed [`check_references`]: each reference names one receipt.
pub(super) fn voided_receipts<'a>(
    order: &[(usize, &'a Event)],
    as_of: Date,
) -> HashMap<&'a str, Date> {
    order
        .iter()
        .take_while(|(_, e)| e.date <= as_of)
        .filter_map(|(_, e)| match &e.kind {
            EventKind::PaymentReversal { reference, .. } => Some((reference.as_str(), e.date)),
            _ => None,
        })
        .collect()
}
