//! A loan's engine, resumed: from the newest snapshot this process holds (or the store's), plus
//! the events stored after it, read as trusted (they were checked when written). A command or a
//! read costs the events after the snapshot, not the loan's whole history.
//!
//! Snapshots are taken at the end of the day before the business date, so that the day's own
//! commands (many payments land on one business date) apply on top of it; one is written with a
//! command once enough events have gathered after the last one. A resume that the snapshot
//! cannot carry (an event back-dated to its day or before, a reversal of a receipt it applied)
//! goes back to an earlier snapshot, and in the end to the loan's first event: replay from zero
//! stays the reference every snapshot is checked against (see
//! [`App::projection_mismatches`](crate::App::projection_mismatches)).

use std::sync::Arc;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::Event;
use loanbook_domain::loan::{self, Effect, LoanState, ReplayError, Resumed, Snapshot};
use loanbook_domain::terms::Terms;
use loanbook_store::{NewSnapshot, StoredEvent};

use crate::{App, AppError, corrupt};

/// Write a snapshot with a command once this many stored events lie after the newest one and
/// before the business date.
pub(crate) const SNAPSHOT_EVERY: usize = 32;

/// How many older snapshots a resume tries before it replays from the first event.
const EARLIER_TRIES: usize = 3;

/// Where a loan's engine resumes from: a snapshot and the stored events after it.
pub(crate) struct ResumePoint {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) tail: Vec<Event>,
}

impl ResumePoint {
    /// The loan's version: every stored event.
    pub(crate) fn version(&self) -> i64 {
        self.snapshot.version + self.tail.len() as i64
    }
}

/// A loan resumed through some new events.
pub(crate) struct Resumption {
    pub(crate) state: LoanState,
    pub(crate) effects: Vec<Effect>,
}

/// A resume that failed on an event: its error, as the engine gave it (indexes are stored
/// positions).
pub(crate) type Refused = ReplayError;

fn decode_events(
    stored: &[StoredEvent],
    terms: &Terms,
    loan_id: &str,
) -> Result<Vec<Event>, AppError> {
    stored
        .iter()
        .map(|s| {
            Event::from_trusted_json(&s.event, terms.currency)
                .map_err(|e| corrupt(format!("event {} of loan `{loan_id}`: {e}", s.seq)))
        })
        .collect()
}

/// Whether a write on `business_date` should carry a snapshot: it does once enough events lie
/// before the business date after `point`'s snapshot (`added`: the events the write adds), or
/// with the first events of a loan. Returns the stored version it would cover and the eve.
pub(crate) fn snapshot_wanted(
    point: &ResumePoint,
    added: &[Event],
    business_date: Date,
) -> Option<(i64, Date)> {
    let eve = business_date.yesterday().ok()?;
    let covered = point
        .tail
        .iter()
        .chain(added)
        .take_while(|e| e.date <= eve)
        .count();
    // The first snapshot as soon as there is a day to cover, then one every so many events.
    let first = point.snapshot.version == 0 && covered > 0;
    if (covered < SNAPSHOT_EVERY && !first) || point.snapshot.engine.day.is_some_and(|d| d > eve) {
        return None;
    }
    Some((point.snapshot.version + covered as i64, eve))
}

/// What taking a snapshot from one start gave.
pub(crate) enum Taken {
    Snapshot((Arc<Snapshot>, NewSnapshot)),
    /// The start cannot carry the events: one before this day can.
    NeedsEarlier(Date),
    Refused,
}

/// The engine at the end of `eve` over the stored events up to version `target`, resumed from
/// `start` (pure).
pub(crate) fn snapshot_through(
    loan_id: &str,
    terms: &Terms,
    start: &ResumePoint,
    added: &[Event],
    target: i64,
    eve: Date,
) -> Result<Taken, AppError> {
    let take = usize::try_from(target - start.snapshot.version).unwrap_or(0);
    let prefix: Vec<Event> = start.tail.iter().chain(added).take(take).cloned().collect();
    Ok(match loan::resume(terms, &start.snapshot, &prefix, eve) {
        Ok(Resumed::Applied(r)) => {
            let snapshot = r.snapshot;
            let engine = snapshot
                .to_json()
                .map_err(|e| corrupt(format!("snapshot of loan `{loan_id}`: {e}")))?;
            let record = NewSnapshot {
                version: snapshot.version,
                day: snapshot.day.to_string(),
                engine,
            };
            Taken::Snapshot((Arc::new(snapshot), record))
        }
        Ok(Resumed::NeedsEarlier(need)) => Taken::NeedsEarlier(need.before),
        Err(_) => Taken::Refused,
    })
}

