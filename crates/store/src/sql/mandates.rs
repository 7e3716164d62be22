//! [`Mandates`] for both backends: one row per mandate, changed under its version, and an
//! append-only history beside it.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation, violation};
use crate::{MandateChange, MandateEvent, MandateRecord, MandateWriteMeta, Mandates, StoreError};

const COLUMNS: &str = "id, book_id, loan_id, rail, kind, reference, max_amount, currency, \
     frequency, start_date, end_date, submitted_on, status, status_on, status_reason, \
     debtor_name, account_last4, account_hash, bank_code, created_at, updated_at, version";

const EVENT_COLUMNS: &str = "mandate_id, seq, at, actor, from_status, to_status, reason, detail";

/// Map a violated constraint of a mandate write to what it means.
fn mandate_conflict(e: sqlx::Error, m: &MandateRecord, expected: i64) -> StoreError {
    if !is_unique_violation(&e) {
        return db_err(e);
    }
    let what = violation(&e);
    if what.contains("mandates_one_active") || what.contains("mandates.loan_id") {
        StoreError::Conflict {
            what: format!("loan `{}` has an active mandate already", m.loan_id),
        }
    } else if what.contains("mandate_events") {
        StoreError::VersionConflict {
            expected,
            actual: expected + 1,
        }
    } else if what.contains("mandates") {
        StoreError::Duplicate {
            what: format!("mandate `{}` on {}", m.reference, m.rail),
        }
    } else if what.contains("audit") {
        StoreError::Retryable("the audit stream moved on meanwhile".into())
    } else {
        db_err(e)
    }
}

