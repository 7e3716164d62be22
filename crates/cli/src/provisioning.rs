//! `loanbook provisioning show | set`: the book's provisioning table, which the close of
//! business provisions at (`docs/eod.md`, "Provisioning tables").

use std::collections::BTreeMap;

use clap::Subcommand;
use loanbook_app::RequestMeta;
use loanbook_app::provisioning::{ProvisioningView, RateRow, SetProvisioning};
use serde::de::DeserializeOwned;

use crate::service::{DatabaseArgs, app_failure, file_config, open, runtime};
use crate::{Failure, read_input};

#[derive(Subcommand)]
pub enum ProvisioningCommand {
    /// Print the book's provisioning table: its rates by asset class, the preset they came
    /// from, and each product's provisioning category.
    Show {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the book's provisioning table with a preset's rates or a table of your own, and
    /// give products their provisioning categories.
    Set {
        #[command(flatten)]
        db: DatabaseArgs,
        /// `rbi_nbfc` or `rbi_bank`.
        #[arg(
            long,
            value_name = "NAME",
            conflicts_with = "file",
            required_unless_present = "file"
        )]
        preset: Option<String>,
        /// A table of your own: a JSON array of rows `{"asset_class": "substandard",
        /// "secured": "15", "unsecured": "25"}`, optionally with a `"category"`; `-` for
        /// standard input.
        #[arg(long, value_name = "FILE")]
        file: Option<String>,
        /// Product (its code or id) → provisioning category: a JSON object.
        #[arg(long, value_name = "FILE")]
        categories: Option<String>,
        /// Show the table it would set and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the table as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: &ProvisioningCommand) -> Result<(), Failure> {
    let file_config = file_config()?;
    runtime()?.block_on(async {
        match cmd {
            ProvisioningCommand::Show { db, json } => {
                let app = open(db, &file_config).await?;
                let view = app
                    .provisioning(&app.system_principal())
                    .await
                    .map_err(app_failure)?;
                print(&view, *json)
            }
            ProvisioningCommand::Set {
                db,
                preset,
                file,
                categories,
                dry_run,
                json,
            } => {
                let cmd = SetProvisioning {
                    preset: preset.clone(),
                    rates: file.as_deref().map(read_json::<Vec<RateRow>>).transpose()?,
                    categories: categories
                        .as_deref()
                        .map(read_json::<BTreeMap<String, String>>)
                        .transpose()?
                        .unwrap_or_default(),
                };
                let meta = RequestMeta {
                    dry_run: *dry_run,
                    ..RequestMeta::default()
                };
                let app = open(db, &file_config).await?;
                let done = app
                    .set_provisioning(None, &cmd, &meta)
                    .await
                    .map_err(app_failure)?;
                match done.result() {
                    Some(view) => print(view, *json),
                    None => Err(Failure::Other(anyhow::anyhow!(
                        "the provisioning table was not set"
                    ))),
                }
            }
        }
    })
}

/// A JSON file read as `T`; what does not read is bad input, with the file named.
fn read_json<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    let text = read_input(path)?;
    serde_json::from_str(&text).map_err(|e| Failure::Invalid(vec![format!("{path}: {e}")]))
}

fn print(view: &ProvisioningView, json: bool) -> Result<(), Failure> {
    if json {
        let text = serde_json::to_string_pretty(view).map_err(|e| Failure::Other(e.into()))?;
        println!("{text}");
        return Ok(());
    }
    let set = match (&view.changed_by, &view.changed_at) {
        (Some(by), Some(at)) => format!("version {}, set by {by} at {at}", view.version),
        _ => "the default: never set".to_owned(),
    };
    let dry = if view.dry_run {
        " (dry run: not written)"
    } else {
        ""
    };
    println!("preset {}; {set}{dry}", view.preset);
    println!(
        "{:<12} {:<20} {:>11} {:>11}",
        "class", "category", "secured %", "unsecured %"
    );
    for r in &view.rates {
        println!(
            "{:<12} {:<20} {:>11} {:>11}",
            r.asset_class.name(),
            r.category.as_deref().unwrap_or("(every product)"),
            r.secured,
            r.unsecured
        );
    }
    for c in &view.categories {
        println!(
            "product {} ({}): category {}",
            c.code.as_deref().unwrap_or("?"),
            c.product_id,
            c.category
        );
    }
    Ok(())
}
