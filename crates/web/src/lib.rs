//! Loanbook's REST API: JSON under `/v1`, money as decimal strings, every error an RFC 9457
//! problem document naming the field and the rule.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod audit;
mod auth;
mod health;
mod input;
mod limits;
mod openapi;
mod problem;
mod request_id;
mod tokens;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use loanbook_app::{App, AppError, Principal, RequestMeta, digest};
use loanbook_domain::calendar::{Date, parse_date};
use loanbook_store::LoanFilter;
use serde_json::{Value, json};
use tower_http::catch_panic::CatchPanicLayer;

pub use problem::Problem;

/// Limits of the HTTP layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Requests per second allowed to one token.
    pub rate_limit: u32,
    /// Failed authentications per second allowed to one client address (also its burst).
    pub auth_failure_limit: u32,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Longest a request may take before it is answered 503 `timeout`.
    pub request_timeout: Duration,
    /// Adds `/v1/test/panic` and `/v1/test/slow`, which misbehave on purpose: for the test
    /// suite only, never set by the server.
    #[doc(hidden)]
    pub test_routes: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            rate_limit: 5_000,
            auth_failure_limit: 10,
            // A migrated loan is booked with its whole history in one request.
            body_limit: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            test_routes: false,
        }
    }
}

struct Shared {
    app: Arc<App>,
    guard: auth::Guard,
    started: Instant,
    metrics: Metrics,
}

#[derive(Default)]
struct Metrics {
    requests: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    commands: AtomicU64,
    micros: AtomicU64,
}

type AppState = Arc<Shared>;

/// The whole API.
pub fn router(app: Arc<App>, config: WebConfig) -> Router {
    let body_limit = config.body_limit;
    let shared = Arc::new(Shared {
        app,
        guard: auth::Guard::new(&config),
        started: Instant::now(),
        metrics: Metrics::default(),
    });
    let routes = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
        .route("/v1/loans", post(book_loan).get(list_loans))
        .route("/v1/loans/{id}", get(loan))
        .route("/v1/loans/{id}/events", get(loan_events))
        .route("/v1/loans/{id}/foreclosure-quote", get(foreclosure_quote))
        .route("/v1/loans/{id}/{command}", post(loan_command))
        .route(
            "/v1/business-date",
            get(business_date).put(set_business_date),
        )
        .route("/v1/products", post(create_product).get(products))
        .route("/v1/products/{code}", get(product))
        .route("/v1/products/{code}/versions", post(product_version))
        .route("/v1/parties", post(create_party).get(parties))
        .route("/v1/parties/{id}", get(party))
        .route("/v1/webhooks", post(create_webhook).get(webhooks))
        .route("/v1/webhooks/{id}/deliveries", get(webhook_deliveries))
        .route("/v1/approvals", get(approvals).post(decide_by_body))
        .route("/v1/approvals/{id}", get(approval))
        .route("/v1/approvals/{id}/{decision}", post(decide))
        .route("/v1/tokens", post(tokens::create).get(tokens::list))
        .route("/v1/tokens/{id}/revoke", post(tokens::revoke))
        .merge(audit::routes())
        .merge(health::routes());
    let routes = if config.test_routes {
        routes
            .route("/v1/test/panic", get(limits::panics))
            .route("/v1/test/slow", get(limits::slow))
    } else {
        routes
    };
    // Innermost first: problem documents for the framework's own errors, strict parameters,
    // JSON bodies only, the body limit, panics as problems, metrics, the timeout, and outermost
    // the request id and access line.
    routes
        .fallback(not_found)
        .layer(middleware::map_response(problem::ensure_problem))
        .layer(middleware::from_fn(input::strict_params))
        .layer(middleware::from_fn(limits::json_only))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(limits::panic_problem))
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            limits::timeout,
        ))
        .layer(middleware::from_fn_with_state(shared.clone(), measure))
        .layer(middleware::from_fn(request_id::trace))
        .with_state(shared)
}

