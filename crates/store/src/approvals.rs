//! Maker-checker approvals: a command held until a second user decides on it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, IdempotencyRecord, StoreError};

/// A maker-checker request: a command held until a second user decides on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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

#[async_trait]
pub trait Approvals: Send + Sync {
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
}
