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
//!
//! The rooms: [`rate`] (interest over a period, due dates), [`amortise`] (a run of instalments),
//! [`moratorium`], [`broken_period`], [`methods`] (flat, bullet and the sizing of the others),
//! [`disclosure`] (APR, IRR) and [`view`] (the JSON shape).

mod amortise;
mod broken_period;
mod disclosure;
mod methods;
mod moratorium;
mod rate;
mod view;

use rust_decimal::Decimal;

use crate::calendar::{CalendarError, Date};
use crate::money::Currency;
use crate::terms::{FeeCollection, InterestBasis, Method, Terms};

pub use amortise::{Drawdown, Plan, Run, Sizing, amortise, annuity};
pub use disclosure::{apr, irr};
pub use rate::{DueDates, Rate};

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
    let (anchor, offset) = match terms.first_due_date {
        Some(f) => (f, 0),
        None => (d0, 1),
    };
    let dates = DueDates {
        anchor,
        offset,
        frequency: freq,
        calendar: terms.calendar.as_ref(),
    };
    let rate = Rate {
        annual: terms.annual_rate,
        basis: terms.interest_basis,
        frequency: freq,
    };
    let fees = FeeTotals::of(terms);
    let first = terms.first_disbursement() + fees.financed;

    // Broken period (equal periods only): the first regular period starts one period before the
    // first due date.
    let regular_start = dates.frequency.step(anchor, offset - 1)?;
    let broken = broken_period::place(terms, first, regular_start)?;

    let mut installments = Vec::with_capacity(terms.installments as usize + 1);
    if let Some(row) = broken_period::installment_zero(terms, &broken, first, regular_start)? {
        installments.push(row);
    }
    let (rows, installment_amount) = match terms.method {
        Method::Flat => methods::flat(terms, &dates, first, broken.first_extra, &rate)?,
        Method::Bullet => methods::bullet(terms, &dates, first, broken.first_extra, &rate)?,
        _ => {
            let equal = terms.interest_basis == InterestBasis::EqualPeriods;
            let start = if equal { regular_start } else { d0 };
            let drawdowns: Vec<Drawdown> = terms
                .tranches
                .iter()
                .map(|t| Drawdown {
                    date: t.date,
                    amount: t.amount,
                })
                .collect();
            let run = amortise(&Plan {
                currency: terms.currency,
                opening_balance: first,
                period_start: start,
                interest_from: start,
                carried_interest: Decimal::ZERO,
                dates,
                count: terms.installments,
                first_number: 1,
                rate,
                rounding: terms.rounding,
                sizing: methods::sizing(terms)?,
                moratorium: terms.moratorium.map(|m| (m.periods, m.interest)),
                first_extra_interest: broken.first_extra,
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
        net_disbursed: terms.principal - fees.withheld - broken.deducted,
        broken_period_interest: broken.interest,
        fees_total: fees.total,
    })
}

/// Every fee with its tax, by how it is collected.
struct FeeTotals {
    total: i64,
    /// Added to the financed principal.
    financed: i64,
    /// Deducted from the disbursement or paid upfront.
    withheld: i64,
}

impl FeeTotals {
    fn of(terms: &Terms) -> FeeTotals {
        let mut totals = FeeTotals {
            total: 0,
            financed: 0,
            withheld: 0,
        };
        for fee in &terms.fees {
            let amount = fee.total_minor(terms.principal);
            totals.total += amount;
            match fee.collect {
                FeeCollection::Finance => totals.financed += amount,
                FeeCollection::Deduct | FeeCollection::Upfront => totals.withheld += amount,
            }
        }
        totals
    }
}
