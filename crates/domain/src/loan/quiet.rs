//! Quiet days ahead: until when a loan's day-ends change nothing but the interest accrued, and
//! by how much that rises each of those days. The close of business reads a loan again only on
//! the day it wakes (or when an event arrives), and posts the accrual of the days between from
//! this plan.

use crate::calendar::Date;
use crate::delinquency::Classification;
use crate::terms::Terms;

use super::{Engine, Status, day_after};

/// The most days a plan covers: a loan with no instalment for longer (a bullet loan) wakes at
/// least this often.
pub const MAX_QUIET_DAYS: usize = 31;

/// What a loan's day-ends do after `day` while no event arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietPlan {
    /// The first day whose day-end does more than accrue interest (an instalment falls due, the
    /// plan's horizon ends); `None` when no day-end can change the loan (closed, written off,
    /// settled, foreclosed): only an event wakes it.
    pub wake_on: Option<Date>,
    /// How much the interest accrued rises on each day from `day + 1` up to the day before
    /// `wake_on`, in minor units: the day-by-day difference of what [`super::LoanState`] reports.
    pub accruals: Vec<i64>,
}

/// What the loan will ask of its borrower next: the next instalment still to fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    pub installment: u32,
    pub due_date: Date,
    /// What is unpaid of it (after any advance applied to it), in minor units.
    pub amount: i64,
}

impl Engine {
    /// The collection demand of an active loan: its next instalment with anything to fall due,
    /// and what is unpaid of it; `None` for a loan that is not active or has nothing left to fall
    /// due. The close writes it with the loan's mark; a loan is read again whenever an event
    /// changes it, and on the day the instalment falls due, so the demand stays current.
    pub fn demand(&self) -> Option<Demand> {
        if self.status != Status::Active {
            return None;
        }
        self.dues[self.fallen.min(self.dues.len())..]
            .iter()
            .find(|d| d.number > 0 && d.total() > 0)
            .map(|d| Demand {
                installment: d.number,
                due_date: d.due_date,
                amount: d.unpaid().max(0),
            })
    }

    /// The quiet days after `day`, the last day whose day-end has run on this engine. A loan is
    /// quiet while it is active, owes nothing overdue (no DPD, no charges, no penal interest
    /// accruing), is standard and has an instalment still to fall due: its day-ends then move
    /// nothing but the interest accrued, and its class cannot change. Otherwise it wakes on the
    /// next day.
    pub fn quiet_plan(&self, terms: &Terms, day: Date) -> QuietPlan {
        let tomorrow = day_after(day);
        let wake_tomorrow = QuietPlan {
            wake_on: Some(tomorrow),
            accruals: Vec::new(),
        };
        match self.status {
            Status::Active => {}
            Status::Pending => return wake_tomorrow,
            Status::Closed | Status::WrittenOff | Status::Settled | Status::Foreclosed => {
                return QuietPlan {
                    wake_on: None,
                    accruals: Vec::new(),
                };
            }
        }
        let owes_late = self.dpd(day) > 0
            || self.principal_overdue() + self.interest_overdue() > 0
            || self.charges_due() > 0
            || self.penal_accrued > 0;
        if owes_late || self.classification != Classification::Standard {
            return wake_tomorrow;
        }
        let Some(next) = self.next_due().map(|d| d.due_date) else {
            return wake_tomorrow;
        };
        let mut accruals = Vec::new();
        let mut before = self.accrued_until(terms, tomorrow);
        let mut on = tomorrow;
        // The day-end of `on` reports the interest accrued until the day after it.
        while on < next && accruals.len() < MAX_QUIET_DAYS {
            let after = day_after(on);
            let accrued = self.accrued_until(terms, after);
            accruals.push(accrued - before);
            before = accrued;
            on = after;
        }
        QuietPlan {
            wake_on: Some(on),
            accruals,
        }
    }
}
