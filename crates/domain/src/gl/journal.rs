//! Journal entries that balance by construction, and the trial balance over them.

use std::collections::BTreeMap;

use crate::calendar::Date;

use super::accounts::{Role, Side};

/// One line of an entry: an amount debited or credited to a role, with the dimensions the
/// lender reports by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    role: Role,
    side: Side,
    amount: i64,
    loan_id: Option<String>,
    product: Option<String>,
    partner: Option<String>,
}

impl Line {
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn side(&self) -> Side {
        self.side
    }
    /// Always positive, in minor units.
    pub fn amount(&self) -> i64 {
        self.amount
    }
    /// The amount signed debit-positive.
    pub fn signed(&self) -> i64 {
        match self.side {
            Side::Debit => self.amount,
            Side::Credit => -self.amount,
        }
    }
    pub fn loan_id(&self) -> Option<&str> {
        self.loan_id.as_deref()
    }
    pub fn product(&self) -> Option<&str> {
        self.product.as_deref()
    }
    /// The co-lender the line concerns (partner funding and payables).
    pub fn partner(&self) -> Option<&str> {
        self.partner.as_deref()
    }
}

/// A balanced journal entry: Σ debits = Σ credits, every amount positive, at least one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    date: Date,
    kind: &'static str,
    narration: String,
    lines: Vec<Line>,
}

impl JournalEntry {
    /// Start an entry of `kind` (a short stable name: `disbursement`, `repayment`, `accrual`, …).
    pub fn builder(date: Date, kind: &'static str, narration: impl Into<String>) -> EntryBuilder {
        EntryBuilder {
            date,
            kind,
            narration: narration.into(),
            lines: Vec::new(),
            dims: Dims::default(),
        }
    }
    pub fn date(&self) -> Date {
        self.date
    }
    pub fn kind(&self) -> &'static str {
        self.kind
    }
    pub fn narration(&self) -> &str {
        &self.narration
    }
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }
    /// Σ debits (= Σ credits).
    pub fn total(&self) -> i128 {
        self.lines
            .iter()
            .filter(|l| l.side == Side::Debit)
            .map(|l| i128::from(l.amount))
            .sum()
    }
}

/// Why an entry could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("an entry needs at least one line")]
    Empty,
    #[error("line {index} ({role}): the amount must be positive, got {amount}")]
    NotPositive {
        index: usize,
        role: String,
        amount: i64,
    },
    #[error("debits {debits} and credits {credits} differ")]
    Unbalanced { debits: i128, credits: i128 },
}

#[derive(Debug, Clone, Default)]
struct Dims {
    loan_id: Option<String>,
    product: Option<String>,
}

/// Builds a [`JournalEntry`]; `build` refuses an entry that does not balance.
#[derive(Debug, Clone)]
pub struct EntryBuilder {
    date: Date,
    kind: &'static str,
    narration: String,
    lines: Vec<Line>,
    dims: Dims,
}

impl EntryBuilder {
    /// The loan and product every following line carries.
    pub fn dims(mut self, loan_id: Option<&str>, product: Option<&str>) -> EntryBuilder {
        self.dims = Dims {
            loan_id: loan_id.map(str::to_owned),
            product: product.map(str::to_owned),
        };
        self
    }

    /// Add a line; `partner` for co-lender lines.
    pub fn line(mut self, role: Role, side: Side, amount: i64, partner: Option<&str>) -> Self {
        self.push(role, side, amount, partner);
        self
    }

    pub fn debit(self, role: Role, amount: i64) -> Self {
        self.line(role, Side::Debit, amount, None)
    }

    pub fn credit(self, role: Role, amount: i64) -> Self {
        self.line(role, Side::Credit, amount, None)
    }

    /// Add a line in place.
    pub fn push(&mut self, role: Role, side: Side, amount: i64, partner: Option<&str>) {
        self.lines.push(Line {
            role,
            side,
            amount,
            loan_id: self.dims.loan_id.clone(),
            product: self.dims.product.clone(),
            partner: partner.map(str::to_owned),
        });
    }

