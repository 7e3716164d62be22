//! Applications: each application's append-only event stream (its origination history, from
//! draft to disbursement) and its projection for queries and queues. The loan's own stream
//! starts where the application's ends: the disbursement that books the loan appends the
//! application's last event in the loan's transaction ([`crate::CommandWrite::application`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, Decision, IdempotencyRecord, NewOutbox, Party, StoreError};

/// An application's projection: what queries, lists and queues read. Derived from its events,
/// rebuildable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ApplicationRecord {
    pub id: String,
    pub book_id: String,
    /// The lender's reference for the application, unique in the book.
    pub number: String,
    pub product_id: String,
    pub product_version: i64,
    /// The main applicant, a party.
    pub applicant_id: Option<String>,
    /// The lifecycle status (`draft`, `submitted`, …).
    pub status: String,
    /// The queue the application waits in (`credit`, `partner:{party id}`), if any.
    pub queue: Option<String>,
    /// The loan booked from it, once disbursed.
    pub loan_id: Option<String>,
    /// How many events the application has.
    pub version: i64,
    /// The application's state JSON (opaque to the store).
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A stored application event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StoredApplicationEvent {
    pub application_id: String,
    pub seq: i64,
    /// The event JSON.
    pub event: String,
    pub recorded_at: String,
    pub command_id: String,
}

/// A new application's fixed facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApplication {
    /// The book it belongs to.
    pub book_id: String,
    pub number: String,
    pub product_id: String,
    pub product_version: i64,
}

/// The application part of a write: events appended at the expected version, and the new
/// projection fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationAppend {
    pub application_id: String,
    /// The version the command was decided on: 0 when it creates the application.
    pub expected_version: i64,
    /// Present when the write creates the application.
    pub new: Option<NewApplication>,
    /// Event JSON documents, in order.
    pub events: Vec<String>,
    pub applicant_id: Option<String>,
    pub status: String,
    pub queue: Option<String>,
    pub loan_id: Option<String>,
    pub state: String,
    /// The chained audit record (target `application/{id}`).
    pub audit: AuditEntry,
}

/// Everything one application command writes, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationWrite {
    pub command_id: String,
    pub at: String,
    pub append: ApplicationAppend,
    pub outbox: Vec<NewOutbox>,
    pub idempotency: Option<IdempotencyRecord>,
    /// The approval this command carries out, marked approved in the same transaction.
    pub approval: Option<Decision>,
    /// Parties the command records (a submission's people), each with its audit record.
    pub parties: Vec<(Party, AuditEntry)>,
}

/// Filters for listing applications, newest id last, with keyset pagination on the id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationFilter {
    pub status: Option<String>,
    /// Exact queue name (`credit`, `partner:{id}`).
    pub queue: Option<String>,
    pub applicant_id: Option<String>,
    /// Only applications with an id greater than this.
    pub after: Option<String>,
    pub limit: i64,
}

#[async_trait]
pub trait Applications: Send + Sync {
    /// Write one application command in one transaction: the version check, the events with
    /// the next sequence numbers, the projection, the chained audit record, the outbox and the
    /// idempotency record. Returns the sequence numbers of the appended events. A stale
    /// `expected_version` is a [`StoreError::VersionConflict`]; a duplicate number a
    /// [`StoreError::Duplicate`].
    async fn commit_application(&self, write: &ApplicationWrite) -> Result<Vec<i64>, StoreError>;

    async fn application(&self, id: &str) -> Result<Option<ApplicationRecord>, StoreError>;
    async fn application_by_number(
        &self,
        number: &str,
    ) -> Result<Option<ApplicationRecord>, StoreError>;
    /// The application's events, in order.
    async fn application_events(&self, id: &str)
    -> Result<Vec<StoredApplicationEvent>, StoreError>;
    async fn list_applications(
        &self,
        filter: &ApplicationFilter,
    ) -> Result<Vec<ApplicationRecord>, StoreError>;
}
