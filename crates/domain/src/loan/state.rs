//! The engine's state: the loan's instalments, charges, receipts, classification and partner
//! ledgers as a replay leaves them, and the balances read from them.

use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::delinquency::{AssetClass, Classification};
use crate::events::ChargeKind;
use crate::money::sum_minor;
use crate::schedule::{self, DueDates, Rate};
use crate::terms::Terms;

use super::{Effects, Receipts, day_after};

/// Lifecycle status of a loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Booked, nothing disbursed yet.
    Pending,
    Active,
    Closed,
    WrittenOff,
    Settled,
    Foreclosed,
}

impl Status {
    pub const fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Closed => "closed",
            Status::WrittenOff => "written_off",
            Status::Settled => "settled",
            Status::Foreclosed => "foreclosed",
        }
    }

    pub(super) fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Settled | Status::Foreclosed)
    }
}

/// A scheduled instalment with what has been paid against it.
///
/// Written as an array of its fields in order (see the `Serialize` impl below): a snapshot holds
/// one per instalment, and the array is a third of the size of the named form. Read back by the
/// derived `Deserialize`, which takes the array and the named form alike, so snapshots written
/// either way resume.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Due {
    pub number: u32,
    pub due_date: Date,
    /// Index of the due date in the loan's date sequence (`DueDates::due(seq)`).
    pub seq: u32,
    pub principal: i64,
    pub interest: i64,
    pub paid_principal: i64,
    pub paid_interest: i64,
    pub waived_interest: i64,
    /// Arrears closed by capitalising them into a restructured balance.
    pub capitalised: i64,
    /// Moratorium interest this instalment adds to the principal when it falls due.
    #[serde(default)]
    pub capitalises: i64,
    /// Scheduled principal at the start of the period (for co-lenders' interest parts).
    pub opening_balance: i64,
    /// Annual rate the interest was computed at.
    pub annual_rate: Decimal,
    pub moratorium: bool,
    pub penal_levied: bool,
}

impl Serialize for Due {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            self.number,
            self.due_date,
            self.seq,
            self.principal,
            self.interest,
            self.paid_principal,
            self.paid_interest,
            self.waived_interest,
            self.capitalised,
            self.capitalises,
            self.opening_balance,
            self.annual_rate,
            self.moratorium,
            self.penal_levied,
        )
            .serialize(serializer)
    }
}

impl Due {
    /// A scheduled instalment, nothing paid yet.
    pub(super) fn scheduled(
        row: &schedule::Installment,
        seq: u32,
        opening_balance: i64,
        annual_rate: Decimal,
        moratorium: bool,
    ) -> Due {
        Due {
            number: row.number,
            due_date: row.due_date,
            seq,
            principal: row.principal,
            interest: row.interest,
            paid_principal: 0,
            paid_interest: 0,
            waived_interest: 0,
            capitalised: 0,
            capitalises: row.capitalised,
            opening_balance,
            annual_rate,
            moratorium,
            penal_levied: false,
        }
    }

    pub fn total(&self) -> i64 {
        self.principal + self.interest
    }
    pub fn unpaid_principal(&self) -> i64 {
        self.principal - self.paid_principal - self.capitalised_principal()
    }
    pub fn unpaid_interest(&self) -> i64 {
        self.interest - self.paid_interest - self.waived_interest - self.capitalised_interest()
    }
    pub fn unpaid(&self) -> i64 {
        self.unpaid_principal() + self.unpaid_interest()
    }
    pub(super) fn capitalised_principal(&self) -> i64 {
        self.capitalised
            .min(self.principal - self.paid_principal)
            .max(0)
    }
    pub(super) fn capitalised_interest(&self) -> i64 {
        self.capitalised - self.capitalised_principal()
    }
}

/// A charge levied on the loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeDue {
    pub date: Date,
    pub kind: ChargeKind,
    pub amount: i64,
    pub paid: i64,
    pub waived: i64,
    pub reference: Option<String>,
}

