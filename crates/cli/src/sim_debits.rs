//! `loanbook sim debit-file`: a NACH debit presentation of the book's due demands, a simulated
//! sponsor bank's response file to it, and that response applied to the book in bulk, twice
//! (the second application must change nothing). It is how the bulk posting of a response
//! file is measured.

use std::time::Instant;

use clap::Args;
use loanbook_app::collections::responses::PresentedDebit;
use loanbook_app::{App, Principal, RequestMeta, Role};
use loanbook_domain::calendar::Date;
use loanbook_domain::collections::{FailureTable, Rail};
use loanbook_rails::debit::nach::{self, NachHeader};
use loanbook_rails::debit::{AccountType, DebitItem, PresentedItem};
use loanbook_store::{Demand, User};
use serde_json::json;

use crate::Failure;
use crate::service::{DatabaseArgs, app_failure, file_config, open, runtime};
use crate::sim::{invalid, other};

/// The most items one file carries here.
const MAX_ITEMS: usize = 200_000;

/// Days of demands a presentation gathers from the business date on.
const DAYS: u32 = 31;

#[derive(Args)]
pub struct DebitFileArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// How many due demands to present (the first found from the business date on).
    #[arg(long, default_value_t = 50_000)]
    items: usize,
    /// The share of items the bank returns (insufficient funds, account closed, no such account).
    #[arg(long, default_value_t = 0.1)]
    returned: f64,
    /// The bounce charge levied on a return whose class carries one, in rupees.
    #[arg(long, default_value_t = 590)]
    bounce_charge: i64,
    /// Where to write the presentation (`…-INP`) and response (`…-RES`) files; default: not kept.
    #[arg(long, value_name = "DIR")]
    keep: Option<std::path::PathBuf>,
}

/// The reason codes the simulated bank returns, in turn.
const RETURN_CODES: [&str; 5] = ["04", "04", "04", "01", "02"];

fn operator() -> Principal {
    Principal {
        user: User {
            id: "cli".into(),
            name: "cli".into(),
            role: "operations".into(),
            partner_id: None,
            created_at: String::new(),
        },
        role: Role::Operations,
    }
}

fn header(settlement: Date) -> NachHeader {
    NachHeader {
        user_name: "LOANBOOK FINANCE PVT LTD".into(),
        user_number: "NACH00000000013149".into(),
        user_reference: "000000000000000000".into(),
        sponsor_bank: "ICIC0TREA00".into(),
        user_account: Some("000205025290".into()),
        item_limit_minor: 9_999_999_999_999,
        settlement_date: settlement,
        narration: "LOANBOOK EMI".into(),
        product_type: nach::DEFAULT_PRODUCT_TYPE.into(),
        file_number: None,
    }
}

/// The debit of demand `n`, settled on `settlement`.
fn item(n: usize, d: &Demand, settlement: Date) -> DebitItem {
    DebitItem {
        reference: format!("COL-{n:09}-{}", d.installment),
        mandate_ref: format!("HDFC{:016}", 10_936_518 + n as u64),
        amount_minor: d.amount,
        settlement_date: settlement,
        debtor_name: "BORROWER".into(),
        debtor_account: format!("{}", 50_100_000_000u64 + n as u64),
        debtor_bank: "HDFC0002497".into(),
        account_type: AccountType::Savings,
        sec: None,
        reinitiation: false,
    }
}

pub fn run(args: &DebitFileArgs) -> Result<(), Failure> {
    if args.items == 0 || args.items > MAX_ITEMS {
        return Err(invalid(format!(
            "items: must be 1 to {MAX_ITEMS}, found {}",
            args.items
        )));
    }
    if !(0.0..=1.0).contains(&args.returned) {
        return Err(invalid(format!(
            "returned: must be a share from 0 to 1, found {}",
            args.returned
        )));
    }
    let file = file_config()?;
    runtime()?.block_on(async {
        let app = open(&args.db, &file).await?;
        simulate(&app, args).await
    })
}

