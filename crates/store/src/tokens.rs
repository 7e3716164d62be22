//! API tokens as stored: each has an id (to name it without its secret), a display prefix, an
//! optional expiry and a revocation. Only the SHA-256 of a token's secret is kept.
//!
//! Every revocation bumps one counter, the revocation generation, in the same transaction, so a
//! server holding tokens in memory can tell with one cheap read that some token was revoked
//! meanwhile, by itself or by another process (the command line).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, StoreError, User};

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub id: String,
    /// SHA-256 (hex) of the secret.
    pub hash: String,
    /// The first characters of the secret, to recognise it in a list.
    pub prefix: String,
    pub user_id: String,
    pub created_at: String,
    /// RFC 3339 timestamp; `None` never expires.
    pub expires_at: Option<String>,
}

/// A stored token, without its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    /// `None` for tokens made before prefixes were kept.
    pub prefix: Option<String>,
    pub user: User,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

/// What authentication needs of a token that is not revoked: its user and expiry, and the
/// revocation generation read in the same statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGrant {
    pub token_id: String,
    pub user: User,
    pub expires_at: Option<String>,
    pub generation: i64,
}

/// API tokens. Part of every [`crate::Store`].
#[async_trait]
pub trait Tokens: Send + Sync {
    /// Store a token for a user, with its audit record.
    async fn issue_token(&self, token: &NewToken, audit: &AuditEntry) -> Result<(), StoreError>;
    /// The token with this hash if it is not revoked (expiry is the caller's to check, against
    /// its clock).
    async fn token_grant(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError>;
    /// The revocation generation: one row, read by primary key.
    async fn revocation_generation(&self) -> Result<i64, StoreError>;
    /// Every token, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Revoke a token and bump the revocation generation, with its audit record. `Ok(false)`
    /// (and nothing written) when it was revoked already; `NotFound` when there is no such token.
    async fn revoke_token(
        &self,
        id: &str,
        at: &str,
        by: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}
