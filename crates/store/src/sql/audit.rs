//! [`AuditLog`] for both backends: reading the streams, verifying them from one snapshot, and
//! writing checkpoints. Appending records is part of every write (`append_audit` in `sql`).

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::audit::{
    ApplicationEventRow, AuditRecord, ChainBreak, Checkpoint, CheckpointRecord, CoveredHead,
    EventRow, Evidence, GENESIS_HASH, KeyRequired, SCHEME_KEYED, StoredCheckpoint, StoredTerms,
    StreamHead, Verified, seal_checkpoint,
};
use crate::{AuditEntry, AuditLog, Backend, StoreError};

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    stream: String,
    stream_seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    request_digest: String,
    /// JSON array.
    event_ids: String,
    prev_hash: String,
    hash: String,
    scheme: String,
    key_id: Option<String>,
    content_hash: String,
    terms_hash: Option<String>,
}

const AUDIT_COLUMNS: &str = "seq, stream, stream_seq, at, actor, action, target, request_digest, \
     event_ids, prev_hash, hash, scheme, key_id, content_hash, terms_hash";

impl AuditRow {
    fn record(self) -> Result<AuditRecord, StoreError> {
        let event_ids: Vec<String> = serde_json::from_str(&self.event_ids).map_err(|e| {
            StoreError::Corrupt(format!("audit record {}: event_ids: {e}", self.seq))
        })?;
        Ok(AuditRecord {
            seq: self.seq,
            stream: self.stream,
            stream_seq: self.stream_seq,
            entry: AuditEntry {
                at: self.at,
                actor: self.actor,
                action: self.action,
                target: self.target,
                request_digest: self.request_digest,
                event_ids,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
            scheme: self.scheme,
            key_id: self.key_id,
            content_hash: self.content_hash,
            terms_hash: self.terms_hash,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    seq: i64,
    at: String,
    /// JSON array of `[stream, seq, hash]`.
    heads: String,
    records: i64,
    scheme: String,
    key_id: Option<String>,
    prev_hash: String,
    hash: String,
}

const CHECKPOINT_COLUMNS: &str = "seq, at, heads, records, scheme, key_id, prev_hash, hash";

impl CheckpointRow {
    fn checkpoint(self) -> Result<StoredCheckpoint, StoreError> {
        let heads: Vec<CoveredHead> = serde_json::from_str(&self.heads).map_err(|e| {
            StoreError::Corrupt(format!("audit checkpoint {}: heads: {e}", self.seq))
        })?;
        Ok(StoredCheckpoint {
            seq: self.seq,
            at: self.at,
            heads,
            records: self.records,
            scheme: self.scheme,
            key_id: self.key_id,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

fn records(rows: Vec<AuditRow>) -> Result<Vec<AuditRecord>, StoreError> {
    rows.into_iter().map(AuditRow::record).collect()
}

fn checkpoints(rows: Vec<CheckpointRow>) -> Result<Vec<StoredCheckpoint>, StoreError> {
    rows.into_iter().map(CheckpointRow::checkpoint).collect()
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

macro_rules! sql_audit {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            /// Everything verification reads, inside one transaction.
            async fn evidence(tx: &mut sqlx::Transaction<'_, $db>) -> Result<Evidence, StoreError> {
                let heads: Vec<StreamHead> =
                    sqlx::query_as("SELECT stream, seq, hash, scheme FROM audit_heads ORDER BY stream")
                        .fetch_all(&mut **tx)
                        .await
                        .map_err(db_err)?;
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY stream, stream_seq"
                ))
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
                let cps: Vec<CheckpointRow> = sqlx::query_as(&format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq"
                ))
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
                let loans: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT id, terms, terms_hash FROM loans ORDER BY id")
                        .fetch_all(&mut **tx)
                        .await
                        .map_err(db_err)?;
                let events: Vec<(String, i64, String, String)> = sqlx::query_as(
                    "SELECT loan_id, seq, value_date, event FROM loan_events ORDER BY loan_id, seq",
                )
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
                let application_events: Vec<(String, i64, String)> = sqlx::query_as(
                    "SELECT application_id, seq, event FROM application_events \
                     ORDER BY application_id, seq",
                )
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
                Ok(Evidence {
                    records: records(rows)?,
                    heads,
                    checkpoints: checkpoints(cps)?,
                    loans: loans
                        .into_iter()
                        .map(|l| StoredTerms { loan_id: l.0, terms: l.1, terms_hash: l.2 })
                        .collect(),
                    events: events
                        .into_iter()
                        .map(|e| EventRow { loan_id: e.0, seq: e.1, value_date: e.2, event: e.3 })
                        .collect(),
                    application_events: application_events
                        .into_iter()
                        .map(|e| ApplicationEventRow { application_id: e.0, seq: e.1, event: e.2 })
                        .collect(),
                })
            }
        }

        #[async_trait]
        impl AuditLog for $store {
            async fn audit_records(&self) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<AuditRow> =
                    sqlx::query_as(&format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq"))
                        .fetch_all(self.reader())
                        .await
                        .map_err(db_err)?;
                records(rows)
            }

            async fn audit_heads(&self) -> Result<Vec<StreamHead>, StoreError> {
                sqlx::query_as("SELECT stream, seq, hash, scheme FROM audit_heads ORDER BY stream")
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_err)
            }

            async fn audit_newest(&self) -> Result<Option<AuditRecord>, StoreError> {
                let row: Option<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
                ))
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                row.map(AuditRow::record).transpose()
            }

            async fn audit_keyed(&self) -> Result<bool, StoreError> {
                let (keyed,): (bool,) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM audit_heads WHERE scheme = $1)",
                )
                .bind(SCHEME_KEYED)
                .fetch_one(self.reader())
                .await
                .map_err(db_err)?;
                Ok(keyed)
            }

            async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after)
                .bind(limit.clamp(1, 1000))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                records(rows)
            }

            async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
                let rows: Vec<CheckpointRow> = sqlx::query_as(&format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq"
                ))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                checkpoints(rows)
            }

            async fn verify_audit(
                &self,
                checkpoint: Option<&Checkpoint>,
            ) -> Result<Result<Result<Verified, ChainBreak>, KeyRequired>, StoreError> {
                // One snapshot, so a log growing meanwhile is not mistaken for a broken one.
                let mut tx = self.reader().begin().await.map_err(db_err)?;
                if $backend == Backend::Postgres {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                let evidence = Self::evidence(&mut tx).await?;
                tx.rollback().await.map_err(db_err)?;
                Ok(crate::audit::verify(&evidence, self.audit_key.as_ref(), checkpoint))
            }

            async fn audit_checkpoint(
                &self,
                audit: &AuditEntry,
                outbox_id: &str,
            ) -> Result<CheckpointRecord, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let heads: Vec<StreamHead> =
                    sqlx::query_as("SELECT stream, seq, hash, scheme FROM audit_heads ORDER BY stream")
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?;
                let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let last: Option<(i64, String)> =
                    sqlx::query_as("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                let (seq, prev) = last.unwrap_or((0, GENESIS_HASH.to_owned()));
                let covered: Vec<CoveredHead> =
                    heads.into_iter().map(|h| (h.stream, h.seq, h.hash)).collect();
                let streams = covered.len() as i64;
                let c = seal_checkpoint(&prev, seq + 1, &audit.at, covered, count, self.audit_key.as_ref());
                sqlx::query(&format!(
                    "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(c.seq)
                .bind(&c.at)
                .bind(serde_json::to_string(&c.heads).map_err(corrupt)?)
                .bind(c.records)
                .bind(&c.scheme)
                .bind(&c.key_id)
                .bind(&c.prev_hash)
                .bind(&c.hash)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Retryable("another checkpoint was written meanwhile".into())
                    } else {
                        db_err(e)
                    }
                })?;
                let summary = CheckpointRecord { seq: c.seq, hash: c.hash.clone(), streams, count, at: c.at.clone() };
                sqlx::query(
                    "INSERT INTO outbox (id, loan_id, topic, payload, created_at) VALUES ($1, NULL, 'audit.checkpoint', $2, $3)",
                )
                .bind(outbox_id)
                .bind(serde_json::to_string(&summary).map_err(corrupt)?)
                .bind(&audit.at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let entry = AuditEntry { target: format!("audit/{}:{}", c.seq, c.hash), ..audit.clone() };
                self.append_audit(&mut tx, &entry).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(summary)
            }
        }
    };
}

sql_audit!(SqliteStore, sqlx::Sqlite, Backend::Sqlite);
sql_audit!(PgStore, sqlx::Postgres, Backend::Postgres);
