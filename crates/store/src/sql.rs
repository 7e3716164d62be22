//! The SQLite and PostgreSQL stores: connection set-up, migrations, error mapping, and what
//! every write shares (starting a write transaction, appending its audit record). Each
//! aggregate's SQL is a module of its own under `sql/`.
//!
//! The two backends take the same SQL (`$n` placeholders, `ON CONFLICT`, `RETURNING`, text
//! dates), so each module stamps one body onto both stores with a small `macro_rules!`. Generic
//! functions over `sqlx::Database` would need a bound for every type bound or decoded, on every
//! function; the macro keeps the SQL readable and both implementations identical by
//! construction. Where the backends differ it is said where: the one-statement command write on
//! PostgreSQL (`sql/command.rs`; an application's append, `sql/applications.rs`, is one
//! statement per table on both), the aggregate used to fetch event documents, and how a write
//! transaction begins.
//!
//! Audit records go to the stream of their target; a trigger on `audit_log` keeps
//! `audit_heads` (one row per stream) at each stream's newest record, so appending a record is
//! one statement, and the unique `(stream, stream_seq)` index turns a lost race for a stream's
//! next number into a retryable error.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite};

mod applications;
mod approvals;
mod audit;
mod books;
mod bulk;
mod catalogue;
mod command;
mod command_batch;
mod copy;
mod eod;
mod eod_borrowers;
mod eod_loans;
mod failure_table;
mod gl;
mod idempotency;
mod loans;
mod mandates;
mod outbox;
mod provisioning;
mod tokens;
mod users;

use crate::audit::{AuditKey, AuditRecord, seal, stream_of};
use crate::{AuditEntry, OpenOptions, StoreError};

/// SQLite: one writer connection (SQLite admits one writer at a time; queuing in the pool is
/// cheaper than retrying busy errors) and a few readers, in WAL mode.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    audit_key: Option<AuditKey>,
}

/// PostgreSQL: one pool.
pub struct PgStore {
    pool: PgPool,
    audit_key: Option<AuditKey>,
}

/// A connection given back to a pool still inside a transaction (its COMMIT or ROLLBACK failed,
/// e.g. on a full disk, after the database had already rolled back) would make every later
/// `BEGIN` on it fail with "begin_with at non-zero transaction depth". Such a connection is
/// closed instead of reused, so the pool opens a clean one.
///
/// SQLite: a dropped transaction's rollback is queued to the connection's worker; a ping runs
/// after it, so the depth read then is the one the rollback left.
#[allow(clippy::type_complexity)]
fn release_clean_sqlite(
    conn: &mut sqlx::SqliteConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    use sqlx::Connection as _;
    Box::pin(async move {
        if conn.ping().await.is_err() {
            return Ok(false);
        }
        Ok(!conn.is_in_transaction())
    })
}

/// PostgreSQL: the depth is settled when the rollback is queued; no round trip needed.
#[allow(clippy::type_complexity)]
fn release_clean_pg(
    conn: &mut sqlx::PgConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    use sqlx::Connection as _;
    let clean = !conn.is_in_transaction();
    Box::pin(async move { Ok(clean) })
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, &OpenOptions::default()).await
    }

    pub async fn open_with(url: &str, open: &OpenOptions) -> Result<SqliteStore, StoreError> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if open.read_only {
            // `mode=ro`: nothing is created, migrated or written.
            let options = base.read_only(true).create_if_missing(false);
            let reader = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .map_err(db_err)?;
            return Ok(SqliteStore {
                writer: reader.clone(),
                reader,
                audit_key: open.audit_key.clone(),
            });
        }
        let options = base
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_release(|conn, _| release_clean_sqlite(conn))
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Ok(SqliteStore {
            writer,
            reader,
            audit_key: open.audit_key.clone(),
        })
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        PgStore::open_with(url, &OpenOptions::default()).await
    }

    pub async fn open_with(url: &str, open: &OpenOptions) -> Result<PgStore, StoreError> {
        // No JIT: every query here is short, and the planner's estimate for a chunk's reads
        // (thousands of loans joined to their events) crosses the JIT threshold, so a 20 ms read
        // would spend 80 ms compiling itself.
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?
            .options([("jit", "off")]);
        if open.read_only {
            options = options.options([("default_transaction_read_only", "on")]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .after_release(|conn, _| release_clean_pg(conn))
            .connect_with(options)
            .await
            .map_err(db_err)?;
        if !open.read_only {
            sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
        }
        Ok(PgStore {
            pool,
            audit_key: open.audit_key.clone(),
        })
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }
}

/// Map a driver error: serialisation failures, deadlocks and busy databases are retryable.
fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            // PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
            // SQLite: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT.
            if matches!(
                code.as_str(),
                "40001" | "40P01" | "55P03" | "5" | "6" | "517"
            ) {
                StoreError::Retryable(d.message().to_owned())
            } else {
                StoreError::Database(e.to_string())
            }
        }
        sqlx::Error::PoolTimedOut => StoreError::Retryable("no connection free".into()),
        _ => StoreError::Database(e.to_string()),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// What a violated constraint is: its name (PostgreSQL) and the message (SQLite names the
