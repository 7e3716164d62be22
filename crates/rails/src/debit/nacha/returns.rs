//! Reading ACH files: the structure and controls every file must satisfy, then our own
//! presentation (for its trace numbers) or the bank's returns and notifications of change.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{BLOCKING_FACTOR, HASH_MODULUS, RECORD_LEN};
use crate::debit::fixed::{self, cut, digits};
use crate::debit::{
    DebitOutcome, FileError, MAX_ITEMS, PresentedItem, ResponseRead, Row, RowError, codes,
};

/// Most records a file read may have (each item an entry and an addenda, and batch overhead).
const MAX_RECORDS: usize = 3 * MAX_ITEMS;

/// An entry of a presentation file: its trace number and the item it presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedEntry {
    /// The entry's trace number (positions 80–94): what a return names it by.
    pub trace: String,
    pub item: PresentedItem,
}

/// An entry detail record with the addenda records after it.
struct Entry<'a> {
    line: usize,
    record: &'a str,
    addenda: Vec<(usize, &'a str)>,
}

/// A batch header read, waiting for its control.
struct OpenBatch<'a> {
    line: usize,
    service_class: &'a str,
    number: &'a str,
    entries: Vec<Entry<'a>>,
}

/// What the batch controls declare, summed for the file control.
#[derive(Default)]
struct Sums {
    count: u64,
    hash: u64,
    debits: u128,
    credits: u128,
}

/// Walks the records in order, checking each batch against its control and the file against
/// its file control.
#[derive(Default)]
struct Parser<'a> {
    batch: Option<OpenBatch<'a>>,
    entries: Vec<Entry<'a>>,
    sums: Sums,
    batches: u64,
    /// Records up to and including the file control (the file header counted).
    records: u64,
    closed: bool,
    last_line: usize,
}

fn structure(line: usize, rule: impl Into<String>) -> FileError {
    FileError::Structure {
        line,
        rule: rule.into(),
    }
}

fn bad_field(line: usize, field: &'static str, rule: impl Into<String>) -> FileError {
    FileError::Record {
        line,
        field,
        rule: rule.into(),
    }
}

/// A declared number against the computed one: `Totals` if they differ.
fn agree(
    line: usize,
    field: &'static str,
    declared: u128,
    computed: u128,
) -> Result<(), FileError> {
    if declared == computed {
        Ok(())
    } else {
        Err(FileError::Totals {
            line,
            field,
            declared: declared.to_string(),
            computed: computed.to_string(),
        })
    }
}

/// A numeric field of a header or control record.
fn numeric(
    line: usize,
    record: &str,
    pos: usize,
    len: usize,
    field: &'static str,
) -> Result<u64, FileError> {
    digits(cut(record, pos, len))
        .ok_or_else(|| bad_field(line, field, format!("must be {len} digits")))
}

