//! Tests of the debit file connectors: the shared fixtures and the file-drop connector here; each
//! format in its own file; property tests in `props`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::civil::{Date, DateTime};

use super::nach::{self, NachFiles, NachHeader};
use super::nacha::{self, NachaFiles, NachaHeader, SecCode};
use super::*;

mod ach_returns;
mod nach_files;
mod nach_reading;
mod nacha_files;
mod props;

/// A change to an item that breaks one rule.
pub(super) type Change = fn(&mut DebitItem);

pub(super) fn date(y: i16, m: i8, d: i8) -> Date {
    match Date::new(y, m, d) {
        Ok(date) => date,
        Err(e) => panic!("bad test date: {e}"),
    }
}

pub(super) const SETTLEMENT: (i16, i8, i8) = (2024, 3, 5);

pub(super) fn settlement() -> Date {
    date(SETTLEMENT.0, SETTLEMENT.1, SETTLEMENT.2)
}

pub(super) fn nach_header() -> NachHeader {
    NachHeader {
        user_name: "LOANBOOK FINANCE PVT LTD".into(),
        user_number: "NACH00000000013149".into(),
        user_reference: "000000000000000000".into(),
        sponsor_bank: "ICIC0TREA00".into(),
        user_account: Some("000205025290".into()),
        item_limit_minor: 1_000_000_000,
        settlement_date: settlement(),
        narration: "LOANBOOK EMI".into(),
        product_type: nach::DEFAULT_PRODUCT_TYPE.into(),
        file_number: None,
    }
}

/// The `n`th NACH debit: reference `EMI-{n:06}`, ₹1,000 and `n` paise.
pub(super) fn nach_item(n: u32) -> DebitItem {
    DebitItem {
        reference: format!("EMI-{n:06}"),
        mandate_ref: format!("HDFC{:016}", 10_936_518 + u64::from(n)),
        amount_minor: 100_000 + i64::from(n),
        settlement_date: settlement(),
        debtor_name: "Asha Rao".into(),
        debtor_account: format!("{}", 50_100_000_000u64 + u64::from(n)),
        debtor_bank: "HDFC0002497".into(),
        account_type: AccountType::Savings,
        sec: None,
        reinitiation: false,
    }
}

pub(super) fn nach_items(count: u32) -> Vec<DebitItem> {
    (1..=count).map(nach_item).collect()
}

pub(super) fn nacha_header() -> NachaHeader {
    NachaHeader {
        immediate_destination: "091000019".into(),
        immediate_origin: "1234567890".into(),
        destination_name: "WELLS FARGO".into(),
        origin_name: "LOANBOOK LENDING".into(),
        created: DateTime::constant(2024, 3, 1, 9, 30, 0, 0),
        file_id_modifier: 'A',
        reference_code: String::new(),
        company_name: "LOANBOOK".into(),
        company_discretionary: String::new(),
        company_id: "1234567890".into(),
        entry_description: "LOAN PYMT".into(),
        odfi: "09100001".into(),
        default_sec: SecCode::Ppd,
    }
}

/// Routing numbers with valid check digits (Wells Fargo, Chase, Bank of America).
pub(super) const ROUTINGS: [&str; 3] = ["091000019", "021000021", "026009593"];

/// The `n`th ACH debit: reference `ACH-{n:06}`, $100 and `n` cents.
pub(super) fn nacha_item(n: u32) -> DebitItem {
    DebitItem {
        reference: format!("ACH-{n:06}"),
        mandate_ref: format!("LN{n:08}"),
        amount_minor: 10_000 + i64::from(n),
        settlement_date: date(2024, 3, 5),
        debtor_name: "JOHN DOE".into(),
        debtor_account: format!("{}", 123_456_780 + u64::from(n)),
        debtor_bank: ROUTINGS[n as usize % ROUTINGS.len()].into(),
        account_type: if n % 2 == 0 {
            AccountType::Savings
        } else {
            AccountType::Current
        },
        sec: None,
        reinitiation: false,
    }
}

pub(super) fn nacha_items(count: u32) -> Vec<DebitItem> {
    (1..=count).map(nacha_item).collect()
}

