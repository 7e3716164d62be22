//! `loanbook quote`: a schedule and its KFS figures from a terms file.

use std::fmt::Write as _;

use anyhow::Context as _;
use clap::Args;
use loanbook_domain::money::format_minor;
use loanbook_domain::schedule::{self, Schedule};
use loanbook_domain::terms::Terms;

use crate::{Failure, read_input};

#[derive(Args)]
pub struct QuoteArgs {
    /// Terms file (JSON, see docs/terms.md), or `-` for standard input.
    #[arg(long, value_name = "FILE|-")]
    terms: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &QuoteArgs) -> Result<(), Failure> {
    let text = read_input(&args.terms)?;
    let terms = Terms::from_json(&text)
        .map_err(|e| Failure::Invalid(e.0.iter().map(ToString::to_string).collect()))?;
    let schedule =
        schedule::build(&terms).map_err(|e| Failure::Invalid(vec![format!("terms: {e}")]))?;
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&schedule).context("writing JSON")?;
        s.push('\n');
        s
    } else {
        table(&terms, &schedule)
    };
    print!("{out}");
    Ok(())
}

fn table(terms: &Terms, s: &Schedule) -> String {
    let d = terms.currency.minor_digits();
    let m = |v: i64| format_minor(v, d);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} at {}% p.a. · {} · {} instalments · disbursed {}",
        terms.currency.code(),
        m(terms.principal),
        terms.annual_rate.normalize(),
        terms.method.name(),
        terms.installments,
        terms.disbursement_date,
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<10}  {:>14}  {:>14}  {:>10}  {:>14}  {:>16}",
        "No", "Due date", "Principal", "Interest", "Fees", "Total", "Balance"
    );
    for r in &s.installments {
        let _ = writeln!(
            out,
            "{:>4}  {:<10}  {:>14}  {:>14}  {:>10}  {:>14}  {:>16}",
            r.number,
            r.due_date,
            m(r.principal),
            m(r.interest),
            m(r.fees),
            m(r.total),
            m(r.balance)
        );
    }
    let t = &s.totals;
    let _ = writeln!(
        out,
        "Totals: principal {} · interest {} · fees {} · payable {}",
        m(t.principal),
        m(t.interest),
        m(t.fees),
        m(t.payable)
    );
    let _ = writeln!(
        out,
        "Instalment {} · net disbursed {} · APR {:.2}%",
        m(s.installment_amount),
        m(s.net_disbursed),
        s.apr
    );
    out
}