/// Serve until `shutdown` completes, then finish the requests in flight. Handlers know each
/// client's address (for the limit on failed authentications).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn measure(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let t = Instant::now();
    let is_command = req.method() == axum::http::Method::POST;
    let res = next.run(req).await;
    let m = &s.metrics;
    m.requests.fetch_add(1, Ordering::Relaxed);
    m.micros.fetch_add(
        u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    if is_command && res.status().is_success() {
        m.commands.fetch_add(1, Ordering::Relaxed);
    }
    if res.status().is_client_error() {
        m.client_errors.fetch_add(1, Ordering::Relaxed);
    } else if res.status().is_server_error() {
        m.server_errors.fetch_add(1, Ordering::Relaxed);
    }
    res
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    principal(&s, &headers)
        .await?
        .require(loanbook_app::Action::Read)?;
    let m = &s.metrics;
    let body = format!(
        "# HELP loanbook_http_requests_total HTTP requests served.\n\
         # TYPE loanbook_http_requests_total counter\n\
         loanbook_http_requests_total {}\n\
         # HELP loanbook_http_client_errors_total Requests answered with a 4xx status.\n\
         # TYPE loanbook_http_client_errors_total counter\n\
         loanbook_http_client_errors_total {}\n\
         # HELP loanbook_http_server_errors_total Requests answered with a 5xx status.\n\
         # TYPE loanbook_http_server_errors_total counter\n\
         loanbook_http_server_errors_total {}\n\
         # HELP loanbook_commands_total Write requests that succeeded.\n\
         # TYPE loanbook_commands_total counter\n\
         loanbook_commands_total {}\n\
         # HELP loanbook_http_request_seconds_total Time spent serving requests.\n\
         # TYPE loanbook_http_request_seconds_total counter\n\
         loanbook_http_request_seconds_total {:.6}\n\
         # HELP loanbook_uptime_seconds Seconds since the server started.\n\
         # TYPE loanbook_uptime_seconds gauge\n\
         loanbook_uptime_seconds {}\n",
        m.requests.load(Ordering::Relaxed),
        m.client_errors.load(Ordering::Relaxed),
        m.server_errors.load(Ordering::Relaxed),
        m.commands.load(Ordering::Relaxed),
        m.micros.load(Ordering::Relaxed) as f64 / 1e6,
        s.started.elapsed().as_secs(),
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

async fn openapi_json() -> Json<Value> {
    Json(openapi::document())
}

async fn docs_page() -> axum::response::Html<String> {
    axum::response::Html(openapi::page())
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
}

/// The caller, from `Authorization: Bearer TOKEN`, within the limits (see [`auth`]).
async fn principal(s: &Shared, headers: &HeaderMap) -> Result<Principal, Problem> {
    auth::principal(&s.app, &s.guard, headers).await
}

fn reply(r: loanbook_app::Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    (status, Json(r.body)).into_response()
}

/// Parse query parameters by hand so a bad one is answered as a problem naming it.
fn query_date(q: &HashMap<String, String>, name: &str) -> Result<Option<Date>, Problem> {
    q.get(name)
        .map(|v| parse_date(v).map_err(|rule| Problem::invalid(name, &rule)))
        .transpose()
}

fn query_bool(q: &HashMap<String, String>, name: &str) -> Result<bool, Problem> {
    match q.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") | Some("") => Ok(true),
        Some(_) => Err(Problem::invalid(name, "must be true or false")),
    }
}

fn query_int(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Problem> {
    q.get(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Problem::invalid(name, "must be a whole number"))
        })
        .transpose()
}

fn body_json(body: &Bytes) -> Result<Value, Problem> {
    let v = input::parse_json(body)?;
    if !v.is_object() {
        return Err(Problem::invalid("body", "must be a JSON object"));
    }
    Ok(v)
}

/// What a write request carries besides its body. `target` is the request's method and path
/// (with its ids): an idempotency key answers only requests to the same target.
fn meta(
    headers: &HeaderMap,
    target: &Uri,
    body: &Bytes,
    dry_run: bool,
) -> Result<RequestMeta, Problem> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255 && !k.contains(char::is_control))
                .ok_or_else(|| {
                    Problem::invalid("Idempotency-Key", "must be 1 to 255 visible characters")
                })?;
            Some(k.to_owned())
        }
    };
    Ok(RequestMeta {
        idempotency_key: key,
        target: format!("POST {}", target.path()),
        digest: digest(body),
        dry_run,
    })
}

