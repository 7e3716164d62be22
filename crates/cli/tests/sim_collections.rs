//! `loanbook sim collections` end to end: the real binary runs the pipeline on a temporary
//! store and prints one JSON object; the same seed gives the same figures, and bad arguments
//! are refused naming the flag.

use std::process::{Command, Output};

use serde_json::Value;

fn loanbook(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args(args)
        .output()
        .expect("run loanbook")
}

fn collections(policy: &str, seed: &str) -> Value {
    let out = loanbook(&[
        "sim",
        "collections",
        "--borrowers",
        "120",
        "--months",
        "3",
        "--policy",
        policy,
        "--seed",
        seed,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    // The only figure that may differ between runs.
    v.as_object_mut().map(|o| o.remove("seconds"));
    v
}

#[test]
fn the_pipeline_reports_what_each_policy_achieved_and_repeats() {
    let fixed = collections("fixed", "7");
    for key in [
        "policy",
        "due_installments",
        "collected_on_time",
        "recovered_by_retry",
        "recovery_rate",
        "failed_attempts",
        "bounce_charges",
        "dpd30_plus_rate",
        "likelihood",
    ] {
        assert!(fixed.get(key).is_some(), "{key} missing from {fixed}");
    }
    assert_eq!(fixed["policy"], "fixed");
    // 120 loans disbursed in the first month: their first instalments fall due in the second
    // and end their cycle in the third; the second ones are still in theirs.
    assert_eq!(fixed["due_installments"], 120);
    let due = fixed["due_installments"].as_u64().unwrap();
    let on_time = fixed["collected_on_time"].as_u64().unwrap();
    assert!(on_time > due / 2 && on_time < due, "{fixed}");
    let attempts = fixed["attempts"].as_u64().unwrap();
    let failed = fixed["failed_attempts"].as_u64().unwrap();
    assert!(failed > 0 && failed < attempts, "{fixed}");
    // The fixed policy never makes more than three attempts an instalment.
    assert!(
        fixed["by_attempt"].as_array().unwrap().len() <= 3,
        "{fixed}"
    );
    assert_eq!(
        collections("fixed", "7"),
        fixed,
        "the same seed, the same figures"
    );
    let adaptive = collections("adaptive", "7");
    assert_eq!(adaptive["policy"], "adaptive");
    assert_eq!(adaptive["due_installments"], 120);
    assert_ne!(
        collections("fixed", "8"),
        fixed,
        "another seed, another population"
    );
}

#[test]
fn bad_arguments_are_refused_naming_the_flag() {
    for (args, flag) in [
        (vec!["--borrowers", "0", "--policy", "fixed"], "--borrowers"),
        (
            vec!["--borrowers", "10", "--months", "0", "--policy", "fixed"],
            "--months",
        ),
        (
            vec![
                "--borrowers",
                "10",
                "--policy",
                "fixed",
                "--start",
                "2026-02-30",
            ],
            "--start",
        ),
        (
            vec![
                "--borrowers",
                "10",
                "--policy",
                "adaptive",
                "--min-success",
                "2",
            ],
            "--min-success",
        ),
        (
            vec!["--borrowers", "10", "--policy", "sometimes"],
            "--policy",
        ),
    ] {
        let mut all = vec!["sim", "collections"];
        all.extend(args);
        let out = loanbook(&all);
        assert!(!out.status.success(), "{all:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{all:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
