//! The OpenAPI 3.1 description of the API, and a readable page made from it.
//!
//! Written as data rather than derived: request and response bodies are the domain's own JSON
//! formats (terms, events, loan state; see docs/terms.md and docs/events.md), which the handlers
//! pass through as JSON rather than through mirror structs that a derive would need.

use serde_json::{Value, json};

/// The command endpoints: path segment, event type, summary.
pub const COMMANDS: [(&str, &str, &str); 13] = [
    (
        "disbursements",
        "disbursement",
        "Disburse (the first disbursement or a later tranche)",
    ),
    (
        "payments",
        "payment",
        "Post a payment (requires an Idempotency-Key header)",
    ),
    (
        "reversals",
        "payment_reversal",
        "Reverse a payment (bounce or mistaken posting)",
    ),
    ("charges", "charge", "Levy a charge (bounce, penal, other)"),
    (
        "waivers",
        "waiver",
        "Waive charges or interest due (large waivers need approval)",
    ),
    (
        "prepayments",
        "prepayment",
        "Prepay principal, reducing the EMI or the tenure",
    ),
    (
        "rate-changes",
        "rate_change",
        "Change the rate, keeping the EMI or the tenure",
    ),
    (
        "restructures",
        "restructure",
        "Restructure (needs approval)",
    ),
    (
        "write-offs",
        "write_off",
        "Write the loan off (needs approval)",
    ),
    (
        "loss-identifications",
        "loss_identified",
        "Identify an NPA as a loss asset (needs approval)",
    ),
    (
        "recoveries",
        "recovery",
        "Record money recovered after a write-off",
    ),
    (
        "settlements",
        "settlement",
        "Settle the loan for an agreed amount",
    ),
    (
        "foreclosures",
        "foreclosure",
        "Foreclose: pay the loan off on a date",
    ),
];

fn problem_responses() -> Value {
    let p = json!({"description": "A problem document (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    json!({
        "400": p, "401": p, "403": p, "404": p, "409": p, "413": p, "415": p, "422": p, "429": p,
        "500": p, "503": p,
    })
}

fn with_problems(mut responses: Value) -> Value {
    if let (Some(r), Value::Object(p)) = (responses.as_object_mut(), problem_responses()) {
        for (k, v) in p {
            r.entry(k).or_insert(v);
        }
    }
    responses
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The loan id"})
}

fn dry_run_param() -> Value {
    json!({"name": "dry_run", "in": "query", "schema": {"type": "boolean"}, "description": "Answer with the resulting state, writing nothing"})
}

fn ok(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}})
}

