//! The close of business: one business day at a time, every loan advanced through the day-end by
//! the pure engine in parallel, what changed written in bulk with the GL's postings, the book's
//! business date moved on.
//!
//! A day's close runs in steps; the loans step is split into [`EOD_PARTITIONS`] partitions of the
//! loans, the book-level steps after it have one. Each partition is claimed by one worker and
//! written chunk by chunk, every chunk in one transaction with the partition's progress (the last
//! loan id done). A close killed at any point is run again
//! from that progress, and a chunk is never applied twice (the store refuses a chunk whose
//! starting cursor is not the partition's), so a re-run gives the state and the GL of an
//! uninterrupted close.
//!
//! **Commands during a close take the new date.** Opening the close of day D moves the business
//! date to D + 1 in the same transaction, so a payment arriving while D closes is value-dated
//! D + 1 (or back-dated, as any command may be) and is posted by the next close: an event stored
//! after a loan's mark ([`loan_close`]) is new to the close that reads it, whatever its date.

pub mod borrowers;
mod chunk;
pub(crate) mod loan_close;
pub mod opening;
pub mod reminders;
mod run;
pub mod schedule;

use serde::Serialize;
use utoipa::ToSchema;

pub use loanbook_store::EOD_PARTITIONS;
pub use run::{CloseOptions, DEFAULT_CHUNK, MAX_CHUNK, MAX_WORKERS, ProgressSink, Quiet};

/// The steps of a day's close, in order.
pub const STEPS: [&str; 4] = [LOANS_STEP, BORROWERS_STEP, REMINDERS_STEP, CHECKPOINT_STEP];
/// Instalments falling due, penal charges, accrual, DPD and classification, suspense,
/// provisioning, projections and snapshots: everything the engine's day-end does, per loan.
pub const LOANS_STEP: &str = "loans";
/// Borrower-wise classification: the facilities of a borrower with an NPA made NPA with it, and
/// upgraded together when all their arrears are paid (see `borrowers`).
pub const BORROWERS_STEP: &str = "borrowers";
/// The reminders of the instalments falling due a few days on, into the outbox (see `reminders`).
pub const REMINDERS_STEP: &str = "reminders";
/// The summary accruals of the loans the close did not read, and the book-level audit
/// checkpoint over every stream's head.
pub const CHECKPOINT_STEP: &str = "checkpoint";

/// What one step of a day's close did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct StepSummary {
    pub step: String,
    pub partitions: u32,
    pub loans_read: i64,
    pub loans_changed: i64,
    pub rows_written: i64,
    /// Milliseconds spent in the step, summed over its partitions.
    pub millis: i64,
}

/// What one day's close did.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct DayClosed {
    /// The business day closed.
    #[schema(format = Date, example = "2024-03-31")]
    pub date: String,
    /// The business date after it.
    #[schema(format = Date, example = "2024-04-01")]
    pub business_date: String,
    pub steps: Vec<StepSummary>,
    /// Loans that did not replay and were left as they were, with the reason.
    pub failures: Vec<String>,
    /// Seconds the close took, wall clock (this process's part of it).
    pub seconds: f64,
}

/// A recorded close.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EodRunView {
    #[schema(format = Date, example = "2024-03-31")]
    pub business_date: String,
    /// `running` or `done`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub summary: Option<DayClosed>,
}

/// The closes of the book, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EodRunsView {
    pub runs: Vec<EodRunView>,
}
