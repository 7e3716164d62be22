//! `loanbook sim book`: a synthetic book of loans with their histories, written in bulk into an
//! empty book.
//!
//! The loans come from `loanbook_sim` (a pure function of the seed and each loan's index), made
//! in parallel batches; each loan's state and snapshot at the as-of date are computed by the
//! engine, and each batch is written in one transaction by [`Bulk::book_loans`] while the next
//! is made. The book stands at the end of the as-of date: its business date is the day after,
//! the first day a close of business will run. By default the as-of date is the day before the
//! book's business date, which for a new database is today (UTC), so the book is as a new
//! database would have it.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use loanbook_app::eod::borrowers::{self, Standed, Standing};
use loanbook_app::eod::opening::{OpeningAccruals, open_loan};
use loanbook_app::provisioning::ProvisioningSetup;
use loanbook_domain::calendar::{Date, parse_date};
use loanbook_domain::events::Event;
use loanbook_domain::loan::{LoanState, Snapshot};
use loanbook_sim::{BORROWER_BLOCK, BookSpec, SimLoan};
use loanbook_store::{
    BookOpening, BulkLoan, LoanFilter, LoanRecord, MAX_BULK_LOANS, NewEvent, NewSnapshot,
    PlannedAccrual, Store, StoreError, terms_digest,
};
use rayon::prelude::*;

use crate::Failure;

/// The book the CLI works in (as `loanbook serve` and the other commands do).
const BOOK: &str = "main";

/// Most loans one synthetic book may have.
pub const MAX_SIM_LOANS: usize = 20_000_000;

/// Loans made and written at a time, unless `--batch` says otherwise.
const DEFAULT_BATCH: usize = 5_000;

#[derive(Subcommand)]
pub enum SimCommand {
    /// Write a synthetic book into an empty database: personal, two-wheeler, MSME, co-lent and
    /// gold loans disbursed over five years, with payments, late payments, bounces,
    /// prepayments and a delinquent tail; the same seed always gives the same loans.
    Book(BookArgs),
    /// Run collections on a simulated population over a temporary store: daily closes,
    /// demands, debits through a simulated bank under a fixed or an adaptive policy, retries,
    /// payments and bounce charges; prints what the policy achieved.
    Collections(crate::sim_collections::CollectionsArgs),
    /// Present the book's due demands in a NACH debit file, answer it as a simulated sponsor
    /// bank would (a share returned), and apply the response to the book in bulk, twice (the
    /// second time must change nothing); prints what each application did and how fast.
    DebitFile(crate::sim_debits::DebitFileArgs),
}

#[derive(Args)]
pub struct BookArgs {
    /// How many loans to make.
    #[arg(long)]
    loans: usize,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "LOANBOOK_DATABASE", value_name = "URL")]
    database: String,
    /// The seed the loans are drawn from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The last day of the book's history (YYYY-MM-DD); the business date becomes the day
    /// after. Default: the day before the book's business date (yesterday for a new database).
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Loans made and written per transaction.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    batch: usize,
    /// Loans were disbursed up to this many days before the as-of date (default five years, so
    /// that the older loans have closed; 365 gives a book of loans nearly all still running).
    #[arg(long, default_value_t = loanbook_sim::products::MAX_AGE_DAYS, value_name = "DAYS")]
    max_age_days: i64,
}

/// A made loan with what its opening adds to the book's summary accruals and plans.
struct Made {
    loan: BulkLoan,
    accrued_income: i64,
    accrued_suspense: i64,
    planned: Vec<PlannedAccrual>,
}

/// The book's ledger opening as the batches are written.
#[derive(Default)]
struct Opening {
    accruals: OpeningAccruals,
    planned: BTreeMap<(String, String, bool), i64>,
}

impl Opening {
    fn add(&mut self, made: &Made) {
        let product = made.loan.record.product_id.as_deref();
        self.accruals
            .add(product, made.accrued_income, made.accrued_suspense);
        for p in &made.planned {
            *self
                .planned
                .entry((p.day.clone(), p.product_id.clone(), p.npa))
                .or_insert(0) += p.amount;
        }
    }

