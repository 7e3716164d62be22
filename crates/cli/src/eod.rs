//! `loanbook eod`: close business days; `loanbook eod digest|runs`; `loanbook gl trial-balance |
//! reconcile | journal`: the general ledger the close posts.

use std::io::IsTerminal as _;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loanbook_app::eod::{CloseOptions, DayClosed, ProgressSink};
use loanbook_domain::calendar::Date;
use serde::Serialize;

use crate::Failure;
use crate::service::{DatabaseArgs, app_failure, file_config, open, runtime};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EodArgs {
    #[command(subcommand)]
    command: Option<EodCommand>,
    #[command(flatten)]
    close: CloseArgs,
}

#[derive(Args)]
struct CloseArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Close every business day up to and including this one (default: the current business
    /// date, or the close that was interrupted).
    #[arg(long)]
    until: Option<Date>,
    /// Partitions worked at once by this process (PostgreSQL; SQLite has one writer).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Loans per transaction.
    #[arg(long, default_value_t = loanbook_app::eod::DEFAULT_CHUNK)]
    chunk: usize,
    /// Print each day's summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum EodCommand {
    /// Print one hash over every loan's state and the GL at the end of a day.
    Digest {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long)]
        date: Date,
    },
    /// The closes of the book, newest first.
    Runs {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Subcommand)]
pub enum GlCommand {
    /// Debits and credits per account to the end of a day.
    TrialBalance {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long)]
        date: Date,
        #[arg(long)]
        json: bool,
    },
    /// The GL's control accounts against the loans' balances, by product and partner, and any
    /// difference per loan. Exits 1 when they differ.
    Reconcile {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long)]
        date: Date,
        #[arg(long)]
        json: bool,
    },
    /// A loan's journal lines.
    Journal {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long)]
        loan: String,
    },
}

/// A progress bar on a terminal; nothing when standard error is not one.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::no_length();
        if std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix} {spinner} {human_pos} loans, {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Bar(bar)
    }
}

impl ProgressSink for Bar {
    fn day(&self, date: Date) {
        self.0.reset();
        self.0.set_prefix(format!("closing {date}"));
    }

    fn loans(&self, loans: u64) {
        self.0.inc(loans);
    }
}

pub fn eod(args: &EodArgs) -> Result<(), Failure> {
    let file = file_config()?;
    runtime()?.block_on(async {
        match &args.command {
            Some(EodCommand::Digest { db, date }) => {
                let app = open(db, &file).await?;
                let d = app
                    .eod_digest(&app.system_principal(), *date)
                    .await
                    .map_err(app_failure)?;
                println!("{}  {} ({} loans)", d.digest, d.date, d.loans);
            }
            Some(EodCommand::Runs { db, limit }) => {
                let app = open(db, &file).await?;
                let runs = app
                    .eod_runs(&app.system_principal(), *limit)
                    .await
                    .map_err(app_failure)?;
                print_json(&runs)?;
            }
            None => close(&args.close, &file).await?,
        }
        Ok(())
    })
}

async fn close(args: &CloseArgs, file: &crate::service::FileConfig) -> Result<(), Failure> {
    let app = open(&args.db, file).await?;
    let options = CloseOptions {
        until: args.until,
        workers: args.workers,
        chunk: args.chunk,
        ..CloseOptions::default()
    };
    let bar = Bar::new();
    let days = app
        .close_business(None, &options, &bar)
        .await
        .map_err(app_failure)?;
    bar.0.finish_and_clear();
    if days.is_empty() {
        eprintln!("nothing to close: the business date is after --until");
    }
    for day in &days {
        if args.json {
            print_json(day)?;
        } else {
            print_day(day);
        }
    }
    Ok(())
}

fn print_day(day: &DayClosed) {
    println!(
        "closed {} in {:.2} s; business date now {}",
        day.date, day.seconds, day.business_date
    );
    for s in &day.steps {
        println!(
            "  {:<10} {:>3} partitions {:>9} loans read {:>9} changed {:>9} rows {:>8.2} s",
            s.step,
            s.partitions,
            s.loans_read,
            s.loans_changed,
            s.rows_written,
            s.millis as f64 / 1000.0
        );
    }
    for f in &day.failures {
        println!("  not closed: {f}");
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Other(e.into()))?;
    println!("{text}");
    Ok(())
}

pub fn gl(cmd: &GlCommand) -> Result<(), Failure> {
    let file = file_config()?;
    runtime()?.block_on(async {
        match cmd {
            GlCommand::TrialBalance { db, date, json } => {
                let app = open(db, &file).await?;
                let tb = app
                    .trial_balance(&app.system_principal(), *date)
                    .await
                    .map_err(app_failure)?;
                if *json {
                    return print_json(&tb);
                }
                for l in &tb.lines {
                    println!(
                        "{:<6} {:<32} {:<14} {:<14} {:>16} {:>16}",
                        l.account,
                        l.name,
                        l.product_id.as_deref().unwrap_or("-"),
                        l.partner_id.as_deref().unwrap_or("-"),
                        l.debit,
                        l.credit
                    );
                }
                println!("total {:>82} {:>16}", tb.total_debit, tb.total_credit);
                println!(
                    "{}",
                    if tb.balanced {
                        "balanced"
                    } else {
                        "NOT BALANCED"
                    }
                );
                Ok(())
            }
            GlCommand::Reconcile { db, date, json } => {
                let app = open(db, &file).await?;
                let r = app
                    .reconcile(&app.system_principal(), *date)
                    .await
                    .map_err(app_failure)?;
                if *json {
                    print_json(&r)?;
                } else {
                    for d in &r.differences {
                        println!(
                            "{} {} {} {}: GL {} loans {}",
                            d.loan_id.as_deref().unwrap_or("(total)"),
                            d.product_id.as_deref().unwrap_or("-"),
                            d.partner_id.as_deref().unwrap_or("-"),
                            d.role,
                            d.gl,
                            d.loans
                        );
                    }
                    println!(
                        "{} loans on {}: {}",
                        r.loans,
                        r.date,
                        if r.reconciled {
                            "reconciled"
                        } else {
                            "DIFFERENCES"
                        }
                    );
                }
                if r.reconciled {
                    Ok(())
                } else {
                    Err(Failure::Other(anyhow::anyhow!(
                        "the GL does not reconcile to the loans on {}",
                        r.date
                    )))
                }
            }
            GlCommand::Journal { db, loan } => {
                let app = open(db, &file).await?;
                let j = app
                    .journal_of(&app.system_principal(), loan)
                    .await
                    .map_err(app_failure)?;
                print_json(&j)
            }
        }
    })
}
