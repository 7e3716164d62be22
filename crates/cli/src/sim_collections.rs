//! `loanbook sim collections`: the whole collections pipeline on a simulated population, on a
//! temporary store: loans booked for each borrower, a close of business every day (demands, DPD,
//! classes), intents and attempts through the simulated bank under the chosen policy, payments
//! and bounce charges posted through the same commands as the API's, and at the end one JSON
//! object with what the policy achieved.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use loanbook_app::collections::{
    Account, BankReply, Collector, CollectorSetup, DebitBank, Metrics,
};
use loanbook_app::eod::{CloseOptions, Quiet};
use loanbook_app::servicing::BookLoan;
use loanbook_app::{App, FixedClock, Principal, RequestMeta, Role};
use loanbook_domain::calendar::{Date, parse_date};
use loanbook_domain::collections::{
    AdaptivePolicy, AdaptiveSettings, FixedPolicy, Mandate, MandateFrequency, MandateKind,
    MandateStatus, Policy, Rail, Slot,
};
use loanbook_domain::money::format_minor;
use loanbook_sim::bank::{Borrower, DebitReply, Population, PopulationSpec};
use loanbook_store::User;
use serde_json::json;

use crate::Failure;
use crate::sim::{invalid, other};

/// The book the simulation runs in.
const BOOK: &str = "main";
/// Most borrowers one simulation takes.
const MAX_BORROWERS: usize = 200_000;
/// The loans' annual rate and tenure: a two-year personal loan at 15%.
const RATE_PERCENT: f64 = 15.0;
const TENURE: u32 = 24;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// Present on the due date, retry every 3 days, twice.
    Fixed,
    /// Learn when each borrower's account and each bank answer, and present then.
    Adaptive,
}

#[derive(Args)]
pub struct CollectionsArgs {
    /// Borrowers in the population, one loan each.
    #[arg(long)]
    borrowers: usize,
    /// Months to simulate.
    #[arg(long, default_value_t = 6)]
    months: u32,
    #[arg(long, value_enum)]
    policy: PolicyArg,
    /// The seed the population is drawn from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The first simulated day (YYYY-MM-DD).
    #[arg(long, default_value = "2026-01-01", value_name = "DATE")]
    start: String,
    /// The adaptive policy's least chance of success for a retry.
    #[arg(long, default_value_t = AdaptiveSettings::default().min_success)]
    min_success: f64,
    /// The adaptive policy's cost of a day's delay after the due date, in chance of success.
    #[arg(long, default_value_t = AdaptiveSettings::default().lateness_cost)]
    lateness_cost: f64,
    /// The same cost for a retry.
    #[arg(long, default_value_t = AdaptiveSettings::default().retry_lateness_cost)]
    retry_lateness_cost: f64,
    /// The adaptive policy's longest wait after the due date for the first presentation.
    #[arg(long, default_value_t = AdaptiveSettings::default().max_delay_days)]
    max_delay_days: i64,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &CollectionsArgs) -> Result<(), Failure> {
    if args.borrowers == 0 || args.borrowers > MAX_BORROWERS {
        return Err(invalid(format!(
            "--borrowers: must be from 1 to {MAX_BORROWERS}"
        )));
    }
    if !(1..=24).contains(&args.months) {
        return Err(invalid("--months: must be from 1 to 24".to_owned()));
    }
    let unit = 0.0..=1.0;
    if ![
        args.min_success,
        args.lateness_cost,
        args.retry_lateness_cost,
    ]
    .iter()
    .all(|v| unit.contains(v))
    {
        return Err(invalid(
            "--min-success, --lateness-cost and --retry-lateness-cost: must be from 0 to 1"
                .to_owned(),
        ));
    }
    if !(0..=20).contains(&args.max_delay_days) {
        return Err(invalid("--max-delay-days: must be from 0 to 20".to_owned()));
    }
    let start = parse_date(&args.start).map_err(|rule| invalid(format!("--start: {rule}")))?;
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).map_err(other)?;
    let result = crate::service::runtime()?.block_on(simulate(args, start, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    let (metrics, seconds) = result?;
    if args.json {
        let mut v = serde_json::to_value(&metrics).map_err(other)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("borrowers".into(), json!(args.borrowers));
            o.insert("months".into(), json!(args.months));
            o.insert("seed".into(), json!(args.seed));
            o.insert("seconds".into(), json!((seconds * 10.0).round() / 10.0));
        }
        println!("{v}");
    } else {
        print_human(&metrics, seconds);
    }
    Ok(())
}

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "loanbook-collections-{}-{nanos}",
        std::process::id()
    ))
}

