//! Servicing a loan: booking it, the commands on it, and its reads. A write is checked by the
//! engine against the loan's whole history on every date up to the business date, so nothing
//! that cannot be read back is ever written.

pub mod batch;
pub mod booking;
pub mod commands;
mod queries;
mod resume;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{self, LoanState};
use loanbook_domain::terms::Terms;
use loanbook_store::{NewOutbox, Projection};
use serde_json::{Value, json};

use crate::state_view::LoanStateView;
use crate::{Action, AppError};

pub use booking::BookLoan;
pub use commands::LoanCommand;
pub use queries::{CLASSIFICATIONS, ListLoans, STATUSES};

/// The outbox topic of an event of this kind: its row of the loan command table.
pub(crate) fn loan_topic(kind: &EventKind) -> String {
    commands::topic_for(kind).to_owned()
}

/// The right an event of this kind needs: its row of the loan command table.
pub(crate) fn action_for(kind: &EventKind) -> Action {
    commands::right_for(kind)
}

/// The state a history replays to on `through`, once it is known to replay on every date up to
/// it: nothing that cannot be read back is ever written. `new_from` is the index of the first
/// event the write adds; an error is named by the field of the event that broke.
pub(crate) fn history_state(
    terms: &Terms,
    events: &[Event],
    through: Date,
    new_from: usize,
) -> Result<LoanState, AppError> {
    loan::check_history(terms, events, through).map_err(|e| refused(&e, events.len(), new_from))
}

/// The engine's refusal of a write as a problem naming the field: `total` events, of which the
/// write adds those from `new_from` on.
pub(crate) fn refused(e: &loan::ReplayError, total: usize, new_from: usize) -> AppError {
    let field = if new_from == 0 {
        format!("events[{}].{}", e.index, e.field)
    } else if e.index == new_from && total == new_from + 1 {
        e.field.to_owned()
    } else {
        format!(
            "event {} ({} on {}): {}",
            e.index + 1,
            e.event,
            e.date,
            e.field
        )
    };
    AppError::invalid(field, e.rule.clone())
}

/// Events may not be dated after the book's business date.
pub(crate) fn check_dates(events: &[Event], business_date: Date) -> Result<(), AppError> {
    for (i, e) in events.iter().enumerate() {
        if e.date > business_date {
            let field = if events.len() == 1 {
                "date".to_owned()
            } else {
                format!("events[{i}].date")
            };
            return Err(AppError::invalid(
                field,
                format!("must not be after the business date {business_date}"),
            ));
        }
    }
    Ok(())
}

/// The whole state (a dry run, a read) or its summary (a command's answer).
pub(crate) fn state_doc(state: &LoanState, whole: bool) -> Result<LoanStateView, AppError> {
    Ok(LoanStateView::of(state, whole))
}

/// The outbox message of a stored event: the event and what it did to the loan (its effects:
/// `effects` may hold others', only those of the event at stored `index` are sent).
pub(crate) fn event_message(
    loan_id: &str,
    seq: i64,
    e: &Event,
    currency: loanbook_domain::money::Currency,
    effects: &[loan::Effect],
    index: usize,
) -> NewOutbox {
    let own: Vec<&loan::Effect> = effects.iter().filter(|f| f.event == Some(index)).collect();
    NewOutbox {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: Some(loan_id.to_owned()),
        topic: loan_topic(&e.kind),
        payload: json!({
            "loan_id": loan_id,
            "seq": seq,
            "event": serde_json::to_value(e.to_doc(currency)).unwrap_or(Value::Null),
            "effects": serde_json::to_value(own).unwrap_or(Value::Null),
        })
        .to_string(),
    }
}

/// Whether the engine's day-ends from `new`'s date on moved the loan's class: only then can the
/// event have changed it by the business date.
pub(crate) fn class_moved(effects: &[loan::Effect], new: &Event) -> bool {
    effects.iter().any(|e| {
        e.event.is_none()
            && e.date >= new.date
            && matches!(e.kind, loan::EffectKind::ClassChanged { .. })
    })
}

/// The `loan.class_changed` message of a command that moved the loan from class `from` to `to`
/// on the business date (none when they are the same).
pub(crate) fn class_message(
    loan_id: &str,
    from: loanbook_domain::delinquency::Classification,
    to: loanbook_domain::delinquency::Classification,
    business_date: Date,
) -> Option<NewOutbox> {
    (from != to).then(|| NewOutbox {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: Some(loan_id.to_owned()),
        topic: "loan.class_changed".into(),
        payload: json!({"loan_id": loan_id, "from": from.name(), "to": to.name(), "as_of": business_date.to_string()})
            .to_string(),
    })
}

/// The queryable projection of a loan at `version` in state `s`, as every command writes it.
pub fn projection(loan_id: &str, version: i64, s: &LoanState) -> Projection {
    Projection {
        loan_id: loan_id.to_owned(),
        version,
        as_of: s.as_of.to_string(),
        status: s.status.name().to_owned(),
        classification: s.classification.name().to_owned(),
        dpd: i64::from(s.dpd),
        principal_outstanding: s.balances.principal_outstanding,
        total_overdue: s.total_overdue,
        state: serde_json::to_string(&LoanStateView::of(s, false)).unwrap_or_default(),
    }
}
