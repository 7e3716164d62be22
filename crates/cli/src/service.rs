//! The service commands: `serve`, `admin init`, `token create|list|revoke`,
//! `audit verify|checkpoint`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use loanbook_app::tokens::{Lifetime, TokenRequest};
use loanbook_app::{App, Role};
use loanbook_store::{AuditKey, Checkpoint, OpenOptions};
use loanbook_web::WebConfig;
use serde::Deserialize;

use crate::Failure;

/// The book every loan is in until books are managed through the API.
const BOOK: &str = "main";

/// Where the database is: `--database`, else `LOANBOOK_DATABASE`, else `database` in
/// `loanbook.toml`, else `sqlite://loanbook.db` in the current folder.
#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "LOANBOOK_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// The audit chain's key (64 hex digits), else `audit_key` in loanbook.toml, else the key
    /// file beside the database (`loanbook.audit-key` for loanbook.db).
    #[arg(
        long,
        env = "LOANBOOK_AUDIT_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    audit_key: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "LOANBOOK_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Requests per second allowed to one API token.
    #[arg(long, env = "LOANBOOK_RATE_LIMIT", value_name = "N")]
    rate_limit: Option<u32>,
    /// Failed authentications per second allowed to one client address.
    #[arg(long, env = "LOANBOOK_AUTH_FAILURE_LIMIT", value_name = "N")]
    auth_failure_limit: Option<u32>,
    /// Close business days every day at this time (HH:MM, UTC): every business day up to the
    /// clock's date. Without it the close runs only when asked (`loanbook eod`, `POST /v1/eod`).
    #[arg(long, env = "LOANBOOK_EOD_AT", value_name = "HH:MM")]
    eod_at: Option<String>,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create the first admin user and print its API token (only on a database with no users).
    Init {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The admin's user name.
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a user (or reuse one with that role) and print a new API token for it, once.
    Create {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long)]
        user: String,
        /// admin, credit, operations, collections, auditor or partner.
        #[arg(long)]
        role: String,
        /// For the partner role: the co-lending partner id whose loans it may read.
        #[arg(long)]
        partner: Option<String>,
        /// How long the token is valid: 90d, 12h, 30m, or none (never expires).
        #[arg(long, default_value = "none", value_name = "DURATION")]
        expires: String,
    },
    /// List the tokens: id, prefix, user, role, created, expires, revoked (never the secret).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke a token by its id: it gets 401 at once, in every running server.
    Revoke {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

#[derive(Subcommand)]
pub enum BusinessDateCommand {
    /// Print the book's business date.
    Show {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Move the book's business date forward to DATE (YYYY-MM-DD).
    Set {
        #[command(flatten)]
        db: DatabaseArgs,
        date: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the audit log at both levels: every stream's chain and head (hashes, events, terms;
    /// keyed), then every checkpoint and the heads it covered; name the first broken record.
    /// Reads only: works on a read-only copy. Exit 0 intact, 1 broken, 2 usage.
    Verify {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Also check that the chain still holds this checkpoint (from `audit checkpoint`).
        #[arg(long, value_name = "SEQ:HASH")]
        checkpoint: Option<String>,
    },
    /// Write a checkpoint over every stream's head (stored with those heads, an outbox message
    /// on `audit.checkpoint` and an audit record) and print it as SEQ:HASH, to keep outside the
    /// database.
    Checkpoint {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// `loanbook.toml`, all optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    database: Option<String>,
    listen: Option<String>,
    rate_limit: Option<u32>,
    auth_failure_limit: Option<u32>,
    audit_key: Option<String>,
    eod_at: Option<String>,
}

pub(crate) fn file_config() -> Result<FileConfig, Failure> {
    match std::fs::read_to_string("loanbook.toml") {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| Failure::Invalid(vec![format!("loanbook.toml: {e}")]))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(Failure::Invalid(vec![format!(
            "cannot read loanbook.toml: {e}"
        )])),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?)
}

fn database_url(db: &DatabaseArgs, file: &FileConfig) -> String {
    db.database
        .clone()
        .or_else(|| file.database.clone())
        .unwrap_or_else(|| "sqlite://loanbook.db".to_owned())
}

/// Where the key file of a database is: beside a SQLite file (`books.db` → `books.audit-key`),
/// else `loanbook.audit-key` in the current folder.
fn key_file(url: &str) -> PathBuf {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or_default())
        .filter(|p| !p.is_empty() && !p.contains(":memory:"));
    match path {
        Some(p) => {
            let p = Path::new(p);
            let stem = p
                .file_stem()
                .map_or("loanbook".into(), |s| s.to_string_lossy().into_owned());
            p.with_file_name(format!("{stem}.audit-key"))
        }
        None => PathBuf::from("loanbook.audit-key"),
    }
}

/// The audit key: `--audit-key` / `LOANBOOK_AUDIT_KEY`, else `audit_key` in loanbook.toml,
/// else the key file beside the database, if there is one.
fn audit_key(db: &DatabaseArgs, file: &FileConfig, url: &str) -> Result<Option<AuditKey>, Failure> {
    let parse = |text: &str, from: &str| {
        AuditKey::from_hex(text).map_err(|e| Failure::Invalid(vec![format!("{from}: {e}")]))
    };
    if let Some(k) = &db.audit_key {
        return parse(k, "--audit-key / LOANBOOK_AUDIT_KEY").map(Some);
    }
    if let Some(k) = &file.audit_key {
        return parse(k, "audit_key in loanbook.toml").map(Some);
    }
    let path = key_file(url);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Invalid(vec![format!(
            "cannot read the audit key file {}: {e}",
            path.display()
        )])),
    }
}