/// The lines of a file, without their endings.
pub(super) fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// `text` with `value` written over line `line` (1-based) from position `pos` (1-based).
pub(super) fn patch(text: &str, line: usize, pos: usize, value: &str) -> String {
    let mut out: Vec<String> = text.lines().map(str::to_owned).collect();
    let target = &mut out[line - 1];
    target.replace_range(pos - 1..pos - 1 + value.len(), value);
    out.join("\n") + "\n"
}

/// A directory of its own under the system's temporary directory, removed when dropped.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("loanbook-debit-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn nach_connector(dir: &TempDir) -> FileConnector<NachFiles> {
    FileConnector::new(
        NachFiles {
            header: nach_header(),
        },
        dir.path().join("out"),
        dir.path().join("in"),
    )
}

#[test]
fn item_errors_name_the_item_field_and_code() {
    let mut item = nach_item(1);
    item.amount_minor = 0;
    let Err(ItemErrors(errors)) = nach::write_presentation(&nach_header(), &[item]) else {
        panic!("a zero amount must be refused");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "item 0: amount_minor must be more than zero"
    );
    let field = errors[0].to_field_error();
    assert_eq!(field.field, "items[0].amount_minor");
    assert_eq!(field.code, "debit.amount_positive");
    assert!(RULES.iter().any(|(code, _)| *code == field.code));
}

#[test]
fn every_rule_code_used_is_listed() {
    let mut item = nach_item(1);
    item.mandate_ref = "bad".into();
    item.debtor_bank = "bad".into();
    item.debtor_name = String::new();
    let mut header = nach_header();
    header.sponsor_bank = "bad".into();
    header.user_number = String::new();
    let Err(ItemErrors(errors)) = nach::write_presentation(&header, &[item.clone(), item]) else {
        panic!("the items break rules");
    };
    for e in &errors {
        assert!(
            RULES.iter().any(|(code, _)| *code == e.code),
            "{} not listed",
            e.code
        );
    }
}

#[test]
fn ascii_text_refuses_other_bytes_with_their_position() {
    assert_eq!(ascii_text(b"56 abc\n67"), Ok("56 abc\n67"));
    assert_eq!(
        ascii_text("56\n67 Ā".as_bytes()),
        Err(FileError::NotAscii { line: 2, column: 4 })
    );
    assert_eq!(
        ascii_text(&[0xff]),
        Err(FileError::NotAscii { line: 1, column: 1 })
    );
}

#[tokio::test]
async fn the_nach_connector_presents_once_and_collects_what_the_bank_answers() {
    let dir = TempDir::new("nach");
    let connector = nach_connector(&dir);
    let items = nach_items(3);
    let presentation = match connector.present(&items).await {
        Ok(p) => p,
        Err(e) => panic!("present: {e}"),
    };
    assert_eq!(presentation.items, 3);
    assert_eq!(presentation.total_minor, 300_006);
    assert!(
        presentation
            .id
            .starts_with("ACH-DR-ICIC-NACH00000000013149-05032024-")
    );
    assert_eq!(presentation.file_name, format!("{}-INP", presentation.id));
    let written =
        std::fs::read_to_string(connector.presentation_path(&presentation.id)).unwrap_or_default();
    assert_eq!(
        Ok(written.clone()),
        nach::write_presentation(&nach_header(), &items)
    );

    // The same items again: the same presentation, no second file, no leftovers.
    let again = connector.present(&items).await.ok();
    assert_eq!(again.as_ref(), Some(&presentation));
    assert_eq!(
        files_in(&dir.path().join("out")),
        vec![presentation.file_name.clone()]
    );

    let early = connector.collect(&presentation.id).await;
    assert!(
        matches!(early, Err(DebitError::NoResponse { .. })),
        "{early:?}"
    );

    let response = nach_files::respond(&written, |reference| match reference {
        "EMI-000002" => ('0', "04"),
        _ => ('1', "00"),
    });
    std::fs::create_dir_all(dir.path().join("in")).ok();
    std::fs::write(connector.response_path(&presentation.id), response).ok();
    let read = connector.collect(&presentation.id).await.ok();
    let outcomes: Option<Vec<(String, DebitOutcome)>> = read.as_ref().map(|r| {
        r.results
            .iter()
            .map(|r| (r.reference.clone(), r.outcome.clone()))
            .collect()
    });
    assert_eq!(
        outcomes,
        Some(vec![
            ("EMI-000001".into(), DebitOutcome::Paid),
            (
                "EMI-000002".into(),
                DebitOutcome::Returned {
                    code: "04".into(),
                    text: "Balance insufficient".into()
                }
            ),
            ("EMI-000003".into(), DebitOutcome::Paid),
        ])
    );
    // Collecting again reads the same answer: applying it twice applies it once.
    assert_eq!(connector.collect(&presentation.id).await.ok(), read);
}

