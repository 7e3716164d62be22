//! `/v1/approvals`: maker-checker. A held write is approved (carried out as the checker) or
//! rejected by a second user.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use loanbook_app::approvals::{Decide, Decided, ListApprovals, Verdict};
use loanbook_app::views::{ApprovalList, ApprovalView, Approved};

use super::outcome;
use crate::extract::{Body, Caller, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Approval requests, by status.
#[utoipa::path(get, path = "/v1/approvals", tag = "approvals", params(ListApprovals),
    security(("bearer" = [])),
    responses((status = 200, description = "The requests", body = ApprovalList), Problems))]
pub(crate) async fn approvals(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ListApprovals>,
) -> Result<Json<ApprovalList>, Problem> {
    Ok(Json(s.app.approvals(&p, &q).await?))
}

/// One approval request.
#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "The request's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The request", body = ApprovalView), Problems))]
pub(crate) async fn approval(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<ApprovalView>, Problem> {
    Ok(Json(s.app.approval(&p, &id).await?))
}

/// Approve a held request: it is carried out now, as the checker.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "approvals",
    params(("id" = String, Path, description = "The request's id")),
    security(("bearer" = [])),
    responses((status = 201, description = "Carried out: the held command's result", body = Approved), Problems))]
pub(crate) async fn approve(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    decide(&s, &p, &id, Verdict::Approve, &headers, &body).await
}

/// Reject a held request: nothing is written.
#[utoipa::path(post, path = "/v1/approvals/{id}/reject", tag = "approvals",
    params(("id" = String, Path, description = "The request's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Rejected", body = ApprovalView), Problems))]
pub(crate) async fn reject(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    decide(&s, &p, &id, Verdict::Reject, &headers, &body).await
}

/// Decide the request named in the body.
#[utoipa::path(post, path = "/v1/approvals", tag = "approvals", request_body = Decide,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Approved and carried out", body = Approved),
        (status = 200, description = "Rejected", body = ApprovalView),
        Problems))]
pub(crate) async fn decide_by_body(
    State(s): State<AppState>,
    Caller(p): Caller,
    headers: HeaderMap,
    body: Body<Decide>,
) -> Result<Response, Problem> {
    let d = body.value;
    decide_with(&s, &p, &d.id, d.decision, &headers, body.digest).await
}

async fn decide(
    s: &AppState,
    p: &loanbook_app::Principal,
    id: &str,
    verdict: Verdict,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Problem> {
    decide_with(s, p, id, verdict, headers, loanbook_app::digest(body)).await
}

async fn decide_with(
    s: &AppState,
    p: &loanbook_app::Principal,
    id: &str,
    verdict: Verdict,
    headers: &HeaderMap,
    digest: String,
) -> Result<Response, Problem> {
    // Both forms of a decision are one request target, so one key covers either.
    let word = match verdict {
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
    };
    let m = meta(
        headers,
        &format!("/v1/approvals/{id}/{word}"),
        digest,
        false,
    )?;
    Ok(match s.app.decide(p, id, verdict, &m).await? {
        Decided::Approved(o) => outcome(*o),
        Decided::Rejected(o) => outcome(*o),
    })
}
