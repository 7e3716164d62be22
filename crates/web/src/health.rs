//! `GET /health/ready`: whether the service can take writes now. `/health` stays a plain
//! liveness check; this one commits a heartbeat, so a full disk or a read-only database
//! answers 503 with `Retry-After` and load balancers stop sending writes.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{AppState, Problem};

/// Seconds a client is asked to wait before asking again.
const RETRY_AFTER_SECONDS: &str = "5";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/health/ready", get(ready))
}

/// The OpenAPI description of these routes.
pub(crate) fn paths() -> Vec<(String, Value)> {
    vec![(
        "/health/ready".into(),
        json!({"get": {
            "summary": "Readiness: whether the database takes writes now",
            "security": [],
            "responses": {
                "200": {"description": "Ready", "content": {"application/json": {"schema": {"type": "object"}}}},
                "503": {"description": "Not ready; see Retry-After",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        "content": {"application/problem+json": {"schema": {"type": "object"}}}},
            },
        }}),
    )]
}

async fn ready(State(s): State<AppState>) -> Response {
    match s.app.ready().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %loanbook_app::masking::mask_text(&e.to_string()), "not ready");
            let mut res = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "the database does not take writes now",
            )
            .into_response();
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            res
        }
    }
}
