//! The general ledger: the chart of accounts, balanced journal entries, the posting rules that
//! turn the loan engine's effects into entries, and the loan sub-ledger they reconcile to.
//!
//! Pure: the close of business feeds effects and accruals in, and stores what comes out.

pub mod accounts;
pub mod journal;
pub mod posting;
pub mod subledger;

pub use accounts::{Account, AccountKind, Chart, ChartError, ChartLine, Role, Side};
pub use journal::{EntryBuilder, JournalEntry, JournalError, Line, TrialBalance};
pub use posting::{Counterparty, Poster, accrual_entry, provision_entry};
pub use subledger::{Position, adjustment, loan_part, loan_roles, position, subledger};
