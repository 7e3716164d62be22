//! `/v1/applications` and `/v1/queues`: origination, one endpoint per step.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use loanbook_app::digest;
use loanbook_app::origination::deciding::{DecideCredit, DecidePartner, QueuePage};
use loanbook_app::origination::disbursement::{DisburseApplication, TickChecklist};
use loanbook_app::origination::drafting::{
    CreateApplication, EditApplication, WithdrawApplication,
};
use loanbook_app::origination::gathering::{
    AddStatement, FetchAccountAggregator, ImportBureauReport, PullBureau,
};
use loanbook_app::origination::sanction::{
    AcceptApplication, KfsDocument, KfsQuery, SanctionApplication,
};
use loanbook_app::origination::{
    ApplicationEventView, ApplicationPage, ApplicationView, ListApplications,
};
use loanbook_domain::origination::kfs::KeyFacts;

use super::outcome;
use crate::extract::{Body, Caller, DryRun, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Path parameter: the application's id.
type Id = Path<String>;

/// Open an application under a product version.
#[utoipa::path(post, path = "/v1/applications", tag = "applications",
    request_body = CreateApplication, params(DryRun), security(("bearer" = [])),
    responses((status = 201, description = "Created", body = ApplicationView),
        (status = 200, description = "Dry run", body = ApplicationView), Problems))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<CreateApplication>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(
        s.app.create_application(&p, &body.value, &m).await?,
    ))
}

/// Applications, oldest first (not for partners: they read their queue).
#[utoipa::path(get, path = "/v1/applications", tag = "applications",
    params(ListApplications), security(("bearer" = [])),
    responses((status = 200, description = "A page of applications", body = ApplicationPage), Problems))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ListApplications>,
) -> Result<Json<ApplicationPage>, Problem> {
    Ok(Json(s.app.applications(&p, &q).await?))
}

/// An application with everything recorded on it.
#[utoipa::path(get, path = "/v1/applications/{id}", tag = "applications",
    params(("id" = String, Path, description = "The application's id")), security(("bearer" = [])),
    responses((status = 200, description = "The application", body = ApplicationView), Problems))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Id,
) -> Result<Json<ApplicationView>, Problem> {
    Ok(Json(s.app.application(&p, &id).await?))
}

/// An application's events, oldest first.
#[utoipa::path(get, path = "/v1/applications/{id}/events", tag = "applications",
    params(("id" = String, Path, description = "The application's id")), security(("bearer" = [])),
    responses((status = 200, description = "The events", body = Vec<ApplicationEventView>), Problems))]
pub(crate) async fn events(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Id,
) -> Result<Json<Vec<ApplicationEventView>>, Problem> {
    Ok(Json(s.app.application_events(&p, &id).await?))
}

/// The Key Facts Statement of a sanctioned application: JSON, printable HTML or PDF.
#[utoipa::path(get, path = "/v1/applications/{id}/kfs", tag = "applications",
    params(("id" = String, Path, description = "The application's id"), KfsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The KFS", content(
        (KeyFacts = "application/json"), (String = "text/html"), (Vec<u8> = "application/pdf"))),
        Problems))]
pub(crate) async fn kfs(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Id,
    Params(q): Params<KfsQuery>,
) -> Result<Response, Problem> {
    Ok(match s.app.kfs(&p, &id, &q).await? {
        KfsDocument::Json(k) => Json(k).into_response(),
        KfsDocument::Html(h) => {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], h).into_response()
        }
        KfsDocument::Pdf(b) => ([(header::CONTENT_TYPE, "application/pdf")], b).into_response(),
    })
}

/// A step with a JSON body: one handler each, all the same shape.
macro_rules! step {
    ($name:ident, $path:literal, $body:ty, $method:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "applications", request_body = $body,
            params(("id" = String, Path, description = "The application's id"), DryRun),
            security(("bearer" = [])),
            responses((status = 200, description = "Done: the application after the step", body = ApplicationView),
                Problems))]
        pub(crate) async fn $name(
            State(s): State<AppState>,
            Caller(p): Caller,
            Path(id): Id,
            Params(q): Params<DryRun>,
            uri: Uri,
            headers: HeaderMap,
            body: Body<$body>,
        ) -> Result<Response, Problem> {
            let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
            Ok(outcome(s.app.$method(&p, &id, &body.value, &m).await?))
        }
    };
    ($name:ident, $path:literal, $method:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "applications",
            params(("id" = String, Path, description = "The application's id"), DryRun),
            security(("bearer" = [])),
            responses((status = 200, description = "Done: the application after the step", body = ApplicationView),
                Problems))]
        pub(crate) async fn $name(
            State(s): State<AppState>,
            Caller(p): Caller,
            Path(id): Id,
            Params(q): Params<DryRun>,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, Problem> {
            let m = meta(&headers, uri.path(), digest(&body), q.dry_run)?;
            Ok(outcome(s.app.$method(&p, &id, &m).await?))
        }
    };
}

