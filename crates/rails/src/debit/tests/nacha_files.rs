//! NACHA ACH presentation files, returns and notifications of change.

use super::ach_returns::{Answer, changed, entries, return_of, returned, returns_file};
use super::*;
use crate::debit::fixed::cut;

fn presentation(items: &[DebitItem]) -> String {
    match nacha::write_presentation(&nacha_header(), items) {
        Ok(text) => text,
        Err(e) => panic!("the items are valid: {e}"),
    }
}

fn presented(text: &str) -> Vec<nacha::PresentedEntry> {
    match nacha::read_presentation(text) {
        Ok(entries) => entries,
        Err(e) => panic!("our own file reads back: {e}"),
    }
}

fn file_error(presentation: &str, returns: &str) -> FileError {
    match nacha::read_returns(returns, &presented(presentation)) {
        Ok(read) => panic!("expected the file refused, read {read:?}"),
        Err(e) => e,
    }
}

fn read_ok(presentation: &str, returns: &str) -> ResponseRead {
    match nacha::read_returns_to(presentation, returns) {
        Ok(read) => read,
        Err(e) => panic!("the returns must read: {e}"),
    }
}

#[test]
fn routing_numbers_carry_a_check_digit() {
    for good in ROUTINGS {
        assert!(nacha::is_routing(good), "{good}");
    }
    for bad in ["091000018", "09100001", "0910000190", "09100001X"] {
        assert!(!nacha::is_routing(bad), "{bad}");
    }
}

#[test]
fn the_presentation_lays_out_the_reference_positions() {
    let text = presentation(&nacha_items(2));
    let l = lines(&text);
    assert_eq!(l.len(), 10, "8 records padded to a block of 10");
    assert!(l.iter().all(|line| line.len() == 94));
    let file_header = format!(
        "101 0910000191234567890{}{}A094101{:<23}{:<23}{}",
        "240301",
        "0930",
        "WELLS FARGO",
        "LOANBOOK LENDING",
        " ".repeat(8)
    );
    assert_eq!(l[0], file_header);
    let b = l[1];
    assert_eq!(cut(b, 1, 4), "5225");
    assert_eq!(cut(b, 5, 16), "LOANBOOK        ");
    assert_eq!(cut(b, 41, 10), "1234567890");
    assert_eq!(cut(b, 51, 3), "PPD");
    assert_eq!(cut(b, 54, 10), "LOAN PYMT ");
    assert_eq!(cut(b, 70, 6), "240305");
    assert_eq!(cut(b, 76, 3), "   ", "the ACH operator's settlement date");
    assert_eq!(cut(b, 79, 16), "1091000010000001");
    // Item 1: checking, Chase (021000021).
    let e = l[2];
    assert_eq!(cut(e, 1, 3), "627");
    assert_eq!(cut(e, 4, 8), "02100002");
    assert_eq!(cut(e, 12, 1), "1");
    assert_eq!(cut(e, 13, 17), "123456781        ");
    assert_eq!(cut(e, 30, 10), "0000010001");
    assert_eq!(cut(e, 40, 15), "LN00000001     ");
    assert_eq!(cut(e, 55, 22), "JOHN DOE              ");
    assert_eq!(cut(e, 77, 3), "  1", "PPD: no payment type; one addenda");
    assert_eq!(cut(e, 80, 15), "091000010000001");
    assert_eq!(l[3], format!("705ACH-000001{}00010000001", " ".repeat(70)));
    assert_eq!(cut(l[4], 1, 3), "637", "item 2: savings");
}

#[test]
fn the_batch_and_file_controls_add_up() {
    let text = presentation(&nacha_items(2));
    let l = lines(&text);
    let c = l[6];
    assert_eq!(cut(c, 1, 4), "8225");
    assert_eq!(cut(c, 5, 6), "000004");
    assert_eq!(cut(c, 11, 10), "0004700961", "02100002 + 02600959");
    assert_eq!(cut(c, 21, 12), "000000020003");
    assert_eq!(cut(c, 33, 12), "000000000000");
    assert_eq!(cut(c, 45, 10), "1234567890");
    assert_eq!(cut(c, 55, 25).trim(), "");
    assert_eq!(cut(c, 80, 15), "091000010000001");
    let f = l[7];
    assert_eq!(
        f,
        format!(
            "9000001000001000000040004700961000000020003000000000000{}",
            " ".repeat(39)
        )
    );
    assert_eq!(l[8], "9".repeat(94));
    assert_eq!(l[9], "9".repeat(94));
}

