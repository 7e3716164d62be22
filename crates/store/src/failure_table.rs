//! The book's debit failure table: every (rail, return code) a failed debit may be answered
//! with, its class, reason and next action. Kept as versioned rows, never updated: a change adds
//! the next version, and the newest is the table in effect. Version 1 is the shipped seed table,
//! never stored: a book's first table of its own is version 2.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, Decision, IdempotencyRecord, StoreError};

/// One version of a book's failure table, as stored. The store keeps the CSV as given; the app
/// reads and checks it with the domain's `FailureTable::from_csv`.
/// The version of the shipped seed table, which a book without a table of its own classifies by.
pub const SEED_VERSION: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StoredFailureTable {
    pub book_id: String,
    /// The version: 2 for the book's first table of its own ([`SEED_VERSION`] is the seed's).
    pub version: i64,
    /// The table, as the CSV of the domain's `FailureTable::to_csv`.
    pub csv: String,
    /// Who wrote this version, and when (RFC 3339).
    pub changed_by: String,
    pub changed_at: String,
}

#[async_trait]
pub trait FailureTables: Send + Sync {
    /// The book's newest failure table; `None` when none was ever written.
    async fn failure_table(&self, book_id: &str) -> Result<Option<StoredFailureTable>, StoreError>;
    /// One version of the book's failure table, if it was written.
    async fn failure_table_version(
        &self,
        book_id: &str,
        version: i64,
    ) -> Result<Option<StoredFailureTable>, StoreError>;
    /// Add `table` as the book's newest version, with its audit record, the approval it carries
    /// out (if any) marked, and the reply stored under the request's key, in one transaction.
    /// Refused with `VersionConflict` when `table.version` is not the one after the newest
    /// stored ([`SEED_VERSION`] + 1 when there is none).
    async fn add_failure_table(
        &self,
        table: &StoredFailureTable,
        audit: &AuditEntry,
        approval: Option<&Decision>,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
}
