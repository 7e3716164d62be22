//! `/v1/loans/{id}/mandates` and `/v1/mandates/{mandate_id}`: a loan's mandates, registered,
//! moved on their lifecycle, replaced, and checked against the loan's next instalment.
//! Operations and collections write them (admin always); every reader reads them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::collections::mandates::{
    ChangeMandateStatus, MandateDetail, MandateList, MandateReplaced, MandateView, ReadinessView,
    RegisterMandate,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::outcome;
use crate::extract::{Body, Caller, DryRun, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// The routes of mandates.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_mandate, loan_mandates))
        .routes(routes!(mandate_readiness))
        .routes(routes!(mandate))
        .routes(routes!(change_mandate_status))
        .routes(routes!(replace_mandate))
}

/// Register a mandate for the loan: it starts pending registration, on the rail of its kind.
/// The account number is not kept: only its last four digits and a hash.
#[utoipa::path(post, path = "/v1/loans/{id}/mandates", tag = "mandates",
    request_body = RegisterMandate,
    params(("id" = String, Path, description = "The loan's id"), DryRun),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered, pending registration", body = MandateView),
        (status = 200, description = "A dry run: the mandate as it would be", body = MandateView),
        Problems))]
pub(crate) async fn register_mandate(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<RegisterMandate>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(
        s.app.register_mandate(&p, &id, &body.value, &m).await?,
    ))
}

/// The loan's mandates, oldest first.
#[utoipa::path(get, path = "/v1/loans/{id}/mandates", tag = "mandates",
    params(("id" = String, Path, description = "The loan's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The loan's mandates", body = MandateList), Problems))]
pub(crate) async fn loan_mandates(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<MandateList>, Problem> {
    Ok(Json(s.app.loan_mandates(&p, &id).await?))
}

/// Whether the loan's mandate (the active one, else the newest still in force) can collect its
/// next instalment on the business date: every problem, each naming the mandate's field and the
/// rule.
#[utoipa::path(get, path = "/v1/loans/{id}/mandates/readiness", tag = "mandates",
    params(("id" = String, Path, description = "The loan's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The check", body = ReadinessView), Problems))]
pub(crate) async fn mandate_readiness(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<ReadinessView>, Problem> {
    Ok(Json(s.app.mandate_readiness(&p, &id).await?))
}

/// A mandate with its history.
#[utoipa::path(get, path = "/v1/mandates/{mandate_id}", tag = "mandates",
    params(("mandate_id" = String, Path, description = "The mandate's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The mandate and its history", body = MandateDetail),
        Problems))]
pub(crate) async fn mandate(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(mandate_id): Path<String>,
) -> Result<Json<MandateDetail>, Problem> {
    Ok(Json(s.app.mandate_detail(&p, &mandate_id).await?))
}

/// Move the mandate on its lifecycle on the business date: activate or reject (with the reason)
/// one pending registration, pause an active one and resume it, revoke (with the reason) or
/// expire one in force. A move the lifecycle does not allow is refused and changes nothing.
#[utoipa::path(post, path = "/v1/mandates/{mandate_id}/status", tag = "mandates",
    request_body = ChangeMandateStatus,
    params(("mandate_id" = String, Path, description = "The mandate's id"), DryRun),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The mandate now (on a dry run, as it would be)",
            body = MandateView),
        Problems))]
pub(crate) async fn change_mandate_status(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(mandate_id): Path<String>,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<ChangeMandateStatus>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(
        s.app
            .change_mandate_status(&p, &mandate_id, &body.value, &m)
            .await?,
    ))
}

/// Change of bank account or mandate: register the replacement for the mandate's loan and
/// revoke this one (reason `replaced`) together, and announce it on `loan.mandate_changed`.
#[utoipa::path(post, path = "/v1/mandates/{mandate_id}/replacement", tag = "mandates",
    request_body = RegisterMandate,
    params(("mandate_id" = String, Path, description = "The mandate replaced"), DryRun),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Replaced: the old one revoked, the new one registered",
            body = MandateReplaced),
        (status = 200, description = "A dry run: both as they would be", body = MandateReplaced),
        Problems))]
pub(crate) async fn replace_mandate(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(mandate_id): Path<String>,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<RegisterMandate>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(
        s.app
            .replace_mandate(&p, &mandate_id, &body.value, &m)
            .await?,
    ))
}
