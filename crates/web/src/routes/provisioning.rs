//! `/v1/provisioning`: the book's provisioning table, which the close of business provisions
//! at. The ledger's readers see it; an admin proposes a replacement, which a second admin
//! approves.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::RequestMeta;
use loanbook_app::provisioning::{ProvisioningView, SetProvisioning};
use loanbook_app::views::HeldView;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::outcome;
use crate::extract::{Body, Caller, DryRun, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// The routes of the provisioning table.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(provisioning, set_provisioning))
}

/// The book's provisioning table: its rates by asset class (on the secured and the unsecured
/// part, for every product or for a provisioning category), the preset they came from, and each
/// product's category. A book that never set one provisions at the `rbi_nbfc` preset.
#[utoipa::path(get, path = "/v1/provisioning", tag = "eod", security(("bearer" = [])),
    responses(
        (status = 200, description = "The provisioning table", body = ProvisioningView),
        Problems))]
pub(crate) async fn provisioning(
    State(s): State<AppState>,
    Caller(p): Caller,
) -> Result<Json<ProvisioningView>, Problem> {
    Ok(Json(s.app.provisioning(&p).await?))
}

/// Propose replacing the book's provisioning table (admin only): with a preset's rates or a
/// whole table of the lender's own, and each product's provisioning category. The replacement
/// is checked in full and held for a second admin's approval (`/v1/approvals`); approved, it
/// is written and the next close provisions at it. `?dry_run=true` answers with the table as
/// it would be and holds nothing.
#[utoipa::path(put, path = "/v1/provisioning", tag = "eod", request_body = SetProvisioning,
    params(DryRun), security(("bearer" = [])),
    responses(
        (status = 202, description = "Held for a second admin's approval", body = HeldView),
        (status = 200, description = "Dry run: the table as it would be",
            body = ProvisioningView),
        Problems))]
pub(crate) async fn set_provisioning(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<SetProvisioning>,
) -> Result<Response, Problem> {
    let m = RequestMeta {
        target: format!("PUT {}", uri.path()),
        ..meta(&headers, uri.path(), body.digest, q.dry_run)?
    };
    Ok(outcome(
        s.app.set_provisioning(Some(&p), &body.value, &m).await?,
    ))
}
