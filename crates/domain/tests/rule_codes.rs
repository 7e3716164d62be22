//! Every rule code is in the table, the table is in docs/terms.md, and the errors carry their codes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use loanbook_domain::events::Event;
use loanbook_domain::money::Currency;
use loanbook_domain::terms::{RULES, Terms, rules::meaning};
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn table() -> String {
    let mut out = String::from("| Code | Meaning |\n|---|---|\n");
    for (code, text) in RULES {
        out.push_str(&format!("| `{code}` | {text} |\n"));
    }
    out
}

#[test]
fn the_docs_table_is_the_rules_list() {
    let doc = std::fs::read_to_string(root().join("docs/terms.md")).unwrap();
    let start = doc.find("<!-- rules:begin").expect("begin marker");
    let body_start = start + doc[start..].find("-->\n").unwrap() + 4;
    let end = doc.find("<!-- rules:end -->").expect("end marker");
    assert_eq!(
        &doc[body_start..end],
        table(),
        "docs/terms.md's table of rule codes is out of date"
    );
}

#[test]
fn codes_are_unique_and_dotted() {
    let mut seen = BTreeSet::new();
    for (code, text) in RULES {
        assert!(seen.insert(*code), "{code} twice");
        assert!(!text.is_empty());
        let ok = *code == "invalid"
            || code.split('.').count() == 2
                && code.split('.').all(|p| {
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
        assert!(ok, "{code} is not subject.rule");
    }
}

/// The arguments of every call to `name(` in `text`, split at top-level commas.
fn calls(text: &str, name: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(name) {
        rest = &rest[i + name.len()..];
        let (mut depth, mut in_str, mut escaped) = (1, false, false);
        let mut args = vec![String::new()];
        for c in rest.chars() {
            if in_str {
                args.last_mut().unwrap().push(c);
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 1 => {
                    args.push(String::new());
                    continue;
                }
                _ => {}
            }
            if depth == 0 {
                break;
            }
            args.last_mut().unwrap().push(c);
        }
        out.push(args.into_iter().map(|a| a.trim().to_owned()).collect());
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_code_in_the_source_is_in_the_table() {
    let mut files = Vec::new();
    sources(&root().join("crates/domain/src"), &mut files);
    let mut used = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in ["FieldError::coded(", "self.err("] {
            for args in calls(&text, name) {
                let Some(code) = args.get(1) else { continue };
                if code.starts_with("code") {
                    continue; // the definitions themselves
                }
                let code = code.trim_matches('"');
                assert!(
                    meaning(code).is_some(),
                    "{}: code {code:?} is not in RULES",
                    file.display()
                );
                used += 1;
            }
        }
    }
    assert!(used > 60, "only {used} coded rules found");
}

#[test]
fn errors_carry_their_codes() {
    let base = json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01"
    });
    let cases = [
        ("installments", json!(0), "installments.range"),
        ("principal", json!("0"), "amount.positive"),
        ("principal", json!("1.234"), "amount.format"),
        ("principal", json!("2000000000000"), "amount.max"),
        ("annual_rate", json!("101"), "rate.range"),
        ("annual_rate", json!("1.0000001"), "rate.precision"),
        ("annual_rate", json!("1e2"), "rate.format"),
        ("currency", json!("XYZ"), "currency.unknown"),
        ("method", json!("annuity"), "enum.unknown"),
        ("principal", json!(20000), "json.type"),
        ("disbursement_date", json!("2024-02-30"), "date.format"),
        ("colour", json!("red"), "field.unknown"),
        ("balloon", json!("10.00"), "balloon.method"),
        ("frequency", json!({"days": 0}), "frequency.days"),
    ];
    for (field, value, code) in cases {
        let mut doc = base.clone();
        doc[field] = value.clone();
        let err = Terms::from_json(&doc.to_string()).unwrap_err();
        assert!(
            err.0.iter().any(|e| e.code == code),
            "{field} = {value}: {code} not in {:?}",
            err.0
        );
        for e in &err.0 {
            assert!(meaning(e.code).is_some(), "{} not in RULES", e.code);
        }
    }
    let err = Terms::from_json("{\"currency\": ").unwrap_err();
    assert_eq!(err.0[0].code, "json.syntax");
    let err = Terms::from_json(r#"{"currency": "INR"}"#).unwrap_err();
    assert_eq!(err.0[0].code, "field.missing");

    let payment =
        json!({"type": "payment", "date": "2024-02-01", "amount": "0.00", "reference": "U"});
    let err = Event::from_json_value(&payment, Currency::INR).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.code),
        ("amount", "amount.positive")
    );
    let list = format!("[{payment}]");
    let errs = Event::list_from_json(&list, Currency::INR).unwrap_err();
    assert_eq!(
        (errs[0].field.as_str(), errs[0].code),
        ("events[0].amount", "amount.positive")
    );
    let value = serde_json::to_value(&errs[0]).unwrap();
    assert_eq!(value["code"], "amount.positive", "{value}");
}
