//! NACHA ACH files for consumer loan debits (US), and the returns and notifications of change
//! that come back.
//!
//! An ACH file is fixed-width text, **94 characters a record**: a file header (`1`); batches, each
//! a batch header (`5`), entry details (`6`) each followed by its addenda (`7`), and a batch
//! control (`8`) carrying the batch's entry/addenda count, entry hash and totals; a file control
//! (`9`) totalling the batches; and `9`-filled records padding the file to blocks of 10 records.
//! Amounts are integer cents, dates `YYMMDD` (read here as 2000–2099), times `HHMM`; numeric
//! fields are right-justified and zero-filled, the others left-justified and space-filled. The
//! entry hash is the sum of the entries' 8-digit receiving-bank (RDFI) identifications, keeping
//! its low 10 digits.
//!
//! What this writer presents: one batch (service class `225`, debits only) per settlement date,
//! Standard Entry Class and first-or-retry, at most [`MAX_BATCH_ENTRIES`] entries each.
//! Reinitiations of returned debits get their own batches, described [`RETRY_DESCRIPTION`] as
//! the Nacha rules ask. Each entry is a debit (`27` checking, `37` savings) with one addenda
//! `05` whose payment-related information is our reference, and a trace number of the ODFI's 8
//! digits and a 7-digit sequence, unique within the file.
//!
//! What comes back ([`read_returns`]): returns (an entry whose addenda `99` gives the return
//! reason `R01`… and the original entry's trace number) and notifications of change (addenda
//! `98`, change code `C01`… and the corrected data). A return entry is a new entry with its own
//! trace; it is matched to our reference by the original trace, through the presentation file.
//!
//! The layouts are those of the project's `rail-files.md` §3, read from the moov-io parsers'
//! offsets. Two readings are ours: a transaction code whose second digit is 1–4 counts as a
//! credit in the control totals and one whose second digit is 5–9 as a debit (so the return of
//! a debit, code 26 or 36, counts as a debit, as the original did); and padding is written
//! always, though read as optional.

use std::collections::HashMap;

use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};

use super::fixed::{Record, digits};
use super::{
    AccountType, DebitFormat, DebitItem, FileError, ItemError, ItemErrors, ResponseRead,
    check_common, check_text, items_digest,
};

mod returns;

pub use returns::{PresentedEntry, read_presentation, read_returns, read_returns_to};

/// The width of every record.
pub const RECORD_LEN: usize = 94;
/// Records a block; the file is padded to whole blocks with `9`-filled records.
pub const BLOCKING_FACTOR: usize = 10;
/// The largest amount an entry's 10 digits hold, in cents.
pub const MAX_AMOUNT: i64 = 9_999_999_999;
/// The largest total the controls' 12 digits hold, in cents.
pub const MAX_TOTAL: i64 = 999_999_999_999;
/// Most entries a batch of this writer carries (with their addenda, well inside the batch
/// control's 6-digit count).
pub const MAX_BATCH_ENTRIES: usize = 100_000;
/// The Company Entry Description of a batch of reinitiated debits.
pub const RETRY_DESCRIPTION: &str = "RETRY PYMT";
/// Service class code of a batch of debits only.
pub const DEBITS_ONLY: &str = "225";
/// The entry hash and counts keep their low 10 digits.
const HASH_MODULUS: u64 = 10_000_000_000;

/// The Standard Entry Class: how the borrower authorised the debits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecCode {
    /// `PPD`: a written (signed) authorisation, such as a paper loan agreement.
    Ppd,
    /// `WEB` with payment type `R`: authorised online, recurring.
    WebRecurring,
    /// `WEB` with payment type `S`: authorised online, a single debit.
    WebSingle,
}

impl SecCode {
    /// The batch header's three letters.
    pub fn code(self) -> &'static str {
        match self {
            SecCode::Ppd => "PPD",
            SecCode::WebRecurring | SecCode::WebSingle => "WEB",
        }
    }

    /// The entry's positions 77–78: WEB's payment type code, blank discretionary data on PPD.
    fn discretionary(self) -> &'static str {
        match self {
            SecCode::Ppd => "",
            SecCode::WebRecurring => "R",
            SecCode::WebSingle => "S",
        }
    }
}

