//! `GET /v1/audit`: the audit log, page by page, for auditors and admins.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{AppState, Problem, principal, query_int};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/audit", get(audit_log))
}

/// The OpenAPI description of these routes.
pub(crate) fn paths() -> Vec<(String, Value)> {
    vec![(
        "/v1/audit".into(),
        json!({"get": {
            "summary": "The hash-chained audit log, page by page (auditors and admins)",
            "parameters": [
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "Records after this seq"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            ],
            "responses": {
                "200": {"description": "{items: [{seq, at, actor, action, target, request_digest, event_ids, content_hash, terms_hash, scheme, key_id, prev_hash, hash}], next_after, head}",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "401": {"description": "No valid token"},
                "403": {"description": "Not an auditor or admin"},
                "422": {"description": "A bad parameter"},
            },
        }}),
    )]
}

/// `?after=SEQ&limit=N`: records after `after` (default 0), at most `limit` (default 100).
async fn audit_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    if let Some(k) = q.keys().find(|k| !matches!(k.as_str(), "after" | "limit")) {
        return Err(Problem::invalid(k, "is not a parameter of the audit log"));
    }
    let after = query_int(&q, "after")?.unwrap_or(0);
    let limit = query_int(&q, "limit")?.unwrap_or(100);
    Ok(Json(s.app.audit_log(&p, after, limit).await?).into_response())
}
