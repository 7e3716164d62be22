//! `loanbook quote` end to end: the real binary on real files.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn quote(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .arg("quote")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loanbook");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("run loanbook")
}

#[test]
fn every_example_quotes() {
    let mut seen = 0;
    for entry in std::fs::read_dir(examples()).expect("examples folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let out = quote(&["--terms", path.to_str().expect("path"), "--json"], None);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
            let rows = v["installments"].as_array().expect("rows");
            assert_eq!(
                rows.last().expect("a row")["balance"],
                "0.00",
                "{}",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 8, "only {seen} examples");
}

#[test]
fn rbi_example_as_table_and_json() {
    let path = examples().join("rbi-personal-loan.json");
    let out = quote(&["--terms", path.to_str().expect("path")], None);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).expect("utf-8");
    assert!(table.contains("APR 17.07%"), "{table}");
    assert!(table.contains("net disbursed 19600.00"), "{table}");
    assert!(table.contains("969.73"));

    let text = std::fs::read_to_string(&path).expect("read example");
    let out = quote(&["--terms", "-", "--json"], Some(&text));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["apr"], "17.07");
    assert_eq!(v["installment_amount"], "969.73");
    assert_eq!(v["totals"]["payable"], "23273.58");
    assert_eq!(v["installments"].as_array().map(Vec::len), Some(24));
}

#[test]
fn invalid_terms_exit_2_with_errors_on_stderr_only() {
    let base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("rbi-personal-loan.json")).expect("example"),
    )
    .expect("json");
    let change = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (
            change(&|v| {
                v.as_object_mut().unwrap().remove("principal");
            }),
            "missing field `principal`",
        ),
        (
            change(&|v| v["principal"] = "-100.00".into()),
            "principal: must be greater than zero",
        ),
        (
            change(&|v| v["annual_rate"] = "120".into()),
            "annual_rate: must be between 0 and 100",
        ),
        (
            change(&|v| v["installments"] = 0.into()),
            "installments: must be between 1 and 600",
        ),
        (
            change(&|v| v["method"] = "annuity".into()),
            "method: unknown variant `annuity`",
        ),
        (
            change(&|v| v["disbursement_date"] = "2024-13-01".into()),
            "disbursement_date:",
        ),
        (
            change(&|v| v["first_due_date"] = "2023-12-01".into()),
            "first_due_date: must be after disbursement_date",
        ),
        (
            change(&|v| {
                v["method"] = "balloon".into();
                v["balloon"] = "30000.00".into();
            }),
            "balloon: must be less than principal",
        ),
        ("not json".to_owned(), "error: terms:"),
        (String::new(), "error: terms:"),
        ("[]".to_owned(), "error: terms:"),
    ];
    for (input, expected) in cases {
        let out = quote(&["--terms", "-"], Some(&input));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{input}: {stderr}");
        assert!(out.stdout.is_empty(), "{input}: stdout not empty");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr:?}");
    }
}

#[test]
fn missing_file_is_an_input_error() {
    let out = quote(&["--terms", "/nonexistent/terms.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/terms.json"));
    assert!(out.stdout.is_empty());
}

/// Every example's quote, as a table and as JSON, against its reviewed snapshot
/// (`crates/cli/tests/snapshots/`; review a change with `cargo insta review`).
#[test]
fn quotes_of_the_examples_match_their_snapshots() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("examples folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 9, "only {} examples", paths.len());
    for path in paths {
        let name = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let file = path.to_str().expect("path");
        let table = quote(&["--terms", file], None);
        assert!(table.status.success(), "{name}");
        insta::assert_snapshot!(
            format!("{name}.table"),
            String::from_utf8(table.stdout).expect("utf-8")
        );
        let json = quote(&["--terms", file, "--json"], None);
        assert!(json.status.success(), "{name}");
        insta::assert_snapshot!(
            format!("{name}.json"),
            String::from_utf8(json.stdout).expect("utf-8")
        );
    }
}

/// The error lists of a few broken documents, as the user sees them on standard error.
#[test]
fn error_lists_match_their_snapshots() {
    let base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("rbi-personal-loan.json")).expect("example"),
    )
    .expect("json");
    let cases: [(&str, serde_json::Value); 3] = [
        (
            "many_rules",
            serde_json::json!({"installments": 0, "annual_rate": "150", "principal": "0",
                               "first_due_date": "2023-12-01", "balloon": "1.00"}),
        ),
        (
            "fees_and_tranches",
            serde_json::json!({"fees": [{"name": "a", "amount": "1.00", "percent": "1"},
                                        {"name": "b", "percent": "120"},
                                        {"name": "b", "amount": "30000.00"}],
                               "tranches": [{"date": "2023-01-01", "amount": "0"}]}),
        ),
        (
            "colending",
            serde_json::json!({"partners": [{"id": "bank", "share": "70", "annual_rate": "20"},
                                            {"id": "bank", "share": "20", "annual_rate": "0"}],
                               "split": "principal_pro_rata"}),
        ),
    ];
    for (name, changes) in cases {
        let mut doc = base.clone();
        for (k, v) in changes.as_object().expect("object") {
            doc[k] = v.clone();
        }
        let out = quote(&["--terms", "-"], Some(&doc.to_string()));
        assert_eq!(out.status.code(), Some(2), "{name}");
        insta::assert_snapshot!(
            format!("errors.{name}"),
            String::from_utf8(out.stderr).expect("utf-8")
        );
    }
}
