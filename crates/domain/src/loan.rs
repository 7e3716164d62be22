//! The event-sourced loan: `replay(terms, events, as_of)` folds a loan's value-dated events over
//! its terms into its state at the end of a day.
//!
//! Each day runs in a fixed order: instalments due that day fall due (and held advance money is
//! applied to them), the day's events apply in recorded order, then the day-end: unpaid dues are
//! overdue, penal charges accrue or are levied, DPD and the SMA/NPA class are stamped. Days with no
//! event and no due date are run in bulk with the same result as one at a time, so a replay costs
//! in proportion to events and instalments, not days.

mod history;
mod limits;
mod receipts;

pub use history::check_history;
pub use limits::MAX_EVENTS;

use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::colending;
use crate::delinquency::{AssetClass, Classification, dpd};
use crate::events::{
    ChargeKind, Event, EventKind, PrepaymentAdjust, RateChangeKeep, WaiverComponent,
};
use crate::money::{RoundingMode, round_to_integer, sum_minor};
use crate::schedule::{self, DueDates, Plan, Rate, ScheduleError, Sizing};
use crate::terms::{
    AllocationBy, BrokenPeriod, Component, ExcessHandling, FeeCollection, InterestBasis,
    MAX_INSTALLMENTS, Method, MoratoriumInterest, Penal, Split, Terms,
};

/// Why a list of events cannot be replayed: the event (its position in the list as given) and the
/// rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("events[{index}] ({event} on {date}): {field}: {rule}")]
pub struct ReplayError {
    pub index: usize,
    pub event: &'static str,
    pub date: Date,
    pub field: &'static str,
    pub rule: String,
}

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

    fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Settled | Status::Foreclosed)
    }
}

/// A scheduled instalment with what has been paid against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl Due {
    /// A scheduled instalment, nothing paid yet.
    fn scheduled(
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
    fn capitalised_principal(&self) -> i64 {
        self.capitalised
            .min(self.principal - self.paid_principal)
            .max(0)
    }
    fn capitalised_interest(&self) -> i64 {
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

/// One allocation line, with each co-lender's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub target: Target,
    pub component: Component,
    pub amount: i64,
    pub partner_parts: Vec<i64>,
}

/// A received amount (payment, prepayment, recovery, settlement, foreclosure) and where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub date: Date,
    pub amount: i64,
    pub lines: Vec<Line>,
    /// Principal repaid ahead of schedule from this receipt.
    pub prepaid: i64,
    pub prepaid_parts: Vec<i64>,
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
    anchor: Date,
    offset: i32,
    pub dues: Vec<Due>,
    pub charges: Vec<ChargeDue>,
    /// Dues `[..fallen]` have fallen due.
    fallen: usize,
    /// Dues `[..settled]` (never past `fallen`) have nothing unpaid: the scans for what is owed
    /// start here. Zero is always a correct value.
    #[serde(default)]
    settled: usize,
    period_start: Date,
    seg_start: Date,
    carried: Decimal,
    /// Broken-period interest the first instalment carries on top of its period's interest
    /// (`equal_periods`): a longer first period's interest, or (negative) the interest of the days
    /// a shorter one misses. Zero once the first instalment has fallen due.
    #[serde(default)]
    first_extra: i64,
    /// The first disbursement's date: a longer first period's interest accrues from it.
    #[serde(default)]
    disbursed_on: Option<Date>,
    pub installment_amount: i64,
    pub disbursed: i64,
    /// Interest capitalised into principal (moratorium, restructure).
    pub capitalised: i64,
    /// Principal repaid ahead of schedule.
    pub prepaid: i64,
    /// Money held above dues, by the receipt it came from, oldest first.
    pub excess: Vec<(String, i64)>,
    /// Receipts by reference, in the order received (a hash index: replays look them up
    /// thousands of times).
    pub receipts: IndexMap<String, Receipt>,
    pub penal_accrued: i64,
    pub classification: Classification,
    pub history: Vec<(Date, Classification)>,
    pub npa_since: Option<Date>,
    /// An NPA restructured stays NPA until this instalment is paid.
    npa_watch: Option<u32>,
    /// The day the loan was identified as a loss asset.
    #[serde(default)]
    pub loss_identified: Option<Date>,
    pub closed_on: Option<Date>,
    pub written_off: Option<(Date, Loss)>,
    pub recovered: i64,
    pub settlement_shortfall: Option<Loss>,
    pub partners: Vec<PartnerLedger>,
    pub events_applied: usize,
    next_number: u32,
}

