//! `/v1/webhooks`: subscriptions to the outbox and their deliveries.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::outbox::CreateWebhook;
use loanbook_app::views::{DeliveryList, WebhookCreated, WebhookList};

use super::outcome;
use crate::extract::{Body, Caller, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Subscribe a URL; the answer carries the signing secret, once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    security(("bearer" = [])),
    responses((status = 201, description = "Subscribed", body = WebhookCreated), Problems))]
pub(crate) async fn create_webhook(
    State(s): State<AppState>,
    Caller(p): Caller,
    uri: Uri,
    headers: HeaderMap,
    body: Body<CreateWebhook>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, false)?;
    Ok(outcome(s.app.create_webhook(&p, &body.value, &m).await?))
}

/// Every endpoint (without secrets).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, description = "The endpoints", body = WebhookList), Problems))]
pub(crate) async fn webhooks(
    State(s): State<AppState>,
    Caller(p): Caller,
) -> Result<Json<WebhookList>, Problem> {
    Ok(Json(s.app.webhooks(&p).await?))
}

/// An endpoint's deliveries, latest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The deliveries", body = DeliveryList), Problems))]
pub(crate) async fn webhook_deliveries(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<DeliveryList>, Problem> {
    Ok(Json(s.app.webhook_deliveries(&p, &id).await?))
}
