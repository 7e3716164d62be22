//! What a chunk of the close reads and what it leaves for the next close: the loans that wake
//! (their mark wakes on the day or earlier, a command wrote an event their mark has not seen, or
//! no close has seen them) page by page in id order with their history and mark; the marks and
//! planned accruals a chunk writes; and whether a book holds a loan without a mark. On SQLite
//! and on PostgreSQL.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::eod::{
    BOOK, DAY, NEXT, TERMS, book, book_in, bulk_loan, chunk, command, ids, is_conflict, mark, open,
    read_ids, start_close, wake, write_marks,
};
use loanbook_store::testing::TestDatabase;
use loanbook_store::{EodMark, PlannedAccrual, Store, StoreError, WakeQuery, partition_of};

loanbook_store::on_both_backends!(
    loans_are_read_by_partition_and_cursor,
    what_wakes_a_loan_is_its_mark_a_command_or_no_mark,
    a_mark_that_covers_a_command_puts_the_loan_back_to_sleep,
    a_read_loan_carries_its_terms_snapshot_and_events,
    the_sql_partition_agrees_with_partition_of,
    marks_round_trip_with_wake_on_and_plan,
    planned_accruals_add_up_across_chunks,
    unmarked_loans_until_every_loan_has_a_mark,
);

/// Before the close of [`DAY`] started.
const OLD: &str = "2024-01-01T10:00:00Z";
/// During the close of [`DAY`].
const NEW: &str = "2024-05-01T21:00:00Z";

/// A book whose partition 10 holds loans that wake in each way and in none, each with a mark of
/// version 1 unless said otherwise:
///
/// | loan | wakes on   | events                    | read by a close of [`NEXT`]            |
/// |------|------------|---------------------------|----------------------------------------|
/// | L1a  | 2024-05-01 | 1                         | yes: it woke before                    |
/// | L2a  | 2024-06-01 | 2, before the mark        | yes: its mark has not seen event 2     |
/// | L3A  | 2024-05-02 | 1                         | yes: it wakes on the day               |
/// | L4a  | 2024-05-03 | 1                         | no: it wakes the day after             |
/// | L5a  | no mark    | 1, booked in bulk         | only when unmarked loans are asked for |
/// | L6a  | never      | 1                         | no: closed                             |
/// | L7a  | never      | 2, the second after marks | yes: closed, but a command since       |
/// | L8a  | 2024-04-20 | 1                         | yes                                    |
///
/// Partition 11 holds L1b (waking on 2024-05-01), partition 0 L1- (likewise) and L10 (booked
/// in bulk, no mark). The book `side` holds S1a (partition 10, booked by a command, no mark).
async fn waking_book(s: &Arc<dyn Store>) {
    for id in ["L1a", "L2a", "L3A", "L4a", "L8a", "L1b", "L1-"] {
        book(s, id, 1, OLD, "active").await;
    }
    s.commit(&command("L2a", 1, OLD, "active", None))
        .await
        .unwrap();
    book(s, "L6a", 1, OLD, "closed").await;
    book(s, "L7a", 1, OLD, "closed").await;
    s.book_loans(
        BOOK,
        &[bulk_loan("L5a", None, 0), bulk_loan("L10", None, 0)],
    )
    .await
    .unwrap();
    s.ensure_book("side", "Side", DAY, OLD).await.unwrap();
    book_in(s, "side", "S1a", OLD).await;
    start_close(s).await;
    let marks = [
        ("L1a", Some("2024-05-01")),
        ("L2a", Some("2024-06-01")),
        ("L3A", Some(NEXT)),
        ("L4a", Some("2024-05-03")),
        ("L6a", None),
        ("L7a", None),
        ("L8a", Some("2024-04-20")),
        ("L1b", Some("2024-05-01")),
        ("L1-", Some("2024-05-01")),
    ];
    let marks = marks.iter().map(|(l, w)| mark(l, *w, "")).collect();
    write_marks(s, 10, marks).await;
    s.commit(&command("L7a", 1, NEW, "closed", None))
        .await
        .unwrap();
}

