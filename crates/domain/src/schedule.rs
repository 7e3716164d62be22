//! The repayment schedule engine and the disclosure figures a Key Facts Statement needs.
//!
//! Amounts are integer minor units throughout; intermediate interest and instalments are
//! [`Decimal`] values in minor units, rounded at the named points:
//! - each period's interest to the minor unit with `rounding.interest`;
//! - the instalment to `rounding.installment.multiple` with `rounding.installment.mode`;
//! - the last instalment takes whatever principal (and, for `flat`, interest) is left.
//!
//! [`amortise`] is the reusable core: it builds instalments from an opening balance over a run of
//! due dates. The loan engine calls it again to re-schedule after a prepayment, a rate change or a
//! restructure, so a quote and a serviced loan are built by the same code.

use rust_decimal::Decimal;
use rust_decimal::MathematicalOps;
use rust_decimal::prelude::ToPrimitive;

use crate::calendar::{self, CalendarError, Date, DayCount, Frequency, HolidayCalendar};
use crate::money::{Currency, RoundingMode, format_minor, round_to_integer, round_to_step};
use crate::terms::{
    BrokenPeriod, FeeCollection, InterestBasis, Method, MoratoriumInterest, Rounding, Terms,
};

/// One row of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installment {
    /// 1-based; 0 is the broken-period instalment.
    pub number: u32,
    pub due_date: Date,
    pub principal: i64,
    pub interest: i64,
    pub fees: i64,
    pub total: i64,
    /// Principal outstanding after this instalment.
    pub balance: i64,
    /// Interest added to principal in this period (capitalising moratorium).
    pub capitalised: i64,
}

/// Sums over a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Principal financed: the loan amount plus financed fees (capitalised interest excluded).
    pub principal: i64,
    /// All interest the borrower pays, including capitalised and broken-period interest.
    pub interest: i64,
    /// Every fee and its tax, however collected.
    pub fees: i64,
    /// Sum of every scheduled instalment.
    pub payable: i64,
}

/// A complete schedule with its disclosure figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub currency: Currency,
    /// The regular instalment (the base instalment for `step`).
    pub installment_amount: i64,
    pub installments: Vec<Installment>,
    pub totals: Totals,
    /// Amount the borrower receives, less fees deducted or paid upfront and deducted broken-period interest.
    pub net_disbursed: i64,
    /// Broken-period interest (negative for a shorter first period), before it is placed.
    pub broken_period_interest: i64,
    /// Annual percentage rate per RBI: periodic IRR × periods per year, in percent, 2 decimals.
    pub apr: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("amounts out of range while building the schedule")]
    OutOfRange,
    #[error("the cash flows have no internal rate of return")]
    NoIrr,
}

/// The rate of interest and how it is applied over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Percent per annum.
    pub annual: Decimal,
    pub basis: InterestBasis,
    pub frequency: Frequency,
}

impl Rate {
    /// The nominal rate per period as a fraction: annual / 100 / periods per year.
    pub fn period_rate(&self) -> Decimal {
        self.annual / Decimal::ONE_HUNDRED / self.frequency.periods_per_year()
    }

    /// Unrounded interest in minor units on `balance` for the part [from, to) of a period [start, end).
    /// Daily bases count the days; equal periods charge the period rate pro rata by days.
    pub fn interest(&self, balance: i64, from: Date, to: Date, start: Date, end: Date) -> Decimal {
        self.interest_at(self.period_rate(), balance, from, to, start, end)
    }

    /// [`Rate::interest`] with the period rate already computed (it costs two divisions).
    pub fn interest_at(
        &self,
        period_rate: Decimal,
        balance: i64,
        from: Date,
        to: Date,
        start: Date,
        end: Date,
    ) -> Decimal {
        if balance == 0 || to <= from {
            return Decimal::ZERO;
        }
        match self.basis.day_count() {
            Some(dc) => dc.interest(balance, self.annual, from, to),
            None => {
                let whole = Decimal::from(balance) * period_rate;
                if from <= start && to >= end {
                    whole
                } else {
                    let days = (to - from).get_days();
                    let period = (end - start).get_days();
                    if period <= 0 {
                        whole
                    } else {
                        whole * Decimal::from(days) / Decimal::from(period)
                    }
                }
            }
        }
    }
}

