//! Access to the API over a real server on a random port with a fresh database, on SQLite and
//! PostgreSQL: token lifetime and revocation, limits on failed authentication, request ids and
//! the access log, panics and timeouts as problems, strict input.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use loanbook_app::{App, Role, token_hash};
use loanbook_store::testing::TestDatabase;
use loanbook_web::{WebConfig, router, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};

loanbook_store::on_both_backends!(
    tokens_are_created_listed_and_revoked_through_the_api_and_audited,
    a_revoked_token_is_refused_at_once_even_when_revoked_by_another_process,
    an_expired_token_is_refused_even_from_the_cache,
    a_bad_token_is_remembered_and_never_reaches_the_database_again,
    failed_authentication_is_limited_per_client_address,
    the_rate_limit_is_per_token,
    the_bearer_scheme_is_case_insensitive,
    every_request_has_an_id_in_its_header_its_problem_and_its_access_line,
    a_panic_answers_a_problem_with_the_request_id,
    a_slow_request_answers_a_timeout_problem,
    control_characters_are_refused_in_bodies_paths_and_queries,
    duplicate_json_keys_are_refused_naming_the_key,
    a_body_must_be_sent_as_json,
);

struct Server {
    base: String,
    http: reqwest::Client,
    admin: String,
    app: Arc<App>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn config() -> WebConfig {
    WebConfig {
        body_limit: 64 * 1024,
        test_routes: true,
        ..WebConfig::default()
    }
}

impl Server {
    async fn start(db: &TestDatabase, config: WebConfig) -> Server {
        let store = loanbook_store::connect(&db.url).await.unwrap();
        let app = Arc::new(
            App::new(
                store,
                "main",
                std::sync::Arc::new(loanbook_app::SystemClock),
            )
            .await
            .unwrap(),
        );
        let admin = match app.admin_init("admin").await {
            Ok(t) => t,
            // A second server on the same database.
            Err(_) => app
                .create_user(None, "admin", Role::Admin, None)
                .await
                .unwrap(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let r = router(app.clone(), config);
        tokio::spawn(async move {
            serve(listener, r, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Server {
            base,
            http: reqwest::Client::new(),
            admin,
            app,
            _stop: tx,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.admin)
            .body(body.to_owned());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send().await.unwrap()
    }

    async fn new_token(&self, user: &str, role: &str, expires: &str) -> (String, String) {
        let (st, b) = self
            .post(
                &self.admin,
                "/v1/tokens",
                &json!({"user": user, "role": role, "expires": expires}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        (
            b["token"].as_str().unwrap().to_owned(),
            b["id"].as_str().unwrap().to_owned(),
        )
    }
}

fn is_problem(res: &reqwest::Response) -> bool {
    res.headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/problem+json"))
}

fn rbi_terms() -> Value {
    json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01"
    })
}

async fn tokens_are_created_listed_and_revoked_through_the_api_and_audited(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/tokens",
            &json!({"user": "asha", "role": "operations", "expires": "90d"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let token = b["token"].as_str().unwrap().to_owned();
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(b["user"], "asha");
    assert_eq!(b["role"], "operations");
    assert_eq!(b["status"], "active");
    assert_eq!(b["prefix"].as_str().unwrap(), &token[..11]);
    let expires: jiff::Timestamp = b["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - jiff::Timestamp::now()).get_seconds() / 86_400;
    assert!((89..=90).contains(&days), "{days}");
    // Only admins manage tokens; bad lifetimes and roles name their field.
    let (st, _) = s.get(&token, "/v1/tokens").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for (body, field) in [
        (
            json!({"user": "x", "role": "operations", "expires": "90w"}),
            "expires",
        ),
        (json!({"user": "x", "role": "boss"}), "role"),
        (json!({"user": "x", "role": "partner"}), "partner"),
        (
            json!({"user": "x", "role": "auditor", "colour": "red"}),
            "colour",
        ),
    ] {
        let (st, b) = s.post(&s.admin, "/v1/tokens", &body).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["errors"][0]["field"], field, "{b}");
    }
    // The list names tokens and never shows a secret or hash.
    let (st, list) = s.get(&s.admin, "/v1/tokens").await;
    assert_eq!(st, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&token) && !text.contains(&token_hash(&token)));
    assert!(!text.contains(&s.admin));
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{list}");
    assert!(tokens.iter().any(|t| t["id"] == id.as_str()));
    let (st, _) = s.get(&token, "/v1/loans").await;
    assert_eq!(st, StatusCode::OK);

    let (st, b) = s
        .post(&s.admin, &format!("/v1/tokens/{id}/revoke"), &json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "revoked");
    assert_eq!(b["revoked_by"], "admin");
    let (st, _) = s.get(&token, "/v1/loans").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Again: the same answer; an unknown id is 404.
    let (st, b) = s
        .post(&s.admin, &format!("/v1/tokens/{id}/revoke"), &json!({}))
        .await;
    assert_eq!((st, &b["status"]), (StatusCode::OK, &json!("revoked")));
    let (st, _) = s.post(&s.admin, "/v1/tokens/nope/revoke", &json!({})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let audit = s.app.store().audit_records().await.unwrap();
    let target = format!("token/{id}");
    let actions: Vec<&str> = audit
        .iter()
        .filter(|r| r.entry.target == target)
        .map(|r| r.entry.action.as_str())
        .collect();
    assert_eq!(actions, ["create_token", "revoke_token"]);
    assert!(s.app.verify_audit().await.unwrap().is_ok());
}

async fn a_revoked_token_is_refused_at_once_even_when_revoked_by_another_process(
    db: &TestDatabase,
) {
    let s = Server::start(db, config()).await;
    let (token, id) = s.new_token("olga", "operations", "none").await;
    // Cached by the server now.
    for _ in 0..3 {
        assert_eq!(s.get(&token, "/v1/loans").await.0, StatusCode::OK);
    }
    // What `loanbook token revoke` does: its own connection and its own App, no shared memory.
    let other = App::new(
        loanbook_store::connect(&db.url).await.unwrap(),
        "main",
        std::sync::Arc::new(loanbook_app::SystemClock),
    )
    .await
    .unwrap();
    let t = other.revoke_token(None, &id).await.unwrap();
    assert_eq!(t.revoked_by.as_deref(), Some("cli"));
    let (st, _) = s.get(&token, "/v1/loans").await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "the server's cache must not outlive a revocation"
    );
    // Other tokens are unaffected.
    assert_eq!(s.get(&s.admin, "/v1/loans").await.0, StatusCode::OK);
}

async fn an_expired_token_is_refused_even_from_the_cache(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    let (token, _) = s.new_token("eve", "auditor", "2s").await;
    assert_eq!(s.get(&token, "/v1/loans").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let res = s
        .http
        .get(s.url("/v1/loans"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (_, list) = s.get(&s.admin, "/v1/tokens").await;
    let eve = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "eve")
        .unwrap()
        .clone();
    assert_eq!(eve["status"], "expired");
}

async fn a_bad_token_is_remembered_and_never_reaches_the_database_again(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    let guess = format!("lb_{}", "7".repeat(64));
    let (st, _) = s.get(&guess, "/v1/loans").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Behind the server's back, the guessed secret becomes a real token in the database ...
    let user = s.app.store().user_by_name("admin").await.unwrap().unwrap();
    let audit = loanbook_store::AuditEntry {
        at: "2024-01-01T00:00:00Z".into(),
        actor: "test".into(),
        action: "create_token".into(),
        target: "token/planted".into(),
        request_digest: String::new(),
        event_ids: vec![],
    };
    let planted = loanbook_store::NewToken {
        id: "planted".into(),
        hash: token_hash(&guess),
        prefix: guess[..11].to_owned(),
        user_id: user.id,
        created_at: "2024-01-01T00:00:00Z".into(),
        expires_at: None,
    };
    s.app.store().issue_token(&planted, &audit).await.unwrap();
    // ... and a server without the memory of the failure would let it in,
    let fresh = Server::start(db, config()).await;
    assert_eq!(fresh.get(&guess, "/v1/loans").await.0, StatusCode::OK);
    // but this one answers from its negative cache, without asking the database.
    assert_eq!(s.get(&guess, "/v1/loans").await.0, StatusCode::UNAUTHORIZED);
}

async fn failed_authentication_is_limited_per_client_address(db: &TestDatabase) {
    // One failure a second: what follows the first failure within the second is over the limit.
    let s = Server::start(
        db,
        WebConfig {
            auth_failure_limit: 1,
            ..config()
        },
    )
    .await;
    // No header at all is a failure too.
    let res = s.http.get(s.url("/v1/loans")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(is_problem(&res));
    let h = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(h.starts_with("Bearer"), "{h}");
    for token in ["lb_bad1", "lb_bad2", s.admin.as_str()] {
        let res = s
            .http
            .get(s.url("/v1/loans"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{token}");
        assert!(is_problem(&res));
        assert_eq!(res.headers()["retry-after"], "1");
        assert!(!res.headers().contains_key("www-authenticate"));
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["type"], "urn:loanbook:problem:rate-limited");
    }
    // The address may try again once the limiter has a cell for it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(s.get(&s.admin, "/v1/loans").await.0, StatusCode::OK);
}

async fn the_rate_limit_is_per_token(db: &TestDatabase) {
    let s = Server::start(
        db,
        WebConfig {
            rate_limit: 2,
            ..config()
        },
    )
    .await;
    // Two tokens of one user: each has its own limit.
    let first = s
        .app
        .create_user(None, "olga", Role::Operations, None)
        .await
        .unwrap();
    let second = s
        .app
        .create_user(None, "olga", Role::Operations, None)
        .await
        .unwrap();
    let mut limited = None;
    for _ in 0..12 {
        let res = s
            .http
            .get(s.url("/v1/loans"))
            .bearer_auth(&first)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the third request within a second is over the limit");
    assert!(is_problem(&res));
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        s.get(&second, "/v1/loans").await.0,
        StatusCode::OK,
        "another token of the same user has its own limit"
    );
}

async fn the_bearer_scheme_is_case_insensitive(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let res = s
            .http
            .get(s.url("/v1/loans"))
            .header("authorization", format!("{scheme} {}", s.admin))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{scheme}");
    }
    let res = s
        .http
        .get(s.url("/v1/loans"))
        .header("authorization", format!("Basic {}", s.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// Everything the server logs, as lines, in one buffer for the whole test binary.
fn log_lines() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || Sink(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The access line of the request with this id.
fn access_line(request_id: &str) -> Value {
    let text = String::from_utf8(log_lines().lock().unwrap().clone()).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["target"] == "loanbook::access" && v["fields"]["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no access line for {request_id}"))
}

async fn every_request_has_an_id_in_its_header_its_problem_and_its_access_line(db: &TestDatabase) {
    log_lines();
    let s = Server::start(db, config()).await;
    // The client's id is kept and echoed.
    let mine = format!("req-{}", uuid::Uuid::now_v7());
    let res = s
        .http
        .post(s.url("/v1/loans/no-such-loan/payments"))
        .bearer_auth(&s.admin)
        .header("x-request-id", &mine)
        .header("idempotency-key", "k1")
        .json(&json!({"date": "2024-02-01", "amount": "1.00", "reference": "R"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()["x-request-id"], mine.as_str());
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["request_id"], mine.as_str(), "{b}");
    let line = access_line(&mine);
    let f = &line["fields"];
    assert_eq!(f["method"], "POST");
    assert_eq!(f["route"], "/v1/loans/{id}/payments");
    assert_eq!(f["status"], 404);
    assert_eq!(f["user"], "admin");
    assert!(f["latency_ms"].as_f64().unwrap() >= 0.0, "{line}");
    // Without one, or with one that is too long or has spaces, the server makes a UUIDv7.
    for given in [None, Some("x".repeat(201)), Some("two words".to_owned())] {
        let mut req = s.http.get(s.url("/v1/loans"));
        if let Some(g) = &given {
            req = req.header("x-request-id", g);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let uuid = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["request_id"], id.as_str());
        let line = access_line(&id);
        assert_eq!(line["fields"]["status"], 401);
        assert!(
            line["fields"].get("user").is_none_or(Value::is_null),
            "{line}"
        );
    }
    // A route that does not exist is logged too, and its problem carries the id.
    let res = s.http.get(s.url("/nowhere")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["request_id"], id.as_str());
    access_line(&id);
}

async fn a_panic_answers_a_problem_with_the_request_id(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    let res = s
        .http
        .get(s.url("/v1/test/panic"))
        .header("x-request-id", "panic-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(is_problem(&res));
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["type"], "urn:loanbook:problem:internal");
    assert_eq!(b["request_id"], "panic-1");
    assert!(
        !b.to_string().contains("on purpose"),
        "the panic message is logged, not shown"
    );
    // The server goes on.
    assert_eq!(s.get(&s.admin, "/v1/loans").await.0, StatusCode::OK);
    // Test routes exist only when asked for.
    let plain = Server::start(db, WebConfig::default()).await;
    let res = plain
        .http
        .get(plain.url("/v1/test/panic"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn a_slow_request_answers_a_timeout_problem(db: &TestDatabase) {
    let s = Server::start(
        db,
        WebConfig {
            request_timeout: Duration::from_millis(300),
            ..config()
        },
    )
    .await;
    let res = s
        .http
        .get(s.url("/v1/test/slow"))
        .header("x-request-id", "slow-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(is_problem(&res));
    assert_eq!(res.headers()["retry-after"], "1");
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["type"], "urn:loanbook:problem:timeout");
    assert_eq!(b["request_id"], "slow-1");
}

async fn control_characters_are_refused_in_bodies_paths_and_queries(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    let refused = |res: reqwest::Response, field: &'static str| async move {
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(is_problem(&res));
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["errors"][0]["field"], field, "{b}");
    };
    let mut partnered = rbi_terms();
    partnered["partners"] = json!([{"id": "ba\u{0}nk", "share": "80", "annual_rate": "14"},
                                   {"id": "nbfc", "share": "20", "annual_rate": "18"}]);
    for (body, field) in [
        (
            json!({"loan_number": "LN\u{0}1", "terms": rbi_terms()}),
            "loan_number",
        ),
        (
            json!({"loan_number": "LN\t1", "terms": rbi_terms()}),
            "loan_number",
        ),
        (
            json!({"loan_number": "LN\n1", "terms": rbi_terms()}),
            "loan_number",
        ),
        (
            json!({"loan_number": "LN-1", "terms": partnered}),
            "terms.partners[0].id",
        ),
    ] {
        refused(
            s.post_raw("/v1/loans", Some("application/json"), &body.to_string())
                .await,
            field,
        )
        .await;
    }
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/parties",
            &json!({"kind": "borrower", "name": "A\u{0}B"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["field"], "name");
    let get = |path: &str| s.http.get(s.url(path)).bearer_auth(&s.admin).send();
    refused(get("/v1/loans/ab%00cd").await.unwrap(), "id").await;
    refused(get("/v1/loans/ab%0Acd/events").await.unwrap(), "id").await;
    refused(get("/v1/loans?status=active%00").await.unwrap(), "status").await;
    refused(get("/v1/parties?kind=%01").await.unwrap(), "kind").await;
    // Nothing was written; the database is fine.
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/loans",
            &json!({"loan_number": "LN-1", "terms": rbi_terms()}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (_, b) = s.get(&s.admin, "/v1/loans").await;
    assert_eq!(b["items"].as_array().map(Vec::len), Some(1), "{b}");
}

async fn duplicate_json_keys_are_refused_naming_the_key(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    let terms = rbi_terms().to_string();
    for (body, field) in [
        (
            format!(r#"{{"loan_number": "LN-1", "loan_number": "LN-2", "terms": {terms}}}"#),
            "loan_number",
        ),
        (
            format!(
                r#"{{"loan_number": "LN-1", "terms": {}, "principal": "1.00"}}}}"#,
                &terms[..terms.len() - 1]
            ),
            "terms.principal",
        ),
    ] {
        let res = s
            .post_raw("/v1/loans", Some("application/json"), &body)
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["errors"][0]["field"], field, "{b}");
        assert!(
            b["errors"][0]["rule"]
                .as_str()
                .unwrap()
                .contains("more than once")
        );
    }
    let (_, b) = s.get(&s.admin, "/v1/loans").await;
    assert_eq!(b["items"].as_array().map(Vec::len), Some(0), "{b}");
}

async fn a_body_must_be_sent_as_json(db: &TestDatabase) {
    let s = Server::start(db, config()).await;
    let body = json!({"loan_number": "LN-1", "terms": rbi_terms()}).to_string();
    for ct in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=latin1"),
    ] {
        let res = s.post_raw("/v1/loans", ct, &body).await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert!(is_problem(&res));
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["type"], "urn:loanbook:problem:unsupported-media-type");
    }
    let res = s
        .post_raw("/v1/loans", Some("application/json; charset=utf-8"), &body)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}
