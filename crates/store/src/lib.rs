//! Loanbook persistence. One [`Store`] interface with a SQLite implementation (the embedded
//! default) and a PostgreSQL one (production), each with its own embedded migrations and both
//! held to one contract test suite.
//!
//! The store keeps what the domain cannot: loans with their frozen terms, each loan's append-only
//! event stream, projections for queries, idempotency records, the hash-chained audit log, the
//! outbox, users and API tokens (see [`tokens`]). Every command is written by [`Store::commit`] in one transaction.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod audit;
mod sql;
pub mod testing;
pub mod tokens;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use audit::EventFacts;
pub use audit::{
    AuditHead, AuditKey, AuditRecord, BadAuditKey, ChainBreak, Checkpoint, CheckpointRecord,
    GENESIS_HASH, KeyRequired, Verified, chain_hash, content_hash, seal, terms_digest,
    verify_chain,
};
pub use sql::{PgStore, SqliteStore};
pub use tokens::{NewToken, TokenGrant, TokenRecord, Tokens};

/// The names of the audit chain's hashing schemes, as stored in each record.
pub mod audit_schemes {
    pub use crate::audit::{
        SCHEME_KEYED as KEYED, SCHEME_LEGACY as LEGACY, SCHEME_UNKEYED as UNKEYED,
    };
}

/// What can go wrong in the store. `VersionConflict` and `Retryable` are for the caller to retry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the loan changed meanwhile: expected version {expected}, found {actual}")]
    VersionConflict { expected: i64, actual: i64 },
    #[error("idempotency key `{key}` was already used")]
    IdempotencyConflict { key: String },
    #[error("{what} already exists")]
    Duplicate { what: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("the database is busy; try again ({0})")]
    Retryable(String),
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("database: {0}")]
    Database(String),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The audit chain is keyed and this store has no key (or the wrong one) to extend or check it.
    #[error("{0}")]
    AuditKey(String),
}

impl StoreError {
    /// Whether running the same command again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::VersionConflict { .. } | StoreError::Retryable(_)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A user of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: String,
    /// For the `partner` role: the co-lending partner whose loans it may read.
    pub partner_id: Option<String>,
    pub created_at: String,
}

/// The audit facts of one command; the store numbers and chains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// SHA-256 of the request as received.
    pub request_digest: String,
    /// Ids of the events the command appended (`loan_id:seq`).
    pub event_ids: Vec<String>,
}

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
}

/// An event to append: its value date and its JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub value_date: String,
    pub event: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub loan_id: String,
    pub seq: i64,
    pub value_date: String,
    pub event: String,
    pub recorded_at: String,
    pub command_id: String,
}

/// The queryable state of a loan after its latest command: derived, rebuildable by replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// An event for subscribers, written in the same transaction as the change it reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOutbox {
    pub id: String,
    pub loan_id: Option<String>,
    pub topic: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub position: i64,
    pub id: String,
    pub loan_id: Option<String>,
    pub topic: String,
    pub payload: String,
    pub created_at: String,
}

/// A loan product: a code and its versioned configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductVersion {
    pub product_id: String,
    pub code: String,
    pub name: String,
    pub version: i64,
    /// The configuration JSON (a terms template and limits).
    pub config: String,
    pub created_at: String,
}

/// A borrower, guarantor or co-lending partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub id: String,
    pub book_id: String,
    /// `borrower`, `guarantor` or `partner`.
    pub kind: String,
    pub name: String,
    /// Details JSON (identifiers, contacts).
    pub details: String,
    pub created_at: String,
}

/// A subscriber to outbox messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// The signing secret (`whsec_…`).
    pub secret: String,
    /// Topics it receives; `*` for all.
    pub topics: Vec<String>,
    pub active: bool,
    pub created_at: String,
}

/// One message's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub endpoint_id: String,
    pub outbox_position: i64,
    pub attempts: i64,
    /// `pending`, `delivered` or `failed` (given up after the last attempt).
    pub status: String,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered {
        at: String,
    },
    Failed {
        error: String,
        next_attempt_at: Option<String>,
    },
}

