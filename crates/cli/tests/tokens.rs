//! `loanbook token create|list|revoke` against a running `loanbook serve`, on SQLite and
//! PostgreSQL: a token revoked from the command line is refused by the server at once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use loanbook_store::testing::TestDatabase;

fn loanbook(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args(args)
        .env("LOANBOOK_DATABASE", url)
        .output()
        .expect("run loanbook")
}

/// Start `serve` on a free port; returns the child, the base URL and the admin token.
fn serve(url: &str) -> (Child, String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_loanbook"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("LOANBOOK_DATABASE", url)
        .env("LOANBOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut token = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some((_, t)) = line.split_once("(keep it safe): ") {
            token = t.trim().to_owned();
        }
        if line.starts_with("Loanbook is serving") {
            break;
        }
    }
    (child, format!("http://127.0.0.1:{port}"), token)
}

async fn revoked_from_the_command_line(db: &TestDatabase) {
    let (mut child, base, admin) = serve(&db.url);
    assert!(admin.starts_with("lb_"), "{admin}");
    let http = reqwest::Client::new();
    let status = |token: String| {
        let http = http.clone();
        let url = format!("{base}/v1/loans");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    let out = loanbook(
        &db.url,
        &[
            "token",
            "create",
            "--user",
            "asha",
            "--role",
            "operations",
            "--expires",
            "90d",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert_eq!(status(token.clone()).await, 200);
    assert_eq!(status(token.clone()).await, 200);

    let out = loanbook(&db.url, &["token", "list"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!list.contains(&token), "the list never shows a secret");
    let line = list
        .lines()
        .find(|l| l.contains("asha"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains(&token[..11]), "{line}");
    assert!(line.contains("operations"));
    let id = line.split_whitespace().next().expect("id").to_owned();

    let out = loanbook(&db.url, &["token", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        status(token).await,
        401,
        "revoked in another process, refused at once"
    );
    assert_eq!(status(admin).await, 200);

    let out = loanbook(
        &db.url,
        &[
            "token",
            "create",
            "--user",
            "x",
            "--role",
            "auditor",
            "--expires",
            "2w",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--expires"));
    let out = loanbook(&db.url, &["token", "revoke", "no-such-token"]);
    assert!(!out.status.success());
    child.kill().expect("kill");
    child.wait().expect("reap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_token_revoked_from_the_command_line_is_refused_at_once() {
    let db = TestDatabase::sqlite();
    revoked_from_the_command_line(&db).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_token_revoked_from_the_command_line_is_refused_at_once() {
    let db = TestDatabase::postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    revoked_from_the_command_line(&db).await;
    db.drop_database().await;
}
