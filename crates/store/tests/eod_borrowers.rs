//! What the close's `borrowers` and `reminders` steps read: the borrowers with a loan NPA or
//! held NPA on the day, every loan of those borrowers with its mark (or none), named loans as a
//! chunk reads them, and the collection demands falling due on a day. On SQLite and on
//! PostgreSQL.

mod common;

use std::sync::Arc;

use common::eod::{BOOK, DAY, command, mark, open, start_close, write_marks};
use loanbook_store::testing::TestDatabase;
use loanbook_store::{EodMark, Store};

loanbook_store::on_both_backends!(
    the_step_reads_npa_borrowers_and_their_facilities,
    demands_are_read_by_due_date_with_something_unpaid,
);

const AT: &str = "2024-04-01T10:00:00Z";

async fn book_for(s: &Arc<dyn Store>, loan: &str, borrower: Option<&str>) {
    let mut c = command(loan, 0, AT, "active", None);
    if let Some(r) = c.new_loan.as_mut() {
        r.borrower_id = borrower.map(str::to_owned);
    }
    s.commit(&c).await.unwrap();
}

async fn the_step_reads_npa_borrowers_and_their_facilities(db: &TestDatabase) {
    let s = open(db).await;
    for (loan, borrower) in [
        ("L1a", Some("B1")),
        ("L2b", Some("B1")),
        ("L3c", Some("B2")),
        ("L4d", Some("B3")),
        ("L5e", Some("B1")),
        ("L6f", None),
    ] {
        book_for(&s, loan, borrower).await;
    }
    start_close(&s).await;
    let own_npa = EodMark {
        npa: true,
        arrears: true,
        ..mark("L1a", Some("2024-05-02"), "")
    };
    let quiet = EodMark {
        day: "2024-04-20".into(),
        ..mark("L2b", Some("2024-05-10"), "12,12")
    };
    let held = EodMark {
        npa: true,
        held: true,
        ..mark("L3c", Some("2024-05-02"), "")
    };
    let standard = mark("L4d", Some("2024-05-02"), "");
    let no_borrower = EodMark {
        npa: true,
        ..mark("L6f", Some("2024-05-02"), "")
    };
    let marks = vec![
        own_npa.clone(),
        quiet.clone(),
        held.clone(),
        standard,
        no_borrower,
    ];
    write_marks(&s, 0, marks).await;
    assert_eq!(s.npa_borrowers(BOOK, DAY).await.unwrap(), ["B1", "B2"]);
    assert!(
        s.npa_borrowers(BOOK, "2024-05-02")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.npa_borrowers("other", DAY).await.unwrap().is_empty());
    let f = s
        .facilities(BOOK, &["B2".into(), "B1".into()])
        .await
        .unwrap();
    assert!(
        f.iter()
            .all(|f| f.loan_number == format!("LN-{}", f.loan_id))
    );
    let seen: Vec<(&str, &str, Option<&EodMark>)> = f
        .iter()
        .map(|f| (f.borrower_id.as_str(), f.loan_id.as_str(), f.mark.as_ref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("B1", "L1a", Some(&own_npa)),
            ("B1", "L2b", Some(&quiet)),
            ("B1", "L5e", None),
            ("B2", "L3c", Some(&held)),
        ]
    );
    assert!(s.facilities(BOOK, &[]).await.unwrap().is_empty());
    let named = s
        .eod_loans_named(BOOK, &["L3c".into(), "L1a".into(), "L9z".into()])
        .await
        .unwrap();
    let ids: Vec<&str> = named.iter().map(|l| l.loan_id.as_str()).collect();
    assert_eq!(ids, ["L1a", "L3c"]);
    assert_eq!(named[1].mark.as_ref(), Some(&held));
    assert_eq!(named[1].borrower_id.as_deref(), Some("B2"));
    assert_eq!(named[0].events.len(), 1);
    assert_eq!(named[0].partner_ids, ["P1", "P2"]);
}

async fn demands_are_read_by_due_date_with_something_unpaid(db: &TestDatabase) {
    let s = open(db).await;
    for loan in ["L1a", "L2b", "L3c", "L4d"] {
        book_for(&s, loan, Some("B1")).await;
    }
    start_close(&s).await;
    let demand = |loan: &str, due_on: &str, amount: i64| EodMark {
        due_installment: Some(3),
        due_on: Some(due_on.into()),
        due_amount: amount,
        currency: Some("INR".into()),
        ..mark(loan, Some(due_on), "")
    };
    let due = demand("L1a", "2024-05-04", 888_488);
    let marks = vec![
        due.clone(),
        demand("L2b", "2024-05-04", 0),
        demand("L3c", "2024-05-05", 100),
        mark("L4d", None, ""),
    ];
    write_marks(&s, 0, marks).await;
    let read = s.demands_due(BOOK, "2024-05-04").await.unwrap();
    assert_eq!(
        read,
        [loanbook_store::Demand {
            loan_id: "L1a".into(),
            installment: 3,
            due_date: "2024-05-04".into(),
            amount: 888_488,
            currency: "INR".into(),
        }],
        "paid in advance: no demand"
    );
    assert!(
        s.demands_due("other", "2024-05-04")
            .await
            .unwrap()
            .is_empty()
    );
    let named = s.eod_loans_named(BOOK, &["L1a".into()]).await.unwrap();
    assert_eq!(named[0].mark.as_ref(), Some(&due));
}
