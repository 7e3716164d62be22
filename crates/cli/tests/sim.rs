//! `loanbook sim book` end to end: the real binary writes a book into a SQLite file, its loans
//! read back and replay to their projections, and the same seed makes the same book.

use std::path::Path;
use std::process::{Command, Output};

use loanbook_store::{LoanFilter, Store, connect};

fn loanbook(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args(args)
        .env_remove("LOANBOOK_DATABASE")
        .output()
        .expect("run loanbook")
}

fn sim_book(url: &str, loans: &str, seed: &str) -> Output {
    loanbook(&[
        "sim",
        "book",
        "--loans",
        loans,
        "--database",
        url,
        "--seed",
        seed,
        "--as-of",
        "2026-03-31",
        "--batch",
        "120",
    ])
}

/// Every loan of a book, by loan number: its terms, event documents and projection (less the
/// loan's id, which is new on every run).
async fn contents(url: &str) -> Vec<(String, String, Vec<String>, String)> {
    let store = connect(url).await.unwrap();
    let mut out = Vec::new();
    for id in store.loan_ids().await.unwrap() {
        let loan = store.loan(&id).await.unwrap().unwrap();
        let docs = store.event_documents(&id).await.unwrap();
        let mut p = store.projection(&id).await.unwrap().unwrap();
        p.loan_id.clear();
        out.push((loan.loan_number, loan.terms, docs, format!("{p:?}")));
    }
    out.sort();
    out
}

fn url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_book_reads_back_replays_and_repeats() {
    let dir = std::env::temp_dir().join(format!("loanbook-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = url(&dir, "first.db");
    let out = sim_book(&first, "500", "7");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Booked 500 loans"), "{stdout}");
    assert!(stdout.contains("business date 2026-04-01"), "{stdout}");

    // The first day to close is the day after the as-of date.
    let shown = loanbook(&["business-date", "show", "--database", &first]);
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), "2026-04-01");

    let store = connect(&first).await.unwrap();
    let ids = store.loan_ids().await.unwrap();
    assert_eq!(ids.len(), 500);
    let npa = store
        .list_loans(&LoanFilter {
            classification: Some("npa".into()),
            limit: 1000,
            ..LoanFilter::default()
        })
        .await
        .unwrap();
    assert!(!npa.is_empty());
    // A few loans, the delinquent among them, replay through `loanbook replay` to what their
    // projections say.
    let picks: Vec<String> = ids
        .iter()
        .step_by(97)
        .cloned()
        .chain(npa.iter().take(2).map(|l| l.projection.loan_id.clone()))
        .collect();
    for id in picks {
        check_replays(&store, &dir, &id).await;
    }

    // The same seed on a fresh file gives the same loans; another seed does not.
    let second = url(&dir, "second.db");
    assert!(sim_book(&second, "500", "7").status.success());
    let third = url(&dir, "third.db");
    assert!(sim_book(&third, "500", "8").status.success());
    let (a, b, c) = (
        contents(&first).await,
        contents(&second).await,
        contents(&third).await,
    );
    assert_eq!(a.len(), 500);
    assert!(a == b, "the same seed gave another book");
    assert!(a != c);

    // A book that holds loans is refused, and left as it was.
    let again = sim_book(&first, "10", "7");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds loans"));
    assert_eq!(store.loan_ids().await.unwrap().len(), 500);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Write the loan's terms and events to files, replay them with the binary at the as-of date,
/// and compare with the stored projection.
async fn check_replays(store: &std::sync::Arc<dyn Store>, dir: &Path, id: &str) {
    let loan = store.loan(id).await.unwrap().unwrap();
    let docs = store.event_documents(id).await.unwrap();
    let projection = store.projection(id).await.unwrap().unwrap();
    assert_eq!(projection.version, docs.len() as i64);
    assert_eq!(store.snapshots(id).await.unwrap().len(), 1);
    let terms = dir.join(format!("{id}.terms.json"));
    let events = dir.join(format!("{id}.events.json"));
    std::fs::write(&terms, &loan.terms).unwrap();
    std::fs::write(&events, docs.join("\n")).unwrap();
    let out = loanbook(&[
        "replay",
        "--terms",
        terms.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--as-of",
        "2026-03-31",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], projection.status.as_str());
    assert_eq!(v["classification"], projection.classification.as_str());
    assert_eq!(v["dpd"], projection.dpd);
    assert_eq!(v["events_applied"], docs.len());
}
