//! Loans: their frozen terms, each loan's append-only event stream, the projection for queries,
//! snapshots of the engine, and the one write that carries a command out.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ApplicationAppend, AuditEntry, Decision, IdempotencyRecord, NewOutbox, StoreError};

/// A loan as booked: its frozen terms and their hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanRecord {
    pub id: String,
    pub book_id: String,
    pub loan_number: String,
    pub borrower_id: Option<String>,
    pub product_id: Option<String>,
    pub product_version: Option<i64>,
    /// The canonical terms JSON.
    pub terms: String,
    pub terms_hash: String,
    pub partner_ids: Vec<String>,
    pub created_at: String,
    /// The application the loan was booked from, when origination booked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
}

/// An event to append: its value date and its JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub value_date: String,
    pub event: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub loan_id: String,
    pub seq: i64,
    pub value_date: String,
    pub event: String,
    pub recorded_at: String,
    pub command_id: String,
}

/// The queryable state of a loan after its latest command: derived, rebuildable by replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Projection {
    pub loan_id: String,
    /// The sequence number of the loan's last event.
    pub version: i64,
    pub as_of: String,
    pub status: String,
    pub classification: String,
    pub dpd: i64,
    pub principal_outstanding: i64,
    pub total_overdue: i64,
    /// The replay state JSON.
    pub state: String,
}

/// The engine's state after a loan's first `version` events, to resume from instead of
/// replaying them. The engine JSON is opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSnapshot {
    /// How many of the loan's events it covers.
    pub version: i64,
    /// The ISO date of the engine's last day-end.
    pub day: String,
    /// The engine state JSON.
    pub engine: String,
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SnapshotRecord {
    pub loan_id: String,
    pub version: i64,
    pub day: String,
    pub engine: String,
    pub created_at: String,
}

/// How many of a loan's newest snapshots are always kept.
pub const SNAPSHOTS_KEPT: i64 = 4;
/// Of older snapshots, the newest in each block of this many versions is kept, so a back-dated
/// event still finds one before its value date: a loan keeps at most `SNAPSHOTS_KEPT` plus one
/// per block.
pub const SNAPSHOT_BLOCK: i64 = 100;

/// Most writes one [`Loans::commit_batch`] call takes.
pub const MAX_BATCH_WRITES: usize = 20_000;

/// Everything one loan command writes, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandWrite {
    pub command_id: String,
    pub at: String,
    pub loan_id: String,
    /// The loan's version the command was decided on: 0 when it books the loan.
    pub expected_version: i64,
    pub new_loan: Option<LoanRecord>,
    pub events: Vec<NewEvent>,
    pub projection: Projection,
    /// The engine's state after the command's events, to resume from later.
    pub snapshot: Option<NewSnapshot>,
    pub audit: AuditEntry,
    pub outbox: Vec<NewOutbox>,
    pub idempotency: Option<IdempotencyRecord>,
    /// The approval this command carries out, marked approved in the same transaction.
    pub approval: Option<Decision>,
    /// The application this command books the loan from: its last events, appended in the same
    /// transaction (a disbursement).
    pub application: Option<ApplicationAppend>,
}

/// Filters for listing loans, with keyset pagination on the loan id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoanFilter {
    pub status: Option<String>,
    pub classification: Option<String>,
    pub dpd_min: Option<i64>,
    pub dpd_max: Option<i64>,
    pub partner_id: Option<String>,
    pub loan_number: Option<String>,
    /// Only loans with an id greater than this.
    pub after: Option<String>,
    pub limit: i64,
}

/// A row of the loan list: the projection and the loan's human reference.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoanListing {
    #[sqlx(flatten)]
    pub projection: Projection,
    pub loan_number: String,
}

#[async_trait]
pub trait Loans: Send + Sync {
    /// Write one loan command in one transaction: the version check, the events with the next
    /// sequence numbers, the projection, the snapshot, the chained audit record, the outbox
    /// and the idempotency record. Returns the sequence numbers of the appended events.
    async fn commit(&self, write: &CommandWrite) -> Result<Vec<i64>, StoreError>;

    /// Write many loan commands in one transaction, all or none, as [`Loans::commit`] writes
    /// each: a loan's writes in the batch chain on its version in order. A batch carries events
    /// on booked loans only (no booking, approval, application step or idempotency record: the
    /// caller keys the batch as a whole) and at most [`MAX_BATCH_WRITES`] writes.
    async fn commit_batch(&self, writes: &[CommandWrite]) -> Result<(), StoreError>;

    async fn loan(&self, id: &str) -> Result<Option<LoanRecord>, StoreError>;
    async fn events(&self, loan_id: &str) -> Result<Vec<StoredEvent>, StoreError>;
    /// The loan's events after the first `version`, in order.
    async fn events_after(
        &self,
        loan_id: &str,
        version: i64,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Just the event documents of a loan, in order: what a replay needs, in one round trip.
    async fn event_documents(&self, loan_id: &str) -> Result<Vec<String>, StoreError>;
    /// Where to resume the loan's engine from: its latest snapshot (the latest whose `day` is
    /// before `before_day`, when given) and the events after it, in one statement. `None` when
    /// there is no such snapshot.
    async fn resume_point(
        &self,
        loan_id: &str,
        before_day: Option<&str>,
    ) -> Result<Option<(SnapshotRecord, Vec<StoredEvent>)>, StoreError>;
    /// Every stored snapshot of the loan, oldest first (for checking them against a replay).
    async fn snapshots(&self, loan_id: &str) -> Result<Vec<SnapshotRecord>, StoreError>;
    async fn projection(&self, loan_id: &str) -> Result<Option<Projection>, StoreError>;
    /// The projection's version and classification only.
    async fn projection_head(&self, loan_id: &str) -> Result<Option<(i64, String)>, StoreError>;
    async fn list_loans(&self, filter: &LoanFilter) -> Result<Vec<LoanListing>, StoreError>;
    /// Replace projections with fresher ones of the same versions (the business date moved);
    /// one whose loan has taken a command since is left as that command wrote it. Returns how
    /// many were written.
    async fn refresh_projections(&self, projections: &[Projection]) -> Result<usize, StoreError>;
    async fn loan_ids(&self) -> Result<Vec<String>, StoreError>;
}
