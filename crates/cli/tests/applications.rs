//! `loanbook application` reads applications from the database: an empty book lists none, an
//! unknown id is named, and a bad format is refused with usage.

use std::path::Path;
use std::process::{Command, Output};

fn loanbook(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args(args)
        .current_dir(dir)
        .env_remove("LOANBOOK_DATABASE")
        .env_remove("LOANBOOK_AUDIT_KEY")
        .output()
        .expect("run loanbook")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn applications_are_listed_shown_and_unknown_ones_named() {
    let dir = std::env::temp_dir().join(format!("loanbook-apps-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/books.db", dir.display());
    let out = loanbook(&dir, &["admin", "init", "--database", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = loanbook(&dir, &["application", "list", "--database", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "", "an empty book lists nothing");

    let out = loanbook(&dir, &["application", "show", "--database", &url, "NOPE"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("application `NOPE` not found"),
        "{}",
        text(&out.stderr)
    );

    let out = loanbook(
        &dir,
        &[
            "application",
            "kfs",
            "--database",
            &url,
            "--format",
            "doc",
            "X",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "usage: {}", text(&out.stderr));

    let out = loanbook(
        &dir,
        &[
            "application",
            "list",
            "--database",
            &url,
            "--status",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("status"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
