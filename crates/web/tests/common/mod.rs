//! What the API tests share: a real server on a random port with a fresh database, on SQLite
//! and on PostgreSQL, and a client that checks every error is a problem document.
#![allow(dead_code)]

use std::sync::Arc;

use loanbook_app::{App, FixedClock, Role};

/// The date the tests' clock starts on (and so the book's first business date).
pub const TODAY: &str = "2025-06-30";
use loanbook_store::testing::TestDatabase;
use loanbook_web::{WebConfig, router, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Run each named test on SQLite and on PostgreSQL, each with a fresh database and server.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = loanbook_store::testing::TestDatabase::sqlite();
                    super::$name(super::common::Server::start(&db).await).await;
                    db.drop_database().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = loanbook_store::testing::TestDatabase::postgres()
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    super::$name(super::common::Server::start(&db).await).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub admin: String,
    pub app: Arc<App>,
    pub clock: Arc<FixedClock>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    pub async fn start(db: &TestDatabase) -> Server {
        Server::start_with(
            db,
            WebConfig {
                body_limit: 64 * 1024,
                ..WebConfig::default()
            },
        )
        .await
    }

    pub async fn start_with(db: &TestDatabase, config: WebConfig) -> Server {
        let store = loanbook_store::connect(&db.url).await.unwrap();
        // A fixed clock: the tests do not depend on today's date; they move time themselves.
        let clock = Arc::new(FixedClock::on(
            loanbook_domain::calendar::parse_date(TODAY).unwrap(),
        ));
        let app = Arc::new(App::new(store, "main", clock.clone()).await.unwrap());
        let admin = app.admin_init("admin").await.unwrap();
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
            clock,
            _stop: tx,
        }
    }

    pub async fn token(&self, name: &str, role: Role, partner: Option<&str>) -> String {
        self.app
            .create_user(None, name, role, partner)
            .await
            .unwrap()
    }

    pub async fn post(
        &self,
        token: &str,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        self.post_raw(token, path, body.to_string(), key).await
    }

    pub async fn post_raw(
        &self,
        token: &str,
        path: &str,
        body: String,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let is_problem = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/problem+json"));
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            assert!(is_problem, "{status} without problem+json: {body}");
            assert_eq!(body["status"], status.as_u16(), "{body}");
        }
        (status, body)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Book the RBI example loan and disburse it; returns its id.
    pub async fn booked_loan(&self, number: &str, terms: Value) -> String {
        let (s, b) = self
            .post(
                &self.admin,
                "/v1/loans",
                &json!({"loan_number": number, "terms": terms}),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let id = b["id"].as_str().unwrap().to_owned();
        let (s, b) = self
            .post(
                &self.admin,
                &format!("/v1/loans/{id}/disbursements"),
                &json!({"date": "2024-01-01", "amount": terms["principal"]}),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        id
    }

    pub async fn event_count(&self, id: &str) -> usize {
        let (_, b) = self
            .get(&self.admin, &format!("/v1/loans/{id}/events"))
            .await;
        b["events"].as_array().unwrap().len()
    }
}

pub fn rbi_terms() -> Value {
    json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "fees": [{"name": "processing", "amount": "400.00", "collect": "deduct"}]
    })
}

pub fn payment(date: &str, amount: &str, reference: &str) -> Value {
    json!({"date": date, "amount": amount, "reference": reference, "channel": "nach"})
}
