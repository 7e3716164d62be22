//! `/v1/products`: versioned product configuration.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::products::{AddProductVersion, CreateProduct, ProductQuery};
use loanbook_app::views::{HeldView, ProductChange, ProductList, ProductView};

use super::outcome;
use crate::extract::{Body, Caller, DryRun, Params, meta};
use crate::problem::Problems;
use crate::{AppState, Problem};

/// Create a product (its version 1).
#[utoipa::path(post, path = "/v1/products", tag = "products", request_body = CreateProduct,
    params(DryRun), security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ProductChange),
        (status = 200, description = "Dry run", body = ProductChange),
        (status = 202, description = "Held for approval", body = HeldView),
        Problems))]
pub(crate) async fn create_product(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<CreateProduct>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(s.app.create_product(&p, &body.value, &m).await?))
}

/// Add a product's next version.
#[utoipa::path(post, path = "/v1/products/{code}/versions", tag = "products",
    request_body = AddProductVersion,
    params(("code" = String, Path, description = "The product's code"), DryRun),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = ProductChange),
        (status = 200, description = "Dry run", body = ProductChange),
        (status = 202, description = "Held for approval", body = HeldView),
        Problems))]
pub(crate) async fn product_version(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(code): Path<String>,
    Params(q): Params<DryRun>,
    uri: Uri,
    headers: HeaderMap,
    body: Body<AddProductVersion>,
) -> Result<Response, Problem> {
    let m = meta(&headers, uri.path(), body.digest, q.dry_run)?;
    Ok(outcome(
        s.app
            .add_product_version(&p, &code, &body.value, &m)
            .await?,
    ))
}

/// Every product's latest version.
#[utoipa::path(get, path = "/v1/products", tag = "products", security(("bearer" = [])),
    responses((status = 200, description = "The products", body = ProductList), Problems))]
pub(crate) async fn products(
    State(s): State<AppState>,
    Caller(p): Caller,
) -> Result<Json<ProductList>, Problem> {
    Ok(Json(s.app.products(&p).await?))
}

/// A product version.
#[utoipa::path(get, path = "/v1/products/{code}", tag = "products",
    params(("code" = String, Path, description = "The product's code"), ProductQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The product", body = ProductView), Problems))]
pub(crate) async fn product(
    State(s): State<AppState>,
    Caller(p): Caller,
    Path(code): Path<String>,
    Params(q): Params<ProductQuery>,
) -> Result<Json<ProductView>, Problem> {
    Ok(Json(s.app.product(&p, &code, &q).await?))
}
