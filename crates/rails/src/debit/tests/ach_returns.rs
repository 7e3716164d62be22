//! The bank's side of ACH in tests: returns (addenda 99) and notifications of change (addenda
//! 98) of presented entries, in a returns file with correct controls and padding.

use std::collections::HashMap;

use super::*;
use crate::debit::fixed::{Record, cut};

/// A return or notice entry the bank sends back: the entry record and its addenda.
pub(super) struct Answer {
    entry: String,
    addenda: String,
}

/// The entry records of `presentation` by the reference their addenda 05 carries.
pub(super) fn entries(presentation: &str) -> HashMap<String, &str> {
    lines(presentation)
        .windows(2)
        .filter(|w| w[0].starts_with('6') && w[1].starts_with("705"))
        .map(|w| (cut(w[1], 4, 80).trim_end().to_owned(), w[0]))
        .collect()
}

/// The entry of `presentation` carrying `reference`.
fn entry_of<'a>(presentation: &'a str, reference: &str) -> &'a str {
    match entries(presentation).get(reference) {
        Some(entry) => entry,
        None => panic!("no entry for {reference}"),
    }
}

static SEQUENCE: AtomicUsize = AtomicUsize::new(1);

/// The return entry of an original: transaction code 27→26, 37→36 (the return of a debit), the
/// original's fields (with `amount` if given), a new trace from the RDFI; and the addenda.
fn answer(
    original: &str,
    amount: Option<&str>,
    addenda: impl FnOnce(&mut Record<'_>, &str, &str),
) -> Answer {
    let tx = if cut(original, 2, 2) == "37" {
        "36"
    } else {
        "26"
    };
    let rdfi = cut(original, 4, 8);
    let trace = format!("{rdfi}{:07}", SEQUENCE.fetch_add(1, Ordering::Relaxed));
    let mut entry = String::new();
    Record::begin(&mut entry, 94)
        .alpha(1, "6")
        .alpha(2, tx)
        .alpha(26, &original[3..29])
        .alpha(10, amount.unwrap_or(&original[29..39]))
        .alpha(39, &original[39..78])
        .alpha(1, "1")
        .alpha(15, &trace)
        .end();
    let mut out = String::new();
    let mut record = Record::begin(&mut out, 94);
    addenda(&mut record, cut(original, 80, 15), rdfi);
    record.alpha(15, &trace).end();
    Answer {
        entry: entry.trim_end_matches('\n').to_owned(),
        addenda: out.trim_end_matches('\n').to_owned(),
    }
}

/// A return (addenda 99) of the entry presenting `reference`.
pub(super) fn returned(presentation: &str, reference: &str, code: &str) -> Answer {
    return_of(entry_of(presentation, reference), code)
}

/// A return (addenda 99) of an entry record.
pub(super) fn return_of(original: &str, code: &str) -> Answer {
    answer(original, None, |r, trace, rdfi| {
        r.alpha(1, "7")
            .alpha(2, "99")
            .alpha(3, code)
            .alpha(15, trace)
            .blank(6)
            .alpha(8, rdfi)
            .blank(44);
    })
}

/// A notification of change (addenda 98) of the entry presenting `reference`.
pub(super) fn changed(presentation: &str, reference: &str, code: &str, corrected: &str) -> Answer {
    let zero = Some("0000000000");
    answer(entry_of(presentation, reference), zero, |r, trace, rdfi| {
        r.alpha(1, "7")
            .alpha(2, "98")
            .alpha(3, code)
            .alpha(15, trace)
            .blank(6)
            .alpha(8, rdfi)
            .alpha(29, corrected)
            .blank(15);
    })
}

/// A returns file of batches (SEC code, answers), with correct controls and padding.
pub(super) fn returns_file(batches: &[(&str, Vec<Answer>)]) -> String {
    let mut out = String::new();
    Record::begin(&mut out, 94)
        .alpha(1, "1")
        .alpha(2, "01")
        .alpha(10, " 123456789")
        .alpha(10, " 091000019")
        .alpha(6, "240307")
        .alpha(4, "0800")
        .alpha(1, "A")
        .alpha(3, "094")
        .alpha(2, "10")
        .alpha(1, "1")
        .alpha(23, "LOANBOOK LENDING")
        .alpha(23, "WELLS FARGO")
        .blank(8)
        .end();
    let (mut count, mut hash, mut debits, mut records) = (0u64, 0u64, 0u64, 2u64);
    for (n, (sec, answers)) in batches.iter().enumerate() {
        let number = n as u64 + 1;
        Record::begin(&mut out, 94)
            .alpha(4, "5200")
            .alpha(16, "LOANBOOK")
            .blank(20)
            .alpha(10, "1234567890")
            .alpha(3, sec)
            .alpha(10, "LOAN PYMT")
            .blank(6)
            .alpha(6, "240307")
            .blank(3)
            .alpha(1, "1")
            .alpha(8, "09100001")
            .num(7, number)
            .end();
        let (mut b_hash, mut b_debits) = (0u64, 0u64);
        for a in answers {
            out.push_str(&a.entry);
            out.push('\n');
            out.push_str(&a.addenda);
            out.push('\n');
            b_hash += cut(&a.entry, 4, 8).parse::<u64>().unwrap_or(0);
            b_debits += cut(&a.entry, 30, 10).parse::<u64>().unwrap_or(0);
        }
        let b_count = 2 * answers.len() as u64;
        Record::begin(&mut out, 94)
            .alpha(4, "8200")
            .num(6, b_count)
            .num(10, b_hash % 10_000_000_000)
            .num(12, b_debits)
            .num(12, 0)
            .alpha(10, "1234567890")
            .blank(25)
            .alpha(8, "09100001")
            .num(7, number)
            .end();
        count += b_count;
        hash += b_hash;
        debits += b_debits;
        records += 2 + b_count;
    }
    Record::begin(&mut out, 94)
        .alpha(1, "9")
        .num(6, batches.len() as u64)
        .num(6, records.div_ceil(10))
        .num(8, count)
        .num(10, hash % 10_000_000_000)
        .num(12, debits)
        .num(12, 0)
        .blank(39)
        .end();
    for _ in records..records.div_ceil(10) * 10 {
        out.push_str(&"9".repeat(94));
        out.push('\n');
    }
    out
}