#[test]
fn batches_split_by_date_sec_code_and_reinitiation() {
    let mut items = nacha_items(5);
    items[1].sec = Some(SecCode::WebRecurring);
    items[2].settlement_date = date(2024, 3, 6);
    items[3].reinitiation = true;
    items[4].sec = Some(SecCode::WebSingle);
    let text = presentation(&items);
    let headers: Vec<(String, String, String, String)> = lines(&text)
        .iter()
        .filter(|l| l.starts_with('5'))
        .map(|l| {
            (
                cut(l, 51, 3).into(),
                cut(l, 54, 10).trim_end().into(),
                cut(l, 70, 6).into(),
                cut(l, 88, 7).into(),
            )
        })
        .collect();
    let h = |sec: &str, desc: &str, date: &str, n: &str| {
        (
            sec.to_owned(),
            desc.to_owned(),
            date.to_owned(),
            n.to_owned(),
        )
    };
    assert_eq!(
        headers,
        vec![
            h("PPD", "LOAN PYMT", "240305", "0000001"),
            h("WEB", "LOAN PYMT", "240305", "0000002"),
            h("PPD", "LOAN PYMT", "240306", "0000003"),
            h("PPD", "RETRY PYMT", "240305", "0000004"),
        ]
    );
    let payment_types: Vec<&str> = lines(&text)
        .iter()
        .filter(|l| l.starts_with('6') && cut(l, 40, 15).trim_end() != "LN00000001")
        .map(|l| cut(l, 77, 2))
        .collect();
    assert_eq!(payment_types, vec!["R ", "S ", "  ", "  "]);
    let traces: Vec<String> = presented(&text).into_iter().map(|p| p.trace).collect();
    let expected: Vec<String> = (1..=5).map(|n| format!("09100001{n:07}")).collect();
    assert_eq!(traces, expected, "unique, in file order");
    assert_eq!(lines(&text).len() % 10, 0);
}

#[test]
fn returns_and_notices_come_back_by_reference() {
    let items = nacha_items(6);
    let text = presentation(&items);
    let returns = returns_file(&[
        (
            "PPD",
            vec![
                returned(&text, "ACH-000001", "R01"),
                returned(&text, "ACH-000002", "R02"),
            ],
        ),
        (
            "COR",
            vec![changed(&text, "ACH-000004", "C01", "1234567890123")],
        ),
    ]);
    let read = read_ok(&text, &returns);
    let outcomes: Vec<(&str, i64, DebitOutcome)> = read
        .results
        .iter()
        .map(|r| (r.reference.as_str(), r.amount_minor, r.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (
                "ACH-000001",
                10_001,
                DebitOutcome::Returned {
                    code: "R01".into(),
                    text: "Insufficient funds".into()
                }
            ),
            (
                "ACH-000002",
                10_002,
                DebitOutcome::Returned {
                    code: "R02".into(),
                    text: "Account closed".into()
                }
            ),
            (
                "ACH-000004",
                0,
                DebitOutcome::Changed {
                    code: "C01".into(),
                    corrected: "1234567890123".into()
                }
            ),
        ]
    );
    assert!(read.row_errors.is_empty());
    assert_eq!(
        read.unanswered,
        vec!["ACH-000003", "ACH-000005", "ACH-000006"],
        "not returned (yet)"
    );
    assert_eq!(
        nacha::read_returns_to(&text, &returns),
        Ok(read),
        "pure: the same read twice"
    );
}

#[test]
fn the_writer_checks_every_item_before_writing() {
    let cases: Vec<(Change, &str, &str)> = vec![
        (
            |i| i.debtor_bank = "091000018".into(),
            "debtor_bank",
            "nacha.routing",
        ),
        (
            |i| i.debtor_name = "J".repeat(23),
            "debtor_name",
            "debit.text",
        ),
        (
            |i| i.mandate_ref = "L".repeat(16),
            "mandate_ref",
            "debit.text",
        ),
        (
            |i| i.debtor_account = "1".repeat(18),
            "debtor_account",
            "debit.account",
        ),
        (
            |i| i.account_type = AccountType::CashCredit,
            "account_type",
            "debit.account_type",
        ),
        (
            |i| i.amount_minor = 10_000_000_000,
            "amount_minor",
            "debit.amount_digits",
        ),
        (
            |i| i.settlement_date = date(2100, 1, 1),
            "settlement_date",
            "nacha.date",
        ),
    ];
    for (change, field, code) in cases {
        let mut items = nacha_items(3);
        change(&mut items[1]);
        match nacha::write_presentation(&nacha_header(), &items) {
            Err(ItemErrors(errors)) => assert_eq!(
                errors
                    .iter()
                    .map(|e| (e.index, e.field, e.code))
                    .collect::<Vec<_>>(),
                vec![(Some(1), field, code)]
            ),
            Ok(_) => panic!("{field} must be refused"),
        }
    }
    let mut header = nacha_header();
    header.odfi = "0910000".into();
    header.file_id_modifier = 'a';
    header.immediate_destination = "091000018".into();
    let Err(ItemErrors(errors)) = nacha::write_presentation(&header, &nacha_items(1)) else {
        panic!("a bad header must be refused");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        vec![
            "header.immediate_destination",
            "header.odfi",
            "header.file_id_modifier"
        ]
    );
}

