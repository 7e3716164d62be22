//! Effects: what applying an event or running a day-end did to the loan, in minor units, for the
//! outbox, the general ledger, collections and notifications.
//!
//! Effects sum to the balances. While the loan is active or written off, over the effects of a
//! replay from the first event:
//!
//! - principal outstanding = Σ `disbursed.amount + disbursed.financed` + Σ `capitalised.amount`
//!   − Σ `allocated.amount` of component `principal`;
//! - interest overdue = Σ `fell_due.interest` − Σ `allocated` interest − Σ `waived` interest
//!   − Σ `capitalised.amount` of cause `restructure` (arrears interest turned into principal);
//! - charges due = Σ `levied.amount` − Σ `allocated` charges − Σ `waived` charges;
//! - penal accrued = Σ `penal_accrued.amount` − Σ `levied.amount` with `from_accrued`;
//! - money held = Σ `excess_held.amount` − Σ `excess_applied.amount`;
//! - each co-lender's principal outstanding is the same sum over the `partner_parts`;
//! - the classification history is the sequence of `class_changed.to`.
//!
//! Money is carried as integers in minor units (paise, cents) throughout.

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::delinquency::Classification;
use crate::events::{ChargeKind, WaiverComponent};

use super::Loss;

/// One thing that happened to the loan: the day it happened, the stored index of the event that
/// caused it (none for a day-end), and what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    pub date: Date,
    /// Index of the causing event in the loan's stored event list; `None` for a day-end.
    pub event: Option<usize>,
    #[serde(flatten)]
    pub kind: EffectKind,
}

impl Effect {
    /// The effect's name: `allocated`, `fell_due`, … (the `effect` field of its JSON).
    pub fn name(&self) -> &'static str {
        (&self.kind).into()
    }
}

/// What an allocated amount paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "component", rename_all = "snake_case")]
pub enum Paid {
    Principal,
    Interest,
    /// A levied charge (penal charges are charges of kind `penal`).
    Charge {
        kind: ChargeKind,
    },
}

/// Why interest was capitalised into principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capitalisation {
    /// A moratorium instalment fell due and its interest joined the principal.
    Moratorium,
    /// A restructure turned the arrears' interest into principal.
    Restructure,
}

/// Why the instalments not yet fallen due were replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RescheduleCause {
    Tranche,
    Prepayment,
    RateChange,
    Restructure,
}

/// The kinds of effect, each documented with what it means for the balances.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumDiscriminants,
)]
#[serde(tag = "effect", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[strum_discriminants(
    name(EffectName),
    derive(strum::IntoStaticStr, strum::EnumIter, Hash, PartialOrd, Ord),
    strum(serialize_all = "snake_case")
)]
pub enum EffectKind {
    /// Principal paid out to the borrower; `financed` fees join the principal with the first
    /// disbursement. `partner_parts` is each co-lender's part of `amount + financed`.
    Disbursed {
        amount: i64,
        financed: i64,
        partner_parts: Vec<i64>,
    },
    /// An instalment fell due: its principal and interest are owed from this day.
    FellDue {
        instalment: u32,
        principal: i64,
        interest: i64,
    },
    /// Money was received (payment, prepayment, recovery, settlement, foreclosure) under
    /// `reference`. What it paid follows as `allocated` effects; what is left over as
    /// `excess_held`.
    Received { reference: String, amount: i64 },
    /// Part of the money of receipt `reference` paid a component of an instalment
    /// (`instalment` none: principal repaid ahead of schedule) or a charge.
    Allocated {
        reference: String,
        #[serde(flatten)]
        paid: Paid,
        instalment: Option<u32>,
        amount: i64,
        partner_parts: Vec<i64>,
    },
    /// Money of receipt `reference` is held above what is due.
    ExcessHeld { reference: String, amount: i64 },
    /// Held money of receipt `reference` was used (to pay dues or to prepay principal): the
    /// `allocated` effects it paid follow.
    ExcessApplied { reference: String, amount: i64 },
    /// Penal interest accrued on the arrears at a day-end.
    PenalAccrued { amount: i64 },
    /// A charge was levied; `from_accrued` when it is accrued penal interest turned into a charge.
    Levied {
        kind: ChargeKind,
        amount: i64,
        reference: Option<String>,
        from_accrued: bool,
    },
    /// Interest or charges were waived.
    Waived {
        component: WaiverComponent,
        amount: i64,
    },
    /// Interest was added to the principal.
    Capitalised {
        cause: Capitalisation,
        amount: i64,
        partner_parts: Vec<i64>,
    },
    /// The annual rate changed.
    RateChanged {
        from: rust_decimal::Decimal,
        to: rust_decimal::Decimal,
    },
    /// The instalments not yet fallen due were replaced by `installments` new ones.
    Rescheduled {
        cause: RescheduleCause,
        installments: u32,
        installment_amount: i64,
    },
    /// Receipt `reference` was reversed: the money never came, and a replay leaves the receipt
    /// out of the loan's whole history (its allocations are not in a replay's effects).
    Reversed { reference: String, amount: i64 },
    /// The SMA/NPA class changed.
    ClassChanged {
        from: Classification,
        to: Classification,
    },
    /// The loan was identified as a loss asset.
    LossIdentified,
    /// The loan was written off; `loss` is what was outstanding.
    WrittenOff { loss: Loss },
    /// Money was received on a written-off loan.
    Recovered { reference: String, amount: i64 },
    /// The loan was settled for `amount`; `shortfall` is what was given up.
    Settled {
        reference: String,
        amount: i64,
        shortfall: Loss,
    },
    /// The loan was paid off ahead of its schedule.
    Foreclosed { reference: String, amount: i64 },
    /// Everything was repaid: the loan is closed.
    Closed,
}

/// Effects being collected while an engine runs. Not part of the loan's state: it is skipped by
/// serde and every two are equal, so a snapshot and an engine compare by the loan alone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Effects {
    /// Whether to collect at all: a plain replay does not, and pays nothing for it.
    on: bool,
    /// Stored index of the event being applied; `None` during a day-end.
    pub(super) event: Option<usize>,
    list: Vec<Effect>,
}

impl PartialEq for Effects {
    fn eq(&self, _: &Effects) -> bool {
        true
    }
}

impl Eq for Effects {}

impl Effects {
    pub(super) fn start(&mut self) {
        self.on = true;
        self.list.clear();
    }

    pub(super) fn is_on(&self) -> bool {
        self.on
    }

    /// Stop collecting and hand over what was collected.
    pub(super) fn finish(&mut self) -> Vec<Effect> {
        self.on = false;
        std::mem::take(&mut self.list)
    }

    /// Record the effect `kind()` on `date` when collecting; `kind` is not called otherwise.
    pub(super) fn emit(&mut self, date: Date, kind: impl FnOnce() -> EffectKind) {
        if self.on {
            self.list.push(Effect {
                date,
                event: self.event,
                kind: kind(),
            });
        }
    }
}
