//! Reading NACH response files: malformed files and rows, duplicates, unknown references,
//! another batch's response, purity, and bulk.

use super::nach_files::{file_error, presentation, read_ok, respond};
use super::*;

#[test]
fn records_of_the_wrong_length_refuse_the_file() {
    let response = respond(&presentation(3), |_| ('1', "00"));
    let mut short: Vec<String> = response.lines().map(str::to_owned).collect();
    short[2].pop();
    assert_eq!(
        file_error(&short.join("\n")),
        FileError::RecordLength {
            line: 3,
            expected: 306,
            found: 305
        }
    );
    let mut long: Vec<String> = response.lines().map(str::to_owned).collect();
    long[1].push(' ');
    assert_eq!(
        file_error(&long.join("\n")),
        FileError::RecordLength {
            line: 2,
            expected: 306,
            found: 307
        }
    );
    // Cut off in the middle of a record.
    let truncated = &response[..response.len() - 100];
    assert_eq!(
        file_error(truncated),
        FileError::RecordLength {
            line: 4,
            expected: 306,
            found: 207
        }
    );
}

#[test]
fn a_truncated_or_padded_file_breaks_its_totals() {
    let response = respond(&presentation(3), |_| ('1', "00"));
    let fewer: String = response.lines().take(3).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        file_error(&fewer),
        FileError::Totals {
            line: 1,
            field: "total_items",
            declared: "3".into(),
            computed: "2".into()
        }
    );
    let amount = patch(&response, 1, 113, "0000000300004");
    assert_eq!(
        file_error(&amount),
        FileError::Totals {
            line: 1,
            field: "total_amount",
            declared: "300004".into(),
            computed: "300006".into()
        }
    );
}

#[test]
fn a_bad_header_refuses_the_file() {
    let response = respond(&presentation(1), |_| ('1', "00"));
    let cases = [
        (patch(&response, 1, 126, "31022024"), "settlement_date"),
        (patch(&response, 1, 126, "0503202A"), "settlement_date"),
        (patch(&response, 1, 113, "00000001000 1"), "total_amount"),
        (patch(&response, 1, 239, "00000000X"), "total_items"),
        (patch(&response, 1, 157, &" ".repeat(18)), "user_number"),
        (patch(&response, 1, 1, "67"), "transaction_code"),
    ];
    for (text, field) in cases {
        match file_error(&text) {
            FileError::Record {
                line: 1, field: f, ..
            } => assert_eq!(f, field),
            other => panic!("{field}: expected a header error, got {other:?}"),
        }
    }
    let second_header = patch(&response, 2, 1, "56");
    assert!(matches!(
        file_error(&second_header),
        FileError::Structure { line: 2, .. }
    ));
    let unknown_record = patch(&response, 2, 1, "99");
    assert!(matches!(
        file_error(&unknown_record),
        FileError::Record {
            line: 2,
            field: "transaction_code",
            ..
        }
    ));
}

#[test]
fn empty_and_non_ascii_files_are_refused() {
    assert_eq!(nach::read_response(""), Err(FileError::Empty));
    assert_eq!(nach::read_response("\n\n"), Err(FileError::Empty));
    let response = respond(&presentation(2), |_| ('1', "00"));
    let accented = response.replacen("Asha Rao", "Ásha Rao", 1);
    assert_eq!(
        nach::read_response(&accented),
        Err(FileError::NotAscii {
            line: 2,
            column: 32
        })
    );
    let tab = response.replacen("Asha Rao", "Asha\tRao", 1);
    assert_eq!(
        nach::read_response(&tab),
        Err(FileError::NotAscii {
            line: 2,
            column: 36
        })
    );
}

#[test]
fn a_malformed_row_is_a_row_error_and_the_rest_applies() {
    let text = presentation(4);
    let response = respond(&text, |_| ('1', "00"));
    let bad_amount = patch(&response, 3, 121, "00000001O0002");
    let read = read_ok(&bad_amount);
    assert_eq!(
        read.row_errors,
        vec![RowError {
            line: 3,
            field: "amount",
            rule: "must be 13 digits (paise)".into()
        }]
    );
    let references: Vec<&str> = read.results.iter().map(|r| r.reference.as_str()).collect();
    assert_eq!(references, vec!["EMI-000001", "EMI-000003", "EMI-000004"]);
    let reconciled = nach::read_response_to(&text, &bad_amount).unwrap_or_default();
    assert_eq!(reconciled.unanswered, vec!["EMI-000002"]);

    let flags = [
        ("5", "00", "flag"),
        (" ", "  ", "flag"),
        ("1", "04", "reason_code"),
        ("0", "00", "reason_code"),
        ("0", "4 ", "reason_code"),
    ];
    for (flag, reason, field) in flags {
        let bad = patch(&response, 2, 154, &format!("{flag}{reason}"));
        let read = read_ok(&bad);
        assert_eq!(read.results.len(), 3, "{flag}{reason}");
        assert_eq!(
            (read.row_errors[0].line, read.row_errors[0].field),
            (2, field)
        );
    }
    let other_user = patch(&response, 4, 214, "NACH00000000099999");
    assert_eq!(read_ok(&other_user).row_errors[0].field, "user_number");
    let no_reference = patch(&response, 4, 232, &" ".repeat(30));
    assert_eq!(read_ok(&no_reference).row_errors[0].field, "reference");
}