/// The simulated sponsor bank's response: one item in `1 / returned` returned, with the codes
/// of [`RETURN_CODES`] in turn, the rest debited.
fn bank_response(presentation: &str, returned: f64) -> String {
    let every = if returned > 0.0 {
        (1.0 / returned).round().max(1.0) as usize
    } else {
        usize::MAX
    };
    // The item's number, from its reference `COL-{n:09}-…`.
    let index = |reference: &str| -> usize {
        reference
            .get(4..13)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    nach::respond_to(presentation, |reference| {
        let n = index(reference);
        if every != usize::MAX && n % every == every - 1 {
            (
                '0',
                RETURN_CODES[(n / every) % RETURN_CODES.len()].to_owned(),
            )
        } else {
            ('1', "00".to_owned())
        }
    })
}

async fn simulate(app: &App, args: &DebitFileArgs) -> Result<(), Failure> {
    let who = operator();
    let settlement = app.business_date().await.map_err(app_failure)?;
    let demands: Vec<Demand> = app
        .demands_from(&who, settlement, DAYS, args.items)
        .await
        .map_err(app_failure)?
        .into_iter()
        .filter(|d| d.amount > 0 && d.currency == "INR")
        .collect();
    if demands.is_empty() {
        return Err(invalid(
            "the book has no INR demands due in the month from its business date".into(),
        ));
    }
    let items: Vec<DebitItem> = demands
        .iter()
        .enumerate()
        .map(|(n, d)| item(n, d, settlement))
        .collect();
    let presentation = nach::write_presentation(&header(settlement), &items).map_err(other)?;
    let response = bank_response(&presentation, args.returned);
    if let Some(dir) = &args.keep {
        std::fs::create_dir_all(dir).map_err(other)?;
        std::fs::write(dir.join("DEBITS-INP"), &presentation).map_err(other)?;
        std::fs::write(dir.join("DEBITS-RES"), &response).map_err(other)?;
    }
    let presented: Vec<PresentedDebit> = demands
        .iter()
        .zip(&items)
        .map(|(d, i)| PresentedDebit {
            reference: i.reference.clone(),
            loan_id: d.loan_id.clone(),
            amount_minor: i.amount_minor,
            settlement_date: settlement,
            rail: Rail::Nach,
            bounce_charge_minor: args.bounce_charge * 100,
        })
        .collect();
    let keys: Vec<PresentedItem> = items.iter().map(PresentedItem::from).collect();
    let table = FailureTable::seed();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let read = nach::read_response(&response)
            .map_err(other)?
            .reconcile(&keys);
        let read_s = started.elapsed().as_secs_f64();
        let meta = RequestMeta {
            digest: loanbook_app::auth::digest(response.as_bytes()),
            ..RequestMeta::default()
        };
        let report = app
            .apply_debit_response(&who, &presented, &read, &table, &meta)
            .await
            .map_err(app_failure)?;
        let total_s = started.elapsed().as_secs_f64();
        let written = report.posting.posted;
        runs.push(json!({
            "results": report.results,
            "paid": report.paid,
            "returned": report.returned,
            "returned_by_class": report.returned_by_class,
            "bounce_charges": report.bounce_charges,
            "row_errors": report.row_errors,
            "posted": written,
            "unchanged": report.posting.unchanged,
            "held": report.posting.held,
            "refused": report.posting.refused,
            "one_by_one": report.posting.one_by_one,
            "transactions": report.posting.transactions,
            "read_ms": report.posting.read_ms,
            "decide_ms": report.posting.decide_ms,
            "write_ms": report.posting.write_ms,
            "read_seconds": read_s,
            "seconds": total_s,
            "commands_per_second": (report.paid + report.bounce_charges) as f64 / total_s,
            "first_refusals": report.posting.results.iter()
                .filter(|r| r.rule.is_some()).take(5).collect::<Vec<_>>(),
        }));
    }
    let out = json!({
        "settlement_date": settlement.to_string(),
        "items": items.len(),
        "presentation_bytes": presentation.len(),
        "first": runs[0],
        "again": runs[1],
    });
    println!("{}", serde_json::to_string_pretty(&out).map_err(other)?);
    Ok(())
}
