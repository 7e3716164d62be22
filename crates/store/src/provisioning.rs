//! The book's provisioning table: the rates its close of business provisions at, and which
//! provisioning category each product's loans take.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, Decision, IdempotencyRecord, StoreError};

/// A book's provisioning table, as stored. The store keeps the JSON as given; the app reads and
/// checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProvisioningTable {
    pub book_id: String,
    /// How many times the book's table was written: 1 for the first.
    pub version: i64,
    /// The preset the rates came from: `rbi_nbfc`, `rbi_bank`, or `custom`.
    pub preset: String,
    /// The rates: the JSON of the domain's `ProvisionRates`.
    pub rates: String,
    /// Product id → provisioning category, a JSON object.
    pub categories: String,
    /// Who wrote this version, and when (RFC 3339).
    pub changed_by: String,
    pub changed_at: String,
}

#[async_trait]
pub trait Provisioning: Send + Sync {
    /// The book's provisioning table; `None` when none was ever written.
    async fn provisioning_table(
        &self,
        book_id: &str,
    ) -> Result<Option<ProvisioningTable>, StoreError>;
    /// Replace the book's table with `table`, with its audit record, the approval it carries
    /// out (if any) marked, and the reply stored under the request's key, in one transaction.
    /// Refused with `VersionConflict` when `table.version` is not the one after the stored
    /// table's (1 when there is none).
    async fn replace_provisioning_table(
        &self,
        table: &ProvisioningTable,
        audit: &AuditEntry,
        approval: Option<&Decision>,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
}
