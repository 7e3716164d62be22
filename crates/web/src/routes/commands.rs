//! `POST /v1/loans/{id}/COMMAND`: one route per loan command, each with its own body type.
//! A body may repeat the event's `type`, which the route sets.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use loanbook_app::servicing::LoanCommand;
use loanbook_app::views::{CommandResult, HeldView};
use serde_json::Value;

use super::outcome;
use crate::extract::{Caller, DryRun, Params, meta, typed};
use crate::problem::Problems;
use crate::{AppState, Problem, input};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The body as the command's type, once its `type` (if given) is the route's.
fn command_body<T: serde::de::DeserializeOwned>(bytes: &[u8], kind: &str) -> Result<T, Problem> {
    let mut v = input::parse_json(bytes)?;
    if let Some(o) = v.as_object_mut() {
        match o.remove("type") {
            None => {}
            Some(Value::String(t)) if t == kind => {}
            Some(_) => {
                return Err(Problem::invalid(
                    "type",
                    &format!("is set by the endpoint: `{kind}`"),
                ));
            }
        }
    }
    typed(v)
}

/// A loan command's request, typed.
struct Request {
    id: String,
    uri: Uri,
    headers: HeaderMap,
    dry_run: bool,
    bytes: axum::body::Bytes,
}

async fn run(
    s: AppState,
    p: loanbook_app::Principal,
    r: Request,
    cmd: LoanCommand,
) -> Result<Response, Problem> {
    let (id, dry_run) = (r.id, r.dry_run);
    let m = meta(
        &r.headers,
        r.uri.path(),
        loanbook_app::digest(&r.bytes),
        dry_run,
    )?;
    if matches!(cmd, LoanCommand::PostPayment(_)) && m.idempotency_key.is_none() && !dry_run {
        return Err(Problem::invalid(
            "Idempotency-Key",
            "header is required to post a payment",
        ));
    }
    Ok(outcome(s.app.loan_command(&p, &id, &cmd, &m).await?))
}

/// One route per row of the app's loan command table (`loanbook_app::loan_command_table`), and
/// the router that serves them all.
macro_rules! command_routes {
    (
        rights { $($rights:tt)* }
        commands {
            $(
                $(#[$doc:meta])*
                $name:ident => $event:ident $etype:literal, right $right:ident,
                route $route:ident $segment:literal $summary:literal,
                topic $topic:literal { $($fields:tt)* }
            )*
        }
    ) => {
        $(
            #[doc = $summary]
            #[utoipa::path(post, path = concat!("/v1/loans/{id}/", $segment), tag = "commands",
                request_body = loanbook_app::servicing::commands::$name,
                params(("id" = String, Path, description = "The loan's id"), DryRun,
                       ("Idempotency-Key" = Option<String>, Header, description = "Answers a retry with the first answer")),
                security(("bearer" = [])),
                responses(
                    (status = 201, description = "Appended", body = CommandResult),
                    (status = 200, description = "Dry run: the resulting state, nothing written", body = CommandResult),
                    (status = 202, description = "Held for approval", body = HeldView),
                    Problems))]
            pub(crate) async fn $route(
                State(s): State<AppState>,
                Caller(p): Caller,
                Path(id): Path<String>,
                Params(q): Params<DryRun>,
                uri: Uri,
                headers: HeaderMap,
                bytes: axum::body::Bytes,
            ) -> Result<Response, Problem> {
                let cmd: loanbook_app::servicing::commands::$name = command_body(&bytes, $etype)?;
                let r = Request { id, uri, headers, dry_run: q.dry_run, bytes };
                run(s, p, r, LoanCommand::$name(cmd)).await
            }
        )*

        /// Every loan command's route, with its OpenAPI description.
        pub(crate) fn router() -> OpenApiRouter<AppState> {
            OpenApiRouter::new()
                $( .routes(routes!($route)) )*
        }
    };
}

loanbook_app::loan_command_table!(command_routes);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The API serves a command route for exactly the rows of the loan command table.
    #[test]
    fn the_command_routes_are_the_rows_of_the_table() {
        let served: BTreeSet<String> = crate::openapi()
            .paths
            .paths
            .into_iter()
            .filter(|(_, item)| {
                item.post.as_ref().is_some_and(|op| {
                    op.tags
                        .as_ref()
                        .is_some_and(|t| t.iter().any(|t| t == "commands"))
                })
            })
            .map(|(path, _)| path)
            .collect();
        let (_, table) = super::router().split_for_parts();
        let table: BTreeSet<String> = table.paths.paths.into_keys().collect();
        assert!(table.contains("/v1/loans/{id}/payments"));
        assert_eq!(served, table);
    }
}