/// The OpenAPI document served at `/openapi.json`.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("/health".into(), json!({"get": {"summary": "Liveness", "security": [], "responses": {"200": ok("The service is up")}}}));
    paths.insert("/metrics".into(), json!({"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "Prometheus text format"}}}}));
    paths.insert("/v1/loans".into(), json!({
        "post": {
            "summary": "Book a loan from its terms, optionally with the events that already happened to it",
            "parameters": [dry_run_param(), {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Booking"}}}},
            "responses": with_problems(json!({"201": ok("The booked loan and its state"), "200": ok("Dry run: the state it would have")})),
        },
        "get": {
            "summary": "List loans from their projections",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "active", "closed", "written_off", "settled", "foreclosed"]}},
                {"name": "classification", "in": "query", "schema": {"type": "string", "enum": ["standard", "sma0", "sma1", "sma2", "npa"]}},
                {"name": "dpd_min", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100000}},
                {"name": "dpd_max", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100000}},
                {"name": "loan_number", "in": "query", "schema": {"type": "string"}},
                {"name": "partner", "in": "query", "schema": {"type": "string"}},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
            ],
            "responses": with_problems(json!({"200": ok("{items, next_cursor}")})),
        }
    }));
    paths.insert("/v1/loans/{id}".into(), json!({"get": {
        "summary": "A loan's state at the end of a day (default: the business date), replayed from its events",
        "parameters": [id_param(), {"name": "as_of", "in": "query", "schema": {"type": "string", "format": "date"}}],
        "responses": with_problems(json!({"200": ok("The same state as `loanbook replay --json`")})),
    }}));
    paths.insert("/v1/loans/{id}/events".into(), json!({"get": {
        "summary": "A loan's events in the order recorded",
        "parameters": [id_param()],
        "responses": with_problems(json!({"200": ok("{loan_id, events: [{seq, value_date, recorded_at, event}]}")})),
    }}));
    paths.insert("/v1/loans/{id}/foreclosure-quote".into(), json!({"get": {
        "summary": "The amount that pays the loan off on a date",
        "parameters": [id_param(), {"name": "date", "in": "query", "schema": {"type": "string", "format": "date"}}],
        "responses": with_problems(json!({"200": ok("{loan_id, date, amount}")})),
    }}));
    for (segment, event, summary) in COMMANDS {
        let mut params = vec![id_param(), dry_run_param()];
        params.push(json!({"name": "Idempotency-Key", "in": "header", "required": event == "payment", "schema": {"type": "string", "maxLength": 255}}));
        paths.insert(format!("/v1/loans/{{id}}/{segment}"), json!({"post": {
            "summary": summary,
            "description": format!("Appends a `{event}` event; the body is the event without its `type` (docs/events.md)."),
            "parameters": params,
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": with_problems(json!({
                "201": ok("The appended event and the loan's state"),
                "202": ok("Held for approval: {approval}"),
                "200": ok("Dry run: the resulting state"),
            })),
        }}));
    }
    paths.insert("/v1/business-date".into(), json!({
        "get": {"summary": "The book's business date", "responses": with_problems(json!({"200": ok("{business_date}")}))},
        "put": {"summary": "Move the business date forward (admin): {date}", "responses": with_problems(json!({"200": ok("{book, business_date, previous}")}))},
    }));
    paths.insert("/v1/products".into(), json!({
        "post": {"summary": "Create a product (version 1): {code, name, config: {terms: template}}; held for approval",
                 "parameters": [dry_run_param()],
                 "responses": with_problems(json!({"202": ok("Held for approval"), "201": ok("Created"), "200": ok("Dry run")}))},
        "get": {"summary": "Products at their latest versions", "responses": with_problems(json!({"200": ok("{items}")}))},
    }));
    paths.insert("/v1/products/{code}".into(), json!({"get": {
        "summary": "A product at its latest version or ?version=N",
        "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}},
                       {"name": "version", "in": "query", "schema": {"type": "integer"}}],
        "responses": with_problems(json!({"200": ok("The product version")})),
    }}));
    paths.insert("/v1/products/{code}/versions".into(), json!({"post": {
        "summary": "Add the next version of a product: {name?, config}; held for approval",
        "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}, dry_run_param()],
        "responses": with_problems(json!({"202": ok("Held for approval"), "201": ok("Created")})),
    }}));
    paths.insert(
        "/v1/parties".into(),
        json!({
            "post": {"summary": "Record a borrower, guarantor or partner: {kind, name, details}",
                     "responses": with_problems(json!({"201": ok("The party")}))},
            "get": {"summary": "Parties (identifiers masked for roles that do not need them)",
                    "parameters": [{"name": "kind", "in": "query", "schema": {"type": "string"}},
                                   {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                                   {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": with_problems(json!({"200": ok("{items, next_cursor}")}))},
        }),
    );
    paths.insert("/v1/parties/{id}".into(), json!({"get": {
        "summary": "One party",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": with_problems(json!({"200": ok("The party")})),
    }}));
    paths.extend(
        crate::audit::paths()
            .into_iter()
            .chain(crate::health::paths()),
    );
    paths.insert("/v1/webhooks".into(), json!({
        "post": {
            "summary": "Subscribe a URL to outbox topics (admin); the answer shows the signing secret once",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["url"], "properties": {
                "url": {"type": "string"}, "topics": {"type": "array", "items": {"type": "string"}}}}}}},
            "responses": with_problems(json!({"201": ok("The endpoint with its secret")})),
        },
        "get": {"summary": "Webhook endpoints (admin)", "responses": with_problems(json!({"200": ok("{items}")}))},
    }));
    paths.insert("/v1/webhooks/{id}/deliveries".into(), json!({"get": {
        "summary": "Delivery status of an endpoint's messages",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": with_problems(json!({"200": ok("{items}")})),
    }}));
    paths.insert("/v1/approvals".into(), json!({"get": {
        "summary": "Maker-checker requests",
        "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "approved", "rejected"]}}],
        "responses": with_problems(json!({"200": ok("{items}")})),
    }}));
    paths.insert("/v1/approvals/{id}".into(), json!({"get": {
        "summary": "One request",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": with_problems(json!({"200": ok("The request")})),
    }}));
    for decision in ["approve", "reject"] {
        paths.insert(format!("/v1/approvals/{{id}}/{decision}"), json!({"post": {
            "summary": format!("{decision} a request (never one's own)"),
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": with_problems(json!({"201": ok("approve: the command's result"), "200": ok("reject: the request")})),
        }}));
    }
    paths.insert("/v1/tokens".into(), json!({
        "post": {
            "summary": "Create a token for a user and role (admin); the answer shows the secret once",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["user", "role"], "additionalProperties": false, "properties": {
                "user": {"type": "string", "maxLength": 100},
                "role": {"type": "string", "enum": ["admin", "credit", "operations", "collections", "auditor", "partner"]},
                "partner": {"type": "string", "description": "For the partner role: the co-lending partner id"},
                "expires": {"type": "string", "description": "90d, 12h, 30m, or none (the default)"}}}}}},
            "responses": with_problems(json!({"201": ok("The token with its secret")})),
        },
        "get": {"summary": "Tokens (admin): ids, prefixes, users, lifetimes, never secrets", "responses": with_problems(json!({"200": ok("{tokens}")}))},
    }));
    paths.insert("/v1/tokens/{id}/revoke".into(), json!({"post": {
        "summary": "Revoke a token (admin): 401 for it from now on, in every server",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": with_problems(json!({"200": ok("The token")})),
    }}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Loanbook API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Loan servicing on one event-sourced record. Money is a decimal string in the loan's currency, dates are YYYY-MM-DD, every error is an RFC 9457 problem document naming the field and the rule.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "An API token from `loanbook token create`"}},
            "schemas": {
                "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                    "request_id": {"type": "string", "description": "The request's X-Request-Id"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "rule": {"type": "string"}}}},
                }},
                "Booking": {"type": "object", "required": ["loan_number", "terms"], "additionalProperties": false, "properties": {
                    "loan_number": {"type": "string", "maxLength": 64},
                    "terms": {"type": "object", "description": "Loan terms, docs/terms.md"},
                    "borrower_id": {"type": "string", "description": "A party id"},
                    "product": {"type": "string", "description": "A product code: its terms template fills in the terms left out"},
                    "product_version": {"type": "integer", "description": "Default: the latest"},
                    "events": {"type": "array", "items": {"type": "object"}, "description": "Events already happened, docs/events.md"},
                }},
            },
        },
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A readable page of the same document, rendered on the server (no scripts, nothing fetched).
pub fn page() -> String {
    let doc = document();
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            if let Some(ops) = ops.as_object() {
                for (method, op) in ops {
                    let params: Vec<String> = op["parameters"]
                        .as_array()
                        .map(|ps| {
                            ps.iter()
                                .map(|p| {
                                    format!(
                                        "{} ({})",
                                        p["name"].as_str().unwrap_or(""),
                                        p["in"].as_str().unwrap_or("")
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    rows.push_str(&format!(
                        "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                        method.to_uppercase(),
                        escape(path),
                        escape(op["summary"].as_str().unwrap_or("")),
                        escape(&params.join(", "))
                    ));
                }
            }
        }
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Loanbook API</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}}table{{border-collapse:collapse}}\
         td,th{{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}}</style></head>\
         <body><h1>Loanbook API {}</h1><p>{}</p><p>Authenticate with <code>Authorization: Bearer TOKEN</code>. \
         The machine-readable description is at <a href=\"/openapi.json\">/openapi.json</a>.</p>\
         <table><tr><th>Method</th><th>Path</th><th>What it does</th><th>Parameters</th></tr>\n{}</table></body></html>",
        escape(doc["info"]["version"].as_str().unwrap_or("")),
        escape(doc["info"]["description"].as_str().unwrap_or("")),
        rows
    )
}
