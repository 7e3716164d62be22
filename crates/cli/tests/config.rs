//! `loanbook serve` takes its settings from `loanbook.toml` when no flag or variable gives them,
//! and refuses a file with an unknown setting.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serve_reads_loanbook_toml() {
    let dir = std::env::temp_dir().join(format!("loanbook-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    std::fs::write(
        dir.join("loanbook.toml"),
        format!(
            "database = \"sqlite://{}/books.db\"\nlisten = \"127.0.0.1:{port}\"\n",
            dir.display()
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .arg("serve")
        .current_dir(&dir)
        .env_remove("LOANBOOK_DATABASE")
        .env_remove("LOANBOOK_LISTEN")
        .env("LOANBOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut serving = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if line.starts_with("Loanbook is serving") {
            serving = line;
            break;
        }
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(serving.ends_with(&format!("127.0.0.1:{port}")), "{serving}");
    assert!(
        dir.join("books.db").exists(),
        "the database named in loanbook.toml"
    );

    std::fs::write(dir.join("loanbook.toml"), "databse = \"sqlite://x.db\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .arg("serve")
        .current_dir(&dir)
        .output()
        .expect("run serve");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loanbook.toml"));
    let _ = std::fs::remove_dir_all(&dir);
}
