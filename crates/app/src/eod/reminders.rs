//! The `reminders` step: each active loan's collection demand (its next instalment still to fall
//! due, with what is unpaid of it) is written with its mark by every close that reads it; this
//! step reads the demands falling due [`REMINDER_DAYS`] days after the closed day and puts one
//! `loan.installment_due` message per demand into the outbox, in the step's one transaction, so a
//! re-run after a kill sends none twice. A demand paid in advance (nothing unpaid) gets none.
//! The demands are also what collections present for debit (the `collection_demands` view).

use std::time::Instant;

use loanbook_domain::calendar::Date;
use loanbook_domain::money::{Currency, format_minor};
use loanbook_store::{ChunkWrite, Demand, EodProgress, NewOutbox};
use serde_json::json;

use super::REMINDERS_STEP;
use super::chunk::DayContext;
use crate::{App, AppError, corrupt};

/// Days before a due date that the borrower is reminded of it.
pub const REMINDER_DAYS: i64 = 3;

/// The outbox topic of a reminder.
pub const REMINDER_TOPIC: &str = "loan.installment_due";

/// The reminder of one demand, `days` before it falls due.
pub(crate) fn reminder(demand: &Demand, days: i64) -> Result<NewOutbox, String> {
    let currency: Currency = demand
        .currency
        .parse()
        .map_err(|_| format!("loan `{}`: currency `{}`", demand.loan_id, demand.currency))?;
    Ok(NewOutbox {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: Some(demand.loan_id.clone()),
        topic: REMINDER_TOPIC.to_owned(),
        payload: json!({
            "loan_id": demand.loan_id,
            "installment": demand.installment,
            "due_date": demand.due_date,
            "amount": format_minor(demand.amount, currency.minor_digits()),
            "currency": currency.code(),
            "days_before": days,
        })
        .to_string(),
    })
}

/// The day `days` after `date`.
fn days_after(date: Date, days: i64) -> Result<Date, AppError> {
    date.checked_add(jiff::Span::new().days(days))
        .map_err(|e| corrupt(format!("{days} days after {date}: {e}")))
}

impl App {
    /// Work the `reminders` step's partition (a book-level step: its one partition, 0, writes the
    /// day's reminders). The demands that could not be read.
    pub(crate) async fn work_reminders(
        &self,
        ctx: &DayContext,
        progress: &EodProgress,
    ) -> Result<Vec<String>, AppError> {
        let started = Instant::now();
        let mut failures = Vec::new();
        let mut outbox = Vec::new();
        if progress.partition == 0 {
            let due_on = days_after(ctx.date, REMINDER_DAYS)?.to_string();
            for demand in self.store.demands_due(&self.book, &due_on).await? {
                match reminder(&demand, REMINDER_DAYS) {
                    Ok(message) => outbox.push(message),
                    Err(why) => failures.push(why),
                }
            }
        }
        let write = ChunkWrite {
            book_id: self.book.clone(),
            business_date: ctx.date.to_string(),
            step: REMINDERS_STEP.to_owned(),
            partition: progress.partition,
            done: true,
            at: self.now(),
            outbox,
            millis: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            ..ChunkWrite::default()
        };
        self.store
            .write_chunk(&write, progress.cursor.as_deref())
            .await?;
        Ok(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(amount: i64, currency: &str) -> Demand {
        Demand {
            loan_id: "L1".into(),
            installment: 4,
            due_date: "2024-06-30".into(),
            amount,
            currency: currency.into(),
        }
    }

    #[test]
    fn a_reminder_says_what_falls_due_when_in_the_loans_currency() {
        let m = reminder(&demand(888_488, "INR"), 3).unwrap();
        assert_eq!(m.topic, "loan.installment_due");
        assert_eq!(m.loan_id.as_deref(), Some("L1"));
        let p: serde_json::Value = serde_json::from_str(&m.payload).unwrap();
        assert_eq!(
            p,
            json!({"loan_id": "L1", "installment": 4, "due_date": "2024-06-30",
                   "amount": "8884.88", "currency": "INR", "days_before": 3})
        );
        let yen: serde_json::Value =
            serde_json::from_str(&reminder(&demand(5_000, "JPY"), 3).unwrap().payload).unwrap();
        assert_eq!(yen["amount"], "5000");
    }

    #[test]
    fn a_demand_in_an_unknown_currency_is_a_failure_not_a_message() {
        let e = reminder(&demand(100, "XXX"), 3).unwrap_err();
        assert!(e.contains("L1") && e.contains("XXX"), "{e}");
    }
}