fn check_file_header(line: usize, record: &str) -> Result<(), FileError> {
    let fixed_fields: [(usize, usize, &str, &'static str); 5] = [
        (1, 1, "1", "record_type"),
        (2, 2, "01", "priority_code"),
        (35, 3, "094", "record_size"),
        (38, 2, "10", "blocking_factor"),
        (40, 1, "1", "format_code"),
    ];
    for (pos, len, expected, field) in fixed_fields {
        let found = cut(record, pos, len);
        if found != expected {
            return Err(bad_field(
                line,
                field,
                format!("must be `{expected}` in a file header; found `{found}`"),
            ));
        }
    }
    if fixed::yymmdd(cut(record, 24, 6)).is_none() {
        return Err(bad_field(
            line,
            "file_creation_date",
            "must be a date YYMMDD",
        ));
    }
    let time = cut(record, 30, 4);
    let time_ok = digits(time).is_some_and(|t| t / 100 < 24 && t % 100 < 60);
    if !time_ok {
        return Err(bad_field(line, "file_creation_time", "must be a time HHMM"));
    }
    Ok(())
}

/// The control figures computed from a batch's entries: the entry/addenda count, and the entry
/// hash and debit/credit totals when every entry's figures can be read (an entry whose cannot
/// is a row error, and those checks are left to the rows).
fn computed(entries: &[Entry<'_>]) -> (u64, Option<u64>, Option<(u128, u128)>) {
    let count = entries.iter().map(|e| 1 + e.addenda.len() as u64).sum();
    let hash = entries
        .iter()
        .map(|e| digits(cut(e.record, 4, 8)))
        .try_fold(0u64, |sum, rdfi| rdfi.map(|r| (sum + r) % HASH_MODULUS));
    let totals = entries
        .iter()
        .try_fold((0u128, 0u128), |(debits, credits), e| {
            let amount = u128::from(digits(cut(e.record, 30, 10))?);
            match digits(cut(e.record, 2, 2))? % 10 {
                1..=4 => Some((debits, credits + amount)),
                5..=9 => Some((debits + amount, credits)),
                _ => None,
            }
        });
    (count, hash, totals)
}

impl<'a> Parser<'a> {
    fn record(&mut self, line: usize, record: &'a str) -> Result<(), FileError> {
        self.last_line = line;
        let padding = record.bytes().all(|b| b == b'9');
        if self.closed {
            return if padding {
                Ok(())
            } else {
                Err(structure(
                    line,
                    "only 9-filled padding may follow the file control",
                ))
            };
        }
        self.records += 1;
        match cut(record, 1, 1) {
            "5" => self.open(line, record),
            "6" => self.entry(line, record),
            "7" => self.addenda(line, record),
            "8" => self.close_batch(line, record),
            "9" if padding => Err(structure(
                line,
                "padding before the file control: the file is truncated",
            )),
            "9" => self.file_control(line, record),
            "1" => Err(structure(line, "a second file header")),
            other => Err(bad_field(
                line,
                "record_type",
                format!("must be 1, 5, 6, 7, 8 or 9; found `{other}`"),
            )),
        }
    }

    fn open(&mut self, line: usize, record: &'a str) -> Result<(), FileError> {
        if let Some(open) = &self.batch {
            return Err(structure(
                line,
                format!(
                    "a batch header while batch {} (line {}) is open",
                    open.number, open.line
                ),
            ));
        }
        let service_class = cut(record, 2, 3);
        if !matches!(service_class, "200" | "220" | "225") {
            return Err(bad_field(
                line,
                "service_class_code",
                format!("must be 200, 220 or 225; found `{service_class}`"),
            ));
        }
        if !cut(record, 51, 3).bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad_field(
                line,
                "standard_entry_class",
                "must be 3 capital letters",
            ));
        }
        if fixed::yymmdd(cut(record, 70, 6)).is_none() {
            return Err(bad_field(
                line,
                "effective_entry_date",
                "must be a date YYMMDD",
            ));
        }
        let number = cut(record, 88, 7);
        if digits(number).is_none() {
            return Err(bad_field(line, "batch_number", "must be 7 digits"));
        }
        self.batch = Some(OpenBatch {
            line,
            service_class,
            number,
            entries: Vec::new(),
        });
        Ok(())
    }

    fn entry(&mut self, line: usize, record: &'a str) -> Result<(), FileError> {
        let Some(batch) = self.batch.as_mut() else {
            return Err(structure(
                line,
                "an entry detail outside any batch (no batch header before it)",
            ));
        };
        batch.entries.push(Entry {
            line,
            record,
            addenda: Vec::new(),
        });
        Ok(())
    }

    fn addenda(&mut self, line: usize, record: &'a str) -> Result<(), FileError> {
        match self.batch.as_mut().and_then(|b| b.entries.last_mut()) {
            Some(entry) => {
                entry.addenda.push((line, record));
                Ok(())
            }
            None => Err(structure(
                line,
                "an addenda record with no entry detail before it",
            )),
        }
    }

    fn close_batch(&mut self, line: usize, record: &'a str) -> Result<(), FileError> {
        let Some(batch) = self.batch.take() else {
            return Err(structure(line, "a batch control with no batch open"));
        };
        let number = cut(record, 88, 7);
        if number != batch.number {
            return Err(structure(
                line,
                format!(
                    "the batch control closes batch `{number}` but batch `{}` (line {}) is open",
                    batch.number, batch.line
                ),
            ));
        }
        if cut(record, 2, 3) != batch.service_class {
            return Err(bad_field(
                line,
                "service_class_code",
                format!("must be the batch header's `{}`", batch.service_class),
            ));
        }
        let count = numeric(line, record, 5, 6, "entry_addenda_count")?;
        let hash = numeric(line, record, 11, 10, "entry_hash")?;
        let debits = u128::from(numeric(line, record, 21, 12, "total_debit")?);
        let credits = u128::from(numeric(line, record, 33, 12, "total_credit")?);
        let (n, computed_hash, totals) = computed(&batch.entries);
        agree(
            line,
            "entry_addenda_count",
            u128::from(count),
            u128::from(n),
        )?;
        if let Some(h) = computed_hash {
            agree(line, "entry_hash", u128::from(hash), u128::from(h))?;
        }
        if let Some((d, c)) = totals {
            agree(line, "total_debit", debits, d)?;
            agree(line, "total_credit", credits, c)?;
        }
        self.sums.count += count;
        self.sums.hash = (self.sums.hash + hash) % HASH_MODULUS;
        self.sums.debits += debits;
        self.sums.credits += credits;
        self.batches += 1;
        self.entries.extend(batch.entries);
        Ok(())
    }

    fn file_control(&mut self, line: usize, record: &'a str) -> Result<(), FileError> {
        if let Some(open) = &self.batch {
            return Err(structure(
                line,
                format!(
                    "the file control while batch {} (line {}) is open",
                    open.number, open.line
                ),
            ));
        }
        let blocks = self.records.div_ceil(BLOCKING_FACTOR as u64);
        let checks: [(usize, usize, &'static str, u128); 6] = [
            (2, 6, "batch_count", u128::from(self.batches)),
            (8, 6, "block_count", u128::from(blocks)),
            (14, 8, "entry_addenda_count", u128::from(self.sums.count)),
            (22, 10, "entry_hash", u128::from(self.sums.hash)),
            (32, 12, "total_debit", self.sums.debits),
            (44, 12, "total_credit", self.sums.credits),
        ];
        for (pos, len, field, computed) in checks {
            let declared = numeric(line, record, pos, len, field)?;
            agree(line, field, u128::from(declared), computed)?;
        }
        self.closed = true;
        Ok(())
    }

    fn finish(self) -> Result<Vec<Entry<'a>>, FileError> {
        if let Some(open) = &self.batch {
            return Err(structure(
                self.last_line,
                format!(
                    "the file ends inside batch {} (line {}): no batch control",
                    open.number, open.line
                ),
            ));
        }
        if !self.closed {
            return Err(structure(
                self.last_line,
                "the file ends before its file control record (9)",
            ));
        }
        Ok(self.entries)
    }
}

