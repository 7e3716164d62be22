//! Loanbook's pure domain core: no I/O, no clock, no randomness, no global state.
//!
//! Every rule a loan is run by lives here, so that the same code quotes a schedule, replays a loan's
//! history and simulates a book.

pub mod calendar;
pub mod money;
