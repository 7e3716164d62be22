//! `/v1/parties`: borrowers, guarantors and partners.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::parties::{CreateParty, ListParties};
use loanbook_app::views::{PartyPage, PartyView};

use super::outcome;
use crate::extract::{Body, Caller, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Record a party.
#[utoipa::path(post, path = "/v1/parties", tag = "parties", request_body = CreateParty,
    security(("bearer" = [])),
    responses((status = 201, description = "Recorded", body = PartyView), Problems))]
pub(crate) async fn create_party(
    State(s): State<AppState>,
    Caller(p): Caller,
    uri: Uri,
    headers: HeaderMap,
    body: Body<CreateParty>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, false)?;
    Ok(outcome(s.app.create_party(&p, &body.value, &m).await?))
}

/// A party (identifiers masked for roles without a need).
#[utoipa::path(get, path = "/v1/parties/{id}", tag = "parties",
    params(("id" = String, Path, description = "The party's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The party", body = PartyView), Problems))]
pub(crate) async fn party(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<PartyView>, Problem> {
    Ok(Json(s.app.party(&p, &id).await?))
}

/// Parties by kind, page by page.
#[utoipa::path(get, path = "/v1/parties", tag = "parties", params(ListParties),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of parties", body = PartyPage), Problems))]
pub(crate) async fn parties(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ListParties>,
) -> Result<Json<PartyPage>, Problem> {
    Ok(Json(s.app.parties(&p, &q).await?))
}