/// The entries of a structurally sound file, in file order, with their addenda.
fn parse(text: &str) -> Result<Vec<Entry<'_>>, FileError> {
    let records = fixed::records(text, RECORD_LEN)?;
    if records.len() > MAX_RECORDS {
        return Err(FileError::TooLarge {
            found: records.len(),
            limit: MAX_RECORDS,
        });
    }
    let Some(&(line, header)) = records.first() else {
        return Err(FileError::Empty);
    };
    check_file_header(line, header)?;
    let mut parser = Parser {
        records: 1,
        last_line: line,
        ..Parser::default()
    };
    for &(line, record) in &records[1..] {
        parser.record(line, record)?;
    }
    parser.finish()
}

fn is_reference(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= crate::debit::MAX_REFERENCE_LEN
        && s.bytes().all(fixed::is_reference_char)
}

/// An entry of our own presentation: its trace, amount and reference (its addenda 05).
fn presented_entry(entry: &Entry<'_>) -> Result<PresentedEntry, FileError> {
    let amount = numeric(entry.line, entry.record, 30, 10, "amount")?;
    let trace = cut(entry.record, 80, 15);
    if digits(trace).is_none() {
        return Err(bad_field(entry.line, "trace_number", "must be 15 digits"));
    }
    let [(line, addenda)] = entry.addenda.as_slice() else {
        return Err(bad_field(
            entry.line,
            "addenda",
            "must be one addenda 05 carrying the item's reference",
        ));
    };
    let reference = cut(addenda, 4, 80).trim_end();
    if cut(addenda, 2, 2) != "05" || !is_reference(reference) {
        return Err(bad_field(
            *line,
            "payment_related_information",
            "must be an addenda 05 carrying the item's reference",
        ));
    }
    Ok(PresentedEntry {
        trace: trace.to_owned(),
        item: PresentedItem {
            reference: reference.to_owned(),
            amount_minor: i64::try_from(amount).unwrap_or(i64::MAX),
        },
    })
}

/// Reads our own ACH presentation file back: each entry's trace number and the item it
/// presents. The file is ours, so any malformed entry, or a trace number or reference on two
/// entries, refuses it whole. Pure.
pub fn read_presentation(text: &str) -> Result<Vec<PresentedEntry>, FileError> {
    let entries = parse(text)?;
    let mut out = Vec::with_capacity(entries.len());
    let mut traces: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    let mut references: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    for entry in &entries {
        let presented = presented_entry(entry)?;
        let trace = cut(entry.record, 80, 15);
        if let Some(first) = traces.insert(trace, entry.line) {
            return Err(bad_field(
                entry.line,
                "trace_number",
                format!("must be unique; line {first} has it too"),
            ));
        }
        if let Some(first) = references.insert(presented.item.reference.clone(), entry.line) {
            return Err(bad_field(
                entry.line,
                "reference",
                format!("must be unique; line {first} has it too"),
            ));
        }
        out.push(presented);
    }
    Ok(out)
}

fn row_error(line: usize, field: &'static str, rule: impl Into<String>) -> RowError {
    RowError {
        line,
        field,
        rule: rule.into(),
    }
}

/// `letter` and two digits: a return (`R01`) or change (`C01`) code.
fn is_code(code: &str, letter: u8) -> bool {
    let b = code.as_bytes();
    b.len() == 3 && b[0] == letter && b[1..].iter().all(u8::is_ascii_digit)
}

