//! The service commands: `serve`, `admin init`, `token create|list|revoke`, `audit verify`.

use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use loanbook_app::tokens::{Lifetime, TokenRequest};
use loanbook_app::{App, Role};
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
    /// Check the audit log's hash chain and name the first broken record.
    Verify {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// `loanbook.toml`, all optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database: Option<String>,
    listen: Option<String>,
    rate_limit: Option<u32>,
    auth_failure_limit: Option<u32>,
}

fn file_config() -> Result<FileConfig, Failure> {
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

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?)
}

async fn open(db: &DatabaseArgs, file: &FileConfig) -> Result<App, Failure> {
    let url = db
        .database
        .clone()
        .or_else(|| file.database.clone())
        .unwrap_or_else(|| "sqlite://loanbook.db".to_owned());
    let store = loanbook_store::connect(&url)
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("opening {url}: {e}")))?;
    App::new(store, BOOK)
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))
}

fn app_failure(e: loanbook_app::AppError) -> Failure {
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
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOANBOOK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    runtime()?.block_on(async move {
        let app = open(&args.db, &file).await?;
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
        let router = loanbook_web::router(app, config);
        loanbook_web::serve(listener, router, shutdown())
            .await
            .context("serving")?;
        let _ = stop_tx.send(true);
        let _ = relay.await;
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
    let AuditCommand::Verify { db } = cmd;
    let file = file_config()?;
    runtime()?.block_on(async {
        let app = open(db, &file).await?;
        match app
            .verify_audit()
            .await
            .map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))?
        {
            Ok(n) => {
                println!("audit chain intact: {n} records");
                Ok(())
            }
            Err(b) => Err(Failure::Other(anyhow::anyhow!("{b}"))),
        }
    })
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
                let v = app.set_business_date(None, to).await.map_err(app_failure)?;
                println!("{}", v["business_date"].as_str().unwrap_or_default());
            }
        }
        Ok(())
    })
}
