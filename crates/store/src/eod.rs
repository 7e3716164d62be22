//! The close of business (EOD): one run per book and business date, its steps split into
//! partitions of the loan book that workers claim, and the chunks they write.
//!
//! A chunk (a page of one partition's loans) is written in one transaction together with the
//! partition's progress: the projections that changed, the snapshots, the GL lines and the
//! outbox messages. The progress row's cursor (the last loan id done) is checked and advanced in
//! that transaction, so a chunk is applied exactly once, whoever writes it and however often the
//! close is re-run after a crash.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    AuditEntry, NewGlLine, NewOutbox, NewSnapshot, Projection, SnapshotRecord, StoreError,
    StoredEvent,
};

/// How many partitions the loan book is split into for the close: one per hex digit.
pub const EOD_PARTITIONS: u32 = 16;

/// The most loans one [`Eod::eod_loans`] call returns, whatever limit is asked for.
pub const EOD_LOANS_MAX: i64 = 10_000;

/// A run is open while its close is being worked on.
pub const RUN_RUNNING: &str = "running";
/// A run whose close has finished.
pub const RUN_DONE: &str = "done";

/// The partition a loan is closed in: the value of the last hex digit of its id (ids are
/// UUIDv7 strings), 0 when the last character is not a hex digit. The store's SQL agrees.
pub fn partition_of(loan_id: &str) -> u32 {
    loan_id
        .chars()
        .next_back()
        .and_then(|c| c.to_digit(16))
        .unwrap_or(0)
}

/// The SQL for a loan's partition key over the id column `id`: the last character of the id,
/// lowercased, when it is a hex digit, else `'0'`. The migration indexes exactly this expression
/// (with `id`), so each partition is one index range in id order.
pub(crate) fn partition_key_sql(id: &str) -> String {
    let last = format!("lower(substr({id}, length({id}), 1))");
    format!(
        "CASE WHEN {last} IN ('1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f') \
         THEN {last} ELSE '0' END"
    )
}

/// The partition key of `partition` as the SQL computes it: its lowercase hex digit.
pub(crate) fn partition_key(partition: u32) -> Option<char> {
    if partition >= EOD_PARTITIONS {
        return None;
    }
    char::from_digit(partition, 16)
}

/// One close of business of a book: for which business date, whether it is still running, and
/// the summary it finished with (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct EodRun {
    pub book_id: String,
    pub business_date: String,
    /// [`RUN_RUNNING`] or [`RUN_DONE`].
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub summary: Option<String>,
}

/// How far one partition of one step of a close has got, and what it has done so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EodProgress {
    pub step: String,
    pub partition: u32,
    /// The last loan id done; a re-run resumes after it. `None` before the first chunk.
    pub cursor: Option<String>,
    pub done: bool,
    pub loans_read: i64,
    pub loans_changed: i64,
    pub rows_written: i64,
    pub millis: i64,
}

/// One loan as the close reads it: its terms, its newest snapshot (None: none yet) and the stored
/// events after the snapshot's version, its mark.
#[derive(Debug, Clone)]
pub struct EodLoan {
    pub loan_id: String,
    pub product_id: Option<String>,
    pub borrower_id: Option<String>,
    pub partner_ids: Vec<String>,
    /// The frozen terms JSON.
    pub terms: String,
    pub snapshot: Option<SnapshotRecord>,
    /// The loan's events after the snapshot's version (all of them without a snapshot), in order.
    pub events: Vec<StoredEvent>,
    /// What the closes have posted for the loan so far (None: no close has seen it).
    pub mark: Option<EodMark>,
}

/// A loan's collection demand as its last close saw it: the next instalment still to fall due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Demand {
    pub loan_id: String,
    pub installment: i64,
    /// The day it falls due (ISO date).
    pub due_date: String,
    /// What is unpaid of it, in minor units of `currency`.
    pub amount: i64,
    pub currency: String,
}

/// One loan of a borrower, with what the closes have posted for it (None: no close has seen it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    pub loan_id: String,
    pub loan_number: String,
    pub borrower_id: String,
    pub mark: Option<EodMark>,
}

