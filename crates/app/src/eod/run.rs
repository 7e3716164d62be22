//! Running a close: which day, the workers that share its partitions, the steps in order.

use std::time::{Duration, Instant};

use loanbook_domain::calendar::Date;
use loanbook_domain::gl;
use loanbook_store::{ChunkWrite, EodProgress, StoreError};

use super::{
    BORROWERS_STEP, CHECKPOINT_STEP, DayClosed, EodRunView, EodRunsView, LOANS_STEP,
    REMINDERS_STEP, StepSummary,
};
use crate::{Action, App, AppError, Principal, corrupt};

/// How a close runs.
#[derive(Debug, Clone)]
pub struct CloseOptions {
    /// Close every business day up to and including this one; `None`: close one day (or finish
    /// the close that was interrupted).
    pub until: Option<Date>,
    /// Partitions this process works on at once (one on SQLite, which has one writer).
    pub workers: usize,
    /// Loans read, closed and written per transaction.
    pub chunk: usize,
    /// This process's name in the partitions' claims.
    pub worker: String,
}

impl Default for CloseOptions {
    fn default() -> CloseOptions {
        CloseOptions {
            until: None,
            workers: 1,
            chunk: DEFAULT_CHUNK,
            worker: format!("eod-{}", uuid::Uuid::now_v7()),
        }
    }
}

/// Loans per chunk unless told otherwise.
pub const DEFAULT_CHUNK: usize = 2_000;
/// The most loans a chunk may hold.
pub const MAX_CHUNK: usize = 20_000;
/// The most workers a process runs.
pub const MAX_WORKERS: usize = 64;
/// The most days one API request closes.
pub const API_DAYS: i64 = 31;
/// A claim not refreshed for this long is taken over by another worker.
const STALE_CLAIM: Duration = Duration::from_secs(30);
/// How often a worker looks again when other workers hold the remaining partitions.
const WAIT: Duration = Duration::from_millis(200);

/// Where a close reports how far it has got: a progress bar on a terminal, nothing elsewhere.
pub trait ProgressSink: Send + Sync {
    /// A day's close begins.
    fn day(&self, _date: Date) {}
    /// `loans` more loans have been closed.
    fn loans(&self, _loans: u64) {}
}

/// No progress reporting.
pub struct Quiet;

impl ProgressSink for Quiet {}

