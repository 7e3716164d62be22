//! A chunk of a partition: its loans read in bulk, closed in parallel by the pure engine (rayon,
//! off the async runtime), and written in one transaction with the partition's progress.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::Event;
use loanbook_domain::gl::{self, Chart, JournalEntry, Role, Side};
use loanbook_domain::loan::Snapshot;
use loanbook_domain::terms::Terms;
use loanbook_store::{ChunkWrite, EodLoan, EodProgress, NewGlLine, WakeQuery};
use rayon::prelude::*;

use super::LOANS_STEP;
use super::loan_close::{self, History, LoanClosed, LoanInput, Outcome};
use super::run::{CloseOptions, ProgressSink};
use crate::provisioning::ProvisioningSetup;
use crate::{App, AppError, corrupt};

/// What every chunk of one day's close shares.
pub(crate) struct DayContext {
    pub(crate) date: Date,
    /// Whether the book holds loans no close has seen (read whatever their wake day).
    pub(crate) unmarked: bool,
    pub(crate) chart: Arc<Chart>,
    pub(crate) roles: Arc<BTreeMap<String, Role>>,
    pub(crate) provisioning: Arc<ProvisioningSetup>,
}

impl DayContext {
    pub(crate) fn new(date: Date, unmarked: bool, provisioning: ProvisioningSetup) -> DayContext {
        let chart = Chart::standard();
        let roles = chart
            .lines()
            .iter()
            .map(|l| (l.account.code.clone(), l.role))
            .collect();
        DayContext {
            date,
            unmarked,
            chart: Arc::new(chart),
            roles: Arc::new(roles),
            provisioning: Arc::new(provisioning),
        }
    }
}

/// What a chunk's loans gave.
#[derive(Default)]
pub(crate) struct ChunkClosed {
    closed: Vec<LoanClosed>,
    failures: Vec<String>,
}

