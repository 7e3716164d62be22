//! The general ledger of the close in the store: balances and journals sum the posted lines with
//! a date cutoff; a book loaded in bulk carries its loans' marks and GL lines, and its ledger is
//! opened once, with the summary lines, the planned accruals and a done close of its date. On
//! SQLite and on PostgreSQL (where bulk rows are COPYed).

mod common;

use std::sync::Arc;

use common::eod::{
    BOOK, DAY, NEXT, audit, bulk_loan, command, count, entry, ids, is_conflict, line, mark, open,
    read_ids, wake,
};
use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    BookOpening, BulkLoan, EodMark, EodRun, NewGlLine, PlannedAccrual, RUN_DONE, Store, StoreError,
};

loanbook_store::on_both_backends!(
    balances_sum_with_a_date_cutoff,
    loan_balances_and_journals_read_the_lines,
    a_bulk_book_carries_its_marks_and_lines,
    a_bulk_book_opens_its_ledger,
    an_opening_is_recorded_once,
    a_bulk_loan_that_does_not_balance_writes_nothing,
);

const OPENED: &str = "2024-05-01T23:00:00Z";

/// Disbursements, a repayment and a co-lending partner's share, of loans L1 and L2.
fn posted_lines() -> Vec<NewGlLine> {
    let entries = [
        ("D1", "2024-05-01", "L1", "loan_principal", "bank", 100_000),
        ("D2", "2024-05-01", "L2", "loan_principal", "bank", 50_000),
        ("R1", "2024-05-03", "L1", "bank", "loan_principal", 10_000),
        (
            "S1",
            "2024-05-02",
            "L1",
            "loan_principal",
            "partner_payable",
            7,
        ),
    ];
    let mut lines: Vec<NewGlLine> = entries
        .iter()
        .flat_map(|(id, on, loan, dr, cr, amount)| entry(id, on, Some(loan), dr, cr, *amount))
        .collect();
    // The co-lending partner's share carries the partner, not the product.
    for l in lines.iter_mut().filter(|l| l.entry_id == "S1") {
        l.partner_id = Some("P1".into());
        l.product_id = None;
    }
    lines
}

/// The trial balance on `date`: account, product, partner, debit, credit.
type Row = (String, Option<String>, Option<String>, i64, i64);

async fn trial_balance(s: &Arc<dyn Store>, date: &str) -> Vec<Row> {
    s.trial_balance(BOOK, date)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.account, b.product_id, b.partner_id, b.debit, b.credit))
        .collect()
}

