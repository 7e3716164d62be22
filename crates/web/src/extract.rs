//! What a handler takes from a request, each refusal a problem document: the caller (from the
//! bearer token), a JSON body typed strictly (the field path and the rule of what it refuses),
//! query parameters typed (naming the parameter), and what a write carries besides its body.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use loanbook_app::{Principal, RequestMeta, digest};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{AppState, Problem, input};

/// The authenticated caller (see [`crate::auth`]).
pub(crate) struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Problem> {
        crate::auth::principal(&s.app, &s.guard, &parts.headers)
            .await
            .map(Caller)
    }
}

/// A JSON body parsed strictly (no duplicate keys, no control characters) and then typed.
pub(crate) struct Body<T> {
    pub value: T,
    /// SHA-256 of the body as sent: what an idempotency key is bound to.
    pub digest: String,
}

/// The field a serde error is about: its path, and for an unknown field the field itself.
fn field_of(path: &str, message: &str) -> String {
    let base = if path == "." { "" } else { path };
    // The path of an unknown field ends with the field already.
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((name, _)) = rest.split_once('`') {
            if base.is_empty() {
                return name.to_owned();
            }
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((name, _)) = rest.split_once('`') {
            return if base.is_empty() {
                name.to_owned()
            } else {
                format!("{base}.{name}")
            };
        }
    }
    if base.is_empty() {
        "body".to_owned()
    } else {
        base.to_owned()
    }
}

/// Type a strictly parsed body, naming the field of the first error.
pub(crate) fn typed<T: DeserializeOwned>(v: Value) -> Result<T, Problem> {
    if !v.is_object() {
        return Err(Problem::invalid("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let rule = e.inner().to_string();
        let field = field_of(&e.path().to_string(), &rule);
        if rule.starts_with("unknown field") {
            Problem::coded(&field, "field.unknown", "is not a field of this request")
        } else if rule.starts_with("missing field") {
            Problem::coded(&field, "field.missing", "is required")
        } else {
            // The domain's reading of a JSON error: `json.type`, `enum.unknown`, `date.format`, …
            let code = loanbook_domain::terms::FieldError::from_json(&field, e.inner()).code;
            Problem::coded(&field, code, &rule)
        }
    })
}

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Problem> {
        let bytes = axum::body::Bytes::from_request(req, s)
            .await
            .map_err(|e| Problem::new(e.status(), "bad-request", &e.body_text()))?;
        let v = input::parse_json(&bytes)?;
        Ok(Body {
            value: typed(v)?,
            digest: digest(&bytes),
        })
    }
}

/// Query parameters, typed; a bad one is named.
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Params)
            .map_err(|e| {
                let rule = e.inner().to_string();
                let field = field_of(&e.path().to_string(), &rule);
                if rule.starts_with("unknown field") {
                    Problem::invalid(&field, "is not a parameter of this request")
                } else {
                    Problem::invalid(&field, &rule)
                }
            })
    }
}

/// `?dry_run=true`: show the result without writing anything.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DryRun {
    /// Answer with the resulting state (the whole schedule) and write nothing.
    #[serde(default, deserialize_with = "flag")]
    pub dry_run: bool,
}

fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "true" | "" => Ok(true),
        "false" => Ok(false),
        _ => Err(serde::de::Error::custom("must be true or false")),
    }
}

/// What a write request carries besides its body. `target` is the request's method and path
/// (with its ids): an idempotency key answers only requests to the same target.
pub(crate) fn meta(
    headers: &HeaderMap,
    path: &str,
    digest: String,
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
        target: format!("POST {path}"),
        digest,
        dry_run,
    })
}

/// The status a command's outcome is answered with.
pub(crate) fn status(kind: loanbook_app::OutcomeKind) -> StatusCode {
    match kind {
        loanbook_app::OutcomeKind::Created => StatusCode::CREATED,
        loanbook_app::OutcomeKind::Done => StatusCode::OK,
        loanbook_app::OutcomeKind::Held => StatusCode::ACCEPTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_by_path_and_by_the_field_serde_names() {
        assert_eq!(field_of(".", "unknown field `x`, expected `a`"), "x");
        assert_eq!(field_of("terms.x", "unknown field `x`"), "terms.x");
        assert_eq!(field_of(".", "missing field `date`"), "date");
        assert_eq!(field_of("date", "bad"), "date");
        assert_eq!(field_of(".", "bad"), "body");
    }
}
