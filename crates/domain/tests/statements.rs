//! Bank statements: one fixture per bank layout, broken rows, unknown layouts, AA documents, and
//! the analysis of a fixture worked out by hand.

use loanbook_domain::calendar::Date;
use loanbook_domain::origination::statement::{
    Bank, MAX_FILE_BYTES, MAX_ROW_ERRORS, MAX_TRANSACTIONS, Source, Statement, StatementError,
    analyse, read_account_aggregator, read_csv,
};
use proptest::prelude::*;

mod support;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/statements/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn d(y: i16, m: i8, day: i8) -> Date {
    Date::constant(y, m, day)
}

fn csv(name: &str) -> Statement {
    read_csv(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// (date, debit, credit, balance) of every row.
fn rows(s: &Statement) -> Vec<(Date, i64, i64, Option<i64>)> {
    s.transactions
        .iter()
        .map(|t| (t.date, t.debit, t.credit, t.balance))
        .collect()
}

#[test]
fn hdfc() {
    let s = csv("hdfc.csv");
    assert_eq!(s.source, Source::Csv { bank: Bank::Hdfc });
    assert_eq!((s.from, s.to), (d(2025, 1, 1), d(2025, 3, 20)));
    assert_eq!(
        s.transactions.len(),
        9,
        "the summary after the last row is not read"
    );
    assert_eq!(
        rows(&s)[..2],
        [
            (d(2025, 1, 1), 0, 5_000_000, Some(6_000_000)),
            (d(2025, 1, 5), 1_200_000, 0, Some(4_800_000)),
        ]
    );
    let t = &s.transactions[2];
    assert!(
        t.narration.ends_with("500123456789- GROCERIES"),
        "{}",
        t.narration
    );
    assert_eq!(t.reference.as_deref(), Some("0000500123456789"));
    assert_eq!(s.transactions[6].balance, Some(13_000_000));
}

#[test]
fn sbi_rows_come_in_date_order() {
    let s = csv("sbi.csv");
    assert_eq!(s.source, Source::Csv { bank: Bank::Sbi });
    assert_eq!(
        rows(&s),
        [
            (d(2025, 1, 2), 500_000, 0, Some(500_000)),
            (d(2025, 1, 15), 0, 2_000_000, Some(2_500_000)),
            (d(2025, 1, 28), 45_000, 0, Some(2_455_000)),
        ]
    );
    assert_eq!(s.transactions[0].reference, None);
}

#[test]
fn icici() {
    let s = csv("icici.csv");
    assert_eq!(s.source, Source::Csv { bank: Bank::Icici });
    assert_eq!(
        rows(&s),
        [
            (d(2025, 2, 3), 1_500_000, 0, Some(3_500_000)),
            (d(2025, 2, 10), 123_450, 0, Some(3_376_550)),
            (d(2025, 2, 25), 0, 6_500_000, Some(9_876_550)),
        ]
    );
    assert_eq!(s.transactions[0].reference, None, "`-` is no cheque number");
}

#[test]
fn axis_savings_skips_the_opening_balance_and_the_total() {
    let s = csv("axis.csv");
    assert_eq!(s.source, Source::Csv { bank: Bank::Axis });
    assert_eq!(
        rows(&s),
        [
            (d(2025, 3, 3), 0, 200_000, Some(1_000_000)),
            (d(2025, 3, 7), 450_000, 0, Some(550_000)),
            (d(2025, 3, 7), 29_500, 0, Some(520_500)),
        ]
    );
    assert_eq!(s.transactions[1].reference.as_deref(), Some("000123"));
}

#[test]
fn axis_export_has_one_amount_and_a_flag() {
    let s = csv("axis_export.csv");
    assert_eq!(s.source, Source::Csv { bank: Bank::Axis });
    assert_eq!(
        rows(&s),
        [
            (d(2025, 4, 1), 25_000_000, 0, Some(-776_568_230)),
            (d(2025, 4, 2), 0, 10_000_000, Some(-766_568_230)),
        ]
    );
}

#[test]
fn kotak_reads_dr_cr_on_amounts_and_balances() {
    let s = csv("kotak.csv");
    assert_eq!(s.source, Source::Csv { bank: Bank::Kotak });
    assert_eq!(
        rows(&s),
        [
            (d(2025, 5, 2), 25_000, 0, Some(175_000)),
            (d(2025, 5, 5), 300_000, 0, Some(-125_000)),
            (d(2025, 5, 9), 0, 4_000_000, Some(3_875_000)),
        ]
    );
}

#[test]
fn a_wrapped_narration_saying_total_is_not_a_footer() {
    let text = "Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance\n\
                01/01/25,POS 1234 INDIAN OIL,R1,01/01/25,500.00,,500.00\n\
                ,TOTAL FUEL STATION,,,,,\n\
                02/01/25,UPI-TEA,R2,02/01/25,20.00,,480.00\n";
    let s = read_csv(text.as_bytes()).unwrap();
    assert_eq!(s.transactions.len(), 2);
    assert_eq!(
        s.transactions[0].narration,
        "POS 1234 INDIAN OIL TOTAL FUEL STATION"
    );
}

#[test]
fn kotak_split_layout() {
    let text = "Date,Narration,Chq/Ref No.,Withdrawal (Dr),Deposit (Cr),Balance\n\
                01-06-2025,UPI-TEA,R1,20.00,,980.00\n";
    let s = read_csv(text.as_bytes()).unwrap();
    assert_eq!(s.source, Source::Csv { bank: Bank::Kotak });
    assert_eq!(rows(&s), [(d(2025, 6, 1), 2_000, 0, Some(98_000))]);
}

#[test]
fn every_broken_row_is_named_and_nothing_is_read() {
    let Err(StatementError::Rows(errors)) = read_csv(&fixture("hdfc_broken.csv")) else {
        panic!("broken rows must be refused");
    };
    let got: Vec<(usize, &str, &str)> = errors
        .iter()
        .map(|e| (e.row, e.field.as_str(), e.code))
        .collect();
    assert_eq!(
        got,
        [
            (4, "Date", "statement.date"),
            (5, "Withdrawal Amt.", "statement.amount"),
            (6, "Withdrawal Amt.", "statement.direction"),
            (7, "Withdrawal Amt.", "statement.direction"),
        ]
    );
    assert!(errors[0].rule.contains("31/02/25"), "{}", errors[0].rule);
    for e in &errors {
        assert!(
            loanbook_domain::terms::rules::meaning(e.code).is_some(),
            "{}",
            e.code
        );
    }
    assert!(errors[1].rule.contains("1,0a0.00"), "{}", errors[1].rule);
}

#[test]
fn a_bad_flag_and_a_bad_balance() {
    let text = "Sl.No.,Date,Description,Chq / Ref number,Amount,Dr / Cr,Balance,Dr / Cr\n\
                1,02/05/2025,X,R,250.00,XX,100.00,CR\n\
                2,03/05/2025,Y,R,250.00,DR,1.2.3,CR\n";
    let Err(StatementError::Rows(errors)) = read_csv(text.as_bytes()) else {
        panic!("broken rows must be refused");
    };
    let got: Vec<(usize, &str, &str)> = errors
        .iter()
        .map(|e| (e.row, e.field.as_str(), e.code))
        .collect();
    assert_eq!(
        got,
        [
            (2, "Dr / Cr", "statement.flag"),
            (3, "Balance", "statement.amount")
        ]
    );
}

#[test]
fn unknown_layouts_empty_files_and_limits() {
    let Err(StatementError::UnknownLayout { header_hint }) = read_csv(&fixture("unknown.csv"))
    else {
        panic!("an unknown layout must be refused");
    };
    assert_eq!(header_hint, "Bank of Nowhere");
    assert_eq!(read_csv(b""), Err(StatementError::Empty));
    assert_eq!(read_csv(b"  \n\n"), Err(StatementError::Empty));
    let header_only =
        "Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance\n";
    assert_eq!(read_csv(header_only.as_bytes()), Err(StatementError::Empty));
    // A header below the search window is not found.
    let late = format!(
        "{}{header_only}01/01/25,X,,,1.00,,1.00\n",
        "preamble\n".repeat(50)
    );
    assert!(matches!(
        read_csv(late.as_bytes()),
        Err(StatementError::UnknownLayout { .. })
    ));
    let big = vec![b'a'; MAX_FILE_BYTES + 1];
    assert_eq!(
        read_csv(&big),
        Err(StatementError::TooLarge {
            limit: MAX_FILE_BYTES
        })
    );
}

#[test]
fn row_limits() {
    let header = "Tran Date,Chq No,Particulars,Debit,Credit,Balance,Init. br\n";
    let mut text = String::from(header);
    for _ in 0..=MAX_TRANSACTIONS {
        text.push_str("01-03-2025,,UPI,1.00,,5.00,1\n");
    }
    assert_eq!(
        read_csv(text.as_bytes()),
        Err(StatementError::TooLarge {
            limit: MAX_TRANSACTIONS
        })
    );
    let mut text = String::from(header);
    for _ in 0..MAX_ROW_ERRORS + 200 {
        text.push_str("99-99-2025,,UPI,1.00,,5.00,1\n");
    }
    let Err(StatementError::Rows(errors)) = read_csv(text.as_bytes()) else {
        panic!("broken rows must be refused");
    };
    assert_eq!(errors.len(), MAX_ROW_ERRORS);
    assert_eq!(errors[0].row, 2);
}

#[test]
fn aa_xml() {
    let text = String::from_utf8(fixture("aa_deposit.xml")).unwrap();
    let s = read_account_aggregator(&text).unwrap();
    assert_eq!(
        s.source,
        Source::AccountAggregator {
            fip: "ICIC".into(),
            masked_account: "XXXXXXXX5678".into()
        }
    );
    assert_eq!(s.holder.as_deref(), Some("MEERA IYER"));
    assert_eq!((s.from, s.to), (d(2025, 1, 1), d(2025, 2, 28)));
    assert_eq!(
        rows(&s),
        [
            (d(2025, 1, 31), 0, 4_500_000, Some(5_000_000)),
            (d(2025, 2, 5), 850_000, 0, Some(4_150_000)),
        ]
    );
    assert_eq!(
        s.transactions[0].narration,
        "NEFT CR-ACME SALARY JAN & BONUS"
    );
    assert_eq!(s.transactions[0].reference.as_deref(), Some("N031250001"));
}

#[test]
fn aa_json_in_a_fetch_response_with_v2_names() {
    let text = String::from_utf8(fixture("aa_deposit.json")).unwrap();
    let s = read_account_aggregator(&text).unwrap();
    assert_eq!(
        s.source,
        Source::AccountAggregator {
            fip: "FINVU-FIP".into(),
            masked_account: "XXXXXX9012".into()
        }
    );
    assert_eq!(s.holder.as_deref(), Some("ARJUN NAIR"));
    // 20:00 UTC on 1 March is 2 March in India.
    assert_eq!(
        rows(&s),
        [
            (d(2025, 3, 2), 0, 1_400_000, Some(1_400_000)),
            (d(2025, 3, 10), 199_950, 0, Some(1_200_050)),
        ]
    );
}

#[test]
fn aa_documents_name_every_broken_field() {
    let text = String::from_utf8(fixture("aa_deposit.xml"))
        .unwrap()
        .replace(r#"type="CREDIT""#, r#"type="REFUND""#)
        .replace(r#"amount="8500""#, r#"amount="-8500""#)
        .replace(
            r#"transactionTimestamp="2025-02-05T07:00:00+05:30""#,
            r#"transactionTimestamp="05/02/2025""#,
        )
        .replace(r#"version="1.1""#, r#"version="3.0""#);
    let Err(StatementError::Document(errors)) = read_account_aggregator(&text) else {
        panic!("a broken document must be refused");
    };
    let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        got,
        [
            ("Account.version", "fi.version"),
            ("Account.Transactions.Transaction[0].type", "fi.type"),
            ("Account.Transactions.Transaction[1].amount", "fi.amount"),
            (
                "Account.Transactions.Transaction[1].transactionTimestamp",
                "fi.date"
            ),
        ]
    );
    let Err(StatementError::Document(errors)) = read_account_aggregator("<Account") else {
        panic!("broken XML must be refused");
    };
    assert_eq!(errors[0].code, "fi.xml");
    let Err(StatementError::Document(errors)) = read_account_aggregator("{\"account\": 5") else {
        panic!("broken JSON must be refused");
    };
    assert_eq!(errors[0].code, "fi.json");
    let Err(StatementError::Document(errors)) =
        read_account_aggregator(r#"{"account": {"version": "1.1"}}"#)
    else {
        panic!("a document without transactions must be refused");
    };
    let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(got, ["Account.maskedAccNumber", "Account.Transactions"]);
    assert_eq!(read_account_aggregator(" "), Err(StatementError::Empty));
}

/// A month's figures: month, credits, debits, salary, average balance, bounces.
type MonthRow<'a> = (&'a str, i64, i64, Option<i64>, Option<i64>, u32);

/// The HDFC fixture's figures, worked out by hand.
#[test]
fn analysis_of_the_hdfc_fixture() {
    let a = analyse(&csv("hdfc.csv"));
    let months: Vec<MonthRow> = a
        .months
        .iter()
        .map(|m| {
            (
                m.month.as_str(),
                m.credits,
                m.debits,
                m.salary,
                m.average_balance,
                m.bounces,
            )
        })
        .collect();
    // January: 60,000 for 4 days, 48,000 for 5, 45,000 for 22 → 14,70,000 / 31 = 47,419.35.
    // February: 95,000 × 4 + 83,000 × 10 + 78,000 × 14 = 23,02,000 / 28 = 82,214.29.
    // March (1–20, the statement's end): 1,30,000 × 4 + 1,18,000 × 15 + 1,17,410 = 24,07,410 / 20.
    assert_eq!(
        months,
        [
            (
                "2025-01",
                5_000_000,
                1_500_000,
                Some(5_000_000),
                Some(4_741_935),
                0
            ),
            (
                "2025-02",
                5_000_000,
                1_700_000,
                Some(5_000_000),
                Some(8_221_429),
                0
            ),
            (
                "2025-03",
                5_200_000,
                1_259_000,
                Some(5_200_000),
                Some(12_037_050),
                1
            ),
        ]
    );
    assert!(a.salary_detected);
    assert_eq!(a.monthly_income, 5_000_000, "the median salary");
    // (47,419.35 + 82,214.29 + 1,20,370.50) / 3 = 83,334.71.
    assert_eq!(a.average_monthly_balance, 8_333_471);
    assert_eq!(a.bounced_debits, 1);
    assert_eq!(a.bounce_charges, 59_000);
    assert_eq!(a.existing_emi, 1_200_000);
    assert_eq!(a.recurring_debits.len(), 1);
    let emi = &a.recurring_debits[0];
    assert_eq!(
        (
            emi.counterparty.as_str(),
            emi.amount,
            emi.months,
            emi.day_of_month,
            emi.counted_as_emi
        ),
        ("BAJAJ FINANCE LTD", 1_200_000, 3, 5, true)
    );
}

#[test]
fn analysis_without_salary_uses_mean_credits() {
    let a = analyse(&csv("axis.csv"));
    assert!(!a.salary_detected);
    assert_eq!(a.monthly_income, 200_000);
    assert_eq!(a.bounced_debits, 1, "the return charge is one bounce");
    assert_eq!(a.bounce_charges, 29_500);
    assert!(
        a.recurring_debits.is_empty(),
        "one EMI is not yet recurring"
    );
}

#[test]
fn statements_and_analyses_round_trip_as_json() {
    let s = csv("hdfc.csv");
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains("\"credit\":\"50000.00\""), "{text}");
    let back: Statement = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
    let a = analyse(&s);
    let text = serde_json::to_string(&a).unwrap();
    assert!(text.contains("\"monthly_income\":\"50000.00\""), "{text}");
    assert_eq!(
        serde_json::from_str::<loanbook_domain::origination::statement::Analysis>(&text).unwrap(),
        a
    );
}

proptest! {
    #![proptest_config(support::config())]

    #[test]
    fn read_csv_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2_000)) {
        let _ = read_csv(&bytes);
    }

    #[test]
    fn read_csv_never_panics_on_rows_under_a_real_header(
        lines in proptest::collection::vec("[0-9/ ,.A-Za-z\"-]{0,60}", 0..20),
    ) {
        let text = format!(
            "Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance\n{}",
            lines.join("\n")
        );
        if let Ok(s) = read_csv(text.as_bytes()) {
            prop_assert!(s.transactions.windows(2).all(|w| w[0].date <= w[1].date));
            prop_assert!(s.transactions.iter().all(|t| (t.debit > 0) != (t.credit > 0)));
            let a = analyse(&s);
            let credits: i64 = s.transactions.iter().map(|t| t.credit).sum();
            let debits: i64 = s.transactions.iter().map(|t| t.debit).sum();
            prop_assert_eq!(a.months.iter().map(|m| m.credits).sum::<i64>(), credits);
            prop_assert_eq!(a.months.iter().map(|m| m.debits).sum::<i64>(), debits);
        }
    }

    #[test]
    fn read_account_aggregator_never_panics(text in "\\PC{0,300}") {
        let _ = read_account_aggregator(&text);
    }
}