impl ChargeDue {
    pub fn unpaid(&self) -> i64 {
        self.amount - self.paid - self.waived
    }
}

/// Where part of a payment went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Due(usize),
    Charge(usize),
}

/// Running totals for one co-lender.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PartnerLedger {
    pub id: String,
    /// Principal funded: its share of disbursements, financed fees and capitalised interest.
    pub principal_funded: i64,
    pub principal_received: i64,
    pub interest_received: i64,
    pub charges_received: i64,
}

impl PartnerLedger {
    pub fn principal_outstanding(&self) -> i64 {
        self.principal_funded - self.principal_received
    }
}

/// What was written off, settled away or recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Loss {
    pub principal: i64,
    pub interest: i64,
    pub charges: i64,
}

/// The replay state. It is also the snapshot: a clone taken at the end of a day resumes to the
/// same result as a full replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    /// Last day whose day-end has run.
    pub day: Option<Date>,
    pub status: Status,
    pub annual_rate: Decimal,
    pub(super) anchor: Date,
    pub(super) offset: i32,
    pub dues: Vec<Due>,
    pub charges: Vec<ChargeDue>,
    /// Dues `[..fallen]` have fallen due.
    pub(super) fallen: usize,
    /// Dues `[..settled]` (never past `fallen`) have nothing unpaid: the scans for what is owed
    /// start here. Zero is always a correct value.
    #[serde(default)]
    pub(super) settled: usize,
    pub(super) period_start: Date,
    pub(super) seg_start: Date,
    pub(super) carried: Decimal,
    /// Broken-period interest the first instalment carries on top of its period's interest
    /// (`equal_periods`): a longer first period's interest, or (negative) the interest of the days
    /// a shorter one misses. Zero once the first instalment has fallen due.
    #[serde(default)]
    pub(super) first_extra: i64,
    /// The first disbursement's date: a longer first period's interest accrues from it.
    #[serde(default)]
    pub(super) disbursed_on: Option<Date>,
    pub installment_amount: i64,
    pub disbursed: i64,
    /// Interest capitalised into principal (moratorium, restructure).
    pub capitalised: i64,
    /// Principal repaid ahead of schedule.
    pub prepaid: i64,
    /// Money held above dues, by the receipt it came from, oldest first.
    pub excess: Vec<(String, i64)>,
    /// Receipts by reference, in the order received (a hash index: replays look them up
    /// thousands of times; the part a snapshot covers is shared, not copied, by its clones).
    pub receipts: Receipts,
    pub penal_accrued: i64,
    pub classification: Classification,
    pub history: Vec<(Date, Classification)>,
    pub npa_since: Option<Date>,
    /// An NPA restructured stays NPA until this instalment is paid.
    pub(super) npa_watch: Option<u32>,
    /// The day the loan was identified as a loss asset.
    #[serde(default)]
    pub loss_identified: Option<Date>,
    /// The day another facility of the borrower made this one NPA with it, until the borrower's
    /// arrears are all paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrower_npa: Option<Date>,
    pub closed_on: Option<Date>,
    pub written_off: Option<(Date, Loss)>,
    pub recovered: i64,
    pub settlement_shortfall: Option<Loss>,
    pub partners: Vec<PartnerLedger>,
    pub events_applied: usize,
    pub(super) next_number: u32,
    /// References of receipts left out of the replay because a reversal on or before the engine's
    /// day took them out, with the reversal's date: with `receipts`, every reference used so far.
    #[serde(default)]
    pub voided: IndexMap<String, Date>,
    /// Effects being collected (not state: skipped by serde, ignored by `==`).
    #[serde(skip)]
    pub(super) effects: Effects,
}

