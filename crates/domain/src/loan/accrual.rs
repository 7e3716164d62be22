//! Interest accrual: the current period's interest on the scheduled balance, broken-period
//! interest, and penal interest by the day.

use rust_decimal::Decimal;

use crate::calendar::Date;
use crate::money::{RoundingMode, round_to_integer};
use crate::terms::Terms;

use super::{Engine, Status};

impl Engine {
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
    pub(super) fn broken_until(&self, day: Date) -> Decimal {
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
    pub(super) fn interest_to(&self, terms: &Terms, day: Date) -> i64 {
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

    /// Carry the current period's interest on the scheduled balance up to `day`, so the balance can
    /// change from `day` on.
    pub(super) fn carry_to(&mut self, terms: &Terms, day: Date) {
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

    pub(super) fn daily_penal(&self, pct: Decimal) -> i64 {
        let base = self.principal_overdue() + self.interest_overdue();
        if base <= 0 {
            return 0;
        }
        let v = Decimal::from(base) * pct / Decimal::from(36_500);
        i64::try_from(round_to_integer(v, RoundingMode::HalfUp)).unwrap_or(0)
    }
}
