//! The general ledger: double-entry lines, posted by the close of business or by hand, and the
//! balances read from them (the trial balance, each loan's accounts).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// One line of a journal entry to post: an amount debited or credited to an account, on a date,
/// tagged with the loan, product and co-lending partner it belongs to. An entry's lines share
/// its `entry_id` and its debits equal its credits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGlLine {
    pub entry_id: String,
    /// The line's number within its entry, from 1.
    pub line_no: i32,
    /// The ISO date the line counts on (its value in the books).
    pub posted_on: String,
    /// What kind of entry it is (disbursement, accrual, repayment, …).
    pub kind: String,
    pub narration: String,
    pub account: String,
    pub loan_id: Option<String>,
    pub product_id: Option<String>,
    pub partner_id: Option<String>,
    /// Minor units, not negative.
    pub debit: i64,
    /// Minor units, not negative.
    pub credit: i64,
    /// What wrote it, e.g. `eod:2024-05-01:loans:3` or `manual:USER`.
    pub source: String,
}

/// A posted line, with its number in the ledger (the order lines were written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct GlLine {
    pub id: i64,
    pub entry_id: String,
    pub line_no: i32,
    pub posted_on: String,
    pub kind: String,
    pub narration: String,
    pub account: String,
    pub loan_id: Option<String>,
    pub product_id: Option<String>,
    pub partner_id: Option<String>,
    pub debit: i64,
    pub credit: i64,
    pub source: String,
}

/// The debits and credits posted to one account, per product and partner: a row of the trial balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AccountBalance {
    pub account: String,
    pub product_id: Option<String>,
    pub partner_id: Option<String>,
    pub debit: i64,
    pub credit: i64,
}

/// What one loan holds in one account (per partner): debits less credits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct LoanAccountBalance {
    pub loan_id: String,
    pub account: String,
    pub partner_id: Option<String>,
    /// Σ debit − Σ credit.
    pub balance: i64,
}

#[async_trait]
pub trait Gl: Send + Sync {
    /// Lines posted outside a close (e.g. a manual journal), in one transaction. Refused when
    /// an entry does not balance or an amount is negative; an entry line posted twice is a
    /// duplicate.
    async fn post_lines(&self, book_id: &str, lines: &[NewGlLine]) -> Result<(), StoreError>;
    /// Σ debit and Σ credit per (account, product, partner) of lines posted on or before `date`.
    async fn trial_balance(
        &self,
        book_id: &str,
        date: &str,
    ) -> Result<Vec<AccountBalance>, StoreError>;
    /// Per loan and account, the balance of lines posted on or before `date` that carry a loan id.
    async fn loan_balances(
        &self,
        book_id: &str,
        date: &str,
    ) -> Result<Vec<LoanAccountBalance>, StoreError>;
    /// One loan's lines in posting order: by date, then in the order they were written.
    async fn journal(&self, book_id: &str, loan_id: &str) -> Result<Vec<GlLine>, StoreError>;
}

/// Every entry among `lines` balances (its debits equal its credits) and no amount is
/// negative: what double entry means, checked before anything is written.
pub(crate) fn check_balanced(lines: &[NewGlLine]) -> Result<(), StoreError> {
    let mut entries: BTreeMap<&str, i128> = BTreeMap::new();
    for l in lines {
        if l.debit < 0 || l.credit < 0 {
            return Err(StoreError::Corrupt(format!(
                "GL entry `{}` line {}: a negative amount",
                l.entry_id, l.line_no
            )));
        }
        *entries.entry(&l.entry_id).or_default() += i128::from(l.debit) - i128::from(l.credit);
    }
    match entries.into_iter().find(|(_, net)| *net != 0) {
        Some((entry, net)) => Err(StoreError::Corrupt(format!(
            "GL entry `{entry}` does not balance: debits exceed credits by {net}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(entry: &str, debit: i64, credit: i64) -> NewGlLine {
        NewGlLine {
            entry_id: entry.into(),
            line_no: 1,
            posted_on: "2024-05-01".into(),
            kind: "k".into(),
            narration: String::new(),
            account: "a".into(),
            loan_id: None,
            product_id: None,
            partner_id: None,
            debit,
            credit,
            source: "t".into(),
        }
    }

    #[test]
    fn entries_must_balance_each_on_its_own() {
        assert!(check_balanced(&[]).is_ok());
        assert!(check_balanced(&[line("e1", 5, 0), line("e1", 0, 5)]).is_ok());
        // Balanced overall, not per entry.
        let e = check_balanced(&[line("e1", 5, 0), line("e2", 0, 5)]).unwrap_err();
        assert!(e.to_string().contains("e1"), "{e}");
        assert!(check_balanced(&[line("e1", -5, -5)]).is_err());
        // No overflow on large amounts.
        assert!(check_balanced(&[line("e", i64::MAX, 0), line("e", i64::MAX, 0)]).is_err());
        assert!(
            check_balanced(&[
                line("e", i64::MAX, 0),
                line("e", 0, i64::MAX),
                line("e", i64::MAX, i64::MAX)
            ])
            .is_ok()
        );
    }
}
