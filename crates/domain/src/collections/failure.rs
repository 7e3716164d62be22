//! Failure classes as data: every (rail, return code) a bank or scheme can answer a debit with,
//! mapped to a class, a unified reason, the next action, whether a bounce charge applies, and the
//! message the borrower is told.
//!
//! The seed table (`failure_codes.csv`) holds the NPCI NACH return and reject codes, the UPI
//! AutoPay response codes and the Nacha ACH return codes of `reference/payment-rails.md`, with the
//! classes proposed there, and the common ISO 8583 card response codes. A lender edits the table
//! (through the API, under maker-checker); [`FailureTable::check`] is the rule every edited table
//! must pass.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rail::Rail;
use crate::terms::FieldError;

/// The stable codes of the rules an edited failure table must keep, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "failure.csv",
        "The table reads as CSV with the columns rail, code, class, handling, reason, action, \
         charge, description, each with one of its values",
    ),
    ("failure.unique", "One row per rail and code"),
    ("failure.code", "A code of 1 to 16 letters, digits or `_`"),
    (
        "failure.description",
        "A description of 1 to 300 characters, without spaces at either end",
    ),
    ("failure.rows", "A table of 1 to 2,000 rows"),
    (
        "failure.change",
        "A change gives either the whole table or rows to add, replace and remove, and \
         changes something",
    ),
    (
        "failure.known",
        "A row replaced or removed is one the table has",
    ),
    (
        "failure.action",
        "The action fits the class: soft failures retry, hard ones stop and contact, mandate \
         ones fix the mandate, technical ones do not stop the instrument",
    ),
    (
        "failure.handling",
        "A duplicate is reconciled and a pending answer awaited, and only they",
    ),
];

/// Most rows a table may have (the seed has 187).
pub const MAX_RULES: usize = 2_000;
/// Longest description of a row, in characters.
pub const MAX_DESCRIPTION: usize = 300;

/// The seed table, as shipped.
const SEED: &str = include_str!("failure_codes.csv");

/// What a failed debit says about retrying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// A retry may succeed with no change (funds arrive).
    Soft,
    /// This instrument cannot be debited; retrying is futile or wrong.
    Hard,
    /// The rail, the bank or the file failed, not the borrower.
    Technical,
    /// The mandate is missing, expired, cancelled or does not match the debit.
    Mandate,
}

impl FailureClass {
    pub const ALL: [FailureClass; 4] = [
        FailureClass::Soft,
        FailureClass::Hard,
        FailureClass::Technical,
        FailureClass::Mandate,
    ];

    /// The name used in the failure table, the API and the reasons decisions give.
    pub fn code(self) -> &'static str {
        match self {
            FailureClass::Soft => "soft",
            FailureClass::Hard => "hard",
            FailureClass::Technical => "technical",
            FailureClass::Mandate => "mandate",
        }
    }

    pub fn from_code(s: &str) -> Option<FailureClass> {
        FailureClass::ALL.into_iter().find(|c| c.code() == s)
    }
}

/// Special handling a few technical answers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = FailureHandling))]
#[serde(rename_all = "snake_case")]
pub enum Handling {
    Normal,
    /// Already debited: never present again; reconcile.
    Duplicate,
    /// Not final: wait for the status before anything else.
    Pending,
}

impl Handling {
    pub const ALL: [Handling; 3] = [Handling::Normal, Handling::Duplicate, Handling::Pending];

    /// The name used in the failure table and the API.
    pub fn code(self) -> &'static str {
        match self {
            Handling::Normal => "normal",
            Handling::Duplicate => "duplicate",
            Handling::Pending => "pending",
        }
    }

    pub fn from_code(s: &str) -> Option<Handling> {
        Handling::ALL.into_iter().find(|h| h.code() == s)
    }
}

/// The unified reason, the same on every rail.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = FailureReason))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    InsufficientFunds,
    LimitExceeded,
    AccountClosed,
    AccountInoperative,
    Frozen,
    Deceased,
    CustomerStopped,
    MandateInvalid,
    Unauthorized,
    Duplicate,
    Pending,
    DataError,
    Technical,
    Other,
}

