//! Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL database on the
//! server named by `LOANBOOK_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`).

use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::StoreError;

/// The PostgreSQL server the tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("LOANBOOK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    name: Option<String>,
    _dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    /// A new SQLite file in a fresh temporary folder.
    pub fn sqlite() -> TestDatabase {
        let dir = std::env::temp_dir().join(format!("loanbook-test-{}", unique()));
        let _ = std::fs::create_dir_all(&dir);
        TestDatabase {
            url: format!("sqlite://{}", dir.join("loanbook.db").display()),
            name: None,
            _dir: Some(dir),
        }
    }

    /// A new, empty PostgreSQL database. Fails loudly when the server is not there.
    pub async fn postgres() -> Result<TestDatabase, StoreError> {
        let admin = postgres_admin_url();
        let name = format!("loanbook_test_{}", unique());
        let mut conn = PgConnectOptions::from_str(&admin)
            .map_err(|e| StoreError::BadUrl(e.to_string()))?
            .connect()
            .await
            .map_err(|e| {
                StoreError::Database(format!(
                    "PostgreSQL for the tests is not reachable at {admin} ({e}); start it or set LOANBOOK_TEST_PG"
                ))
            })?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Ok(TestDatabase {
            url: format!("{base}/{name}"),
            name: Some(name),
            _dir: None,
        })
    }

    /// Drop the database (PostgreSQL) or its folder (SQLite).
    pub async fn drop_database(mut self) {
        self.cleanup().await;
    }

    async fn cleanup(&mut self) {
        if let Some(name) = self.name.take() {
            if let Ok(opts) = PgConnectOptions::from_str(&postgres_admin_url()) {
                if let Ok(mut conn) = opts.connect().await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            }
        }
        if let Some(dir) = self._dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for TestDatabase {
    /// A test that panicked still leaves nothing behind: clean up on a thread of its own.
    fn drop(&mut self) {
        if self.name.is_none() && self._dir.is_none() {
            return;
        }
        let mut me = TestDatabase {
            url: self.url.clone(),
            name: self.name.take(),
            _dir: self._dir.take(),
        };
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(me.cleanup());
            }
        })
        .join();
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDatabase {
    /// The outbox as stored, in order: what subscribers will be sent. Panics (failing the
    /// test) when it cannot be read.
    #[allow(clippy::panic)]
    pub async fn outbox(&self) -> Vec<crate::OutboxMessage> {
        use sqlx::Connection;
        const Q: &str = "SELECT position, id, loan_id, topic, payload, created_at FROM outbox ORDER BY position";
        let read = async {
            if self.url.starts_with("sqlite:") {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
                sqlx::query_as(Q).fetch_all(&mut c).await
            } else {
                let mut c = sqlx::PgConnection::connect(&self.url).await?;
                sqlx::query_as(Q).fetch_all(&mut c).await
            }
        };
        read.await
            .unwrap_or_else(|e| panic!("reading the outbox: {e}"))
    }
}

/// Run each named test, an `async fn(&TestDatabase)`, on a fresh SQLite database and on a fresh
/// PostgreSQL one: `loanbook_store::on_both_backends!(test_a, test_b);` in a test file.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = loanbook_store::testing::TestDatabase::sqlite();
                    super::$name(&db).await;
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
                    super::$name(&db).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}
