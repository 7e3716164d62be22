//! RFC 9457 problem documents: every error the API returns is one, with a stable `type`, the
//! HTTP status, a human `detail`, and for invalid input the `errors` naming field and rule.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use loanbook_app::AppError;
use loanbook_app::StoreError;
use serde_json::{Value, json};

/// The problem document, as the OpenAPI document describes it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProblemDoc {
    /// `urn:loanbook:problem:KIND`, stable.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    pub detail: String,
    /// For invalid input: each field (its JSON path, or the parameter or header) and its rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    /// The rule's stable code (`amount.positive`, `pan.format`, …): what a client branches on.
    #[schema(example = "amount.positive")]
    pub code: String,
    /// The rule in English.
    pub rule: String,
}

/// Every error status an operation can answer, each with a problem document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum Problems {
    #[response(
        status = 400,
        description = "Malformed JSON or request",
        content_type = "application/problem+json"
    )]
    BadRequest(ProblemDoc),
    #[response(
        status = 401,
        description = "No valid bearer token",
        content_type = "application/problem+json"
    )]
    Unauthorized(ProblemDoc),
    #[response(
        status = 403,
        description = "The role may not do this",
        content_type = "application/problem+json"
    )]
    Forbidden(ProblemDoc),
    #[response(
        status = 404,
        description = "No such resource",
        content_type = "application/problem+json"
    )]
    NotFound(ProblemDoc),
    #[response(
        status = 405,
        description = "Method not allowed",
        content_type = "application/problem+json"
    )]
    MethodNotAllowed(ProblemDoc),
    #[response(
        status = 409,
        description = "A conflict: exists already, changed meanwhile, an idempotency key reused or in progress",
        content_type = "application/problem+json"
    )]
    Conflict(ProblemDoc),
    #[response(
        status = 413,
        description = "Body too large",
        content_type = "application/problem+json"
    )]
    TooLarge(ProblemDoc),
    #[response(
        status = 415,
        description = "A body that is not JSON",
        content_type = "application/problem+json"
    )]
    UnsupportedMediaType(ProblemDoc),
    #[response(
        status = 422,
        description = "Invalid input: each field and its rule",
        content_type = "application/problem+json"
    )]
    Invalid(ProblemDoc),
    #[response(
        status = 429,
        description = "Rate limited; see Retry-After",
        content_type = "application/problem+json"
    )]
    RateLimited(ProblemDoc),
    #[response(
        status = 500,
        description = "An internal error (logged)",
        content_type = "application/problem+json"
    )]
    Internal(ProblemDoc),
    #[response(
        status = 503,
        description = "Busy, timed out or not ready; see Retry-After",
        content_type = "application/problem+json"
    )]
    Unavailable(ProblemDoc),
}

#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    detail: String,
    errors: Vec<(String, String, String)>,
    /// Seconds for `Retry-After`: set on any problem a retry may cure (a request still in
    /// progress); 429 and 503 always carry one, 1 unless set.
    retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, detail: &str) -> Problem {
        Problem {
            status,
            kind,
            detail: detail.to_owned(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// Invalid input: 422 naming the field and the rule (a rule without a code of its own:
    /// `invalid`).
    pub fn invalid(field: &str, rule: &str) -> Problem {
        Problem::coded(field, "invalid", rule)
    }

    /// Invalid input: 422 naming the field, the rule's code and the rule.
    pub fn coded(field: &str, code: &str, rule: &str) -> Problem {
        Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "validation",
            detail: format!("{field}: {rule}"),
            errors: vec![(field.to_owned(), code.to_owned(), rule.to_owned())],
            retry_after: None,
        }
    }

    /// Ask the client to wait this many seconds before trying again.
    pub fn retry_after(mut self, seconds: u64) -> Problem {
        self.retry_after = Some(seconds);
        self
    }

    fn body(&self) -> Value {
        let mut v = json!({
            "type": format!("urn:loanbook:problem:{}", self.kind),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            v["errors"] = self
                .errors
                .iter()
                .map(|(field, code, rule)| json!({"field": field, "code": code, "rule": rule}))
                .collect();
        }
        if let Some(id) = crate::request_id::current() {
            v["request_id"] = Value::String(id.to_string());
        }
        v
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body())).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        match self.status {
            StatusCode::UNAUTHORIZED => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"loanbook\""),
                );
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(self.retry_after.unwrap_or(1)),
                );
            }
            _ => {}
        }
        res
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        let detail = e.to_string();
        match e {
            AppError::Unauthorized => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", &detail)
            }
            AppError::Forbidden { .. } => Problem::new(StatusCode::FORBIDDEN, "forbidden", &detail),
            AppError::NotFound(_) => Problem::new(StatusCode::NOT_FOUND, "not-found", &detail),
            AppError::Invalid(errors) => Problem {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "validation",
                detail,
                errors: errors
                    .into_iter()
                    .map(|f| (f.field, f.code.to_owned(), f.rule))
                    .collect(),
                retry_after: None,
            },
            AppError::IdempotencyMismatch { .. } => {
                Problem::new(StatusCode::CONFLICT, "idempotency-key-reused", &detail)
            }
            AppError::InProgress(_) => {
                Problem::new(StatusCode::CONFLICT, "request-in-progress", &detail).retry_after(1)
            }
            AppError::Conflict(_) => Problem::new(StatusCode::CONFLICT, "conflict", &detail),
            AppError::Store(StoreError::NotFound { .. }) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", &detail)
            }
            AppError::Store(StoreError::Duplicate { .. } | StoreError::Conflict { .. }) => {
                Problem::new(StatusCode::CONFLICT, "conflict", &detail)
            }
            AppError::Store(s) if s.is_retryable() => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", &detail).retry_after(1)
            }
            AppError::Store(s) => {
                let error = loanbook_app::masking::mask_text(&s.to_string());
                tracing::error!(%error, "store failure");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the request could not be completed; it has been logged",
                )
            }
        }
    }
}

/// Turn any error response that is not yet a problem document (the framework's own 404, 405,
/// 413, and extractor rejections) into one, keeping its status and message.
pub async fn ensure_problem(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = to_bytes(Body::new(body), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "bad-request",
    };
    let detail = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut res = Problem::new(status, kind, &detail).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            res.headers_mut().insert(name.clone(), value.clone());
        }
    }
    res
}