async fn balances_sum_with_a_date_cutoff(db: &TestDatabase) {
    let s = open(db).await;
    let lines = posted_lines();
    s.post_lines(BOOK, &lines).await.unwrap();
    // Posted twice, or unbalanced: refused, nothing written.
    assert!(matches!(
        s.post_lines(BOOK, &lines[..2]).await,
        Err(StoreError::Duplicate { .. })
    ));
    let bad = vec![line("X", 1, "2024-05-01", "bank", None, 1, 0)];
    assert!(matches!(
        s.post_lines(BOOK, &bad).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(count(db, "gl_lines").await, 8);
    let pl = || Some("PL".to_owned());
    assert_eq!(
        trial_balance(&s, "2024-05-02").await,
        vec![
            ("bank".into(), pl(), None, 0, 150_000),
            ("loan_principal".into(), None, Some("P1".into()), 7, 0),
            ("loan_principal".into(), pl(), None, 150_000, 0),
            ("partner_payable".into(), None, Some("P1".into()), 0, 7),
        ]
    );
    let later = trial_balance(&s, "2024-05-31").await;
    assert_eq!(later[0], ("bank".into(), pl(), None, 10_000, 150_000));
    assert_eq!(
        later[2],
        ("loan_principal".into(), pl(), None, 150_000, 10_000)
    );
    let (dr, cr) = later.iter().fold((0, 0), |(d, c), b| (d + b.3, c + b.4));
    assert_eq!(dr, cr);
    assert!(trial_balance(&s, "2024-04-30").await.is_empty());
}

async fn loan_balances_and_journals_read_the_lines(db: &TestDatabase) {
    let s = open(db).await;
    s.post_lines(BOOK, &posted_lines()).await.unwrap();
    let balances = s.loan_balances(BOOK, "2024-05-03").await.unwrap();
    let l1: Vec<_> = balances
        .iter()
        .filter(|b| b.loan_id == "L1")
        .map(|b| (b.account.as_str(), b.partner_id.as_deref(), b.balance))
        .collect();
    assert_eq!(
        l1,
        vec![
            ("bank", None, -90_000),
            ("loan_principal", None, 90_000),
            ("loan_principal", Some("P1"), 7),
            ("partner_payable", Some("P1"), -7),
        ]
    );
    let before = s.loan_balances(BOOK, "2024-05-01").await.unwrap();
    assert_eq!(before.len(), 4);
    assert!(
        before
            .iter()
            .any(|b| b.loan_id == "L1" && b.account == "bank" && b.balance == -100_000)
    );
    let journal = s.journal(BOOK, "L1").await.unwrap();
    let order: Vec<_> = journal
        .iter()
        .map(|l| (l.entry_id.as_str(), l.line_no))
        .collect();
    assert_eq!(
        order,
        vec![
            ("D1", 1),
            ("D1", 2),
            ("S1", 1),
            ("S1", 2),
            ("R1", 1),
            ("R1", 2)
        ]
    );
    assert!(journal.windows(2).all(|w| w[0].posted_on <= w[1].posted_on));
    assert!(s.journal("other", "L1").await.unwrap().is_empty());
}

fn accrual(day: &str, npa: bool, amount: i64) -> PlannedAccrual {
    PlannedAccrual {
        day: day.into(),
        product_id: "PL".into(),
        npa,
        amount,
    }
}

/// The opening of [`DAY`]: the summary accrual of 75 and what is planned for two days after.
fn opening() -> BookOpening {
    BookOpening {
        date: DAY.into(),
        at: OPENED.into(),
        summary: r#"{"loans":3}"#.into(),
        gl_lines: entry(
            "S-2024-05-01",
            DAY,
            None,
            "interest_receivable",
            "interest_income",
            75,
        ),
        accruals: vec![
            accrual(NEXT, false, 15),
            accrual(NEXT, true, 0),
            accrual("2024-05-03", false, 5),
            accrual("2024-05-03", false, 5),
        ],
    }
}

/// B1a wakes on 2024-05-03, B2a is closed (wakes never), B3b wakes on 2024-05-09.
fn bulk_book() -> Vec<BulkLoan> {
    let wakes = EodMark {
        earned: 30,
        suspended: 6,
        provision: 4,
        npa: true,
        held: true,
        ..mark("B1a", Some("2024-05-03"), "10,10")
    };
    vec![
        bulk_loan("B1a", Some(wakes), 100_000),
        bulk_loan("B2a", Some(mark("B2a", None, "")), 40_000),
        bulk_loan("B3b", Some(mark("B3b", Some("2024-05-09"), "5,5")), 60_000),
    ]
}

async fn a_bulk_book_carries_its_marks_and_lines(db: &TestDatabase) {
    let s = open(db).await;
    let loans = bulk_book();
    s.book_loans(BOOK, &loans).await.unwrap();
    assert!(!s.unmarked_loans(BOOK).await.unwrap());
    // The marks are the book's, in the loans' partitions: a close reads each loan when it wakes.
    let read = s.eod_loans(&wake(10, "2024-05-03", true)).await.unwrap();
    assert_eq!(ids(&read), ["B1a"]);
    assert_eq!(read[0].mark, loans[0].mark);
    assert!(read_ids(&s, &wake(10, NEXT, true)).await.is_empty());
    assert!(read_ids(&s, &wake(11, "2024-05-08", true)).await.is_empty());
    let read = s.eod_loans(&wake(11, "2024-05-09", false)).await.unwrap();
    assert_eq!(ids(&read), ["B3b"]);
    assert_eq!(read[0].mark, loans[2].mark);
    // A bulk booking touches no loan: the closed B2a sleeps until a command writes an event.
    assert!(read_ids(&s, &wake(10, DAY, true)).await.is_empty());
    s.commit(&command("B2a", 1, OPENED, "closed", None))
        .await
        .unwrap();
    let read = s.eod_loans(&wake(10, DAY, false)).await.unwrap();
    assert_eq!(ids(&read), ["B2a"]);
    assert_eq!(read[0].mark, loans[1].mark);
    assert_eq!(read[0].events.len(), 2);
    // Each loan's lines are in its journal and in the trial balance.
    let journal: Vec<_> = s
        .journal(BOOK, "B1a")
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.entry_id, l.line_no, l.account, l.debit, l.credit))
        .collect();
    assert_eq!(
        journal,
        vec![
            ("D-B1a".into(), 1, "loan_principal".into(), 100_000, 0),
            ("D-B1a".into(), 2, "bank".into(), 0, 100_000),
        ]
    );
    assert_eq!(s.journal(BOOK, "B3b").await.unwrap().len(), 2);
    let pl = || Some("PL".to_owned());
    assert_eq!(
        trial_balance(&s, DAY).await,
        vec![
            ("bank".into(), pl(), None, 0, 200_000),
            ("loan_principal".into(), pl(), None, 200_000, 0),
        ]
    );
    assert!(trial_balance(&s, "2024-04-30").await.is_empty());
}

