//! Replay: the events of a loan applied in order, day by day, to a date.

use std::collections::HashMap;

use crate::calendar::Date;
use crate::events::{Event, EventKind, PrepaymentAdjust};
use crate::terms::Terms;

use super::{Effect, EffectKind, Engine, LoanState, ReplayError, Status, fail, limits, receipts};

/// Events in application order: by value date, ties in recorded order (their order in the list).
pub(super) fn ordered(events: &[Event]) -> Vec<(usize, &Event)> {
    let mut v: Vec<(usize, &Event)> = events.iter().enumerate().collect();
    v.sort_by_key(|(i, e)| (e.date, *i));
    v
}

impl Engine {
    /// Apply every event dated after the engine's day and on or before `as_of`, running each
    /// day-end, and stop at the end of `as_of`.
    ///
    /// A `payment_reversal` dated on or before `as_of` takes its receipt out of the replay
    /// altogether: from the reversal's date on, the loan's whole history reads as if that money
    /// never came (a bounced instalment was never paid). Before that date the receipt stands.
    pub fn run(&mut self, terms: &Terms, events: &[Event], as_of: Date) -> Result<(), ReplayError> {
        let order = ordered(events);
        limits::check_limits(terms, events)?;
        receipts::check_references(events, &order)?;
        let voided = receipts::voided_receipts(&order, as_of);
        if let Some(day) = self.day {
            // A receipt this engine already applied has been reversed since: start again.
            let applied_then_reversed = order.iter().any(|(_, e)| {
                e.date <= day
                    && e.kind
                        .receipt_reference()
                        .is_some_and(|r| voided.get(r).is_some_and(|reversed| *reversed > day))
            });
            if applied_then_reversed {
                let effects = std::mem::take(&mut self.effects);
                *self = Engine::new(terms);
                self.effects = effects;
            }
        }
        self.fold(terms, &order, &voided, as_of, events.len())
    }

    /// [`Engine::run`], collecting the effects of what it applies and of the day-ends it runs.
    /// When the list reverses a receipt this engine already applied, the run starts again from
    /// the first event, and so do the effects.
    pub fn run_with_effects(
        &mut self,
        terms: &Terms,
        events: &[Event],
        as_of: Date,
    ) -> Result<Vec<Effect>, ReplayError> {
        self.effects.start();
        let result = self.run(terms, events, as_of);
        let effects = self.effects.finish();
        result.map(|()| effects)
    }

    /// Apply the checked events of `order` (stored index, event; in application order) dated
    /// after the engine's day and on or before `as_of`, leaving out the receipts of `voided`, and
    /// run the day-ends to `as_of`. `end` is the index a day-end's error names.
    pub(super) fn fold(
        &mut self,
        terms: &Terms,
        order: &[(usize, &Event)],
        voided: &HashMap<&str, Date>,
        as_of: Date,
        end: usize,
    ) -> Result<(), ReplayError> {
        for (reference, on) in voided {
            if !self.voided.contains_key(*reference) {
                self.voided.insert((*reference).to_owned(), *on);
            }
        }
        let is_voided = |e: &Event| {
            !voided.is_empty()
                && e.kind
                    .receipt_reference()
                    .is_some_and(|r| voided.contains_key(r))
        };
        let start = self.day;
        let mut i = 0;
        while i < order.len() {
            let (index, event) = order[i];
            if start.is_some_and(|s| event.date <= s) {
                i += 1;
                continue;
            }
            if event.date > as_of {
                break;
            }
            let day = event.date;
            if let Some(last) = self.day {
                if day > last {
                    let eve = day.yesterday().unwrap_or(day);
                    self.run_through(terms, eve)
                        .map_err(|e| fail(index, event, e))?;
                    self.start_day(terms, day)
                        .map_err(|e| fail(index, event, e))?;
                }
            }
            // Every event of this day, in recorded order.
            while i < order.len() && order[i].1.date == day {
                let (index, event) = order[i];
                let first = self.status == Status::Pending;
                self.effects.event = Some(index);
                if !is_voided(event) {
                    self.apply(terms, event)
                        .map_err(|e| fail(index, event, e))?;
                }
                if let EventKind::PaymentReversal { reference, .. } = &event.kind {
                    self.effects.emit(day, || EffectKind::Reversed {
                        reference: reference.clone(),
                        amount: receipt_amount(order, reference),
                    });
                }
                self.effects.event = None;
                if first {
                    self.start_day(terms, day)
                        .map_err(|e| fail(index, event, e))?;
                }
                self.events_applied += 1;
                i += 1;
            }
            // A re-schedule today may have put an instalment's due date on or before today: it
            // falls due today, not on whatever later day the replay next starts.
            if self.next_due().is_some_and(|d| d.due_date <= day) {
                self.start_day(terms, day)
                    .map_err(|e| fail(index, event, e))?;
            }
            self.end_day(terms, day);
        }
        if self.day.is_some() {
            self.run_through(terms, as_of)
                .map_err(|(field, rule)| ReplayError {
                    index: end,
                    event: "day_end",
                    date: as_of,
                    field,
                    rule,
                })?;
        }
        Ok(())
    }

