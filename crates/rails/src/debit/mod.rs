//! Auto-debit file connectors: presenting EMI debits to a bank as a file, and reading the bank's
//! answer file.
//!
//! The types here are shared by every debit rail: a [`DebitItem`] is one debit we ask for; a
//! [`ResponseRead`] is what a response file says about them, each [`DebitResult`] carrying the
//! rail's raw code exactly as the file has it. Classifying a code (soft, hard, technical,
//! mandate) is the domain's job, not the connector's.
//!
//! Each rail's format is a module with a pure writer and pure readers:
//! - [`nach`]: NPCI NACH ACH-DR presentation (`INP`) and response (`RES`) files, 306-character
//!   records (India).
//! - [`nacha`]: NACHA ACH files of consumer loan debits (PPD/WEB) and the returns and
//!   notifications of change that come back (US).
//!
//! [`FileConnector`] puts a format behind the [`DebitConnector`] trait: it writes presentation
//! files into one directory and reads response files from another, so that a bank's SFTP drop
//! (or a simulator) can be wired to it.
//!
//! How a file is judged:
//! - A structurally bad file (empty, non-ASCII, a record of the wrong length, a bad header or
//!   control record, totals that do not match its items, records out of order) is refused as a
//!   whole with a [`FileError`]: nothing of it is applied.
//! - A malformed row in a sound file is a [`RowError`] naming its line, field and rule; the row
//!   gives no result, so it is never half-applied. A reference on more than one row of a file is
//!   a row error on each of those rows.
//! - Readers are pure functions of the text: reading the same file twice gives identical
//!   results, so a response file applied twice applies once.

use std::collections::HashMap;
use std::fmt;

use jiff::civil::Date;
use loanbook_domain::terms::FieldError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod codes;
mod files;
mod fixed;
pub mod nach;
pub mod nacha;

pub use files::{DebitFormat, FileConnector};

/// Longest reference of a debit attempt: the 35 characters of an ISO 20022 end-to-end id. A
/// rail whose file has a shorter field (NACH: 30) says so in its own checks.
pub const MAX_REFERENCE_LEN: usize = 35;
/// Most items one presentation file carries.
pub const MAX_ITEMS: usize = 1_000_000;
/// Largest file a connector reads (a million 306-character records, with room to spare).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Most row errors of one kind that an error message lists by line before summarising.
const LISTED_LINES: usize = 5;

/// The stable codes of the rules the writers apply to items and headers, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    ("debit.items", "a file carries 1 to 1,000,000 items"),
    ("debit.reference", "1 to 35 letters, digits, `-` or `_`"),
    ("debit.reference_unique", "each item's reference is unique"),
    ("debit.amount_positive", "the amount is more than zero"),
    (
        "debit.amount_digits",
        "the amount fits the rail's amount field",
    ),
    (
        "debit.total_digits",
        "the file's total fits the rail's total field",
    ),
    ("debit.text", "printable ASCII within the field's width"),
    (
        "debit.account",
        "letters and digits within the field's width",
    ),
    ("debit.account_type", "an account type the rail debits"),
    ("debit.bank", "the bank's identifier in the rail's format"),
    ("debit.header", "a header field in the rail's format"),
    (
        "nach.reference",
        "at most 30 characters (the transaction reference field)",
    ),
    (
        "nach.umrn",
        "20 capital letters or digits, the first four letters",
    ),
    (
        "nach.item_limit",
        "at most the header's limit for individual items",
    ),
    ("nach.settlement_date", "the header's settlement date"),
    ("nacha.routing", "9 digits with a valid check digit"),
    (
        "nacha.date",
        "a date in the years 2000-2099 (the file writes YYMMDD)",
    ),
];

/// The kind of account a debit is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    /// A savings account (NACH `10`, which also covers NRE/NRO; ACH transaction code 37).
    Savings,
    /// A current account; in the US a checking account (NACH `11`; ACH transaction code 27).
    Current,
    /// A cash-credit account (NACH `13`); ACH has no such account.
    CashCredit,
}

