//! Reading NACH files: the response (`RES`) the sponsor bank returns, and our own presentation
//! (`INP`) read back as the key a response is matched against.

use jiff::civil::Date;

use super::{DETAIL_CODE, HEADER_CODE, RECORD_LEN, REFERENCE_LEN};
use crate::debit::fixed::{self, cut, digits};
use crate::debit::{
    DebitOutcome, FileError, MAX_ITEMS, PresentedItem, ResponseRead, Row, RowError, codes,
};

/// What a file's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    user_number: String,
    sponsor_bank: String,
    settlement_date: Date,
    total_amount: u64,
    total_items: u64,
}

fn header_field(field: &'static str, rule: &str) -> FileError {
    FileError::Record {
        line: 1,
        field,
        rule: rule.to_owned(),
    }
}

fn read_header(record: &str) -> Result<Header, FileError> {
    let code = cut(record, 1, 2);
    if code != HEADER_CODE {
        return Err(header_field(
            "transaction_code",
            &format!("must be `{HEADER_CODE}`: the file starts with its header; found `{code}`"),
        ));
    }
    let total_amount = digits(cut(record, 113, 13))
        .ok_or_else(|| header_field("total_amount", "must be 13 digits (paise)"))?;
    let settlement_date = fixed::ddmmyyyy(cut(record, 126, 8))
        .ok_or_else(|| header_field("settlement_date", "must be a date `DDMMYYYY`"))?;
    let user_number = cut(record, 157, 18).trim_end().to_owned();
    if user_number.is_empty() {
        return Err(header_field("user_number", "must not be blank"));
    }
    let sponsor_bank = cut(record, 193, 11).trim_end().to_owned();
    if sponsor_bank.is_empty() {
        return Err(header_field("sponsor_bank", "must not be blank"));
    }
    let total_items = digits(cut(record, 239, 9))
        .ok_or_else(|| header_field("total_items", "must be 9 digits"))?;
    Ok(Header {
        user_number,
        sponsor_bank,
        settlement_date,
        total_amount,
        total_items,
    })
}

/// The header and detail records of a file, with the totals checked.
struct File<'a> {
    header: Header,
    details: Vec<(usize, &'a str)>,
}

fn read_file(text: &str) -> Result<File<'_>, FileError> {
    let records = fixed::records(text, RECORD_LEN)?;
    if records.len() > MAX_ITEMS + 1 {
        return Err(FileError::TooLarge {
            found: records.len(),
            limit: MAX_ITEMS + 1,
        });
    }
    let Some(((_, first), rest)) = records.split_first() else {
        return Err(FileError::Empty);
    };
    let header = read_header(first)?;
    for &(line, record) in rest {
        match cut(record, 1, 2) {
            DETAIL_CODE => {}
            HEADER_CODE => {
                return Err(FileError::Structure {
                    line,
                    rule: "a second header record: a file holds one header".to_owned(),
                });
            }
            other => {
                return Err(FileError::Record {
                    line,
                    field: "transaction_code",
                    rule: format!("must be `{DETAIL_CODE}` on a detail record, found `{other}`"),
                });
            }
        }
    }
    if header.total_items != rest.len() as u64 {
        return Err(FileError::Totals {
            line: 1,
            field: "total_items",
            declared: header.total_items.to_string(),
            computed: rest.len().to_string(),
        });
    }
    Ok(File {
        header,
        details: rest.to_vec(),
    })
}

/// The header's amount total against the amounts the rows could be read with; unchecked when
/// a row's amount is unreadable (that row is a row error, and gives no result).
fn check_total(header: &Header, amounts: &[Option<u64>]) -> Result<(), FileError> {
    let readable: Option<u128> = amounts.iter().map(|a| a.map(u128::from)).sum();
    match readable {
        Some(sum) if sum != u128::from(header.total_amount) => Err(FileError::Totals {
            line: 1,
            field: "total_amount",
            declared: header.total_amount.to_string(),
            computed: sum.to_string(),
        }),
        _ => Ok(()),
    }
}

