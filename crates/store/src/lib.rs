//! Loanbook persistence. One [`Store`] interface with a SQLite implementation (the embedded
//! default) and a PostgreSQL one (production), each with its own embedded migrations and both
//! held to one contract test suite.
//!
//! The store keeps what the domain cannot: loans with their frozen terms, each loan's and each
//! application's append-only event stream, snapshots of the loan engine, projections for
//! queries, idempotency records, the hash-chained audit log (one chain per stream, see
//! [`audit`]), the outbox, users and API tokens, the close of business's runs and progress, and
//! the general ledger. [`Store`] is the sum of role traits, one per aggregate ([`Books`], [`Users`],
//! [`Tokens`], [`Loans`], [`Applications`], [`Idempotency`], [`Approvals`], [`Catalogue`],
//! [`Outbox`], [`AuditLog`], [`Eod`], [`Gl`], [`Provisioning`], [`Mandates`],
//! [`FailureTables`]); `use loanbook_store::prelude::*` brings them all into scope. Every loan
//! command is written by [`Loans::commit`] in one transaction (many at once by
//! [`Loans::commit_batch`]), every application command by [`Applications::commit_application`].

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod applications;
mod approvals;
pub mod audit;
mod books;
mod bulk;
mod catalogue;
mod eod;
mod failure_table;
mod gl;
mod idempotency;
mod loans;
mod mandates;
mod outbox;
mod provisioning;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
mod users;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use applications::{
    ApplicationAppend, ApplicationFilter, ApplicationRecord, ApplicationWrite, Applications,
    NewApplication, StoredApplicationEvent,
};
pub use approvals::{Approval, Approvals, Decision};
pub use audit::{
    AuditEntry, AuditKey, AuditLog, AuditRecord, BadAuditKey, ChainBreak, Checkpoint,
    CheckpointRecord, CoveredHead, EventFacts, GENESIS_HASH, KeyRequired, StoredCheckpoint,
    StreamHead, Verified, chain_hash, content_hash, seal, seal_checkpoint, stream_of, terms_digest,
    verify_chain,
};
pub use books::Books;
pub use bulk::{BookOpening, Bulk, BulkLoan, MAX_BULK_LOANS};
pub use catalogue::{Catalogue, Party, ProductVersion};
pub use eod::{
    ChunkWrite, Demand, EOD_LOANS_MAX, EOD_PARTITIONS, Eod, EodLoan, EodMark, EodProgress, EodRun,
    Facility, PlannedAccrual, RUN_DONE, RUN_RUNNING, WakeQuery, partition_of,
};
pub use failure_table::{FailureTables, SEED_VERSION, StoredFailureTable};
pub use gl::{AccountBalance, Gl, GlLine, LoanAccountBalance, NewGlLine};
pub use idempotency::{IN_PROGRESS, Idempotency, IdempotencyRecord, KeyReservation};
pub use loans::{
    CommandWrite, LoanFilter, LoanListing, LoanRecord, Loans, MAX_BATCH_WRITES, NewEvent,
    NewSnapshot, Projection, SNAPSHOT_BLOCK, SNAPSHOTS_KEPT, SnapshotRecord, StoredEvent,
};
pub use mandates::{MandateChange, MandateEvent, MandateRecord, MandateWriteMeta, Mandates};
pub use outbox::{Attempt, Delivery, NewOutbox, Outbox, OutboxMessage, WebhookEndpoint};
pub use provisioning::{Provisioning, ProvisioningTable};
pub use sql::{PgStore, SqliteStore};
pub use tokens::{NewToken, TokenGrant, TokenRecord, Tokens};
pub use users::{User, Users};

/// The names of the audit chain's hashing schemes, as stored in each record.
pub mod audit_schemes {
    pub use crate::audit::{
        SCHEME_KEYED as KEYED, SCHEME_LEGACY as LEGACY, SCHEME_UNKEYED as UNKEYED,
    };
}

/// Every role trait, for callers holding an `Arc<dyn Store>`: `use loanbook_store::prelude::*`.
pub mod prelude {
    pub use crate::{
        Applications, Approvals, AuditLog, Books, Bulk, Catalogue, Eod, FailureTables, Gl,
        Idempotency, Loans, Mandates, Outbox, Provisioning, Store, Tokens, Users,
    };
}

/// What can go wrong in the store. `VersionConflict` and `Retryable` are for the caller to retry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the loan or application changed meanwhile: expected version {expected}, found {actual}"
    )]
    VersionConflict { expected: i64, actual: i64 },
    #[error("idempotency key `{key}` was already used")]
    IdempotencyConflict { key: String },
    #[error("{what} already exists")]
    Duplicate { what: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The write does not fit the state it found (a close already opened or finished, a chunk
    /// already applied): running it again will not help.
    #[error("refused: {what}")]
    Conflict { what: String },
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

/// The whole store: every role. Implemented for anything that has all of them, so an
/// `Arc<dyn Store>` hands out each role.
pub trait Store:
    Books
    + Users
    + Tokens
    + Loans
    + Applications
    + Idempotency
    + Approvals
    + Catalogue
    + Outbox
    + AuditLog
    + Eod
    + Gl
    + Bulk
    + FailureTables
    + Provisioning
    + Mandates
{
}

impl<T> Store for T where
    T: Books
        + Users
        + Tokens
        + Loans
        + Applications
        + Idempotency
        + Approvals
        + Catalogue
        + Outbox
        + AuditLog
        + Eod
        + Gl
        + Bulk
        + FailureTables
        + Provisioning
        + Mandates
{
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