step!(
    edit,
    "/v1/applications/{id}/draft",
    EditApplication,
    edit_application,
    "Replace a draft's contents (the whole draft)."
);
step!(
    submit,
    "/v1/applications/{id}/submit",
    submit_application,
    "Submit a draft: refused with every missing field listed."
);
step!(
    pull_bureau,
    "/v1/applications/{id}/bureau",
    PullBureau,
    pull_bureau,
    "Pull a person's credit-bureau report."
);
step!(
    import_bureau,
    "/v1/applications/{id}/bureau-reports",
    ImportBureauReport,
    import_bureau_report,
    "Record a bureau report obtained elsewhere."
);
step!(
    account_aggregator,
    "/v1/applications/{id}/account-aggregator",
    FetchAccountAggregator,
    fetch_account_aggregator,
    "Fetch bank data through the Account Aggregator under a consent."
);
step!(
    assess,
    "/v1/applications/{id}/assess",
    assess_application,
    "Run the product's rules and scorecard: approve, refer or reject, with the offer."
);
step!(
    decide,
    "/v1/applications/{id}/decision",
    DecideCredit,
    decide_credit,
    "A credit officer's decision on a referred application."
);
step!(
    partner_decide,
    "/v1/applications/{id}/partner-decision",
    DecidePartner,
    decide_partner,
    "The co-lending partner's decision, within its window."
);
step!(
    partner_lapse,
    "/v1/applications/{id}/partner-lapse",
    lapse_partner,
    "Close a partner window that passed without a decision: the product's fallback applies."
);
step!(
    sanction,
    "/v1/applications/{id}/sanction",
    SanctionApplication,
    sanction_application,
    "Sanction: freeze and hash the terms, issue the KFS."
);
step!(
    accept,
    "/v1/applications/{id}/accept",
    AcceptApplication,
    accept_application,
    "The borrower accepts the KFS (refused after its validity)."
);
step!(
    checklist,
    "/v1/applications/{id}/checklist",
    TickChecklist,
    tick_checklist,
    "Tick an item of the product's disbursement checklist."
);
step!(
    disburse,
    "/v1/applications/{id}/disburse",
    DisburseApplication,
    disburse_application,
    "Pay out through a rail; when it pays, the loan is booked in the same transaction."
);
step!(
    tranche,
    "/v1/applications/{id}/tranches",
    DisburseApplication,
    disburse_tranche,
    "Pay out the sanctioned terms' next tranche on its date, written on the loan with it."
);
step!(
    reconcile,
    "/v1/applications/{id}/payout/reconcile",
    reconcile_payout,
    "Ask the rail for the result of a payout in flight, and settle it."
);
step!(
    withdraw,
    "/v1/applications/{id}/withdraw",
    WithdrawApplication,
    withdraw_application,
    "Withdraw an application that has not ended."
);
step!(
    expire,
    "/v1/applications/{id}/expire",
    expire_application,
    "Expire a sanction whose KFS was not accepted in its validity."
);

/// Add a bank statement: the body is the bank's CSV export as it was downloaded (HDFC, SBI,
/// ICICI, Axis or Kotak; the layout is detected from its header). A file with a broken row is
/// refused whole, every broken row named.
#[utoipa::path(post, path = "/v1/applications/{id}/statements", tag = "applications",
    request_body(content = String, content_type = "text/csv", description = "The statement file"),
    params(("id" = String, Path, description = "The application's id"), DryRun),
    security(("bearer" = [])),
    responses((status = 200, description = "Done: the application with the statement's analysis", body = ApplicationView),
        Problems))]
pub(crate) async fn statement(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Id,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), digest(&body), q.dry_run)?;
    let csv = String::from_utf8(body.to_vec())
        .map_err(|_| Problem::invalid("body", "must be the statement file as UTF-8 text"))?;
    let cmd = AddStatement { csv };
    Ok(outcome(s.app.add_statement(&p, &id, &cmd, &m).await?))
}

/// Referred applications waiting for a credit officer.
#[utoipa::path(get, path = "/v1/queues/credit", tag = "applications",
    params(QueuePage), security(("bearer" = [])),
    responses((status = 200, description = "The credit queue", body = ApplicationPage), Problems))]
pub(crate) async fn credit_queue(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<QueuePage>,
) -> Result<Json<ApplicationPage>, Problem> {
    Ok(Json(s.app.credit_queue(&p, &q).await?))
}

/// Applications waiting for the caller's co-lending partner.
#[utoipa::path(get, path = "/v1/queues/partner", tag = "applications",
    params(QueuePage), security(("bearer" = [])),
    responses((status = 200, description = "The partner's queue", body = ApplicationPage), Problems))]
pub(crate) async fn partner_queue(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<QueuePage>,
) -> Result<Json<ApplicationPage>, Problem> {
    Ok(Json(s.app.partner_queue(&p, &q).await?))
}

/// Every origination route.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(events))
        .routes(routes!(kfs))
        .routes(routes!(edit))
        .routes(routes!(submit))
        .routes(routes!(pull_bureau))
        .routes(routes!(import_bureau))
        .routes(routes!(statement))
        .routes(routes!(account_aggregator))
        .routes(routes!(assess))
        .routes(routes!(decide))
        .routes(routes!(partner_decide))
        .routes(routes!(partner_lapse))
        .routes(routes!(sanction))
        .routes(routes!(accept))
        .routes(routes!(checklist))
        .routes(routes!(disburse))
        .routes(routes!(tranche))
        .routes(routes!(reconcile))
        .routes(routes!(withdraw))
        .routes(routes!(expire))
        .routes(routes!(credit_queue))
        .routes(routes!(partner_queue))
}
