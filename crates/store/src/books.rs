//! The book (tenant): its business date, and whether the database takes writes.

use async_trait::async_trait;

use crate::{AuditEntry, Backend, StoreError};

/// The book and the database it lives in.
#[async_trait]
pub trait Books: Send + Sync {
    fn backend(&self) -> Backend;

    /// Create a book (tenant) unless it exists.
    async fn ensure_book(
        &self,
        id: &str,
        name: &str,
        business_date: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    async fn business_date(&self, book_id: &str) -> Result<String, StoreError>;
    /// Move a book's business date from `from` to `to`, with its audit record; refused (as a
    /// version conflict) when the date is no longer `from`.
    async fn set_business_date(
        &self,
        book_id: &str,
        from: &str,
        to: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Whether a write can commit now: rewrites one heartbeat row in a transaction.
    async fn check_writable(&self, at: &str) -> Result<(), StoreError>;
}