impl App {
    /// Close business days: by default the current one (or the one whose close was interrupted),
    /// with `until` every day up to and including it. Admins only; `actor` is `None` for the
    /// command line.
    pub async fn close_business(
        &self,
        actor: Option<&Principal>,
        options: &CloseOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<DayClosed>, AppError> {
        if let Some(p) = actor {
            p.require(Action::CloseBusiness)?;
        }
        check_options(options)?;
        if let (Some(_), Some(until)) = (actor, options.until) {
            // Through the API a request closes at most a month; longer runs are for the CLI.
            let from = self.day_to_close().await?.0;
            let last = from
                .checked_add(jiff::Span::new().days(API_DAYS - 1))
                .unwrap_or(from);
            if until > last {
                return Err(AppError::invalid(
                    "until",
                    format!(
                        "closes at most {API_DAYS} days in one request: from {from} up to {last}; \
                         use `loanbook eod --until` for more"
                    ),
                ));
            }
        }
        let mut closed = Vec::new();
        loop {
            let (date, interrupted) = self.day_to_close().await?;
            match options.until {
                Some(until) if date > until => break,
                None if !closed.is_empty() => break,
                _ => {}
            }
            let actor_name = actor.map_or("cli".to_owned(), |p| p.user.name.clone());
            closed.push(self.close_day(date, &actor_name, options, sink).await?);
            if options.until.is_none() && !interrupted {
                break;
            }
        }
        Ok(closed)
    }

    /// The day the next close is for: the interrupted one, else the business date.
    async fn day_to_close(&self) -> Result<(Date, bool), AppError> {
        let runs = self.store.runs(&self.book, 1).await?;
        if let Some(run) = runs.first().filter(|r| r.status == "running") {
            return Ok((parse_date(&run.business_date)?, true));
        }
        let text = self.store.business_date(&self.book).await?;
        Ok((parse_date(&text)?, false))
    }

    async fn close_day(
        &self,
        date: Date,
        actor: &str,
        options: &CloseOptions,
        sink: &dyn ProgressSink,
    ) -> Result<DayClosed, AppError> {
        let started = Instant::now();
        sink.day(date);
        let next = date
            .tomorrow()
            .map_err(|e| AppError::invalid("until", format!("no day after {date}: {e}")))?;
        let audit = self.audit(
            actor,
            "eod_open",
            &format!("book/{}", self.book),
            "",
            vec![],
        );
        let (day, next_text) = (date.to_string(), next.to_string());
        self.store
            .open_run(&self.book, &day, &next_text, &self.now(), &audit)
            .await
            .map_err(|e| match e {
                StoreError::VersionConflict { .. } | StoreError::Conflict { .. } => {
                    AppError::Conflict(format!(
                        "the business date is not {day}: another close or a date change came first"
                    ))
                }
                e => e.into(),
            })?;
        self.caches.business_date.insert((), next);
        let unmarked = self.store.unmarked_loans(&self.book).await?;
        let ctx = super::chunk::DayContext::new(date, unmarked, self.provisioning_setup().await?);
        let mut failures = Vec::new();
        let workers = (0..options.workers.max(1)).map(|k| {
            let worker = format!("{}-{k}", options.worker);
            self.work_step(&ctx, LOANS_STEP, worker, options, sink)
        });
        for result in futures::future::join_all(workers).await {
            failures.extend(result?);
        }
        self.wait_for_step(&ctx, LOANS_STEP, options, sink).await?;
        failures.extend(
            self.work_step(&ctx, BORROWERS_STEP, options.worker.clone(), options, sink)
                .await?,
        );
        self.wait_for_step(&ctx, BORROWERS_STEP, options, sink)
            .await?;
        failures.extend(
            self.work_step(&ctx, REMINDERS_STEP, options.worker.clone(), options, sink)
                .await?,
        );
        self.wait_for_step(&ctx, REMINDERS_STEP, options, sink)
            .await?;
        self.work_step(&ctx, CHECKPOINT_STEP, options.worker.clone(), options, sink)
            .await?;
        self.wait_for_step(&ctx, CHECKPOINT_STEP, options, sink)
            .await?;
        let steps = summarise(&self.store.progress(&self.book, &day).await?);
        let closed = DayClosed {
            date: day.clone(),
            business_date: next_text,
            steps,
            failures,
            seconds: started.elapsed().as_secs_f64(),
        };
        record_metrics(&closed);
        let summary = serde_json::to_string(&closed).unwrap_or_default();
        self.store
            .finish_run(&self.book, &day, &self.now(), &summary)
            .await?;
        Ok(closed)
    }

    /// Claim partitions of `step` and work them until none is left to claim; the loans that
    /// failed to close.
    async fn work_step(
        &self,
        ctx: &super::chunk::DayContext,
        step: &str,
        worker: String,
        options: &CloseOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<String>, AppError> {
        let mut failures = Vec::new();
        let day = ctx.date.to_string();
        loop {
            let stale = self.stale_before();
            let claimed = self
                .store
                .claim(
                    &self.book,
                    &day,
                    step,
                    partitions(step),
                    &worker,
                    &self.now(),
                    &stale,
                )
                .await?;
            let Some(progress) = claimed else {
                return Ok(failures);
            };
            let outcome = if step == LOANS_STEP {
                self.work_partition(ctx, &progress, options, sink).await
            } else if step == BORROWERS_STEP {
                self.work_borrowers(ctx, &progress, options).await
            } else if step == REMINDERS_STEP {
                self.work_reminders(ctx, &progress).await
            } else {
                self.work_checkpoint(ctx, &progress).await.map(|()| vec![])
            };
            match outcome {
                Ok(f) => failures.extend(f),
                // Another worker took the partition over: leave it to them.
                Err(AppError::Store(StoreError::Conflict { .. })) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Wait until every partition of `step` is done, taking over claims that went stale.
    async fn wait_for_step(
        &self,
        ctx: &super::chunk::DayContext,
        step: &str,
        options: &CloseOptions,
        sink: &dyn ProgressSink,
    ) -> Result<(), AppError> {
        let day = ctx.date.to_string();
        loop {
            let progress = self.store.progress(&self.book, &day).await?;
            let of_step: Vec<&EodProgress> = progress.iter().filter(|p| p.step == step).collect();
            if !of_step.is_empty() && of_step.iter().all(|p| p.done) {
                return Ok(());
            }
            tokio::time::sleep(WAIT).await;
            self.work_step(ctx, step, options.worker.clone(), options, sink)
                .await?;
        }
    }

    /// The time before which a claim is stale. On SQLite there is one writer, so any claim left
    /// is a killed close's and is taken over at once.
    fn stale_before(&self) -> String {
        if self.store.backend() == loanbook_store::Backend::Sqlite {
            return self.now();
        }
        let now = self.clock.now();
        now.checked_sub(jiff::SignedDuration::try_from(STALE_CLAIM).unwrap_or_default())
            .unwrap_or(now)
            .to_string()
    }

    /// The book-level audit checkpoint and the summary accruals of the loans the close did not
    /// read (their plans, summed per product): a book-level step, whose one partition (0) does
    /// the work.
    async fn work_checkpoint(
        &self,
        ctx: &super::chunk::DayContext,
        progress: &EodProgress,
    ) -> Result<(), AppError> {
        let started = Instant::now();
        let mut gl_lines = Vec::new();
        if progress.partition == 0 {
            self.audit_checkpoint(None).await?;
            let day = ctx.date.to_string();
            let planned = self.store.planned_accruals(&self.book, &day).await?;
            let entries: Vec<_> = planned
                .iter()
                .filter_map(|a| gl::accrual_entry(ctx.date, &a.product_id, a.amount, a.npa))
                .collect();
            let source = format!("eod:{day}:{CHECKPOINT_STEP}:0");
            gl_lines = super::chunk::gl_lines(&ctx.chart, &entries, &source);
        }
        let write = ChunkWrite {
            gl_lines,
            book_id: self.book.clone(),
            business_date: ctx.date.to_string(),
            step: CHECKPOINT_STEP.to_owned(),
            partition: progress.partition,
            done: true,
            at: self.now(),
            millis: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            ..ChunkWrite::default()
        };
        self.store
            .write_chunk(&write, progress.cursor.as_deref())
            .await?;
        Ok(())
    }

    /// The book's closes, newest first.
    pub async fn eod_runs(&self, p: &Principal, limit: i64) -> Result<EodRunsView, AppError> {
        p.require(Action::ReadLedger)?;
        let runs = self.store.runs(&self.book, limit.clamp(1, 1_000)).await?;
        Ok(EodRunsView {
            runs: runs
                .into_iter()
                .map(|r| EodRunView {
                    summary: r
                        .summary
                        .as_deref()
                        .and_then(|s| serde_json::from_str(s).ok()),
                    business_date: r.business_date,
                    status: r.status,
                    started_at: r.started_at,
                    finished_at: r.finished_at,
                })
                .collect(),
        })
    }
}

/// The day's figures for the metrics endpoint: per step its seconds and loans read, changed and
/// rows written; per day its seconds and the loans that failed to close.
fn record_metrics(closed: &DayClosed) {
    for s in &closed.steps {
        let step = s.step.clone();
        metrics::histogram!("loanbook_eod_step_seconds", "step" => step.clone())
            .record(s.millis as f64 / 1000.0);
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        metrics::counter!("loanbook_eod_loans_read_total", "step" => step.clone())
            .increment(count(s.loans_read));
        metrics::counter!("loanbook_eod_loans_changed_total", "step" => step.clone())
            .increment(count(s.loans_changed));
        metrics::counter!("loanbook_eod_rows_written_total", "step" => step)
            .increment(count(s.rows_written));
    }
    metrics::histogram!("loanbook_eod_day_seconds").record(closed.seconds);
    metrics::counter!("loanbook_eod_failures_total").increment(closed.failures.len() as u64);
    metrics::counter!("loanbook_eod_days_total").increment(1);
}

/// The partitions of a step: the loans step's are the loans', the book-level steps have one.
fn partitions(step: &str) -> u32 {
    if step == LOANS_STEP {
        super::EOD_PARTITIONS
    } else {
        1
    }
}

fn check_options(options: &CloseOptions) -> Result<(), AppError> {
    if options.workers == 0 || options.workers > MAX_WORKERS {
        return Err(AppError::invalid(
            "workers",
            format!("must be from 1 to {MAX_WORKERS}"),
        ));
    }
    if options.chunk == 0 || options.chunk > MAX_CHUNK {
        return Err(AppError::invalid(
            "chunk",
            format!("must be from 1 to {MAX_CHUNK}"),
        ));
    }
    Ok(())
}

fn parse_date(text: &str) -> Result<Date, AppError> {
    text.parse()
        .map_err(|e| corrupt(format!("business date `{text}`: {e}")))
}

/// Sum the partitions' progress per step, in the order of [`super::STEPS`].
fn summarise(progress: &[EodProgress]) -> Vec<StepSummary> {
    super::STEPS
        .iter()
        .map(|step| {
            let of_step = progress.iter().filter(|p| p.step == *step);
            of_step.fold(
                StepSummary {
                    step: (*step).to_owned(),
                    partitions: 0,
                    loans_read: 0,
                    loans_changed: 0,
                    rows_written: 0,
                    millis: 0,
                },
                |mut s, p| {
                    s.partitions += 1;
                    s.loans_read += p.loans_read;
                    s.loans_changed += p.loans_changed;
                    s.rows_written += p.rows_written;
                    s.millis += p.millis;
                    s
                },
            )
        })
        .collect()
}
