//! Bulk booking: many loans with their histories written at once, for synthetic books and
//! benchmarks.

use async_trait::async_trait;

use crate::{LoanRecord, NewEvent, NewSnapshot, Projection, StoreError};

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
}

/// Refuse a batch that would write rows that do not fit together.
pub(crate) fn check_batch(book_id: &str, loans: &[BulkLoan]) -> Result<(), StoreError> {
    if loans.len() > MAX_BULK_LOANS {
        return Err(StoreError::Corrupt(format!(
            "a bulk booking of {} loans: at most {MAX_BULK_LOANS} a call",
            loans.len()
        )));
    }
    for l in loans {
        let id = &l.record.id;
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
