//! [`Users`] for both backends.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::{AuditEntry, StoreError, User, Users};

macro_rules! sql_users {
    ($store:ty) => {
        #[async_trait]
        impl Users for $store {
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
                        StoreError::Duplicate { what: format!("user `{}`", u.name) }
                    } else {
                        db_err(e)
                    }
                })?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
                sqlx::query_as(
                    "SELECT id, name, role, partner_id, created_at FROM users WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)
            }

            async fn user_count(&self) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
                    .fetch_one(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(n)
            }
        }
    };
}

sql_users!(SqliteStore);
sql_users!(PgStore);
