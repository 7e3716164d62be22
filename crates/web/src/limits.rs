//! Limits of the HTTP layer that answer with a problem document: the request timeout, a panic
//! in a handler, and the media type of request bodies.

use std::any::Any;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Problem;

/// A request that takes longer than the limit is answered 503 `timeout` with `Retry-After`:
/// the server was slow, not the client, so it is not a 408. Whatever the handler was doing is
/// dropped; a command's transaction that has not committed rolls back.
pub(crate) async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            &format!(
                "the request took longer than {} ms; try again",
                limit.as_millis()
            ),
        )
        .retry_after(1)
        .into_response(),
    }
}

/// A panic in a handler is a bug: log it and answer 500 `internal` rather than drop the
/// connection.
pub(crate) fn panic_problem(err: Box<dyn Any + Send + 'static>) -> Response {
    let message = err
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(
        panic = %message,
        request_id = crate::request_id::current().as_deref(),
        "handler panicked"
    );
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the request could not be completed; it has been logged",
    )
    .into_response()
}

/// Whether the request says it carries a body.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// `application/json`, optionally with `charset=utf-8`; nothing else.
pub(crate) fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
    })
}

/// `text/csv`, optionally with `charset=utf-8`: an uploaded statement file.
pub(crate) fn is_csv(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("text/csv")
        && parts.all(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("charset")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            })
        })
}

/// The routes that take a file instead of JSON: an application's statement upload.
fn takes_csv(path: &str) -> bool {
    path.starts_with("/v1/applications/") && path.ends_with("/statements")
}

/// A body sent to the API (POST, PUT, PATCH) must be JSON and say so (a statement upload:
/// CSV): anything else is 415.
pub(crate) async fn json_only(req: Request, next: Next) -> Response {
    let writes = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if writes && has_body(req.headers()) {
        let csv = takes_csv(req.uri().path());
        let accepted = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| if csv { is_csv(t) } else { is_json(t) });
        if !accepted {
            let rule = if csv {
                "the body must be the statement file, sent with Content-Type: text/csv"
            } else {
                "the body must be JSON, sent with Content-Type: application/json"
            };
            return Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                rule,
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// `GET /v1/test/panic` (test routes only): a handler with a bug.
#[allow(clippy::panic)]
pub(crate) async fn panics() -> Response {
    panic!("the test route panics on purpose")
}

/// `GET /v1/test/slow` (test routes only): a handler slower than any test's timeout.
pub(crate) async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(60)).await;
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_with_utf8_at_most_is_json() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=UTF-8"));
        assert!(is_json("application/json;charset=\"utf-8\""));
        assert!(!is_json("application/json; charset=latin1"));
        assert!(!is_json("application/json; boundary=x"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json(""));
    }
}
