//! NACH ACH-DR presentation and response files.

use super::*;
use crate::debit::fixed::cut;

/// The bank's response to a presentation (see [`nach::respond_to`]).
pub(super) fn respond(presentation: &str, answer: impl Fn(&str) -> (char, &'static str)) -> String {
    nach::respond_to(presentation, |r| {
        let (flag, reason) = answer(r);
        (flag, reason.to_owned())
    })
}

pub(super) fn returned(code: &str, text: &str) -> DebitOutcome {
    DebitOutcome::Returned {
        code: code.into(),
        text: text.into(),
    }
}

pub(super) fn read_ok(response: &str) -> ResponseRead {
    match nach::read_response(response) {
        Ok(read) => read,
        Err(e) => panic!("the response must read: {e}"),
    }
}

pub(super) fn presentation(count: u32) -> String {
    match nach::write_presentation(&nach_header(), &nach_items(count)) {
        Ok(text) => text,
        Err(e) => panic!("the items are valid: {e}"),
    }
}

pub(super) fn file_error(response: &str) -> FileError {
    match nach::read_response(response) {
        Ok(read) => panic!("expected the file refused, read {read:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_presentation_lays_out_the_reference_positions() {
    let text = presentation(2);
    assert!(text.ends_with('\n') && !text.contains('\r'));
    let l = lines(&text);
    assert_eq!(l.len(), 3, "a header and one detail per item, no trailer");
    assert!(l.iter().all(|line| line.len() == 306));
    let h = l[0];
    assert_eq!(cut(h, 1, 2), "56");
    assert_eq!(cut(h, 3, 7), "       ");
    assert_eq!(cut(h, 10, 40).trim_end(), "LOANBOOK FINANCE PVT LTD");
    assert_eq!(cut(h, 100, 13), "0001000000000", "the item limit, paise");
    assert_eq!(cut(h, 113, 13), "0000000200003", "the total, paise");
    assert_eq!(cut(h, 126, 8), "05032024");
    assert_eq!(
        cut(h, 134, 23).trim(),
        "",
        "NPCI's sequence number and checksum"
    );
    assert_eq!(cut(h, 157, 18), "NACH00000000013149");
    assert_eq!(cut(h, 175, 18), "000000000000000000");
    assert_eq!(cut(h, 193, 11), "ICIC0TREA00");
    assert_eq!(cut(h, 204, 35).trim_end(), "000205025290");
    assert_eq!(cut(h, 239, 9), "000000002");
    assert_eq!(cut(h, 248, 59).trim(), "");

    let d = l[1];
    assert_eq!(cut(d, 1, 2), "67");
    assert_eq!(cut(d, 12, 2), "10", "savings");
    assert_eq!(cut(d, 32, 40).trim_end(), "Asha Rao");
    assert_eq!(cut(d, 88, 20).trim_end(), "LOANBOOK EMI");
    assert_eq!(cut(d, 121, 13), "0000000100001");
    assert_eq!(cut(d, 134, 23).trim(), "", "filled by NPCI in the response");
    assert_eq!(cut(d, 157, 11), "HDFC0002497");
    assert_eq!(cut(d, 168, 35).trim_end(), "50100000001");
    assert_eq!(cut(d, 203, 11), "ICIC0TREA00");
    assert_eq!(cut(d, 214, 18), "NACH00000000013149");
    assert_eq!(cut(d, 232, 30).trim_end(), "EMI-000001");
    assert_eq!(cut(d, 262, 3), "10 ");
    assert_eq!(cut(d, 265, 15).trim(), "", "Aadhaar: APBS only");
    assert_eq!(cut(d, 280, 20), "HDFC0000000010936519");
    assert_eq!(cut(d, 300, 7), "       ");
}

#[test]
fn a_response_gives_each_item_its_raw_code() {
    let text = presentation(6);
    let response = respond(&text, |reference| match reference {
        "EMI-000002" => ('0', "04"),
        "EMI-000003" => ('0', "01"),
        "EMI-000004" => ('0', "59"),
        "EMI-000005" => ('2', "21"),
        "EMI-000006" => ('3', "82"),
        _ => ('1', "00"),
    });
    let read = nach::read_response_to(&text, &response);
    let expected = [
        DebitOutcome::Paid,
        returned("04", "Balance insufficient"),
        returned("01", "Account closed"),
        returned("59", "Network failure (CBS)"),
        returned("21", "Invalid UMRN or inactive mandate"),
        DebitOutcome::Pending { code: "82".into() },
    ];
    let expected: Vec<DebitResult> = expected
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| DebitResult {
            reference: format!("EMI-{:06}", i + 1),
            line: i + 2,
            amount_minor: 100_001 + i as i64,
            outcome,
        })
        .collect();
    assert_eq!(
        read,
        Ok(ResponseRead {
            results: expected,
            row_errors: vec![],
            unanswered: vec![],
        })
    );
}

#[test]
fn the_reference_sample_line_reads_as_debited() {
    // RZP-T's sample RES line: ₹3,000.00, item seq 4764222450, checksum 4081750481, flag 1,
    // reason 00, HDFC0002497, CITI000PIGW, NACH00000000013149, product `10 `, its UMRN.
    let mut header = nach_header();
    header.sponsor_bank = "CITI000PIGW".into();
    let mut item = nach_item(1);
    item.amount_minor = 300_000;
    item.mandate_ref = "HDFC0000000010936518".into();
    let Ok(text) = nach::write_presentation(&header, &[item]) else {
        panic!("valid");
    };
    let response = respond(&text, |_| ('1', "00"));
    let d = lines(&response)[1];
    assert_eq!(cut(d, 121, 13), "0000000300000");
    assert_eq!(cut(d, 134, 10), "4764222451");
    assert_eq!(cut(d, 154, 3), "100");
    let read = read_ok(&response);
    assert_eq!(read.results[0].outcome, DebitOutcome::Paid);
    assert_eq!(read.results[0].amount_minor, 300_000);
}

/// One broken rule per case: the change, and the field and code it breaks.
fn nach_rule_cases() -> Vec<(Change, &'static str, &'static str)> {
    vec![
        (
            |i| i.mandate_ref = "HDFC000000001093651".into(),
            "mandate_ref",
            "nach.umrn",
        ),
        (
            |i| i.mandate_ref = "1234000000001093651X".into(),
            "mandate_ref",
            "nach.umrn",
        ),
        (
            |i| i.reference = "R".repeat(31),
            "reference",
            "nach.reference",
        ),
        (
            |i| i.reference = "EMI 1".into(),
            "reference",
            "debit.reference",
        ),
        (
            |i| i.amount_minor = -5,
            "amount_minor",
            "debit.amount_positive",
        ),
        (
            |i| i.amount_minor = 1_000_000_001,
            "amount_minor",
            "nach.item_limit",
        ),
        (
            |i| i.amount_minor = 10_000_000_000_000,
            "amount_minor",
            "debit.amount_digits",
        ),
        (
            |i| i.debtor_name = "Āsha Rao".into(),
            "debtor_name",
            "debit.text",
        ),
        (
            |i| i.debtor_name = "A".repeat(41),
            "debtor_name",
            "debit.text",
        ),
        (
            |i| i.debtor_name = "   ".into(),
            "debtor_name",
            "debit.text",
        ),
        (
            |i| i.debtor_account = "5010-0000".into(),
            "debtor_account",
            "debit.account",
        ),
        (
            |i| i.debtor_bank = "HDFC1002497".into(),
            "debtor_bank",
            "debit.bank",
        ),
        (
            |i| i.settlement_date = date(2024, 3, 6),
            "settlement_date",
            "nach.settlement_date",
        ),
    ]
}

#[test]
fn the_writer_checks_every_item_before_writing() {
    let header = nach_header();
    let cases = nach_rule_cases();
    for (change, field, code) in cases {
        let mut items = nach_items(3);
        change(&mut items[2]);
        match nach::write_presentation(&header, &items) {
            // That item's rule only (the file's total is judged too: 13 digits overflow it).
            Err(ItemErrors(errors)) => assert_eq!(
                errors
                    .iter()
                    .filter(|e| e.index.is_some())
                    .map(|e| (e.index, e.field, e.code))
                    .collect::<Vec<_>>(),
                vec![(Some(2), field, code)],
                "{errors:?}"
            ),
            Ok(_) => panic!("{field} ({code}) must be refused"),
        }
    }
    // A MICR code is a bank identifier too.
    let mut items = nach_items(1);
    items[0].debtor_bank = "400240015".into();
    assert!(nach::write_presentation(&header, &items).is_ok());
}

#[test]
fn the_writer_checks_the_file_as_a_whole() {
    let mut items = nach_items(3);
    items[2].reference = items[0].reference.clone();
    let Err(ItemErrors(errors)) = nach::write_presentation(&nach_header(), &items) else {
        panic!("a duplicate reference must be refused");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].index, errors[0].code),
        (Some(2), "debit.reference_unique")
    );
    assert_eq!(
        errors[0].rule,
        "must be unique; item 0 has `EMI-000001` too"
    );

    let Err(ItemErrors(errors)) = nach::write_presentation(&nach_header(), &[]) else {
        panic!("an empty file must be refused");
    };
    assert_eq!((errors[0].index, errors[0].field), (None, "items"));

    let mut header = nach_header();
    header.sponsor_bank = "ICIC".into();
    header.user_name = String::new();
    header.item_limit_minor = 0;
    let Err(ItemErrors(errors)) = nach::write_presentation(&header, &nach_items(1)) else {
        panic!("a bad header must be refused");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        vec![
            "header.user_name",
            "header.sponsor_bank",
            "header.item_limit_minor"
        ]
    );
}
