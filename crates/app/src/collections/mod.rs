//! Collections: turning each instalment that falls due into a collection intent, presenting its
//! debits when the policy says, classifying every failure by the failure table, and posting what
//! was collected through the same commands as any payment.
//!
//! The day's work, in order ([`Collector::work_day`]):
//! 1. the attempts planned for the day, in hour order: each passes the rail's and the mandate's
//!    rules ([`check_attempt`](loanbook_domain::collections::check_attempt)), goes to the bank
//!    through a [`DebitBank`], and its answer is posted (a payment) or classified (a failure,
//!    with the bounce charge where the failure's class says so, and the policy's next decision);
//! 2. payments made outside the mandate for instalments still unpaid;
//! 3. intents for the instalments falling due `lead_days` ahead, read from the close of
//!    business's demands, with their first presentation planned (and, on rails that need one,
//!    the pre-debit notice sent now).
//!
//! Intents and attempts are held by the collector while it runs.

pub mod failure_table;
pub mod likelihood;
pub mod mandates;
mod metrics;
pub mod responses;
mod run;

pub use metrics::{ByAttempt, FailedByClass, Metrics};
pub use run::{Account, BankReply, Collector, CollectorSetup, DebitBank};