/// Create a new key in the key file of `url` (readable by its owner only) and return it.
fn create_key_file(url: &str) -> Result<(AuditKey, PathBuf), Failure> {
    use std::io::Write as _;
    let path = key_file(url);
    let key = AuditKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(&path)
        .with_context(|| format!("creating the audit key file {}", path.display()))?;
    writeln!(f, "{}", key.to_hex())
        .with_context(|| format!("writing the audit key file {}", path.display()))?;
    Ok((key, path))
}

fn key_advice(path: &Path) {
    eprintln!(
        "Created the audit key in {} (readable by you only). Keep a copy away from the \
         database (a secret store): with it, `loanbook audit verify` proves the audit log \
         unchanged; without it nobody can reseal an edited log. Give it to the server and the \
         CLI as LOANBOOK_AUDIT_KEY, `audit_key` in loanbook.toml, --audit-key, or leave the file \
         where it is.",
        path.display()
    );
}

async fn open_store(
    url: &str,
    key: Option<AuditKey>,
    read_only: bool,
) -> Result<Arc<dyn loanbook_store::Store>, Failure> {
    let options = OpenOptions {
        audit_key: key,
        read_only,
    };
    loanbook_store::connect_with(url, &options)
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("opening {url}: {e}")))
}

pub(crate) async fn open(db: &DatabaseArgs, file: &FileConfig) -> Result<App, Failure> {
    let url = database_url(db, file);
    let key = audit_key(db, file, &url)?;
    let store = open_store(&url, key, false).await?;
    App::new(store, BOOK, std::sync::Arc::new(loanbook_app::SystemClock))
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))
}

/// For `serve` and `admin init`: the configured key, or, when the chain is not keyed yet, a new
/// one written to the key file beside the database.
async fn key_or_create(db: &DatabaseArgs, file: &FileConfig) -> Result<AuditKey, Failure> {
    let url = database_url(db, file);
    if let Some(k) = audit_key(db, file, &url)? {
        return Ok(k);
    }
    let store = open_store(&url, None, false).await?;
    let keyed = store
        .audit_keyed()
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    if keyed {
        return Err(Failure::Invalid(vec![
            "the audit chain of this database is keyed: give its key with LOANBOOK_AUDIT_KEY, audit_key in loanbook.toml or --audit-key".into(),
        ]));
    }
    let (key, path) = create_key_file(&url)?;
    key_advice(&path);
    Ok(key)
}

pub(crate) fn app_failure(e: loanbook_app::AppError) -> Failure {
    match e {
        loanbook_app::AppError::Invalid(_) | loanbook_app::AppError::Conflict(_) => {
            Failure::Invalid(vec![e.to_string()])
        }
        e => Failure::Other(anyhow::anyhow!("{e}")),
    }
}