async fn book_loan(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let dry_run = query_bool(&q, "dry_run")?;
    let m = meta(&headers, &uri, &body, dry_run)?;
    let v = body_json(&body)?;
    Ok(reply(s.app.book_loan(&p, &v, &m).await?))
}

/// The event type each command endpoint appends.
fn event_type(command: &str) -> Option<&'static str> {
    openapi::COMMANDS
        .iter()
        .find(|(segment, _, _)| *segment == command)
        .map(|(_, event, _)| *event)
}

async fn loan_command(
    State(s): State<AppState>,
    Path((id, command)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let kind = event_type(&command).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no command `{command}`"),
        )
    })?;
    let dry_run = query_bool(&q, "dry_run")?;
    let m = meta(&headers, &uri, &body, dry_run)?;
    if kind == "payment" && m.idempotency_key.is_none() && !dry_run {
        return Err(Problem::invalid(
            "Idempotency-Key",
            "header is required to post a payment",
        ));
    }
    let mut v = body_json(&body)?;
    if let Some(o) = v.as_object_mut() {
        match o.get("type") {
            None => {
                o.insert("type".into(), Value::String(kind.into()));
            }
            Some(Value::String(t)) if t == kind => {}
            Some(_) => {
                return Err(Problem::invalid(
                    "type",
                    &format!("is set by the endpoint: `{kind}`"),
                ));
            }
        }
    }
    Ok(reply(s.app.loan_command(&p, &id, &v, &m).await?))
}

async fn loan(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let as_of = query_date(&q, "as_of")?;
    Ok(Json(s.app.loan_state(&p, &id, as_of).await?).into_response())
}

async fn loan_events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    Ok(Json(s.app.loan_events(&p, &id).await?).into_response())
}

async fn foreclosure_quote(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let date = match query_date(&q, "date")? {
        Some(d) => d,
        None => s.app.business_date().await?,
    };
    Ok(Json(s.app.foreclosure_quote(&p, &id, date).await?).into_response())
}

async fn list_loans(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    for k in q.keys() {
        if !matches!(
            k.as_str(),
            "status"
                | "classification"
                | "dpd_min"
                | "dpd_max"
                | "partner"
                | "loan_number"
                | "cursor"
                | "limit"
        ) {
            return Err(Problem::invalid(k, "is not a filter of loans"));
        }
    }
    let limit = query_int(&q, "limit")?.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "must be between 1 and 1000"));
    }
    let filter = LoanFilter {
        status: q.get("status").cloned(),
        classification: q.get("classification").cloned(),
        dpd_min: query_int(&q, "dpd_min")?,
        dpd_max: query_int(&q, "dpd_max")?,
        partner_id: q.get("partner").cloned(),
        loan_number: q.get("loan_number").cloned(),
        after: q.get("cursor").cloned(),
        limit,
    };
    Ok(Json(s.app.list_loans(&p, filter).await?).into_response())
}

async fn approvals(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let status = q.get("status").map(String::as_str);
    Ok(Json(s.app.approvals(&p, status).await?).into_response())
}

async fn approval(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    Ok(Json(s.app.approval(&p, &id).await?).into_response())
}

/// `approve` carries the held command out; `reject` closes the request.
async fn decide(
    State(s): State<AppState>,
    Path((id, decision)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    decision_for(&s, &id, &decision, &headers, &body).await
}

/// `POST /v1/approvals` with `{"id": …, "decision": "approve" | "reject"}`.
async fn decide_by_body(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let v = body_json(&body)?;
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Problem::invalid(name, "is required: a string"))
    };
    let (id, decision) = (field("id")?, field("decision")?);
    if !matches!(decision.as_str(), "approve" | "reject") {
        return Err(Problem::invalid("decision", "must be approve or reject"));
    }
    decision_for(&s, &id, &decision, &headers, &body).await
}