fn sample() -> (String, String) {
    let text = presentation(&nacha_items(4));
    let returns = returns_file(&[(
        "PPD",
        vec![
            returned(&text, "ACH-000001", "R01"),
            returned(&text, "ACH-000003", "R02"),
        ],
    )]);
    (text, returns)
}

#[test]
fn records_of_the_wrong_length_empty_and_non_ascii_files_are_refused() {
    let (text, returns) = sample();
    let mut short: Vec<String> = returns.lines().map(str::to_owned).collect();
    short[2].pop();
    assert_eq!(
        file_error(&text, &short.join("\n")),
        FileError::RecordLength {
            line: 3,
            expected: 94,
            found: 93
        }
    );
    let mut long = short.clone();
    long[2] = lines(&returns)[2].to_owned() + "X";
    assert_eq!(
        file_error(&text, &long.join("\n")),
        FileError::RecordLength {
            line: 3,
            expected: 94,
            found: 95
        }
    );
    assert_eq!(file_error(&text, ""), FileError::Empty);
    let accented = returns.replacen("JOHN DOE", "JOHN DOË", 1);
    assert_eq!(
        file_error(&text, &accented),
        FileError::NotAscii {
            line: 3,
            column: 62
        }
    );
}

#[test]
fn truncated_files_are_refused() {
    let (text, returns) = sample();
    let upto = |n: usize| -> String { returns.lines().take(n).map(|l| format!("{l}\n")).collect() };
    assert!(
        matches!(file_error(&text, &upto(4)), FileError::Structure { line: 4, rule } if rule.contains("ends inside batch"))
    );
    assert!(
        matches!(file_error(&text, &upto(7)), FileError::Structure { line: 7, rule } if rule.contains("before its file control"))
    );
    let without_control: String = returns
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(
        matches!(file_error(&text, &without_control), FileError::Structure { line: 8, rule } if rule.contains("truncated"))
    );
}

#[test]
fn control_totals_and_hashes_are_checked() {
    let (text, returns) = sample();
    let cases = [
        (patch(&returns, 7, 5, "000005"), 7, "entry_addenda_count"),
        (patch(&returns, 7, 11, "0000000001"), 7, "entry_hash"),
        (patch(&returns, 7, 21, "000000099999"), 7, "total_debit"),
        (patch(&returns, 7, 33, "000000000001"), 7, "total_credit"),
        (patch(&returns, 8, 2, "000002"), 8, "batch_count"),
        (patch(&returns, 8, 8, "000002"), 8, "block_count"),
        (patch(&returns, 8, 22, "0000000001"), 8, "entry_hash"),
        (patch(&returns, 8, 32, "000000000001"), 8, "total_debit"),
        // An entry's amount changed without its control: the totals no longer add up.
        (patch(&returns, 3, 30, "0000099999"), 7, "total_debit"),
    ];
    for (bad, line, field) in cases {
        match file_error(&text, &bad) {
            FileError::Totals {
                line: l, field: f, ..
            } => assert_eq!((l, f), (line, field)),
            other => panic!("{field}: expected a totals error, got {other:?}"),
        }
    }
}

