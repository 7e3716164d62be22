//! The outbox (events for subscribers, written with the change they report), webhook endpoints
//! and their deliveries.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, IdempotencyRecord, StoreError};

/// An event for subscribers, written in the same transaction as the change it reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOutbox {
    pub id: String,
    pub loan_id: Option<String>,
    pub topic: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OutboxMessage {
    pub position: i64,
    pub id: String,
    pub loan_id: Option<String>,
    pub topic: String,
    pub payload: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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

#[async_trait]
pub trait Outbox: Send + Sync {
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
}
