//! [`Books`] for both backends: the book row, its business date, and the heartbeat.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err};
use crate::{AuditEntry, Backend, Books, StoreError};

macro_rules! sql_books {
    ($store:ty, $backend:expr) => {
        #[async_trait]
        impl Books for $store {
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
                let done = sqlx::query(
                    "UPDATE books SET business_date = $1 WHERE id = $2 AND business_date = $3",
                )
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

sql_books!(SqliteStore, Backend::Sqlite);
sql_books!(PgStore, Backend::Postgres);