impl App {
    /// Work one claimed partition of the loans step chunk by chunk from its cursor; the loans that
    /// failed to close.
    pub(crate) async fn work_partition(
        &self,
        ctx: &DayContext,
        progress: &EodProgress,
        options: &CloseOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<String>, AppError> {
        let mut cursor = progress.cursor.clone();
        let mut failures = Vec::new();
        let limit = i64::try_from(options.chunk).unwrap_or(i64::MAX);
        loop {
            let started = Instant::now();
            let loans = self
                .store
                .eod_loans(&WakeQuery {
                    book_id: self.book.clone(),
                    partition: progress.partition,
                    date: ctx.date.to_string(),
                    unmarked: ctx.unmarked,
                    after: cursor.clone(),
                    limit,
                })
                .await?;
            let read = loans.len();
            let done = read < options.chunk;
            let last = loans.last().map(|l| l.loan_id.clone()).or(cursor.clone());
            let chunk = self.close_chunk(ctx, loans).await?;
            let write = self.chunk_write(
                ctx,
                LOANS_STEP,
                progress.partition,
                chunk,
                last.clone(),
                done,
                read,
                started,
            );
            failures.extend(write.1);
            self.store.write_chunk(&write.0, cursor.as_deref()).await?;
            sink.loans(read as u64);
            if done {
                return Ok(failures);
            }
            cursor = last;
        }
    }

    /// Close the chunk's loans in parallel; the loans whose history changed under their mark are
    /// read in full and closed again.
    pub(crate) async fn close_chunk(
        &self,
        ctx: &DayContext,
        loans: Vec<EodLoan>,
    ) -> Result<ChunkClosed, AppError> {
        let date = ctx.date;
        let (inputs, mut failures) = inputs_of(loans, date);
        let rates = Arc::clone(&ctx.provisioning);
        let outcomes = in_parallel(inputs, date, rates.clone()).await?;
        let mut closed = Vec::with_capacity(outcomes.len());
        let mut again = Vec::new();
        for (input, outcome) in outcomes {
            match outcome {
                Outcome::Closed(c) => closed.push(*c),
                Outcome::NeedsHistory => again.push(input),
                Outcome::Failed(why) => failures.push(format!("{}: {why}", input.loan_id)),
            }
        }
        for mut input in again {
            input.history = Some(self.history(ctx, &input).await?);
            let id = input.loan_id.clone();
            match loan_close::close_loan(&input, date, &rates) {
                Outcome::Closed(c) => closed.push(*c),
                Outcome::NeedsHistory => {
                    failures.push(format!("{id}: does not close from its history"))
                }
                Outcome::Failed(why) => failures.push(format!("{id}: {why}")),
            }
        }
        Ok(ChunkClosed { closed, failures })
    }

    /// A loan's every event and its GL position as the journal holds it.
    async fn history(&self, ctx: &DayContext, input: &LoanInput) -> Result<History, AppError> {
        let stored = self.store.events(&input.loan_id).await?;
        let events = stored
            .iter()
            .map(|s| {
                Event::from_trusted_json(&s.event, input.terms.currency).map_err(|e| {
                    corrupt(format!("event {} of loan `{}`: {e}", s.seq, input.loan_id))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lines = self.store.journal(&self.book, &input.loan_id).await?;
        let journal = loan_close::journal_position(&lines, &ctx.roles).map_err(corrupt)?;
        Ok(History { events, journal })
    }

    /// The chunk's write: projections, snapshots, marks, the loans' entries and the summary
    /// accrual per product, with the partition's progress.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn chunk_write(
        &self,
        ctx: &DayContext,
        step: &str,
        partition: u32,
        chunk: ChunkClosed,
        cursor: Option<String>,
        done: bool,
        read: usize,
        started: Instant,
    ) -> (ChunkWrite, Vec<String>) {
        let source = format!("eod:{}:{step}:{partition}", ctx.date);
        let mut write = ChunkWrite {
            book_id: self.book.clone(),
            business_date: ctx.date.to_string(),
            step: step.to_owned(),
            partition,
            cursor,
            done,
            loans_read: read as i64,
            at: self.now(),
            ..ChunkWrite::default()
        };
        let mut accruals: BTreeMap<(String, bool), i64> = BTreeMap::new();
        let mut entries: Vec<JournalEntry> = Vec::new();
        for c in chunk.closed {
            write.loans_changed += i64::from(c.changed);
            let product = c.product.clone().unwrap_or_default();
            *accruals.entry((product.clone(), false)).or_insert(0) += c.accrued_income;
            *accruals.entry((product, true)).or_insert(0) += c.accrued_suspense;
            entries.extend(c.entries);
            if let Some(s) = c.snapshot {
                write.snapshots.push((c.loan_id.clone(), s));
            }
            write.projections.push(c.projection);
            write.marks.push(c.mark);
            write.accruals.extend(c.planned);
        }
        for ((product, npa), amount) in accruals {
            entries.extend(gl::accrual_entry(ctx.date, &product, amount, npa));
        }
        write.gl_lines = gl_lines(&ctx.chart, &entries, &source);
        write.millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        (write, chunk.failures)
    }
}

/// The store's rows as the engine's inputs; a loan whose stored data does not read is a failure.
fn inputs_of(loans: Vec<EodLoan>, date: Date) -> (Vec<LoanInput>, Vec<String>) {
    let mut failures = Vec::new();
    let inputs = loans
        .into_iter()
        .filter_map(|l| match input_of(l, date) {
            Ok(i) => Some(i),
            Err(why) => {
                failures.push(why);
                None
            }
        })
        .collect();
    (inputs, failures)
}

fn input_of(loan: EodLoan, date: Date) -> Result<LoanInput, String> {
    let id = loan.loan_id;
    let product = loan.product_id.as_deref().unwrap_or("");
    let (mark, unplanned) = match loan.mark {
        Some(m) => {
            let (m, back) =
                loan_close::settle_plan(m, product, date).map_err(|e| format!("{id}: {e}"))?;
            (Some(m), back)
        }
        None => (None, Vec::new()),
    };
    let terms = Terms::from_json(&loan.terms).map_err(|e| format!("{id}: terms: {e:?}"))?;
    let snapshot = match &loan.snapshot {
        Some(s) => Snapshot::from_json(&s.engine).map_err(|e| format!("{id}: snapshot: {e}"))?,
        None => Snapshot::zero(&terms),
    };
    let tail = loan
        .events
        .iter()
        .map(|s| {
            Event::from_trusted_json(&s.event, terms.currency)
                .map_err(|e| format!("{id}: event {}: {e}", s.seq))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LoanInput {
        loan_id: id,
        product: loan.product_id,
        terms,
        snapshot,
        tail,
        mark,
        unplanned,
        history: None,
    })
}

/// Close the loans on rayon's threads, off the async runtime; each input comes back with its
/// outcome (a loan that needs its history is closed again from it).
async fn in_parallel(
    inputs: Vec<LoanInput>,
    date: Date,
    rates: Arc<ProvisioningSetup>,
) -> Result<Vec<(LoanInput, Outcome)>, AppError> {
    tokio::task::spawn_blocking(move || {
        inputs
            .into_par_iter()
            .map(|input| {
                let outcome = loan_close::close_loan(&input, date, &rates);
                (input, outcome)
            })
            .collect()
    })
    .await
    .map_err(|e| corrupt(format!("the close's workers stopped: {e}")))
}

/// The journal entries as the store's lines, on the chart's accounts.
pub(crate) fn gl_lines(chart: &Chart, entries: &[JournalEntry], source: &str) -> Vec<NewGlLine> {
    let mut lines = Vec::new();
    for entry in entries {
        let entry_id = uuid::Uuid::now_v7().to_string();
        for (n, line) in entry.lines().iter().enumerate() {
            let (debit, credit) = match line.side() {
                Side::Debit => (line.amount(), 0),
                Side::Credit => (0, line.amount()),
            };
            lines.push(NewGlLine {
                entry_id: entry_id.clone(),
                line_no: i32::try_from(n).unwrap_or(i32::MAX),
                posted_on: entry.date().to_string(),
                kind: entry.kind().to_owned(),
                narration: entry.narration().to_owned(),
                account: chart
                    .account(line.role())
                    .map_or_else(|| line.role().name(), |a| a.code.clone()),
                loan_id: line.loan_id().map(str::to_owned),
                product_id: line.product().filter(|p| !p.is_empty()).map(str::to_owned),
                partner_id: line.partner().map(str::to_owned),
                debit,
                credit,
                source: source.to_owned(),
            });
        }
    }
    lines
}