    /// Add a line for a signed debit-positive amount (nothing for zero).
    pub fn push_signed(&mut self, role: Role, signed: i64, partner: Option<&str>) {
        match signed {
            0 => {}
            v if v > 0 => self.push(role, Side::Debit, v, partner),
            v => self.push(role, Side::Credit, v.saturating_neg(), partner),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The entry, if it has lines, every amount is positive and debits equal credits.
    pub fn build(self) -> Result<JournalEntry, JournalError> {
        if self.lines.is_empty() {
            return Err(JournalError::Empty);
        }
        let (mut debits, mut credits) = (0i128, 0i128);
        for (index, l) in self.lines.iter().enumerate() {
            if l.amount <= 0 {
                return Err(JournalError::NotPositive {
                    index,
                    role: l.role.name(),
                    amount: l.amount,
                });
            }
            match l.side {
                Side::Debit => debits += i128::from(l.amount),
                Side::Credit => credits += i128::from(l.amount),
            }
        }
        if debits != credits {
            return Err(JournalError::Unbalanced { debits, credits });
        }
        Ok(JournalEntry {
            date: self.date,
            kind: self.kind,
            narration: self.narration,
            lines: self.lines,
        })
    }
}

/// The key a trial balance sums by: role, product, partner.
pub type TrialKey = (Role, Option<String>, Option<String>);

/// Debits and credits summed per role, product and partner over a set of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrialBalance {
    rows: BTreeMap<TrialKey, (i128, i128)>,
}

impl TrialBalance {
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>) -> TrialBalance {
        let mut tb = TrialBalance::default();
        for e in entries {
            tb.add(e);
        }
        tb
    }

    pub fn add(&mut self, entry: &JournalEntry) {
        for l in &entry.lines {
            let key = (l.role, l.product.clone(), l.partner.clone());
            let row = self.rows.entry(key).or_default();
            match l.side {
                Side::Debit => row.0 += i128::from(l.amount),
                Side::Credit => row.1 += i128::from(l.amount),
            }
        }
    }

    /// (debits, credits) per key.
    pub fn rows(&self) -> &BTreeMap<TrialKey, (i128, i128)> {
        &self.rows
    }

    /// The net balance of a role over every product and partner, debit-positive.
    pub fn net(&self, role: Role) -> i128 {
        self.rows
            .iter()
            .filter(|((r, _, _), _)| *r == role)
            .map(|(_, (d, c))| d - c)
            .sum()
    }

    /// Σ debits = Σ credits over everything.
    pub fn balances(&self) -> bool {
        let (d, c) = self
            .rows
            .values()
            .fold((0i128, 0i128), |(d, c), (a, b)| (d + a, c + b));
        d == c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Date {
        Date::constant(2026, 4, 1)
    }

    #[test]
    fn an_entry_balances_or_is_refused() {
        let ok = JournalEntry::builder(day(), "test", "ok")
            .debit(Role::LoanPrincipal, 100)
            .credit(Role::DisbursementClearing, 60)
            .credit(Role::ChargeIncome, 40)
            .build()
            .unwrap();
        assert_eq!(ok.total(), 100);
        let off = JournalEntry::builder(day(), "test", "off")
            .debit(Role::LoanPrincipal, 100)
            .credit(Role::DisbursementClearing, 99)
            .build();
        assert_eq!(
            off.unwrap_err(),
            JournalError::Unbalanced {
                debits: 100,
                credits: 99
            }
        );
        assert_eq!(
            JournalEntry::builder(day(), "test", "")
                .build()
                .unwrap_err(),
            JournalError::Empty
        );
        let zero = JournalEntry::builder(day(), "test", "")
            .debit(Role::LoanPrincipal, 0)
            .credit(Role::DisbursementClearing, 0)
            .build();
        assert!(matches!(
            zero,
            Err(JournalError::NotPositive { index: 0, .. })
        ));
    }

    #[test]
    fn large_amounts_are_summed_without_overflow() {
        let e = JournalEntry::builder(day(), "test", "")
            .debit(Role::LoanPrincipal, i64::MAX)
            .debit(Role::LoanPrincipal, i64::MAX)
            .credit(Role::DisbursementClearing, i64::MAX)
            .credit(Role::DisbursementClearing, i64::MAX)
            .build()
            .unwrap();
        let tb = TrialBalance::of([&e]);
        assert!(tb.balances());
        assert_eq!(tb.net(Role::LoanPrincipal), 2 * i128::from(i64::MAX));
    }
}