/// Where the due dates of a run of instalments come from: `frequency.step(anchor, offset + i)`,
/// adjusted by the calendar.
#[derive(Debug, Clone, Copy)]
pub struct DueDates<'a> {
    pub anchor: Date,
    pub offset: i32,
    pub frequency: Frequency,
    pub calendar: Option<&'a HolidayCalendar>,
}

impl DueDates<'_> {
    /// The unadjusted date of the i-th instalment of the run (0-based).
    pub fn nominal(&self, i: u32) -> Result<Date, CalendarError> {
        let k = i32::try_from(i)
            .ok()
            .and_then(|i| i.checked_add(self.offset))
            .ok_or(CalendarError::OutOfRange)?;
        self.frequency.step(self.anchor, k)
    }

    /// The business-day-adjusted due date of the i-th instalment of the run.
    pub fn due(&self, i: u32) -> Result<Date, CalendarError> {
        let d = self.nominal(i)?;
        match self.calendar {
            Some(c) => c.adjust(d),
            None => Ok(d),
        }
    }
}

/// How the instalments of an amortising run are sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizing {
    /// The annuity over the amortising periods, computed (and rounded) at their start.
    Annuity,
    /// A given instalment (kept EMI after a prepayment or rate change).
    Fixed(i64),
    /// The annuity that leaves this balloon for the last instalment.
    Balloon(i64),
    /// The base annuity stepped by `percent` every `every` instalments.
    Step { every: u32, percent: Decimal },
    /// Equal principal parts.
    EqualPrincipal,
    /// Interest only, principal with the last instalment.
    InterestOnly,
}

/// A later disbursement inside a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drawdown {
    pub date: Date,
    pub amount: i64,
}

/// One run of instalments from an opening balance.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    pub currency: Currency,
    pub opening_balance: i64,
    /// Start of the first period: the disbursement date (the regular period start under equal
    /// periods), or the last due date before the run. Drawdowns and part periods are pro-rated
    /// against it.
    pub period_start: Date,
    /// Interest on the opening balance runs from here (the date of a mid-period re-schedule).
    pub interest_from: Date,
    /// Unrounded interest of the first period already run before `interest_from`.
    pub carried_interest: Decimal,
    pub dates: DueDates<'a>,
    /// Number of instalments; with `Sizing::Fixed` the run may end earlier when the balance is paid.
    pub count: u32,
    /// Number given to the first instalment of the run.
    pub first_number: u32,
    pub rate: Rate,
    pub rounding: Rounding,
    pub sizing: Sizing,
    /// Leading periods that carry no principal.
    pub moratorium: Option<(u32, MoratoriumInterest)>,
    /// Interest added to the first instalment (broken period; negative takes off, never below zero).
    pub first_extra_interest: i64,
    /// Interest already deferred that falls due with the first amortising instalment.
    pub deferred_interest: i64,
    /// Later disbursements, in date order.
    pub drawdowns: &'a [Drawdown],
}

/// Result of a run: its instalments and the regular instalment it settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub installments: Vec<Installment>,
    pub installment_amount: i64,
    pub capitalised: i64,
}

/// Round an instalment (in minor units) to the terms' multiple with the terms' mode.
fn round_installment(
    value: Decimal,
    currency: Currency,
    rounding: &Rounding,
) -> Result<i64, ScheduleError> {
    let step = rounding.installment.multiple * Decimal::from(currency.minor_per_major());
    let step = if step <= Decimal::ZERO {
        Decimal::ONE
    } else {
        step
    };
    to_i64(round_to_step(value, step, rounding.installment.mode))
}

