//! `loanbook originate`: drive a running server with applications through the whole
//! origination flow (draft, submit, bureau, statement, assessment, sanction, KFS, acceptance,
//! checklist, disbursement), and report applications per second and each step's latency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::Failure;
use crate::load::report;

#[derive(Args)]
pub struct OriginateArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API token (admin: it creates the product it originates under).
    #[arg(long, env = "LOANBOOK_TOKEN")]
    token: String,
    /// A second user's token (credit) to approve the product when the server holds product
    /// changes for approval.
    #[arg(long, env = "LOANBOOK_CHECKER_TOKEN")]
    checker_token: Option<String>,
    /// Applications to take from draft to disbursed loan.
    #[arg(long, default_value_t = 1_000)]
    applications: usize,
    /// Applications in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// The product the generator originates under: a personal loan with bounds, rules, a
/// scorecard, KFS settings and a checklist.
pub fn product_config() -> Value {
    json!({
        "terms": {"currency": "INR", "method": "emi", "frequency": "monthly", "annual_rate": "14",
            "fees": [{"name": "processing", "percent": "1", "tax_percent": "18", "collect": "deduct"}]},
        "bounds": {"amount": {"min": "50000.00", "max": "1000000.00"},
            "installments": {"min": 6, "max": 60}, "methods": ["emi"], "frequencies": ["monthly"],
            "rate": {"type": "fixed", "min": "10", "max": "24"}},
        "eligibility": {"min_bureau_score": 650, "max_foir_percent": "70", "min_age": 21,
            "max_age_at_maturity": 65, "min_monthly_income": "20000.00", "max_dpd_12m": 30},
        "approval": {"second_approver_above": "800000.00"},
        "kfs": {"lender": "Loanbook Finance Ltd", "validity_days": 3, "cooling_off_days": 3,
            "grievance_officer": {"name": "R. Iyer", "phone": "+918000000000", "email": "grievance@example.in"}},
        "checklist": ["kyc", "agreement_signed", "mandate_registered"]
    })
}

/// A complete draft for applicant `n`, with a PAN the simulated bureau answers with a clean file.
pub fn draft(n: usize) -> Value {
    json!({
        "applicant": {"name": format!("Applicant {n}"), "date_of_birth": "1988-03-14",
            "pan": clean_pan(n), "aadhaar_last4": "4321", "phone": "9876543210",
            "email": "applicant@example.in",
            "address": {"line1": "12 MG Road", "city": "Bengaluru", "state": "Karnataka", "pin": "560001"},
            "employment": {"kind": "salaried", "employer": "Acme Ltd", "monthly_income": "90000.00"}},
        "request": {"amount": "300000.00", "installments": 36, "purpose": "home renovation"},
        "consents": [{"purpose": "bureau", "given_at": "2025-06-30T10:00:00+05:30", "channel": "otp"}],
        "payout_account": {"name": format!("Applicant {n}"), "account_number": "50100012345671", "ifsc": "HDFC0001234"}
    })
}

/// A PAN of a person with a clean bureau file in the simulator.
fn clean_pan(n: usize) -> String {
    let _ = n;
    "ABCPE0002F".to_owned()
}

/// Three months of a salaried applicant's account, in HDFC's export layout.
pub const STATEMENT: &str = include_str!("../../../docs/examples/hdfc-statement.csv");

pub fn run(args: &OriginateArgs) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(drive(args)).map_err(Failure::Other)
}

struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Client {
    /// Upload a statement file.
    async fn upload(&self, path: &str, csv: &str) -> anyhow::Result<()> {
        let res = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await?;
        let status = res.status();
        let body = res.bytes().await?;
        if !status.is_success() {
            bail!("{path}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status();
        let body = res.bytes().await?;
        if !status.is_success() {
            bail!("{path}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

const STEPS: [&str; 11] = [
    "create",
    "submit",
    "bureau",
    "statement",
    "assess",
    "sanction",
    "kfs",
    "accept",
    "checklist",
    "disburse",
    "loan",
];

async fn drive(args: &OriginateArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let c = Arc::new(Client {
        http,
        url: args.url.clone(),
        token: args.token.clone(),
    });
    let run = jiff::Timestamp::now().as_millisecond();
    let code = format!("BENCH{}", run % 1_000_000);
    let body = json!({"code": code, "name": "Benchmark personal loan", "config": product_config()});
    let made = c
        .send(reqwest::Method::POST, "/v1/products", Some(body))
        .await?;
    if let Some(approval) = made["approval"]["id"].as_str() {
        let checker = Client {
            http: c.http.clone(),
            url: c.url.clone(),
            token: args
                .checker_token
                .clone()
                .context("the product is held for approval: give --checker-token")?,
        };
        let path = format!("/v1/approvals/{approval}/approve");
        checker
            .send(reqwest::Method::POST, &path, Some(json!({})))
            .await?;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (c, next, code) = (c.clone(), next.clone(), code.clone());
        let total = args.applications;
        workers.push(tokio::spawn(async move {
            let mut lat = Latencies::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(lat);
                }
                one(&c, &code, run, i, &mut lat).await?;
            }
        }));
    }
    let mut lat: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for w in workers {
        for (k, v) in w.await?? {
            lat.entry(k).or_default().extend(v);
        }
    }
    let elapsed = t.elapsed();
    println!(
        "applications: {} draft to disbursed loan in {:.2} s = {:.1}/s",
        args.applications,
        elapsed.as_secs_f64(),
        args.applications as f64 / elapsed.as_secs_f64()
    );
    for step in STEPS {
        if let Some(l) = lat.remove(step) {
            let n = l.len();
            report(&format!("  {step}"), n, elapsed, l);
        }
    }
    Ok(())
}

type Latencies = BTreeMap<&'static str, Vec<Duration>>;

/// One request, its latency kept under `step`.
async fn timed(
    c: &Client,
    lat: &mut Latencies,
    step: &'static str,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let start = Instant::now();
    let v = c.send(method, &path, body).await;
    lat.entry(step).or_default().push(start.elapsed());
    v
}

/// One application through every step.
async fn one(
    c: &Client,
    code: &str,
    run: i64,
    i: usize,
    lat: &mut Latencies,
) -> anyhow::Result<()> {
    use reqwest::Method;
    let body = json!({"number": format!("B{run}-{i}"), "product": code, "draft": draft(i)});
    let created = timed(
        c,
        lat,
        "create",
        Method::POST,
        "/v1/applications".into(),
        Some(body),
    )
    .await?;
    let id = created["id"].as_str().context("application id")?.to_owned();
    let at = |s: &str| format!("/v1/applications/{id}/{s}");
    timed(c, lat, "submit", Method::POST, at("submit"), None).await?;
    timed(
        c,
        lat,
        "bureau",
        Method::POST,
        at("bureau"),
        Some(json!({})),
    )
    .await?;
    let start = Instant::now();
    c.upload(&at("statements"), STATEMENT).await?;
    lat.entry("statement").or_default().push(start.elapsed());
    let assessed = timed(c, lat, "assess", Method::POST, at("assess"), None).await?;
    if assessed["status"] != "approved" {
        bail!(
            "application {i} was not approved: {}",
            assessed["application"]["assessment"]
        );
    }
    timed(
        c,
        lat,
        "sanction",
        Method::POST,
        at("sanction"),
        Some(json!({})),
    )
    .await?;
    timed(c, lat, "kfs", Method::GET, at("kfs"), None).await?;
    let accept = Some(json!({"channel": "otp"}));
    timed(c, lat, "accept", Method::POST, at("accept"), accept).await?;
    for item in ["kyc", "agreement_signed", "mandate_registered"] {
        let tick = Some(json!({"item": item}));
        timed(c, lat, "checklist", Method::POST, at("checklist"), tick).await?;
    }
    let rail = Some(json!({"rail": "imps"}));
    let done = timed(c, lat, "disburse", Method::POST, at("disburse"), rail).await?;
    let loan = done["loan_id"].as_str().context("loan id")?.to_owned();
    timed(
        c,
        lat,
        "loan",
        Method::GET,
        format!("/v1/loans/{loan}"),
        None,
    )
    .await?;
    Ok(())
}
