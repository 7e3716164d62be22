//! [`Approvals`] for both backends, and marking an approval decided inside another write.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err};
use crate::{Approval, Approvals, AuditEntry, Decision, IdempotencyRecord, StoreError};

const APPROVAL_COLUMNS: &str =
    "id, action, target, payload, maker, status, checker, created_at, decided_at";

macro_rules! sql_approvals {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Mark a pending approval decided; refused when it is not pending any more.
            pub(super) async fn decide(
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
        }

        #[async_trait]
        impl Approvals for $store {
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
                sqlx::query_as(&format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)
            }

            async fn approvals(
                &self,
                status: Option<&str>,
                limit: i64,
            ) -> Result<Vec<Approval>, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE 1 = 1"
                ));
                if let Some(s) = status {
                    q.push(" AND status = ").push_bind(s.to_owned());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(limit.clamp(1, 1000));
                q.build_query_as()
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_err)
            }

            async fn reject_approval(
                &self,
                d: &Decision,
                audit: &AuditEntry,
                key: Option<&IdempotencyRecord>,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                Self::decide(&mut tx, d, "rejected").await?;
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &d.at).await?;
                }
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }
        }
    };
}

sql_approvals!(SqliteStore, sqlx::Sqlite);
sql_approvals!(PgStore, sqlx::Postgres);
