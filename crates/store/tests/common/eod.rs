//! What the close-of-business tests share (`tests/eod.rs`, `tests/eod_wake.rs`,
//! `tests/eod_ledger.rs`): a book at its first business date, commands that book and post to
//! loans, GL entries, chunks of a close and the marks they write, and counting a table's rows.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{
    AuditEntry, BulkLoan, ChunkWrite, CommandWrite, EodLoan, EodMark, LoanRecord, NewEvent,
    NewGlLine, NewSnapshot, Projection, Store, StoreError, WakeQuery, connect, terms_digest,
};

pub const BOOK: &str = "main";
pub const DAY: &str = "2024-05-01";
pub const NEXT: &str = "2024-05-02";
pub const TERMS: &str = r#"{"currency":"INR"}"#;

/// A store on `db` holding the book [`BOOK`] at [`DAY`].
pub async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let s = connect(&db.url).await.unwrap();
    s.ensure_book(BOOK, "Main", DAY, "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s
}

pub fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: "2024-05-01T20:00:00Z".into(),
        actor: "eod".into(),
        action: action.into(),
        target: target.into(),
        request_digest: String::new(),
        event_ids: vec![],
    }
}

/// Open the close of [`DAY`].
pub async fn open_close(s: &Arc<dyn Store>) {
    s.open_run(
        BOOK,
        DAY,
        NEXT,
        "2024-05-01T20:00:00Z",
        &audit("eod", "book"),
    )
    .await
    .unwrap();
}

/// Open the close of [`DAY`] and claim a partition of its `loans` step, which makes the step's
/// progress rows: every partition's first chunk may then be written.
pub async fn start_close(s: &Arc<dyn Store>) {
    open_close(s).await;
    s.claim(BOOK, DAY, "loans", 16, "w", "t", "t0")
        .await
        .unwrap()
        .unwrap();
}

pub fn projection(loan: &str, version: i64, status: &str) -> Projection {
    Projection {
        loan_id: loan.into(),
        version,
        as_of: DAY.into(),
        status: status.into(),
        classification: "standard".into(),
        dpd: 0,
        principal_outstanding: 1000,
        total_overdue: 0,
        state: "{}".into(),
    }
}

