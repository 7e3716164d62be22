//! NPCI NACH ACH debit ("ACH-DR") files: the presentation (`INP`) file a lender's sponsor bank
//! takes, and the response (`RES`) file it returns.
//!
//! Both are fixed-width text, **306 characters a record**, lines ending in LF: one header record
//! (ACH transaction code `56`) carrying the file's totals, then one detail record (`67`) per
//! debit, and **no trailer**. Amounts are integer paise (13 digits, zero-filled), dates
//! `DDMMYYYY`; numeric fields are right-justified and zero-filled, the others left-justified and
//! space-filled. In the response NPCI fills the reserved fields: the detail's item sequence
//! number (134–143), checksum (144–153), **flag** (154) and **reason code** (155–156).
//!
//! Unverified (the project's `rail-files.md` §1.2–1.4, §5): NPCI's own "ACH file format"
//! specification was not available. The positions here are those of three sponsor-bank
//! integrations (YES, ICICI, Citi) that agree with each other and with NPCI Circular 206's
//! field list; they are followed as given and must be checked with the sponsor bank before
//! go-live, as must these readings of ours:
//! - The response's header totals (items and amount) are taken to count **every** detail record
//!   of the file, as the presentation's did; a response whose totals do not add up is refused.
//! - Flag values other than `1` (debited), `0` (returned), `2` (rejected) and `3` (pending)
//!   appear only in NPCI's TReDS annex (`5` recalled, `6` partial debit): such a row is a row
//!   error, for an operator to settle, never a guess.
//! - A debited row carries reason `00` (or a blank reason); a pending row a two-digit reason or
//!   a blank one (an empty code); a returned or rejected row a two-digit reason other than `00`.
//!   A row that contradicts this is a row error.
//! - The UMRN is 20 characters (Razorpay checks the length); its shape, four letters then
//!   letters or digits, is inferred from examples such as `HDFC0000000010936518`.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::fixed::Record;
use super::{
    AccountType, DebitFormat, DebitItem, FileError, ItemError, ItemErrors, ResponseRead,
    check_common, check_text, items_digest,
};
use crate::payout::is_ifsc;

mod response;

pub use response::{read_presentation, read_response, read_response_to, respond_to};

/// The width of every record.
pub const RECORD_LEN: usize = 306;
/// The header record's ACH transaction code.
pub const HEADER_CODE: &str = "56";
/// A detail record's ACH transaction code.
pub const DETAIL_CODE: &str = "67";
/// The largest amount 13 digits hold, in paise (for an item, the item limit and the total).
pub const MAX_AMOUNT: i64 = 9_999_999_999_999;
/// The transaction reference field's width: our references must fit it.
pub const REFERENCE_LEN: usize = 30;
/// A UMRN's length.
pub const UMRN_LEN: usize = 20;
/// The product type Razorpay sends on normal debit files (NPCI maps product codes per user).
pub const DEFAULT_PRODUCT_TYPE: &str = "10";

/// The header of a presentation file, and what every detail record repeats of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NachHeader {
    /// User Name (header 10–49): the corporate's name, at most 40 characters.
    pub user_name: String,
    /// User Number (header 157–174, detail 214–231): the utility code NPCI allotted at
    /// registration, at most 18 capital letters or digits, e.g. `NACH00000000013149`.
    pub user_number: String,
    /// User Reference (header 175–192): "user defined reference number for the entire
    /// transaction", at most 18 letters or digits; Razorpay sends eighteen zeros.
    pub user_reference: String,
    /// Sponsor Bank IFSC/MICR/IIN (header 193–203, detail 203–213): the lender's bank.
    pub sponsor_bank: String,
    /// User's Bank Account Number (header 204–238): the account ACH DR credits; optional.
    pub user_account: Option<String>,
    /// User Defined Limit for individual items (header 100–112): no item may exceed it, paise.
    pub item_limit_minor: i64,
    /// Settlement Date (header 126–133): the date settlement is sought; every item's date.
    pub settlement_date: Date,
    /// User Name / Narration (detail 88–107): shown on the borrower's statement, at most 20.
    pub narration: String,
    /// Product Type (detail 262–264): the product NPCI maps the user to, at most 3 characters;
    /// [`DEFAULT_PRODUCT_TYPE`] for normal debits.
    pub product_type: String,
    /// ACH File Number (header 64–72): "user defined input tape", optional, at most 9.
    pub file_number: Option<String>,
}

fn account_type_code(t: AccountType) -> &'static str {
    match t {
        AccountType::Savings => "10",
        AccountType::Current => "11",
        AccountType::CashCredit => "13",
    }
}