async fn loans_are_read_by_partition_and_cursor(db: &TestDatabase) {
    let s = open(db).await;
    waking_book(&s).await;
    assert_eq!(partition_of("L3A"), 10);
    // Pages of two, each after the last loan of the one before.
    let mut q = WakeQuery {
        limit: 2,
        ..wake(10, NEXT, false)
    };
    assert_eq!(read_ids(&s, &q).await, ["L1a", "L2a"]);
    q.after = Some("L2a".into());
    assert_eq!(read_ids(&s, &q).await, ["L3A", "L7a"]);
    q.after = Some("L7a".into());
    assert_eq!(read_ids(&s, &q).await, ["L8a"]);
    q.after = Some("L8a".into());
    assert!(read_ids(&s, &q).await.is_empty());
    // The cursor bounds each way of waking: the marks, the commands and the unmarked loans.
    let q = WakeQuery {
        after: Some("L3A".into()),
        ..wake(10, NEXT, true)
    };
    assert_eq!(read_ids(&s, &q).await, ["L5a", "L7a", "L8a"]);
    let q = WakeQuery {
        after: Some("L5a".into()),
        ..wake(10, "2024-04-01", true)
    };
    assert_eq!(read_ids(&s, &q).await, ["L7a"]);
    let q = WakeQuery {
        after: Some("L1a".into()),
        ..wake(10, DAY, false)
    };
    assert_eq!(read_ids(&s, &q).await, ["L2a", "L7a", "L8a"]);
    // Each partition reads its own loans.
    assert_eq!(read_ids(&s, &wake(11, NEXT, false)).await, ["L1b"]);
    assert_eq!(read_ids(&s, &wake(0, NEXT, false)).await, ["L1-"]);
    assert_eq!(read_ids(&s, &wake(0, NEXT, true)).await, ["L1-", "L10"]);
    assert!(read_ids(&s, &wake(11, "2024-04-30", true)).await.is_empty());
    // Another book's loans are not read, and a book without loans reads none.
    let side = WakeQuery {
        book_id: "side".into(),
        ..wake(10, NEXT, false)
    };
    assert_eq!(read_ids(&s, &side).await, ["S1a"]);
    let other = WakeQuery {
        book_id: "other".into(),
        ..wake(10, NEXT, true)
    };
    assert!(read_ids(&s, &other).await.is_empty());
    assert!(matches!(
        s.eod_loans(&wake(16, NEXT, true)).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn what_wakes_a_loan_is_its_mark_a_command_or_no_mark(db: &TestDatabase) {
    let s = open(db).await;
    waking_book(&s).await;
    let read = |date: &'static str, unmarked: bool| {
        let s = s.clone();
        async move { read_ids(&s, &wake(10, date, unmarked)).await }
    };
    assert_eq!(read(NEXT, false).await, ["L1a", "L2a", "L3A", "L7a", "L8a"]);
    assert_eq!(
        read(NEXT, true).await,
        ["L1a", "L2a", "L3A", "L5a", "L7a", "L8a"]
    );
    // A day later L4a wakes too; a day earlier L3A still sleeps.
    assert_eq!(
        read("2024-05-03", false).await,
        ["L1a", "L2a", "L3A", "L4a", "L7a", "L8a"]
    );
    assert_eq!(read(DAY, false).await, ["L1a", "L2a", "L7a", "L8a"]);
    // Before every mark wakes, only the commands wake loans (and the unmarked loan is unmarked).
    assert_eq!(read("2024-04-01", false).await, ["L2a", "L7a"]);
    assert_eq!(read("2024-04-01", true).await, ["L2a", "L5a", "L7a"]);
    // S1a, of the side book, has a command since and no mark: not this book's.
    assert!(!read(NEXT, true).await.contains(&"S1a".to_owned()));
    // A command on a sleeping loan wakes it; one on a closed loan too.
    s.commit(&command("L4a", 1, NEW, "active", None))
        .await
        .unwrap();
    s.commit(&command("L6a", 1, NEW, "closed", None))
        .await
        .unwrap();
    assert_eq!(
        read("2024-04-01", false).await,
        ["L2a", "L4a", "L6a", "L7a"]
    );
}

async fn a_mark_that_covers_a_command_puts_the_loan_back_to_sleep(db: &TestDatabase) {
    let s = open(db).await;
    waking_book(&s).await;
    let early = wake(10, "2024-04-01", false);
    assert_eq!(read_ids(&s, &early).await, ["L2a", "L7a"]);
    // L2a's mark now covers both its events; L7a's still only the first.
    let mut w = chunk(11, Some("~"), true);
    w.marks = vec![
        EodMark {
            version: 2,
            ..mark("L2a", Some("2024-06-01"), "")
        },
        mark("L7a", None, ""),
    ];
    s.write_chunk(&w, None).await.unwrap();
    assert_eq!(read_ids(&s, &early).await, ["L7a"]);
    // A refused chunk covers nothing.
    let mut late = chunk(12, Some("~"), true);
    late.marks = vec![EodMark {
        version: 2,
        ..mark("L7a", None, "")
    }];
    assert!(is_conflict(&s.write_chunk(&late, Some("L1a")).await));
    assert_eq!(read_ids(&s, &early).await, ["L7a"]);
    // A command racing the chunk (event 3, while the chunk read 2) leaves L7a awake.
    s.commit(&command("L7a", 2, NEW, "closed", None))
        .await
        .unwrap();
    s.write_chunk(&late, None).await.unwrap();
    assert_eq!(read_ids(&s, &early).await, ["L7a"]);
    let mut last = chunk(13, Some("~"), true);
    last.marks = vec![EodMark {
        version: 3,
        ..mark("L7a", None, "")
    }];
    s.write_chunk(&last, None).await.unwrap();
    assert!(read_ids(&s, &early).await.is_empty());
    // The next command wakes L2a again, its mark unchanged.
    s.commit(&command("L2a", 2, NEW, "active", None))
        .await
        .unwrap();
    let loans = s.eod_loans(&early).await.unwrap();
    assert_eq!(ids(&loans), ["L2a"]);
    assert_eq!(loans[0].mark.as_ref().map(|m| m.version), Some(2));
}

async fn a_read_loan_carries_its_terms_snapshot_and_events(db: &TestDatabase) {
    let s = open(db).await;
    book(&s, "L1a", 1, OLD, "active").await;
    // L2a: three more events, a snapshot at version 3 of 4.
    book(&s, "L2a", 1, OLD, "active").await;
    for v in 1..4 {
        let snapshot = (v == 2).then_some(3);
        s.commit(&command("L2a", v, NEW, "active", snapshot))
            .await
            .unwrap();
    }
    // Neither has a mark; both are read for their commands.
    let loans = s.eod_loans(&wake(10, NEXT, false)).await.unwrap();
    assert_eq!(ids(&loans), ["L1a", "L2a"]);
    let l2 = &loans[1];
    assert_eq!(l2.terms, TERMS);
    assert_eq!(l2.partner_ids, vec!["P1", "P2"]);
    assert_eq!(
        (l2.product_id.as_deref(), l2.borrower_id.as_deref()),
        (Some("PL"), Some("B1"))
    );
    let snap = l2.snapshot.as_ref().unwrap();
    assert_eq!((snap.version, snap.engine.as_str()), (3, r#"{"at":3}"#));
    assert_eq!(l2.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4]);
    assert_eq!(l2.events, s.events_after("L2a", 3).await.unwrap());
    assert!(l2.mark.is_none());
    let l1 = &loans[0];
    assert!(l1.snapshot.is_none());
    assert_eq!(l1.events.len(), 1);
    assert_eq!(l1.events, s.events("L1a").await.unwrap());
    assert!(l1.mark.is_none());
}

/// The loans of `ids` in each partition, by [`partition_of`].
fn by_partition_of(ids: &[String]) -> Vec<BTreeSet<String>> {
    (0..16)
        .map(|p| {
            ids.iter()
                .filter(|id| partition_of(id) == p)
                .cloned()
                .collect()
        })
        .collect()
}

async fn the_sql_partition_agrees_with_partition_of(db: &TestDatabase) {
    let s = open(db).await;
    let chars = "0123456789abcdefABCDEF-gZ~";
    // Booked by commands (which touch them), and in bulk (which does not).
    let booked: Vec<String> = chars.chars().map(|c| format!("K{c}")).collect();
    let bulk: Vec<String> = chars.chars().map(|c| format!("J{c}")).collect();
    for id in &booked {
        book(&s, id, 1, OLD, "active").await;
    }
    let loans: Vec<_> = bulk.iter().map(|id| bulk_loan(id, None, 0)).collect();
    s.book_loans(BOOK, &loans).await.unwrap();
    let read = |date: &'static str, unmarked: bool| {
        let s = s.clone();
        async move {
            let mut all = Vec::new();
            for p in 0..16 {
                let got = read_ids(&s, &wake(p, date, unmarked)).await;
                all.push(got.into_iter().collect::<BTreeSet<_>>());
            }
            all
        }
    };
    let all: Vec<String> = booked.iter().chain(&bulk).cloned().collect();
    assert_eq!(
        by_partition_of(&all)
            .iter()
            .map(BTreeSet::len)
            .sum::<usize>(),
        52
    );
    assert!(by_partition_of(&all).iter().all(|p| !p.is_empty()));
    // The touched loans, the unmarked loans, and the marks that wake: each keyed by the same
    // partition.
    assert_eq!(
        read("2024-04-30", false).await,
        by_partition_of(&booked),
        "touched"
    );
    assert_eq!(
        read("2024-04-30", true).await,
        by_partition_of(&all),
        "touched, unmarked"
    );
    start_close(&s).await;
    let marks = booked.iter().map(|id| mark(id, Some(DAY), "")).collect();
    write_marks(&s, 0, marks).await;
    assert_eq!(
        read("2024-04-30", true).await,
        by_partition_of(&bulk),
        "unmarked"
    );
    assert_eq!(read(DAY, false).await, by_partition_of(&booked), "marks");
}

async fn marks_round_trip_with_wake_on_and_plan(db: &TestDatabase) {
    let s = open(db).await;
    for id in ["L1a", "L2a", "L3a"] {
        book(&s, id, 1, OLD, "active").await;
    }
    start_close(&s).await;
    let first = EodMark {
        version: 1,
        earned: 120,
        suspended: 20,
        provision: 5,
        npa: true,
        held: true,
        arrears: true,
        ..mark("L1a", Some("2024-05-04"), "40,40,-3")
    };
    let closed = mark("L2a", None, "");
    let malformed = mark("L3a", Some("2024-05-04"), "7,x");
    write_marks(&s, 10, vec![first.clone(), closed.clone(), malformed]).await;
    let loans = s.eod_loans(&wake(10, "2024-05-04", false)).await.unwrap();
    assert_eq!(ids(&loans), ["L1a", "L3a"]);
    assert_eq!(loans[0].mark.as_ref(), Some(&first));
    assert_eq!(first.planned().unwrap(), vec![40, 40, -3]);
    let bad = loans[1].mark.as_ref().unwrap();
    assert_eq!(bad.plan, "7,x");
    assert!(matches!(bad.planned(), Err(StoreError::Corrupt(_))));
    // A closed loan woken by a command comes with its mark, no wake day and no plan.
    s.commit(&command("L2a", 1, NEW, "closed", None))
        .await
        .unwrap();
    let loans = s.eod_loans(&wake(10, DAY, false)).await.unwrap();
    assert_eq!(ids(&loans), ["L2a"]);
    assert_eq!(loans[0].mark.as_ref(), Some(&closed));
    assert_eq!(loans[0].events.len(), 2);
    assert_eq!(closed.planned().unwrap(), Vec::<i64>::new());
    // The next chunk's marks replace the loans': L1a wakes later, with another plan; L2a's mark
    // has seen the command.
    let moved = EodMark {
        version: 1,
        day: "2024-05-04".into(),
        earned: 200,
        npa: false,
        ..mark("L1a", Some("2024-05-09"), "41")
    };
    let mut w = chunk(11, Some("~"), true);
    let seen = EodMark {
        version: 2,
        ..closed.clone()
    };
    w.marks = vec![moved.clone(), seen.clone()];
    s.write_chunk(&w, None).await.unwrap();
    assert_eq!(read_ids(&s, &wake(10, "2024-05-08", false)).await, ["L3a"]);
    let loans = s.eod_loans(&wake(10, "2024-05-08", true)).await.unwrap();
    assert_eq!(ids(&loans), ["L3a"]);
    let loans = s.eod_loans(&wake(10, "2024-05-09", true)).await.unwrap();
    assert_eq!(ids(&loans), ["L1a", "L3a"]);
    assert_eq!(loans[0].mark.as_ref(), Some(&moved));
    assert_eq!(moved.planned().unwrap(), vec![41]);
}

fn accrual(day: &str, product: &str, npa: bool, amount: i64) -> PlannedAccrual {
    PlannedAccrual {
        day: day.into(),
        product_id: product.into(),
        npa,
        amount,
    }
}

async fn planned_accruals_add_up_across_chunks(db: &TestDatabase) {
    let s = open(db).await;
    start_close(&s).await;
    let (d2, d3) = (NEXT, "2024-05-03");
    let mut first = chunk(3, Some("L3"), false);
    first.accruals = vec![
        accrual(d2, "PL", false, 100),
        accrual(d2, "PL", true, 7),
        accrual(d3, "PL", false, 50),
        accrual(d2, "", false, 3),
        // The same day, product and flag twice in one chunk.
        accrual(d2, "PL", false, 5),
    ];
    s.write_chunk(&first, None).await.unwrap();
    assert_eq!(
        s.planned_accruals(BOOK, d2).await.unwrap(),
        vec![
            accrual(d2, "", false, 3),
            accrual(d2, "PL", false, 105),
            accrual(d2, "PL", true, 7),
        ]
    );
    // Replayed, the chunk is refused and adds nothing.
    assert!(is_conflict(&s.write_chunk(&first, None).await));
    let mut second = chunk(3, Some("L4"), true);
    second.accruals = vec![
        accrual(d2, "PL", false, -20),
        // Down to zero: left out of what is planned.
        accrual(d2, "PL", true, -7),
        accrual(d3, "PL", false, 50),
        accrual(d2, "HL", false, 0),
        accrual(d3, "HL", true, -4),
    ];
    s.write_chunk(&second, Some("L3")).await.unwrap();
    assert_eq!(
        s.planned_accruals(BOOK, d2).await.unwrap(),
        vec![accrual(d2, "", false, 3), accrual(d2, "PL", false, 85)]
    );
    assert_eq!(
        s.planned_accruals(BOOK, d3).await.unwrap(),
        vec![accrual(d3, "HL", true, -4), accrual(d3, "PL", false, 100)]
    );
    assert!(s.planned_accruals(BOOK, DAY).await.unwrap().is_empty());
    assert!(s.planned_accruals("other", d2).await.unwrap().is_empty());
    // A zero sum that moves again counts again.
    let mut third = chunk(4, Some("L5"), true);
    third.accruals = vec![accrual(d2, "PL", true, 2)];
    s.write_chunk(&third, None).await.unwrap();
    assert_eq!(s.planned_accruals(BOOK, d2).await.unwrap().len(), 3);
    assert!(
        s.planned_accruals(BOOK, d2)
            .await
            .unwrap()
            .contains(&accrual(d2, "PL", true, 2))
    );
}

async fn unmarked_loans_until_every_loan_has_a_mark(db: &TestDatabase) {
    let s = open(db).await;
    assert!(!s.unmarked_loans(BOOK).await.unwrap());
    book(&s, "L1a", 1, OLD, "active").await;
    book(&s, "L2b", 1, OLD, "active").await;
    s.ensure_book("side", "Side", DAY, OLD).await.unwrap();
    book_in(&s, "side", "S1a", OLD).await;
    assert!(s.unmarked_loans(BOOK).await.unwrap());
    start_close(&s).await;
    write_marks(&s, 10, vec![mark("L1a", Some(NEXT), "")]).await;
    assert!(s.unmarked_loans(BOOK).await.unwrap());
    // A mark written again for the same loan still leaves L2b without one.
    write_marks(&s, 11, vec![mark("L1a", None, "")]).await;
    assert!(s.unmarked_loans(BOOK).await.unwrap());
    write_marks(&s, 12, vec![mark("L2b", None, "")]).await;
    assert!(!s.unmarked_loans(BOOK).await.unwrap());
    // A loan booked since has no mark.
    book(&s, "L3c", 1, NEW, "active").await;
    assert!(s.unmarked_loans(BOOK).await.unwrap());
    // Each book on its own: the side book's loan has no mark.
    assert!(s.unmarked_loans("side").await.unwrap());
    assert!(!s.unmarked_loans("other").await.unwrap());
}
