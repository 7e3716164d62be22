//! `loanbook replay` end to end: the real binary on the shipped example.

use std::path::PathBuf;
use std::process::{Command, Output};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .arg("replay")
        .args(args)
        .output()
        .expect("run loanbook")
}

fn paths() -> (String, String) {
    let terms = examples().join("rbi-personal-loan.json");
    let events = examples().join("events/rbi-personal-loan.json");
    (
        terms.to_str().expect("path").to_owned(),
        events.to_str().expect("path").to_owned(),
    )
}

#[test]
fn example_loan_state_as_json() {
    let (terms, events) = paths();
    let out = replay(&[
        "--terms",
        &terms,
        "--events",
        &events,
        "--as-of",
        "2024-07-15",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["status"], "active");
    assert_eq!(v["events_applied"], 9);
    // The June instalment is unpaid: overdue since 1 June, 45 days on 15 July.
    assert_eq!(v["dpd"], 45);
    assert_eq!(v["classification"], "sma1");
    let history = v["classification_history"].as_array().expect("history");
    assert_eq!(history.last().expect("a change")["date"], "2024-07-01");
    // The reversed April instalment was paid again on 20 April, with the bounce charge.
    let rows = v["installments"].as_array().expect("rows");
    assert_eq!(rows[2]["status"], "paid");
    assert_eq!(v["balances"]["charges_due"], "0.00");
    // The prepayment shortened the loan from 24 instalments.
    assert!(rows.len() < 24);
    let principal: i64 = rows
        .iter()
        .map(|r| {
            let s = r["principal"].as_str().expect("money");
            s.replace('.', "").parse::<i64>().expect("minor units")
        })
        .sum();
    // Instalment principal plus the 5000.00 prepaid is the whole amount disbursed.
    assert_eq!(principal + 500_000, 2_000_000);
}

#[test]
fn the_state_on_an_earlier_date_ignores_later_events() {
    let (terms, events) = paths();
    let out = replay(&[
        "--terms",
        &terms,
        "--events",
        &events,
        "--as-of",
        "2024-04-02",
        "--json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["events_applied"], 4);
    assert_eq!(v["dpd"], 0);
    let table = replay(&[
        "--terms",
        &terms,
        "--events",
        &events,
        "--as-of",
        "2024-04-03",
    ]);
    let text = String::from_utf8(table.stdout).expect("utf-8");
    assert!(text.contains("DPD 3"), "{text}");
}

#[test]
fn invalid_events_exit_2_naming_the_event_and_rule() {
    let (terms, _) = paths();
    let dir = tempdir();
    let cases = [
        (
            r#"[{"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"},
                {"type": "payment", "date": "2024-02-01", "amount": "-5.00", "reference": "X"}]"#,
            "events[1].amount",
        ),
        (
            r#"[{"type": "payment", "date": "2024-02-01", "amount": "5.00", "reference": "X"}]"#,
            "payment",
        ),
        (
            r#"[{"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"},
                {"type": "payment_reversal", "date": "2024-02-01", "reference": "NOPE"}]"#,
            "NOPE",
        ),
        (
            r#"[{"type": "gift", "date": "2024-02-01"}]"#,
            "events[0].type",
        ),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let file = dir.join(format!("events-{i}.json"));
        std::fs::write(&file, text).expect("write");
        let out = replay(&[
            "--terms",
            &terms,
            "--events",
            file.to_str().expect("path"),
            "--as-of",
            "2024-03-01",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(out.stdout.is_empty());
        assert!(err.contains(expect), "{text}: {err}");
    }
    let out = replay(&[
        "--terms",
        &terms,
        "--events",
        &terms,
        "--as-of",
        "2024-13-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-of"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loanbook-replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
