//! `/v1/tokens`: admins create, list and revoke API tokens. A token's secret is shown once, in
//! the answer that creates it; lists name tokens by id and prefix.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use loanbook_app::tokens::IssueToken;
use loanbook_app::views::{TokenCreated, TokenList, TokenView};

use crate::extract::{Body, Caller};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Issue a token (never under an Idempotency-Key: its secret is stored nowhere to repeat).
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = IssueToken,
    security(("bearer" = [])),
    responses((status = 201, description = "Issued, with its secret", body = TokenCreated), Problems))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    headers: HeaderMap,
    body: Body<IssueToken>,
) -> Result<Response, Problem> {
    // A token's secret is shown once and stored nowhere, so no stored answer can repeat it: a
    // retry that is unsure whether the first went through lists the tokens instead.
    if headers.contains_key("idempotency-key") {
        return Err(Problem::invalid(
            "Idempotency-Key",
            "is not accepted when creating a token: its secret is shown once and never stored; \
             list the tokens to see whether a retried request made one",
        ));
    }
    let created = s.app.create_token(&p, &body.value).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Every token.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, description = "The tokens", body = TokenList), Problems))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Caller(p): Caller,
) -> Result<Json<TokenList>, Problem> {
    Ok(Json(s.app.token_list(&p).await?))
}

/// Revoke a token: 401 for it from now on.
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "tokens",
    params(("id" = String, Path, description = "The token's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Revoked", body = TokenView), Problems))]
pub(crate) async fn revoke(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, Problem> {
    Ok(Json(s.app.revoke(&p, &id).await?))
}