/// One debit we ask a bank to collect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebitItem {
    /// Our attempt's reference: unique, 1 to 35 letters, digits, `-` or `_` (NACH: at most 30).
    /// The response is matched back to the attempt by it.
    pub reference: String,
    /// The authorisation debited under: NACH, the 20-character UMRN of the registered mandate;
    /// ACH, the Individual Identification Number (at most 15 characters; the loan or customer
    /// reference the borrower sees).
    pub mandate_ref: String,
    /// Paise or cents, more than zero.
    pub amount_minor: i64,
    /// The date the debit settles. NACH: one date per file. ACH: the batch's effective entry date.
    pub settlement_date: Date,
    /// The account holder's name (NACH: at most 40 characters; ACH: 22).
    pub debtor_name: String,
    /// The account debited (NACH: at most 35 letters or digits; ACH: 17).
    pub debtor_account: String,
    /// The debtor's bank: NACH, its IFSC (11) or MICR (9 digits); ACH, its 9-digit routing number.
    pub debtor_bank: String,
    pub account_type: AccountType,
    /// ACH only: the item's Standard Entry Class (how the borrower authorised it); `None` takes
    /// the file's default. NACH ignores it.
    pub sec: Option<nacha::SecCode>,
    /// A re-presentation of a debit returned before. ACH puts reinitiations in their own batch,
    /// described `RETRY PYMT`; NACH carries no mark of it.
    pub reinitiation: bool,
}

/// One item of a presentation, as a response is matched against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedItem {
    pub reference: String,
    pub amount_minor: i64,
}

impl From<&DebitItem> for PresentedItem {
    fn from(item: &DebitItem) -> Self {
        PresentedItem {
            reference: item.reference.clone(),
            amount_minor: item.amount_minor,
        }
    }
}

/// What a response file says about one item, with the rail's raw codes as the file has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum DebitOutcome {
    /// Debited (NACH flag `1`). ACH files never say so: an ACH debit not returned is paid once
    /// its return window has passed, which is the domain's judgement.
    Paid,
    /// Not debited: returned by the debtor's bank or rejected by the rail. `code` is the raw
    /// reason (NACH `04`, ACH `R01`); `text` its published description.
    Returned { code: String, text: String },
    /// Neither debited nor returned yet (NACH flag `3`): wait for the final status.
    Pending { code: String },
    /// ACH notification of change: the entry posted, but the details must change before the
    /// next debit. `code` is the raw change code (`C01`…), `corrected` the corrected data as the
    /// file has it (trailing spaces dropped).
    Changed { code: String, corrected: String },
}

/// One item's result, read from a response file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebitResult {
    pub reference: String,
    /// The 1-based line of the file the result was read from.
    pub line: usize,
    /// The amount the file states for the item (0 on an ACH notification of change).
    pub amount_minor: i64,
    pub outcome: DebitOutcome,
}

/// A malformed row: it gives no result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The 1-based line of the file.
    pub line: usize,
    pub field: &'static str,
    pub rule: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} {}", self.line, self.field, self.rule)
    }
}

/// What a response file says: the results of its sound rows, in file order, and its malformed
/// rows, in line order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResponseRead {
    pub results: Vec<DebitResult>,
    pub row_errors: Vec<RowError>,
    /// The references of the presentation that have no result, in presentation order. Only
    /// [`ResponseRead::reconcile`] knows the presentation; a reader alone leaves this empty.
    /// NACH answers every item, so an unanswered item there is an error to chase; an ACH
    /// returns file lists only returns and notices, so an unanswered ACH item is simply not
    /// returned (yet).
    pub unanswered: Vec<String>,
}

/// A row as a reader made it: its reference if it could read one, and its result or error.
pub(crate) struct Row {
    pub line: usize,
    pub reference: Option<String>,
    pub result: Result<(i64, DebitOutcome), RowError>,
}

fn lines_list(lines: &[usize]) -> String {
    let mut listed: Vec<String> = lines
        .iter()
        .take(LISTED_LINES)
        .map(ToString::to_string)
        .collect();
    if lines.len() > LISTED_LINES {
        listed.push(format!("and {} more", lines.len() - LISTED_LINES));
    }
    listed.join(", ")
}

impl ResponseRead {
    /// The read of a file's rows: a reference on more than one row (sound or not) is a row error
    /// on each of them and gives no result.
    pub(crate) fn collate(rows: Vec<Row>) -> ResponseRead {
        let mut seen: HashMap<&str, Vec<usize>> = HashMap::new();
        for row in &rows {
            if let Some(reference) = row.reference.as_deref() {
                seen.entry(reference).or_default().push(row.line);
            }
        }
        let repeated: HashMap<String, String> = seen
            .into_iter()
            .filter(|(_, lines)| lines.len() > 1)
            .map(|(reference, lines)| (reference.to_owned(), lines_list(&lines)))
            .collect();
        let mut read = ResponseRead::default();
        for row in rows {
            let repeat = row.reference.as_ref().and_then(|r| repeated.get(r));
            match (row.result, repeat) {
                (Err(error), _) => read.row_errors.push(error),
                (Ok(_), Some(lines)) => read.row_errors.push(RowError {
                    line: row.line,
                    field: "reference",
                    rule: format!("must be unique in the file; it is on lines {lines}"),
                }),
                (Ok((amount_minor, outcome)), None) => read.results.push(DebitResult {
                    reference: row.reference.unwrap_or_default(),
                    line: row.line,
                    amount_minor,
                    outcome,
                }),
            }
        }
        read.row_errors.sort_by_key(|e| e.line);
        read
    }

