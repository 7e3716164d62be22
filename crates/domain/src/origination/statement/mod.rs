//! Bank-account data for assessment: an uploaded statement file or an Account Aggregator FI
//! document, read into one list of transactions, and the analysis over it.
//!
//! - [`read_csv`] reads a net-banking CSV export of HDFC, SBI, ICICI, Axis or Kotak: it skips the
//!   preamble, finds the header row (within [`HEADER_SEARCH_LINES`]), picks the bank's layout from
//!   it and reads every row after it; a file with one broken row gives every broken row and no
//!   statement.
//! - [`read_account_aggregator`] reads a ReBIT deposit FI document (schema 1.x or 2.0.0), as XML or
//!   in the JSON renderings AAs use.
//! - [`analyse`] computes the monthly figures, income, average balance, bounces and the recurring
//!   debits an assessment reads.

pub mod aa;
pub mod amount;
pub mod analysis;
pub mod layouts;

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::terms::FieldError;

pub use aa::read_account_aggregator;
pub use analysis::{Analysis, MonthFigures, RecurringDebit, analyse};
pub use layouts::read_csv;

/// The largest statement file read, in bytes (10 MiB; a year of a busy current account is ~2 MiB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The most transactions one statement may carry.
pub const MAX_TRANSACTIONS: usize = 50_000;
/// The header row must be found within this many lines of the top of a CSV file.
pub const HEADER_SEARCH_LINES: usize = 40;
/// The most broken rows reported for one file; reading stops at the limit.
pub const MAX_ROW_ERRORS: usize = 1_000;
/// The longest narration kept; longer text is cut at a character boundary.
pub const MAX_NARRATION_CHARS: usize = 500;

/// One movement on the account: exactly one of `debit` and `credit` is positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Transaction {
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub date: Date,
    pub narration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "1500.00"))]
    #[serde(with = "amount::text")]
    pub debit: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "0.00"))]
    #[serde(with = "amount::text")]
    pub credit: i64,
    /// The balance after the transaction, as the bank printed it (negative: overdrawn).
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "25000.00"))]
    #[serde(default, with = "amount::text::option")]
    pub balance: Option<i64>,
}

/// Where a statement came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Csv { bank: Bank },
    AccountAggregator { fip: String, masked_account: String },
}

/// The banks whose statement exports [`read_csv`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Bank {
    Hdfc,
    Sbi,
    Icici,
    Axis,
    Kotak,
}

/// An account's transactions over a period, in date order (rows of one day keep the file's order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Statement {
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub from: Date,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub to: Date,
    pub transactions: Vec<Transaction>,
}

/// One broken row of a statement file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RowError {
    /// The 1-based line of the file the row starts on.
    pub row: usize,
    /// The column, as the file's header names it.
    pub field: String,
    /// A stable code from [`RULES`].
    pub code: &'static str,
    pub rule: String,
}

/// Why a statement could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StatementError {
    /// No known bank's header row was found near the top of the file; the hint is the first
    /// non-blank line, to show the user what was read.
    #[error("no known bank statement header found (first line: {header_hint})")]
    UnknownLayout { header_hint: String },
    #[error("the statement has no transactions")]
    Empty,
    /// The file (bytes) or its transactions (rows) pass the named limit.
    #[error("the statement is larger than the limit of {limit}")]
    TooLarge { limit: usize },
    /// Every broken row; nothing is read from a file with one.
    #[error("{} broken rows", .0.len())]
    Rows(Vec<RowError>),
    /// The FI document breaks the schema; every broken field.
    #[error("{} broken fields", .0.len())]
    Document(Vec<FieldError>),
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "statement.date",
        "A transaction date must be a real date in the layout's format",
    ),
    (
        "statement.amount",
        "An amount must be a decimal amount with at most 2 decimals, optionally with Indian digit grouping",
    ),
    (
        "statement.direction",
        "A transaction must have exactly one of a debit and a credit, and it must be positive",
    ),
    ("statement.flag", "A debit/credit flag must be Dr or Cr"),
    (
        "statement.period",
        "The statement period's start must not be after its end, and transactions must fall in it",
    ),
    (
        "fi.xml",
        "The FI document is not well-formed XML in the deposit schema",
    ),
    (
        "fi.json",
        "The FI document is not JSON in a known deposit rendering",
    ),
    (
        "fi.missing",
        "A field the deposit schema requires is missing",
    ),
    ("fi.type", "The transaction type must be CREDIT or DEBIT"),
    (
        "fi.amount",
        "An FI amount must be a positive decimal amount with at most 2 decimals",
    ),
    (
        "fi.balance",
        "An FI balance must be a decimal amount with at most 2 decimals",
    ),
    ("fi.date", "An FI date must be an ISO date or date-time"),
    (
        "fi.version",
        "The deposit schema version must be 1.x or 2.0.0",
    ),
];

/// `text` cut to [`MAX_NARRATION_CHARS`] characters, trimmed.
fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_NARRATION_CHARS) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

/// Sort by date (stable, so one day keeps the file's order) and check the size limit.
fn finish(
    source: Source,
    holder: Option<String>,
    mut transactions: Vec<Transaction>,
    period: Option<(Date, Date)>,
) -> Result<Statement, StatementError> {
    if transactions.len() > MAX_TRANSACTIONS {
        return Err(StatementError::TooLarge {
            limit: MAX_TRANSACTIONS,
        });
    }
    transactions.sort_by_key(|t| t.date);
    let (first, last) = match (transactions.first(), transactions.last()) {
        (Some(f), Some(l)) => (f.date, l.date),
        _ => return Err(StatementError::Empty),
    };
    let (from, to) = period.map_or((first, last), |(f, t)| (f.min(first), t.max(last)));
    Ok(Statement {
        source,
        holder,
        from,
        to,
        transactions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long() {
        assert_eq!(clip("  UPI-X  "), "UPI-X");
        let long = "é".repeat(MAX_NARRATION_CHARS + 5);
        assert_eq!(clip(&long).chars().count(), MAX_NARRATION_CHARS);
    }

    #[test]
    fn codes_are_dotted_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for (code, meaning) in RULES {
            assert!(seen.insert(*code), "{code} twice");
            assert_eq!(code.split('.').count(), 2, "{code}");
            assert!(!meaning.is_empty());
        }
    }
}
