//! `loanbook admin init` creates the audit key beside the database; `audit verify` checks the
//! keyed chain read-only and answers 0 intact, 1 broken, 2 usage; `audit checkpoint` prints a
//! checkpoint that `verify --checkpoint` holds the chain to.

use std::path::Path;
use std::process::{Command, Output};

fn loanbook(dir: &Path, args: &[&str], key: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loanbook"));
    c.args(args)
        .current_dir(dir)
        .env_remove("LOANBOOK_DATABASE")
        .env_remove("LOANBOOK_AUDIT_KEY");
    if let Some(k) = key {
        c.env("LOANBOOK_AUDIT_KEY", k);
    }
    c.output().expect("run loanbook")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_audit_key_is_created_and_verify_catches_tampering_read_only() {
    let dir = std::env::temp_dir().join(format!("loanbook-audit-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/books.db", dir.display());
    let db = ["--database", url.as_str()];

    let out = loanbook(&dir, &["admin", "init", db[0], db[1]], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).trim().starts_with("lb_"),
        "stdout is the token alone"
    );
    let key_file = dir.join("books.audit-key");
    assert!(
        text(&out.stderr).contains(&key_file.display().to_string()),
        "{}",
        text(&out.stderr)
    );
    let key = std::fs::read_to_string(&key_file).expect("key file");
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = loanbook(
        &dir,
        &[
            "token", "create", db[0], db[1], "--user", "audrey", "--role", "auditor",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Intact, read-only: the database file is not touched.
    let before = std::fs::read(dir.join("books.db")).expect("db");
    let out = loanbook(&dir, &["audit", "verify", db[0], db[1]], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("audit log intact: 4 records"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(std::fs::read(dir.join("books.db")).expect("db"), before);

    // A checkpoint, then verify against it.
    let out = loanbook(&dir, &["audit", "checkpoint", db[0], db[1]], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let checkpoint = text(&out.stdout).trim().to_owned();
    assert!(checkpoint.starts_with("1:"), "{checkpoint}");
    let out = loanbook(
        &dir,
        &["audit", "verify", db[0], db[1], "--checkpoint", &checkpoint],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = loanbook(
        &dir,
        &["audit", "verify", db[0], db[1], "--checkpoint", "1:nothex"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // Without the key a keyed chain cannot be checked: a usage error. With another key: broken.
    let moved = dir.join("elsewhere.key");
    std::fs::rename(&key_file, &moved).expect("move key");
    let out = loanbook(&dir, &["audit", "verify", db[0], db[1]], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let other = "ab".repeat(32);
    let out = loanbook(&dir, &["audit", "verify", db[0], db[1]], Some(&other));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("audit record 1 of stream"),
        "{}",
        text(&out.stderr)
    );
    // A writer without the key is refused rather than extending the chain unkeyed.
    let out = loanbook(
        &dir,
        &[
            "token", "create", db[0], db[1], "--user", "x", "--role", "auditor",
        ],
        None,
    );
    assert!(!out.status.success());
    let out = loanbook(&dir, &["audit", "verify", db[0], db[1]], Some(key.trim()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Someone edits the third record written in the database.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        sqlx::query("UPDATE audit_log SET actor = 'intruder' WHERE seq = 3")
            .execute(&mut c)
            .await
            .expect("tamper");
    });
    let out = loanbook(&dir, &["audit", "verify", db[0], db[1]], Some(key.trim()));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is broken: its content does not match its hash"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
