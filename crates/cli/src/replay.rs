//! `loanbook replay`: a loan's state on a date, from its terms and its events.

use std::fmt::Write as _;

use anyhow::Context as _;
use clap::Args;
use loanbook_domain::calendar::Date;
use loanbook_domain::events::Event;
use loanbook_domain::loan::{self, LoanState};
use loanbook_domain::money::format_minor;
use loanbook_domain::terms::Terms;

use crate::{Failure, read_input};

#[derive(Args)]
pub struct ReplayArgs {
    /// Terms file (JSON, see docs/terms.md).
    #[arg(long, value_name = "FILE|-")]
    terms: String,
    /// Events file: a JSON array of events, or one JSON object per line (see docs/events.md).
    #[arg(long, value_name = "FILE|-")]
    events: String,
    /// The day whose end-of-day state is shown (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    as_of: String,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ReplayArgs) -> Result<(), Failure> {
    if args.terms == "-" && args.events == "-" {
        return Err(Failure::Invalid(vec![
            "--terms and --events cannot both be read from standard input".into(),
        ]));
    }
    let as_of: Date = loanbook_domain::calendar::parse_date(&args.as_of)
        .map_err(|rule| Failure::Invalid(vec![format!("--as-of: {rule}")]))?;
    let terms = Terms::from_json(&read_input(&args.terms)?)
        .map_err(|e| Failure::Invalid(e.0.iter().map(|f| format!("terms: {f}")).collect()))?;
    let events = Event::list_from_json(&read_input(&args.events)?, terms.currency)
        .map_err(|errs| Failure::Invalid(errs.iter().map(ToString::to_string).collect()))?;
    let state =
        loan::replay(&terms, &events, as_of).map_err(|e| Failure::Invalid(vec![e.to_string()]))?;
    let out = if args.json {
        let view = loanbook_app::state_view::LoanStateView::of(&state, true);
        let mut s = serde_json::to_string_pretty(&view).context("writing JSON")?;
        s.push('\n');
        s
    } else {
        summary(&state)
    };
    print!("{out}");
    Ok(())
}

fn summary(s: &LoanState) -> String {
    let d = s.currency.minor_digits();
    let m = |v: i64| format_minor(v, d);
    let b = &s.balances;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "As of {} · {} · DPD {} · {} ({}) · {} events applied",
        s.as_of,
        s.status.name(),
        s.dpd,
        s.classification.name(),
        s.asset_class.name(),
        s.events_applied
    );
    let _ = writeln!(
        out,
        "Principal outstanding {} (overdue {}) · interest overdue {} · accrued {} · suspended {}",
        m(b.principal_outstanding),
        m(b.principal_overdue),
        m(b.interest_overdue),
        m(b.interest_accrued),
        m(b.interest_suspended)
    );
    let _ = writeln!(
        out,
        "Charges due {} · penal accrued {} · excess held {} · total overdue {} · foreclosure {}",
        m(b.charges_due),
        m(b.penal_accrued),
        m(b.excess),
        m(s.total_overdue),
        m(s.foreclosure_amount)
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<10}  {:>14}  {:>12}  {:>14}  {:>14}  Status",
        "No", "Due date", "Principal", "Interest", "Total", "Paid"
    );
    for i in &s.installments {
        let status = serde_json::to_value(i.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:>4}  {:<10}  {:>14}  {:>12}  {:>14}  {:>14}  {}",
            i.number,
            i.due_date,
            m(i.principal),
            m(i.interest),
            m(i.total),
            m(i.paid),
            status
        );
    }
    for p in &s.partners {
        let _ = writeln!(
            out,
            "Partner {}: principal outstanding {} · principal received {} · interest received {} · charges received {}",
            p.id,
            m(p.principal_outstanding),
            m(p.principal_received),
            m(p.interest_received),
            m(p.charges_received)
        );
    }
    if !s.classification_history.is_empty() {
        let h: Vec<String> = s
            .classification_history
            .iter()
            .map(|(d, c)| format!("{d} {}", c.name()))
            .collect();
        let _ = writeln!(out, "Classification history: {}", h.join(" · "));
    }
    out
}
