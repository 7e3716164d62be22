//! `/v1/loans`: book, list and read loans.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::servicing::{BookLoan, ListLoans};
use loanbook_app::views::{
    BookingResult, ForeclosureQuote, HeldView, LoanEventsView, LoanPage, LoanView,
};
use loanbook_domain::calendar::Date;
use serde::Deserialize;
use utoipa::IntoParams;

use super::outcome;
use crate::extract::{Body, Caller, DryRun, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Book a loan from its terms (a product's template completed by them), optionally with the
/// events that already happened to it.
#[utoipa::path(post, path = "/v1/loans", tag = "loans", request_body = BookLoan, params(DryRun),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Booked", body = BookingResult),
        (status = 200, description = "Dry run: the loan it would be, with its whole schedule", body = BookingResult),
        (status = 202, description = "Held for approval", body = HeldView),
        Problems))]
pub(crate) async fn book_loan(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<BookLoan>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(s.app.book_loan(&p, &body.value, &m).await?))
}

/// Loans by status, class, DPD, loan number or partner, in id order.
#[utoipa::path(get, path = "/v1/loans", tag = "loans", params(ListLoans),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of loans", body = LoanPage), Problems))]
pub(crate) async fn list_loans(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ListLoans>,
) -> Result<Json<LoanPage>, Problem> {
    Ok(Json(s.app.list_loans(&p, &q).await?))
}

/// A date to read on.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AsOf {
    /// The end of this day (default: the business date).
    #[serde(
        default,
        deserialize_with = "loanbook_domain::calendar::strict_date::option"
    )]
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<Date>,
}

/// A foreclosure's date.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct QuoteDate {
    /// The day of the foreclosure (default: the business date).
    #[serde(
        default,
        deserialize_with = "loanbook_domain::calendar::strict_date::option"
    )]
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<Date>,
}

/// The loan on a date: its record and state by replay of its events.
#[utoipa::path(get, path = "/v1/loans/{id}", tag = "loans",
    params(("id" = String, Path, description = "The loan's id"), AsOf),
    security(("bearer" = [])),
    responses((status = 200, description = "The loan", body = LoanView), Problems))]
pub(crate) async fn loan(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Params(q): Params<AsOf>,
) -> Result<Json<LoanView>, Problem> {
    Ok(Json(s.app.loan_state(&p, &id, q.as_of).await?))
}

/// The loan's events as stored.
#[utoipa::path(get, path = "/v1/loans/{id}/events", tag = "loans",
    params(("id" = String, Path, description = "The loan's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The events", body = LoanEventsView), Problems))]
pub(crate) async fn loan_events(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<LoanEventsView>, Problem> {
    Ok(Json(s.app.loan_events(&p, &id).await?))
}

/// What foreclosing the loan on a date would cost.
#[utoipa::path(get, path = "/v1/loans/{id}/foreclosure-quote", tag = "loans",
    params(("id" = String, Path, description = "The loan's id"), QuoteDate),
    security(("bearer" = [])),
    responses((status = 200, description = "The quote", body = ForeclosureQuote), Problems))]
pub(crate) async fn foreclosure_quote(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Params(q): Params<QuoteDate>,
) -> Result<Json<ForeclosureQuote>, Problem> {
    let date = match q.date {
        Some(d) => d,
        None => s.app.business_date().await?,
    };
    Ok(Json(s.app.foreclosure_quote(&p, &id, date).await?))
}
