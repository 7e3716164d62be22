//! Every request has an id: the client's `X-Request-Id` when it is 1 to 200 visible ASCII
//! characters, else a new UUIDv7. It is echoed in the response header, carried in every problem
//! document (`request_id`), and logged with one JSON access line per request.
//!
//! The id, the client's address and the authenticated user's name live in a task-local
//! context for the duration of the request, so the problem documents, the authentication and
//! the access line all see them without threading them through every handler.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The request id header, in and out.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest request id accepted from a client.
const MAX_LEN: usize = 200;

#[derive(Clone)]
struct Context {
    id: Arc<str>,
    client: IpAddr,
    user: Arc<OnceLock<String>>,
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// The current request's id, when there is a current request.
pub(crate) fn current() -> Option<Arc<str>> {
    CONTEXT.try_with(|c| c.id.clone()).ok()
}

/// The address of the current request's client (unspecified when the server was started
/// without connection info).
pub(crate) fn client() -> IpAddr {
    CONTEXT
        .try_with(|c| c.client)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Record who the current request is authenticated as, for the access line.
pub(crate) fn set_user(name: &str) {
    let _ = CONTEXT.try_with(|c| c.user.set(name.to_owned()));
}

/// The client's id if it is acceptable.
fn accepted(value: Option<&HeaderValue>) -> Option<Arc<str>> {
    let v = value?.as_bytes();
    let ok = (1..=MAX_LEN).contains(&v.len()) && v.iter().all(|b| (b'!'..=b'~').contains(b));
    if ok {
        std::str::from_utf8(v).ok().map(Arc::from)
    } else {
        None
    }
}

/// The outermost layer: give the request its id and context, echo the id, log the access line.
pub(crate) async fn trace(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = accepted(req.headers().get(&HEADER))
        .unwrap_or_else(|| Arc::from(uuid::Uuid::now_v7().to_string()));
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no route)".to_owned(), |m| m.as_str().to_owned());
    let context = Context {
        id: id.clone(),
        client,
        user: Arc::new(OnceLock::new()),
    };
    let user = context.user.clone();
    let mut res = CONTEXT.scope(context, next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    tracing::info!(
        target: "loanbook::access",
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1e3,
        user = user.get().map(String::as_str),
        client = %client,
        request_id = %id,
        "request"
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ids_are_accepted() {
        let ok = |s: &str| accepted(Some(&HeaderValue::from_str(s).unwrap())).is_some();
        assert!(ok("abc-123"));
        assert!(ok(&"x".repeat(200)));
        assert!(!ok(&"x".repeat(201)));
        assert!(!ok(""));
        assert!(!ok("has space"));
        assert!(!ok("tab\there"));
        assert!(accepted(None).is_none());
    }
}
