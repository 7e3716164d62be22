//! The broken period: the days between disbursement and the start of the first regular period,
//! under equal periods, and where their interest goes.

use rust_decimal::Decimal;

use crate::calendar::{Date, DayCount};
use crate::money::RoundingMode;
use crate::terms::{BrokenPeriod, InterestBasis, Terms};

use super::amortise::round_interest;
use super::{Installment, ScheduleError};

/// Where the broken-period interest of a loan goes.
pub(super) struct Placement {
    /// The interest itself (negative for a shorter first period), before it is placed.
    pub interest: i64,
    /// Added to (or taken off) the first instalment's interest.
    pub first_extra: i64,
    /// Charged as instalment 0.
    pub row: i64,
    /// Deducted from the amount disbursed.
    pub deducted: i64,
}

/// Compute the broken-period interest of `terms` on the first disbursement `first` and place it.
pub(super) fn place(
    terms: &Terms,
    first: i64,
    regular_start: Date,
) -> Result<Placement, ScheduleError> {
    let equal = terms.interest_basis == InterestBasis::EqualPeriods;
    let interest = if equal && terms.broken_period != BrokenPeriod::Ignore {
        broken_period_interest(
            first,
            terms.annual_rate,
            terms.disbursement_date,
            regular_start,
            terms.rounding.interest,
        )?
    } else {
        0
    };
    let (first_extra, row, deducted) = match terms.broken_period {
        _ if interest < 0 => (interest, 0, 0),
        BrokenPeriod::FirstInstallment => (interest, 0, 0),
        BrokenPeriod::Deduct => (0, 0, interest),
        BrokenPeriod::InstallmentZero => (0, interest, 0),
        BrokenPeriod::Ignore => (0, 0, 0),
    };
    Ok(Placement {
        interest,
        first_extra,
        row,
        deducted,
    })
}

/// The interest-only instalment number 0, due at the start of the first regular period, when the
/// terms place the broken period there.
pub(super) fn installment_zero(
    terms: &Terms,
    placement: &Placement,
    first: i64,
    regular_start: Date,
) -> Result<Option<Installment>, ScheduleError> {
    if placement.row <= 0 {
        return Ok(None);
    }
    let due = match &terms.calendar {
        Some(c) => c.adjust(regular_start)?,
        None => regular_start,
    };
    Ok(Some(Installment {
        number: 0,
        due_date: due,
        principal: 0,
        interest: placement.row,
        fees: 0,
        total: placement.row,
        balance: first,
        capitalised: 0,
    }))
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