    /// This read matched against the presentation it answers (pure). A result for a reference
    /// that was not presented, or whose amount differs from the presented amount (except a
    /// notification of change, which carries none), becomes a row error; `unanswered` lists the
    /// presented references left without a result.
    pub fn reconcile(self, presented: &[PresentedItem]) -> ResponseRead {
        let amounts: HashMap<&str, i64> = presented
            .iter()
            .map(|p| (p.reference.as_str(), p.amount_minor))
            .collect();
        let mut out = ResponseRead {
            row_errors: self.row_errors,
            ..ResponseRead::default()
        };
        for result in self.results {
            let error = match amounts.get(result.reference.as_str()) {
                None => Some((
                    "reference",
                    format!("`{}` is not an item of the presentation", result.reference),
                )),
                Some(&amount)
                    if amount != result.amount_minor
                        && !matches!(result.outcome, DebitOutcome::Changed { .. }) =>
                {
                    Some((
                        "amount",
                        format!(
                            "is {} in the file; `{}` was presented for {amount}",
                            result.amount_minor, result.reference
                        ),
                    ))
                }
                Some(_) => None,
            };
            match error {
                Some((field, rule)) => out.row_errors.push(RowError {
                    line: result.line,
                    field,
                    rule,
                }),
                None => out.results.push(result),
            }
        }
        let answered: std::collections::HashSet<&str> =
            out.results.iter().map(|r| r.reference.as_str()).collect();
        out.unanswered = presented
            .iter()
            .filter(|p| !answered.contains(p.reference.as_str()))
            .map(|p| p.reference.clone())
            .collect();
        out.row_errors.sort_by_key(|e| e.line);
        out
    }
}

/// A file refused as a whole: nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("line {line}, column {column}: only printable ASCII is allowed")]
    NotAscii { line: usize, column: usize },
    #[error("line {line}: a record is {expected} characters; this one is {found}")]
    RecordLength {
        line: usize,
        expected: usize,
        found: usize,
    },
    /// A header or control record's field breaks its rule.
    #[error("line {line}: {field} {rule}")]
    Record {
        line: usize,
        field: &'static str,
        rule: String,
    },
    /// A header or control total that its items do not add up to.
    #[error("line {line}: {field} is {declared} but the items make {computed}")]
    Totals {
        line: usize,
        field: &'static str,
        declared: String,
        computed: String,
    },
    /// Records out of order, missing, or answering another presentation.
    #[error("line {line}: {rule}")]
    Structure { line: usize, rule: String },
    #[error("the file has {found} records; at most {limit} are read")]
    TooLarge { found: usize, limit: usize },
    /// The presentation file a response is matched against cannot be read back (it is ours:
    /// something changed it after it was written).
    #[error("the presentation file cannot be read back: {0}")]
    Presentation(Box<FileError>),
}

/// The text of a file's bytes: refused unless every byte is ASCII (so never a panic on
/// arbitrary bytes; the readers then check for printable characters).
pub fn ascii_text(bytes: &[u8]) -> Result<&str, FileError> {
    if let Some(at) = bytes.iter().position(|b| !b.is_ascii()) {
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        return Err(FileError::NotAscii {
            line,
            column: at - start + 1,
        });
    }
    std::str::from_utf8(bytes).map_err(|_| FileError::NotAscii { line: 1, column: 1 })
}

/// An item (or, with no index, a header field) that breaks a rule of the rail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemError {
    /// The item's position in the list presented; `None` for the header or the file as a whole.
    pub index: Option<usize>,
    pub field: &'static str,
    /// A stable code, one of [`RULES`].
    pub code: &'static str,
    pub rule: String,
}

impl ItemError {
    pub(crate) fn item(
        index: usize,
        field: &'static str,
        code: &'static str,
        rule: String,
    ) -> Self {
        ItemError {
            index: Some(index),
            field,
            code,
            rule,
        }
    }

    pub(crate) fn file(field: &'static str, code: &'static str, rule: String) -> Self {
        ItemError {
            index: None,
            field,
            code,
            rule,
        }
    }

    /// The error as the API names fields: `items[3].amount_minor`, or the header's field path.
    pub fn to_field_error(&self) -> FieldError {
        let path = match self.index {
            Some(i) => format!("items[{i}].{}", self.field),
            None => self.field.to_owned(),
        };
        FieldError::coded(path, self.code, self.rule.clone())
    }
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "item {i}: {} {}", self.field, self.rule),
            None => write!(f, "{} {}", self.field, self.rule),
        }
    }
}