async fn decision_for(
    s: &Shared,
    id: &str,
    decision: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, Problem> {
    let p = principal(s, headers).await?;
    // Both forms of a decision are one request target, so one key covers either.
    let target: Uri = format!("/v1/approvals/{id}/{decision}")
        .parse()
        .map_err(|_| Problem::invalid("id", "must be an approval id"))?;
    let m = meta(headers, &target, body, false)?;
    let id = id.to_owned();
    match decision {
        "approve" => Ok(reply(s.app.approve(&p, &id, &m).await?)),
        "reject" => Ok(reply(s.app.reject(&p, &id, &m).await?)),
        other => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no decision `{other}`: use approve or reject"),
        )),
    }
}

async fn create_webhook(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let m = meta(&headers, &uri, &body, false)?;
    let v = body_json(&body)?;
    Ok(reply(s.app.create_webhook(&p, &v, &m).await?))
}

async fn webhooks(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    Ok(Json(s.app.webhooks(&p).await?).into_response())
}

async fn webhook_deliveries(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    Ok(Json(s.app.webhook_deliveries(&p, &id).await?).into_response())
}

/// Run the webhook relay until `stop` resolves: a pass every quarter second.
pub async fn relay(app: Arc<App>, stop: impl std::future::Future<Output = ()>) {
    let http = match reqwest_client() {
        Some(c) => c,
        None => return,
    };
    tokio::pin!(stop);
    loop {
        if let Err(e) = app.relay_once(&http).await {
            tracing::warn!(error = %e, "webhook relay");
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

fn reqwest_client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| tracing::error!(error = %e, "webhook client"))
        .ok()
}

async fn create_product(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let m = meta(&headers, &uri, &body, query_bool(&q, "dry_run")?)?;
    let v = body_json(&body)?;
    let code = match v.get("code") {
        Some(Value::String(c)) => c.clone(),
        _ => return Err(Problem::invalid("code", "is required: a product code")),
    };
    if s.app
        .store()
        .product(&code, None)
        .await
        .map_err(AppError::from)?
        .is_some()
    {
        return Err(Problem::from(AppError::Conflict(format!(
            "product `{code}` exists: add a version with POST /v1/products/{code}/versions"
        ))));
    }
    Ok(reply(s.app.change_product(&p, &code, &v, &m).await?))
}

async fn product_version(
    State(s): State<AppState>,
    Path(code): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let m = meta(&headers, &uri, &body, query_bool(&q, "dry_run")?)?;
    let v = body_json(&body)?;
    if s.app
        .store()
        .product(&code, None)
        .await
        .map_err(AppError::from)?
        .is_none()
    {
        return Err(Problem::from(AppError::NotFound(format!(
            "product `{code}`"
        ))));
    }
    Ok(reply(s.app.change_product(&p, &code, &v, &m).await?))
}

async fn products(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    Ok(Json(s.app.products(&p).await?).into_response())
}

async fn product(
    State(s): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let version = query_int(&q, "version")?;
    Ok(Json(s.app.product(&p, &code, version).await?).into_response())
}

async fn create_party(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let m = meta(&headers, &uri, &body, false)?;
    let v = body_json(&body)?;
    Ok(reply(s.app.create_party(&p, &v, &m).await?))
}

async fn party(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    Ok(Json(s.app.party(&p, &id).await?).into_response())
}

async fn parties(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let limit = query_int(&q, "limit")?.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "must be between 1 and 1000"));
    }
    let kind = q.get("kind").map(String::as_str);
    let after = q.get("cursor").map(String::as_str);
    Ok(Json(s.app.parties(&p, kind, after, limit).await?).into_response())
}

async fn business_date(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    principal(&s, &headers)
        .await?
        .require(loanbook_app::Action::Read)?;
    let d = s.app.business_date().await?;
    Ok(Json(json!({"business_date": d.to_string()})).into_response())
}

/// `PUT /v1/business-date` `{"date": "YYYY-MM-DD"}`: admin only, forward only.
async fn set_business_date(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let p = principal(&s, &headers).await?;
    let v = body_json(&body)?;
    let date = v
        .get("date")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::invalid("date", "must be a date YYYY-MM-DD"))
        .and_then(|d| parse_date(d).map_err(|rule| Problem::invalid("date", &rule)))?;
    Ok(Json(s.app.set_business_date(Some(&p), date).await?).into_response())
}
