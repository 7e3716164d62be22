//! `/v1/eod`: the close of business (admin) and its history; `/v1/gl`: the general ledger it
//! posts, its reconciliation to the loans, a loan's journal, a day's digest.

use axum::Json;
use axum::extract::{Path, State};
use loanbook_app::eod::{CloseOptions, DayClosed, EodRunsView};
use loanbook_app::gl::{DigestView, JournalView, ReconciliationView, TrialBalanceView};
use loanbook_domain::calendar::Date;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::extract::{Body, Caller, Params};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Which days to close.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CloseRequest {
    /// Close every business day up to and including this one (default: the current business
    /// date, or the close that was interrupted).
    #[serde(
        default,
        deserialize_with = "loanbook_domain::calendar::strict_date::option"
    )]
    #[schema(value_type = Option<String>, format = Date, example = "2024-03-31")]
    pub until: Option<Date>,
}

/// A closed day to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OnDate {
    /// The end of this day.
    #[serde(deserialize_with = "loanbook_domain::calendar::strict_date::deserialize")]
    #[param(value_type = String, format = Date)]
    pub date: Date,
}

/// How many runs to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// At most this many (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Close business days (admin): every loan through the day-end, the GL posted, the business date
/// moved on. Commands arriving during a close take the new date.
#[utoipa::path(post, path = "/v1/eod", tag = "eod", request_body = CloseRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "The days closed", body = Vec<DayClosed>), Problems))]
pub(crate) async fn close(
    State(s): State<AppState>,
    Caller(p): Caller,
    body: Body<CloseRequest>,
) -> Result<Json<Vec<DayClosed>>, Problem> {
    let options = CloseOptions {
        until: body.value.until,
        ..CloseOptions::default()
    };
    let sink = loanbook_app::eod::Quiet;
    Ok(Json(s.app.close_business(Some(&p), &options, &sink).await?))
}

/// The book's closes, newest first, with each step's figures.
#[utoipa::path(get, path = "/v1/eod/runs", tag = "eod", params(RunsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The closes", body = EodRunsView), Problems))]
pub(crate) async fn runs(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<RunsQuery>,
) -> Result<Json<EodRunsView>, Problem> {
    Ok(Json(s.app.eod_runs(&p, q.limit.unwrap_or(50)).await?))
}

/// One hash over every loan's state and the GL at the end of a day.
#[utoipa::path(get, path = "/v1/eod/digest", tag = "eod", params(OnDate),
    security(("bearer" = [])),
    responses((status = 200, description = "The digest", body = DigestView), Problems))]
pub(crate) async fn digest(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<OnDate>,
) -> Result<Json<DigestView>, Problem> {
    Ok(Json(s.app.eod_digest(&p, q.date).await?))
}

/// Debits and credits per account to the end of a day.
#[utoipa::path(get, path = "/v1/gl/trial-balance", tag = "gl", params(OnDate),
    security(("bearer" = [])),
    responses((status = 200, description = "The trial balance", body = TrialBalanceView), Problems))]
pub(crate) async fn trial_balance(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<OnDate>,
) -> Result<Json<TrialBalanceView>, Problem> {
    Ok(Json(s.app.trial_balance(&p, q.date).await?))
}

/// The GL's control accounts against the loans' balances at the end of a day, by product and
/// partner, and per loan.
#[utoipa::path(get, path = "/v1/gl/reconciliation", tag = "gl", params(OnDate),
    security(("bearer" = [])),
    responses((status = 200, description = "The reconciliation", body = ReconciliationView), Problems))]
pub(crate) async fn reconciliation(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<OnDate>,
) -> Result<Json<ReconciliationView>, Problem> {
    Ok(Json(s.app.reconcile(&p, q.date).await?))
}

/// A loan's journal lines in posting order.
#[utoipa::path(get, path = "/v1/loans/{id}/journal", tag = "gl",
    params(("id" = String, Path, description = "The loan's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The journal", body = JournalView), Problems))]
pub(crate) async fn journal(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<JournalView>, Problem> {
    Ok(Json(s.app.journal_of(&p, &id).await?))
}
