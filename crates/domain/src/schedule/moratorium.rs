//! Moratorium periods: no principal falls due; the interest is paid, capitalised or deferred.

use crate::calendar::Date;
use crate::terms::MoratoriumInterest;

use super::{Installment, ScheduleError};

/// What a run carries from row to row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Balances {
    /// Principal outstanding.
    pub balance: i64,
    /// Interest deferred, due with the first amortising instalment.
    pub deferred: i64,
    /// Interest capitalised so far in the run.
    pub capitalised: i64,
}

/// The row of a moratorium period whose interest is `interest`.
pub(super) fn row(
    kind: MoratoriumInterest,
    number: u32,
    due_date: Date,
    interest: i64,
    bal: &mut Balances,
) -> Result<Installment, ScheduleError> {
    let mut row = Installment {
        number,
        due_date,
        principal: 0,
        interest: 0,
        fees: 0,
        total: 0,
        balance: bal.balance,
        capitalised: 0,
    };
    match kind {
        MoratoriumInterest::Pay => {
            row.interest = interest;
            row.total = interest;
        }
        MoratoriumInterest::Capitalize => {
            bal.balance = bal
                .balance
                .checked_add(interest)
                .ok_or(ScheduleError::OutOfRange)?;
            bal.capitalised += interest;
            row.balance = bal.balance;
            row.capitalised = interest;
        }
        MoratoriumInterest::Defer => bal.deferred += interest,
    }
    Ok(row)
}