impl Engine {
    /// A booked loan with nothing disbursed.
    pub fn new(terms: &Terms) -> Engine {
        Engine {
            day: None,
            status: Status::Pending,
            annual_rate: terms.annual_rate,
            anchor: terms.disbursement_date,
            offset: 1,
            dues: Vec::new(),
            charges: Vec::new(),
            fallen: 0,
            settled: 0,
            period_start: terms.disbursement_date,
            seg_start: terms.disbursement_date,
            carried: Decimal::ZERO,
            first_extra: 0,
            disbursed_on: None,
            installment_amount: 0,
            disbursed: 0,
            capitalised: 0,
            prepaid: 0,
            excess: Vec::new(),
            receipts: Receipts::default(),
            penal_accrued: 0,
            classification: Classification::Standard,
            history: Vec::new(),
            npa_since: None,
            npa_watch: None,
            loss_identified: None,
            borrower_npa: None,
            closed_on: None,
            written_off: None,
            recovered: 0,
            settlement_shortfall: None,
            partners: terms
                .partners
                .iter()
                .map(|p| PartnerLedger {
                    id: p.id.clone(),
                    ..PartnerLedger::default()
                })
                .collect(),
            events_applied: 0,
            next_number: 1,
            voided: IndexMap::new(),
            effects: Effects::default(),
        }
    }

    pub(super) fn rate(&self, terms: &Terms) -> Rate {
        Rate {
            annual: self.annual_rate,
            basis: terms.interest_basis,
            frequency: terms.frequency,
        }
    }