#[tokio::test]
async fn the_connector_refuses_bad_ids_unknown_presentations_and_bad_items() {
    let dir = TempDir::new("refusals");
    let connector = nach_connector(&dir);
    for id in ["../etc/passwd", "", "a/b", "x y"] {
        let r = connector.collect(id).await;
        assert!(matches!(r, Err(DebitError::BadId { .. })), "{id}: {r:?}");
    }
    let r = connector.collect("ACH-DR-ICIC-NOSUCH").await;
    assert!(
        matches!(r, Err(DebitError::UnknownPresentation { .. })),
        "{r:?}"
    );

    let mut items = nach_items(2);
    items[1].settlement_date = date(2024, 3, 6);
    match connector.present(&items).await {
        Err(DebitError::Invalid(ItemErrors(errors))) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(
                (errors[0].index, errors[0].field),
                (Some(1), "settlement_date")
            );
        }
        other => panic!("expected invalid items, got {other:?}"),
    }
    assert!(
        files_in(&dir.path().join("out")).is_empty(),
        "nothing is written"
    );
}

#[tokio::test]
async fn a_broken_response_file_is_refused_with_its_path() {
    let dir = TempDir::new("broken");
    let connector = nach_connector(&dir);
    let Ok(presentation) = connector.present(&nach_items(2)).await else {
        panic!("present");
    };
    std::fs::create_dir_all(dir.path().join("in")).ok();
    let path = connector.response_path(&presentation.id);
    std::fs::write(&path, "56 short\n").ok();
    match connector.collect(&presentation.id).await {
        Err(DebitError::File { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(
                source,
                FileError::RecordLength {
                    line: 1,
                    expected: 306,
                    found: 8
                }
            );
        }
        other => panic!("expected a file error, got {other:?}"),
    }
    std::fs::write(&path, [0xc3, 0xa9]).ok();
    let r = connector.collect(&presentation.id).await;
    assert!(
        matches!(
            r,
            Err(DebitError::File {
                source: FileError::NotAscii { .. },
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn the_ach_connector_presents_with_the_injected_clock_and_collects_returns() {
    let dir = TempDir::new("ach");
    let connector = FileConnector::new(
        NachaFiles {
            header: nacha_header(),
            now: Box::new(|| DateTime::constant(2024, 3, 4, 16, 45, 0, 0)),
        },
        dir.path().join("out"),
        dir.path().join("in"),
    );
    let items = nacha_items(4);
    let Ok(presentation) = connector.present(&items).await else {
        panic!("present");
    };
    assert!(presentation.id.starts_with("ACH-DR-09100001-20240305-"));
    let written =
        std::fs::read_to_string(connector.presentation_path(&presentation.id)).unwrap_or_default();
    assert_eq!(
        &written[23..33],
        "2403041645",
        "creation date and time from the clock"
    );

    let returns = ach_returns::returns_file(&[(
        "PPD",
        vec![ach_returns::returned(&written, "ACH-000003", "R01")],
    )]);
    std::fs::create_dir_all(dir.path().join("in")).ok();
    std::fs::write(connector.response_path(&presentation.id), returns).ok();
    let Ok(read) = connector.collect(&presentation.id).await else {
        panic!("collect");
    };
    assert_eq!(read.results.len(), 1);
    assert_eq!(read.results[0].reference, "ACH-000003");
    assert_eq!(
        read.unanswered,
        vec!["ACH-000001", "ACH-000002", "ACH-000004"]
    );
    assert!(read.row_errors.is_empty());
}