/// The file header's and batch headers' contents: the lender (originator) and its bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NachaHeader {
    /// Immediate Destination (file header 4–13): the 9-digit routing number the file goes to
    /// (the ODFI's or the ACH operator's), written after a blank.
    pub immediate_destination: String,
    /// Immediate Origin (file header 14–23): a 9-digit routing number (written after a blank)
    /// or the 10 characters the ODFI assigned.
    pub immediate_origin: String,
    /// Immediate Destination Name (41–63), at most 23 characters.
    pub destination_name: String,
    /// Immediate Origin Name (64–86), at most 23 characters.
    pub origin_name: String,
    /// File Creation Date and Time (24–29 `YYMMDD`, 30–33 `HHMM`).
    pub created: DateTime,
    /// File ID Modifier (34): `A`–`Z` or `0`–`9`, different for each file of a day to the same
    /// destination.
    pub file_id_modifier: char,
    /// Reference Code (87–94), optional, at most 8 characters.
    pub reference_code: String,
    /// Company Name (batch header 5–20): the lender as borrowers know it, at most 16.
    pub company_name: String,
    /// Company Discretionary Data (21–40), optional, at most 20.
    pub company_discretionary: String,
    /// Company Identification (41–50; batch control 45–54): as the ODFI assigned it (often
    /// `1` and the EIN), at most 10 letters or digits.
    pub company_id: String,
    /// Company Entry Description (54–63): shown on the borrower's statement, e.g. `LOAN PYMT`;
    /// reinitiation batches carry [`RETRY_DESCRIPTION`] instead. At most 10.
    pub entry_description: String,
    /// Originating DFI Identification (batch header 80–87, batch control 80–87): the ODFI's
    /// routing number without its check digit, 8 digits; the head of every trace number.
    pub odfi: String,
    /// The Standard Entry Class of items that do not name one.
    pub default_sec: SecCode,
}

/// A 9-digit ABA routing number whose check digit holds: 3·(d1+d4+d7) + 7·(d2+d5+d8) +
/// (d3+d6+d9) is a multiple of 10.
pub fn is_routing(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d = |i: usize| u32::from(b[i] - b'0');
    let sum = 3 * (d(0) + d(3) + d(6)) + 7 * (d(1) + d(4) + d(7)) + (d(2) + d(5) + d(8));
    sum % 10 == 0
}

fn transaction_code(t: AccountType) -> Option<u64> {
    match t {
        AccountType::Current => Some(27),
        AccountType::Savings => Some(37),
        AccountType::CashCredit => None,
    }
}

