//! [`FailureTables`] for both backends: one row per book and version, inserted, never updated.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::{
    AuditEntry, Decision, FailureTables, IdempotencyRecord, SEED_VERSION, StoreError,
    StoredFailureTable,
};

const COLUMNS: &str = "book_id, version, csv, changed_by, changed_at";

macro_rules! sql_failure_table {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Insert the book's table at `t.version`, the one after the newest stored (after the
            /// seed's when none is).
            async fn write_failure_table(
                tx: &mut sqlx::Transaction<'_, $db>,
                t: &StoredFailureTable,
            ) -> Result<(), StoreError> {
                let newest: (Option<i64>,) =
                    sqlx::query_as("SELECT MAX(version) FROM failure_tables WHERE book_id = $1")
                        .bind(&t.book_id)
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(db_err)?;
                let actual = newest.0.unwrap_or(SEED_VERSION);
                let conflict = StoreError::VersionConflict {
                    expected: t.version - 1,
                    actual,
                };
                if actual + 1 != t.version {
                    return Err(conflict);
                }
                let written = sqlx::query(&format!(
                    "INSERT INTO failure_tables ({COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
                ))
                .bind(&t.book_id)
                .bind(t.version)
                .bind(&t.csv)
                .bind(&t.changed_by)
                .bind(&t.changed_at)
                .execute(&mut **tx)
                .await;
                match written {
                    Ok(_) => Ok(()),
                    // A concurrent writer took the version first.
                    Err(e) if is_unique_violation(&e) => Err(conflict),
                    Err(e) => Err(db_err(e)),
                }
            }
        }

        #[async_trait]
        impl FailureTables for $store {
            async fn failure_table(
                &self,
                book_id: &str,
            ) -> Result<Option<StoredFailureTable>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM failure_tables WHERE book_id = $1 \
                     ORDER BY version DESC LIMIT 1"
                ))
                .bind(book_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)
            }

            async fn failure_table_version(
                &self,
                book_id: &str,
                version: i64,
            ) -> Result<Option<StoredFailureTable>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM failure_tables WHERE book_id = $1 AND version = $2"
                ))
                .bind(book_id)
                .bind(version)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)
            }

            async fn add_failure_table(
                &self,
                table: &StoredFailureTable,
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
                Self::write_failure_table(&mut tx, table).await?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }
        }
    };
}

sql_failure_table!(SqliteStore, sqlx::Sqlite);
sql_failure_table!(PgStore, sqlx::Postgres);