fn to_i64(d: Decimal) -> Result<i64, ScheduleError> {
    d.to_i64().ok_or(ScheduleError::OutOfRange)
}

fn round_interest(d: Decimal, mode: RoundingMode) -> Result<i64, ScheduleError> {
    to_i64(round_to_integer(d, mode))
}

/// (1 + r)^-n, or zero when (1 + r)^n is beyond Decimal's range (its inverse is then below precision).
fn discount(r: Decimal, n: u32) -> Decimal {
    match (Decimal::ONE + r).checked_powu(u64::from(n)) {
        Some(g) if !g.is_zero() => Decimal::ONE / g,
        _ => Decimal::ZERO,
    }
}

/// The level payment over `n` periods at rate `r` that reduces `balance` to `residual`.
pub fn annuity(balance: Decimal, r: Decimal, n: u32, residual: Decimal) -> Decimal {
    if n == 0 {
        return balance;
    }
    if r.is_zero() {
        return (balance - residual) / Decimal::from(n);
    }
    let v = discount(r, n);
    (balance - residual * v) * r / (Decimal::ONE - v)
}

/// The base instalment of a stepped annuity: `balance / Σ g^⌊j/every⌋ v^(j+1)`.
fn step_base(
    balance: Decimal,
    r: Decimal,
    n: u32,
    every: u32,
    growth: Decimal,
) -> Result<Decimal, ScheduleError> {
    let v = Decimal::ONE / (Decimal::ONE + r);
    let mut disc = Decimal::ONE;
    let mut factor = Decimal::ONE;
    let mut sum = Decimal::ZERO;
    for j in 0..n {
        if j > 0 && j % every.max(1) == 0 {
            factor = factor
                .checked_mul(growth)
                .ok_or(ScheduleError::OutOfRange)?;
        }
        disc *= v;
        sum = factor
            .checked_mul(disc)
            .and_then(|x| sum.checked_add(x))
            .ok_or(ScheduleError::OutOfRange)?;
    }
    if sum.is_zero() {
        return Err(ScheduleError::OutOfRange);
    }
    Ok(balance / sum)
}

impl Plan<'_> {
    fn round_installment(&self, value: Decimal) -> Result<i64, ScheduleError> {
        round_installment(value, self.currency, &self.rounding)
    }

    /// The instalment for amortising index `j` (0-based) given the target settled at the start.
    fn target(&self, base: Decimal, j: u32) -> Result<i64, ScheduleError> {
        match self.sizing {
            Sizing::Step { every, percent } => {
                let growth = Decimal::ONE + percent / Decimal::ONE_HUNDRED;
                let steps = j / every.max(1);
                let factor = growth
                    .checked_powu(u64::from(steps))
                    .ok_or(ScheduleError::OutOfRange)?;
                self.round_installment(base.checked_mul(factor).ok_or(ScheduleError::OutOfRange)?)
            }
            _ => self.round_installment(base),
        }
    }

    /// Settle the unrounded base instalment for `n` amortising periods from `balance`.
    fn base(&self, balance: i64, n: u32) -> Result<Decimal, ScheduleError> {
        let r = self.rate.period_rate();
        let b = Decimal::from(balance);
        Ok(match self.sizing {
            Sizing::Annuity => annuity(b, r, n, Decimal::ZERO),
            Sizing::Fixed(emi) => Decimal::from(emi),
            Sizing::Balloon(residual) => annuity(b, r, n, Decimal::from(residual)),
            Sizing::Step { every, percent } => step_base(
                b,
                r,
                n,
                every,
                Decimal::ONE + percent / Decimal::ONE_HUNDRED,
            )?,
            Sizing::EqualPrincipal => b / Decimal::from(n.max(1)),
            Sizing::InterestOnly => Decimal::ZERO,
        })
    }
}