#[test]
fn bad_headers_dates_and_unknown_batches_are_refused() {
    let (text, returns) = sample();
    let record = |bad: &str| match file_error(&text, bad) {
        FileError::Record { line, field, .. } => (line, field),
        other => panic!("expected a record error, got {other:?}"),
    };
    assert_eq!(
        record(&patch(&returns, 1, 24, "241340")),
        (1, "file_creation_date")
    );
    assert_eq!(
        record(&patch(&returns, 1, 30, "2460")),
        (1, "file_creation_time")
    );
    assert_eq!(record(&patch(&returns, 1, 35, "095")), (1, "record_size"));
    assert_eq!(
        record(&patch(&returns, 2, 70, "240230")),
        (2, "effective_entry_date")
    );
    assert_eq!(
        record(&patch(&returns, 2, 2, "230")),
        (2, "service_class_code")
    );
    assert_eq!(record(&patch(&returns, 3, 1, "4")), (3, "record_type"));
    let structure = |bad: &str| match file_error(&text, bad) {
        FileError::Structure { line, rule } => (line, rule),
        other => panic!("expected a structure error, got {other:?}"),
    };
    let (line, rule) = structure(&patch(&returns, 7, 88, "0000009"));
    assert_eq!(line, 7);
    assert_eq!(
        rule,
        "the batch control closes batch `0000009` but batch `0000001` (line 2) is open"
    );
    let (line, rule) = structure(&patch(&returns, 2, 1, "6"));
    assert_eq!(
        (line, rule.as_str()),
        (
            2,
            "an entry detail outside any batch (no batch header before it)"
        )
    );
    let (line, _) = structure(&patch(&returns, 9, 1, "1"));
    assert_eq!(line, 9, "only padding after the file control");
}

#[test]
fn malformed_rows_are_row_errors_and_the_rest_applies() {
    let (text, returns) = sample();
    let row = |bad: &str| -> (Vec<String>, Vec<(usize, &'static str)>) {
        let read = read_ok(&text, bad);
        (
            read.results.iter().map(|r| r.reference.clone()).collect(),
            read.row_errors.iter().map(|e| (e.line, e.field)).collect(),
        )
    };
    let only_second = vec!["ACH-000003".to_owned()];
    assert_eq!(
        row(&patch(&returns, 3, 30, "00000I0001")),
        (only_second.clone(), vec![(3, "amount")])
    );
    assert_eq!(
        row(&patch(&returns, 4, 4, "X01")),
        (only_second.clone(), vec![(4, "return_code")])
    );
    assert_eq!(
        row(&patch(&returns, 4, 22, "241399")),
        (only_second.clone(), vec![(4, "date_of_death")])
    );
    assert_eq!(
        row(&patch(&returns, 4, 2, "97")),
        (only_second.clone(), vec![(4, "addenda_type")])
    );
    assert_eq!(
        row(&patch(&returns, 3, 79, "0")),
        (only_second.clone(), vec![(3, "addenda_indicator")])
    );
    let unknown = patch(&returns, 4, 7, "091000019999999");
    assert_eq!(row(&unknown), (only_second, vec![(4, "original_trace")]));
    let read = read_ok(&text, &unknown);
    assert_eq!(
        read.row_errors[0].rule,
        "`091000019999999` is not an entry of the presentation"
    );
    assert_eq!(
        read.unanswered,
        vec!["ACH-000001", "ACH-000002", "ACH-000004"]
    );
}

#[test]
fn a_trace_returned_twice_in_one_file_is_a_row_error_on_both() {
    let text = presentation(&nacha_items(3));
    let returns = returns_file(&[(
        "PPD",
        vec![
            returned(&text, "ACH-000002", "R01"),
            returned(&text, "ACH-000001", "R01"),
            returned(&text, "ACH-000002", "R09"),
        ],
    )]);
    let read = read_ok(&text, &returns);
    assert_eq!(read.results.len(), 1);
    assert_eq!(read.results[0].reference, "ACH-000001");
    assert_eq!(
        read.row_errors
            .iter()
            .map(|e| (e.line, e.rule.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (3, "must be unique in the file; it is on lines 3, 7"),
            (7, "must be unique in the file; it is on lines 3, 7"),
        ]
    );
}

#[test]
fn bulk_items_write_and_read_back() {
    let count = 50_000;
    let items = nacha_items(count);
    let text = presentation(&items);
    assert_eq!(presented(&text).len(), count as usize);
    let by_reference = entries(&text);
    let answers: Vec<Answer> = (1..=count)
        .step_by(50)
        .filter_map(|n| by_reference.get(&format!("ACH-{n:06}")))
        .map(|entry| return_of(entry, "R01"))
        .collect();
    let returned_count = answers.len();
    let returns = returns_file(&[("PPD", answers)]);
    let read = read_ok(&text, &returns);
    assert_eq!(read.results.len(), returned_count);
    assert_eq!(read.unanswered.len(), count as usize - returned_count);
    assert!(read.row_errors.is_empty());
}