    fn book_opening(&self, as_of: Date, loans: usize) -> BookOpening {
        let at = jiff::Timestamp::now().to_string();
        let summary = serde_json::json!({
            "date": as_of.to_string(),
            "business_date": as_of.tomorrow().unwrap_or(as_of).to_string(),
            "steps": [],
            "failures": [],
            "seconds": 0.0,
            "opening": format!("{loans} loans loaded in bulk by loanbook sim book"),
        });
        BookOpening {
            date: as_of.to_string(),
            at,
            summary: summary.to_string(),
            gl_lines: self.accruals.gl_lines(as_of),
            accruals: self
                .planned
                .iter()
                .map(|((day, product_id, npa), amount)| PlannedAccrual {
                    day: day.clone(),
                    product_id: product_id.clone(),
                    npa: *npa,
                    amount: *amount,
                })
                .collect(),
        }
    }
}

pub fn run(cmd: &SimCommand) -> Result<(), Failure> {
    match cmd {
        SimCommand::Book(args) => book(args),
        SimCommand::Collections(args) => crate::sim_collections::run(args),
        SimCommand::DebitFile(args) => crate::sim_debits::run(args),
    }
}

pub(crate) fn invalid(line: String) -> Failure {
    Failure::Invalid(vec![line])
}

pub(crate) fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(anyhow!("{e}"))
}

fn book(args: &BookArgs) -> Result<(), Failure> {
    if args.loans == 0 || args.loans > MAX_SIM_LOANS {
        return Err(invalid(format!(
            "--loans: must be from 1 to {MAX_SIM_LOANS}"
        )));
    }
    if !(1..=36_500).contains(&args.max_age_days) {
        return Err(invalid(
            "--max-age-days: must be from 1 to 36500".to_owned(),
        ));
    }
    if args.batch == 0 || args.batch > MAX_BULK_LOANS {
        return Err(invalid(format!(
            "--batch: must be from 1 to {MAX_BULK_LOANS}"
        )));
    }
    let as_of = match &args.as_of {
        Some(text) => Some(parse_date(text).map_err(|rule| invalid(format!("--as-of: {rule}")))?),
        None => None,
    };
    crate::service::runtime()?.block_on(async {
        let store = loanbook_store::connect(&args.database)
            .await
            .map_err(|e| other(format!("opening {}: {e}", args.database)))?;
        let as_of = prepare_book(store.as_ref(), as_of).await?;
        let spec = BookSpec {
            loans: args.loans,
            seed: args.seed,
            as_of,
            max_age_days: args.max_age_days,
        };
        let started = Instant::now();
        let tally = write_book(store, spec, args.batch).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "Booked {} loans in {seconds:.1} s: {:.0} loans/s",
            args.loans,
            args.loans as f64 / seconds.max(1e-9)
        );
        println!(
            "Book `{BOOK}` as of {as_of}; business date {} (the first day to close)",
            as_of.tomorrow().unwrap_or(as_of)
        );
        println!("Classes: {}", tally.line(&tally.classes));
        println!("Statuses: {}", tally.line(&tally.statuses));
        Ok(())
    })
}

/// Make sure the book exists and is empty, and find its as-of date: the day before its business
/// date. A new book is created with the business date after `as_of` (default: today).
async fn prepare_book(store: &dyn Store, as_of: Option<Date>) -> Result<Date, Failure> {
    match store.business_date(BOOK).await {
        Ok(text) => {
            let any = store
                .list_loans(&LoanFilter {
                    limit: 1,
                    ..LoanFilter::default()
                })
                .await
                .map_err(other)?;
            if !any.is_empty() {
                return Err(invalid(format!(
                    "the book `{BOOK}` already holds loans: sim book writes only into an empty \
                     book (give a fresh database)"
                )));
            }
            let business = parse_date(&text).map_err(|e| other(format!("business date: {e}")))?;
            let eve = business.yesterday().map_err(other)?;
            match as_of {
                None => Ok(eve),
                Some(a) if a == eve => Ok(a),
                Some(a) => Err(invalid(format!(
                    "--as-of {a}: the book's business date is {business}, so it stands as of \
                     {eve}: give that date, or a fresh database"
                ))),
            }
        }
        Err(StoreError::NotFound { .. }) => {
            let now = jiff::Timestamp::now();
            let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
            let as_of = match as_of {
                Some(a) => a,
                None => today.yesterday().map_err(other)?,
            };
            let business = as_of.tomorrow().map_err(other)?;
            store
                .ensure_book(BOOK, BOOK, &business.to_string(), &now.to_string())
                .await
                .map_err(other)?;
            Ok(as_of)
        }
        Err(e) => Err(other(e)),
    }
}