fn is_account(s: &str) -> bool {
    !s.is_empty() && s.len() <= 17 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn check_header(h: &NachaHeader, errors: &mut Vec<ItemError>) {
    let mut bad = |field, code, rule: String| errors.push(ItemError::file(field, code, rule));
    if !is_routing(&h.immediate_destination) {
        bad(
            "header.immediate_destination",
            "nacha.routing",
            "must be a routing number: 9 digits with a valid check digit".to_owned(),
        );
    }
    let origin = &h.immediate_origin;
    if !(is_routing(origin)
        || (origin.len() == 10 && origin.bytes().all(|b| b.is_ascii_alphanumeric())))
    {
        bad(
            "header.immediate_origin",
            "debit.header",
            "must be a routing number or the 10 letters or digits the bank assigned".to_owned(),
        );
    }
    let texts: [(&'static str, &str, usize, bool); 6] = [
        ("header.destination_name", &h.destination_name, 23, false),
        ("header.origin_name", &h.origin_name, 23, false),
        ("header.reference_code", &h.reference_code, 8, false),
        ("header.company_name", &h.company_name, 16, true),
        (
            "header.company_discretionary",
            &h.company_discretionary,
            20,
            false,
        ),
        ("header.entry_description", &h.entry_description, 10, true),
    ];
    for (field, value, max, required) in texts {
        if let Some(rule) = check_text(value, max, required) {
            bad(field, "debit.text", rule);
        }
    }
    let id = &h.company_id;
    if id.is_empty() || id.len() > 10 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bad(
            "header.company_id",
            "debit.header",
            "must be 1 to 10 letters or digits".to_owned(),
        );
    }
    if h.odfi.len() != 8 || !h.odfi.bytes().all(|b| b.is_ascii_digit()) {
        bad(
            "header.odfi",
            "debit.header",
            "must be the ODFI's 8-digit identification".to_owned(),
        );
    }
    if !(h.file_id_modifier.is_ascii_uppercase() || h.file_id_modifier.is_ascii_digit()) {
        bad(
            "header.file_id_modifier",
            "debit.header",
            "must be `A`-`Z` or `0`-`9`".to_owned(),
        );
    }
    if !(2000..=2099).contains(&h.created.year()) {
        bad(
            "header.created",
            "nacha.date",
            "must be in the years 2000-2099 (the file writes YYMMDD)".to_owned(),
        );
    }
}

fn check_item(i: usize, item: &DebitItem, errors: &mut Vec<ItemError>) {
    let mut bad = |field, code, rule: String| errors.push(ItemError::item(i, field, code, rule));
    if let Some(rule) = check_text(&item.mandate_ref, 15, true) {
        bad("mandate_ref", "debit.text", rule);
    }
    if let Some(rule) = check_text(&item.debtor_name, 22, true) {
        bad("debtor_name", "debit.text", rule);
    }
    if item.amount_minor > MAX_AMOUNT {
        bad(
            "amount_minor",
            "debit.amount_digits",
            format!("must be at most {MAX_AMOUNT} cents (10 digits)"),
        );
    }
    if !is_account(&item.debtor_account) {
        bad(
            "debtor_account",
            "debit.account",
            "must be 1 to 17 letters, digits or `-`".to_owned(),
        );
    }
    if !is_routing(&item.debtor_bank) {
        bad(
            "debtor_bank",
            "nacha.routing",
            "must be a routing number: 9 digits with a valid check digit".to_owned(),
        );
    }
    if transaction_code(item.account_type).is_none() {
        bad(
            "account_type",
            "debit.account_type",
            "must be a checking (current) or savings account on ACH".to_owned(),
        );
    }
    if !(2000..=2099).contains(&item.settlement_date.year()) {
        bad(
            "settlement_date",
            "nacha.date",
            "must be in the years 2000-2099 (the file writes YYMMDD)".to_owned(),
        );
    }
}

fn check(header: &NachaHeader, items: &[DebitItem]) -> Vec<ItemError> {
    let mut errors = Vec::new();
    check_header(header, &mut errors);
    check_common(items, &mut errors);
    for (i, item) in items.iter().enumerate() {
        check_item(i, item, &mut errors);
    }
    let total: i128 = items.iter().map(|i| i128::from(i.amount_minor)).sum();
    if total > i128::from(MAX_TOTAL) {
        errors.push(ItemError::file(
            "items",
            "debit.total_digits",
            format!("must total at most {MAX_TOTAL} cents (the controls' 12 digits), got {total}"),
        ));
    }
    errors
}

/// One batch to write: its key and its items, in the order presented.
struct Batch<'a> {
    date: Date,
    sec: &'static str,
    retry: bool,
    items: Vec<&'a DebitItem>,
}

/// The items in batches: one per settlement date, SEC code and first-or-retry, in the order each
/// key first appears, each split at [`MAX_BATCH_ENTRIES`].
fn batches<'a>(header: &NachaHeader, items: &'a [DebitItem]) -> Vec<Batch<'a>> {
    let mut order: Vec<(Date, &'static str, bool)> = Vec::new();
    let mut groups: HashMap<(Date, &'static str, bool), Vec<&'a DebitItem>> = HashMap::new();
    for item in items {
        let sec = item.sec.unwrap_or(header.default_sec).code();
        let key = (item.settlement_date, sec, item.reinitiation);
        let group = groups.entry(key).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        group.push(item);
    }
    let mut out = Vec::new();
    for key in order {
        let group = groups.remove(&key).unwrap_or_default();
        for chunk in group.chunks(MAX_BATCH_ENTRIES) {
            out.push(Batch {
                date: key.0,
                sec: key.1,
                retry: key.2,
                items: chunk.to_vec(),
            });
        }
    }
    out
}

/// The file's running totals, for the controls.
#[derive(Default)]
struct Totals {
    records: u64,
    entries_and_addenda: u64,
    hash: u64,
    debits: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.entries_and_addenda += other.entries_and_addenda;
        self.hash = (self.hash + other.hash) % HASH_MODULUS;
        self.debits += other.debits;
    }
}