/// Build the instalments of one run. Principal parts always sum to the opening balance plus every
/// drawdown plus capitalised interest; no component or balance is ever negative.
pub fn amortise(plan: &Plan<'_>) -> Result<Run, ScheduleError> {
    let mode = plan.rounding.interest;
    let (mor_n, mor_kind) = plan.moratorium.unwrap_or((0, MoratoriumInterest::Pay));
    let n = plan.count;
    let amortising = n.saturating_sub(mor_n).max(1);
    let mut rows = Vec::with_capacity(n as usize);
    let mut balance = plan.opening_balance;
    let mut deferred = plan.deferred_interest;
    let mut capitalised_total = 0i64;
    let mut draws = plan.drawdowns.iter().peekable();
    let mut period_start = plan.period_start;
    let mut base = Decimal::ZERO;
    let mut target = 0i64;
    let mut installment_amount = 0i64;
    let period_rate = plan.rate.period_rate();
    // The rounded instalment of a level run, settled with its base (stepped runs vary by row).
    let mut level: Option<i64> = None;

    for i in 0..n {
        let due = plan.dates.due(i)?;
        let start = period_start;
        // Interest over the period, split where drawdowns land.
        let (mut interest, mut seg) = if i == 0 {
            (plan.carried_interest, plan.interest_from.max(start))
        } else {
            (Decimal::ZERO, start)
        };
        let mut drawn = false;
        while let Some(d) = draws.next_if(|d| d.date < due) {
            interest += plan
                .rate
                .interest_at(period_rate, balance, seg, d.date, start, due);
            balance = balance
                .checked_add(d.amount)
                .ok_or(ScheduleError::OutOfRange)?;
            seg = seg.max(d.date);
            drawn = true;
        }
        interest += plan
            .rate
            .interest_at(period_rate, balance, seg, due, start, due);
        let mut regular = round_interest(interest, mode)?;
        let mut extra = if i == 0 { plan.first_extra_interest } else { 0 };
        if extra < 0 {
            // A shorter first period: take the missing days off, never below zero.
            let cut = (-extra).min(regular);
            regular -= cut;
            extra = 0;
        }
        let number = plan.first_number + i;
        let amort_index = i.checked_sub(mor_n);

        // Settle (or re-settle after a drawdown) the instalment at the start of amortisation.
        if let Some(j) = amort_index {
            let remaining = amortising - j;
            if j == 0 || (drawn && !matches!(plan.sizing, Sizing::Fixed(_))) {
                base = plan.base(balance, remaining)?;
                level = None;
                match plan.sizing {
                    Sizing::EqualPrincipal => {
                        target = to_i64(round_to_integer(base, plan.rounding.installment.mode))?;
                    }
                    Sizing::Step { .. } | Sizing::InterestOnly => {}
                    _ => level = Some(plan.target(base, 0)?),
                }
            }
        }

        let row = match amort_index {
            None => {
                // Moratorium period: no principal.
                let period_interest = regular + extra;
                match mor_kind {
                    MoratoriumInterest::Pay => Installment {
                        number,
                        due_date: due,
                        principal: 0,
                        interest: period_interest,
                        fees: 0,
                        total: period_interest,
                        balance,
                        capitalised: 0,
                    },
                    MoratoriumInterest::Capitalize => {
                        balance = balance
                            .checked_add(period_interest)
                            .ok_or(ScheduleError::OutOfRange)?;
                        capitalised_total += period_interest;
                        Installment {
                            number,
                            due_date: due,
                            principal: 0,
                            interest: 0,
                            fees: 0,
                            total: 0,
                            balance,
                            capitalised: period_interest,
                        }
                    }
                    MoratoriumInterest::Defer => {
                        deferred += period_interest;
                        Installment {
                            number,
                            due_date: due,
                            principal: 0,
                            interest: 0,
                            fees: 0,
                            total: 0,
                            balance,
                            capitalised: 0,
                        }
                    }
                }
            }
            Some(j) => {
                let last = i + 1 == n;
                let principal = if last {
                    balance
                } else {
                    match plan.sizing {
                        Sizing::InterestOnly => 0,
                        Sizing::EqualPrincipal => target.min(balance),
                        _ => {
                            let t = match level {
                                Some(t) => t,
                                None => plan.target(base, j)?,
                            };
                            (t - regular).clamp(0, balance)
                        }
                    }
                };
                let interest_due = regular + extra + deferred;
                deferred = 0;
                balance -= principal;
                Installment {
                    number,
                    due_date: due,
                    principal,
                    interest: interest_due,
                    fees: 0,
                    total: principal + interest_due,
                    balance,
                    capitalised: 0,
                }
            }
        };
        if amort_index == Some(0) {
            installment_amount = match plan.sizing {
                Sizing::EqualPrincipal | Sizing::InterestOnly => row.total,
                _ => plan.target(base, 0)?,
            };
        }
        rows.push(row);
        period_start = due;
        // A fixed instalment may pay the loan off before the run's last date.
        if matches!(plan.sizing, Sizing::Fixed(_)) && balance == 0 && amort_index.is_some() {
            break;
        }
    }
    Ok(Run {
        installments: rows,
        installment_amount,
        capitalised: capitalised_total,
    })
}

