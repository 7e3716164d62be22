//! One run of instalments from an opening balance: the core every method but flat and bullet is
//! built on, and that the loan engine calls again to re-schedule.

use std::iter::Peekable;
use std::slice;

use rust_decimal::Decimal;
use rust_decimal::MathematicalOps;
use rust_decimal::prelude::ToPrimitive;

use crate::calendar::Date;
use crate::money::{Currency, RoundingMode, round_to_integer, round_to_step};
use crate::terms::{MoratoriumInterest, Rounding};

use super::moratorium::{self, Balances};
use super::{DueDates, Installment, Rate, ScheduleError};

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
pub(super) fn round_installment(
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

pub(super) fn to_i64(d: Decimal) -> Result<i64, ScheduleError> {
    d.to_i64().ok_or(ScheduleError::OutOfRange)
}

pub(super) fn round_interest(d: Decimal, mode: RoundingMode) -> Result<i64, ScheduleError> {
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

/// The instalment a run settled on at the start of amortisation (or after a drawdown).
#[derive(Debug, Clone, Copy, Default)]
struct Settled {
    /// The unrounded base instalment.
    base: Decimal,
    /// The rounded principal part of an equal-principal run.
    principal: i64,
    /// The rounded instalment of a level run (stepped runs vary by row).
    level: Option<i64>,
}

impl Plan<'_> {
    /// Settle the instalment for `remaining` amortising periods from `balance`.
    fn settle(&self, balance: i64, remaining: u32) -> Result<Settled, ScheduleError> {
        let base = self.base(balance, remaining)?;
        let mut settled = Settled {
            base,
            ..Settled::default()
        };
        match self.sizing {
            Sizing::EqualPrincipal => {
                settled.principal = to_i64(round_to_integer(base, self.rounding.installment.mode))?;
            }
            Sizing::Step { .. } | Sizing::InterestOnly => {}
            _ => settled.level = Some(self.target(base, 0)?),
        }
        Ok(settled)
    }

    /// Unrounded interest of the period [start, due), split where drawdowns land (they are added
    /// to the balance). Returns the interest and whether a drawdown landed.
    fn period_interest(
        &self,
        i: u32,
        start: Date,
        due: Date,
        draws: &mut Peekable<slice::Iter<'_, Drawdown>>,
        balance: &mut i64,
    ) -> Result<(Decimal, bool), ScheduleError> {
        let period_rate = self.rate.period_rate();
        let (mut interest, mut seg) = if i == 0 {
            (self.carried_interest, self.interest_from.max(start))
        } else {
            (Decimal::ZERO, start)
        };
        let mut drawn = false;
        while let Some(d) = draws.next_if(|d| d.date < due) {
            interest += self
                .rate
                .interest_at(period_rate, *balance, seg, d.date, start, due);
            *balance = balance
                .checked_add(d.amount)
                .ok_or(ScheduleError::OutOfRange)?;
            seg = seg.max(d.date);
            drawn = true;
        }
        interest += self
            .rate
            .interest_at(period_rate, *balance, seg, due, start, due);
        Ok((interest, drawn))
    }

    /// The principal of amortising instalment `j` (0-based) with regular interest `regular`.
    fn principal_part(
        &self,
        settled: &Settled,
        j: u32,
        last: bool,
        regular: i64,
        balance: i64,
    ) -> Result<i64, ScheduleError> {
        if last {
            return Ok(balance);
        }
        Ok(match self.sizing {
            Sizing::InterestOnly => 0,
            Sizing::EqualPrincipal => settled.principal.min(balance),
            _ => {
                let t = match settled.level {
                    Some(t) => t,
                    None => self.target(settled.base, j)?,
                };
                (t - regular).clamp(0, balance)
            }
        })
    }
}

/// Build the instalments of one run. Principal parts always sum to the opening balance plus every
/// drawdown plus capitalised interest; no component or balance is ever negative.
pub fn amortise(plan: &Plan<'_>) -> Result<Run, ScheduleError> {
    let (mor_n, mor_kind) = plan.moratorium.unwrap_or((0, MoratoriumInterest::Pay));
    let n = plan.count;
    let amortising = n.saturating_sub(mor_n).max(1);
    let mut rows = Vec::with_capacity(n as usize);
    let mut bal = Balances {
        balance: plan.opening_balance,
        deferred: plan.deferred_interest,
        capitalised: 0,
    };
    let mut draws = plan.drawdowns.iter().peekable();
    let mut period_start = plan.period_start;
    let mut settled = Settled::default();
    let mut installment_amount = 0i64;

    for i in 0..n {
        let due = plan.dates.due(i)?;
        let (interest, drawn) =
            plan.period_interest(i, period_start, due, &mut draws, &mut bal.balance)?;
        let mut regular = round_interest(interest, plan.rounding.interest)?;
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
            if j == 0 || (drawn && !matches!(plan.sizing, Sizing::Fixed(_))) {
                settled = plan.settle(bal.balance, amortising - j)?;
            }
        }

        let row = match amort_index {
            None => moratorium::row(mor_kind, number, due, regular + extra, &mut bal)?,
            Some(j) => {
                let principal =
                    plan.principal_part(&settled, j, i + 1 == n, regular, bal.balance)?;
                let interest_due = regular + extra + bal.deferred;
                bal.deferred = 0;
                bal.balance -= principal;
                Installment {
                    number,
                    due_date: due,
                    principal,
                    interest: interest_due,
                    fees: 0,
                    total: principal + interest_due,
                    balance: bal.balance,
                    capitalised: 0,
                }
            }
        };
        if amort_index == Some(0) {
            installment_amount = match plan.sizing {
                Sizing::EqualPrincipal | Sizing::InterestOnly => row.total,
                _ => plan.target(settled.base, 0)?,
            };
        }
        rows.push(row);
        period_start = due;
        // A fixed instalment may pay the loan off before the run's last date.
        if matches!(plan.sizing, Sizing::Fixed(_)) && bal.balance == 0 && amort_index.is_some() {
            break;
        }
    }
    Ok(Run {
        installments: rows,
        installment_amount,
        capitalised: bal.capitalised,
    })
}
