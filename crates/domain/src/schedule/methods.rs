//! The methods that are not an amortising run (flat, bullet), and the sizing of those that are.

use rust_decimal::Decimal;

use crate::calendar::Date;
use crate::terms::{Method, Terms};

use super::amortise::{Sizing, round_installment, round_interest};
use super::{DueDates, Installment, Rate, ScheduleError};

/// How an amortising method sizes its instalments.
pub(super) fn sizing(terms: &Terms) -> Result<Sizing, ScheduleError> {
    Ok(match terms.method {
        Method::Emi | Method::Flat | Method::Bullet => Sizing::Annuity,
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
pub(super) fn flat(
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
pub(super) fn bullet(
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
