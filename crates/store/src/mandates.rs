//! Mandates: a loan's standing authorities to debit a borrower's account, each with its history.
//!
//! The store keeps what it is given: the app checks the lifecycle (the domain's
//! `collections::mandate`) and masks the account before anything is written. Every write is one
//! transaction with its history rows, its audit records, its outbox messages and the reply stored
//! under the request's idempotency key; a status change is refused with `VersionConflict` when the
//! mandate moved on since it was read.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, IdempotencyRecord, NewOutbox, StoreError};

/// A mandate as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MandateRecord {
    pub id: String,
    pub book_id: String,
    pub loan_id: String,
    /// `nach`, `upi_autopay`, `ach` or `card`.
    pub rail: String,
    /// `enach`, `physical_nach`, `upi_autopay`, `ach` or `card`.
    pub kind: String,
    /// The rail's reference: the UMRN, the UPI mandate id, the ACH authorisation id.
    pub reference: String,
    /// The most one debit may take, in minor units of `currency`.
    pub max_amount: i64,
    pub currency: String,
    /// `monthly`, `quarterly` or `as_presented`.
    pub frequency: String,
    /// ISO dates: the first and the last day it may be debited on (`None`: until cancelled).
    pub start_date: String,
    pub end_date: Option<String>,
    /// The business date it was submitted for registration.
    pub submitted_on: String,
    /// `pending_registration`, `active`, `paused`, `revoked`, `expired` or `rejected`.
    pub status: String,
    /// The business date of the last status change (`None` while pending registration).
    pub status_on: Option<String>,
    /// Why it was revoked or rejected.
    pub status_reason: Option<String>,
    pub debtor_name: String,
    /// The account number's last four digits; the number itself is never stored.
    pub account_last4: String,
    /// SHA-256 (hex) of the account number, to tell two accounts apart.
    pub account_hash: String,
    /// The debtor's bank: the IFSC, or the ACH routing number.
    pub bank_code: String,
    pub created_at: String,
    pub updated_at: String,
    /// How many times it was written: 1 when registered.
    pub version: i64,
}

/// One row of a mandate's history: the write that made its version `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MandateEvent {
    pub mandate_id: String,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    /// `None` for the registration.
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: Option<String>,
    /// A JSON object with what else the app records of the change.
    pub detail: String,
}

/// A status change of a mandate read at `expected_version`: the mandate as it becomes (its
/// `version` the next one) and the history row written with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateChange {
    pub expected_version: i64,
    pub mandate: MandateRecord,
    pub event: MandateEvent,
}

/// What every mandate write carries besides the mandates: one audit record per mandate written,
/// the outbox messages, and the reply to store under the request's key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MandateWriteMeta {
    pub audit: Vec<AuditEntry>,
    pub outbox: Vec<NewOutbox>,
    pub key: Option<IdempotencyRecord>,
}

#[async_trait]
pub trait Mandates: Send + Sync {
    /// Register a mandate (its `version` 1) with its first history row. A reference the book
    /// already has on the rail is `Duplicate`; a second active mandate of a loan is `Conflict`.
    async fn insert_mandate(
        &self,
        mandate: &MandateRecord,
        event: &MandateEvent,
        meta: &MandateWriteMeta,
    ) -> Result<(), StoreError>;
    /// Change a mandate's status under its version: `VersionConflict` when it moved on,
    /// `NotFound` when there is none.
    async fn change_mandate_status(
        &self,
        change: &MandateChange,
        meta: &MandateWriteMeta,
    ) -> Result<(), StoreError>;
    /// Register `new` and change `old` (revoked as replaced) in one transaction: both or
    /// neither.
    async fn replace_mandate(
        &self,
        old: &MandateChange,
        new: &MandateRecord,
        new_event: &MandateEvent,
        meta: &MandateWriteMeta,
    ) -> Result<(), StoreError>;
    async fn mandate(&self, id: &str) -> Result<Option<MandateRecord>, StoreError>;
    /// A loan's mandates, oldest first.
    async fn loan_mandates(&self, loan_id: &str) -> Result<Vec<MandateRecord>, StoreError>;
    /// A mandate's history, in order.
    async fn mandate_history(&self, id: &str) -> Result<Vec<MandateEvent>, StoreError>;
}