type Res<T> = Result<T, (&'static str, String)>;

fn sched(e: ScheduleError) -> (&'static str, String) {
    ("schedule", e.to_string())
}

fn day_after(d: Date) -> Date {
    d.tomorrow().unwrap_or(d)
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
            receipts: IndexMap::new(),
            penal_accrued: 0,
            classification: Classification::Standard,
            history: Vec::new(),
            npa_since: None,
            npa_watch: None,
            loss_identified: None,
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
        }
    }

    fn rate(&self, terms: &Terms) -> Rate {
        Rate {
            annual: self.annual_rate,
            basis: terms.interest_basis,
            frequency: terms.frequency,
        }
    }

    fn dates<'t>(&self, terms: &'t Terms) -> DueDates<'t> {
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

    fn next_due(&self) -> Option<&Due> {
        self.dues.get(self.fallen)
    }

    /// Interest accrued in the current period on the scheduled balance, for `[period start, until)`.
    pub fn accrued_until(&self, terms: &Terms, until: Date) -> i64 {
        let Some(next) = self.next_due() else {
            return 0;
        };
        if self.status != Status::Active {
            return 0;
        }
        let until = until.min(next.due_date);
        let rate = self.rate(terms);
        let value = self.carried
            + rate.interest(
                self.scheduled_balance(),
                self.seg_start,
                until,
                self.period_start,
                next.due_date,
            )
            + self.broken_until(until);
        let v = i64::try_from(round_to_integer(value, RoundingMode::HalfUp)).unwrap_or(0);
        v.clamp(0, next.interest.max(0))
    }

    /// The part of the first instalment's broken-period interest (`first_extra`) that belongs to
    /// the days before `day`: a shorter first period's deduction all at once (the period's own
    /// interest runs from its regular start, before the disbursement), a longer one's interest
    /// pro rata by days from the disbursement to the regular start.
    ///
    /// An instalment 0 not yet fallen due (the broken-period interest as an instalment of its own)
    /// counts the same way, pro rata to its due date.
    fn broken_until(&self, day: Date) -> Decimal {
        let pro_rata = |amount: i64, to: Date| {
            let amount = Decimal::from(amount);
            let Some(from) = self.disbursed_on else {
                return amount;
            };
            let total = (to - from).get_days();
            if day >= to || total <= 0 {
                return amount;
            }
            let elapsed = (day - from).get_days().max(0);
            amount * Decimal::from(elapsed) / Decimal::from(total)
        };
        let extra = if self.first_extra <= 0 {
            Decimal::from(self.first_extra)
        } else {
            pro_rata(self.first_extra, self.period_start)
        };
        let zero: Decimal = self.dues[self.fallen..self.open_from()]
            .iter()
            .map(|d| pro_rata(d.interest, d.due_date))
            .sum();
        extra + zero
    }

    /// Interest of the current period to `day` (not including it), broken-period interest
    /// included and rounded as the schedule rounds it: what a foreclosure on `day` pays and what
    /// closing the schedule on `day` charges.
    fn interest_to(&self, terms: &Terms, day: Date) -> i64 {
        let Some(next) = self.next_due() else {
            return 0;
        };
        let rate = self.rate(terms);
        let regular = self.carried
            + rate.interest(
                self.scheduled_balance(),
                self.seg_start,
                day.min(next.due_date),
                self.period_start,
                next.due_date,
            );
        let mode = terms.rounding.interest;
        let regular = i64::try_from(round_to_integer(regular, mode)).unwrap_or(0);
        let broken = i64::try_from(round_to_integer(self.broken_until(day), mode)).unwrap_or(0);
        (regular + broken).max(0)
    }

    /// The oldest date on which something is still unpaid, for DPD.
    /// Move `settled` past every leading due that has nothing unpaid.
    fn advance_settled(&mut self) {
        self.settled = self.settled.min(self.fallen);
        while self.settled < self.fallen && self.dues[self.settled].unpaid() == 0 {
            self.settled += 1;
        }
    }

    fn oldest_unpaid(&self) -> Option<Date> {
        let due = self.dues[self.settled.min(self.fallen)..self.fallen]
            .iter()
            .find(|d| d.unpaid() > 0)
            .map(|d| d.due_date);
        let charge = self
            .charges
            .iter()
            .filter(|c| c.unpaid() > 0)
            .map(|c| c.date)
            .min();
        match (due, charge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn dpd(&self, as_of: Date) -> u32 {
        dpd(self.oldest_unpaid(), as_of)
    }

    // -----------------------------------------------------------------------------------------
    // Days
    // -----------------------------------------------------------------------------------------

    /// Run every day-end up to and including `target`.
    fn run_through(&mut self, terms: &Terms, target: Date) -> Res<()> {
        while let Some(day) = self.day {
            if day >= target {
                break;
            }
            let next = self
                .next_due()
                .map(|d| d.due_date)
                .filter(|d| *d > day)
                .map_or(target, |d| d.min(target));
            // Quiet days: nothing falls due and nothing happens.
            let first_quiet = day_after(day);
            if next > first_quiet {
                let last_quiet = next.yesterday().unwrap_or(next);
                self.quiet_days(terms, first_quiet, last_quiet);
            }
            self.start_day(terms, next)?;
            self.end_day(terms, next);
        }
        Ok(())
    }

    /// Day-ends from `from` to `to` (inclusive) on which nothing falls due and no event applies.
    fn quiet_days(&mut self, terms: &Terms, from: Date, to: Date) {
        let days = (to - from).get_days() + 1;
        if days <= 0 {
            return;
        }
        if self.status == Status::Active {
            if let Some(Penal::Percent(pct)) = terms.penal {
                self.penal_accrued += self.daily_penal(pct) * i64::from(days);
            }
            // DPD rises by one a day: find the days a class threshold is crossed.
            if let Some(oldest) = self.oldest_unpaid() {
                for class in [
                    Classification::Sma0,
                    Classification::Sma1,
                    Classification::Sma2,
                    Classification::Npa,
                ] {
                    let offset = i64::from(class.threshold()) - 1;
                    if let Ok(day) = oldest.checked_add(jiff::Span::new().days(offset)) {
                        if day >= from && day <= to {
                            self.classify(day, dpd(Some(oldest), day));
                        }
                    }
                }
            }
        }
        self.day = Some(to);
    }

    fn daily_penal(&self, pct: Decimal) -> i64 {
        let base = self.principal_overdue() + self.interest_overdue();
        if base <= 0 {
            return 0;
        }
        let v = Decimal::from(base) * pct / Decimal::from(36_500);
        i64::try_from(round_to_integer(v, RoundingMode::HalfUp)).unwrap_or(0)
    }

    /// Start of `day`: instalments due today fall due; held advance money is applied to them.
    fn start_day(&mut self, terms: &Terms, day: Date) -> Res<()> {
        let before = self.fallen;
        while let Some(d) = self.dues.get(self.fallen) {
            if d.due_date > day {
                break;
            }
            if d.number > 0 {
                self.period_start = d.due_date;
                self.seg_start = d.due_date;
                self.carried = Decimal::ZERO;
                self.first_extra = 0;
            }
            let capitalises = d.capitalises;
            self.fallen += 1;
            if capitalises > 0 {
                self.capitalised += capitalises;
                self.fund_partners(terms, capitalises);
            }
        }
        if self.fallen > before && terms.excess != ExcessHandling::Refund {
            self.apply_excess(terms, day);
        }
        Ok(())
    }

    /// Apply held money to whatever is due, oldest source first.
    fn apply_excess(&mut self, terms: &Terms, day: Date) {
        let sources = std::mem::take(&mut self.excess);
        let mut left = Vec::with_capacity(sources.len());
        let mut sources = sources.into_iter();
        for (reference, amount) in sources.by_ref() {
            let lines = self.allocate(terms, day, amount);
            let used = sum_minor(lines.iter().map(|l| l.amount));
            assert!(
                (0..=amount).contains(&used),
                "held {amount} allocated {used}"
            );
            if used > 0 {
                if let Some(r) = self.receipts.get_mut(&reference) {
                    r.lines.extend(lines);
                }
            }
            if amount > used {
                left.push((reference, amount - used));
                // Everything due is paid: the later sources stay as they are.
                break;
            }
        }
        left.extend(sources);
        self.excess = left;
    }

    fn end_day(&mut self, terms: &Terms, day: Date) {
        if self.status == Status::Active {
            // Penal charges: per missed instalment, levied at the day-end of its due date.
            if let Some(Penal::PerMissedInstallment(amount)) = terms.penal {
                let mut levy = Vec::new();
                for d in &mut self.dues[..self.fallen] {
                    if d.due_date == day && !d.penal_levied && d.unpaid() > 0 && amount > 0 {
                        d.penal_levied = true;
                        levy.push(d.number);
                    }
                }
                for number in levy {
                    self.charges.push(ChargeDue {
                        date: day,
                        kind: ChargeKind::Penal,
                        amount,
                        paid: 0,
                        waived: 0,
                        reference: Some(format!("penal:{number}")),
                    });
                }
            }
            if let Some(Penal::Percent(pct)) = terms.penal {
                self.penal_accrued += self.daily_penal(pct);
                // Accrued penal charges are levied with each instalment's day-end.
                let is_due_day = self.dues[..self.fallen]
                    .last()
                    .is_some_and(|d| d.due_date == day);
                // After the last due date no due date levies what accrued: it is levied once the
                // arrears it accrued on are paid, so that it can be paid and the loan close. (The
                // arrears change only on a day with an event or a due date, never on a quiet day,
                // so day-by-day and bulk replays levy alike.)
                let matured_and_clear = self.nothing_left_to_fall_due()
                    && self.penal_accrued > 0
                    && self.principal_overdue() + self.interest_overdue() == 0;
                if is_due_day || matured_and_clear {
                    self.penal_to_charge(day);
                }
            }
            // Money held in advance pays charges levied today (a bounce, penal charges) too.
            if !self.excess.is_empty()
                && terms.excess != ExcessHandling::Refund
                && self.charges_due() > 0
            {
                self.apply_excess(terms, day);
            }
            let d = self.dpd(day);
            self.classify(day, d);
            if self.is_repaid() {
                self.status = Status::Closed;
                self.closed_on = Some(day);
            }
        }
        self.day = Some(day);
    }

    /// Every instalment has fallen due, or those still to come are empty: principal prepaid in
    /// full under `reduce_emi` leaves zero instalments, which must not hold the loan open until
    /// its maturity.
    fn nothing_left_to_fall_due(&self) -> bool {
        self.dues[self.fallen..]
            .iter()
            .all(|d| d.total() == 0 && d.capitalises == 0)
    }

    /// Nothing is owed and nothing more can fall due.
    fn is_repaid(&self) -> bool {
        self.disbursed > 0
            && self.nothing_left_to_fall_due()
            && self.dues.iter().all(|d| d.unpaid() == 0)
            && self.charges_due() == 0
            && self.penal_accrued == 0
    }

    fn classify(&mut self, day: Date, dpd: u32) {
        let mut next = self.classification.next(dpd);
        if next == Classification::Standard && self.classification == Classification::Npa {
            if let Some(n) = self.npa_watch {
                let paid = self
                    .dues
                    .iter()
                    .find(|d| d.number == n)
                    .is_some_and(|d| d.due_date <= day && d.unpaid() == 0);
                if !paid {
                    next = Classification::Npa;
                } else {
                    self.npa_watch = None;
                }
            }
        }
        if next != self.classification {
            if next == Classification::Npa {
                self.npa_since = Some(day);
            } else if self.classification == Classification::Npa {
                self.npa_since = None;
            }
            self.classification = next;
            self.history.push((day, next));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Allocation
    // -----------------------------------------------------------------------------------------

    /// Pour `amount` into what is due on `day` in the terms' order. Returns the lines written.
    fn allocate(&mut self, terms: &Terms, day: Date, amount: i64) -> Vec<Line> {
        let mut left = amount;
        let mut lines = Vec::new();
        let slots = self.slots(terms, day);
        for (target, component) in slots {
            if left == 0 {
                break;
            }
            let unpaid = match (target, component) {
                (Target::Due(i), Component::Principal) => self.dues[i].unpaid_principal(),
                (Target::Due(i), Component::Interest) => self.dues[i].unpaid_interest(),
                (Target::Charge(i), _) => self.charges[i].unpaid(),
                (Target::Due(_), Component::Charges) => 0,
            };
            let take = unpaid.min(left);
            if take <= 0 {
                continue;
            }
            left -= take;
            let parts = self.partner_parts(terms, target, component, take);
            debug_assert!(
                parts.is_empty() || sum_minor(parts.iter().copied()) == take,
                "partner parts {parts:?} of {take}"
            );
            match (target, component) {
                (Target::Due(i), Component::Principal) => self.dues[i].paid_principal += take,
                (Target::Due(i), _) => self.dues[i].paid_interest += take,
                (Target::Charge(i), _) => self.charges[i].paid += take,
            }
            self.credit_partners(component, &parts, 1);
            lines.push(Line {
                target,
                component,
                amount: take,
                partner_parts: parts,
            });
        }
        self.advance_settled();
        lines
    }

    /// The order in which dues are filled, per `terms.allocation`.
    fn slots(&self, terms: &Terms, day: Date) -> Vec<(Target, Component)> {
        let order = terms.allocation.order;
        let dues: Vec<usize> = (self.settled.min(self.fallen)..self.fallen)
            .filter(|&i| self.dues[i].due_date <= day && self.dues[i].unpaid() > 0)
            .collect();
        let mut charges: Vec<usize> = (0..self.charges.len())
            .filter(|&i| self.charges[i].date <= day && self.charges[i].unpaid() > 0)
            .collect();
        charges.sort_by_key(|&i| self.charges[i].date);
        let mut out = Vec::with_capacity(dues.len() * 2 + charges.len());
        match terms.allocation.by {
            AllocationBy::Installment => {
                let charge_slots = charges
                    .iter()
                    .map(|&i| (Target::Charge(i), Component::Charges));
                let charges_first = terms.allocation.charges_first();
                if charges_first {
                    out.extend(charge_slots.clone());
                }
                for &i in &dues {
                    for c in order.iter().filter(|c| **c != Component::Charges) {
                        out.push((Target::Due(i), *c));
                    }
                }
                if !charges_first {
                    out.extend(charge_slots);
                }
            }
            AllocationBy::Component => {
                for c in order {
                    match c {
                        Component::Charges => out.extend(
                            charges
                                .iter()
                                .map(|&i| (Target::Charge(i), Component::Charges)),
                        ),
                        c => out.extend(dues.iter().map(|&i| (Target::Due(i), c))),
                    }
                }
            }
        }
        out
    }

    fn partner_parts(
        &self,
        terms: &Terms,
        target: Target,
        component: Component,
        amount: i64,
    ) -> Vec<i64> {
        if terms.partners.is_empty() {
            return Vec::new();
        }
        match (target, component, terms.split) {
            (Target::Due(i), Component::Interest, Split::PrincipalProRata) => {
                let d = &self.dues[i];
                let weights = colending::interest_parts(
                    d.interest,
                    d.opening_balance,
                    d.annual_rate,
                    &terms.partners,
                    terms.split,
                );
                colending::by_weights(amount, &weights, &terms.partners)
            }
            (_, Component::Principal, _) => self.principal_parts(terms, amount),
            _ => colending::by_share(amount, &terms.partners),
        }
    }

    /// Principal repaid is split by the partners' principal outstanding, so no partner is ever
    /// repaid more than it lent and repaying the whole outstanding clears every partner exactly.
    fn principal_parts(&self, terms: &Terms, amount: i64) -> Vec<i64> {
        let weights: Vec<i64> = self
            .partners
            .iter()
            .map(PartnerLedger::principal_outstanding)
            .collect();
        if weights.iter().all(|w| *w <= 0) {
            return colending::by_share(amount, &terms.partners);
        }
        colending::by_weights(amount, &weights, &terms.partners)
    }

    fn credit_partners(&mut self, component: Component, parts: &[i64], sign: i64) {
        for (ledger, &p) in self.partners.iter_mut().zip(parts) {
            match component {
                Component::Principal => ledger.principal_received += sign * p,
                Component::Interest => ledger.interest_received += sign * p,
                Component::Charges => ledger.charges_received += sign * p,
            }
        }
    }

    fn fund_partners(&mut self, terms: &Terms, amount: i64) {
        if terms.partners.is_empty() || amount == 0 {
            return;
        }
        let parts = colending::by_share(amount, &terms.partners);
        for (ledger, p) in self.partners.iter_mut().zip(parts) {
            ledger.principal_funded += p;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Re-scheduling
    // -----------------------------------------------------------------------------------------

    /// Carry the current period's interest on the scheduled balance up to `day`, so the balance can
    /// change from `day` on.
    fn carry_to(&mut self, terms: &Terms, day: Date) {
        if let Some(next) = self.next_due() {
            let end = next.due_date;
            if day > self.seg_start {
                let rate = self.rate(terms);
                self.carried += rate.interest(
                    self.scheduled_balance(),
                    self.seg_start,
                    day.min(end),
                    self.period_start,
                    end,
                );
                self.seg_start = day.min(end);
            }
        }
    }

    /// Sizing of a re-scheduled run of `balance` for the loan's method. A balloon never exceeds
    /// the balance it is part of (else the instalments would not cover the interest). A stepped
    /// loan keeps stepping, its step cycle starting again at the first re-scheduled instalment
    /// (a level annuity instead would raise the early instalments of a step-up loan when a
    /// prepayment asks to lower them).
    fn sizing(terms: &Terms, balance: i64, keep_installment: Option<i64>) -> Sizing {
        match (terms.method, keep_installment) {
            (Method::EqualPrincipal, _) => Sizing::EqualPrincipal,
            (Method::InterestOnly, _) => Sizing::InterestOnly,
            (_, Some(i)) => Sizing::Fixed(i),
            (Method::Balloon, None) => Sizing::Balloon(terms.balloon.unwrap_or(0).min(balance)),
            (Method::Step, None) => match terms.step {
                Some(step) => Sizing::Step {
                    every: step.every,
                    percent: step.percent,
                },
                None => Sizing::Annuity,
            },
            _ => Sizing::Annuity,
        }
    }

    /// Replace the instalments not yet fallen due with a new run from `day`.
    #[allow(clippy::too_many_arguments)]
    fn reschedule(
        &mut self,
        terms: &Terms,
        day: Date,
        balance: i64,
        count: u32,
        sizing: Sizing,
        moratorium: Option<(u32, MoratoriumInterest)>,
    ) -> Res<()> {
        self.carry_to(terms, day);
        let from = self.open_from();
        let first_seq = match self.dues.get(from) {
            Some(d) => d.seq,
            None => self.dues.last().map_or(0, |d| d.seq + 1),
        };
        let first_number = self.dues.get(from).map_or(self.next_number, |d| d.number);
        let dates = DueDates {
            offset: self.offset + i32::try_from(first_seq).unwrap_or(i32::MAX),
            ..self.dates(terms)
        };
        let run = schedule::amortise(&Plan {
            currency: terms.currency,
            opening_balance: balance,
            period_start: self.period_start,
            interest_from: self.seg_start,
            carried_interest: self.carried,
            dates,
            count: count.max(1),
            first_number,
            rate: self.rate(terms),
            rounding: terms.rounding,
            sizing,
            moratorium,
            first_extra_interest: self.first_extra,
            deferred_interest: 0,
            drawdowns: &[],
        })
        .map_err(sched)?;
        self.dues.truncate(from);
        let mut opening = balance;
        for (k, row) in run.installments.iter().enumerate() {
            self.dues.push(Due::scheduled(
                row,
                first_seq + u32::try_from(k).unwrap_or(0),
                opening,
                self.annual_rate,
                moratorium.is_some_and(|(m, _)| (k as u32) < m),
            ));
            opening = row.balance;
        }
        if run.installment_amount > 0 {
            self.installment_amount = run.installment_amount;
        }
        self.next_number = self.dues.last().map_or(1, |d| d.number + 1);
        Ok(())
    }

    /// Index of the first instalment a re-schedule replaces: the first not fallen due, past an
    /// instalment 0 (broken-period interest, due at the start of the first regular period) still
    /// to fall due, which stays as it is.
    fn open_from(&self) -> usize {
        let mut i = self.fallen;
        while self.dues.get(i).is_some_and(|d| d.number == 0) {
            i += 1;
        }
        i
    }

    fn remaining_count(&self) -> u32 {
        u32::try_from(self.dues.len().saturating_sub(self.open_from())).unwrap_or(0)
    }

    fn remaining_moratorium(&self, terms: &Terms) -> Option<(u32, MoratoriumInterest)> {
        let n = self.dues[self.open_from()..]
            .iter()
            .take_while(|d| d.moratorium)
            .count();
        let kind = terms.moratorium.map(|m| m.interest)?;
        (n > 0).then(|| (u32::try_from(n).unwrap_or(0), kind))
    }

    /// Repay `amount` of scheduled principal ahead of time, re-shaping the rest.
    fn reduce_principal(
        &mut self,
        terms: &Terms,
        day: Date,
        amount: i64,
        adjust: PrepaymentAdjust,
    ) -> Res<()> {
        let balance = self.scheduled_balance();
        let new_balance = balance - amount;
        let remaining = self.remaining_count();
        let moratorium = self.remaining_moratorium(terms);
        let (count, sizing) = match adjust {
            PrepaymentAdjust::ReduceEmi => (remaining, Self::sizing(terms, new_balance, None)),
            PrepaymentAdjust::ReduceTenure => match terms.method {
                Method::EqualPrincipal => {
                    let part = self.dues[self.fallen..]
                        .iter()
                        .map(|d| d.principal)
                        .find(|p| *p > 0)
                        .unwrap_or(1)
                        .max(1);
                    let n = u32::try_from((new_balance + part - 1) / part).unwrap_or(remaining);
                    (n.clamp(1, remaining.max(1)), Sizing::EqualPrincipal)
                }
                Method::InterestOnly => (remaining, Sizing::InterestOnly),
                _ => (remaining, Sizing::Fixed(self.installment_amount)),
            },
        };
        self.prepaid += amount;
        self.reschedule(terms, day, new_balance, count, sizing, moratorium)
    }

    // -----------------------------------------------------------------------------------------
    // Events
    // -----------------------------------------------------------------------------------------

    fn receive(
        &mut self,
        terms: &Terms,
        day: Date,
        reference: &str,
        amount: i64,
    ) -> Res<&mut Receipt> {
        if self.receipts.contains_key(reference) {
            return Err((
                "reference",
                format!("`{reference}` was already used by another receipt on this loan"),
            ));
        }
        let lines = self.allocate(terms, day, amount);
        let used = sum_minor(lines.iter().map(|l| l.amount));
        // A receipt is conserved: what is allocated and what is held make up its amount.
        assert!(
            (0..=amount).contains(&used),
            "receipt `{reference}` of {amount} allocated {used}"
        );
        let receipt = Receipt {
            date: day,
            amount,
            lines,
            prepaid: 0,
            prepaid_parts: Vec::new(),
        };
        let rest = amount - used;
        if rest > 0 {
            self.excess.push((reference.to_owned(), rest));
        }
        Ok(self
            .receipts
            .entry(reference.to_owned())
            .insert_entry(receipt)
            .into_mut())
    }

    /// Use held money of `reference` to repay principal ahead of schedule.
    fn prepay_from_excess(
        &mut self,
        terms: &Terms,
        day: Date,
        reference: &str,
        adjust: PrepaymentAdjust,
    ) -> Res<()> {
        let held = sum_minor(
            self.excess
                .iter()
                .filter(|(r, _)| r == reference)
                .map(|(_, a)| *a),
        );
        let take = held.min(self.scheduled_balance());
        if take <= 0 {
            return Ok(());
        }
        self.reduce_principal(terms, day, take, adjust)?;
        let mut left = take;
        for (r, a) in &mut self.excess {
            if r == reference && left > 0 {
                let t = (*a).min(left);
                *a -= t;
                left -= t;
            }
        }
        self.excess.retain(|(_, a)| *a > 0);
        let parts = if terms.partners.is_empty() {
            Vec::new()
        } else {
            self.principal_parts(terms, take)
        };
        self.credit_partners(Component::Principal, &parts, 1);
        if let Some(r) = self.receipts.get_mut(reference) {
            r.prepaid += take;
            r.prepaid_parts = parts;
        }
        Ok(())
    }

    /// Whether `event` may apply to the loan as it stands: the loan's status decides.
    fn admissible(&self, event: &Event) -> Res<()> {
        if matches!(event.kind, EventKind::Recovery { .. }) && self.written_off.is_none() {
            return Err((
                "type",
                "recovery is money received on a written-off loan, and this loan has no write_off \
                 on or before this date; record a payment instead"
                    .into(),
            ));
        }
        if self.status == Status::Pending && !matches!(event.kind, EventKind::Disbursement { .. }) {
            return Err((
                "date",
                "is before the loan's first disbursement: nothing is disbursed yet".into(),
            ));
        }
        // A reversal records that money never came: it stands after the loan closed (the replay
        // leaves the reversed receipt out of the whole history, so what the loan reads as after
        // it is decided there; the event itself changes nothing here).
        if self.status.is_final() && !matches!(event.kind, EventKind::PaymentReversal { .. }) {
            return Err((
                "type",
                format!(
                    "the loan is {} since {}",
                    self.status.name(),
                    self.closed_on.map_or_else(String::new, |d| d.to_string())
                ),
            ));
        }
        if self.status == Status::WrittenOff
            && !matches!(
                event.kind,
                EventKind::Recovery { .. } | EventKind::PaymentReversal { .. }
            )
        {
            return Err((
                "type",
                "the loan is written off: only recovery and payment_reversal apply".into(),
            ));
        }
        Ok(())
    }

    fn apply(&mut self, terms: &Terms, event: &Event) -> Res<()> {
        let day = event.date;
        self.admissible(event)?;
        match &event.kind {
            EventKind::Disbursement { amount, .. } => self.disburse(terms, day, *amount)?,
            EventKind::Payment {
                amount, reference, ..
            } => {
                self.receive(terms, day, reference, *amount)?;
                match terms.excess {
                    ExcessHandling::ReduceEmi => {
                        self.prepay_from_excess(terms, day, reference, PrepaymentAdjust::ReduceEmi)?
                    }
                    ExcessHandling::ReduceTenure => self.prepay_from_excess(
                        terms,
                        day,
                        reference,
                        PrepaymentAdjust::ReduceTenure,
                    )?,
                    ExcessHandling::Advance | ExcessHandling::Refund => {}
                }
            }
            EventKind::Prepayment {
                amount,
                adjust,
                reference,
            } => {
                if matches!(terms.method, Method::Flat | Method::Bullet) {
                    return Err((
                        "type",
                        format!(
                            "part prepayment is not available for method {}; use foreclosure",
                            terms.method.name()
                        ),
                    ));
                }
                self.receive(terms, day, reference, *amount)?;
                self.prepay_from_excess(terms, day, reference, *adjust)?;
            }
            // Checked and applied by `run`: the reversed receipt is left out of the replay.
            EventKind::PaymentReversal { .. } => {}
            EventKind::Charge {
                kind,
                amount,
                reference,
            } => self.charges.push(ChargeDue {
                date: day,
                kind: *kind,
                amount: *amount,
                paid: 0,
                waived: 0,
                reference: reference.clone(),
            }),
            EventKind::Waiver { component, amount } => self.waive(terms, *component, *amount)?,
            EventKind::RateChange { annual_rate, keep } => {
                self.change_rate(terms, day, *annual_rate, *keep)?
            }
            EventKind::Restructure {
                installments,
                installment_amount,
                moratorium,
            } => self.restructure(
                terms,
                day,
                *installments,
                *installment_amount,
                moratorium.map(|m| (m.periods, m.interest)),
            )?,
            EventKind::LossIdentified { .. } => {
                if self.classification != Classification::Npa {
                    return Err((
                        "type",
                        "only an NPA can be identified as a loss asset".into(),
                    ));
                }
                if self.loss_identified.is_some() {
                    return Err(("type", "the loan is a loss asset already".into()));
                }
                self.loss_identified = Some(day);
            }
            EventKind::WriteOff { .. } => {
                let loss = Loss {
                    principal: self.principal_outstanding(),
                    interest: self.interest_overdue(),
                    charges: self.charges_due(),
                };
                self.written_off = Some((day, loss));
                self.status = Status::WrittenOff;
            }
            EventKind::Recovery { amount, reference } => {
                let reference = reference
                    .clone()
                    .unwrap_or_else(|| format!("recovery:{day}:{}", self.receipts.len()));
                self.close_schedule(terms, day)?;
                self.receive(terms, day, &reference, *amount)?;
                self.recovered += amount;
            }
            EventKind::Settlement { amount, reference } => {
                self.settle(terms, day, *amount, reference.as_deref())?
            }
            EventKind::Foreclosure { amount, reference } => {
                self.foreclose(terms, day, *amount, reference.as_deref())?
            }
        }
        Ok(())
    }

    /// A compromise settlement: everything owed falls due, the agreed amount is appropriated to it
    /// and the shortfall recorded.
    fn settle(
        &mut self,
        terms: &Terms,
        day: Date,
        amount: i64,
        reference: Option<&str>,
    ) -> Res<()> {
        let reference = reference.map_or_else(|| format!("settlement:{day}"), str::to_owned);
        self.close_schedule(terms, day)?;
        self.penal_to_charge(day);
        self.receive(terms, day, &reference, amount)?;
        let shortfall = Loss {
            principal: self.principal_overdue(),
            interest: self.interest_overdue(),
            charges: self.charges_due(),
        };
        self.settlement_shortfall = Some(shortfall);
        self.status = Status::Settled;
        self.closed_on = Some(day);
        Ok(())
    }

    /// Pay the loan off: the amount must cover the day's foreclosure amount.
    fn foreclose(
        &mut self,
        terms: &Terms,
        day: Date,
        amount: i64,
        reference: Option<&str>,
    ) -> Res<()> {
        let quote = self.foreclosure_amount(terms, day);
        if amount < quote {
            return Err((
                "amount",
                format!(
                    "{} is less than the foreclosure amount {} on {day}",
                    crate::money::format_minor(amount, terms.currency.minor_digits()),
                    crate::money::format_minor(quote, terms.currency.minor_digits())
                ),
            ));
        }
        let fee = self.foreclosure_fee(terms);
        self.close_schedule(terms, day)?;
        self.penal_to_charge(day);
        if fee > 0 {
            self.charges.push(ChargeDue {
                date: day,
                kind: ChargeKind::Other,
                amount: fee,
                paid: 0,
                waived: 0,
                reference: Some("foreclosure_fee".into()),
            });
        }
        let reference = reference.map_or_else(|| format!("foreclosure:{day}"), str::to_owned);
        // Held money goes first, then the amount paid.
        self.apply_excess(terms, day);
        self.receive(terms, day, &reference, amount)?;
        self.status = Status::Foreclosed;
        self.closed_on = Some(day);
        Ok(())
    }

    fn penal_to_charge(&mut self, day: Date) {
        let amount = std::mem::take(&mut self.penal_accrued);
        if amount > 0 {
            self.charges.push(ChargeDue {
                date: day,
                kind: ChargeKind::Penal,
                amount,
                paid: 0,
                waived: 0,
                reference: Some(format!("penal:{day}")),
            });
        }
    }

    /// Bring every future instalment forward to `day`: principal outstanding and interest to date
    /// fall due now (foreclosure, settlement, recovery after write-off).
    fn close_schedule(&mut self, terms: &Terms, day: Date) -> Res<()> {
        if self.fallen == self.dues.len() {
            return Ok(());
        }
        // Interest to date, an instalment 0 still to fall due included (pro rata).
        let interest = self.interest_to(terms, day);
        self.carry_to(terms, day);
        let balance = self.scheduled_balance();
        let template = self.dues[self.open_from().min(self.dues.len() - 1)].clone();
        self.dues.truncate(self.fallen);
        self.dues.push(Due {
            number: template.number,
            due_date: day,
            principal: balance,
            interest: interest.max(0),
            opening_balance: balance,
            paid_principal: 0,
            paid_interest: 0,
            waived_interest: 0,
            capitalised: 0,
            capitalises: 0,
            moratorium: false,
            penal_levied: true,
            ..template
        });
        self.fallen = self.dues.len();
        self.carried = Decimal::ZERO;
        self.first_extra = 0;
        self.seg_start = day;
        self.period_start = day;
        Ok(())
    }

    fn foreclosure_fee(&self, terms: &Terms) -> i64 {
        let Some(fee) = terms.foreclosure_fee else {
            return 0;
        };
        let base = Decimal::from(self.principal_outstanding()) * fee.percent / Decimal::ONE_HUNDRED;
        let base = i64::try_from(round_to_integer(base, RoundingMode::HalfUp)).unwrap_or(0);
        let tax = Decimal::from(base) * fee.tax_percent / Decimal::ONE_HUNDRED;
        base + i64::try_from(round_to_integer(tax, RoundingMode::HalfUp)).unwrap_or(0)
    }

    /// What closes the loan on `day` (interest to `day`, not including it): principal outstanding
    /// + interest overdue + interest accrued + charges due + penal accrued − held money + fee.
    pub fn foreclosure_amount(&self, terms: &Terms, day: Date) -> i64 {
        if self.status.is_final() || self.status == Status::Pending {
            return 0;
        }
        let interest_to_date = self.interest_to(terms, day);
        let total = self.principal_outstanding()
            + self.interest_overdue()
            + interest_to_date
            + self.charges_due()
            + self.penal_accrued
            + self.foreclosure_fee(terms)
            - self.excess_total();
        total.max(0)
    }

    fn disburse(&mut self, terms: &Terms, day: Date, amount: i64) -> Res<()> {
        if self.disbursed + amount > terms.principal {
            return Err((
                "amount",
                format!(
                    "disbursements would reach {}, above the principal {}",
                    crate::money::format_minor(
                        self.disbursed + amount,
                        terms.currency.minor_digits()
                    ),
                    crate::money::format_minor(terms.principal, terms.currency.minor_digits())
                ),
            ));
        }
        if self.status == Status::Pending {
            return self.first_disbursement(terms, day, amount);
        }
        // A later tranche: the balance grows from `day` and the instalment is recomputed.
        if self.fallen == self.dues.len() {
            return Err((
                "date",
                "every instalment has fallen due: nothing left to add a tranche to".into(),
            ));
        }
        let balance = self.scheduled_balance() + amount;
        self.disbursed += amount;
        self.fund_partners(terms, amount);
        let count = self.remaining_count();
        let moratorium = self.remaining_moratorium(terms);
        let sizing = Self::sizing(terms, balance, None);
        self.reschedule(terms, day, balance, count, sizing, moratorium)
    }

    fn first_disbursement(&mut self, terms: &Terms, day: Date, amount: i64) -> Res<()> {
        // The schedule runs from the actual disbursement: interest from that day (RBI FPC 2024).
        let mut actual = terms.clone();
        actual.disbursement_date = day;
        actual.principal = amount;
        actual.tranches.clear();
        if let Some(first) = terms.first_due_date {
            if first <= day {
                return Err((
                    "date",
                    format!("is on or after the first due date {first} in the terms"),
                ));
            }
        }
        let built = schedule::build(&actual).map_err(sched)?;
        let financed: i64 = terms
            .fees
            .iter()
            .filter(|f| f.collect == FeeCollection::Finance)
            .map(|f| f.total_minor(amount))
            .sum();
        let (anchor, offset) = match terms.first_due_date {
            Some(f) => (f, 0),
            None => (day, 1),
        };
        self.anchor = anchor;
        self.offset = offset;
        let equal = terms.interest_basis == InterestBasis::EqualPeriods;
        let regular_start = terms
            .frequency
            .step(anchor, offset - 1)
            .map_err(|e| ("date", e.to_string()))?;
        self.period_start = if equal { regular_start } else { day };
        self.seg_start = self.period_start;
        self.day = Some(day.yesterday().unwrap_or(day));
        let mut opening = amount + financed;
        let moratorium_n = terms.moratorium.map_or(0, |m| m.periods);
        let mut seq = 0u32;
        for row in &built.installments {
            let this_seq = if row.number == 0 { 0 } else { seq };
            self.dues.push(Due::scheduled(
                row,
                this_seq,
                opening,
                terms.annual_rate,
                row.number >= 1 && row.number <= moratorium_n,
            ));
            if row.number > 0 {
                seq += 1;
                opening = row.balance;
            }
        }
        if terms.broken_period == BrokenPeriod::InstallmentZero && !equal {
            // Daily bases carry no instalment 0.
        }
        // Broken-period interest rides on the first instalment as the schedule put it there, and
        // goes with it into any re-scheduled first instalment.
        let bpi = built.broken_period_interest;
        self.first_extra = if bpi < 0 || terms.broken_period == BrokenPeriod::FirstInstallment {
            bpi
        } else {
            0
        };
        self.disbursed_on = Some(day);
        self.installment_amount = built.installment_amount;
        self.next_number = self.dues.last().map_or(1, |d| d.number + 1);
        self.disbursed = amount;
        self.status = Status::Active;
        self.fund_partners(terms, amount + financed);
        Ok(())
    }

    fn waive(&mut self, terms: &Terms, component: WaiverComponent, amount: i64) -> Res<()> {
        let due = match component {
            WaiverComponent::Charges => self.charges_due(),
            WaiverComponent::Interest => self.interest_overdue(),
        };
        if amount > due {
            let what = match component {
                WaiverComponent::Charges => "charges due",
                WaiverComponent::Interest => "interest overdue",
            };
            return Err((
                "amount",
                format!(
                    "is more than the {what} ({}): a waiver never takes a balance below zero",
                    crate::money::format_minor(due, terms.currency.minor_digits())
                ),
            ));
        }
        let mut left = amount;
        match component {
            WaiverComponent::Charges => {
                let mut idx: Vec<usize> = (0..self.charges.len()).collect();
                idx.sort_by_key(|&i| self.charges[i].date);
                for i in idx {
                    let t = self.charges[i].unpaid().min(left);
                    self.charges[i].waived += t;
                    left -= t;
                }
            }
            WaiverComponent::Interest => {
                for d in &mut self.dues[..self.fallen] {
                    let t = d.unpaid_interest().min(left);
                    d.waived_interest += t;
                    left -= t;
                }
            }
        }
        self.advance_settled();
        Ok(())
    }

    fn change_rate(
        &mut self,
        terms: &Terms,
        day: Date,
        rate: Decimal,
        keep: RateChangeKeep,
    ) -> Res<()> {
        if matches!(terms.method, Method::Flat | Method::Bullet) {
            return Err((
                "type",
                format!(
                    "rate changes are not available for method {}",
                    terms.method.name()
                ),
            ));
        }
        self.carry_to(terms, day);
        self.annual_rate = rate;
        let balance = self.scheduled_balance();
        let remaining = self.remaining_count();
        if remaining == 0 {
            // Every instalment has fallen due: nothing is left to re-price (re-scheduling would
            // add an instalment after the loan's maturity).
            return Ok(());
        }
        let moratorium = self.remaining_moratorium(terms);
        match keep {
            RateChangeKeep::Tenure => {
                let sizing = Self::sizing(terms, balance, None);
                self.reschedule(terms, day, balance, remaining, sizing, moratorium)
            }
            RateChangeKeep::Emi => {
                let sizing = Self::sizing(terms, balance, Some(self.installment_amount));
                if let Sizing::Fixed(emi) = sizing {
                    let period = Decimal::from(balance) * self.rate(terms).period_rate();
                    if Decimal::from(emi) <= period {
                        return Err((
                            "keep",
                            format!(
                                "the instalment {} no longer covers a period's interest at {}% (negative amortisation); keep tenure instead",
                                crate::money::format_minor(emi, terms.currency.minor_digits()),
                                rate.normalize()
                            ),
                        ));
                    }
                }
                let used = u32::try_from(self.fallen).unwrap_or(0);
                let room = MAX_INSTALLMENTS.saturating_sub(used).max(remaining);
                self.reschedule(terms, day, balance, room, sizing, moratorium)
            }
        }
    }

    fn restructure(
        &mut self,
        terms: &Terms,
        day: Date,
        installments: Option<u32>,
        installment_amount: Option<i64>,
        moratorium: Option<(u32, MoratoriumInterest)>,
    ) -> Res<()> {
        if matches!(terms.method, Method::Flat | Method::Bullet) {
            return Err((
                "type",
                format!(
                    "restructure is not available for method {}",
                    terms.method.name()
                ),
            ));
        }
        // Arrears of principal and interest are capitalised into the new balance.
        let mut arrears = 0;
        let mut arrears_interest = 0;
        for d in &mut self.dues[..self.fallen] {
            let unpaid = d.unpaid();
            if unpaid > 0 {
                arrears_interest += d.unpaid_interest();
                arrears += unpaid;
                d.capitalised += unpaid;
            }
        }
        self.capitalised += arrears_interest;
        self.fund_partners(terms, arrears_interest);
        let balance = self.scheduled_balance() + arrears;
        let count = installments
            .unwrap_or_else(|| self.remaining_count())
            .max(1);
        let m = moratorium
            .map(|(n, k)| (n.min(count.saturating_sub(1)), k))
            .filter(|(n, _)| *n > 0);
        if let Some(m) = m {
            if m.0 >= count {
                return Err((
                    "moratorium.periods",
                    "must be fewer than installments".into(),
                ));
            }
        }
        let sizing = Self::sizing(terms, balance, installment_amount);
        if self.classification == Classification::Npa {
            self.npa_watch = Some(
                self.dues
                    .get(self.open_from())
                    .map_or(self.next_number, |d| d.number)
                    + m.map_or(0, |(n, _)| n),
            );
        }
        self.reschedule(terms, day, balance, count, sizing, m)
    }
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

/// Events in application order: by value date, ties in recorded order (their order in the list).
fn ordered(events: &[Event]) -> Vec<(usize, &Event)> {
    let mut v: Vec<(usize, &Event)> = events.iter().enumerate().collect();
    v.sort_by_key(|(i, e)| (e.date, *i));
    v
}

fn fail(index: usize, event: &Event, (field, rule): (&'static str, String)) -> ReplayError {
    ReplayError {
        index,
        event: event.kind.name(),
        date: event.date,
        field,
        rule,
    }
}

impl Engine {
    /// Apply every event dated after the engine's day and on or before `as_of`, running each
    /// day-end, and stop at the end of `as_of`.
    ///
    /// A `payment_reversal` dated on or before `as_of` takes its receipt out of the replay
    /// altogether: from the reversal's date on, the loan's whole history reads as if that money
    /// never came (a bounced instalment was never paid). Before that date the receipt stands.
    pub fn run(&mut self, terms: &Terms, events: &[Event], as_of: Date) -> Result<(), ReplayError> {
        let order = ordered(events);
        limits::check_limits(terms, events)?;
        receipts::check_references(events, &order)?;
        let voided = receipts::voided_receipts(&order, as_of);
        if let Some(day) = self.day {
            // A receipt this engine already applied has been reversed since: start again.
            let applied_then_reversed = order.iter().any(|(_, e)| {
                e.date <= day
                    && e.kind
                        .receipt_reference()
                        .is_some_and(|r| voided.get(r).is_some_and(|reversed| *reversed > day))
            });
            if applied_then_reversed {
                *self = Engine::new(terms);
            }
        }
        let is_voided = |e: &Event| {
            !voided.is_empty()
                && e.kind
                    .receipt_reference()
                    .is_some_and(|r| voided.contains_key(r))
        };
        let start = self.day;
        let mut i = 0;
        while i < order.len() {
            let (index, event) = order[i];
            if start.is_some_and(|s| event.date <= s) {
                i += 1;
                continue;
            }
            if event.date > as_of {
                break;
            }
            let day = event.date;
            if let Some(last) = self.day {
                if day > last {
                    let eve = day.yesterday().unwrap_or(day);
                    self.run_through(terms, eve)
                        .map_err(|e| fail(index, event, e))?;
                    self.start_day(terms, day)
                        .map_err(|e| fail(index, event, e))?;
                }
            }
            // Every event of this day, in recorded order.
            while i < order.len() && order[i].1.date == day {
                let (index, event) = order[i];
                let first = self.status == Status::Pending;
                if !is_voided(event) {
                    self.apply(terms, event)
                        .map_err(|e| fail(index, event, e))?;
                }
                if first {
                    self.start_day(terms, day)
                        .map_err(|e| fail(index, event, e))?;
                }
                self.events_applied += 1;
                i += 1;
            }
            self.end_day(terms, day);
        }
        if self.day.is_some() {
            self.run_through(terms, as_of)
                .map_err(|(field, rule)| ReplayError {
                    index: events.len(),
                    event: "day_end",
                    date: as_of,
                    field,
                    rule,
                })?;
        }
        Ok(())
    }

    /// Resume from this snapshot: checks that no event dated on or before the snapshot's day has
    /// been added since it was taken.
    pub fn resume(
        &self,
        terms: &Terms,
        events: &[Event],
        as_of: Date,
    ) -> Result<Engine, ReplayError> {
        let covered = match self.day {
            Some(day) => events.iter().filter(|e| e.date <= day).count(),
            None => 0,
        };
        if covered != self.events_applied {
            return Err(ReplayError {
                index: 0,
                event: "snapshot",
                date: self.day.unwrap_or(as_of),
                field: "events",
                rule: format!(
                    "the snapshot covers {} events to its day but the list has {covered}: replay in full",
                    self.events_applied
                ),
            });
        }
        let mut engine = self.clone();
        engine.run(terms, events, as_of)?;
        Ok(engine)
    }
}

/// The state of a loan at the end of `as_of`.
pub fn replay(terms: &Terms, events: &[Event], as_of: Date) -> Result<LoanState, ReplayError> {
    let mut engine = Engine::new(terms);
    engine.run(terms, events, as_of)?;
    Ok(LoanState::new(terms, &engine, as_of))
}

/// Foreclosure amount on `date`: every event up to and including that date applied, interest to
/// the date (not including it).
pub fn foreclosure_quote(terms: &Terms, events: &[Event], date: Date) -> Result<i64, ReplayError> {
    let eve = date.yesterday().unwrap_or(date);
    let before: Vec<Event> = events.iter().filter(|e| e.date < date).cloned().collect();
    let mut engine = Engine::new(terms);
    engine.run(terms, &before, eve)?;
    if engine.day.is_some() {
        engine
            .start_day(terms, date)
            .map_err(|(field, rule)| ReplayError {
                index: 0,
                event: "quote",
                date,
                field,
                rule,
            })?;
    }
    Ok(engine.foreclosure_amount(terms, date))
}

/// What a prepayment would do, under both adjustments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepaymentPreview {
    pub reduce_emi: LoanState,
    pub reduce_tenure: LoanState,
}

/// Preview a prepayment of `amount` on `date` without recording it.
pub fn prepayment_preview(
    terms: &Terms,
    events: &[Event],
    date: Date,
    amount: i64,
) -> Result<PrepaymentPreview, ReplayError> {
    let with = |adjust| {
        let mut list = events.to_vec();
        list.push(Event {
            date,
            kind: EventKind::Prepayment {
                amount,
                adjust,
                reference: format!("preview:{date}"),
            },
        });
        replay(terms, &list, date)
    };
    Ok(PrepaymentPreview {
        reduce_emi: with(PrepaymentAdjust::ReduceEmi)?,
        reduce_tenure: with(PrepaymentAdjust::ReduceTenure)?,
    })
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
        let mut next_marked = false;
        let installments = e
            .dues
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
            .collect();
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

    /// Arrears: everything overdue.
    pub fn arrears(&self) -> i64 {
        self.total_overdue
    }
}

impl LoanState {
    /// The state without its instalment rows: what a list, a projection or a command's answer
    /// needs.
    pub fn summary_json(&self) -> serde_json::Value {
        self.to_json(false)
    }

    /// The `loanbook replay --json` shape; `rows` adds the instalments.
    pub fn to_json(&self, rows: bool) -> serde_json::Value {
        use serde_json::{Value, json};
        let digits = self.currency.minor_digits();
        let m = |v: i64| Value::String(crate::money::format_minor(v, digits));
        let b = &self.balances;
        let loss = |l: &Loss| json!({"principal": m(l.principal), "interest": m(l.interest), "charges": m(l.charges)});
        let mut v = json!({
            "as_of": self.as_of.to_string(),
            "status": self.status.name(),
            "dpd": self.dpd,
            "classification": self.classification.name(),
            "asset_class": self.asset_class.name(),
            "npa_since": self.npa_since.map(|d| d.to_string()),
            "classification_history": self.classification_history.iter().map(|(d, c)| json!({"date": d.to_string(), "class": c.name()})).collect::<Vec<_>>(),
            "balances": {
                "principal_outstanding": m(b.principal_outstanding),
                "principal_overdue": m(b.principal_overdue),
                "interest_overdue": m(b.interest_overdue),
                "interest_accrued": m(b.interest_accrued),
                "interest_suspended": m(b.interest_suspended),
                "charges_due": m(b.charges_due),
                "penal_accrued": m(b.penal_accrued),
                "excess": m(b.excess),
            },
            "total_overdue": m(self.total_overdue),
            "foreclosure_amount": m(self.foreclosure_amount),
            "installment_amount": m(self.installment_amount),
            "annual_rate": self.annual_rate.normalize().to_string(),
            "partners": self.partners.iter().map(|p| json!({
                "id": p.id,
                "principal_outstanding": m(p.principal_outstanding),
                "principal_received": m(p.principal_received),
                "interest_received": m(p.interest_received),
                "charges_received": m(p.charges_received),
            })).collect::<Vec<_>>(),
            "events_applied": self.events_applied,
        });
        if let Some(obj) = v.as_object_mut() {
            if rows {
                let installments: Vec<Value> = self
                    .installments
                    .iter()
                    .map(|i| {
                        json!({
                            "number": i.number,
                            "due_date": i.due_date.to_string(),
                            "principal": m(i.principal),
                            "interest": m(i.interest),
                            "total": m(i.total),
                            "paid": m(i.paid),
                            "waived": m(i.waived),
                            "capitalised": m(i.capitalised),
                            "status": match i.status {
                                InstallmentStatus::Paid => "paid",
                                InstallmentStatus::PartiallyPaid => "partially_paid",
                                InstallmentStatus::Overdue => "overdue",
                                InstallmentStatus::Due => "due",
                                InstallmentStatus::Upcoming => "upcoming",
                            },
                        })
                    })
                    .collect();
                obj.insert("installments".into(), Value::Array(installments));
            }
            if let Some(d) = self.closed_on {
                obj.insert("closed_on".into(), json!(d.to_string()));
            }
            if let Some((d, l)) = &self.written_off {
                obj.insert(
                    "written_off".into(),
                    json!({"date": d.to_string(), "amounts": loss(l)}),
                );
                obj.insert("recovered".into(), m(self.recovered));
            }
            if let Some(l) = &self.settlement_shortfall {
                obj.insert("settlement_shortfall".into(), loss(l));
            }
        }
        v
    }
}

impl Serialize for LoanState {
    /// The `loanbook replay --json` shape.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json(true).serialize(serializer)
    }
}