macro_rules! sql_mandates {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn insert_mandate_row(
                tx: &mut sqlx::Transaction<'_, $db>,
                m: &MandateRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO mandates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                     $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
                ))
                .bind(&m.id)
                .bind(&m.book_id)
                .bind(&m.loan_id)
                .bind(&m.rail)
                .bind(&m.kind)
                .bind(&m.reference)
                .bind(m.max_amount)
                .bind(&m.currency)
                .bind(&m.frequency)
                .bind(&m.start_date)
                .bind(&m.end_date)
                .bind(&m.submitted_on)
                .bind(&m.status)
                .bind(&m.status_on)
                .bind(&m.status_reason)
                .bind(&m.debtor_name)
                .bind(&m.account_last4)
                .bind(&m.account_hash)
                .bind(&m.bank_code)
                .bind(&m.created_at)
                .bind(&m.updated_at)
                .bind(m.version)
                .execute(&mut **tx)
                .await
                .map_err(|e| mandate_conflict(e, m, 0))?;
                Ok(())
            }

            async fn insert_mandate_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                m: &MandateRecord,
                ev: &MandateEvent,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO mandate_events ({EVENT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(&ev.mandate_id)
                .bind(ev.seq)
                .bind(&ev.at)
                .bind(&ev.actor)
                .bind(&ev.from_status)
                .bind(&ev.to_status)
                .bind(&ev.reason)
                .bind(&ev.detail)
                .execute(&mut **tx)
                .await
                .map_err(|e| mandate_conflict(e, m, ev.seq - 1))?;
                Ok(())
            }

            /// Move the mandate to `c.mandate` if it is still at `c.expected_version`.
            async fn change_mandate_row(
                tx: &mut sqlx::Transaction<'_, $db>,
                c: &MandateChange,
            ) -> Result<(), StoreError> {
                let m = &c.mandate;
                if m.version != c.expected_version + 1 || c.event.seq != m.version {
                    return Err(StoreError::Conflict {
                        what: format!(
                            "mandate `{}`: version {} does not follow {}",
                            m.id, m.version, c.expected_version
                        ),
                    });
                }
                let done = sqlx::query(
                    "UPDATE mandates SET status = $1, status_on = $2, status_reason = $3, \
                     updated_at = $4, version = $5 WHERE id = $6 AND version = $7",
                )
                .bind(&m.status)
                .bind(&m.status_on)
                .bind(&m.status_reason)
                .bind(&m.updated_at)
                .bind(m.version)
                .bind(&m.id)
                .bind(c.expected_version)
                .execute(&mut **tx)
                .await
                .map_err(|e| mandate_conflict(e, m, c.expected_version))?;
                if done.rows_affected() != 1 {
                    let found: Option<(i64,)> =
                        sqlx::query_as("SELECT version FROM mandates WHERE id = $1")
                            .bind(&m.id)
                            .fetch_optional(&mut **tx)
                            .await
                            .map_err(db_err)?;
                    return Err(match found {
                        Some((actual,)) => StoreError::VersionConflict {
                            expected: c.expected_version,
                            actual,
                        },
                        None => StoreError::NotFound {
                            what: format!("mandate `{}`", m.id),
                        },
                    });
                }
                Self::insert_mandate_event(tx, m, &c.event).await
            }

            /// The audit records, the outbox messages and the stored reply of a write.
            async fn finish_mandate_write(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                meta: &MandateWriteMeta,
                at: &str,
            ) -> Result<(), StoreError> {
                if let Some(k) = &meta.key {
                    Self::record_key(tx, k, at).await?;
                }
                for o in &meta.outbox {
                    sqlx::query(
                        "INSERT INTO outbox (id, loan_id, topic, payload, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&o.id)
                    .bind(&o.loan_id)
                    .bind(&o.topic)
                    .bind(&o.payload)
                    .bind(at)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                }
                for a in &meta.audit {
                    self.append_audit(tx, a).await?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl Mandates for $store {
            async fn insert_mandate(
                &self,
                mandate: &MandateRecord,
                event: &MandateEvent,
                meta: &MandateWriteMeta,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                Self::insert_mandate_row(&mut tx, mandate).await?;
                Self::insert_mandate_event(&mut tx, mandate, event).await?;
                self.finish_mandate_write(&mut tx, meta, &mandate.created_at)
                    .await?;
                tx.commit().await.map_err(db_err)
            }

            async fn change_mandate_status(
                &self,
                change: &MandateChange,
                meta: &MandateWriteMeta,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                Self::change_mandate_row(&mut tx, change).await?;
                self.finish_mandate_write(&mut tx, meta, &change.mandate.updated_at)
                    .await?;
                tx.commit().await.map_err(db_err)
            }

            async fn replace_mandate(
                &self,
                old: &MandateChange,
                new: &MandateRecord,
                new_event: &MandateEvent,
                meta: &MandateWriteMeta,
            ) -> Result<(), StoreError> {
                if old.mandate.loan_id != new.loan_id {
                    return Err(StoreError::Conflict {
                        what: format!(
                            "mandate `{}` is not of loan `{}`",
                            old.mandate.id, new.loan_id
                        ),
                    });
                }
                let mut tx = Self::begin_write(self.writer()).await?;
                // The old one first: it gives up being active before the new one may be.
                Self::change_mandate_row(&mut tx, old).await?;
                Self::insert_mandate_row(&mut tx, new).await?;
                Self::insert_mandate_event(&mut tx, new, new_event).await?;
                self.finish_mandate_write(&mut tx, meta, &new.created_at)
                    .await?;
                tx.commit().await.map_err(db_err)
            }

            async fn mandate(&self, id: &str) -> Result<Option<MandateRecord>, StoreError> {
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM mandates WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)
            }

            async fn loan_mandates(&self, loan_id: &str) -> Result<Vec<MandateRecord>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM mandates WHERE loan_id = $1 ORDER BY created_at, id"
                ))
                .bind(loan_id)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            async fn mandate_history(&self, id: &str) -> Result<Vec<MandateEvent>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {EVENT_COLUMNS} FROM mandate_events WHERE mandate_id = $1 ORDER BY seq"
                ))
                .bind(id)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }
        }
    };
}

sql_mandates!(SqliteStore, sqlx::Sqlite);
sql_mandates!(PgStore, sqlx::Postgres);