/// What the closes have posted for one loan: written with each chunk, read with the loan, so that
/// the next close posts only what is new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct EodMark {
    pub loan_id: String,
    /// How many of the loan's stored events the close had read.
    pub version: i64,
    /// The day the close closed (ISO date).
    pub day: String,
    /// What the summary accruals have posted for the loan, in minor units: in all, and the part of
    /// it posted to interest suspense (while the loan was NPA).
    pub earned: i64,
    pub suspended: i64,
    /// The provision held for the loan.
    pub provision: i64,
    /// Whether the loan was NPA at the end of that day.
    pub npa: bool,
    /// Whether it was NPA with its borrower then (another facility made it so).
    #[serde(default)]
    pub held: bool,
    /// Whether anything of it was overdue then.
    #[serde(default)]
    pub arrears: bool,
    /// Its collection demand: the next instalment still to fall due (None: none, or the loan is
    /// not active), the day it falls due (ISO date), what is unpaid of it (minor units), and the
    /// loan's currency.
    #[serde(default)]
    pub due_installment: Option<i64>,
    #[serde(default)]
    pub due_on: Option<String>,
    #[serde(default)]
    pub due_amount: i64,
    #[serde(default)]
    pub currency: Option<String>,
    /// The first day the close must read the loan again (ISO date); None: only an event wakes it.
    #[serde(default)]
    pub wake_on: Option<String>,
    /// The interest the loan accrues on each quiet day from the day after `day` up to the day
    /// before `wake_on`, in minor units, comma-separated: what the summary accruals post for it
    /// while the close does not read it.
    #[serde(default)]
    pub plan: String,
}

impl EodMark {
    /// The plan's amounts; a malformed plan is corrupt data.
    pub fn planned(&self) -> Result<Vec<i64>, StoreError> {
        if self.plan.is_empty() {
            return Ok(Vec::new());
        }
        self.plan
            .split(',')
            .map(|a| {
                a.parse().map_err(|_| {
                    StoreError::Corrupt(format!("the plan of loan `{}`: `{a}`", self.loan_id))
                })
            })
            .collect()
    }
}

/// A change to the summary accrual planned for a day: the sum of the plans of one product's
/// loans (NPA or not) that the close will not read that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PlannedAccrual {
    /// ISO date.
    pub day: String,
    /// The product, `""` for loans without one.
    pub product_id: String,
    pub npa: bool,
    /// Minor units; a change may be negative.
    pub amount: i64,
}

/// Which loans of a partition a chunk of the close reads: those whose mark wakes on `date` or
/// earlier, those a command wrote events for that their mark has not seen, and (`unmarked`)
/// those no close has seen; with id > `after`, in id order, at most `limit` (and at most
/// [`EOD_LOANS_MAX`]).
#[derive(Debug, Clone, Default)]
pub struct WakeQuery {
    pub book_id: String,
    pub partition: u32,
    pub date: String,
    pub unmarked: bool,
    pub after: Option<String>,
    pub limit: i64,
}

/// What one chunk of a partition's step writes, in one transaction, with the partition's progress.
#[derive(Debug, Clone, Default)]
pub struct ChunkWrite {
    pub book_id: String,
    pub business_date: String,
    pub step: String,
    pub partition: u32,
    /// When the chunk is written (ISO timestamp): the time its snapshots and outbox messages
    /// carry. Empty: the business date.
    pub at: String,
    /// The last loan id of the chunk (the cursor a re-run resumes after); None for a step without loans.
    pub cursor: Option<String>,
    /// Whether the partition's step is finished with this chunk.
    pub done: bool,
    pub loans_read: i64,
    pub loans_changed: i64,
    pub millis: i64,
    /// Projections to upsert (by loan_id). One is written only when its version or a column
    /// changed, and never over a newer one a command wrote meanwhile.
    pub projections: Vec<Projection>,
    /// Snapshots to insert, pruned as command writes prune them.
    pub snapshots: Vec<(String, NewSnapshot)>,
    pub gl_lines: Vec<NewGlLine>,
    pub outbox: Vec<NewOutbox>,
    /// The loans' marks, upserted.
    pub marks: Vec<EodMark>,
    /// Changes to the planned summary accruals, added to what is planned.
    pub accruals: Vec<PlannedAccrual>,
}

/// The close of business.
#[async_trait]
pub trait Eod: Send + Sync {
    /// Open the close of `date` for the book, or return the open one. Opening it moves the book's
    /// business date from `date` to `next` in the same transaction (with `audit`), so commands arriving
    /// during the close take the new date. Returns the run and whether this call opened it. Refused with
    /// a conflict when the business date is neither `date` (not yet opened) nor `next` with a running
    /// run for `date`.
    async fn open_run(
        &self,
        book_id: &str,
        date: &str,
        next: &str,
        at: &str,
        audit: &AuditEntry,
    ) -> Result<(EodRun, bool), StoreError>;

    /// Claim a partition of `step` that is not done and not claimed by another live worker (a claim
    /// older than `stale_before` may be taken over; a worker's own claim is handed back to it),
    /// creating the step's progress rows for its `partitions` (1 to [`EOD_PARTITIONS`]) on first
    /// call. `None` when every
    /// partition is done or held, or the run is done. PostgreSQL: `FOR UPDATE SKIP LOCKED`;
    /// SQLite: one writer, plain.
    #[allow(clippy::too_many_arguments)]
    async fn claim(
        &self,
        book_id: &str,
        date: &str,
        step: &str,
        partitions: u32,
        worker: &str,
        at: &str,
        stale_before: &str,
    ) -> Result<Option<EodProgress>, StoreError>;