impl Reason {
    /// What the borrower is told about a failed debit of this reason.
    pub fn borrower_message(self) -> &'static str {
        match self {
            Reason::InsufficientFunds => {
                "Your instalment could not be collected because the account did not have \
                 enough funds. Please keep the amount in your account or pay another way."
            }
            Reason::LimitExceeded => {
                "Your instalment could not be collected because it is above a limit on your \
                 account or mandate. Please contact us to pay another way."
            }
            Reason::AccountClosed => {
                "Your instalment could not be collected because the account is closed. Please \
                 contact us to set up a new mandate."
            }
            Reason::AccountInoperative | Reason::Frozen => {
                "Your instalment could not be collected because your bank cannot debit the \
                 account at present. Please contact your bank, or us to pay another way."
            }
            Reason::Deceased => "We will contact you about this loan.",
            Reason::CustomerStopped => {
                "Your instalment was not collected because the debit was stopped or the \
                 mandate cancelled. Please contact us to pay and to set up a mandate."
            }
            Reason::MandateInvalid | Reason::Unauthorized => {
                "Your instalment could not be collected because of a problem with the \
                 mandate. Please contact us to correct or register it again."
            }
            Reason::Duplicate | Reason::Pending | Reason::Technical | Reason::DataError => {
                "Your instalment is being processed; you do not need to do anything now."
            }
            Reason::Other => {
                "Your instalment could not be collected. Please contact us to pay another way."
            }
        }
    }
}

/// What to do after the failure.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = FailureAction))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    /// Present again within the rail's limits, and start collections follow-up.
    Retry,
    /// Present again in the next window without troubling the borrower.
    RetryQuietly,
    /// Correct the debit's data before presenting again.
    FixData,
    /// Never present again; reconcile with the bank.
    Reconcile,
    /// Wait for the final status.
    AwaitStatus,
    /// Stop debiting this instrument and open a collections case.
    StopAndContact,
    /// Stop until the mandate is corrected or registered again.
    FixMandate,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FailureRule {
    pub rail: Rail,
    /// The code exactly as the rail sends it (`04`, `Z9`, `R01`), or for answers that come as
    /// text only, the word the text carries (`REVOKED`).
    pub code: String,
    pub class: FailureClass,
    pub handling: Handling,
    pub reason: Reason,
    pub action: Action,
    /// Whether the product's bounce charge applies to this failure.
    pub charge: bool,
    pub description: String,
}

impl FailureRule {
    /// The rules every row keeps: its code and description, and that its class, handling and
    /// action agree. The error names the row's field (`class`, `action`, …).
    pub fn check(&self) -> Result<(), FieldError> {
        check_rule(self)
    }

    /// Whether the debit may be presented again without anything changing first.
    pub fn retryable(&self) -> bool {
        matches!(self.action, Action::Retry | Action::RetryQuietly)
    }
}

/// A failed debit's answer, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Classified {
    pub rail: Rail,
    /// The code as received (for a wrapped UPI answer, the whole string).
    pub raw_code: String,
    pub raw_text: String,
    /// The code the class was found by: the inner code of a wrapped UPI answer.
    pub code: String,
    pub class: FailureClass,
    pub handling: Handling,
    pub reason: Reason,
    pub action: Action,
    pub charge: bool,
    /// False when the code is not in the table: then it is treated as a technical failure to
    /// review, not retried and not charged.
    pub known: bool,
}

/// The table, by rail and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureTable {
    rules: BTreeMap<(Rail, String), FailureRule>,
}

/// The field names of the table's rows, as the CSV and the API carry them.
const COLUMNS: [&str; 8] = [
    "rail",
    "code",
    "class",
    "handling",
    "reason",
    "action",
    "charge",
    "description",
];

impl FailureTable {
    /// The shipped table.
    pub fn seed() -> FailureTable {
        match FailureTable::from_csv(SEED) {
            Ok(t) => t,
            // The seed is part of the build and tested; an empty table is the safe fallback.
            Err(_) => FailureTable {
                rules: BTreeMap::new(),
            },
        }
    }

