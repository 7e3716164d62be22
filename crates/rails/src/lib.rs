//! Loanbook's connectors to the outside world. Each is a stateless module behind one trait, with
//! a deterministic simulator that behaves like the real service (its answers, delays and
//! failures), so nothing is faked inside the core.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod aa;
pub mod bureau;
pub mod debit;
pub mod payout;
