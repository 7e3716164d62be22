//! `POST /v1/loans/{id}/COMMAND`: one route per loan command, each with its own body type.
//! A body may repeat the event's `type`, which the route sets.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::servicing::LoanCommand;
use loanbook_app::servicing::commands::{
    ChangeRate, Disburse, Foreclose, IdentifyLoss, LevyCharge, PostPayment, Prepay, Recover,
    Restructure, ReversePayment, Settle, Waive, WriteOff,
};
use loanbook_app::views::{CommandResult, HeldView};
use serde_json::Value;

use super::outcome;
use crate::extract::{Caller, DryRun, Params, meta, typed};
use crate::problem::Problems;
use crate::{AppState, Problem, input};

/// The body as the command's type, once its `type` (if given) is the route's.
fn command_body<T: serde::de::DeserializeOwned>(bytes: &[u8], kind: &str) -> Result<T, Problem> {
    let mut v = input::parse_json(bytes)?;
    if let Some(o) = v.as_object_mut() {
        match o.remove("type") {
            None => {}
            Some(Value::String(t)) if t == kind => {}
            Some(_) => {
                return Err(Problem::invalid(
                    "type",
                    &format!("is set by the endpoint: `{kind}`"),
                ));
            }
        }
    }
    typed(v)
}

/// A loan command's request, typed.
struct Request {
    id: String,
    uri: Uri,
    headers: HeaderMap,
    dry_run: bool,
    bytes: axum::body::Bytes,
}

async fn run(
    s: AppState,
    p: loanbook_app::Principal,
    r: Request,
    cmd: LoanCommand,
) -> Result<Response, Problem> {
    let (id, dry_run) = (r.id, r.dry_run);
    let m = meta(
        &r.headers,
        r.uri.path(),
        loanbook_app::digest(&r.bytes),
        dry_run,
    )?;
    if matches!(cmd, LoanCommand::PostPayment(_)) && m.idempotency_key.is_none() && !dry_run {
        return Err(Problem::invalid(
            "Idempotency-Key",
            "header is required to post a payment",
        ));
    }
    Ok(outcome(s.app.loan_command(&p, &id, &cmd, &m).await?))
}

macro_rules! command_route {
    ($fn:ident, $segment:literal, $ty:ident, $kind:literal, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = concat!("/v1/loans/{id}/", $segment), tag = "commands",
            request_body = $ty,
            params(("id" = String, Path, description = "The loan's id"), DryRun,
                   ("Idempotency-Key" = Option<String>, Header, description = "Answers a retry with the first answer")),
            security(("bearer" = [])),
            responses(
                (status = 201, description = "Appended", body = CommandResult),
                (status = 200, description = "Dry run: the resulting state, nothing written", body = CommandResult),
                (status = 202, description = "Held for approval", body = HeldView),
                Problems))]
        pub(crate) async fn $fn(
            State(s): State<AppState>,
            Caller(p): Caller,
            Path(id): Path<String>,
            Params(q): Params<DryRun>,
            uri: Uri,
            headers: HeaderMap,
            bytes: axum::body::Bytes,
        ) -> Result<Response, Problem> {
            let cmd: $ty = command_body(&bytes, $kind)?;
            let r = Request { id, uri, headers, dry_run: q.dry_run, bytes };
            run(s, p, r, LoanCommand::$ty(cmd)).await
        }
    };
}

command_route!(
    disbursements,
    "disbursements",
    Disburse,
    "disbursement",
    "Disburse: the first disbursement or a later tranche."
);
command_route!(
    payments,
    "payments",
    PostPayment,
    "payment",
    "Post a payment (an Idempotency-Key is required)."
);
command_route!(
    reversals,
    "reversals",
    ReversePayment,
    "payment_reversal",
    "Reverse a payment by its reference."
);
command_route!(charges, "charges", LevyCharge, "charge", "Levy a charge.");
command_route!(
    waivers,
    "waivers",
    Waive,
    "waiver",
    "Waive charges or interest due."
);
command_route!(
    prepayments,
    "prepayments",
    Prepay,
    "prepayment",
    "Prepay principal."
);
command_route!(
    rate_changes,
    "rate-changes",
    ChangeRate,
    "rate_change",
    "Change the annual rate."
);
command_route!(
    restructures,
    "restructures",
    Restructure,
    "restructure",
    "Restructure the rest of the schedule."
);
command_route!(
    write_offs,
    "write-offs",
    WriteOff,
    "write_off",
    "Write the loan off."
);
command_route!(
    loss_identifications,
    "loss-identifications",
    IdentifyLoss,
    "loss_identified",
    "Identify the loan as a loss asset."
);
command_route!(
    recoveries,
    "recoveries",
    Recover,
    "recovery",
    "Recover money on a written-off loan."
);
command_route!(
    settlements,
    "settlements",
    Settle,
    "settlement",
    "Settle the loan."
);
command_route!(
    foreclosures,
    "foreclosures",
    Foreclose,
    "foreclosure",
    "Foreclose the loan."
);