/// The response stored under an idempotency key, replayed for a repeated request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Who the key belongs to (the user), so two users' keys never collide.
    pub scope: String,
    pub key: String,
    /// The request the key was first used for: its method and path with the ids in it
    /// (`POST /v1/loans/ID/payments`). The key answers only that request.
    pub target: String,
    pub request_digest: String,
    /// The reply's HTTP status; [`IN_PROGRESS`] while the request that reserved the key runs.
    pub status: i64,
    pub body: String,
}

/// The status of an idempotency record whose request is still running.
pub const IN_PROGRESS: i64 = 0;

/// What reserving an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyReservation {
    /// The key is now reserved for this request: run it, then store its reply or release it.
    Reserved,
    /// The key is taken: by a finished request (its reply) or by one still running
    /// (`status` [`IN_PROGRESS`]).
    Taken(IdempotencyRecord),
}

/// A row of the loan list: the projection and the loan's human reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanListing {
    pub projection: Projection,
    pub loan_number: String,
}

/// A maker-checker request: a command held until a second user decides on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    /// The action held (`write_off`, `restructure`, `waive_charge`, …).
    pub action: String,
    /// What it acts on (`loan/ID`).
    pub target: String,
    /// The command's JSON, as the maker sent it.
    pub payload: String,
    /// The maker's user name.
    pub maker: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub checker: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

/// A checker's decision, written with the command it releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approval_id: String,
    pub checker: String,
    pub at: String,
}

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
    pub audit: AuditEntry,
    pub outbox: Vec<NewOutbox>,
    pub idempotency: Option<IdempotencyRecord>,
    /// The approval this command carries out, marked approved in the same transaction.
    pub approval: Option<Decision>,
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

/// The audit log: its records, its head, verification and checkpoints. (Each write appends its
/// record in its own transaction, so appending is not here.)
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// The audit log in order.
    async fn audit_records(&self) -> Result<Vec<AuditRecord>, StoreError>;
    /// The chain's head: its last record's seq and hash.
    async fn audit_head(&self) -> Result<AuditHead, StoreError>;
    /// Audit records after `after`, in order, at most `limit` (1 to 1000).
    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;
    /// Check the chain from one snapshot: every record against its hash (keyed with this
    /// store's key), the head, the checkpoint if given, the events each command appended and
    /// each loan's terms. `Err(KeyRequired)` inside when the chain is keyed and this store has
    /// no key.
    async fn verify_audit(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Result<Result<Verified, ChainBreak>, KeyRequired>, StoreError>;
    /// Write a checkpoint of the current head as an outbox message on `audit.checkpoint` and
    /// as its own audit record (`audit` is that record, its target set to the head covered).
    async fn audit_checkpoint(
        &self,
        audit: &AuditEntry,
        outbox_id: &str,
    ) -> Result<CheckpointRecord, StoreError>;
}

#[async_trait]
pub trait Store: Tokens + AuditLog + Send + Sync {
    fn backend(&self) -> Backend;