/// table and columns there).
fn violation(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => {
            format!("{} {}", d.constraint().unwrap_or_default(), d.message())
        }
        _ => String::new(),
    }
}

/// Map a unique violation of a command's write: another command took the loan's (or the
/// application's) next event number (a version conflict) or the audit stream's next number
/// (retry).
fn write_conflict(e: sqlx::Error, expected: i64) -> StoreError {
    if !is_unique_violation(&e) {
        return db_err(e);
    }
    let what = violation(&e);
    if what.contains("loan_events") || what.contains("application_events") {
        StoreError::VersionConflict {
            expected,
            actual: expected + 1,
        }
    } else if what.contains("audit") {
        StoreError::Retryable("the audit stream moved on meanwhile".into())
    } else {
        db_err(e)
    }
}

/// The columns of an audit record, in the order [`audit_values`] binds them.
const AUDIT_INSERT: &str = "INSERT INTO audit_log (stream, stream_seq, at, actor, action, target, \
     request_digest, event_ids, prev_hash, hash, scheme, key_id, content_hash, terms_hash) ";

/// A stream's head (0 and the genesis hash before its first record), from `audit_heads h`
/// joined on the stream.
const HEAD_COLUMNS: &str = "COALESCE(h.seq, 0), COALESCE(h.hash, '0000000000000000000000000000000000000000000000000000000000000000')";

/// Whether a store without a key may write: not once any stream is keyed.
const KEYED_ANYWHERE: &str = "EXISTS (SELECT 1 FROM audit_heads WHERE scheme = 'hmac-sha256')";

fn keyed_refusal() -> StoreError {
    StoreError::AuditKey(
        "the audit log is keyed: configure its key (LOANBOOK_AUDIT_KEY, audit_key in loanbook.toml or --audit-key) to write".into(),
    )
}

/// Bind an audit record's values (after [`AUDIT_INSERT`]) onto a query being built.
macro_rules! audit_values {
    ($q:expr, $r:expr, $event_ids:expr) => {{
        let mut t = $q.separated(", ");
        t.push_unseparated("VALUES (");
        t.push_bind($r.stream.clone())
            .push_bind($r.stream_seq)
            .push_bind($r.entry.at.clone())
            .push_bind($r.entry.actor.clone())
            .push_bind($r.entry.action.clone())
            .push_bind($r.entry.target.clone())
            .push_bind($r.entry.request_digest.clone())
            .push_bind($event_ids)
            .push_bind($r.prev_hash.clone())
            .push_bind($r.hash.clone())
            .push_bind($r.scheme.clone())
            .push_bind($r.key_id.clone())
            .push_bind($r.content_hash.clone())
            .push_bind($r.terms_hash.clone());
        t.push_unseparated(")");
    }};
}
use audit_values;

fn event_ids_json(r: &AuditRecord) -> Result<String, StoreError> {
    serde_json::to_string(&r.entry.event_ids).map_err(|e| StoreError::Corrupt(e.to_string()))
}

macro_rules! sql_core {
    ($store:ty, $db:ty, $begin:literal) => {
        impl $store {
            /// Start a write transaction. SQLite takes the write lock at once (`BEGIN
            /// IMMEDIATE`), so another process writing meanwhile makes it wait rather than fail.
            async fn begin_write(
                pool: &sqlx::Pool<$db>,
            ) -> Result<sqlx::Transaction<'static, $db>, StoreError> {
                pool.begin_with($begin).await.map_err(db_err)
            }

            /// Seal the next record of `entry`'s stream: reads the stream's head (and, without a
            /// key, whether the log is keyed: then the write is refused).
            async fn seal_next(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                entry: &AuditEntry,
                content_hash: String,
                terms_hash: Option<String>,
            ) -> Result<AuditRecord, StoreError> {
                let stream = stream_of(&entry.target);
                let keyed = if self.audit_key.is_none() {
                    KEYED_ANYWHERE
                } else {
                    "FALSE"
                };
                let (seq, prev, keyed): (i64, String, bool) = sqlx::query_as(&format!(
                    "SELECT {HEAD_COLUMNS}, {keyed} FROM (SELECT 1 AS one) AS one \
                     LEFT JOIN audit_heads h ON h.stream = $1"
                ))
                .bind(&stream)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?;
                if keyed {
                    return Err(keyed_refusal());
                }
                Ok(seal(
                    &prev,
                    seq + 1,
                    entry,
                    content_hash,
                    terms_hash,
                    self.audit_key.as_ref(),
                ))
            }

            /// Append one audit record without content hashes inside `tx`.
            async fn append_audit(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                entry: &AuditEntry,
            ) -> Result<AuditRecord, StoreError> {
                let r = self.seal_next(tx, entry, String::new(), None).await?;
                Self::insert_audit(tx, &r).await?;
                Ok(r)
            }

            /// Write a sealed record; the trigger moves its stream's head.
            async fn insert_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                r: &AuditRecord,
            ) -> Result<(), StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(AUDIT_INSERT);
                audit_values!(q, r, event_ids_json(r)?);
                q.build()
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| write_conflict(e, 0))?;
                Ok(())
            }
        }
    };
}

sql_core!(SqliteStore, Sqlite, "BEGIN IMMEDIATE");
sql_core!(PgStore, Postgres, "BEGIN");
