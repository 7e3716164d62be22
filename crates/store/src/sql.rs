//! The SQLite and PostgreSQL stores. Their SQL is the same (`$n` placeholders, `ON CONFLICT`,
//! text dates), so one macro writes both implementations; what differs is stated where it
//! differs: connection set-up, migrations, and how the audit chain's head is locked.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, QueryBuilder, Sqlite};

mod audit;
mod tokens;

use crate::audit::{AuditKey, EventFacts, SCHEME_KEYED, content_hash, seal};
use crate::{
    Approval, Attempt, AuditEntry, Backend, CommandWrite, Decision, Delivery, IdempotencyRecord,
    KeyReservation, LoanFilter, LoanListing, LoanRecord, OpenOptions, OutboxMessage, Party,
    ProductVersion, Projection, Store, StoreError, StoredEvent, User, WebhookEndpoint,
};

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
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?;
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

type LoanRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    String,
    String,
);

type ProjectionRow = (String, i64, String, String, String, i64, i64, i64, String);
type ListingRow = (
    String,
    i64,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
);

fn projection(r: ProjectionRow) -> Projection {
    Projection {
        loan_id: r.0,
        version: r.1,
        as_of: r.2,
        status: r.3,
        classification: r.4,
        dpd: r.5,
        principal_outstanding: r.6,
        total_overdue: r.7,
        state: r.8,
    }
}

type UserRow = (String, String, String, Option<String>, String);

type ApprovalRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

fn approval(r: ApprovalRow) -> Approval {
    Approval {
        id: r.0,
        action: r.1,
        target: r.2,
        payload: r.3,
        maker: r.4,
        status: r.5,
        checker: r.6,
        created_at: r.7,
        decided_at: r.8,
    }
}

