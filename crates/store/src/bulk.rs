//! Bulk booking: many loans with their histories written at once, for synthetic books and
//! benchmarks.

use async_trait::async_trait;

use crate::{
    EodMark, LoanRecord, NewEvent, NewGlLine, NewSnapshot, PlannedAccrual, Projection, StoreError,
};

/// Most loans one [`Bulk::book_loans`] call takes.
pub const MAX_BULK_LOANS: usize = 100_000;

/// One loan of a bulk booking: the rows a booking writes for it, less the audit record, the
/// outbox messages and the idempotency record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkLoan {
    /// The loan with its frozen terms, their hash and its co-lenders.
    pub record: LoanRecord,
    /// Its events in order: they get the sequence numbers 1, 2, … and are recorded at the
    /// record's `created_at`.
    pub events: Vec<NewEvent>,
    /// Its projection after all of them.
    pub projection: Projection,
    /// The engine after some of them, to resume from.
    pub snapshot: Option<NewSnapshot>,
    /// What the close of the as-of date would have posted for it, when the book's ledger is
    /// opened with the loans.
    pub mark: Option<EodMark>,
    /// Its opening GL lines (balanced entries).
    pub gl_lines: Vec<NewGlLine>,
}

/// A bulk-loaded book's ledger opening: the entries not of one loan (the summary accruals), the
/// planned accruals of its quiet loans, and the close of the as-of date recorded as done, so
/// that the next close reads only what wakes or changes after it.
#[derive(Debug, Clone, Default)]
pub struct BookOpening {
    /// The as-of date (ISO).
    pub date: String,
    /// When the opening was made: the recorded close's start and finish.
    pub at: String,
    /// The recorded close's summary JSON.
    pub summary: String,
    pub gl_lines: Vec<NewGlLine>,
    pub accruals: Vec<PlannedAccrual>,
}

/// Writing many loans in one transaction, in bulk statements.
#[async_trait]
pub trait Bulk: Send + Sync {
    /// Book `loans` into the book `book_id` in one transaction: loans, their co-lenders,
    /// events, projections and snapshots, all or none. A loan number already in the book fails
    /// the whole call (`Duplicate`).
    ///
    /// It writes **no audit records**, outbox messages or idempotency keys: a bulk booking is
    /// test data (a synthetic book for demos and benchmarks), not a lender's command, and the
    /// loans' audit chains start empty. Their events are recorded under the command id
    /// `bulk:<loan id>`.
    async fn book_loans(&self, book_id: &str, loans: &[BulkLoan]) -> Result<(), StoreError>;

    /// Open the ledger of a bulk-loaded book (after its loans): `opening`'s lines and planned
    /// accruals, and a done close of its date. Refused (`Duplicate`) when the book has a close
    /// of that date already.
    async fn open_ledger(&self, book_id: &str, opening: &BookOpening) -> Result<(), StoreError>;
}

/// Refuse a batch that would write rows that do not fit together.
pub(crate) fn check_batch(book_id: &str, loans: &[BulkLoan]) -> Result<(), StoreError> {
    if loans.len() > MAX_BULK_LOANS {
        return Err(StoreError::Corrupt(format!(
            "a bulk booking of {} loans: at most {MAX_BULK_LOANS} a call",
            loans.len()
        )));
    }
    let lines: Vec<NewGlLine> = loans.iter().flat_map(|l| l.gl_lines.clone()).collect();
    crate::gl::check_balanced(&lines)?;
    for l in loans {
        let id = &l.record.id;
        if l.mark.as_ref().is_some_and(|m| m.loan_id != *id) {
            return Err(StoreError::Corrupt(format!(
                "bulk loan `{id}`: carries another loan's mark"
            )));
        }

        let bad = |what: String| Err(StoreError::Corrupt(format!("bulk loan `{id}`: {what}")));
        if l.record.book_id != book_id {
            return bad(format!(
                "is in book `{}`, not `{book_id}`",
                l.record.book_id
            ));
        }
        if l.projection.loan_id != *id {
            return bad(format!(
                "carries the projection of `{}`",
                l.projection.loan_id
            ));
        }
        let events = l.events.len() as i64;
        if l.projection.version != events {
            return bad(format!(
                "a projection of version {} over {events} events",
                l.projection.version
            ));
        }
        if let Some(s) = &l.snapshot {
            if s.version < 1 || s.version > events {
                return bad(format!(
                    "a snapshot of version {} over {events} events",
                    s.version
                ));
            }
        }
    }
    Ok(())
}

/// The command id a bulk-booked loan's events are recorded under.
pub(crate) fn command_id(loan_id: &str) -> String {
    format!("bulk:{loan_id}")
}
