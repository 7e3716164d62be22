//! `loanbook application`: read applications from the database, as an auditor reads them
//! (personal data masked), and write a sanctioned application's KFS to a file. Every change to an
//! application goes through the API, where it is authorised per user.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use loanbook_app::origination::ListApplications;
use loanbook_app::origination::sanction::{KfsDocument, KfsFormat, KfsQuery};

use crate::Failure;
use crate::service::{DatabaseArgs, app_failure, file_config, open, runtime};

#[derive(Subcommand)]
pub enum ApplicationCommand {
    /// List applications, oldest first: id, number, status, queue, loan.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Only those in this status (draft, submitted, referred, approved, …).
        #[arg(long)]
        status: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Print an application as JSON; with --events, its events too.
    Show {
        #[command(flatten)]
        db: DatabaseArgs,
        id: String,
        #[arg(long)]
        events: bool,
    },
    /// Write a sanctioned application's Key Facts Statement: json, html or pdf.
    Kfs {
        #[command(flatten)]
        db: DatabaseArgs,
        id: String,
        #[arg(long, default_value = "json", value_parser = ["json", "html", "pdf"])]
        format: String,
        /// The file to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(cmd: &ApplicationCommand) -> Result<(), Failure> {
    let file = file_config()?;
    runtime()?.block_on(async {
        match cmd {
            ApplicationCommand::List { db, status, limit } => {
                let app = open(db, &file).await?;
                let q = ListApplications {
                    status: status.clone(),
                    cursor: None,
                    limit: Some(*limit),
                };
                let page = app
                    .applications(&app.system_principal(), &q)
                    .await
                    .map_err(app_failure)?;
                for a in page.items {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        a.id,
                        a.number,
                        a.status,
                        a.queue.as_deref().unwrap_or("-"),
                        a.loan_id.as_deref().unwrap_or("-")
                    );
                }
            }
            ApplicationCommand::Show { db, id, events } => {
                let app = open(db, &file).await?;
                let p = app.system_principal();
                let view = app.application(&p, id).await.map_err(app_failure)?;
                let mut doc = serde_json::to_value(&view).context("the application as JSON")?;
                if *events {
                    let list = app.application_events(&p, id).await.map_err(app_failure)?;
                    doc["events"] = serde_json::to_value(list).context("its events as JSON")?;
                }
                println!("{}", serde_json::to_string_pretty(&doc).context("JSON")?);
            }
            ApplicationCommand::Kfs {
                db,
                id,
                format,
                out,
            } => {
                let app = open(db, &file).await?;
                let format = match format.as_str() {
                    "html" => KfsFormat::Html,
                    "pdf" => KfsFormat::Pdf,
                    _ => KfsFormat::Json,
                };
                let q = KfsQuery {
                    format: Some(format),
                };
                let bytes = match app
                    .kfs(&app.system_principal(), id, &q)
                    .await
                    .map_err(app_failure)?
                {
                    KfsDocument::Json(k) => {
                        serde_json::to_vec_pretty(&k).context("the KFS as JSON")?
                    }
                    KfsDocument::Html(h) => h.into_bytes(),
                    KfsDocument::Pdf(b) => b,
                };
                match out {
                    Some(path) => std::fs::write(path, &bytes)
                        .with_context(|| format!("writing {}", path.display()))?,
                    None => std::io::stdout()
                        .write_all(&bytes)
                        .context("writing the KFS")?,
                }
            }
        }
        Ok(())
    })
}