    /// Create a book (tenant) unless it exists.
    async fn ensure_book(
        &self,
        id: &str,
        name: &str,
        business_date: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    async fn business_date(&self, book_id: &str) -> Result<String, StoreError>;
    /// Move a book's business date from `from` to `to`, with its audit record; refused (as a
    /// version conflict) when the date is no longer `from`.
    async fn set_business_date(
        &self,
        book_id: &str,
        from: &str,
        to: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Create a user, with its audit record.
    async fn create_user(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError>;
    async fn user_count(&self) -> Result<i64, StoreError>;

    /// Write one loan command in one transaction: the version check, the events with the next
    /// sequence numbers, the projection, the chained audit record, the outbox and the
    /// idempotency record. Returns the sequence numbers of the appended events.
    async fn commit(&self, write: &CommandWrite) -> Result<Vec<i64>, StoreError>;

    async fn loan(&self, id: &str) -> Result<Option<LoanRecord>, StoreError>;
    async fn events(&self, loan_id: &str) -> Result<Vec<StoredEvent>, StoreError>;
    /// Just the event documents of a loan, in order: what a replay needs, in one round trip.
    async fn event_documents(&self, loan_id: &str) -> Result<Vec<String>, StoreError>;
    async fn projection(&self, loan_id: &str) -> Result<Option<Projection>, StoreError>;
    /// The projection's version and classification only.
    async fn projection_head(&self, loan_id: &str) -> Result<Option<(i64, String)>, StoreError>;
    async fn list_loans(&self, filter: &LoanFilter) -> Result<Vec<LoanListing>, StoreError>;
    /// Replace projections with fresher ones of the same versions (the business date moved);
    /// one whose loan has taken a command since is left as that command wrote it. Returns how
    /// many were written.
    async fn refresh_projections(&self, projections: &[Projection]) -> Result<usize, StoreError>;
    async fn loan_ids(&self) -> Result<Vec<String>, StoreError>;

    async fn idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Reserve `record`'s key for its request, at `at` (`now_ms` in milliseconds since the
    /// epoch). A reservation taken before `stale_before_ms` belongs to a request that died (its
    /// process crashed): it is taken over.
    async fn reserve_key(
        &self,
        record: &IdempotencyRecord,
        at: &str,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> Result<KeyReservation, StoreError>;
    /// Drop a reservation whose request failed, so the key can be used again.
    async fn release_key(&self, scope: &str, key: &str) -> Result<(), StoreError>;

    /// Hold a command for approval, with its audit record and the reply stored under the
    /// request's idempotency key, if it has one.
    async fn create_approval(
        &self,
        approval: &Approval,
        audit: &AuditEntry,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError>;
    async fn approvals(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Approval>, StoreError>;
    /// Reject a pending approval, with its audit record and the reply stored under the
    /// request's key.
    async fn reject_approval(
        &self,
        decision: &Decision,
        audit: &AuditEntry,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// Add the next version of a product (creating the product with version 1), with its audit
    /// record and, when it carries one out, the approval marked in the same transaction.
    /// Refused with `VersionConflict` when `version` is not the next one.
    async fn add_product_version(
        &self,
        book_id: &str,
        v: &ProductVersion,
        audit: &AuditEntry,
        approval: Option<&Decision>,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    /// A product's latest version, or the given one.
    async fn product(
        &self,
        code: &str,
        version: Option<i64>,
    ) -> Result<Option<ProductVersion>, StoreError>;
    /// Every product at its latest version.
    async fn products(&self) -> Result<Vec<ProductVersion>, StoreError>;
    /// Record a party with its audit record and the reply stored under the request's key.
    async fn create_party(
        &self,
        party: &Party,
        audit: &AuditEntry,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    async fn party(&self, id: &str) -> Result<Option<Party>, StoreError>;
    async fn parties(
        &self,
        kind: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Party>, StoreError>;

    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        audit: &AuditEntry,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError>;
    /// Queue a delivery of every undispatched outbox message to each active endpoint whose
    /// topics match, and mark the messages dispatched, in one transaction. Returns how many
    /// messages were dispatched.
    async fn dispatch_outbox(&self, now: &str, limit: i64) -> Result<usize, StoreError>;
    /// For each endpoint, its oldest undelivered delivery if it is due: deliveries to one
    /// endpoint go out one at a time, in outbox order.
    async fn due_deliveries(&self, now: &str)
    -> Result<Vec<(Delivery, OutboxMessage)>, StoreError>;
    async fn record_attempt(
        &self,
        endpoint_id: &str,
        position: i64,
        attempt: &Attempt,
    ) -> Result<(), StoreError>;
    async fn deliveries(&self, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>, StoreError>;

    /// Outbox messages after a position, in order.
    async fn outbox_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Whether a write can commit now: rewrites one heartbeat row in a transaction.
    async fn check_writable(&self, at: &str) -> Result<(), StoreError>;
}

/// How to open a store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The key audit records are sealed with; without one, records are unkeyed (`sha256-v2`),
    /// and a chain that is keyed already refuses new records.
    pub audit_key: Option<AuditKey>,
    /// Open for reading only: no migrations, no writes (SQLite `mode=ro`, PostgreSQL
    /// read-only transactions). For verifying a copy of the database.
    pub read_only: bool,
}

/// Open the database at `url` (`sqlite://PATH` or `postgres://…`) and bring its schema up to date.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    connect_with(url, &OpenOptions::default()).await
}

/// Open the database at `url` with options.
pub async fn connect_with(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open_with(url, options).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open_with(url, options).await?))
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}
