//! Properties: any valid items round-trip through each format, and no text or bytes panic a
//! reader.

use proptest::prelude::*;

use super::*;

/// A NACH response per item: debited, returned (04, 01, 59), rejected (21) or pending (82).
const NACH_ANSWERS: [(char, &str); 6] = [
    ('1', "00"),
    ('0', "04"),
    ('0', "01"),
    ('0', "59"),
    ('2', "21"),
    ('3', "82"),
];

fn nach_outcome(flag: char, reason: &str) -> DebitOutcome {
    match flag {
        '1' => DebitOutcome::Paid,
        '3' => DebitOutcome::Pending {
            code: reason.into(),
        },
        _ => DebitOutcome::Returned {
            code: reason.into(),
            text: codes::describe(codes::NACH_REASONS, reason).into(),
        },
    }
}

fn account_type() -> impl Strategy<Value = AccountType> {
    prop_oneof![
        Just(AccountType::Savings),
        Just(AccountType::Current),
        Just(AccountType::CashCredit)
    ]
}

/// A valid NACH item; the reference is made unique by its index afterwards.
fn nach_item() -> impl Strategy<Value = DebitItem> {
    (
        "[A-Za-z0-9_-]{1,22}",
        "[A-Z]{4}[A-Z0-9]{16}",
        1..=1_000_000_000i64,
        "[ -~]{0,39}[!-~]",
        "[A-Za-z0-9]{1,35}",
        prop_oneof!["[A-Z]{4}0[A-Z0-9]{6}", "[0-9]{9}"],
        account_type(),
    )
        .prop_map(
            |(reference, umrn, amount, name, account, bank, kind)| DebitItem {
                reference,
                mandate_ref: umrn,
                amount_minor: amount,
                settlement_date: settlement(),
                debtor_name: name,
                debtor_account: account,
                debtor_bank: bank,
                account_type: kind,
                sec: None,
                reinitiation: false,
            },
        )
}

/// Items with unique references (`{generated}-{index}`).
fn unique(mut items: Vec<DebitItem>) -> Vec<DebitItem> {
    for (i, item) in items.iter_mut().enumerate() {
        item.reference = format!("{}-{i}", item.reference);
    }
    items
}

/// A routing number: 8 digits and the check digit that makes it valid.
fn routing() -> impl Strategy<Value = String> {
    "[0-9]{8}".prop_map(|head| {
        let d: Vec<u32> = head.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5]);
        format!("{head}{}", (10 - sum % 10) % 10)
    })
}

fn sec() -> impl Strategy<Value = Option<SecCode>> {
    prop_oneof![
        Just(None),
        Just(Some(SecCode::Ppd)),
        Just(Some(SecCode::WebRecurring)),
        Just(Some(SecCode::WebSingle))
    ]
}

/// A valid ACH item.
fn nacha_item() -> impl Strategy<Value = DebitItem> {
    (
        (
            "[A-Za-z0-9_-]{1,28}",
            "[ -~]{0,14}[!-~]",
            1..=9_999_999_999i64,
        ),
        ("[ -~]{0,21}[!-~]", "[A-Za-z0-9-]{1,17}", routing()),
        (prop::bool::ANY, sec(), prop::bool::ANY, 0..3i8),
    )
        .prop_map(
            |((reference, id, amount), (name, account, bank), (savings, sec, retry, day))| {
                DebitItem {
                    reference,
                    mandate_ref: id,
                    amount_minor: amount,
                    settlement_date: date(2024, 3, 5 + day),
                    debtor_name: name,
                    debtor_account: account,
                    debtor_bank: bank,
                    account_type: if savings {
                        AccountType::Savings
                    } else {
                        AccountType::Current
                    },
                    sec,
                    reinitiation: retry,
                }
            },
        )
}