/// Broken-period interest under equal periods: principal × annual rate × days / 365 for the days
/// between disbursement and the start of the first regular period (negative when it starts earlier).
fn broken_period_interest(
    principal: i64,
    annual: Decimal,
    disbursed: Date,
    regular_start: Date,
    mode: RoundingMode,
) -> Result<i64, ScheduleError> {
    let (from, to, sign) = if disbursed <= regular_start {
        (disbursed, regular_start, 1)
    } else {
        (regular_start, disbursed, -1)
    };
    let value = DayCount::Act365F.interest(principal, annual, from, to);
    Ok(sign * round_interest(value, mode)?)
}

/// The repayment rows of a loan and what was paid out against them, before the disclosure
/// figures: what servicing needs, without the APR solve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repayments {
    pub installments: Vec<Installment>,
    pub installment_amount: i64,
    /// The first disbursement net of deducted fees and deducted broken-period interest.
    pub net_disbursed: i64,
    pub broken_period_interest: i64,
    pub fees_total: i64,
}

/// Build the full schedule and the disclosure figures for `terms`.
pub fn build(terms: &Terms) -> Result<Schedule, ScheduleError> {
    let r = repayments(terms)?;
    let installments = r.installments;
    let capitalised: i64 = installments.iter().map(|r| r.capitalised).sum();
    let interest: i64 = installments.iter().map(|r| r.interest).sum::<i64>() + capitalised;
    let payable: i64 = installments.iter().map(|r| r.total).sum();
    let principal: i64 = installments.iter().map(|r| r.principal).sum::<i64>() - capitalised;

    let d0 = terms.disbursement_date;
    let mut flows = Vec::with_capacity(installments.len() + terms.tranches.len() + 1);
    flows.push((d0, r.net_disbursed));
    flows.extend(terms.tranches.iter().map(|d| (d.date, d.amount)));
    flows.extend(installments.iter().map(|r| (r.due_date, -r.total)));
    let apr = apr(d0, terms.frequency, &flows)?;

    Ok(Schedule {
        currency: terms.currency,
        installment_amount: r.installment_amount,
        installments,
        totals: Totals {
            principal,
            interest,
            fees: r.fees_total,
            payable,
        },
        net_disbursed: r.net_disbursed,
        broken_period_interest: r.broken_period_interest,
        apr,
    })
}

