//! The event-sourced loan: `replay(terms, events, as_of)` folds a loan's value-dated events over
//! its terms into its state at the end of a day.
//!
//! Each day runs in a fixed order: instalments due that day fall due (and held advance money is
//! applied to them), the day's events apply in recorded order, then the day-end: unpaid dues are
//! overdue, penal charges accrue or are levied, DPD and the SMA/NPA class are stamped. Days with no
//! event and no due date are run in bulk with the same result as one at a time, so a replay costs
//! in proportion to events and instalments, not days.
//!
//! Applying events and running day-ends can also collect [`Effect`]s (what was disbursed, fell
//! due, allocated, levied, waived, capitalised, reversed, …), which sum to the balances:
//! [`replay_with_effects`], [`Engine::run_with_effects`]. A [`Snapshot`] of the engine resumes
//! with the events stored after it at their cost alone ([`resume`], [`resume_owned`]); replay
//! from zero stays the reference it is tested against.

mod accrual;
mod allocation;
mod apply;
mod charges;
mod closure;
mod colending;
mod day;
mod delinquency;
mod disbursement;
mod effects;
mod history;
mod limits;
mod quiet;
mod receipts;
mod replay;
mod restructure;
mod snapshot;
mod state;

use effects::Effects;
pub use effects::{Capitalisation, Effect, EffectKind, EffectName, Paid, RescheduleCause};
pub use history::check_history;
pub use limits::MAX_EVENTS;
pub use quiet::{Demand, MAX_QUIET_DAYS, QuietPlan};
pub use receipts::Receipts;
pub use replay::{
    PrepaymentPreview, foreclosure_quote, prepayment_preview, replay, replay_with_effects,
};
pub use snapshot::{
    NeedsEarlier, Resumed, Resumption, SNAPSHOT_FORMAT, Snapshot, SnapshotError, resume,
    resume_owned,
};
pub use state::{
    Balances, ChargeDue, Due, Engine, InstallmentState, InstallmentStatus, LoanState, Loss,
    PartnerLedger, PartnerState, Status, Target,
};

use crate::calendar::Date;
use crate::events::Event;
use crate::schedule::ScheduleError;

/// Why a list of events cannot be replayed: the event (its position in the list as given) and the
/// rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("events[{index}] ({event} on {date}): {field}: {rule}")]
pub struct ReplayError {
    pub index: usize,
    pub event: &'static str,
    pub date: Date,
    pub field: &'static str,
    pub rule: String,
}

type Res<T> = Result<T, (&'static str, String)>;

fn sched(e: ScheduleError) -> (&'static str, String) {
    ("schedule", e.to_string())
}

fn day_after(d: Date) -> Date {
    d.tomorrow().unwrap_or(d)
}

fn fail(index: usize, event: &Event, (field, rule): (&'static str, String)) -> ReplayError {
    ReplayError {
        index,
        event: event.kind.name(),
        date: event.date,
        field,
        rule,
    }
}