    pub(super) fn dates<'t>(&self, terms: &'t Terms) -> DueDates<'t> {
        DueDates {
            anchor: self.anchor,
            offset: self.offset,
            frequency: terms.frequency,
            calendar: terms.calendar.as_ref(),
        }
    }

    /// Scheduled principal not yet fallen due: the balance interest runs on. Moratorium interest
    /// joins it only when its instalment falls due.
    pub fn scheduled_balance(&self) -> i64 {
        sum_minor(
            self.dues[self.fallen..]
                .iter()
                .map(|d| d.principal - d.capitalises),
        )
    }

    pub fn principal_outstanding(&self) -> i64 {
        sum_minor([self.scheduled_balance(), self.principal_overdue()])
    }

    pub fn principal_overdue(&self) -> i64 {
        sum_minor(self.dues[..self.fallen].iter().map(Due::unpaid_principal))
    }

    pub fn interest_overdue(&self) -> i64 {
        sum_minor(self.dues[..self.fallen].iter().map(Due::unpaid_interest))
    }

    pub fn charges_due(&self) -> i64 {
        sum_minor(self.charges.iter().map(ChargeDue::unpaid))
    }

    pub fn excess_total(&self) -> i64 {
        sum_minor(self.excess.iter().map(|(_, a)| *a))
    }

    pub(super) fn next_due(&self) -> Option<&Due> {
        self.dues.get(self.fallen)
    }
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/// Status of one instalment at the end of `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallmentStatus {
    Paid,
    PartiallyPaid,
    Overdue,
    Due,
    Upcoming,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallmentState {
    pub number: u32,
    pub due_date: Date,
    pub principal: i64,
    pub interest: i64,
    pub total: i64,
    pub paid: i64,
    pub waived: i64,
    /// Arrears of this instalment capitalised by a restructure.
    pub capitalised: i64,
    pub status: InstallmentStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balances {
    pub principal_outstanding: i64,
    pub principal_overdue: i64,
    pub interest_overdue: i64,
    pub interest_accrued: i64,
    pub interest_suspended: i64,
    pub charges_due: i64,
    pub penal_accrued: i64,
    pub excess: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerState {
    pub id: String,
    pub principal_outstanding: i64,
    pub principal_received: i64,
    pub interest_received: i64,
    pub charges_received: i64,
}

/// A loan's state at the end of a day: the `loanbook replay` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanState {
    pub currency: crate::money::Currency,
    pub as_of: Date,
    pub status: Status,
    pub dpd: u32,
    pub classification: Classification,
    pub asset_class: AssetClass,
    pub npa_since: Option<Date>,
    /// The day the loan became NPA with another facility of its borrower, while it is held so.
    pub borrower_npa_since: Option<Date>,
    pub classification_history: Vec<(Date, Classification)>,
    pub balances: Balances,
    pub total_overdue: i64,
    pub foreclosure_amount: i64,
    pub installment_amount: i64,
    pub annual_rate: Decimal,
    pub installments: Vec<InstallmentState>,
    pub partners: Vec<PartnerState>,
    pub written_off: Option<(Date, Loss)>,
    pub settlement_shortfall: Option<Loss>,
    pub recovered: i64,
    pub closed_on: Option<Date>,
    pub events_applied: usize,
}

impl LoanState {
    pub fn new(terms: &Terms, e: &Engine, as_of: Date) -> LoanState {
        let active = e.status == Status::Active || e.status == Status::WrittenOff;
        let accrued = if e.status == Status::Active {
            e.accrued_until(terms, day_after(as_of))
        } else {
            0
        };
        let npa = e.classification == Classification::Npa;
        let balances = Balances {
            principal_outstanding: if active { e.principal_outstanding() } else { 0 },
            principal_overdue: if active { e.principal_overdue() } else { 0 },
            interest_overdue: if active { e.interest_overdue() } else { 0 },
            interest_accrued: accrued,
            interest_suspended: if npa && active {
                e.interest_overdue() + accrued
            } else {
                0
            },
            charges_due: if active { e.charges_due() } else { 0 },
            penal_accrued: if active { e.penal_accrued } else { 0 },
            excess: e.excess_total(),
        };
        debug_assert!(
            [
                balances.principal_outstanding,
                balances.principal_overdue,
                balances.interest_overdue,
                balances.charges_due,
                balances.excess,
            ]
            .iter()
            .all(|v| *v >= 0),
            "a balance went negative: {balances:?}"
        );
        let installments = installment_rows(e);
        let partners = e
            .partners
            .iter()
            .map(|p| PartnerState {
                id: p.id.clone(),
                principal_outstanding: if active { p.principal_outstanding() } else { 0 },
                principal_received: p.principal_received,
                interest_received: p.interest_received,
                charges_received: p.charges_received,
            })
            .collect();
        let total_overdue =
            balances.principal_overdue + balances.interest_overdue + balances.charges_due;
        LoanState {
            currency: terms.currency,
            as_of,
            status: e.status,
            dpd: if active { e.dpd(as_of) } else { 0 },
            classification: e.classification,
            asset_class: if npa && e.loss_identified.is_some() {
                AssetClass::Loss
            } else if npa {
                AssetClass::on(e.npa_since, as_of)
            } else {
                AssetClass::Standard
            },
            npa_since: e.npa_since,
            borrower_npa_since: if active { e.borrower_npa } else { None },
            classification_history: e.history.clone(),
            balances,
            total_overdue,
            foreclosure_amount: if e.status == Status::Active {
                e.foreclosure_amount(terms, day_after(as_of))
            } else {
                0
            },
            installment_amount: e.installment_amount,
            annual_rate: e.annual_rate,
            installments,
            partners,
            written_off: e.written_off,
            settlement_shortfall: e.settlement_shortfall,
            recovered: e.recovered,
            closed_on: e.closed_on,
            events_applied: e.events_applied,
        }
    }
}

/// Each instalment's figures and status: the first one not fallen due and not paid is due, those
/// after it upcoming.
fn installment_rows(e: &Engine) -> Vec<InstallmentState> {
    let mut next_marked = false;
    e.dues
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let paid = d.paid_principal + d.paid_interest;
            let settled = d.unpaid() == 0;
            let status = if settled {
                InstallmentStatus::Paid
            } else if paid > 0 {
                InstallmentStatus::PartiallyPaid
            } else if i < e.fallen {
                InstallmentStatus::Overdue
            } else if !next_marked {
                next_marked = true;
                InstallmentStatus::Due
            } else {
                InstallmentStatus::Upcoming
            };
            if i >= e.fallen && !settled {
                next_marked = true;
            }
            InstallmentState {
                number: d.number,
                due_date: d.due_date,
                principal: d.principal,
                interest: d.interest,
                total: d.total(),
                paid,
                waived: d.waived_interest,
                capitalised: d.capitalised,
                status,
            }
        })
        .collect()
}