fn write_file_header(out: &mut String, h: &NachaHeader) {
    let origin = if h.immediate_origin.len() == 9 {
        format!(" {}", h.immediate_origin)
    } else {
        h.immediate_origin.clone()
    };
    Record::begin(out, RECORD_LEN)
        .alpha(1, "1")
        .alpha(2, "01")
        .alpha(10, &format!(" {}", h.immediate_destination))
        .alpha(10, &origin)
        .alpha(6, &h.created.strftime("%y%m%d").to_string())
        .alpha(4, &h.created.strftime("%H%M").to_string())
        .alpha(1, h.file_id_modifier.encode_utf8(&mut [0; 4]))
        .alpha(3, "094")
        .alpha(2, "10")
        .alpha(1, "1")
        .alpha(23, &h.destination_name)
        .alpha(23, &h.origin_name)
        .alpha(8, &h.reference_code)
        .end();
}

fn write_batch_header(out: &mut String, h: &NachaHeader, batch: &Batch<'_>, number: u64) {
    let description = if batch.retry {
        RETRY_DESCRIPTION
    } else {
        h.entry_description.as_str()
    };
    Record::begin(out, RECORD_LEN)
        .alpha(1, "5")
        .alpha(3, DEBITS_ONLY)
        .alpha(16, &h.company_name)
        .alpha(20, &h.company_discretionary)
        .alpha(10, &h.company_id)
        .alpha(3, batch.sec)
        .alpha(10, description)
        // Company Descriptive Date: free, left blank.
        .blank(6)
        .alpha(6, &batch.date.strftime("%y%m%d").to_string())
        // Settlement Date (Julian): the ACH operator fills it.
        .blank(3)
        // Originator Status Code.
        .alpha(1, "1")
        .alpha(8, &h.odfi)
        .num(7, number)
        .end();
}

/// An entry detail and its addenda 05 (our reference); returns the entry's RDFI identification.
fn write_entry(out: &mut String, h: &NachaHeader, item: &DebitItem, sequence: u64) -> u64 {
    let sec = item.sec.unwrap_or(h.default_sec);
    let rdfi = item.debtor_bank.get(..8).unwrap_or("");
    let check_digit = item.debtor_bank.get(8..9).unwrap_or("");
    Record::begin(out, RECORD_LEN)
        .alpha(1, "6")
        .num(2, transaction_code(item.account_type).unwrap_or(27))
        .alpha(8, rdfi)
        .alpha(1, check_digit)
        .alpha(17, &item.debtor_account)
        .num(10, item.amount_minor.unsigned_abs())
        .alpha(15, &item.mandate_ref)
        .alpha(22, &item.debtor_name)
        .alpha(2, sec.discretionary())
        // Addenda Record Indicator: one addenda follows.
        .alpha(1, "1")
        .alpha(8, &h.odfi)
        .num(7, sequence)
        .end();
    Record::begin(out, RECORD_LEN)
        .alpha(1, "7")
        .alpha(2, "05")
        .alpha(80, &item.reference)
        .num(4, 1)
        .num(7, sequence)
        .end();
    digits(rdfi).unwrap_or(0)
}