    /// The loans the query names ([`WakeQuery`]) with their terms, partners, newest
    /// snapshots, the events after them and their marks, read in one consistent snapshot.
    async fn eod_loans(&self, query: &WakeQuery) -> Result<Vec<EodLoan>, StoreError>;

    /// Whether the book holds a loan without a mark (one no close has seen).
    async fn unmarked_loans(&self, book_id: &str) -> Result<bool, StoreError>;

    /// The collection demands of the book falling due on `due_on` with something unpaid, by loan.
    async fn demands_due(&self, book_id: &str, due_on: &str) -> Result<Vec<Demand>, StoreError>;

    /// The borrowers of the loans closed on `day` NPA or held NPA with their borrower, in order.
    async fn npa_borrowers(&self, book_id: &str, day: &str) -> Result<Vec<String>, StoreError>;

    /// Every loan of these borrowers with its mark, by borrower and loan id.
    async fn facilities(
        &self,
        book_id: &str,
        borrowers: &[String],
    ) -> Result<Vec<Facility>, StoreError>;

    /// The named loans of the book as [`Eod::eod_loans`] reads them, in id order.
    async fn eod_loans_named(
        &self,
        book_id: &str,
        ids: &[String],
    ) -> Result<Vec<EodLoan>, StoreError>;

    /// The named loans of the book as a command resumes them: [`Eod::eod_loans_named`] without
    /// their marks (`mark` is `None`).
    async fn loans_to_resume(
        &self,
        book_id: &str,
        ids: &[String],
    ) -> Result<Vec<EodLoan>, StoreError>;

    /// The summary accruals planned for `day`, by product and NPA flag (zero sums left out).
    async fn planned_accruals(
        &self,
        book_id: &str,
        day: &str,
    ) -> Result<Vec<PlannedAccrual>, StoreError>;

    /// Write a chunk and advance its partition's progress atomically. Refused (conflict) when the
    /// partition is already done, the run is not running, or the partition's cursor is not the
    /// one the chunk started from (`from_cursor`): a chunk is applied exactly once even when two
    /// workers race or a killed close is re-run. Unbalanced GL entries are refused.
    async fn write_chunk(
        &self,
        write: &ChunkWrite,
        from_cursor: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Every partition's progress of the close of `date`, by step and partition.
    async fn progress(&self, book_id: &str, date: &str) -> Result<Vec<EodProgress>, StoreError>;

    /// Mark the run done with its summary JSON (idempotent: a finished run keeps its first summary).
    async fn finish_run(
        &self,
        book_id: &str,
        date: &str,
        at: &str,
        summary: &str,
    ) -> Result<(), StoreError>;

    /// The book's newest runs first.
    async fn runs(&self, book_id: &str, limit: i64) -> Result<Vec<EodRun>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_is_the_last_hex_digit() {
        assert_eq!(partition_of("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a50"), 0);
        assert_eq!(partition_of("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a59"), 9);
        assert_eq!(partition_of("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5a"), 10);
        assert_eq!(partition_of("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5F"), 15);
        assert_eq!(partition_of("L-x"), 0);
        assert_eq!(partition_of(""), 0);
        assert_eq!(partition_of("loan-é"), 0);
    }

    #[test]
    fn the_key_of_each_partition_is_its_digit() {
        let keys: Vec<char> = (0..EOD_PARTITIONS).filter_map(partition_key).collect();
        assert_eq!(keys.iter().collect::<String>(), "0123456789abcdef");
        assert!(partition_key(EOD_PARTITIONS).is_none());
        // What the SQL computes, in Rust: the last character lowercased if hex, else '0'.
        for c in (0u32..0x250).filter_map(char::from_u32) {
            let sql = if c.is_ascii_hexdigit() {
                c.to_ascii_lowercase()
            } else {
                '0'
            };
            assert_eq!(
                partition_key(partition_of(&format!("L{c}"))),
                Some(sql),
                "{c:?}"
            );
        }
    }

    #[test]
    fn the_indexed_expression_is_the_one_queried() {
        // The migrations index `partition_key_sql("id")`; a change here needs a migration.
        let sql = partition_key_sql("id");
        for migration in [
            include_str!("../migrations/sqlite/0010_eod_gl.sql"),
            include_str!("../migrations/postgres/0010_eod_gl.sql"),
        ] {
            let flat: String = migration.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(&format!("(book_id, ({sql}), id)")), "{flat}");
        }
    }
}