/// The repayment rows for `terms`: every method, moratorium, broken period, tranches and fees.
pub fn repayments(terms: &Terms) -> Result<Repayments, ScheduleError> {
    let freq = terms.frequency;
    let d0 = terms.disbursement_date;
    let calendar = terms.calendar.as_ref();
    let (anchor, offset) = match terms.first_due_date {
        Some(f) => (f, 0),
        None => (d0, 1),
    };
    let dates = DueDates {
        anchor,
        offset,
        frequency: freq,
        calendar,
    };
    let rate = Rate {
        annual: terms.annual_rate,
        basis: terms.interest_basis,
        frequency: freq,
    };
    let n = terms.installments;

    // Fees.
    let mut fees_total = 0i64;
    let mut financed = 0i64;
    let mut withheld = 0i64;
    for fee in &terms.fees {
        let amount = fee.total_minor(terms.principal);
        fees_total += amount;
        match fee.collect {
            FeeCollection::Finance => financed += amount,
            FeeCollection::Deduct | FeeCollection::Upfront => withheld += amount,
        }
    }
    let first = terms.first_disbursement() + financed;

    // Broken period (equal periods only): the first regular period starts one period before the
    // first due date.
    let regular_start = dates.frequency.step(anchor, offset - 1)?;
    let equal = terms.interest_basis == InterestBasis::EqualPeriods;
    let bpi = if equal && terms.broken_period != BrokenPeriod::Ignore {
        broken_period_interest(
            first,
            terms.annual_rate,
            d0,
            regular_start,
            terms.rounding.interest,
        )?
    } else {
        0
    };
    let (first_extra, bpi_row, bpi_deducted) = match terms.broken_period {
        _ if bpi < 0 => (bpi, 0, 0),
        BrokenPeriod::FirstInstallment => (bpi, 0, 0),
        BrokenPeriod::Deduct => (0, 0, bpi),
        BrokenPeriod::InstallmentZero => (0, bpi, 0),
        BrokenPeriod::Ignore => (0, 0, 0),
    };

    let drawdowns: Vec<Drawdown> = terms
        .tranches
        .iter()
        .map(|t| Drawdown {
            date: t.date,
            amount: t.amount,
        })
        .collect();

    let mut installments = Vec::with_capacity(n as usize + 1);
    if bpi_row > 0 {
        let due = match calendar {
            Some(c) => c.adjust(regular_start)?,
            None => regular_start,
        };
        installments.push(Installment {
            number: 0,
            due_date: due,
            principal: 0,
            interest: bpi_row,
            fees: 0,
            total: bpi_row,
            balance: first,
            capitalised: 0,
        });
    }

    let (rows, installment_amount) = match terms.method {
        Method::Flat => flat(terms, &dates, first, first_extra, &rate)?,
        Method::Bullet => bullet(terms, &dates, first, first_extra, &rate)?,
        method => {
            let sizing = match method {
                Method::Emi => Sizing::Annuity,
                Method::EqualPrincipal => Sizing::EqualPrincipal,
                Method::InterestOnly => Sizing::InterestOnly,
                Method::Balloon => Sizing::Balloon(terms.balloon.unwrap_or(0)),
                Method::Step => {
                    let s = terms.step.ok_or(ScheduleError::OutOfRange)?;
                    Sizing::Step {
                        every: s.every,
                        percent: s.percent,
                    }
                }
                Method::Flat | Method::Bullet => Sizing::Annuity,
            };
            let run = amortise(&Plan {
                currency: terms.currency,
                opening_balance: first,
                period_start: if equal { regular_start } else { d0 },
                interest_from: if equal { regular_start } else { d0 },
                carried_interest: Decimal::ZERO,
                dates,
                count: n,
                first_number: 1,
                rate,
                rounding: terms.rounding,
                sizing,
                moratorium: terms.moratorium.map(|m| (m.periods, m.interest)),
                first_extra_interest: first_extra,
                deferred_interest: 0,
                drawdowns: &drawdowns,
            })?;
            (run.installments, run.installment_amount)
        }
    };
    installments.extend(rows);
    Ok(Repayments {
        installments,
        installment_amount,
        net_disbursed: terms.principal - withheld - bpi_deducted,
        broken_period_interest: bpi,
        fees_total,
    })
}