/// The outcome an addenda 99 (return) or 98 (notice of change) gives.
fn addenda_outcome(line: usize, addenda: &str) -> Result<DebitOutcome, RowError> {
    let code = cut(addenda, 4, 3);
    match cut(addenda, 2, 2) {
        "99" if !is_code(code, b'R') => {
            Err(row_error(line, "return_code", "must be `R` and two digits"))
        }
        "99" => {
            let death = cut(addenda, 22, 6);
            if death.trim().is_empty() || fixed::yymmdd(death).is_some() {
                Ok(DebitOutcome::Returned {
                    code: code.to_owned(),
                    text: codes::describe(codes::ACH_RETURNS, code).to_owned(),
                })
            } else {
                Err(row_error(
                    line,
                    "date_of_death",
                    "must be blank or a date YYMMDD",
                ))
            }
        }
        "98" if !is_code(code, b'C') => {
            Err(row_error(line, "change_code", "must be `C` and two digits"))
        }
        "98" => {
            let corrected = cut(addenda, 36, 29).trim_end();
            if corrected.trim().is_empty() {
                Err(row_error(line, "corrected_data", "must not be blank"))
            } else {
                Ok(DebitOutcome::Changed {
                    code: code.to_owned(),
                    corrected: corrected.to_owned(),
                })
            }
        }
        other => Err(row_error(
            line,
            "addenda_type",
            format!("must be 99 (return) or 98 (notice of change); found `{other}`"),
        )),
    }
}

/// One entry of a returns file: the reference its original trace names, and its outcome.
fn return_row(entry: &Entry<'_>, by_trace: &HashMap<&str, &PresentedItem>) -> Row {
    let line = entry.line;
    let mut reference = None;
    let result = (|| {
        let [(addenda_line, addenda)] = entry.addenda.as_slice() else {
            return Err(row_error(
                line,
                "addenda",
                format!(
                    "must be one addenda 99 (return) or 98 (notice of change); found {}",
                    entry.addenda.len()
                ),
            ));
        };
        if cut(entry.record, 79, 1) != "1" {
            return Err(row_error(
                line,
                "addenda_indicator",
                "must be 1: an addenda follows",
            ));
        }
        let amount = digits(cut(entry.record, 30, 10))
            .ok_or_else(|| row_error(line, "amount", "must be 10 digits (cents)"))?;
        if digits(cut(entry.record, 2, 2)).is_none_or(|t| t % 10 == 0) {
            return Err(row_error(
                line,
                "transaction_code",
                "must be two digits, a credit or debit code",
            ));
        }
        if digits(cut(entry.record, 4, 8)).is_none() {
            return Err(row_error(line, "receiving_dfi", "must be 8 digits"));
        }
        let trace = cut(addenda, 7, 15);
        if digits(trace).is_none() {
            return Err(row_error(
                *addenda_line,
                "original_trace",
                "must be 15 digits",
            ));
        }
        let Some(item) = by_trace.get(trace) else {
            return Err(row_error(
                *addenda_line,
                "original_trace",
                format!("`{trace}` is not an entry of the presentation"),
            ));
        };
        reference = Some(item.reference.clone());
        let outcome = addenda_outcome(*addenda_line, addenda)?;
        Ok((i64::try_from(amount).unwrap_or(i64::MAX), outcome))
    })();
    Row {
        line,
        reference,
        result,
    }
}

/// Reads a returns file (returns, addenda 99, and notifications of change, addenda 98) against
/// the entries of the presentation it answers: one result per sound entry, named by our
/// reference through its original trace number, and a row error per malformed one (an unknown
/// original trace among them). The file's structure, entry/addenda counts, entry hashes and
/// totals are checked; a file failing them is refused whole.
///
/// Pure: the same text always gives the same read, so a returns file applied twice applies once.
pub fn read_returns(text: &str, presented: &[PresentedEntry]) -> Result<ResponseRead, FileError> {
    let entries = parse(text)?;
    let by_trace: HashMap<&str, &PresentedItem> = presented
        .iter()
        .map(|p| (p.trace.as_str(), &p.item))
        .collect();
    let rows = entries.iter().map(|e| return_row(e, &by_trace)).collect();
    Ok(ResponseRead::collate(rows))
}

/// Reads a returns file as the answer to a presentation file: [`read_returns`] with the
/// presentation's traces, [reconciled](ResponseRead::reconcile) with its items (the items not
/// returned are `unanswered`). Pure.
pub fn read_returns_to(presentation: &str, returns: &str) -> Result<ResponseRead, FileError> {
    let presented =
        read_presentation(presentation).map_err(|e| FileError::Presentation(Box::new(e)))?;
    let items: Vec<PresentedItem> = presented.iter().map(|p| p.item.clone()).collect();
    Ok(read_returns(returns, &presented)?.reconcile(&items))
}
