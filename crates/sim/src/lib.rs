//! Synthetic loan books: realistic loans with their histories, for demos, tests and benchmarks.
//!
//! A book is a [`BookSpec`]: how many loans, a seed, and the date the book stands at. Each loan is
//! a pure function of the spec and its index ([`loan`]): its random stream is seeded from
//! `(seed, index)` with ChaCha8, whose output is fixed across versions, so loans can be made in
//! any order or in parallel and the same seed always gives the same book.
//!
//! The mix follows the product examples: mostly monthly EMI personal loans, some flat-rate
//! two-wheeler loans, quarterly equal-principal MSME loans, co-lent MSME loans funded 80/20 with
//! a bank, and a few bullet gold loans ([`products`]). Loans were disbursed over the five years
//! before the as-of date, so the older ones have run their course and closed. Borrowers mostly
//! pay on the due date; some pay late, some payments bounce and are paid again, some borrowers
//! prepay or foreclose, and a delinquent tail stops paying so that the book holds loans in SMA-0,
//! SMA-1, SMA-2 and NPA ([`behaviour`]). About one borrower in ten holds two or three facilities.

use jiff::civil::Date;
use loanbook_domain::events::Event;
use loanbook_domain::terms::Terms;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub mod bank;
pub mod behaviour;
pub mod products;

/// A synthetic book to make: `loans` loans from `seed`, standing at the end of `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookSpec {
    pub loans: usize,
    pub seed: u64,
    /// The last day of the book's history: every event is dated on or before it.
    pub as_of: Date,
    /// Loans were disbursed up to this many days before `as_of` ([`products::MAX_AGE_DAYS`]
    /// by default: five years, so that the older loans have closed; a year gives a book of
    /// loans nearly all still running).
    pub max_age_days: i64,
}

/// One synthetic loan: who borrowed, under which product, its terms and what has happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLoan {
    /// The lender's loan number, unique in the book (`SIM-000000001`).
    pub number: String,
    /// The borrower's id, shared by the facilities of one borrower.
    pub borrower: String,
    /// The product the loan was sold under (`personal`, `two_wheeler`, `msme`,
    /// `msme_colending`, `gold`).
    pub product: &'static str,
    pub terms: Terms,
    /// Its events, in date order, each dated on or before the book's as-of date.
    pub events: Vec<Event>,
}

/// Loans per block of the borrower grouping: a borrower's facilities are in one block.
pub const BORROWER_BLOCK: usize = 64;

/// What a random stream is for, so that two uses of one index never share a stream.
#[derive(Clone, Copy)]
enum Stream {
    Loan = 1,
    Borrowers = 2,
}

/// The random stream of one use of `(seed, n)`.
fn stream(seed: u64, what: Stream, n: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&n.to_le_bytes());
    key[16] = what as u8;
    ChaCha8Rng::from_seed(key)
}

/// The loan at `index` (from 0) of the book `spec`: the same spec and index always give the same
/// loan. The index need not be below `spec.loans`.
pub fn loan(spec: &BookSpec, index: usize) -> SimLoan {
    let mut rng = stream(spec.seed, Stream::Loan, index as u64);
    let (product, terms) = products::draw(&mut rng, spec.as_of, spec.max_age_days);
    let events = behaviour::history(&mut rng, &terms, product, spec.as_of);
    SimLoan {
        number: format!("SIM-{:09}", index + 1),
        borrower: borrower(spec.seed, index),
        product: product.name(),
        terms,
        events,
    }
}

/// The borrower of the loan at `index`: each block of [`BORROWER_BLOCK`] loans is cut into runs
/// of one facility (most borrowers), two or three, from the block's own stream; a borrower is
/// named after the index of its first loan.
fn borrower(seed: u64, index: usize) -> String {
    let start = index - index % BORROWER_BLOCK;
    let mut rng = stream(seed, Stream::Borrowers, (index / BORROWER_BLOCK) as u64);
    let mut first = start;
    loop {
        let u: f64 = rng.random();
        let facilities = if u < 0.90 {
            1
        } else if u < 0.965 {
            2
        } else {
            3
        };
        if index < first + facilities {
            return format!("BRW-{:09}", first + 1);
        }
        first += facilities;
    }
}

#[cfg(test)]
mod tests;
