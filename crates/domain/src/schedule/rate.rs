//! The rate of interest over a period and where a run's due dates come from.

use rust_decimal::Decimal;

use crate::calendar::{CalendarError, Date, Frequency, HolidayCalendar};
use crate::terms::InterestBasis;

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
