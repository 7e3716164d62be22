//! [`Tokens`] for both backends, written once like the rest of the SQL.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::tokens::{NewToken, TokenGrant, TokenRecord, Tokens};
use crate::{AuditEntry, StoreError, User};

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: String,
    prefix: Option<String>,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    revoked_by: Option<String>,
    user_id: String,
    user_name: String,
    user_role: String,
    user_partner_id: Option<String>,
    user_created_at: String,
}

const RECORD_COLUMNS: &str = "t.id, t.prefix, t.created_at, t.expires_at, t.revoked_at, t.revoked_by, \
     u.id AS user_id, u.name AS user_name, u.role AS user_role, u.partner_id AS user_partner_id, \
     u.created_at AS user_created_at";

fn record(r: RecordRow) -> TokenRecord {
    TokenRecord {
        id: r.id,
        prefix: r.prefix,
        created_at: r.created_at,
        expires_at: r.expires_at,
        revoked_at: r.revoked_at,
        revoked_by: r.revoked_by,
        user: User {
            id: r.user_id,
            name: r.user_name,
            role: r.user_role,
            partner_id: r.user_partner_id,
            created_at: r.user_created_at,
        },
    }
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    token_id: String,
    expires_at: Option<String>,
    #[sqlx(flatten)]
    user: User,
    generation: i64,
}

macro_rules! sql_tokens {
    ($store:ty) => {
        #[async_trait]
        impl Tokens for $store {
            async fn issue_token(&self, t: &NewToken, audit: &AuditEntry) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                sqlx::query(
                    "INSERT INTO api_tokens (hash, id, prefix, user_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&t.hash)
                .bind(&t.id)
                .bind(&t.prefix)
                .bind(&t.user_id)
                .bind(&t.created_at)
                .bind(&t.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Duplicate {
                            what: format!("token `{}`", t.id),
                        }
                    } else {
                        db_err(e)
                    }
                })?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn token_grant(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
                let row: Option<GrantRow> = sqlx::query_as(
                    "SELECT t.id AS token_id, t.expires_at, u.id, u.name, u.role, u.partner_id, u.created_at, g.generation \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id CROSS JOIN token_revocations g \
                     WHERE t.hash = $1 AND t.revoked_at IS NULL AND g.id = 1",
                )
                .bind(hash)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                Ok(row.map(|r| TokenGrant {
                    token_id: r.token_id,
                    expires_at: r.expires_at,
                    user: r.user,
                    generation: r.generation,
                }))
            }

            async fn revocation_generation(&self) -> Result<i64, StoreError> {
                let (g,): (i64,) =
                    sqlx::query_as("SELECT generation FROM token_revocations WHERE id = 1")
                        .fetch_one(self.reader())
                        .await
                        .map_err(db_err)?;
                Ok(g)
            }

            async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
                let rows: Vec<RecordRow> = sqlx::query_as(&format!(
                    "SELECT {RECORD_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     ORDER BY t.created_at, t.id"
                ))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(record).collect())
            }

            async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
                let row: Option<RecordRow> = sqlx::query_as(&format!(
                    "SELECT {RECORD_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.id = $1"
                ))
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                Ok(row.map(record))
            }

            async fn revoke_token(
                &self,
                id: &str,
                at: &str,
                by: &str,
                audit: &AuditEntry,
            ) -> Result<bool, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 \
                     WHERE id = $3 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(by)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                if done == 0 {
                    let exists: Option<(String,)> =
                        sqlx::query_as("SELECT id FROM api_tokens WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    tx.rollback().await.map_err(db_err)?;
                    return match exists {
                        Some(_) => Ok(false),
                        None => Err(StoreError::NotFound {
                            what: format!("token `{id}`"),
                        }),
                    };
                }
                sqlx::query("UPDATE token_revocations SET generation = generation + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }
        }
    };
}

sql_tokens!(SqliteStore);
sql_tokens!(PgStore);
