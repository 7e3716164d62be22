//! The close of business killed at random points and run again gives exactly the state and the GL
//! of an uninterrupted close: the same `loanbook eod digest`, a zero trial balance and a
//! reconciliation without differences.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const AS_OF: &str = "2025-03-30";
const UNTIL: &str = "2025-05-10";
const KILLS: usize = 30;

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

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn digest(dir: &Path, url: &str) -> String {
    let out = ok(loanbook(
        dir,
        &["eod", "digest", "--database", url, "--date", UNTIL],
    ));
    out.split_whitespace().next().unwrap_or_default().to_owned()
}

/// A small deterministic sequence of delays (no randomness source needed for a test).
fn delays(seed: u64) -> impl Iterator<Item = Duration> {
    let mut x = seed;
    std::iter::from_fn(move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Some(Duration::from_millis(30 + (x >> 33) % 400))
    })
}

#[test]
fn a_close_killed_anywhere_and_run_again_equals_a_clean_one() {
    let dir = std::env::temp_dir().join(format!("loanbook-eod-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clean = format!("sqlite://{}/clean.db", dir.display());
    let killed = format!("sqlite://{}/killed.db", dir.display());
    for url in [&clean, &killed] {
        ok(loanbook(
            &dir,
            &[
                "sim",
                "book",
                "--loans",
                "1500",
                "--seed",
                "11",
                "--as-of",
                AS_OF,
                "--database",
                url,
            ],
        ));
    }
    ok(loanbook(
        &dir,
        &["eod", "--database", &clean, "--until", UNTIL],
    ));

    let mut kills = 0;
    for delay in delays(7).take(KILLS) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loanbook"))
            // Small chunks: many transactions to be killed between and inside.
            .args([
                "eod",
                "--database",
                &killed,
                "--until",
                UNTIL,
                "--chunk",
                "40",
            ])
            .current_dir(&dir)
            .env_remove("LOANBOOK_DATABASE")
            .env_remove("LOANBOOK_AUDIT_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the close");
        std::thread::sleep(delay);
        if child.try_wait().expect("poll the close").is_none() {
            child.kill().expect("kill the close");
            kills += 1;
        }
        let _ = child.wait();
    }
    ok(loanbook(
        &dir,
        &["eod", "--database", &killed, "--until", UNTIL],
    ));
    assert!(kills >= 20, "the close was killed only {kills} times");

    assert_eq!(digest(&dir, &killed), digest(&dir, &clean));
    let tb = ok(loanbook(
        &dir,
        &[
            "gl",
            "trial-balance",
            "--database",
            &killed,
            "--date",
            UNTIL,
        ],
    ));
    assert!(
        tb.trim_end().ends_with("balanced") && !tb.contains("NOT"),
        "{tb}"
    );
    let r = ok(loanbook(
        &dir,
        &["gl", "reconcile", "--database", &killed, "--date", UNTIL],
    ));
    assert!(r.contains("reconciled"), "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// On PostgreSQL, two workers sharing the close's partitions give the same digest as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgresql_close_as_one_does() {
    let dir = std::env::temp_dir().join(format!("loanbook-eod-workers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let one = loanbook_store::testing::TestDatabase::postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let two = loanbook_store::testing::TestDatabase::postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (db, workers) in [(&one, "1"), (&two, "2")] {
        ok(loanbook(
            &dir,
            &[
                "sim",
                "book",
                "--loans",
                "800",
                "--seed",
                "5",
                "--as-of",
                AS_OF,
                "--database",
                &db.url,
            ],
        ));
        ok(loanbook(
            &dir,
            &[
                "eod",
                "--database",
                &db.url,
                "--until",
                UNTIL,
                "--workers",
                workers,
                "--chunk",
                "60",
            ],
        ));
    }
    assert_eq!(digest(&dir, &one.url), digest(&dir, &two.url));
    let r = ok(loanbook(
        &dir,
        &["gl", "reconcile", "--database", &two.url, "--date", UNTIL],
    ));
    assert!(r.contains("reconciled"), "{r}");
    one.drop_database().await;
    two.drop_database().await;
    let _ = std::fs::remove_dir_all(&dir);
}
