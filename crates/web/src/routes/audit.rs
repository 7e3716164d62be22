//! `GET /v1/audit`: the audit log, page by page, for auditors and admins.

use axum::Json;
use axum::extract::State;
use loanbook_app::audit::AuditQuery;
use loanbook_app::views::AuditPage;

use crate::extract::{Caller, Params};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// The hash-chained audit log, page by page.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of the audit log", body = AuditPage), Problems))]
pub(crate) async fn audit_log(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<AuditQuery>,
) -> Result<Json<AuditPage>, Problem> {
    Ok(Json(s.app.audit_log(&p, &q).await?))
}