pub fn serve(args: &ServeArgs) -> Result<(), Failure> {
    let file = file_config()?;
    let listen = args
        .listen
        .clone()
        .or_else(|| file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let config = WebConfig {
        rate_limit: args
            .rate_limit
            .or(file.rate_limit)
            .unwrap_or(WebConfig::default().rate_limit),
        auth_failure_limit: args
            .auth_failure_limit
            .or(file.auth_failure_limit)
            .unwrap_or(WebConfig::default().auth_failure_limit),
        ..WebConfig::default()
    };
    let eod_at = match args.eod_at.as_deref().or(file.eod_at.as_deref()) {
        Some(text) => Some(
            loanbook_app::eod::schedule::parse_time_of_day(text)
                .map_err(|e| Failure::Invalid(vec![format!("--eod-at / eod_at: {e}")]))?,
        ),
        None => None,
    };
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOANBOOK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    runtime()?.block_on(async move {
        let key = key_or_create(&args.db, &file).await?;
        let url = database_url(&args.db, &file);
        let store = open_store(&url, Some(key), false).await?;
        let app = App::new(store, BOOK, std::sync::Arc::new(loanbook_app::SystemClock))
            .await
            .map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))?;
        if app
            .store()
            .user_count()
            .await
            .map_err(|e| Failure::Other(e.into()))?
            == 0
        {
            let token = app.admin_init("admin").await.map_err(app_failure)?;
            println!("No users yet: created the user `admin` with the role admin.");
            println!("Its API token, shown only now (keep it safe): {token}");
        }
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr().context("local address")?;
        println!("Loanbook is serving on http://{addr}");
        tracing::info!(%addr, backend = ?app.store().backend(), "serving");
        let app = Arc::new(app);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let relay = tokio::spawn(loanbook_web::relay(app.clone(), async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|stop| *stop).await;
        }));
        let scheduled = eod_at.map(|at| {
            let mut rx = stop_tx.subscribe();
            tokio::spawn(loanbook_app::eod::schedule::run_daily(
                app.clone(),
                at,
                async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                },
            ))
        });
        let router = loanbook_web::router(app, config);
        loanbook_web::serve(listener, router, shutdown())
            .await
            .context("serving")?;
        let _ = stop_tx.send(true);
        let _ = relay.await;
        if let Some(s) = scheduled {
            let _ = s.await;
        }
        tracing::info!("stopped");
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub fn admin(cmd: &AdminCommand) -> Result<(), Failure> {
    let AdminCommand::Init { db, name } = cmd;
    let file = file_config()?;
    runtime()?.block_on(async {
        key_or_create(db, &file).await?;
        let app = open(db, &file).await?;
        let token = app.admin_init(name).await.map_err(app_failure)?;
        println!("{token}");
        Ok(())
    })
}

pub fn token(cmd: &TokenCommand) -> Result<(), Failure> {
    let file = file_config()?;
    match cmd {
        TokenCommand::Create {
            db,
            user,
            role,
            partner,
            expires,
        } => {
            let role = Role::parse(role).ok_or_else(|| {
                Failure::Invalid(vec![format!(
                    "--role: `{role}` is not one of admin, credit, operations, collections, auditor, partner"
                )])
            })?;
            let lifetime =
                Lifetime::parse(expires).map_err(|e| Failure::Invalid(vec![format!("--{e}")]))?;
            runtime()?.block_on(async {
                let app = open(db, &file).await?;
                let req = TokenRequest {
                    user,
                    role,
                    partner: partner.as_deref(),
                    lifetime,
                };
                let issued = app.issue_token(None, &req).await.map_err(app_failure)?;
                eprintln!(
                    "token {} for {} ({}), expires {}",
                    issued.record.id,
                    issued.record.user.name,
                    issued.record.user.role,
                    issued.record.expires_at.as_deref().unwrap_or("never")
                );
                println!("{}", issued.token);
                Ok(())
            })
        }
        TokenCommand::List { db } => runtime()?.block_on(async {
            let app = open(db, &file).await?;
            let tokens = app.tokens(None).await.map_err(app_failure)?;
            println!(
                "{:<36}  {:<11}  {:<16}  {:<11}  {:<27}  {:<27}  REVOKED",
                "ID", "PREFIX", "USER", "ROLE", "CREATED", "EXPIRES"
            );
            for t in tokens {
                println!(
                    "{:<36}  {:<11}  {:<16}  {:<11}  {:<27}  {:<27}  {}",
                    t.id,
                    t.prefix.as_deref().unwrap_or("-"),
                    t.user.name,
                    t.user.role,
                    t.created_at,
                    t.expires_at.as_deref().unwrap_or("never"),
                    t.revoked_at.as_deref().unwrap_or("-"),
                );
            }
            Ok(())
        }),
        TokenCommand::Revoke { db, id } => runtime()?.block_on(async {
            let app = open(db, &file).await?;
            let t = app.revoke_token(None, id).await.map_err(app_failure)?;
            println!(
                "token {} of {} revoked at {}",
                t.id,
                t.user.name,
                t.revoked_at.as_deref().unwrap_or("-")
            );
            Ok(())
        }),
    }
}