/// Every reader and the byte check, on one text: each must answer, never panic.
fn read_everything(text: &str) {
    let _ = nach::read_response(text);
    let _ = nach::read_presentation(text);
    let _ = nach::read_response_to(text, text);
    let _ = nacha::read_presentation(text);
    let _ = nacha::read_returns(text, &[]);
    let _ = nacha::read_returns_to(text, text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn valid_nach_items_round_trip(
        items in prop::collection::vec(nach_item(), 1..40),
        answers in prop::collection::vec(0..NACH_ANSWERS.len(), 40),
    ) {
        let items = unique(items);
        let text = nach::write_presentation(&nach_header(), &items);
        prop_assert!(text.is_ok(), "{:?}", text);
        let text = text.unwrap_or_default();
        let presented: Vec<PresentedItem> = items.iter().map(PresentedItem::from).collect();
        prop_assert_eq!(nach::read_presentation(&text), Ok(presented));
        let answer_of = |reference: &str| {
            let i = items.iter().position(|item| item.reference == reference).unwrap_or(0);
            NACH_ANSWERS[answers[i]]
        };
        let response = nach_files::respond(&text, answer_of);
        let expected: Vec<DebitResult> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let (flag, reason) = NACH_ANSWERS[answers[i]];
                DebitResult {
                    reference: item.reference.clone(),
                    line: i + 2,
                    amount_minor: item.amount_minor,
                    outcome: nach_outcome(flag, reason),
                }
            })
            .collect();
        let read = nach::read_response_to(&text, &response);
        prop_assert_eq!(read, Ok(ResponseRead { results: expected, ..ResponseRead::default() }));
    }

    #[test]
    fn valid_ach_items_round_trip(
        items in prop::collection::vec(nacha_item(), 1..40),
        returned in prop::collection::vec(prop::bool::ANY, 40),
    ) {
        let items = unique(items);
        let text = nacha::write_presentation(&nacha_header(), &items);
        prop_assert!(text.is_ok(), "{:?}", text);
        let text = text.unwrap_or_default();
        prop_assert_eq!(lines(&text).len() % 10, 0);
        let entries = nacha::read_presentation(&text);
        prop_assert!(entries.is_ok(), "{:?}", entries);
        let mut presented: Vec<PresentedItem> =
            entries.unwrap_or_default().into_iter().map(|e| e.item).collect();
        let mut expected_items: Vec<PresentedItem> = items.iter().map(PresentedItem::from).collect();
        presented.sort_by(|a, b| a.reference.cmp(&b.reference));
        expected_items.sort_by(|a, b| a.reference.cmp(&b.reference));
        prop_assert_eq!(presented, expected_items);

        let chosen: Vec<&DebitItem> =
            items.iter().zip(&returned).filter(|(_, r)| **r).map(|(item, _)| item).collect();
        let answers = chosen
            .iter()
            .map(|item| ach_returns::returned(&text, &item.reference, "R01"))
            .collect();
        let read = nacha::read_returns_to(&text, &ach_returns::returns_file(&[("PPD", answers)]));
        prop_assert!(read.is_ok(), "{:?}", read);
        let read = read.unwrap_or_default();
        prop_assert!(read.row_errors.is_empty(), "{:?}", read.row_errors);
        let got: Vec<(String, i64)> =
            read.results.iter().map(|r| (r.reference.clone(), r.amount_minor)).collect();
        let want: Vec<(String, i64)> =
            chosen.iter().map(|i| (i.reference.clone(), i.amount_minor)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(read.unanswered.len(), items.len() - chosen.len());
    }

    #[test]
    fn no_string_panics_a_reader(text in "\\PC{0,700}") {
        read_everything(&text);
    }

    #[test]
    fn no_bytes_panic_a_reader(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        if let Ok(text) = ascii_text(&bytes) {
            read_everything(text);
        }
    }

    #[test]
    fn record_shaped_noise_never_panics_a_reader(
        nach_records in prop::collection::vec("(56|67)[0-9 A-Z]{304}", 0..6),
        ach_records in prop::collection::vec("[156789][0-9 RC]{93}", 0..14),
    ) {
        read_everything(&nach_records.join("\n"));
        read_everything(&ach_records.join("\n"));
    }

    #[test]
    fn a_damaged_file_is_read_or_refused_never_a_panic(
        at in any::<prop::sample::Index>(),
        byte in 0x20u8..0x7f,
        cut_at in any::<prop::sample::Index>(),
    ) {
        let nach_text = nach::write_presentation(&nach_header(), &nach_items(3)).unwrap_or_default();
        let response = nach_files::respond(&nach_text, |_| ('0', "04"));
        let ach_text = nacha::write_presentation(&nacha_header(), &nacha_items(3)).unwrap_or_default();
        let returns = ach_returns::returns_file(&[(
            "PPD",
            vec![ach_returns::returned(&ach_text, "ACH-000002", "R01")],
        )]);
        for (presentation, answer) in [(&nach_text, &response), (&ach_text, &returns)] {
            let mut damaged = answer.clone().into_bytes();
            let i = at.index(damaged.len());
            damaged[i] = byte;
            let damaged = String::from_utf8(damaged).unwrap_or_default();
            let _ = nach::read_response_to(presentation, &damaged);
            let _ = nacha::read_returns_to(presentation, &damaged);
            let truncated = &answer[..cut_at.index(answer.len())];
            let _ = nach::read_response_to(presentation, truncated);
            let _ = nacha::read_returns_to(presentation, truncated);
            // And reading is pure: the same damaged text reads the same twice.
            prop_assert_eq!(
                nacha::read_returns_to(presentation, &damaged),
                nacha::read_returns_to(presentation, &damaged)
            );
        }
    }
}
