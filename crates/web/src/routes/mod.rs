//! The API's routes, one module per resource. Every handler carries its OpenAPI description,
//! so the document served at `/openapi.json` is derived from the handlers and the app's types.

pub(crate) mod applications;
pub(crate) mod approvals;
pub(crate) mod audit;
pub(crate) mod business_date;
pub(crate) mod commands;
pub(crate) mod eod;
pub(crate) mod failure_table;
pub(crate) mod health;
pub(crate) mod loans;
pub(crate) mod mandates;
pub(crate) mod parties;
pub(crate) mod products;
pub(crate) mod provisioning;
pub(crate) mod tokens;
pub(crate) mod webhooks;

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use loanbook_app::CommandOutcome;
use serde::Serialize;

use crate::extract::status;

/// A command's outcome as an answer: 201, 200 or 202 with its body; a replayed answer says so
/// in `Idempotent-Replayed`.
pub(crate) fn outcome<T: Serialize>(o: CommandOutcome<T>) -> Response {
    let mut res = (status(o.kind), Json(o.answer)).into_response();
    if o.replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}