fn row_error(line: usize, field: &'static str, rule: impl Into<String>) -> RowError {
    RowError {
        line,
        field,
        rule: rule.into(),
    }
}

/// The reference and amount of a detail record, checked against the header.
fn detail_core(
    line: usize,
    record: &str,
    header: &Header,
) -> (Option<String>, Option<u64>, Result<(), RowError>) {
    let reference = cut(record, 232, REFERENCE_LEN).trim_end();
    let reference_ok = !reference.is_empty() && reference.bytes().all(fixed::is_reference_char);
    let reference = reference_ok.then(|| reference.to_owned());
    let amount = digits(cut(record, 121, 13));
    let check = if reference.is_none() {
        Err(row_error(
            line,
            "reference",
            "must be 1 to 30 letters, digits, `-` or `_`",
        ))
    } else if amount.is_none() {
        Err(row_error(line, "amount", "must be 13 digits (paise)"))
    } else if amount == Some(0) {
        Err(row_error(line, "amount", "must be more than zero"))
    } else if cut(record, 214, 18).trim_end() != header.user_number {
        Err(row_error(
            line,
            "user_number",
            format!("must be the header's user number `{}`", header.user_number),
        ))
    } else if cut(record, 203, 11).trim_end() != header.sponsor_bank {
        Err(row_error(
            line,
            "sponsor_bank",
            format!(
                "must be the header's sponsor bank `{}`",
                header.sponsor_bank
            ),
        ))
    } else {
        Ok(())
    };
    (reference, amount, check)
}

/// The outcome a response detail's flag (154) and reason (155–156) give.
fn outcome(line: usize, flag: &str, reason: &str) -> Result<DebitOutcome, RowError> {
    let reason_is_code = reason.len() == 2 && reason.bytes().all(|b| b.is_ascii_digit());
    match flag {
        "1" if reason == "00" || reason == "  " => Ok(DebitOutcome::Paid),
        "1" => Err(row_error(
            line,
            "reason_code",
            format!("must be `00` on a debited item (flag 1), found `{reason}`"),
        )),
        "3" if reason == "  " => Ok(DebitOutcome::Pending {
            code: String::new(),
        }),
        "0" | "2" | "3" if !reason_is_code => Err(row_error(
            line,
            "reason_code",
            format!("must be two digits, found `{reason}`"),
        )),
        "0" | "2" if reason == "00" => Err(row_error(
            line,
            "reason_code",
            "must give the reason of a returned or rejected item, not `00`",
        )),
        "0" | "2" => Ok(DebitOutcome::Returned {
            code: reason.to_owned(),
            text: codes::describe(codes::NACH_REASONS, reason).to_owned(),
        }),
        "3" => Ok(DebitOutcome::Pending {
            code: reason.to_owned(),
        }),
        " " => Err(row_error(
            line,
            "flag",
            "is blank: the item has no status (is this the presentation file?)",
        )),
        other => Err(row_error(
            line,
            "flag",
            format!(
                "must be 1 (debited), 0 (returned), 2 (rejected) or 3 (pending); `{other}` is not handled"
            ),
        )),
    }
}

/// Reads a response (`RES`) file: one result per sound detail record, in file order, and a row
/// error per malformed one.
///
/// Pure: the same text always gives the same read, so a response applied twice applies once.
/// A structurally bad file is refused whole: not 306-character printable-ASCII records, a bad
/// header (code, totals, settlement date, user number, sponsor bank), a record that is neither
/// header nor detail, a second header, or header totals that the details do not add up to.
pub fn read_response(text: &str) -> Result<ResponseRead, FileError> {
    Ok(read_answered(text)?.1)
}

fn read_answered(text: &str) -> Result<(Header, ResponseRead), FileError> {
    let file = read_file(text)?;
    let mut amounts = Vec::with_capacity(file.details.len());
    let mut rows = Vec::with_capacity(file.details.len());
    for &(line, record) in &file.details {
        let (reference, amount, core) = detail_core(line, record, &file.header);
        amounts.push(amount);
        let result = core.and_then(|()| {
            let outcome = outcome(line, cut(record, 154, 1), cut(record, 155, 2))?;
            let amount = amount.and_then(|a| i64::try_from(a).ok()).unwrap_or(0);
            Ok((amount, outcome))
        });
        rows.push(Row {
            line,
            reference,
            result,
        });
    }
    check_total(&file.header, &amounts)?;
    Ok((file.header, ResponseRead::collate(rows)))
}

