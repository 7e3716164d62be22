//! `loanbook provisioning show|set` on SQLite and PostgreSQL: the default, a preset set and read
//! back, a table of one's own from a file, and bad input refused (exit 2, the field named) with
//! nothing changed.

use std::process::Command;

use loanbook_store::testing::TestDatabase;
use serde_json::{Value, json};

loanbook_store::on_both_backends!(the_table_is_shown_and_set_from_the_command_line);

fn loanbook(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args(args)
        .env("LOANBOOK_DATABASE", url)
        .output()
        .expect("run loanbook")
}

fn shown(url: &str) -> Value {
    let out = loanbook(url, &["provisioning", "show", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

async fn the_table_is_shown_and_set_from_the_command_line(db: &TestDatabase) {
    let out = loanbook(&db.url, &["provisioning", "show"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("preset rbi_nbfc; the default"), "{text}");
    assert!(text.contains("substandard"), "{text}");
    assert_eq!(shown(&db.url)["version"], 0);

    let out = loanbook(&db.url, &["provisioning", "set", "--preset", "rbi_bank"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = shown(&db.url);
    assert_eq!(table["preset"], "rbi_bank");
    assert_eq!(table["version"], 1);
    assert_eq!(table["changed_by"], "cli");
    assert_eq!(
        table["rates"][1],
        json!({"asset_class": "substandard", "secured": "15", "unsecured": "25"})
    );

    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "loanbook-cli-provisioning-{}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, v: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, v.to_string()).unwrap();
        path.display().to_string()
    };
    let mut rows = table["rates"].clone();
    rows[1]["unsecured"] = json!("101");
    let bad = file("bad.json", &rows);
    let out = loanbook(&db.url, &["provisioning", "set", "--file", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rates[1].unsecured: must be between 0 and 100"),
        "{err}"
    );
    let out = loanbook(&db.url, &["provisioning", "set", "--preset", "rbi_hfc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("preset: must be"));
    let cats = file("categories.json", &json!({"NOPE": "housing"}));
    let out = loanbook(
        &db.url,
        &[
            "provisioning",
            "set",
            "--preset",
            "rbi_nbfc",
            "--categories",
            &cats,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("categories.NOPE"));
    assert_eq!(shown(&db.url), table);

    rows[1]["unsecured"] = json!("20");
    let own = file("own.json", &rows);
    let out = loanbook(&db.url, &["provisioning", "set", "--file", &own, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let set: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(set["preset"], "custom");
    assert_eq!(set["version"], 2);
    assert_eq!(shown(&db.url), set);
    let _ = std::fs::remove_dir_all(&dir);
}