/// `AAAA` then 16 capital letters or digits.
pub fn is_umrn(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == UMRN_LEN
        && b[..4].iter().all(u8::is_ascii_uppercase)
        && b[4..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// An IFSC (11) or a MICR code (9 digits).
fn is_bank_code(s: &str) -> bool {
    is_ifsc(s) || (s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()))
}

fn is_code(s: &str, max: usize, required: bool) -> bool {
    (!required || !s.is_empty())
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn check_header(h: &NachHeader, errors: &mut Vec<ItemError>) {
    let mut bad = |field, code, rule: String| errors.push(ItemError::file(field, code, rule));
    if let Some(rule) = check_text(&h.user_name, 40, true) {
        bad("header.user_name", "debit.text", rule);
    }
    if let Some(rule) = check_text(&h.narration, 20, true) {
        bad("header.narration", "debit.text", rule);
    }
    let codes: [(&'static str, &str, usize, bool); 4] = [
        ("header.user_number", h.user_number.as_str(), 18, true),
        (
            "header.user_reference",
            h.user_reference.as_str(),
            18,
            false,
        ),
        ("header.product_type", h.product_type.as_str(), 3, true),
        (
            "header.file_number",
            h.file_number.as_deref().unwrap_or(""),
            9,
            false,
        ),
    ];
    for (field, value, max, required) in codes {
        if !is_code(value, max, required) {
            bad(
                field,
                "debit.header",
                format!("must be at most {max} capital letters or digits"),
            );
        }
    }
    if !is_ifsc(&h.sponsor_bank) {
        bad(
            "header.sponsor_bank",
            "debit.bank",
            "must be an IFSC: 4 capital letters, `0`, 6 capital letters or digits".to_owned(),
        );
    }
    let account = h.user_account.as_deref().unwrap_or("");
    if account.len() > 35 || !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bad(
            "header.user_account",
            "debit.account",
            "must be at most 35 letters or digits".to_owned(),
        );
    }
    if h.item_limit_minor <= 0 || h.item_limit_minor > MAX_AMOUNT {
        bad(
            "header.item_limit_minor",
            "debit.amount_digits",
            format!("must be 1 to {MAX_AMOUNT} paise (13 digits)"),
        );
    }
}

fn check_item(i: usize, h: &NachHeader, item: &DebitItem, errors: &mut Vec<ItemError>) {
    let mut bad = |field, code, rule: String| errors.push(ItemError::item(i, field, code, rule));
    if item.reference.len() > REFERENCE_LEN {
        bad(
            "reference",
            "nach.reference",
            format!("must be at most {REFERENCE_LEN} characters on NACH"),
        );
    }
    if !is_umrn(&item.mandate_ref) {
        bad(
            "mandate_ref",
            "nach.umrn",
            "must be a UMRN: 20 capital letters or digits, the first four letters".to_owned(),
        );
    }
    if item.amount_minor > MAX_AMOUNT {
        bad(
            "amount_minor",
            "debit.amount_digits",
            format!("must be at most {MAX_AMOUNT} paise (13 digits)"),
        );
    } else if item.amount_minor > h.item_limit_minor
        && (1..=MAX_AMOUNT).contains(&h.item_limit_minor)
    {
        bad(
            "amount_minor",
            "nach.item_limit",
            format!(
                "must be at most the file's limit for individual items, {} paise",
                h.item_limit_minor
            ),
        );
    }
    if item.settlement_date != h.settlement_date {
        bad(
            "settlement_date",
            "nach.settlement_date",
            format!("must be the file's settlement date, {}", h.settlement_date),
        );
    }
    if let Some(rule) = check_text(&item.debtor_name, 40, true) {
        bad("debtor_name", "debit.text", rule);
    }
    let a = &item.debtor_account;
    if a.is_empty() || a.len() > 35 || !a.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bad(
            "debtor_account",
            "debit.account",
            "must be 1 to 35 letters or digits".to_owned(),
        );
    }
    if !is_bank_code(&item.debtor_bank) {
        bad(
            "debtor_bank",
            "debit.bank",
            "must be an IFSC (11 characters) or a MICR code (9 digits)".to_owned(),
        );
    }
}

/// Every rule the header and items break.
fn check(header: &NachHeader, items: &[DebitItem]) -> Vec<ItemError> {
    let mut errors = Vec::new();
    check_header(header, &mut errors);
    check_common(items, &mut errors);
    for (i, item) in items.iter().enumerate() {
        check_item(i, header, item, &mut errors);
    }
    let total: i128 = items.iter().map(|i| i128::from(i.amount_minor)).sum();
    if total > i128::from(MAX_AMOUNT) {
        errors.push(ItemError::file(
            "items",
            "debit.total_digits",
            format!("must total at most {MAX_AMOUNT} paise (the header's 13 digits), got {total}"),
        ));
    }
    errors
}

fn write_header(out: &mut String, h: &NachHeader, total: u64, count: u64) {
    let date = h.settlement_date.strftime("%d%m%Y").to_string();
    Record::begin(out, RECORD_LEN)
        .alpha(2, HEADER_CODE)
        .blank(7)
        .alpha(40, &h.user_name)
        .blank(14)
        .alpha(9, h.file_number.as_deref().unwrap_or(""))
        .blank(9 + 15 + 3)
        .num(13, h.item_limit_minor.unsigned_abs())
        .num(13, total)
        .alpha(8, &date)
        .blank(10 + 10 + 3)
        .alpha(18, &h.user_number)
        .alpha(18, &h.user_reference)
        .alpha(11, &h.sponsor_bank)
        .alpha(35, h.user_account.as_deref().unwrap_or(""))
        .num(9, count)
        .blank(2 + 57)
        .end();
}

fn write_detail(out: &mut String, h: &NachHeader, item: &DebitItem) {
    Record::begin(out, RECORD_LEN)
        .alpha(2, DETAIL_CODE)
        .blank(9)
        .alpha(2, account_type_code(item.account_type))
        .blank(3 + 15)
        .alpha(40, &item.debtor_name)
        .blank(9 + 7)
        .alpha(20, &h.narration)
        .blank(13)
        .num(13, item.amount_minor.unsigned_abs())
        // Item sequence number, checksum, flag and reason: NPCI fills them in the response.
        .blank(10 + 10 + 1 + 2)
        .alpha(11, &item.debtor_bank)
        .alpha(35, &item.debtor_account)
        .alpha(11, &h.sponsor_bank)
        .alpha(18, &h.user_number)
        .alpha(30, &item.reference)
        .alpha(3, &h.product_type)
        // Beneficiary Aadhaar number: APBS only.
        .blank(15)
        .alpha(20, &item.mandate_ref)
        .blank(7)
        .end();
}

/// The presentation file of `items` under `header`: all or nothing. Every item is checked
/// (lengths, characters, the amount against its 13 digits and the header's item limit, the
/// UMRN, the settlement date) before anything is written; the error lists every broken rule
/// with the item's index and field.
pub fn write_presentation(header: &NachHeader, items: &[DebitItem]) -> Result<String, ItemErrors> {
    let errors = check(header, items);
    if !errors.is_empty() {
        return Err(ItemErrors(errors));
    }
    let total: u64 = items.iter().map(|i| i.amount_minor.unsigned_abs()).sum();
    let mut out = String::with_capacity((items.len() + 1) * (RECORD_LEN + 1));
    write_header(&mut out, header, total, items.len() as u64);
    for item in items {
        write_detail(&mut out, header, item);
    }
    Ok(out)
}

/// The NACH files of one user number behind a [`super::FileConnector`]. Each presentation is
/// one file for one settlement date, the items' (the header's own date is replaced by it).
/// Its id is `ACH-DR-{sponsor's bank code}-{user number}-{DDMMYYYY}-{digest of the items}`; the
/// presentation file is `{id}-INP`, its response `{id}-RES`, after the sponsor banks' naming
/// (`ACH-DR-ICIC-ICIC865719-{DDMMYYYY}-RZ0001-INP`); a bank needing other names is served by
/// renaming on the way.
#[derive(Debug, Clone)]
pub struct NachFiles {
    pub header: NachHeader,
}

impl NachFiles {
    fn header_for(&self, items: &[DebitItem]) -> NachHeader {
        let mut header = self.header.clone();
        if let Some(first) = items.first() {
            header.settlement_date = first.settlement_date;
        }
        header
    }
}

impl DebitFormat for NachFiles {
    fn write(&self, items: &[DebitItem]) -> Result<String, ItemErrors> {
        write_presentation(&self.header_for(items), items)
    }

    fn presentation_id(&self, items: &[DebitItem]) -> String {
        let header = self.header_for(items);
        let bank = header.sponsor_bank.get(..4).unwrap_or("BANK");
        format!(
            "ACH-DR-{bank}-{}-{}-{}",
            header.user_number,
            header.settlement_date.strftime("%d%m%Y"),
            items_digest(items)
        )
    }

    fn presentation_file(&self, id: &str) -> String {
        format!("{id}-INP")
    }

    fn response_file(&self, id: &str) -> String {
        format!("{id}-RES")
    }

    fn read(&self, presentation: &str, response: &str) -> Result<ResponseRead, FileError> {
        read_response_to(presentation, response)
    }
}
