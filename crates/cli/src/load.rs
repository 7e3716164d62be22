//! `loanbook load`: drive a running server with payments and reads, and report throughput and
//! latency. A small generator in the repo, so the figures in docs/benchmarks.md can be
//! reproduced with nothing else installed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::Failure;

#[derive(Args)]
pub struct LoadArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API token (operations or admin).
    #[arg(long, env = "LOANBOOK_TOKEN")]
    token: String,
    /// Loans to book and spread the payments over.
    #[arg(long, default_value_t = 200)]
    loans: usize,
    /// Payments to post.
    #[arg(long, default_value_t = 20_000)]
    payments: usize,
    /// Payments in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Events of the loan that the read test fetches (booked with its history in one command).
    #[arg(long, default_value_t = 5_000)]
    history: usize,
    /// Reads of that loan.
    #[arg(long, default_value_t = 500)]
    reads: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

pub(crate) fn report(what: &str, n: usize, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort_unstable();
    println!(
        "{what}: {n} in {:.2} s = {:.0}/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
}

const TERMS: &str = r#"{"currency": "INR", "principal": "500000.00", "annual_rate": "12", "method": "emi",
    "installments": 360, "frequency": "monthly", "disbursement_date": "2020-01-01"}"#;

pub fn run(args: &LoadArgs) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(drive(args)).map_err(Failure::Other)
}

async fn book(
    http: &reqwest::Client,
    args: &LoadArgs,
    number: &str,
    events: Value,
) -> anyhow::Result<String> {
    let terms: Value = serde_json::from_str(TERMS)?;
    let res = http
        .post(format!("{}/v1/loans", args.url))
        .bearer_auth(&args.token)
        .json(&json!({"loan_number": number, "terms": terms, "events": events}))
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if !status.is_success() {
        bail!("booking {number}: {status} {body}");
    }
    Ok(body["id"].as_str().context("loan id")?.to_owned())
}

async fn drive(args: &LoadArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let run = jiff::Timestamp::now().as_millisecond();
    // Payments are dated on the book's business date, as a day's collections are.
    let today = business_date(&http, args).await?;
    let disbursement =
        json!([{"type": "disbursement", "date": "2020-01-01", "amount": "500000.00"}]);
    let mut loans = Vec::with_capacity(args.loans);
    for n in 0..args.loans {
        loans.push(
            book(
                &http,
                args,
                &format!("LOAD-{run}-{n}"),
                disbursement.clone(),
            )
            .await?,
        );
    }
    payments(&http, args, run, &today, Arc::new(loans)).await?;
    if args.history > 0 && args.reads > 0 {
        let id = long_history(&http, args, run).await?;
        compare_payments(&http, args, run, &today, &id).await?;
    }
    Ok(())
}

/// Payments, `concurrency` at a time, round-robin over the loans.
async fn payments(
    http: &reqwest::Client,
    args: &LoadArgs,
    run: i64,
    today: &str,
    loans: Arc<Vec<String>>,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (http, loans, next) = (http.clone(), loans.clone(), next.clone());
        let (url, token, total) = (args.url.clone(), args.token.clone(), args.payments);
        let today = today.to_owned();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let loan = &loans[i % loans.len()];
                let reference = format!("L{run}-{i}");
                let start = Instant::now();
                let res = http
                    .post(format!("{url}/v1/loans/{loan}/payments"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &reference)
                    .json(&json!({"date": today, "amount": "100.00", "reference": reference, "channel": "nach"}))
                    .send()
                    .await?;
                let status = res.status();
                let _ = res.bytes().await?;
                if status.as_u16() != 201 {
                    bail!("payment {i}: {status}");
                }
                lat.push(start.elapsed());
            }
        }));
    }
    let mut lat = Vec::with_capacity(args.payments);
    for w in workers {
        lat.extend(w.await??);
    }
    report("payments", args.payments, t.elapsed(), lat);
    Ok(())
}