async fn simulate(
    args: &CollectionsArgs,
    start: Date,
    dir: &std::path::Path,
) -> Result<(Metrics, f64), Failure> {
    let started = Instant::now();
    let url = format!("sqlite://{}/collections.db", dir.display());
    let store = loanbook_store::connect(&url).await.map_err(other)?;
    let clock = Arc::new(FixedClock::on(start));
    let app = App::new(store, BOOK, clock.clone()).await.map_err(other)?;
    let spec = PopulationSpec::new(args.borrowers, args.seed, start, args.months);
    let population = Population::generate(&spec).map_err(other)?;
    let policy: Box<dyn Policy> = match args.policy {
        PolicyArg::Fixed => Box::new(FixedPolicy::default()),
        PolicyArg::Adaptive => Box::new(AdaptivePolicy::new(AdaptiveSettings {
            min_success: args.min_success,
            lateness_cost: args.lateness_cost,
            retry_lateness_cost: args.retry_lateness_cost,
            max_delay_days: args.max_delay_days,
            ..AdaptiveSettings::default()
        })),
    };
    let mut collector = Collector::new(CollectorSetup::default(), policy, Vec::new());
    let mut bank = SimBank {
        loans: std::collections::HashMap::new(),
        population,
    };
    let mut plan = disbursements(bank.population.borrowers(), start)?;
    let end = bank.population.end();
    let mut day = start;
    while day < end {
        while plan.last().is_some_and(|(d, _)| *d == day) {
            let Some((_, i)) = plan.pop() else { break };
            let account = book_loan(&app, &bank.population.borrowers()[i], i, day).await?;
            bank.loans.insert(account.loan_id.clone(), i);
            collector.add_account(account);
        }
        collector
            .work_day(&app, &mut bank, day)
            .await
            .map_err(|e| other(format!("collections on {day}: {e}")))?;
        let options = CloseOptions {
            until: Some(day),
            ..CloseOptions::default()
        };
        app.close_business(None, &options, &Quiet)
            .await
            .map_err(|e| other(format!("close of {day}: {e}")))?;
        day = day.tomorrow().map_err(other)?;
        clock.set(
            day.to_zoned(jiff::tz::TimeZone::UTC)
                .map_err(other)?
                .timestamp(),
        );
    }
    let metrics = collector.finish(&app).await.map_err(other)?;
    Ok((metrics, started.elapsed().as_secs_f64()))
}

/// Each borrower's disbursement day: the first day from `start` that is their due day, so that
/// their instalments fall due on it from a month later. Latest first, to pop in date order.
fn disbursements(borrowers: &[Borrower], start: Date) -> Result<Vec<(Date, usize)>, Failure> {
    let mut plan = Vec::with_capacity(borrowers.len());
    for (i, b) in borrowers.iter().enumerate() {
        let day = i8::try_from(b.due_day).unwrap_or(1);
        let mut on = start.with().day(day).build().map_err(other)?;
        if on < start {
            on = on.checked_add(jiff::Span::new().months(1)).map_err(other)?;
        }
        plan.push((on, i));
    }
    plan.sort_by(|a, b| b.cmp(a));
    Ok(plan)
}