pub fn audit(cmd: &AuditCommand) -> Result<(), Failure> {
    let file = file_config()?;
    match cmd {
        AuditCommand::Verify { db, checkpoint } => {
            let checkpoint = checkpoint
                .as_deref()
                .map(|c| {
                    c.parse::<Checkpoint>()
                        .map_err(|e| Failure::Invalid(vec![format!("--checkpoint: {e}")]))
                })
                .transpose()?;
            let url = database_url(db, &file);
            let key = audit_key(db, &file, &url)?;
            runtime()?.block_on(async {
                // Read-only: no migrations, no book created, nothing written.
                let store = open_store(&url, key.clone(), true).await?;
                let outcome = store
                    .verify_audit(checkpoint.as_ref())
                    .await
                    .map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))?;
                match outcome {
                    Err(k) => Err(Failure::Invalid(vec![format!(
                        "{k} (--audit-key, LOANBOOK_AUDIT_KEY or audit_key in loanbook.toml)"
                    )])),
                    Ok(Err(b)) => Err(Failure::Other(anyhow::anyhow!("{b}"))),
                    Ok(Ok(v)) => {
                        println!(
                            "audit log intact: {} records in {} streams, each chained to its head",
                            v.records, v.streams
                        );
                        match &v.last_checkpoint {
                            Some(c) => println!(
                                "{} checkpoints hold, the latest {c}",
                                v.checkpoints
                            ),
                            None => println!("no checkpoint written yet"),
                        }
                        if v.unkeyed > 0 {
                            let how = if key.is_some() {
                                "only the keyed records after them and checkpoints protect them"
                            } else {
                                "no key was given, so anyone with database access could have resealed them"
                            };
                            println!("note: {} records are not keyed: {how}", v.unkeyed);
                        }
                        if let Some(c) = &checkpoint {
                            println!("checkpoint {c} holds");
                        }
                        Ok(())
                    }
                }
            })
        }
        AuditCommand::Checkpoint { db } => runtime()?.block_on(async {
            let app = open(db, &file).await?;
            let c = app.audit_checkpoint(None).await.map_err(app_failure)?;
            println!("{}:{}", c.seq, c.hash);
            eprintln!(
                "checkpoint of {} streams ({} records) at {}, also on the outbox topic audit.checkpoint: keep SEQ:HASH outside the database and check it with `loanbook audit verify --checkpoint`",
                c.streams, c.count, c.at
            );
            Ok(())
        }),
    }
}

pub fn business_date(cmd: &BusinessDateCommand) -> Result<(), Failure> {
    let file = file_config()?;
    runtime()?.block_on(async {
        match cmd {
            BusinessDateCommand::Show { db } => {
                let app = open(db, &file).await?;
                let d = app.business_date().await.map_err(app_failure)?;
                println!("{d}");
            }
            BusinessDateCommand::Set { db, date } => {
                let to = loanbook_domain::calendar::parse_date(date)
                    .map_err(|rule| Failure::Invalid(vec![format!("DATE: {rule}")]))?;
                let app = open(db, &file).await?;
                let v = app
                    .set_business_date(None, &loanbook_app::SetBusinessDate { date: to })
                    .await
                    .map_err(app_failure)?;
                println!("{}", v.business_date);
            }
        }
        Ok(())
    })
}
