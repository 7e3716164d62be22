//! The audit log over HTTP, readiness, and masking of personal data in API views: a real server
//! on a random port with a fresh database, on SQLite and PostgreSQL.

use std::sync::Arc;

use loanbook_app::{App, Role};
use loanbook_store::testing::TestDatabase;
use loanbook_store::{AuditKey, OpenOptions};
use loanbook_web::{WebConfig, router, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = loanbook_store::testing::TestDatabase::sqlite();
                    super::$name(&db, super::Server::start(&db).await).await;
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
                    super::$name(&db, super::Server::start(&db).await).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

on_both!(
    auditors_page_through_the_keyed_audit_log,
    readiness_answers_503_while_the_database_refuses_writes,
    personal_data_is_masked_in_party_views_at_any_depth,
);

struct Server {
    base: String,
    http: reqwest::Client,
    admin: String,
    app: Arc<App>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start(db: &TestDatabase) -> Server {
        let options = OpenOptions {
            audit_key: Some(AuditKey::generate()),
            read_only: false,
        };
        let store = loanbook_store::connect_with(&db.url, &options)
            .await
            .unwrap();
        let app = Arc::new(
            App::new(
                store,
                "main",
                std::sync::Arc::new(loanbook_app::FixedClock::on(
                    loanbook_domain::calendar::parse_date("2025-06-30").unwrap(),
                )),
            )
            .await
            .unwrap(),
        );
        let admin = app.admin_init("admin").await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let r = router(app.clone(), WebConfig::default());
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

    async fn token(&self, name: &str, role: Role) -> String {
        self.app.create_user(None, name, role, None).await.unwrap()
    }

    async fn get(
        &self,
        token: Option<&str>,
        path: &str,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        (status, res.json().await.unwrap_or(Value::Null), headers)
    }

    async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

async fn sql(db: &TestDatabase, statements: &[&str]) {
    use sqlx::Connection;
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        for q in statements {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        for q in statements {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
    }
}

async fn auditors_page_through_the_keyed_audit_log(_db: &TestDatabase, s: Server) {
    let auditor = s.token("audrey", Role::Auditor).await;
    let ops = s.token("omar", Role::Operations).await;
    let (st, party) = s
        .post(
            &ops,
            "/v1/parties",
            &json!({"kind": "borrower", "name": "Asha"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{party}");
    // admin user + token, two users + tokens, one party: 7 records.
    let (st, page, _) = s.get(Some(&auditor), "/v1/audit?limit=4").await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["seq"], 1);
    assert_eq!(items[0]["action"], "create_user");
    assert_eq!(items[0]["actor"], "cli");
    assert_eq!(items[0]["scheme"], "hmac-sha256");
    // Each record chains within its stream (the user, the token, …), from the genesis hash.
    assert!(items[0]["stream"].as_str().unwrap().starts_with("user:"));
    assert_eq!(items[0]["stream_seq"], 1);
    assert_eq!(items[0]["prev_hash"], "0".repeat(64));
    assert_eq!(page["next_after"], 4);
    assert_eq!(page["head"]["seq"], 7);
    let (_, rest, _) = s.get(Some(&s.admin), "/v1/audit?after=4").await;
    let rest = rest["items"].as_array().unwrap().clone();
    assert_eq!(
        rest.iter()
            .map(|r| r["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    assert_eq!(rest[2]["action"], "create_party");
    assert_eq!(rest[2]["actor"], "omar");
    let (st, _, _) = s.get(Some(&ops), "/v1/audit").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = s.get(None, "/v1/audit").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, b, _) = s.get(Some(&auditor), "/v1/audit?limit=0").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["field"], "limit");
    let (st, b, _) = s.get(Some(&auditor), "/v1/audit?from=3").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // A checkpoint is its own record and an outbox message; the chain verifies with the key.
    let c = s.app.audit_checkpoint(None).await.unwrap();
    assert_eq!((c.seq, c.count), (1, 7));
    let (_, head, _) = s.get(Some(&auditor), "/v1/audit?after=7").await;
    assert_eq!(head["items"][0]["action"], "audit_checkpoint");
    assert_eq!(s.app.verify_audit().await.unwrap().unwrap(), 8);
}

async fn readiness_answers_503_while_the_database_refuses_writes(db: &TestDatabase, s: Server) {
    let (st, b, _) = s.get(None, "/health/ready").await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "ready");
    if db.url.starts_with("sqlite:") {
        sql(db, &["CREATE TRIGGER no_space BEFORE UPDATE ON heartbeat BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END"]).await;
    } else {
        sql(db, &[
            "CREATE FUNCTION no_space() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$",
            "CREATE TRIGGER no_space BEFORE UPDATE ON heartbeat FOR EACH ROW EXECUTE FUNCTION no_space()",
        ]).await;
    }
    for _ in 0..2 {
        let (st, b, headers) = s.get(None, "/health/ready").await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{b}");
        assert_eq!(b["type"], "urn:loanbook:problem:not-ready");
        assert_eq!(headers.get("retry-after").unwrap(), "5");
        // Liveness is not readiness.
        let (st, _, _) = s.get(None, "/health").await;
        assert_eq!(st, StatusCode::OK);
    }
    let drop = if db.url.starts_with("sqlite:") {
        "DROP TRIGGER no_space"
    } else {
        "DROP TRIGGER no_space ON heartbeat"
    };
    sql(db, &[drop]).await;
    let (st, b, _) = s.get(None, "/health/ready").await;
    assert_eq!(st, StatusCode::OK, "{b}");
    // And writes go through again.
    let (st, b) = s
        .post(
            &s.admin,
            "/v1/parties",
            &json!({"kind": "borrower", "name": "After"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
}

async fn personal_data_is_masked_in_party_views_at_any_depth(_db: &TestDatabase, s: Server) {
    let details = json!({
        "PAN": "ABCDE1234F",
        "kyc": {"aadhaar_number": "1234 5678 9012", "Pan": "PQRST6789Z"},
        "contacts": [{"phone": "+91 98765 43210", "label": "home"}, {"mobile": "9123456789"}],
        "bank": {"accountNumber": "001234567890", "account_no": "998877665544", "ifsc": "HDFC0001234"},
        "notes": "alternate number 9988776655, old PAN ZZZZZ9999Z",
        "city": "Pune",
    });
    let (st, party) = s
        .post(
            &s.admin,
            "/v1/parties",
            &json!({"kind": "borrower", "name": "Asha Rao", "details": details}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{party}");
    assert_eq!(
        party["details"], details,
        "the admin sees the details as recorded"
    );
    let id = party["id"].as_str().unwrap();
    for role in [Role::Auditor, Role::Collections] {
        let token = s.token(&format!("u-{}", role.name()), role).await;
        for path in [format!("/v1/parties/{id}"), "/v1/parties".to_owned()] {
            let (st, b, _) = s.get(Some(&token), &path).await;
            assert_eq!(st, StatusCode::OK, "{b}");
            let d = if b["items"].is_array() {
                &b["items"][0]["details"]
            } else {
                &b["details"]
            };
            assert_eq!(d["PAN"], "******234F", "{d}");
            assert_eq!(d["kyc"]["aadhaar_number"], "**********9012");
            assert_eq!(d["kyc"]["Pan"], "******789Z");
            assert_eq!(d["contacts"][0]["phone"], "***********3210");
            assert_eq!(d["contacts"][0]["label"], "home");
            assert_eq!(d["contacts"][1]["mobile"], "******6789");
            assert_eq!(d["bank"]["accountNumber"], "********7890");
            assert_eq!(d["bank"]["account_no"], "********5544");
            assert_eq!(d["bank"]["ifsc"], "HDFC0001234");
            assert_eq!(
                d["notes"],
                "alternate number ******6655, old PAN ******999Z"
            );
            assert_eq!(d["city"], "Pune");
            let text = d.to_string();
            for secret in ["ABCDE1", "123456789012", "98765", "001234567", "ZZZZZ9"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
    }
}