#[test]
fn duplicate_and_unknown_references_are_row_errors() {
    let text = presentation(3);
    let response = respond(&text, |_| ('1', "00"));
    let duplicate = patch(&response, 4, 232, "EMI-000001");
    let read = read_ok(&duplicate);
    assert_eq!(
        read.results.len(),
        1,
        "neither copy of the duplicate applies"
    );
    assert_eq!(read.results[0].reference, "EMI-000002");
    assert_eq!(
        read.row_errors,
        vec![
            RowError {
                line: 2,
                field: "reference",
                rule: "must be unique in the file; it is on lines 2, 4".into()
            },
            RowError {
                line: 4,
                field: "reference",
                rule: "must be unique in the file; it is on lines 2, 4".into()
            },
        ]
    );

    let unknown = patch(&response, 3, 232, "EMI-999999");
    let Ok(read) = nach::read_response_to(&text, &unknown) else {
        panic!("the file is sound");
    };
    assert_eq!(
        read.row_errors,
        vec![RowError {
            line: 3,
            field: "reference",
            rule: "`EMI-999999` is not an item of the presentation".into()
        }]
    );
    assert_eq!(read.unanswered, vec!["EMI-000002"]);

    // An amount the bank changed is not applied ("amount tampering").
    let tampered = patch(
        &patch(&response, 3, 121, "0000000100012"),
        1,
        113,
        "0000000300016",
    );
    let Ok(read) = nach::read_response_to(&text, &tampered) else {
        panic!("the file is sound");
    };
    assert_eq!(read.row_errors[0].field, "amount");
    assert_eq!(
        read.row_errors[0].rule,
        "is 100012 in the file; `EMI-000002` was presented for 100002"
    );
}

/// `response` with `value` at `header_pos` of its header and `detail_pos` of every detail.
fn everywhere(response: &str, header_pos: usize, detail_pos: Option<usize>, value: &str) -> String {
    let mut out = patch(response, 1, header_pos, value);
    if let Some(pos) = detail_pos {
        for line in 2..=lines(response).len() {
            out = patch(&out, line, pos, value);
        }
    }
    out
}

#[test]
fn a_response_for_another_batch_is_refused() {
    let text = presentation(2);
    let response = respond(&text, |_| ('1', "00"));
    let others = [
        everywhere(&response, 157, Some(214), "NACH00000000099999"),
        everywhere(&response, 193, Some(203), "CITI000PIGW"),
        everywhere(&response, 126, None, "06032024"),
    ];
    for other in others {
        assert!(nach::read_response(&other).is_ok(), "sound on its own");
        match nach::read_response_to(&text, &other) {
            Err(FileError::Structure { line: 1, rule }) => {
                assert!(rule.starts_with("the response answers"), "{rule}");
            }
            other => panic!("expected another batch refused, got {other:?}"),
        }
    }
}

#[test]
fn crlf_line_endings_read_the_same() {
    let response = respond(&presentation(3), |r| {
        if r == "EMI-000002" {
            ('0', "04")
        } else {
            ('1', "00")
        }
    });
    let crlf = response.replace('\n', "\r\n");
    assert_eq!(nach::read_response(&crlf), nach::read_response(&response));
    let no_final_newline = response.trim_end_matches('\n');
    assert_eq!(
        nach::read_response(no_final_newline),
        nach::read_response(&response)
    );
}

#[test]
fn reading_is_pure_so_a_response_applied_twice_gives_the_same_results() {
    let text = presentation(5);
    let response = respond(&text, |r| {
        if r.ends_with('3') {
            ('0', "04")
        } else {
            ('1', "00")
        }
    });
    let first = nach::read_response_to(&text, &response);
    let second = nach::read_response_to(&text, &response);
    assert!(first.is_ok());
    assert_eq!(first, second);
    let read = read_ok(&response);
    let items: Vec<PresentedItem> = nach_items(5).iter().map(PresentedItem::from).collect();
    assert_eq!(
        read.clone().reconcile(&items),
        read.reconcile(&items).reconcile(&items),
        "reconciling is idempotent too"
    );
}

#[test]
fn a_presentation_reads_back_as_its_items() {
    let items = nach_items(4);
    let text = presentation(4);
    let presented: Vec<PresentedItem> = items.iter().map(PresentedItem::from).collect();
    assert_eq!(nach::read_presentation(&text), Ok(presented));
    // The presentation is not a response: its flags are blank.
    let read = read_ok(&text);
    assert!(read.results.is_empty());
    assert!(read.row_errors.iter().all(|e| e.field == "flag"));
}

#[test]
fn bulk_items_write_and_read_back() {
    let count = 50_000;
    let items = nach_items(count);
    let Ok(text) = nach::write_presentation(&nach_header(), &items) else {
        panic!("valid");
    };
    let response = respond(&text, |r| {
        if r.ends_with('7') {
            ('0', "04")
        } else {
            ('1', "00")
        }
    });
    let Ok(read) = nach::read_response_to(&text, &response) else {
        panic!("sound");
    };
    assert_eq!(read.results.len(), count as usize);
    assert!(read.row_errors.is_empty() && read.unanswered.is_empty());
    let returned = read
        .results
        .iter()
        .filter(|r| matches!(r.outcome, DebitOutcome::Returned { .. }))
        .count();
    assert_eq!(returned, count as usize / 10);
}
