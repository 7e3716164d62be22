//! `/health` (liveness) and `/health/ready`: whether the service can take writes now. The
//! readiness check commits a heartbeat, so a full disk or a read-only database answers 503
//! with `Retry-After` and load balancers stop sending writes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::Problems;
use crate::{AppState, Problem};

/// Seconds a client is asked to wait before asking again.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "health", security(()),
    responses((status = 200, description = "Alive", body = Health), Problems))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: whether the database takes writes now.
#[utoipa::path(get, path = "/health/ready", tag = "health", security(()),
    responses((status = 200, description = "Ready", body = Health), Problems))]
pub(crate) async fn ready(State(s): State<AppState>) -> Response {
    match s.app.ready().await {
        Ok(()) => Json(Health { status: "ready" }).into_response(),
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
