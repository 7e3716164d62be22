//! [`Idempotency`] for both backends, and storing a reply under its key inside another write.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err};
use crate::{Idempotency, IdempotencyRecord, KeyReservation, StoreError};

/// Store a reply under its key: it completes the key's reservation, or takes a key nobody
/// reserved. Nothing is written when the key was used already or is reserved by another
/// request (a conflict for the caller). Bound as `$1..$7`.
pub(super) const RECORD_KEY: &str = "INSERT INTO idempotency_keys (scope, key, target, request_digest, status, body, created_at, reserved_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 0) \
     ON CONFLICT (scope, key) DO UPDATE SET status = excluded.status, body = excluded.body \
     WHERE idempotency_keys.status = 0 AND idempotency_keys.target = excluded.target \
     AND idempotency_keys.request_digest = excluded.request_digest";

macro_rules! sql_idempotency {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Store the reply under its idempotency key ([`RECORD_KEY`]); a key used already
            /// (or reserved by another request) is a conflict.
            pub(super) async fn record_key(
                tx: &mut sqlx::Transaction<'_, $db>,
                i: &IdempotencyRecord,
                at: &str,
            ) -> Result<(), StoreError> {
                let done = sqlx::query(RECORD_KEY)
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
                sqlx::query_as(
                    "SELECT scope, key, target, request_digest, status, body FROM idempotency_keys \
                     WHERE scope = $1 AND key = $2",
                )
                .bind(scope)
                .bind(key)
                .fetch_optional(exec)
                .await
                .map_err(db_err)
            }
        }

        #[async_trait]
        impl Idempotency for $store {
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
                // One statement on its own (no BEGIN/COMMIT round trips): the insert, or the
                // takeover of a stale reservation, is atomic by itself.
                let mut conn = self.writer().acquire().await.map_err(db_err)?;
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
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                if taken.rows_affected() == 1 {
                    return Ok(KeyReservation::Reserved);
                }
                let existing = Self::key_in(&mut *conn, &r.scope, &r.key).await?;
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
        }
    };
}

sql_idempotency!(SqliteStore, sqlx::Sqlite);
sql_idempotency!(PgStore, sqlx::Postgres);