fn write_batch_control(out: &mut String, h: &NachaHeader, totals: &Totals, number: u64) {
    Record::begin(out, RECORD_LEN)
        .alpha(1, "8")
        .alpha(3, DEBITS_ONLY)
        .num(6, totals.entries_and_addenda)
        .num(10, totals.hash)
        .num(12, totals.debits)
        .num(12, 0)
        .alpha(10, &h.company_id)
        // Message Authentication Code and reserved: blank.
        .blank(19 + 6)
        .alpha(8, &h.odfi)
        .num(7, number)
        .end();
}

fn write_file_control(out: &mut String, batches: u64, totals: &Totals) {
    let blocks = totals.records.div_ceil(BLOCKING_FACTOR as u64);
    Record::begin(out, RECORD_LEN)
        .alpha(1, "9")
        .num(6, batches)
        .num(6, blocks)
        .num(8, totals.entries_and_addenda)
        .num(10, totals.hash)
        .num(12, totals.debits)
        .num(12, 0)
        .blank(39)
        .end();
}

/// The ACH file presenting `items`: all or nothing. Every item and header field is checked
/// (lengths, characters, routing check digits, the amount against its 10 digits, the totals
/// against the controls' 12) before anything is written; the error lists every broken rule
/// with the item's index and field.
pub fn write_presentation(header: &NachaHeader, items: &[DebitItem]) -> Result<String, ItemErrors> {
    let errors = check(header, items);
    if !errors.is_empty() {
        return Err(ItemErrors(errors));
    }
    let batches = batches(header, items);
    let records = 2 + 2 * (batches.len() + items.len());
    let padded = records.div_ceil(BLOCKING_FACTOR) * BLOCKING_FACTOR;
    let mut out = String::with_capacity(padded * (RECORD_LEN + 1));
    write_file_header(&mut out, header);
    let mut file = Totals {
        records: records as u64,
        ..Totals::default()
    };
    let mut sequence = 0;
    for (n, batch) in batches.iter().enumerate() {
        let number = n as u64 + 1;
        write_batch_header(&mut out, header, batch, number);
        let mut totals = Totals::default();
        for item in &batch.items {
            sequence += 1;
            let rdfi = write_entry(&mut out, header, item, sequence);
            totals.entries_and_addenda += 2;
            totals.hash = (totals.hash + rdfi) % HASH_MODULUS;
            totals.debits += item.amount_minor.unsigned_abs();
        }
        write_batch_control(&mut out, header, &totals, number);
        file.add(&totals);
    }
    write_file_control(&mut out, batches.len() as u64, &file);
    for _ in records..padded {
        Record::begin(&mut out, RECORD_LEN)
            .alpha(RECORD_LEN, &"9".repeat(RECORD_LEN))
            .end();
    }
    Ok(out)
}

/// ACH files behind a [`super::FileConnector`]. `now` gives the file creation time (injected,
/// so tests and the simulator control it). A presentation's id is
/// `ACH-DR-{ODFI}-{first settlement date YYYYMMDD}-{digest of the items}`; its file is
/// `{id}.ach` and the returns expected for it `{id}-RET.ach`. A bank's daily returns file that
/// answers several presentations is split by original trace on the way in.
pub struct NachaFiles {
    pub header: NachaHeader,
    pub now: Box<dyn Fn() -> DateTime + Send + Sync>,
}

impl std::fmt::Debug for NachaFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NachaFiles")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl DebitFormat for NachaFiles {
    fn write(&self, items: &[DebitItem]) -> Result<String, ItemErrors> {
        let header = NachaHeader {
            created: (self.now)(),
            ..self.header.clone()
        };
        write_presentation(&header, items)
    }

    fn presentation_id(&self, items: &[DebitItem]) -> String {
        let first = items.iter().map(|i| i.settlement_date).min();
        let date = first.map_or_else(String::new, |d| d.strftime("%Y%m%d").to_string());
        format!("ACH-DR-{}-{date}-{}", self.header.odfi, items_digest(items))
    }

    fn presentation_file(&self, id: &str) -> String {
        format!("{id}.ach")
    }

    fn response_file(&self, id: &str) -> String {
        format!("{id}-RET.ach")
    }

    fn read(&self, presentation: &str, response: &str) -> Result<ResponseRead, FileError> {
        read_returns_to(presentation, response)
    }
}
