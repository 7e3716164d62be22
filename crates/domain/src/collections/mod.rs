//! Collections: the rules of auto-debit rails, mandates, the classes of debit failures and the
//! policies that choose when to present a debit and when to try again.
//!
//! Everything here is pure: a policy is given what has been observed so far and answers with a
//! decision and the reason for it; the connectors that talk to banks and the store that keeps
//! intents and attempts live outside the domain.

pub mod adaptive;
pub mod attempt;
pub mod failure;
pub mod mandate;
pub mod policy;
pub mod rail;

pub use adaptive::{AdaptivePolicy, AdaptiveSettings};
pub use attempt::{Attempt, Breach, Intent, Outcome, Slot, check_attempt};
pub use failure::{Action, Classified, FailureClass, FailureRule, FailureTable, Handling, Reason};
pub use mandate::{Mandate, MandateFrequency, MandateKind, MandateProblem, MandateStatus};
pub use policy::{Case, Decision, FixedPolicy, Observation, Policy};
pub use rail::{Rail, RailRules};