/// Simple interest on `principal` from disbursement to `last_due`: by days under a daily basis,
/// by whole periods under equal periods; rounded once.
fn term_interest(
    terms: &Terms,
    rate: &Rate,
    principal: i64,
    last_due: Date,
) -> Result<i64, ScheduleError> {
    let interest = match rate.basis.day_count() {
        Some(dc) => dc.interest(principal, rate.annual, terms.disbursement_date, last_due),
        None => Decimal::from(principal) * rate.period_rate() * Decimal::from(terms.installments),
    };
    round_interest(interest, terms.rounding.interest)
}

/// Flat interest: total interest = principal × rate × term in years, spread evenly; the last
/// instalment closes principal and interest exactly.
fn flat(
    terms: &Terms,
    dates: &DueDates<'_>,
    principal: i64,
    first_extra: i64,
    rate: &Rate,
) -> Result<(Vec<Installment>, i64), ScheduleError> {
    let n = terms.installments;
    let last_due = dates.due(n - 1)?;
    let total_interest = term_interest(terms, rate, principal, last_due)?;
    let nd = Decimal::from(n);
    let installment = round_installment(
        Decimal::from(principal + total_interest) / nd,
        terms.currency,
        &terms.rounding,
    )?;
    let interest_part =
        round_interest(Decimal::from(total_interest) / nd, terms.rounding.interest)?;
    let principal_part = (installment - interest_part).max(0);
    let mut rows = Vec::with_capacity(n as usize);
    let mut balance = principal;
    let mut interest_left = total_interest;
    for i in 0..n {
        let last = i + 1 == n;
        let p = if last {
            balance
        } else {
            principal_part.min(balance)
        };
        let mut interest = if last {
            interest_left
        } else {
            interest_part.min(interest_left)
        };
        interest_left -= interest;
        if i == 0 {
            interest = (interest + first_extra).max(0);
        }
        balance -= p;
        rows.push(Installment {
            number: i + 1,
            due_date: dates.due(i)?,
            principal: p,
            interest,
            fees: 0,
            total: p + interest,
            balance,
            capitalised: 0,
        });
    }
    Ok((rows, installment))
}

/// Bullet: one payment at the end of the term, principal plus simple interest for the whole term.
fn bullet(
    terms: &Terms,
    dates: &DueDates<'_>,
    principal: i64,
    first_extra: i64,
    rate: &Rate,
) -> Result<(Vec<Installment>, i64), ScheduleError> {
    let n = terms.installments;
    let due = dates.due(n - 1)?;
    let interest = (term_interest(terms, rate, principal, due)? + first_extra).max(0);
    let total = principal + interest;
    Ok((
        vec![Installment {
            number: 1,
            due_date: due,
            principal,
            interest,
            fees: 0,
            total,
            balance: 0,
            capitalised: 0,
        }],
        total,
    ))
}