impl App {
    /// The loan's resume point: the snapshot cached here when there is one (the events after it
    /// read in one round trip), else the store's newest (`before`: the newest whose day is
    /// before that date), else the loan's first event.
    pub(crate) async fn resume_point(
        &self,
        loan_id: &str,
        terms: &Terms,
        before: Option<Date>,
    ) -> Result<ResumePoint, AppError> {
        if before.is_none() {
            if let Some(snapshot) = self.caches.snapshots.get(loan_id) {
                let stored = self.store.events_after(loan_id, snapshot.version).await?;
                let tail = decode_events(&stored, terms, loan_id)?;
                return Ok(ResumePoint { snapshot, tail });
            }
        }
        let before_day = before.map(|d| d.to_string());
        match self
            .store
            .resume_point(loan_id, before_day.as_deref())
            .await?
        {
            Some((record, stored)) => {
                let snapshot = Snapshot::from_json(&record.engine).map_err(|e| {
                    corrupt(format!(
                        "snapshot {} of loan `{loan_id}`: {e}",
                        record.version
                    ))
                })?;
                let snapshot = Arc::new(snapshot);
                if before.is_none() {
                    self.caches
                        .snapshots
                        .insert(loan_id.to_owned(), snapshot.clone());
                }
                let tail = decode_events(&stored, terms, loan_id)?;
                Ok(ResumePoint { snapshot, tail })
            }
            None => {
                let stored = self.store.events_after(loan_id, 0).await?;
                Ok(ResumePoint {
                    snapshot: Arc::new(Snapshot::zero(terms)),
                    tail: decode_events(&stored, terms, loan_id)?,
                })
            }
        }
    }

    /// Resume the loan from `point` through its stored tail and `new` (events to add) to the end
    /// of `as_of`, going back to earlier snapshots (and at last to the first event) when the
    /// snapshot cannot carry them. `Ok(Err(_))` is the engine refusing an event.
    pub(crate) async fn resume_loan(
        &self,
        loan_id: &str,
        terms: &Terms,
        point: &ResumePoint,
        new: &[Event],
        as_of: Date,
    ) -> Result<Result<Resumption, Refused>, AppError> {
        let mut snapshot = point.snapshot.clone();
        let mut events: Vec<Event> = point.tail.iter().chain(new).cloned().collect();
        let mut tries = 0;
        loop {
            match loan::resume(terms, &snapshot, &events, as_of) {
                Err(e) => return Ok(Err(e)),
                Ok(Resumed::Applied(r)) => {
                    return Ok(Ok(Resumption {
                        state: r.state,
                        effects: r.effects,
                    }));
                }
                Ok(Resumed::NeedsEarlier(need)) => {
                    tries += 1;
                    let earlier = if tries > EARLIER_TRIES || snapshot.version == 0 {
                        None
                    } else {
                        Some(need.before)
                    };
                    let older = match earlier {
                        Some(before) => self.resume_point(loan_id, terms, Some(before)).await?,
                        None => ResumePoint {
                            snapshot: Arc::new(Snapshot::zero(terms)),
                            tail: decode_events(
                                &self.store.events_after(loan_id, 0).await?,
                                terms,
                                loan_id,
                            )?,
                        },
                    };
                    if snapshot.version == 0 && older.snapshot.version == 0 {
                        // Replay from zero never needs an earlier start.
                        return Err(corrupt(format!(
                            "loan `{loan_id}` cannot be resumed from its first event: {}",
                            need.reason
                        )));
                    }
                    snapshot = older.snapshot;
                    events = older.tail.into_iter().chain(new.iter().cloned()).collect();
                }
            }
        }
    }

    /// The snapshot a write on `business_date` should carry, if one is due: the engine at the
    /// end of the day before, over the stored events up to the first dated on the business date
    /// (`added`: the events the write adds after the stored ones). When `point`'s snapshot cannot
    /// carry them (a back-dated event, a reversal of a receipt it covers), an earlier snapshot or
    /// the first event is the start, so the next writes resume from the new one.
    pub(crate) async fn snapshot_due(
        &self,
        loan_id: &str,
        terms: &Terms,
        point: &ResumePoint,
        added: &[Event],
        business_date: Date,
    ) -> Result<Option<(Arc<Snapshot>, NewSnapshot)>, AppError> {
        let Some((target, eve)) = snapshot_wanted(point, added, business_date) else {
            return Ok(None);
        };
        let mut start = ResumePoint {
            snapshot: point.snapshot.clone(),
            tail: point.tail.clone(),
        };
        for tries in 0..=EARLIER_TRIES + 1 {
            let need = match snapshot_through(loan_id, terms, &start, added, target, eve)? {
                Taken::Snapshot(s) => return Ok(Some(s)),
                Taken::NeedsEarlier(before) if start.snapshot.version > 0 => before,
                // The write itself was checked; a snapshot that cannot be taken is only skipped.
                Taken::NeedsEarlier(_) | Taken::Refused => return Ok(None),
            };
            start = if tries < EARLIER_TRIES {
                self.resume_point(loan_id, terms, Some(need)).await?
            } else {
                self.resume_point(loan_id, terms, Some(Date::MIN)).await?
            };
        }
        Ok(None)
    }

    /// After a write that carried `snapshot`, resume from it here.
    pub(crate) fn keep_snapshot(&self, loan_id: &str, snapshot: Arc<Snapshot>) {
        let newer = self
            .caches
            .snapshots
            .get(loan_id)
            .is_none_or(|s| s.version < snapshot.version);
        if newer {
            self.caches.snapshots.insert(loan_id.to_owned(), snapshot);
        }
    }
}
