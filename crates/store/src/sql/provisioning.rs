//! [`Provisioning`] for both backends: one row per book, replaced whole under its version.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::{AuditEntry, Decision, IdempotencyRecord, Provisioning, ProvisioningTable, StoreError};

const COLUMNS: &str = "book_id, version, preset, rates, categories, changed_by, changed_at";

macro_rules! sql_provisioning {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Write the book's table at `t.version`: the first one inserted, a later one
            /// replacing the version before it.
            async fn write_provisioning(
                tx: &mut sqlx::Transaction<'_, $db>,
                t: &ProvisioningTable,
            ) -> Result<(), StoreError> {
                let current: Option<(i64,)> = sqlx::query_as(
                    "SELECT version FROM provisioning_tables WHERE book_id = $1",
                )
                .bind(&t.book_id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_err)?;
                let actual = current.map_or(0, |c| c.0);
                let conflict = StoreError::VersionConflict { expected: t.version - 1, actual };
                if actual + 1 != t.version {
                    return Err(conflict);
                }
                let written = if actual == 0 {
                    sqlx::query(&format!(
                        "INSERT INTO provisioning_tables ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ))
                    .bind(&t.book_id)
                    .bind(t.version)
                    .bind(&t.preset)
                    .bind(&t.rates)
                    .bind(&t.categories)
                    .bind(&t.changed_by)
                    .bind(&t.changed_at)
                    .execute(&mut **tx)
                    .await
                } else {
                    sqlx::query(
                        "UPDATE provisioning_tables SET version = $1, preset = $2, rates = $3, \
                         categories = $4, changed_by = $5, changed_at = $6 \
                         WHERE book_id = $7 AND version = $8",
                    )
                    .bind(t.version)
                    .bind(&t.preset)
                    .bind(&t.rates)
                    .bind(&t.categories)
                    .bind(&t.changed_by)
                    .bind(&t.changed_at)
                    .bind(&t.book_id)
                    .bind(actual)
                    .execute(&mut **tx)
                    .await
                };
                match written {
                    Ok(done) if done.rows_affected() == 1 => Ok(()),
                    Ok(_) => Err(conflict),
                    Err(e) if is_unique_violation(&e) => Err(conflict),
                    Err(e) => Err(db_err(e)),
                }
            }
        }

        #[async_trait]
        impl Provisioning for $store {
            async fn provisioning_table(
                &self,
                book_id: &str,
            ) -> Result<Option<ProvisioningTable>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM provisioning_tables WHERE book_id = $1"
                ))
                .bind(book_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)
            }

            async fn replace_provisioning_table(
                &self,
                table: &ProvisioningTable,
                audit: &AuditEntry,
                approval: Option<&Decision>,
                key: Option<&IdempotencyRecord>,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                if let Some(d) = approval {
                    Self::decide(&mut tx, d, "approved").await?;
                }
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &table.changed_at).await?;
                }
                Self::write_provisioning(&mut tx, table).await?;
                // Every loan a close may still provision is read by the next close, which
                // prices it on the new table (its touch is done once its mark is rewritten).
                sqlx::query(
                    "INSERT INTO eod_touched (loan_id, part, version) \
                     SELECT m.loan_id, m.part, m.version FROM eod_marks m \
                     WHERE m.book_id = $1 AND m.wake_on IS NOT NULL AND m.part IS NOT NULL \
                     ON CONFLICT (loan_id) DO NOTHING",
                )
                .bind(&table.book_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }
        }
    };
}

sql_provisioning!(SqliteStore, sqlx::Sqlite);
sql_provisioning!(PgStore, sqlx::Postgres);