/// A command on `loan` at `version` (0 books it), one event recorded at `at`.
pub fn command(
    loan: &str,
    version: i64,
    at: &str,
    status: &str,
    snapshot: Option<i64>,
) -> CommandWrite {
    CommandWrite {
        command_id: format!("{loan}-c{version}"),
        at: at.into(),
        loan_id: loan.into(),
        expected_version: version,
        new_loan: (version == 0).then(|| LoanRecord {
            id: loan.into(),
            book_id: BOOK.into(),
            loan_number: format!("LN-{loan}"),
            borrower_id: Some("B1".into()),
            product_id: Some("PL".into()),
            product_version: Some(1),
            terms: TERMS.into(),
            terms_hash: terms_digest(TERMS),
            partner_ids: vec!["P2".into(), "P1".into()],
            created_at: at.into(),
            application_id: None,
        }),
        events: vec![NewEvent {
            value_date: DAY.into(),
            event: format!(r#"{{"n":{}}}"#, version + 1),
        }],
        projection: projection(loan, version + 1, status),
        snapshot: snapshot.map(|v| NewSnapshot {
            version: v,
            day: DAY.into(),
            engine: format!(r#"{{"at":{v}}}"#),
        }),
        audit: audit("post", &format!("loan/{loan}")),
        outbox: vec![],
        idempotency: None,
        approval: None,
        application: None,
    }
}

/// Book `loan` with `events` events, recorded at `at`.
pub async fn book(s: &Arc<dyn Store>, loan: &str, events: i64, at: &str, status: &str) {
    for v in 0..events {
        s.commit(&command(loan, v, at, status, None)).await.unwrap();
    }
}

/// Book `loan` with one event recorded at `at` into the book `book_id` (which must exist).
pub async fn book_in(s: &Arc<dyn Store>, book_id: &str, loan: &str, at: &str) {
    let mut c = command(loan, 0, at, "active", None);
    if let Some(r) = c.new_loan.as_mut() {
        r.book_id = book_id.into();
    }
    s.commit(&c).await.unwrap();
}

pub fn line(
    entry: &str,
    no: i32,
    on: &str,
    account: &str,
    loan: Option<&str>,
    dr: i64,
    cr: i64,
) -> NewGlLine {
    NewGlLine {
        entry_id: entry.into(),
        line_no: no,
        posted_on: on.into(),
        kind: "accrual".into(),
        narration: "interest".into(),
        account: account.into(),
        loan_id: loan.map(Into::into),
        product_id: Some("PL".into()),
        partner_id: None,
        debit: dr,
        credit: cr,
        source: "test".into(),
    }
}

/// An entry of two lines: `amount` debited to `debit` and credited to `credit`.
pub fn entry(
    id: &str,
    on: &str,
    loan: Option<&str>,
    debit: &str,
    credit: &str,
    amount: i64,
) -> Vec<NewGlLine> {
    vec![
        line(id, 1, on, debit, loan, amount, 0),
        line(id, 2, on, credit, loan, 0, amount),
    ]
}

/// A chunk of the `loans` step of the close of [`DAY`] that read two loans and changed one.
pub fn chunk(partition: u32, cursor: Option<&str>, done: bool) -> ChunkWrite {
    ChunkWrite {
        book_id: BOOK.into(),
        business_date: DAY.into(),
        step: "loans".into(),
        partition,
        at: "2024-05-01T20:01:00Z".into(),
        cursor: cursor.map(Into::into),
        done,
        loans_read: 2,
        loans_changed: 1,
        millis: 7,
        ..ChunkWrite::default()
    }
}

/// A mark of `loan` closed on [`DAY`] at version 1, waking on `wake_on`, with `plan`.
pub fn mark(loan: &str, wake_on: Option<&str>, plan: &str) -> EodMark {
    EodMark {
        loan_id: loan.into(),
        version: 1,
        day: DAY.into(),
        earned: 0,
        suspended: 0,
        provision: 0,
        npa: false,
        wake_on: wake_on.map(Into::into),
        plan: plan.into(),
        held: false,
        arrears: false,
        due_installment: None,
        due_on: None,
        due_amount: 0,
        currency: None,
    }
}

/// Write `marks` as the first and only chunk of `partition` (after [`start_close`]).
pub async fn write_marks(s: &Arc<dyn Store>, partition: u32, marks: Vec<EodMark>) {
    let mut w = chunk(partition, Some("~"), true);
    w.marks = marks;
    s.write_chunk(&w, None).await.unwrap();
}

/// What a chunk of `partition` of [`BOOK`] reads on `date`, from the start, up to 100 loans.
pub fn wake(partition: u32, date: &str, unmarked: bool) -> WakeQuery {
    WakeQuery {
        book_id: BOOK.into(),
        partition,
        date: date.into(),
        unmarked,
        after: None,
        limit: 100,
    }
}

pub fn ids(loans: &[EodLoan]) -> Vec<String> {
    loans.iter().map(|l| l.loan_id.clone()).collect()
}

/// The ids of the loans `q` reads.
pub async fn read_ids(s: &Arc<dyn Store>, q: &WakeQuery) -> Vec<String> {
    ids(&s.eod_loans(q).await.unwrap())
}

/// When bulk-booked loans (and their events) were made.
pub const CREATED: &str = "2024-01-01T10:00:00Z";

/// A loan of a bulk booking into [`BOOK`] with one event, its `mark`, and its disbursement of
/// `amount` (no lines for 0).
pub fn bulk_loan(id: &str, mark: Option<EodMark>, amount: i64) -> BulkLoan {
    BulkLoan {
        record: LoanRecord {
            id: id.into(),
            book_id: BOOK.into(),
            loan_number: format!("LN-{id}"),
            borrower_id: Some("B1".into()),
            product_id: Some("PL".into()),
            product_version: Some(1),
            terms: TERMS.into(),
            terms_hash: terms_digest(TERMS),
            partner_ids: vec![],
            created_at: CREATED.into(),
            application_id: None,
        },
        events: vec![NewEvent {
            value_date: DAY.into(),
            event: r#"{"n":1}"#.into(),
        }],
        projection: projection(id, 1, "active"),
        snapshot: None,
        mark,
        gl_lines: if amount == 0 {
            vec![]
        } else {
            entry(
                &format!("D-{id}"),
                DAY,
                Some(id),
                "loan_principal",
                "bank",
                amount,
            )
        },
    }
}

/// How many rows `table` holds, read past the store.
pub async fn count(db: &TestDatabase, table: &str) -> i64 {
    use sqlx::Connection;
    let q = format!("SELECT COUNT(*) FROM {table}");
    let (n,): (i64,) = if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(&q).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(&q).fetch_one(&mut c).await.unwrap()
    };
    n
}

pub fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict { .. }))
}
