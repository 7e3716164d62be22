//! `/v1/collections/failure-codes`: the book's debit failure table, which classifies every
//! failed debit. The book's readers see it and classify answers by it; operations propose
//! changes, each held for a second user's approval (`/v1/approvals`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use loanbook_app::collections::failure_table::{
    ChangeFailureTable, ClassifyQuery, ClassifyView, FailureTableQuery, FailureTableView,
    TableFormat,
};
use loanbook_app::views::HeldView;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::outcome;
use crate::extract::{Body, Caller, DryRun, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// The routes of the failure table.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(failure_codes))
        .routes(routes!(change_failure_codes))
        .routes(routes!(classify))
}

/// The book's failure table in effect: every (rail, code) a failed debit may be answered with,
/// its class, handling, reason, next action and whether the bounce charge applies. Version 1
/// is the shipped seed, which a book classifies by until it has a table of its own.
/// `?format=csv` answers with the CSV a lender edits.
#[utoipa::path(get, path = "/v1/collections/failure-codes", tag = "collections",
    params(FailureTableQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "The failure table", content(
            (FailureTableView = "application/json"),
            (String = "text/csv"))),
        Problems))]
pub(crate) async fn failure_codes(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<FailureTableQuery>,
) -> Result<Response, Problem> {
    match q.format.unwrap_or_default() {
        TableFormat::Json => Ok(Json(s.app.failure_table(&p).await?).into_response()),
        TableFormat::Csv => {
            let csv = s.app.failure_table_csv(&p).await?;
            let mut res = csv.into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            Ok(res)
        }
    }
}

/// Propose a change to the failure table: the whole table, or rows to add, replace and remove
/// by rail and code. It is checked in full (a bad row is named by its field, as
/// `rows[3].class`) and then held for a second user's approval; approved, it becomes the
/// table's next version. `?dry_run=true` answers with the table as it would be and holds
/// nothing.
#[utoipa::path(post, path = "/v1/collections/failure-codes/changes", tag = "collections",
    request_body = ChangeFailureTable, params(DryRun), security(("bearer" = [])),
    responses(
        (status = 202, description = "Held for a second user's approval", body = HeldView),
        (status = 200, description = "Dry run: the table as the change would leave it",
            body = FailureTableView),
        Problems))]
pub(crate) async fn change_failure_codes(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<ChangeFailureTable>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(
        s.app.change_failure_table(&p, &body.value, &m).await?,
    ))
}

/// Classify a rail's answer by the book's table: its class, the unified reason, the next
/// action, whether it is retried and charged, and what the borrower is told. A code the table
/// does not know is a technical failure to review, neither retried nor charged.
#[utoipa::path(get, path = "/v1/collections/failure-codes/classify", tag = "collections",
    params(ClassifyQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "The answer, classified", body = ClassifyView),
        Problems))]
pub(crate) async fn classify(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ClassifyQuery>,
) -> Result<Json<ClassifyView>, Problem> {
    Ok(Json(s.app.classify_failure(&p, &q).await?))
}
