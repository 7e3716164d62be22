//! Loanbook's REST API: JSON under `/v1`, money as decimal strings, every error an RFC 9457
//! problem document naming the field and the rule.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod auth;
mod extract;
mod input;
mod limits;
mod problem;
mod request_id;
mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use loanbook_app::App;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_scalar::Servable;

use extract::Caller;
pub use problem::Problem;
use routes::{
    applications, approvals, audit, business_date, commands, eod, health, loans, parties, products,
    tokens, webhooks,
};

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
}

type AppState = Arc<Shared>;

/// The OpenAPI document's frame; its paths and schemas come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Loanbook API",
        description = "Loan servicing: JSON under /v1, money as decimal strings, dates \
                       YYYY-MM-DD, every error an RFC 9457 problem document naming the field \
                       and the rule."
    ),
    modifiers(&Bearer),
    components(schemas(problem::ProblemDoc, problem::FieldProblem)),
    tags(
        (name = "loans", description = "Book, list and read loans"),
        (name = "commands", description = "Commands on a booked loan"),
        (name = "book", description = "The book's business date"),
        (name = "applications", description = "Origination: from draft to the disbursement that books the loan"),
        (name = "eod", description = "The close of business"),
        (name = "gl", description = "The general ledger the close posts"),
        (name = "mandates", description = "A loan's mandates to debit its borrower's account"),
        (name = "products"), (name = "parties"), (name = "webhooks"), (name = "approvals"),
        (name = "tokens"), (name = "audit"), (name = "health"),
    )
)]
struct ApiDoc;

/// The bearer token scheme every operation but health uses.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route with its OpenAPI description.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(loans::book_loan, loans::list_loans))
        .routes(routes!(loans::loan))
        .routes(routes!(loans::loan_events))
        .routes(routes!(loans::foreclosure_quote))
        .merge(commands::router())
        .merge(applications::router())
        .routes(routes!(
            business_date::business_date,
            business_date::set_business_date
        ))
        .routes(routes!(products::create_product, products::products))
        .routes(routes!(products::product))
        .routes(routes!(products::product_version))
        .routes(routes!(parties::create_party, parties::parties))
        .routes(routes!(parties::party))
        .routes(routes!(webhooks::create_webhook, webhooks::webhooks))
        .routes(routes!(webhooks::webhook_deliveries))
        .routes(routes!(approvals::approvals, approvals::decide_by_body))
        .routes(routes!(approvals::approval))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::reject))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(audit::audit_log))
        .routes(routes!(eod::close))
        .routes(routes!(eod::runs))
        .routes(routes!(eod::digest))
        .routes(routes!(eod::trial_balance))
        .routes(routes!(eod::reconciliation))
        .routes(routes!(eod::journal))
        .merge(routes::provisioning::router())
        .merge(routes::failure_table::router())
        .merge(routes::mandates::router())
}

/// The API's OpenAPI 3.1 document: the routes' own, with the domain's wire formats (terms and
/// event documents) as the domain describes them.
pub fn openapi() -> utoipa::openapi::OpenApi {
    with_domain_schemas(api_router().split_for_parts().1)
}

fn with_domain_schemas(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let domain = loanbook_domain::schema::components();
    let components = api.components.get_or_insert_with(Default::default);
    components.schemas.extend(domain.schemas);
    api
}

/// The whole API.
pub fn router(app: Arc<App>, config: WebConfig) -> Router {
    let body_limit = config.body_limit;
    let shared = Arc::new(Shared {
        app,
        guard: auth::Guard::new(&config),
        started: Instant::now(),
    });
    let (routes, api) = api_router().split_for_parts();
    let api = Arc::new(with_domain_schemas(api));
    let document = api.clone();
    let routes = routes
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(move || {
                let d = document.clone();
                async move { Json(d.as_ref().clone()) }
            }),
        )
        .merge(utoipa_scalar::Scalar::with_url(
            "/docs",
            api.as_ref().clone(),
        ));
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
        .layer(middleware::from_fn(measure))
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

/// The process's metrics recorder, installed on first use.
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder"))
                .ok()
        })
        .as_ref()
}

/// Per-route latency and status counts; successful writes counted by route.
async fn measure(req: axum::extract::Request, next: middleware::Next) -> Response {
    prometheus();
    let t = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status();
    let class = match status.as_u16() {
        200..=299 => "2xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    };
    metrics::histogram!("loanbook_http_request_duration_seconds",
        "method" => method.to_string(), "route" => route.clone(), "status" => class)
    .record(t.elapsed().as_secs_f64());
    if method != axum::http::Method::GET && status.is_success() {
        metrics::counter!("loanbook_commands_total", "route" => route).increment(1);
    }
    res
}

async fn metrics(State(s): State<AppState>, Caller(p): Caller) -> Result<Response, Problem> {
    p.require(loanbook_app::Action::Read)?;
    metrics::gauge!("loanbook_uptime_seconds").set(s.started.elapsed().as_secs_f64());
    let body = prometheus()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
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
