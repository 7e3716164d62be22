//! [`AuditLog`] for both backends: reading the chain, verifying it from one snapshot, and
//! writing checkpoints. Appending records is part of every write (`append_audit` in `sql`).

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err};
use crate::audit::{
    AuditHead, AuditRecord, ChainBreak, Checkpoint, CheckpointRecord, EventRow, Evidence,
    KeyRequired, StoredTerms, Verified,
};
use crate::{AuditEntry, AuditLog, Backend, StoreError};

type AuditRow = (
    i64,
    String,
    String,
    String,
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

const AUDIT_COLUMNS: &str = "seq, at, actor, action, target, request_digest, event_ids, prev_hash, hash, \
     scheme, key_id, content_hash, terms_hash";

fn audit_record(r: AuditRow) -> Result<AuditRecord, StoreError> {
    let event_ids: Vec<String> = serde_json::from_str(&r.6)
        .map_err(|e| StoreError::Corrupt(format!("audit record {}: event_ids: {e}", r.0)))?;
    Ok(AuditRecord {
        seq: r.0,
        entry: AuditEntry {
            at: r.1,
            actor: r.2,
            action: r.3,
            target: r.4,
            request_digest: r.5,
            event_ids,
        },
        prev_hash: r.7,
        hash: r.8,
        scheme: r.9,
        key_id: r.10,
        content_hash: r.11,
        terms_hash: r.12,
    })
}

macro_rules! sql_audit {
    ($store:ty, $db:ty, $backend:expr, $lock_head:literal) => {
        #[async_trait]
        impl AuditLog for $store {
            async fn audit_records(&self) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq"
                ))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                rows.into_iter().map(audit_record).collect()
            }

            async fn audit_head(&self) -> Result<AuditHead, StoreError> {
                let (seq, hash, scheme): (i64, String, String) =
                    sqlx::query_as("SELECT seq, hash, scheme FROM audit_head WHERE id = 1")
                        .fetch_one(self.reader())
                        .await
                        .map_err(db_err)?;
                Ok(AuditHead { seq, hash, scheme })
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
                rows.into_iter().map(audit_record).collect()
            }

            async fn verify_audit(
                &self,
                checkpoint: Option<&Checkpoint>,
            ) -> Result<Result<Result<Verified, ChainBreak>, KeyRequired>, StoreError> {
                // One snapshot, so a chain growing meanwhile is not mistaken for a broken one.
                let mut tx = self.reader().begin().await.map_err(db_err)?;
                if $backend == Backend::Postgres {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                let (seq, hash, scheme): (i64, String, String) =
                    sqlx::query_as("SELECT seq, hash, scheme FROM audit_head WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq"
                ))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                let loans: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT id, terms, terms_hash FROM loans ORDER BY id")
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?;
                let events: Vec<(String, i64, String, String)> = sqlx::query_as(
                    "SELECT loan_id, seq, value_date, event FROM loan_events ORDER BY loan_id, seq",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.rollback().await.map_err(db_err)?;
                let evidence = Evidence {
                    records: rows.into_iter().map(audit_record).collect::<Result<_, _>>()?,
                    head: Some(AuditHead { seq, hash, scheme }),
                    loans: loans
                        .into_iter()
                        .map(|l| StoredTerms { loan_id: l.0, terms: l.1, terms_hash: l.2 })
                        .collect(),
                    events: events
                        .into_iter()
                        .map(|e| EventRow { loan_id: e.0, seq: e.1, value_date: e.2, event: e.3 })
                        .collect(),
                };
                Ok(crate::audit::verify(&evidence, self.audit_key.as_ref(), checkpoint))
            }

            async fn audit_checkpoint(
                &self,
                audit: &AuditEntry,
                outbox_id: &str,
            ) -> Result<CheckpointRecord, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let (seq, hash): (i64, String) = sqlx::query_as(concat!(
                    "SELECT seq, hash FROM audit_head WHERE id = 1",
                    $lock_head
                ))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let c = CheckpointRecord { seq, hash, count, at: audit.at.clone() };
                let payload = serde_json::to_string(&c).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO outbox (id, loan_id, topic, payload, created_at) VALUES ($1, NULL, 'audit.checkpoint', $2, $3)",
                )
                .bind(outbox_id)
                .bind(&payload)
                .bind(&audit.at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let entry = AuditEntry {
                    target: format!("audit/{}:{}", c.seq, c.hash),
                    ..audit.clone()
                };
                self.append_audit(&mut tx, &entry).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(c)
            }

        }
    };
}

sql_audit!(SqliteStore, Sqlite, Backend::Sqlite, "");
sql_audit!(PgStore, Postgres, Backend::Postgres, " FOR UPDATE");