/// How many loans of each class and status were written.
#[derive(Default)]
struct Tally {
    classes: BTreeMap<String, usize>,
    statuses: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, loans: &[BulkLoan]) {
        for l in loans {
            let p = &l.projection;
            *self.classes.entry(p.classification.clone()).or_default() += 1;
            *self.statuses.entry(p.status.clone()).or_default() += 1;
        }
    }

    fn line(&self, counts: &BTreeMap<String, usize>) -> String {
        counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

fn progress(loans: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(loans as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {human_pos}/{human_len} loans · {per_sec} · {elapsed} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Make the book's loans in parallel batches on a thread of their own and write each batch as
/// it comes, while the next one is made.
async fn write_book(store: Arc<dyn Store>, spec: BookSpec, batch: usize) -> Result<Tally, Failure> {
    let table = store
        .provisioning_table(BOOK)
        .await
        .map_err(|e| other(format!("reading the provisioning table: {e}")))?;
    let provisioning = ProvisioningSetup::of_table(table.as_ref()).map_err(other)?;
    let (send, mut batches) = tokio::sync::mpsc::channel::<Result<Vec<Made>, String>>(2);
    let maker = std::thread::spawn(move || {
        let created_at = jiff::Timestamp::now().to_string();
        // Whole borrower blocks per batch, so that a borrower's facilities are made together.
        let batch = (batch / BORROWER_BLOCK).max(1) * BORROWER_BLOCK;
        for start in (0..spec.loans).step_by(batch) {
            let end = (start + batch).min(spec.loans);
            let blocks: Vec<usize> = (start..end).step_by(BORROWER_BLOCK).collect();
            let made: Result<Vec<Made>, String> = blocks
                .into_par_iter()
                .map(|b| {
                    let to = (b + BORROWER_BLOCK).min(end);
                    make_block(&spec, b..to, &provisioning, &created_at)
                })
                .collect::<Result<Vec<Vec<Made>>, String>>()
                .map(|blocks| blocks.into_iter().flatten().collect());
            let failed = made.is_err();
            if send.blocking_send(made).is_err() || failed {
                break;
            }
        }
    });
    let bar = progress(spec.loans);
    let mut tally = Tally::default();
    let mut opening = Opening::default();
    let mut written = 0;
    let result = async {
        while let Some(made) = batches.recv().await {
            let made = made.map_err(other)?;
            made.iter().for_each(|m| opening.add(m));
            let loans: Vec<BulkLoan> = made.into_iter().map(|m| m.loan).collect();
            store.book_loans(BOOK, &loans).await.map_err(|e| {
                other(format!(
                    "writing loans {}–{}: {e} ({written} loans were booked before)",
                    written + 1,
                    written + loans.len()
                ))
            })?;
            tally.add(&loans);
            written += loans.len();
            bar.inc(loans.len() as u64);
        }
        if written == spec.loans {
            store
                .open_ledger(BOOK, &opening.book_opening(spec.as_of, written))
                .await
                .map_err(|e| other(format!("opening the ledger: {e}")))?;
        }
        Ok::<(), Failure>(())
    }
    .await;
    // Stop the maker (its next send fails) before waiting for it.
    drop(batches);
    if maker.join().is_err() {
        return Err(other("the loan maker stopped on a panic"));
    }
    bar.finish_and_clear();
    result?;
    if written != spec.loans {
        return Err(other(format!(
            "only {written} of {} loans were made",
            spec.loans
        )));
    }
    Ok(tally)
}

/// The loans `indices` of one borrower block, with their borrowers' classes: the facilities of a
/// borrower with an NPA are NPA with it from the as-of date, as the close's `borrowers` step
/// would hold them.
fn make_block(
    spec: &BookSpec,
    indices: std::ops::Range<usize>,
    provisioning: &ProvisioningSetup,
    created_at: &str,
) -> Result<Vec<Made>, String> {
    let mut loans: Vec<(String, SimLoan)> = indices
        .map(|i| {
            (
                uuid::Uuid::now_v7().to_string(),
                loanbook_sim::loan(spec, i),
            )
        })
        .collect();
    hold_with_borrowers(spec.as_of, &mut loans)?;
    loans
        .into_iter()
        .map(|(id, l)| bulk_loan(spec, id, l, provisioning, created_at))
        .collect()
}

/// Append a `borrower_npa` event dated `as_of` to each loan the borrower-wise rule holds.
fn hold_with_borrowers(as_of: Date, loans: &mut [(String, SimLoan)]) -> Result<(), String> {
    let mut by_borrower: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, (_, l)) in loans.iter().enumerate() {
        by_borrower.entry(l.borrower.clone()).or_default().push(k);
    }
    for group in by_borrower.values().filter(|g| g.len() > 1) {
        let mut standings = Vec::with_capacity(group.len());
        for &k in group {
            let (_, l) = &loans[k];
            let state = loanbook_domain::loan::replay(&l.terms, &l.events, as_of)
                .map_err(|e| format!("{}: {e}", l.number))?;
            standings.push(Standing::of_state(&state));
        }
        let pairs: Vec<Standed<'_>> = group
            .iter()
            .zip(&standings)
            .map(|(&k, standing)| Standed {
                loan_id: &loans[k].0,
                loan_number: &loans[k].1.number,
                standing: *standing,
            })
            .collect();
        let decisions = borrowers::decide(&pairs);
        for d in decisions {
            if let Some((_, l)) = loans.iter_mut().find(|(id, _)| *id == d.loan_id) {
                l.events.push(Event {
                    date: as_of,
                    kind: d.kind,
                });
            }
        }
    }
    Ok(())
}

/// The loan `l` as `id` with the rows a booking writes for it: its state and snapshot at the
/// as-of date, computed by the engine, and its projection as commands write it.
fn bulk_loan(
    spec: &BookSpec,
    id: String,
    l: SimLoan,
    provisioning: &ProvisioningSetup,
    created_at: &str,
) -> Result<Made, String> {
    let opened = open_loan(
        &id,
        None,
        &l.terms,
        l.events.clone(),
        spec.as_of,
        provisioning,
    )
    .map_err(|e| format!("{}: {e}", l.number))?;
    let snapshot = Snapshot::take(&l.terms, &l.events, spec.as_of)
        .map_err(|e| format!("{}: {e}", l.number))?;
    let state = LoanState::new(&l.terms, &snapshot.engine, spec.as_of);
    let engine = snapshot
        .to_json()
        .map_err(|e| format!("{}: {e}", l.number))?;
    let terms = l.terms.to_json();
    let currency = l.terms.currency;
    let version = l.events.len() as i64;
    let loan = BulkLoan {
        record: LoanRecord {
            id: id.clone(),
            book_id: BOOK.to_owned(),
            loan_number: l.number,
            borrower_id: Some(l.borrower),
            product_id: None,
            product_version: None,
            terms_hash: terms_digest(&terms),
            terms,
            partner_ids: l.terms.partners.iter().map(|p| p.id.clone()).collect(),
            created_at: created_at.to_owned(),
            application_id: None,
        },
        events: l
            .events
            .iter()
            .map(|e| NewEvent {
                value_date: e.date.to_string(),
                event: e.to_stored_json(currency),
            })
            .collect(),
        projection: loanbook_app::servicing::projection(&id, version, &state),
        snapshot: Some(NewSnapshot {
            version: snapshot.version,
            day: snapshot.day.to_string(),
            engine,
        }),
        mark: Some(opened.mark),
        gl_lines: opened.gl_lines,
    };
    Ok(Made {
        loan,
        accrued_income: opened.accrued_income,
        accrued_suspense: opened.accrued_suspense,
        planned: opened.planned,
    })
}