    /// Resume from this snapshot: checks that no event dated on or before the snapshot's day has
    /// been added since it was taken.
    pub fn resume(
        &self,
        terms: &Terms,
        events: &[Event],
        as_of: Date,
    ) -> Result<Engine, ReplayError> {
        let covered = match self.day {
            Some(day) => events.iter().filter(|e| e.date <= day).count(),
            None => 0,
        };
        if covered != self.events_applied {
            return Err(ReplayError {
                index: 0,
                event: "snapshot",
                date: self.day.unwrap_or(as_of),
                field: "events",
                rule: format!(
                    "the snapshot covers {} events to its day but the list has {covered}: replay in full",
                    self.events_applied
                ),
            });
        }
        let mut engine = self.clone();
        engine.run(terms, events, as_of)?;
        Ok(engine)
    }
}

/// The state of a loan at the end of `as_of`.
pub fn replay(terms: &Terms, events: &[Event], as_of: Date) -> Result<LoanState, ReplayError> {
    let mut engine = Engine::new(terms);
    engine.run(terms, events, as_of)?;
    Ok(LoanState::new(terms, &engine, as_of))
}

/// The state of a loan at the end of `as_of`, and the effects of its whole history: every event
/// and every day-end from the first disbursement to `as_of`.
pub fn replay_with_effects(
    terms: &Terms,
    events: &[Event],
    as_of: Date,
) -> Result<(LoanState, Vec<Effect>), ReplayError> {
    let mut engine = Engine::new(terms);
    let effects = engine.run_with_effects(terms, events, as_of)?;
    Ok((LoanState::new(terms, &engine, as_of), effects))
}

/// The amount of the receipt `reference` among `order` (zero if it is not there).
fn receipt_amount(order: &[(usize, &Event)], reference: &str) -> i64 {
    order
        .iter()
        .find(|(_, e)| e.kind.receipt_reference() == Some(reference))
        .and_then(|(_, e)| limits::amount(&e.kind))
        .unwrap_or(0)
}

/// Foreclosure amount on `date`: every event up to and including that date applied, interest to
/// the date (not including it).
pub fn foreclosure_quote(terms: &Terms, events: &[Event], date: Date) -> Result<i64, ReplayError> {
    let eve = date.yesterday().unwrap_or(date);
    let before: Vec<Event> = events.iter().filter(|e| e.date < date).cloned().collect();
    let mut engine = Engine::new(terms);
    engine.run(terms, &before, eve)?;
    if engine.day.is_some() {
        engine
            .start_day(terms, date)
            .map_err(|(field, rule)| ReplayError {
                index: 0,
                event: "quote",
                date,
                field,
                rule,
            })?;
    }
    Ok(engine.foreclosure_amount(terms, date))
}

/// What a prepayment would do, under both adjustments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepaymentPreview {
    pub reduce_emi: LoanState,
    pub reduce_tenure: LoanState,
}

/// Preview a prepayment of `amount` on `date` without recording it.
pub fn prepayment_preview(
    terms: &Terms,
    events: &[Event],
    date: Date,
    amount: i64,
) -> Result<PrepaymentPreview, ReplayError> {
    let with = |adjust| {
        let mut list = events.to_vec();
        list.push(Event {
            date,
            kind: EventKind::Prepayment {
                amount,
                adjust,
                reference: format!("preview:{date}"),
            },
        });
        replay(terms, &list, date)
    };
    Ok(PrepaymentPreview {
        reduce_emi: with(PrepaymentAdjust::ReduceEmi)?,
        reduce_tenure: with(PrepaymentAdjust::ReduceTenure)?,
    })
}