/// Reads a presentation (`INP`) file back: each item's reference and amount, the key a response
/// is matched against. The file is ours, so any malformed row refuses it whole.
pub fn read_presentation(text: &str) -> Result<Vec<PresentedItem>, FileError> {
    Ok(read_presented(text)?.1)
}

fn read_presented(text: &str) -> Result<(Header, Vec<PresentedItem>), FileError> {
    let file = read_file(text)?;
    let mut amounts = Vec::with_capacity(file.details.len());
    let mut rows = Vec::with_capacity(file.details.len());
    for &(line, record) in &file.details {
        let (reference, amount, core) = detail_core(line, record, &file.header);
        amounts.push(amount);
        let amount = amount.and_then(|a| i64::try_from(a).ok()).unwrap_or(0);
        rows.push(Row {
            line,
            reference,
            result: core.map(|()| (amount, DebitOutcome::Paid)),
        });
    }
    check_total(&file.header, &amounts)?;
    let read = ResponseRead::collate(rows);
    if let Some(e) = read.row_errors.into_iter().next() {
        return Err(FileError::Record {
            line: e.line,
            field: e.field,
            rule: e.rule,
        });
    }
    let items = read
        .results
        .into_iter()
        .map(|r| PresentedItem {
            reference: r.reference,
            amount_minor: r.amount_minor,
        })
        .collect();
    Ok((file.header, items))
}

/// Reads a response file as the answer to a presentation file: the response must carry the
/// presentation's user number, sponsor bank and settlement date (else it answers another
/// batch and is refused), and its results are [reconciled](ResponseRead::reconcile) with the
/// presented items. Pure, as [`read_response`].
pub fn read_response_to(presentation: &str, response: &str) -> Result<ResponseRead, FileError> {
    let (presented_header, presented) =
        read_presented(presentation).map_err(|e| FileError::Presentation(Box::new(e)))?;
    let (answered, read) = read_answered(response)?;
    let key = |h: &Header| {
        (
            h.user_number.clone(),
            h.sponsor_bank.clone(),
            h.settlement_date,
        )
    };
    if key(&answered) != key(&presented_header) {
        return Err(FileError::Structure {
            line: 1,
            rule: format!(
                "the response answers user number `{}` at `{}` for {}; the presentation was `{}` at `{}` for {}",
                answered.user_number,
                answered.sponsor_bank,
                answered.settlement_date,
                presented_header.user_number,
                presented_header.sponsor_bank,
                presented_header.settlement_date
            ),
        });
    }
    Ok(read.reconcile(&presented))
}

/// The response a sponsor bank returns to `presentation`, as a simulator makes it: every detail
/// record with an item sequence number, a checksum, a flag and a reason code filled in
/// (`answer` gives the flag, `1` debited, `0` returned or `3` pending, and the two-character
/// reason for each reference: `00` on a debited item); the header as presented. A line too
/// short to carry them is left as it is.
pub fn respond_to(presentation: &str, answer: impl Fn(&str) -> (char, String)) -> String {
    let mut out = String::with_capacity(presentation.len());
    for (i, line) in presentation.lines().enumerate() {
        let mut line = line.to_owned();
        if i > 0 && line.len() == RECORD_LEN && line.is_ascii() {
            let reference = cut(&line, 232, REFERENCE_LEN).trim_end().to_owned();
            let (flag, reason) = answer(&reference);
            let reason: String = format!("{reason:0>2}").chars().take(2).collect();
            let filled = format!(
                "{:010}{:010}{flag}{reason}",
                4_764_222_450u64 + i as u64,
                4_081_750_481u64
            );
            line.replace_range(133..156, &filled);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