type DeliveryRow = (
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn delivery(r: DeliveryRow) -> Delivery {
    Delivery {
        endpoint_id: r.0,
        outbox_position: r.1,
        attempts: r.2,
        status: r.3,
        next_attempt_at: r.4,
        last_error: r.5,
        delivered_at: r.6,
    }
}

const DELIVERY_COLUMNS: &str = "d.endpoint_id, d.outbox_position, d.attempts, d.status, d.next_attempt_at, d.last_error, d.delivered_at";

type ProductRow = (String, String, String, i64, String, String);

fn product(r: ProductRow) -> ProductVersion {
    ProductVersion {
        product_id: r.0,
        code: r.1,
        name: r.2,
        version: r.3,
        config: r.4,
        created_at: r.5,
    }
}

const PRODUCT_COLUMNS: &str = "p.id, p.code, p.name, v.version, v.config, v.created_at";

type PartyRow = (String, String, String, String, String, String);

fn party(r: PartyRow) -> Party {
    Party {
        id: r.0,
        book_id: r.1,
        kind: r.2,
        name: r.3,
        details: r.4,
        created_at: r.5,
    }
}

const APPROVAL_COLUMNS: &str =
    "id, action, target, payload, maker, status, checker, created_at, decided_at";

fn user(r: UserRow) -> User {
    User {
        id: r.0,
        name: r.1,
        role: r.2,
        partner_id: r.3,
        created_at: r.4,
    }
}

const PROJECTION_COLUMNS: &str = "p.loan_id, p.version, p.as_of, p.status, p.classification, p.dpd, \
     p.principal_outstanding, p.total_overdue, p.state";

/// Separates event documents in one aggregated string: JSON escapes every control character
/// inside strings, so a record separator never occurs in a document.
const SEPARATOR: char = '\u{1e}';

macro_rules! sql_store {
    ($store:ty, $db:ty, $backend:expr, $lock_head:literal, $aggregate:literal, $begin:literal) => {
        impl $store {
            /// Start a write transaction. SQLite takes the write lock at once (`BEGIN
            /// IMMEDIATE`), so another process writing meanwhile makes it wait rather than fail.
            async fn begin_write(
                pool: &sqlx::Pool<$db>,
            ) -> Result<sqlx::Transaction<'static, $db>, StoreError> {
                pool.begin_with($begin).await.map_err(db_err)
            }

            /// Append one audit record inside `tx`, chained to the head, which the transaction
            /// holds locked until it ends.
            async fn append_audit(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                entry: &AuditEntry,
            ) -> Result<i64, StoreError> {
                self.append_sealed(tx, entry, String::new(), None).await
            }

            /// Append one audit record sealed over `content_hash` (the events the command
            /// appended) and, for a booking, the loan's terms hash. Returns its number.
            async fn append_sealed(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                entry: &AuditEntry,
                content_hash: String,
                terms_hash: Option<String>,
            ) -> Result<i64, StoreError> {
                let (seq, prev, scheme): (i64, String, String) = sqlx::query_as(concat!(
                    "SELECT seq, hash, scheme FROM audit_head WHERE id = 1",
                    $lock_head
                ))
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?;
                if scheme == SCHEME_KEYED && self.audit_key.is_none() {
                    return Err(StoreError::AuditKey(
                        "the audit chain is keyed: configure its key (LOANBOOK_AUDIT_KEY, audit_key in loanbook.toml or --audit-key) to write".into(),
                    ));
                }
                let r = seal(&prev, seq + 1, entry, content_hash, terms_hash, self.audit_key.as_ref());
                let event_ids = serde_json::to_string(&entry.event_ids)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO audit_log (seq, at, actor, action, target, request_digest, event_ids, prev_hash, hash, \
                     scheme, key_id, content_hash, terms_hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(r.seq)
                .bind(&entry.at)
                .bind(&entry.actor)
                .bind(&entry.action)
                .bind(&entry.target)
                .bind(&entry.request_digest)
                .bind(event_ids)
                .bind(&r.prev_hash)
                .bind(&r.hash)
                .bind(&r.scheme)
                .bind(&r.key_id)
                .bind(&r.content_hash)
                .bind(&r.terms_hash)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, scheme = $3 WHERE id = 1")
                    .bind(r.seq)
                    .bind(&r.hash)
                    .bind(&r.scheme)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                Ok(r.seq)
            }

            /// Mark a pending approval decided; refused when it is not pending any more.
            async fn decide(
                tx: &mut sqlx::Transaction<'_, $db>,
                d: &Decision,
                status: &str,
            ) -> Result<(), StoreError> {
                let done = sqlx::query(
                    "UPDATE approvals SET status = $1, checker = $2, decided_at = $3 \
                     WHERE id = $4 AND status = 'pending'",
                )
                .bind(status)
                .bind(&d.checker)
                .bind(&d.at)
                .bind(&d.approval_id)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound {
                        what: format!("pending approval `{}`", d.approval_id),
                    });
                }
                Ok(())
            }

            /// Store the reply under its idempotency key: it completes the key's reservation, or
            /// takes a key nobody reserved. A key used already (or reserved by another request)
            /// is a conflict.
            async fn record_key(
                tx: &mut sqlx::Transaction<'_, $db>,
                i: &IdempotencyRecord,
                at: &str,
            ) -> Result<(), StoreError> {
                let done = sqlx::query(
                    "INSERT INTO idempotency_keys (scope, key, target, request_digest, status, body, created_at, reserved_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0) \
                     ON CONFLICT (scope, key) DO UPDATE SET status = excluded.status, body = excluded.body \
                     WHERE idempotency_keys.status = 0 AND idempotency_keys.target = excluded.target \
                     AND idempotency_keys.request_digest = excluded.request_digest",
                )
                .bind(&i.scope)
                .bind(&i.key)
                .bind(&i.target)
                .bind(&i.request_digest)
                .bind(i.status)
                .bind(&i.body)
                .bind(at)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::IdempotencyConflict { key: i.key.clone() });
                }
                Ok(())
            }

            async fn key_in<'e, E>(
                exec: E,
                scope: &str,
                key: &str,
            ) -> Result<Option<IdempotencyRecord>, StoreError>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let row: Option<(String, String, String, String, i64, String)> = sqlx::query_as(
                    "SELECT scope, key, target, request_digest, status, body FROM idempotency_keys \
                     WHERE scope = $1 AND key = $2",
                )
                .bind(scope)
                .bind(key)
                .fetch_optional(exec)
                .await
                .map_err(db_err)?;
                Ok(row.map(|r| IdempotencyRecord {
                    scope: r.0,
                    key: r.1,
                    target: r.2,
                    request_digest: r.3,
                    status: r.4,
                    body: r.5,
                }))
            }

            async fn commit_in(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                w: &CommandWrite,
            ) -> Result<Vec<i64>, StoreError> {
                if let Some(d) = &w.approval {
                    Self::decide(tx, d, "approved").await?;
                }
                if let Some(loan) = &w.new_loan {
                    sqlx::query(
                        "INSERT INTO loans (id, book_id, loan_number, borrower_id, product_id, product_version, terms, terms_hash, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&loan.id)
                    .bind(&loan.book_id)
                    .bind(&loan.loan_number)
                    .bind(&loan.borrower_id)
                    .bind(&loan.product_id)
                    .bind(loan.product_version)
                    .bind(&loan.terms)
                    .bind(&loan.terms_hash)
                    .bind(&loan.created_at)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::Duplicate {
                                what: format!("loan number `{}`", loan.loan_number),
                            }
                        } else {
                            db_err(e)
                        }
                    })?;
                    for partner in &loan.partner_ids {
                        sqlx::query("INSERT INTO loan_partners (loan_id, partner_id) VALUES ($1, $2)")
                            .bind(&loan.id)
                            .bind(partner)
                            .execute(&mut **tx)
                            .await
                            .map_err(db_err)?;
                    }
                }
                let (actual,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(MAX(seq), 0) FROM loan_events WHERE loan_id = $1",
                )
                .bind(&w.loan_id)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?;
                if actual != w.expected_version {
                    return Err(StoreError::VersionConflict {
                        expected: w.expected_version,
                        actual,
                    });
                }
                let mut seqs = Vec::with_capacity(w.events.len());
                for (k, e) in w.events.iter().enumerate() {
                    let seq = w.expected_version + 1 + k as i64;
                    sqlx::query(
                        "INSERT INTO loan_events (loan_id, seq, value_date, event, recorded_at, command_id) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&w.loan_id)
                    .bind(seq)
                    .bind(&e.value_date)
                    .bind(&e.event)
                    .bind(&w.at)
                    .bind(&w.command_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(|err| {
                        // Another command took this sequence number first.
                        if is_unique_violation(&err) {
                            StoreError::VersionConflict {
                                expected: w.expected_version,
                                actual: seq,
                            }
                        } else {
                            db_err(err)
                        }
                    })?;
                    seqs.push(seq);
                }
                let p = &w.projection;
                sqlx::query(
                    "INSERT INTO loan_projections (loan_id, version, as_of, status, classification, dpd, principal_outstanding, total_overdue, state) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (loan_id) DO UPDATE SET version = excluded.version, as_of = excluded.as_of, \
                     status = excluded.status, classification = excluded.classification, dpd = excluded.dpd, \
                     principal_outstanding = excluded.principal_outstanding, total_overdue = excluded.total_overdue, \
                     state = excluded.state",
                )
                .bind(&w.loan_id)
                .bind(p.version)
                .bind(&p.as_of)
                .bind(&p.status)
                .bind(&p.classification)
                .bind(p.dpd)
                .bind(p.principal_outstanding)
                .bind(p.total_overdue)
                .bind(&p.state)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                if let Some(i) = &w.idempotency {
                    Self::record_key(tx, i, &w.at).await?;
                }
                for o in &w.outbox {
                    sqlx::query(
                        "INSERT INTO outbox (id, loan_id, topic, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&o.id)
                    .bind(&o.loan_id)
                    .bind(&o.topic)
                    .bind(&o.payload)
                    .bind(&w.at)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                }
                // Last, so the chain head is held locked for as short a time as possible. The
                // record names and hashes the events as written here, whatever the caller said.
                let facts: Vec<EventFacts<'_>> = w
                    .events
                    .iter()
                    .zip(&seqs)
                    .map(|(e, seq)| EventFacts {
                        loan_id: &w.loan_id,
                        seq: *seq,
                        value_date: &e.value_date,
                        event: &e.event,
                    })
                    .collect();
                let entry = AuditEntry {
                    event_ids: seqs.iter().map(|s| format!("{}:{s}", w.loan_id)).collect(),
                    ..w.audit.clone()
                };
                self.append_sealed(
                    tx,
                    &entry,
                    content_hash(&facts),
                    w.new_loan.as_ref().map(|l| l.terms_hash.clone()),
                )
                .await?;
                Ok(seqs)
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn ensure_book(
                &self,
                id: &str,
                name: &str,
                business_date: &str,
                at: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO books (id, name, business_date, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(name)
                .bind(business_date)
                .bind(at)
                .execute(self.writer())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn business_date(&self, book_id: &str) -> Result<String, StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT business_date FROM books WHERE id = $1")
                        .bind(book_id)
                        .fetch_optional(self.reader())
                        .await
                        .map_err(db_err)?;
                row.map(|r| r.0).ok_or_else(|| StoreError::NotFound {
                    what: format!("book `{book_id}`"),
                })
            }

            async fn set_business_date(
                &self,
                book_id: &str,
                from: &str,
                to: &str,
                audit: &AuditEntry,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let done = sqlx::query("UPDATE books SET business_date = $1 WHERE id = $2 AND business_date = $3")
                    .bind(to)
                    .bind(book_id)
                    .bind(from)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::VersionConflict { expected: 0, actual: 1 });
                }
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn create_user(&self, u: &User, audit: &AuditEntry) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                sqlx::query(
                    "INSERT INTO users (id, name, role, partner_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&u.id)
                .bind(&u.name)
                .bind(&u.role)
                .bind(&u.partner_id)
                .bind(&u.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Duplicate {
                            what: format!("user `{}`", u.name),
                        }
                    } else {
                        db_err(e)
                    }
                })?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, name, role, partner_id, created_at FROM users WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                Ok(row.map(user))
            }

            async fn user_count(&self) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
                    .fetch_one(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(n)
            }

            async fn commit(&self, w: &CommandWrite) -> Result<Vec<i64>, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let seqs = self.commit_in(&mut tx, w).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(seqs)
            }

            async fn loan(&self, id: &str) -> Result<Option<LoanRecord>, StoreError> {
                let row: Option<LoanRow> = sqlx::query_as(
                    "SELECT id, book_id, loan_number, borrower_id, product_id, product_version, terms, terms_hash, created_at \
                     FROM loans WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                let Some(r) = row else { return Ok(None) };
                let partners: Vec<(String,)> = sqlx::query_as(
                    "SELECT partner_id FROM loan_partners WHERE loan_id = $1 ORDER BY partner_id",
                )
                .bind(id)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(Some(LoanRecord {
                    id: r.0,
                    book_id: r.1,
                    loan_number: r.2,
                    borrower_id: r.3,
                    product_id: r.4,
                    product_version: r.5,
                    terms: r.6,
                    terms_hash: r.7,
                    partner_ids: partners.into_iter().map(|p| p.0).collect(),
                    created_at: r.8,
                }))
            }

            async fn events(&self, loan_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
                let rows: Vec<(String, i64, String, String, String, String)> = sqlx::query_as(
                    "SELECT loan_id, seq, value_date, event, recorded_at, command_id FROM loan_events \
                     WHERE loan_id = $1 ORDER BY seq",
                )
                .bind(loan_id)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| StoredEvent {
                        loan_id: r.0,
                        seq: r.1,
                        value_date: r.2,
                        event: r.3,
                        recorded_at: r.4,
                        command_id: r.5,
                    })
                    .collect())
            }

            async fn event_documents(&self, loan_id: &str) -> Result<Vec<String>, StoreError> {
                // One row instead of thousands: the driver's per-row cost dominates otherwise.
                let (joined,): (Option<String>,) = sqlx::query_as($aggregate)
                    .bind(loan_id)
                    .fetch_one(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(match joined {
                    None => Vec::new(),
                    Some(j) if j.is_empty() => Vec::new(),
                    Some(j) => j.split(SEPARATOR).map(str::to_owned).collect(),
                })
            }

            async fn projection(&self, loan_id: &str) -> Result<Option<Projection>, StoreError> {
                let row: Option<ProjectionRow> = sqlx::query_as(&format!(
                    "SELECT {PROJECTION_COLUMNS} FROM loan_projections p WHERE p.loan_id = $1"
                ))
                .bind(loan_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                Ok(row.map(projection))
            }

            async fn projection_head(&self, loan_id: &str) -> Result<Option<(i64, String)>, StoreError> {
                sqlx::query_as("SELECT version, classification FROM loan_projections WHERE loan_id = $1")
                    .bind(loan_id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)
            }

            async fn list_loans(&self, f: &LoanFilter) -> Result<Vec<LoanListing>, StoreError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {PROJECTION_COLUMNS}, l.loan_number FROM loan_projections p \
                     JOIN loans l ON l.id = p.loan_id WHERE 1 = 1"
                ));
                if let Some(s) = &f.status {
                    q.push(" AND p.status = ").push_bind(s.clone());
                }
                if let Some(c) = &f.classification {
                    q.push(" AND p.classification = ").push_bind(c.clone());
                }
                if let Some(d) = f.dpd_min {
                    q.push(" AND p.dpd >= ").push_bind(d);
                }
                if let Some(d) = f.dpd_max {
                    q.push(" AND p.dpd <= ").push_bind(d);
                }
                if let Some(n) = &f.loan_number {
                    q.push(" AND l.loan_number = ").push_bind(n.clone());
                }
                if let Some(partner) = &f.partner_id {
                    q.push(" AND p.loan_id IN (SELECT loan_id FROM loan_partners WHERE partner_id = ")
                        .push_bind(partner.clone())
                        .push(")");
                }
                if let Some(after) = &f.after {
                    q.push(" AND p.loan_id > ").push_bind(after.clone());
                }
                q.push(" ORDER BY p.loan_id LIMIT ").push_bind(f.limit.clamp(1, 1000));
                let rows: Vec<ListingRow> = q
                    .build_query_as()
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| LoanListing {
                        projection: projection((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8)),
                        loan_number: r.9,
                    })
                    .collect())
            }

            async fn refresh_projections(&self, ps: &[Projection]) -> Result<usize, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let mut written = 0;
                for p in ps {
                    let done = sqlx::query(
                        "UPDATE loan_projections SET as_of = $2, status = $3, classification = $4, dpd = $5, \
                         principal_outstanding = $6, total_overdue = $7, state = $8 \
                         WHERE loan_id = $1 AND version = $9",
                    )
                    .bind(&p.loan_id)
                    .bind(&p.as_of)
                    .bind(&p.status)
                    .bind(&p.classification)
                    .bind(p.dpd)
                    .bind(p.principal_outstanding)
                    .bind(p.total_overdue)
                    .bind(&p.state)
                    .bind(p.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    written += usize::try_from(done.rows_affected()).unwrap_or(0);
                }
                tx.commit().await.map_err(db_err)?;
                Ok(written)
            }

            async fn loan_ids(&self) -> Result<Vec<String>, StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM loans ORDER BY id")
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn idempotency(
                &self,
                scope: &str,
                key: &str,
            ) -> Result<Option<IdempotencyRecord>, StoreError> {
                Self::key_in(self.reader(), scope, key).await
            }

            async fn reserve_key(
                &self,
                r: &IdempotencyRecord,
                at: &str,
                now_ms: i64,
                stale_before_ms: i64,
            ) -> Result<KeyReservation, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let taken = sqlx::query(
                    "INSERT INTO idempotency_keys (scope, key, target, request_digest, status, body, created_at, reserved_at) \
                     VALUES ($1, $2, $3, $4, 0, '', $5, $6) \
                     ON CONFLICT (scope, key) DO UPDATE SET target = excluded.target, \
                     request_digest = excluded.request_digest, created_at = excluded.created_at, \
                     reserved_at = excluded.reserved_at \
                     WHERE idempotency_keys.status = 0 AND idempotency_keys.reserved_at < $7",
                )
                .bind(&r.scope)
                .bind(&r.key)
                .bind(&r.target)
                .bind(&r.request_digest)
                .bind(at)
                .bind(now_ms)
                .bind(stale_before_ms)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if taken.rows_affected() == 1 {
                    tx.commit().await.map_err(db_err)?;
                    return Ok(KeyReservation::Reserved);
                }
                let existing = Self::key_in(&mut *tx, &r.scope, &r.key).await?;
                tx.commit().await.map_err(db_err)?;
                existing.map(KeyReservation::Taken).ok_or_else(|| {
                    StoreError::Retryable(format!("idempotency key `{}` changed meanwhile", r.key))
                })
            }

            async fn release_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0")
                    .bind(scope)
                    .bind(key)
                    .execute(self.writer())
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn create_approval(
                &self,
                a: &Approval,
                audit: &AuditEntry,
                key: Option<&IdempotencyRecord>,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                if let Some(i) = key {
                    Self::record_key(&mut tx, i, &a.created_at).await?;
                }
                sqlx::query(&format!(
                    "INSERT INTO approvals ({APPROVAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&a.id)
                .bind(&a.action)
                .bind(&a.target)
                .bind(&a.payload)
                .bind(&a.maker)
                .bind(&a.status)
                .bind(&a.checker)
                .bind(&a.created_at)
                .bind(&a.decided_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
                let row: Option<ApprovalRow> = sqlx::query_as(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                Ok(row.map(approval))
            }

            async fn approvals(&self, status: Option<&str>, limit: i64) -> Result<Vec<Approval>, StoreError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE 1 = 1"
                ));
                if let Some(s) = status {
                    q.push(" AND status = ").push_bind(s.to_owned());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(limit.clamp(1, 1000));
                let rows: Vec<ApprovalRow> = q
                    .build_query_as()
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(rows.into_iter().map(approval).collect())
            }

            async fn reject_approval(&self, d: &Decision, audit: &AuditEntry, key: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                Self::decide(&mut tx, d, "rejected").await?;
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &d.at).await?;
                }
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn add_product_version(
                &self,
                book_id: &str,
                v: &ProductVersion,
                audit: &AuditEntry,
                approval: Option<&Decision>,
                key: Option<&IdempotencyRecord>,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                if let Some(d) = approval {
                    Self::decide(&mut tx, d, "approved").await?;
                }
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &v.created_at).await?;
                }
                let current: Option<(i64,)> = sqlx::query_as(
                    "SELECT MAX(version) FROM product_versions WHERE product_id = $1 HAVING COUNT(*) > 0",
                )
                .bind(&v.product_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let actual = current.map_or(0, |c| c.0);
                if actual + 1 != v.version {
                    return Err(StoreError::VersionConflict { expected: v.version - 1, actual });
                }
                if actual == 0 {
                    sqlx::query("INSERT INTO products (id, book_id, code, name, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&v.product_id)
                        .bind(book_id)
                        .bind(&v.code)
                        .bind(&v.name)
                        .bind(&v.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| {
                            if is_unique_violation(&e) {
                                StoreError::Duplicate { what: format!("product `{}`", v.code) }
                            } else {
                                db_err(e)
                            }
                        })?;
                } else {
                    sqlx::query("UPDATE products SET name = $1 WHERE id = $2")
                        .bind(&v.name)
                        .bind(&v.product_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                sqlx::query("INSERT INTO product_versions (product_id, version, config, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&v.product_id)
                    .bind(v.version)
                    .bind(&v.config)
                    .bind(&v.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::VersionConflict { expected: v.version - 1, actual: v.version }
                        } else {
                            db_err(e)
                        }
                    })?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn product(&self, code: &str, version: Option<i64>) -> Result<Option<ProductVersion>, StoreError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products p JOIN product_versions v ON v.product_id = p.id WHERE p.code = "
                ));
                q.push_bind(code.to_owned());
                if let Some(n) = version {
                    q.push(" AND v.version = ").push_bind(n);
                }
                q.push(" ORDER BY v.version DESC LIMIT 1");
                let row: Option<ProductRow> = q.build_query_as().fetch_optional(self.reader()).await.map_err(db_err)?;
                Ok(row.map(product))
            }

            async fn products(&self) -> Result<Vec<ProductVersion>, StoreError> {
                let rows: Vec<ProductRow> = sqlx::query_as(&format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products p JOIN product_versions v ON v.product_id = p.id \
                     WHERE v.version = (SELECT MAX(w.version) FROM product_versions w WHERE w.product_id = p.id) \
                     ORDER BY p.code"
                ))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(product).collect())
            }

            async fn create_party(&self, p: &Party, audit: &AuditEntry, key: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                sqlx::query("INSERT INTO parties (id, book_id, kind, name, details, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&p.id)
                    .bind(&p.book_id)
                    .bind(&p.kind)
                    .bind(&p.name)
                    .bind(&p.details)
                    .bind(&p.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &p.created_at).await?;
                }
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn party(&self, id: &str) -> Result<Option<Party>, StoreError> {
                let row: Option<PartyRow> = sqlx::query_as(
                    "SELECT id, book_id, kind, name, details, created_at FROM parties WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                Ok(row.map(party))
            }

            async fn parties(&self, kind: Option<&str>, after: Option<&str>, limit: i64) -> Result<Vec<Party>, StoreError> {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT id, book_id, kind, name, details, created_at FROM parties WHERE 1 = 1",
                );
                if let Some(k) = kind {
                    q.push(" AND kind = ").push_bind(k.to_owned());
                }
                if let Some(a) = after {
                    q.push(" AND id > ").push_bind(a.to_owned());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(limit.clamp(1, 1000));
                let rows: Vec<PartyRow> = q.build_query_as().fetch_all(self.reader()).await.map_err(db_err)?;
                Ok(rows.into_iter().map(party).collect())
            }

            async fn create_webhook(&self, w: &WebhookEndpoint, audit: &AuditEntry, key: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
                let topics = serde_json::to_string(&w.topics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut tx = Self::begin_write(self.writer()).await?;
                sqlx::query(
                    "INSERT INTO webhook_endpoints (id, url, secret, topics, active, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&w.id)
                .bind(&w.url)
                .bind(&w.secret)
                .bind(topics)
                .bind(w.active)
                .bind(&w.created_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &w.created_at).await?;
                }
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
                let rows: Vec<(String, String, String, String, bool, String)> = sqlx::query_as(
                    "SELECT id, url, secret, topics, active, created_at FROM webhook_endpoints ORDER BY id",
                )
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                rows.into_iter()
                    .map(|r| {
                        Ok(WebhookEndpoint {
                            topics: serde_json::from_str(&r.3)
                                .map_err(|e| StoreError::Corrupt(format!("webhook {}: {e}", r.0)))?,
                            id: r.0,
                            url: r.1,
                            secret: r.2,
                            active: r.4,
                            created_at: r.5,
                        })
                    })
                    .collect()
            }

            async fn dispatch_outbox(&self, now: &str, limit: i64) -> Result<usize, StoreError> {
                let endpoints: Vec<WebhookEndpoint> =
                    self.webhooks().await?.into_iter().filter(|w| w.active).collect();
                let mut tx = Self::begin_write(self.writer()).await?;
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT position, topic FROM outbox WHERE dispatched_at IS NULL ORDER BY position LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                for (position, topic) in &rows {
                    for w in endpoints.iter().filter(|w| w.topics.iter().any(|t| t == "*" || t == topic)) {
                        sqlx::query(
                            "INSERT INTO webhook_deliveries (endpoint_id, outbox_position, attempts, status, next_attempt_at) \
                             VALUES ($1, $2, 0, 'pending', $3) ON CONFLICT DO NOTHING",
                        )
                        .bind(&w.id)
                        .bind(position)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    }
                    sqlx::query("UPDATE outbox SET dispatched_at = $1 WHERE position = $2")
                        .bind(now)
                        .bind(position)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(rows.len())
            }

            async fn due_deliveries(&self, now: &str) -> Result<Vec<(Delivery, OutboxMessage)>, StoreError> {
                type Row = (String, i64, i64, String, Option<String>, Option<String>, Option<String>, i64, String, Option<String>, String, String, String);
                let rows: Vec<Row> = sqlx::query_as(&format!(
                    "SELECT {DELIVERY_COLUMNS}, o.position, o.id, o.loan_id, o.topic, o.payload, o.created_at \
                     FROM webhook_deliveries d JOIN outbox o ON o.position = d.outbox_position \
                     WHERE d.status = 'pending' AND d.outbox_position = \
                       (SELECT MIN(e.outbox_position) FROM webhook_deliveries e \
                        WHERE e.endpoint_id = d.endpoint_id AND e.status = 'pending') \
                     AND d.next_attempt_at <= $1 ORDER BY d.outbox_position"
                ))
                .bind(now)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        (
                            delivery((r.0, r.1, r.2, r.3, r.4, r.5, r.6)),
                            OutboxMessage {
                                position: r.7,
                                id: r.8,
                                loan_id: r.9,
                                topic: r.10,
                                payload: r.11,
                                created_at: r.12,
                            },
                        )
                    })
                    .collect())
            }

            async fn record_attempt(&self, endpoint_id: &str, position: i64, a: &Attempt) -> Result<(), StoreError> {
                let q = match a {
                    Attempt::Delivered { at } => sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, status = 'delivered', \
                         delivered_at = $1, next_attempt_at = NULL, last_error = NULL \
                         WHERE endpoint_id = $2 AND outbox_position = $3",
                    )
                    .bind(at.clone()),
                    Attempt::Failed { error, next_attempt_at } => sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, \
                         status = CASE WHEN $1 IS NULL THEN 'failed' ELSE 'pending' END, \
                         next_attempt_at = $1, last_error = $2 \
                         WHERE endpoint_id = $3 AND outbox_position = $4",
                    )
                    .bind(next_attempt_at.clone())
                    .bind(error.clone()),
                };
                q.bind(endpoint_id.to_owned())
                    .bind(position)
                    .execute(self.writer())
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn deliveries(&self, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>, StoreError> {
                let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.endpoint_id = $1 \
                     ORDER BY d.outbox_position DESC LIMIT $2"
                ))
                .bind(endpoint_id)
                .bind(limit.clamp(1, 1000))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(delivery).collect())
            }

            async fn outbox_after(
                &self,
                position: i64,
                limit: i64,
            ) -> Result<Vec<OutboxMessage>, StoreError> {
                let rows: Vec<(i64, String, Option<String>, String, String, String)> = sqlx::query_as(
                    "SELECT position, id, loan_id, topic, payload, created_at FROM outbox \
                     WHERE position > $1 ORDER BY position LIMIT $2",
                )
                .bind(position)
                .bind(limit)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| OutboxMessage {
                        position: r.0,
                        id: r.1,
                        loan_id: r.2,
                        topic: r.3,
                        payload: r.4,
                        created_at: r.5,
                    })
                    .collect())
            }

            async fn check_writable(&self, at: &str) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                sqlx::query(
                    "INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                )
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)
            }
        }
    };
}

// SQLite has one writer connection, so the head needs no row lock; PostgreSQL locks the row.
// The aggregate differs in name and in how it is ordered.
sql_store!(
    SqliteStore,
    Sqlite,
    Backend::Sqlite,
    "",
    "SELECT group_concat(event, char(30)) FROM \
     (SELECT event FROM loan_events WHERE loan_id = $1 ORDER BY seq)",
    "BEGIN IMMEDIATE"
);
sql_store!(
    PgStore,
    Postgres,
    Backend::Postgres,
    " FOR UPDATE",
    "SELECT string_agg(event, chr(30) ORDER BY seq) FROM loan_events WHERE loan_id = $1",
    "BEGIN"
);