/// Book and disburse borrower `i`'s two-year EMI loan on `day`, its instalment the borrower's;
/// with its mandate, active from the same day.
async fn book_loan(app: &App, b: &Borrower, i: usize, day: Date) -> Result<Account, Failure> {
    let who = Principal {
        user: User {
            id: "sim".into(),
            name: "sim".into(),
            role: "admin".into(),
            partner_id: None,
            created_at: String::new(),
        },
        role: Role::Admin,
    };
    let principal = principal_for(b.emi_minor);
    let terms = json!({
        "currency": if b.rail == Rail::Ach { "USD" } else { "INR" },
        "principal": format_minor(principal, 2),
        "annual_rate": RATE_PERCENT.to_string(),
        "method": "emi",
        "installments": TENURE,
        "frequency": "monthly",
        "disbursement_date": day.to_string(),
        "interest_basis": "equal_periods",
        "rounding": { "installment": { "mode": "half_up", "multiple": "1" }, "interest": "half_up" },
    });
    let cmd: BookLoan = serde_json::from_value(json!({
        "loan_number": format!("COL-{i:08}"),
        "terms": terms,
        "events": [{ "type": "disbursement", "date": day.to_string(), "amount": format_minor(principal, 2) }],
    }))
    .map_err(other)?;
    let booked = app
        .book_loan(&who, &cmd, &RequestMeta::default())
        .await
        .map_err(|e| other(format!("booking {}: {e}", b.id)))?;
    let loan_id = booked
        .result()
        .map(|r| r.id.clone())
        .ok_or_else(|| other("booking held for approval"))?;
    Ok(Account {
        loan_id,
        borrower: b.id.clone(),
        mandate: mandate_for(b, day),
    })
}

/// The principal whose 24 monthly instalments at 15% are `emi` (rounded to the rupee).
fn principal_for(emi: i64) -> i64 {
    let r = RATE_PERCENT / 1200.0;
    let factor = (1.0 - (1.0 + r).powi(-(TENURE as i32))) / r;
    ((emi as f64 * factor) / 100.0).round() as i64 * 100
}

fn mandate_for(b: &Borrower, since: Date) -> Mandate {
    let kind = match b.rail {
        Rail::Nach => MandateKind::Enach,
        Rail::UpiAutopay => MandateKind::UpiAutopay,
        Rail::Ach => MandateKind::Ach,
        Rail::Card => MandateKind::Card,
    };
    Mandate {
        reference: format!("MD-{}", b.id),
        kind,
        bank: b.bank.to_owned(),
        max_amount_minor: b.emi_minor.saturating_mul(2),
        frequency: MandateFrequency::Monthly,
        start: since,
        end: None,
        submitted_on: since,
        status: MandateStatus::Active { since },
    }
}

/// The simulated population behind the [`DebitBank`] the collector talks to.
struct SimBank {
    population: Population,
    loans: std::collections::HashMap<String, usize>,
}

impl SimBank {
    fn index(&self, loan_id: &str) -> Result<usize, String> {
        self.loans
            .get(loan_id)
            .copied()
            .ok_or_else(|| format!("no account for loan {loan_id}"))
    }
}

impl DebitBank for SimBank {
    fn debit(&mut self, loan_id: &str, amount: i64, at: Slot) -> Result<BankReply, String> {
        let i = self.index(loan_id)?;
        match self.population.debit(i, amount, at.date, at.hour) {
            Ok(DebitReply::Paid) => Ok(BankReply::Paid),
            Ok(DebitReply::Returned { code, text }) => Ok(BankReply::Returned { code, text }),
            Err(e) => Err(e.to_string()),
        }
    }

    fn paid_otherwise(&mut self, loan_id: &str, date: Date) -> Result<Option<i64>, String> {
        let i = self.index(loan_id)?;
        self.population
            .pays_manually(i, date)
            .map_err(|e| e.to_string())
    }
}

fn print_human(m: &Metrics, seconds: f64) {
    println!(
        "Policy {}: {} instalments due",
        m.policy, m.due_installments
    );
    println!(
        "Collected on time {}; recovered by retry {}, otherwise {}; unpaid at cycle end {}; recovery rate {:.3}",
        m.collected_on_time,
        m.recovered_by_retry,
        m.recovered_otherwise,
        m.unpaid_at_cycle_end,
        m.recovery_rate
    );
    println!(
        "Attempts {}, failed {} (soft {}, hard {}, technical {}, mandate {}); bounce charges {}",
        m.attempts,
        m.failed_attempts,
        m.failed_by_class.soft,
        m.failed_by_class.hard,
        m.failed_by_class.technical,
        m.failed_by_class.mandate,
        m.bounce_charges
    );
    println!(
        "Loans {}, 30+ days past due {} ({:.3}); {seconds:.1} s",
        m.loans, m.dpd30_plus, m.dpd30_plus_rate
    );
}