/// APR per RBI: the periodic IRR of the borrower's cash flows (positive = received) times periods per
/// year, in percent rounded half-up to 2 decimals. Cash-flow times are measured in periods of the
/// loan's frequency from disbursement, so a regular schedule has whole-number times and an irregular
/// one (broken period, holidays, instalment 0) uses its actual dates.
pub fn apr(
    start: Date,
    frequency: Frequency,
    flows: &[(Date, i64)],
) -> Result<Decimal, ScheduleError> {
    let mut timed = Vec::with_capacity(flows.len());
    for &(date, amount) in flows {
        if amount != 0 {
            let t = calendar::periods_between(start, date, frequency)?;
            timed.push((t, amount as f64));
        }
    }
    let r = irr(&timed).ok_or(ScheduleError::NoIrr)?;
    let ppy = frequency
        .periods_per_year()
        .to_f64()
        .ok_or(ScheduleError::OutOfRange)?;
    let pct = Decimal::from_f64_retain(r * ppy * 100.0).ok_or(ScheduleError::NoIrr)?;
    Ok(pct.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}

/// Internal rate of return per period of timed cash flows, by Newton's method with a bisection
/// fallback. Hand-written: the flows are short and the solve must stay allocation-free and fast.
pub fn irr(flows: &[(f64, f64)]) -> Option<f64> {
    let integral = flows.iter().all(|(t, _)| t.fract() == 0.0);
    let npv = |r: f64| -> (f64, f64) {
        let mut v = 0.0;
        let mut dv = 0.0;
        if integral {
            // Whole-period times: powers by repeated multiplication.
            let x = 1.0 / (1.0 + r);
            let mut last_t = 0.0;
            let mut pw = 1.0;
            for &(t, cf) in flows {
                if t == last_t + 1.0 {
                    pw *= x;
                    last_t = t;
                } else if t != last_t {
                    pw = x.powf(t);
                    last_t = t;
                }
                v += cf * pw;
                dv -= t * cf * pw * x;
            }
        } else {
            for &(t, cf) in flows {
                let pw = (1.0 + r).powf(-t);
                v += cf * pw;
                dv -= t * cf * pw / (1.0 + r);
            }
        }
        (v, dv)
    };
    if flows.len() < 2 {
        return None;
    }
    let scale: f64 = flows.iter().map(|(_, c)| c.abs()).fold(0.0, f64::max);
    let tol = scale * 1e-12;
    let mut r = 0.01;
    for _ in 0..50 {
        let (v, dv) = npv(r);
        if v.abs() <= tol {
            return Some(r);
        }
        if dv == 0.0 || !dv.is_finite() {
            break;
        }
        let next = r - v / dv;
        if !next.is_finite() || next <= -0.99 {
            break;
        }
        if (next - r).abs() < 1e-15 {
            return Some(next);
        }
        r = next;
    }
    // Bisection on a bracket where the NPV changes sign.
    let (mut lo, mut hi) = (-0.99, 10.0);
    let (mut vlo, vhi) = (npv(lo).0, npv(hi).0);
    if vlo.signum() == vhi.signum() {
        return None;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let vm = npv(mid).0;
        if vm.abs() <= tol || (hi - lo) < 1e-15 {
            return Some(mid);
        }
        if vm.signum() == vlo.signum() {
            lo = mid;
            vlo = vm;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

impl serde::Serialize for Schedule {
    /// The `loanbook quote --json` shape: money as decimal strings, the APR as a percent string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let digits = self.currency.minor_digits();
        let m = |minor: i64| format_minor(minor, digits);

        #[derive(serde::Serialize)]
        struct Row {
            number: u32,
            due_date: Date,
            principal: String,
            interest: String,
            fees: String,
            total: String,
            balance: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            capitalised: Option<String>,
        }
        #[derive(serde::Serialize)]
        struct TotalsView {
            principal: String,
            interest: String,
            fees: String,
            payable: String,
        }
        let rows: Vec<Row> = self
            .installments
            .iter()
            .map(|r| Row {
                number: r.number,
                due_date: r.due_date,
                principal: m(r.principal),
                interest: m(r.interest),
                fees: m(r.fees),
                total: m(r.total),
                balance: m(r.balance),
                capitalised: (r.capitalised != 0).then(|| m(r.capitalised)),
            })
            .collect();
        let mut s = serializer.serialize_struct("Schedule", 7)?;
        s.serialize_field("currency", self.currency.code())?;
        s.serialize_field("installment_amount", &m(self.installment_amount))?;
        s.serialize_field("installments", &rows)?;
        s.serialize_field(
            "totals",
            &TotalsView {
                principal: m(self.totals.principal),
                interest: m(self.totals.interest),
                fees: m(self.totals.fees),
                payable: m(self.totals.payable),
            },
        )?;
        s.serialize_field("net_disbursed", &m(self.net_disbursed))?;
        s.serialize_field("broken_period_interest", &m(self.broken_period_interest))?;
        s.serialize_field("apr", &format!("{:.2}", self.apr))?;
        s.end()
    }
}