/// A loan with a long history, read again and again; its id.
async fn long_history(http: &reqwest::Client, args: &LoadArgs, run: i64) -> anyhow::Result<String> {
    {
        let mut events =
            vec![json!({"type": "disbursement", "date": "2020-01-01", "amount": "500000.00"})];
        // Two small payments a day, about the instalment a month.
        for i in 0..args.history.saturating_sub(1) {
            let day = jiff::civil::date(2020, 1, 2)
                .checked_add(jiff::Span::new().days(i64::try_from(i / 2).unwrap_or(0)))?;
            events.push(json!({"type": "payment", "date": day.to_string(), "amount": "86.00", "reference": format!("H{i}")}));
        }
        let id = book(
            http,
            args,
            &format!("LOAD-{run}-history"),
            Value::Array(events),
        )
        .await?;
        let mut lat = Vec::with_capacity(args.reads);
        let t = Instant::now();
        for _ in 0..args.reads {
            let start = Instant::now();
            let res = http
                .get(format!("{}/v1/loans/{id}", args.url))
                .bearer_auth(&args.token)
                .send()
                .await?;
            let status = res.status();
            let _ = res.bytes().await?;
            if !status.is_success() {
                bail!("read: {status}");
            }
            lat.push(start.elapsed());
        }
        report(
            &format!("GET of a loan with {} events", args.history),
            args.reads,
            t.elapsed(),
            lat,
        );
        Ok(id)
    }
}

/// A payment on the long loan against one on a loan with ten events, one at a time.
async fn compare_payments(
    http: &reqwest::Client,
    args: &LoadArgs,
    run: i64,
    today: &str,
    id: &str,
) -> anyhow::Result<()> {
    {
        let mut short =
            vec![json!({"type": "disbursement", "date": "2020-01-01", "amount": "500000.00"})];
        for i in 0..9 {
            short.push(json!({"type": "payment", "date": format!("2020-0{}-05", i + 1), "amount": "5200.00", "reference": format!("S{i}")}));
        }
        let small = book(
            http,
            args,
            &format!("LOAD-{run}-short"),
            Value::Array(short),
        )
        .await?;
        let (mut long_lat, mut short_lat) = (Vec::new(), Vec::new());
        for i in 0..args.reads {
            for (loan, lat) in [(id, &mut long_lat), (small.as_str(), &mut short_lat)] {
                let reference = format!("P{run}-{i}");
                let start = Instant::now();
                let res = http
                    .post(format!("{}/v1/loans/{loan}/payments", args.url))
                    .bearer_auth(&args.token)
                    .header("Idempotency-Key", format!("{reference}-{loan}"))
                    .json(&json!({"date": today, "amount": "10.00", "reference": reference}))
                    .send()
                    .await?;
                let status = res.status();
                let _ = res.bytes().await?;
                if status.as_u16() != 201 {
                    bail!("payment on a long history: {status}");
                }
                lat.push(start.elapsed());
            }
        }
        let p50 = |lat: &mut Vec<Duration>| {
            lat.sort_unstable();
            percentile(lat, 0.5)
        };
        let (long_p50, short_p50) = (p50(&mut long_lat), p50(&mut short_lat));
        let (long_total, short_total) = (long_lat.iter().sum(), short_lat.iter().sum());
        report(
            &format!("payment on the loan with {} events", args.history),
            args.reads,
            long_total,
            long_lat,
        );
        report(
            "payment on a loan with 10 events",
            args.reads,
            short_total,
            short_lat,
        );
        println!(
            "payment cost, {} events against 10: {:.2}x (p50)",
            args.history,
            long_p50 / short_p50.max(1e-9)
        );
    }
    Ok(())
}

async fn business_date(http: &reqwest::Client, args: &LoadArgs) -> anyhow::Result<String> {
    let res = http
        .get(format!("{}/v1/business-date", args.url))
        .bearer_auth(&args.token)
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if !status.is_success() {
        bail!("business date: {status} {body}");
    }
    Ok(body["business_date"]
        .as_str()
        .context("business_date")?
        .to_owned())
}