async fn a_bulk_book_opens_its_ledger(db: &TestDatabase) {
    let s = open(db).await;
    s.book_loans(BOOK, &bulk_book()).await.unwrap();
    assert!(s.runs(BOOK, 10).await.unwrap().is_empty());
    s.open_ledger(BOOK, &opening()).await.unwrap();
    let pl = || Some("PL".to_owned());
    assert_eq!(
        trial_balance(&s, DAY).await,
        vec![
            ("bank".into(), pl(), None, 0, 200_000),
            ("interest_income".into(), pl(), None, 0, 75),
            ("interest_receivable".into(), pl(), None, 75, 0),
            ("loan_principal".into(), pl(), None, 200_000, 0),
        ]
    );
    // The summary lines are no loan's.
    assert_eq!(s.journal(BOOK, "B1a").await.unwrap().len(), 2);
    assert!(
        s.loan_balances(BOOK, DAY)
            .await
            .unwrap()
            .iter()
            .all(|b| b.account != "interest_income")
    );
    // What is planned, summed per day, product and flag; zero sums left out.
    assert_eq!(
        s.planned_accruals(BOOK, NEXT).await.unwrap(),
        vec![accrual(NEXT, false, 15)]
    );
    assert_eq!(
        s.planned_accruals(BOOK, "2024-05-03").await.unwrap(),
        vec![accrual("2024-05-03", false, 10)]
    );
    assert_eq!(
        s.runs(BOOK, 10).await.unwrap(),
        vec![EodRun {
            book_id: BOOK.into(),
            business_date: DAY.into(),
            status: RUN_DONE.into(),
            started_at: OPENED.into(),
            finished_at: Some(OPENED.into()),
            summary: Some(r#"{"loans":3}"#.into()),
        }]
    );
    // The close of the date is done: it is not run again, and claims nothing.
    let reopened = s
        .open_run(BOOK, DAY, NEXT, OPENED, &audit("eod", "book"))
        .await;
    assert!(is_conflict(&reopened), "{reopened:?}");
    assert!(
        s.claim(BOOK, DAY, "loans", 16, "w", "t", "t0")
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_opening_is_recorded_once(db: &TestDatabase) {
    let s = open(db).await;
    s.book_loans(BOOK, &bulk_book()).await.unwrap();
    let loans_only = trial_balance(&s, DAY).await;
    // An opening that does not balance is refused before anything is written.
    let mut unbalanced = opening();
    unbalanced.gl_lines.pop();
    assert!(matches!(
        s.open_ledger(BOOK, &unbalanced).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(s.runs(BOOK, 10).await.unwrap().is_empty());
    assert!(s.planned_accruals(BOOK, NEXT).await.unwrap().is_empty());
    assert_eq!(trial_balance(&s, DAY).await, loans_only);
    s.open_ledger(BOOK, &opening()).await.unwrap();
    let state = || async {
        (
            trial_balance(&s, DAY).await,
            s.planned_accruals(BOOK, NEXT).await.unwrap(),
            s.runs(BOOK, 10).await.unwrap(),
        )
    };
    let opened = state().await;
    // Again for the same date, with other lines, accruals and summary: refused, nothing written.
    let again = BookOpening {
        at: "2024-05-02T01:00:00Z".into(),
        summary: "{}".into(),
        gl_lines: entry(
            "S-again",
            DAY,
            None,
            "interest_receivable",
            "interest_income",
            9,
        ),
        accruals: vec![accrual(NEXT, false, 1)],
        ..opening()
    };
    assert!(matches!(
        s.open_ledger(BOOK, &again).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(state().await, opened);
    // Nor over a close of the date that is running.
    s.ensure_book("side", "Side", DAY, OPENED).await.unwrap();
    let (running, _) = s
        .open_run("side", DAY, NEXT, OPENED, &audit("eod", "book"))
        .await
        .unwrap();
    assert!(matches!(
        s.open_ledger("side", &again).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(s.runs("side", 10).await.unwrap(), vec![running]);
    assert!(s.planned_accruals("side", NEXT).await.unwrap().is_empty());
    assert_eq!(state().await, opened);
}

async fn a_bulk_loan_that_does_not_balance_writes_nothing(db: &TestDatabase) {
    let s = open(db).await;
    let mut loans = bulk_book();
    loans[1].gl_lines[1].credit = 39_999;
    assert!(matches!(
        s.book_loans(BOOK, &loans).await,
        Err(StoreError::Corrupt(_))
    ));
    let nothing = || async {
        assert!(s.loan_ids().await.unwrap().is_empty());
        assert!(trial_balance(&s, DAY).await.is_empty());
        assert_eq!(count(db, "eod_marks").await, 0);
        assert_eq!(count(db, "loan_events").await, 0);
        assert!(!s.unmarked_loans(BOOK).await.unwrap());
    };
    nothing().await;
    // A line posted already fails the whole booking, its loans and marks with it.
    loans[1].gl_lines[1].credit = 40_000;
    s.post_lines(BOOK, &loans[2].gl_lines).await.unwrap();
    let posted = trial_balance(&s, DAY).await;
    assert!(matches!(
        s.book_loans(BOOK, &loans).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert!(s.loan_ids().await.unwrap().is_empty());
    assert_eq!(trial_balance(&s, DAY).await, posted);
    assert_eq!(count(db, "eod_marks").await, 0);
    // Balanced and new, the same loans go in whole.
    loans[2].gl_lines = entry(
        "D-B3b-2",
        DAY,
        Some("B3b"),
        "loan_principal",
        "bank",
        60_000,
    );
    s.book_loans(BOOK, &loans).await.unwrap();
    assert_eq!(s.loan_ids().await.unwrap().len(), 3);
    assert_eq!(count(db, "eod_marks").await, 3);
}