    /// Read a table from CSV with the header `rail,code,class,handling,reason,action,charge,
    /// description`; every row is checked and the first broken one is named by its line.
    pub fn from_csv(text: &str) -> Result<FailureTable, FieldError> {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| FieldError::coded("header", "failure.csv", e.to_string()))?;
        if header.iter().ne(COLUMNS) {
            return Err(FieldError::coded(
                "header",
                "failure.csv",
                format!("must be `{}`", COLUMNS.join(",")),
            ));
        }
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.map_err(|e| {
                FieldError::coded(format!("line {line}"), "failure.csv", e.to_string())
            })?;
            rows.push(row(&record).map_err(|mut e| {
                e.field = format!("line {line}: {}", e.field);
                e
            })?);
        }
        FailureTable::new(rows)
    }

    /// A table from its rows, refused if they break [`FailureTable::check`].
    pub fn new(rows: Vec<FailureRule>) -> Result<FailureTable, FieldError> {
        if rows.is_empty() || rows.len() > MAX_RULES {
            return Err(FieldError::coded(
                "rules",
                "failure.rows",
                format!("1 to {MAX_RULES} rows; got {}", rows.len()),
            ));
        }
        let mut rules = BTreeMap::new();
        for (i, r) in rows.into_iter().enumerate() {
            check_rule(&r).map_err(|mut e| {
                e.field = format!("rules[{i}].{}", e.field);
                e
            })?;
            let key = (r.rail, r.code.clone());
            if rules.insert(key, r).is_some() {
                return Err(FieldError::coded(
                    format!("rules[{i}].code"),
                    "failure.unique",
                    "one row per rail and code",
                ));
            }
        }
        Ok(FailureTable { rules })
    }

    pub fn rules(&self) -> impl Iterator<Item = &FailureRule> {
        self.rules.values()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn get(&self, rail: Rail, code: &str) -> Option<&FailureRule> {
        self.rules.get(&(rail, code.to_owned()))
    }

    /// Classify a rail's answer. UPI gateways wrap the reason (`U30|DEBIT HAS BEEN FAILED|Z9|
    /// INSUFFICIENT FUNDS`): the inner code decides. Answers that carry only text (`Mandate
    /// Has Been Revoked`) are matched by the text-only rows' words.
    pub fn classify(&self, rail: Rail, raw_code: &str, raw_text: &str) -> Classified {
        let code = inner_code(raw_code);
        let found = self
            .get(rail, code.trim())
            .or_else(|| self.by_text(rail, raw_text));
        let known = found.is_some();
        let (class, handling, reason, action, charge, code) = match found {
            Some(r) => (
                r.class,
                r.handling,
                r.reason,
                r.action,
                r.charge,
                r.code.clone(),
            ),
            None => (
                FailureClass::Technical,
                Handling::Normal,
                Reason::Other,
                Action::FixData,
                false,
                code.trim().to_owned(),
            ),
        };
        Classified {
            rail,
            raw_code: raw_code.to_owned(),
            raw_text: raw_text.to_owned(),
            code,
            class,
            handling,
            reason,
            action,
            charge,
            known,
        }
    }

    fn by_text(&self, rail: Rail, text: &str) -> Option<&FailureRule> {
        let upper = text.to_ascii_uppercase();
        self.rules.values().find(|r| {
            r.rail == rail
                && r.code.len() > 3
                && r.code.chars().all(|c| c.is_ascii_uppercase())
                && upper.contains(&r.code)
        })
    }

    /// The table as CSV, the form [`FailureTable::from_csv`] reads.
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let _ = w.write_record(COLUMNS);
        for r in self.rules.values() {
            let _ = w.write_record([
                r.rail.code(),
                &r.code,
                r.class.code(),
                r.handling.code(),
                r.reason.into(),
                r.action.into(),
                if r.charge { "yes" } else { "no" },
                &r.description,
            ]);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// The inner code of a wrapped UPI answer (`U30|…|Z9|…` → `Z9`), else the code itself.
fn inner_code(raw: &str) -> &str {
    let parts: Vec<&str> = raw.split('|').map(str::trim).collect();
    match parts.as_slice() {
        [outer, _, inner, ..] if *outer == "U30" && !inner.is_empty() => inner,
        _ => raw,
    }
}

/// The rules every row keeps: the class, the handling and the action agree.
fn check_rule(r: &FailureRule) -> Result<(), FieldError> {
    let code_ok = !r.code.is_empty()
        && r.code.len() <= 16
        && r.code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !code_ok {
        return Err(FieldError::coded(
            "code",
            "failure.code",
            "1 to 16 letters, digits or `_`",
        ));
    }
    let chars = r.description.chars().count();
    if r.description.trim() != r.description || chars == 0 || chars > MAX_DESCRIPTION {
        return Err(FieldError::coded(
            "description",
            "failure.description",
            "1 to 300 characters, without spaces at either end",
        ));
    }
    let fits = match r.class {
        FailureClass::Soft => matches!(r.action, Action::Retry | Action::RetryQuietly),
        FailureClass::Hard => matches!(r.action, Action::StopAndContact),
        FailureClass::Mandate => matches!(r.action, Action::FixMandate | Action::StopAndContact),
        FailureClass::Technical => !matches!(r.action, Action::StopAndContact),
    };
    if !fits {
        return Err(FieldError::coded(
            "action",
            "failure.action",
            "soft failures retry; hard ones stop and contact; mandate ones fix the mandate; \
             technical ones do not stop the instrument",
        ));
    }
    let handling_fits = match r.handling {
        Handling::Normal => !matches!(r.action, Action::Reconcile | Action::AwaitStatus),
        Handling::Duplicate => r.action == Action::Reconcile,
        Handling::Pending => r.action == Action::AwaitStatus,
    };
    if !handling_fits {
        return Err(FieldError::coded(
            "handling",
            "failure.handling",
            "a duplicate is reconciled, a pending answer awaited, and only they",
        ));
    }
    Ok(())
}

fn row(record: &csv::StringRecord) -> Result<FailureRule, FieldError> {
    let cell = |i: usize| record.get(i).unwrap_or("").trim();
    let bad = |field: &str, rule: String| FieldError::coded(field, "failure.csv", rule);
    let rail = Rail::from_code(cell(0)).ok_or_else(|| {
        bad(
            "rail",
            format!("one of nach, upi_autopay, ach, card; got `{}`", cell(0)),
        )
    })?;
    let class = FailureClass::from_code(cell(2)).ok_or_else(|| {
        bad(
            "class",
            format!("soft, hard, technical or mandate; got `{}`", cell(2)),
        )
    })?;
    let handling = Handling::from_code(cell(3)).ok_or_else(|| {
        bad(
            "handling",
            format!("normal, duplicate or pending; got `{}`", cell(3)),
        )
    })?;
    let reason = named::<Reason>(cell(4)).ok_or_else(|| bad("reason", names::<Reason>(cell(4))))?;
    let action = named::<Action>(cell(5)).ok_or_else(|| bad("action", names::<Action>(cell(5))))?;
    let charge = match cell(6) {
        "yes" => true,
        "no" => false,
        other => return Err(bad("charge", format!("yes or no; got `{other}`"))),
    };
    Ok(FailureRule {
        rail,
        code: cell(1).to_owned(),
        class,
        handling,
        reason,
        action,
        charge,
        description: cell(7).to_owned(),
    })
}

fn named<T>(s: &str) -> Option<T>
where
    T: strum::VariantArray + Copy + Into<&'static str>,
{
    T::VARIANTS.iter().copied().find(|v| (*v).into() == s)
}

fn names<T>(got: &str) -> String
where
    T: strum::VariantArray + Copy + Into<&'static str>,
{
    let all: Vec<&str> = T::VARIANTS.iter().map(|v| (*v).into()).collect();
    format!("one of {}; got `{got}`", all.join(", "))
}

#[cfg(test)]
#[path = "failure_tests.rs"]
mod tests;
