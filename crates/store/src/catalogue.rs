//! The catalogue: loan products (versioned) and parties (borrowers, guarantors, partners).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, Decision, IdempotencyRecord, StoreError};

/// A loan product: a code and its versioned configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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

#[async_trait]
pub trait Catalogue: Send + Sync {
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
}
