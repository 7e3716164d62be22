//! `/v1/business-date`: everyone reads it; an admin moves it, forward only.

use axum::Json;
use axum::extract::State;
use loanbook_app::SetBusinessDate;
use loanbook_app::views::{BusinessDateChanged, BusinessDateView};

use crate::extract::{Body, Caller};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// The book's business date: value-dated events may not pass it.
#[utoipa::path(get, path = "/v1/business-date", tag = "book", security(("bearer" = [])),
    responses((status = 200, description = "The business date", body = BusinessDateView), Problems))]
pub(crate) async fn business_date(
    State(s): State<AppState>,
    Caller(p): Caller,
) -> Result<Json<BusinessDateView>, Problem> {
    p.require(loanbook_app::Action::Read)?;
    let d = s.app.business_date().await?;
    Ok(Json(BusinessDateView {
        business_date: d.to_string(),
    }))
}

/// Move the business date forward (admin only); every projection is brought to it.
#[utoipa::path(put, path = "/v1/business-date", tag = "book", request_body = SetBusinessDate,
    security(("bearer" = [])),
    responses((status = 200, description = "Moved", body = BusinessDateChanged), Problems))]
pub(crate) async fn set_business_date(
    State(s): State<AppState>,
    Caller(p): Caller,
    body: Body<SetBusinessDate>,
) -> Result<Json<BusinessDateChanged>, Problem> {
    Ok(Json(s.app.set_business_date(Some(&p), &body.value).await?))
}