/// Every rule the items and header break; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemErrors(pub Vec<ItemError>);

impl std::error::Error for ItemErrors {}

impl fmt::Display for ItemErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().take(10).map(ToString::to_string).collect();
        write!(f, "{}", shown.join("; "))?;
        if self.0.len() > 10 {
            write!(f, "; and {} more", self.0.len() - 10)?;
        }
        Ok(())
    }
}

/// The rules every rail applies: 1 to [`MAX_ITEMS`] items, each with a unique well-formed
/// reference and a positive amount.
pub(crate) fn check_common(items: &[DebitItem], errors: &mut Vec<ItemError>) {
    if items.is_empty() || items.len() > MAX_ITEMS {
        errors.push(ItemError::file(
            "items",
            "debit.items",
            format!("must be 1 to {MAX_ITEMS} items, got {}", items.len()),
        ));
    }
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let r = &item.reference;
        if r.is_empty() || r.len() > MAX_REFERENCE_LEN || !r.bytes().all(fixed::is_reference_char) {
            errors.push(ItemError::item(
                i,
                "reference",
                "debit.reference",
                "must be 1 to 35 letters, digits, `-` or `_`".to_owned(),
            ));
        } else if let Some(&j) = first.get(r.as_str()) {
            errors.push(ItemError::item(
                i,
                "reference",
                "debit.reference_unique",
                format!("must be unique; item {j} has `{r}` too"),
            ));
        } else {
            first.insert(r, i);
        }
        if item.amount_minor <= 0 {
            errors.push(ItemError::item(
                i,
                "amount_minor",
                "debit.amount_positive",
                "must be more than zero".to_owned(),
            ));
        }
    }
}

/// Checks a text field: printable ASCII, not blank when required, at most `max` characters.
pub(crate) fn check_text(value: &str, max: usize, required: bool) -> Option<String> {
    if !fixed::is_printable(value) {
        Some(format!("must be printable ASCII, at most {max} characters"))
    } else if value.len() > max {
        Some(format!(
            "must be at most {max} characters, got {}",
            value.len()
        ))
    } else if required && value.trim().is_empty() {
        Some("must not be blank".to_owned())
    } else {
        None
    }
}

/// A short digest of the items (every field), naming a presentation: the same items always
/// name the same presentation.
pub(crate) fn items_digest(items: &[DebitItem]) -> String {
    let mut hash = Sha256::new();
    for item in items {
        let fields = [
            item.reference.as_str(),
            item.mandate_ref.as_str(),
            &item.amount_minor.to_string(),
            &item.settlement_date.to_string(),
            item.debtor_name.as_str(),
            item.debtor_account.as_str(),
            item.debtor_bank.as_str(),
            &format!("{:?}", item.account_type),
            &format!("{:?}", item.sec),
            if item.reinitiation { "retry" } else { "first" },
        ];
        for field in fields {
            hash.update(field.as_bytes());
            hash.update([0x1f]);
        }
        hash.update([0x1e]);
    }
    hex::encode(hash.finalize())[..12].to_owned()
}

/// A presentation file written for the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presentation {
    /// Names the presentation: [`DebitConnector::collect`] takes it back.
    pub id: String,
    pub file_name: String,
    pub items: usize,
    pub total_minor: i64,
}

/// Why a connector could not present or collect.
#[derive(Debug, thiserror::Error)]
pub enum DebitError {
    #[error("the items break the rail's rules: {0}")]
    Invalid(ItemErrors),
    #[error("`{id}` is not a presentation id (letters, digits, `-`, `_`)")]
    BadId { id: String },
    #[error("no presentation `{id}` at {}", path.display())]
    UnknownPresentation {
        id: String,
        path: std::path::PathBuf,
    },
    /// The bank has not answered yet: try again later.
    #[error("no response yet for `{id}` at {}", path.display())]
    NoResponse {
        id: String,
        path: std::path::PathBuf,
    },
    #[error("{}: the file is {size} bytes, more than {limit}", path.display())]
    TooLarge {
        path: std::path::PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: FileError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// An auto-debit rail that takes presentations and answers them later.
#[async_trait::async_trait]
pub trait DebitConnector: Send + Sync {
    /// Presents the items, all or none (an item breaking a rule presents nothing). Presenting
    /// the same items again is the same presentation, never a second debit.
    async fn present(&self, items: &[DebitItem]) -> Result<Presentation, DebitError>;
    /// The bank's answer to a presentation, matched against it; [`DebitError::NoResponse`]
    /// until it arrives. Collecting twice reads the same answer twice.
    async fn collect(&self, presentation_id: &str) -> Result<ResponseRead, DebitError>;
}

#[cfg(test)]
mod tests;
