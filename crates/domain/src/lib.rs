//! Loanbook's pure domain core: no I/O, no clock, no randomness, no global state.
//!
//! Every rule a loan is run by lives here, so that the same code quotes a schedule, replays a loan's
//! history and simulates a book.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod calendar;
pub mod colending;
pub mod collections;
pub mod delinquency;
pub mod events;
pub mod gl;
pub mod loan;
pub mod money;
pub mod origination;
pub mod provisioning;
pub mod schedule;
#[cfg(feature = "schema")]
pub mod schema;
pub mod terms;
