//! `loanbook`: the one binary.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod applications;
mod eod;
mod load;
mod originate;
mod provisioning;
mod quote;
mod replay;
mod service;
mod sim;
mod sim_collections;
mod sim_debits;

#[derive(Parser)]
#[command(
    name = "loanbook",
    version,
    about = "Loanbook: origination and loan servicing on one data model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the repayment schedule and disclosure figures (APR, net disbursed) for a terms file.
    Quote(quote::QuoteArgs),
    /// Print a loan's state at the end of a day, replayed from its terms and events.
    Replay(replay::ReplayArgs),
    /// Run the API server (default: sqlite://loanbook.db, 127.0.0.1:8080).
    Serve(service::ServeArgs),
    /// Administration of a fresh database.
    #[command(subcommand)]
    Admin(service::AdminCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(service::TokenCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(service::AuditCommand),
    /// The book's business date: the latest value date events may carry.
    #[command(subcommand, name = "business-date")]
    BusinessDate(service::BusinessDateCommand),
    /// Applications: list, show, and write a KFS.
    #[command(subcommand)]
    Application(applications::ApplicationCommand),
    /// Drive a running server with payments and reads; report throughput and latency.
    Load(load::LoadArgs),
    /// Drive a running server with applications from draft to disbursed loan; report
    /// applications per second and each step's latency.
    Originate(originate::OriginateArgs),
    /// Close business days: every loan through the day-end, the GL posted, the business date
    /// moved on. Safe to kill and run again.
    Eod(eod::EodArgs),
    /// The general ledger: trial balance, reconciliation to the loans, a loan's journal.
    #[command(subcommand)]
    Gl(eod::GlCommand),
    /// Synthetic data: `sim book` writes a realistic book of loans with their histories.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// The provisioning table the close of business provisions at: show it, set it.
    #[command(subcommand)]
    Provisioning(provisioning::ProvisioningCommand),
}

/// Exit code for input that breaks a rule (invalid terms, unreadable file).
pub const EXIT_INVALID_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quote(args) => quote::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Serve(args) => service::serve(&args),
        Command::Admin(cmd) => service::admin(&cmd),
        Command::Token(cmd) => service::token(&cmd),
        Command::Audit(cmd) => service::audit(&cmd),
        Command::BusinessDate(cmd) => service::business_date(&cmd),
        Command::Application(cmd) => applications::run(&cmd),
        Command::Load(args) => load::run(&args),
        Command::Originate(args) => originate::run(&args),
        Command::Eod(args) => eod::eod(&args),
        Command::Gl(cmd) => eod::gl(&cmd),
        Command::Sim(cmd) => sim::run(&cmd),
        Command::Provisioning(cmd) => provisioning::run(&cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(lines)) => {
            for line in lines {
                eprintln!("error: {line}");
            }
            ExitCode::from(EXIT_INVALID_INPUT)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How a command failed: bad input (exit 2) or anything else (exit 1).
pub enum Failure {
    Invalid(Vec<String>),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

/// Read a whole file, or standard input when the path is `-`.
pub fn read_input(path: &str) -> Result<String, Failure> {
    use std::io::Read;
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| Failure::Invalid(vec![format!("cannot read {path}: {e}")]))?;
    Ok(text)
}
