//! Idempotency keys: the reply stored under a key, replayed for a repeated request, and the
//! reservation a request holds while it runs.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The response stored under an idempotency key, replayed for a repeated request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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

#[async_trait]
pub trait Idempotency: Send + Sync {
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
}
