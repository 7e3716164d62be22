//! `/v1/tokens`: admins create, list and revoke API tokens. A token's secret is shown once, in
//! the answer that creates it; lists name tokens by id and prefix.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use loanbook_app::Role;
use loanbook_app::tokens::{Lifetime, TokenRequest, token_json};
use serde_json::{Value, json};

use crate::{AppState, Problem, body_json, principal};

fn text<'a>(v: &'a Value, name: &str) -> Result<Option<&'a str>, Problem> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Problem::invalid(name, "must be a string")),
    }
}

/// `POST /v1/tokens` `{"user", "role", "partner"?, "expires"?: "90d" | "12h" | "30m" | "none"}`.
pub(crate) async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    // A token's secret is shown once and stored nowhere, so no stored answer can repeat it: a
    // retry that is unsure whether the first went through lists the tokens instead.
    if headers.contains_key("idempotency-key") {
        return Err(Problem::invalid(
            "Idempotency-Key",
            "is not accepted when creating a token: its secret is shown once and never stored; \
             list the tokens to see whether a retried request made one",
        ));
    }
    let v = body_json(&body)?;
    if let Some(o) = v.as_object() {
        if let Some(k) = o
            .keys()
            .find(|k| !matches!(k.as_str(), "user" | "role" | "partner" | "expires"))
        {
            return Err(Problem::invalid(k, "is not a field of a token"));
        }
    }
    let user = text(&v, "user")?.ok_or_else(|| Problem::invalid("user", "is required"))?;
    let role = text(&v, "role")?.and_then(Role::parse).ok_or_else(|| {
        Problem::invalid(
            "role",
            "must be one of admin, credit, operations, collections, auditor, partner",
        )
    })?;
    let lifetime = Lifetime::parse(text(&v, "expires")?.unwrap_or("none"))?;
    let req = TokenRequest {
        user,
        role,
        partner: text(&v, "partner")?,
        lifetime,
    };
    let issued = s.app.issue_token(Some(&p), &req).await?;
    let mut answer = token_json(&issued.record);
    answer["token"] = Value::String(issued.token);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /v1/tokens`.
pub(crate) async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let tokens = s.app.tokens(Some(&p)).await?;
    let tokens: Vec<Value> = tokens.iter().map(token_json).collect();
    Ok(Json(json!({"tokens": tokens})).into_response())
}

/// `POST /v1/tokens/{id}/revoke`: 401 for that token from now on.
pub(crate) async fn revoke(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let t = s.app.revoke_token(Some(&p), &id).await?;
    Ok(Json(token_json(&t)).into_response())
}
