//! Users of the API (their tokens are in [`crate::tokens`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, StoreError};

/// A user of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: String,
    /// For the `partner` role: the co-lending partner whose loans it may read.
    pub partner_id: Option<String>,
    pub created_at: String,
}

#[async_trait]
pub trait Users: Send + Sync {
    /// Create a user, with its audit record.
    async fn create_user(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError>;
    async fn user_count(&self) -> Result<i64, StoreError>;
}
