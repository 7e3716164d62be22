//! Durability: payments are posted while the server is killed with SIGKILL and restarted. Every
//! payment that was answered 2xx is there exactly once, the audit chain verifies, and every
//! loan's projection equals a fresh replay of its events. On SQLite and on PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loanbook_store::testing::TestDatabase;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_survives_sigkill() {
    let db = TestDatabase::sqlite();
    survives_sigkill(&db.url).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_survives_sigkill() {
    let db = TestDatabase::postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    survives_sigkill(&db.url).await;
    db.drop_database().await;
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Start `loanbook serve`; returns the child and, on a fresh database, the admin token.
fn start(url: &str, port: u16) -> (Child, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args([
            "serve",
            "--database",
            url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("LOANBOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start loanbook serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut token = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read stdout");
        if let Some(t) = line.split_whitespace().find(|w| w.starts_with("lb_")) {
            token = Some(t.to_owned());
        }
        if line.starts_with("Loanbook is serving") {
            break;
        }
    }
    (child, token)
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
    key: Option<String>,
) -> Option<(u16, Value)> {
    let mut req = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    Some((status, res.json().await.ok()?))
}

async fn survives_sigkill(url: &str) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (mut server, token) = start(url, port);
    let token = token.expect("the first start prints the admin token");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    let terms: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/rbi-personal-loan.json"
        ))
        .expect("example"),
    )
    .expect("json");
    let mut loans = Vec::new();
    for n in 0..3 {
        let (st, b) = post(&http, &base, &token, "/v1/loans",
                           json!({"loan_number": format!("LN-{n}"), "terms": terms,
                                  "events": [{"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"}]}),
                           None).await.expect("book");
        assert_eq!(st, 201, "{b}");
        loans.push(b["id"].as_str().expect("id").to_owned());
    }

    // Eight clients post payments until the server dies under them.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let mut clients = Vec::new();
    for c in 0..8 {
        let (http, base, token, loans, acked) = (
            http.clone(),
            base.clone(),
            token.clone(),
            loans.clone(),
            acknowledged.clone(),
        );
        clients.push(tokio::spawn(async move {
            for i in 0.. {
                let loan = &loans[(c + i) % loans.len()];
                let reference = format!("P{c}-{i}");
                let body = json!({"date": "2024-02-01", "amount": "1.00", "reference": reference});
                match post(
                    &http,
                    &base,
                    &token,
                    &format!("/v1/loans/{loan}/payments"),
                    body,
                    Some(reference.clone()),
                )
                .await
                {
                    Some((201, _)) => acked.lock().expect("lock").push((loan.clone(), reference)),
                    Some((st, b)) => panic!("unexpected {st}: {b}"),
                    None => return,
                }
            }
        }));
    }
    let t = Instant::now();
    while acknowledged.lock().expect("lock").len() < 150 && t.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reap");
    for c in clients {
        c.await.expect("client");
    }
    let acked = acknowledged.lock().expect("lock").clone();
    assert!(
        acked.len() >= 50,
        "only {} payments before the kill",
        acked.len()
    );

    let (mut server, again) = start(url, port);
    assert!(again.is_none(), "a restart must not create another admin");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for loan in &loans {
        let res = http
            .get(format!("{base}/v1/loans/{loan}/events"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("events");
        let v: Value = res.json().await.expect("json");
        for e in v["events"].as_array().expect("events") {
            if let Some(r) = e["event"]["reference"].as_str() {
                *seen.entry(format!("{loan}/{r}")).or_default() += 1;
            }
        }
    }
    assert!(seen.values().all(|n| *n == 1), "a payment was stored twice");
    let acked_set: HashSet<String> = acked.iter().map(|(l, r)| format!("{l}/{r}")).collect();
    let missing: Vec<&String> = acked_set
        .iter()
        .filter(|k| !seen.contains_key(*k))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // Retrying an acknowledged payment with its key gives the stored answer, not a second payment.
    let (loan, reference) = &acked[0];
    let (st, _) = post(
        &http,
        &base,
        &token,
        &format!("/v1/loans/{loan}/payments"),
        json!({"date": "2024-02-01", "amount": "1.00", "reference": reference}),
        Some(reference.clone()),
    )
    .await
    .expect("retry");
    assert_eq!(st, 201);
    server.kill().expect("kill");
    server.wait().expect("reap");

    let out = Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args(["audit", "verify", "--database", url])
        .output()
        .expect("audit verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = loanbook_store::connect(url).await.expect("store");
    let app = loanbook_app::App::new(
        store,
        "main",
        std::sync::Arc::new(loanbook_app::SystemClock),
    )
    .await
    .expect("app");
    assert_eq!(
        app.projection_mismatches().await.expect("check"),
        Vec::<String>::new()
    );
}
