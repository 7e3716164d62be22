//! [`Outbox`] for both backends: webhook endpoints, dispatching outbox messages to them, and
//! their deliveries.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err};
use crate::{
    Attempt, AuditEntry, Delivery, IdempotencyRecord, Outbox, OutboxMessage, StoreError,
    WebhookEndpoint,
};

const DELIVERY_COLUMNS: &str = "d.endpoint_id, d.outbox_position, d.attempts, d.status, \
     d.next_attempt_at, d.last_error, d.delivered_at";

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    url: String,
    secret: String,
    /// JSON array.
    topics: String,
    active: bool,
    created_at: String,
}

impl WebhookRow {
    fn endpoint(self) -> Result<WebhookEndpoint, StoreError> {
        Ok(WebhookEndpoint {
            topics: serde_json::from_str(&self.topics)
                .map_err(|e| StoreError::Corrupt(format!("webhook {}: {e}", self.id)))?,
            id: self.id,
            url: self.url,
            secret: self.secret,
            active: self.active,
            created_at: self.created_at,
        })
    }
}

/// A due delivery and its message (their columns do not clash).
#[derive(sqlx::FromRow)]
struct DueRow {
    #[sqlx(flatten)]
    delivery: Delivery,
    #[sqlx(flatten)]
    message: OutboxMessage,
}

macro_rules! sql_outbox {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl Outbox for $store {
            async fn create_webhook(&self, w: &WebhookEndpoint, audit: &AuditEntry, key: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
                let topics = serde_json::to_string(&w.topics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut tx = Self::begin_write(self.writer()).await?;
                sqlx::query(
                    "INSERT INTO webhook_endpoints (id, url, secret, topics, active, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&w.id)
                .bind(&w.url)
                .bind(&w.secret)
                .bind(topics)
                .bind(w.active)
                .bind(&w.created_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &w.created_at).await?;
                }
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
                let rows: Vec<WebhookRow> = sqlx::query_as(
                    "SELECT id, url, secret, topics, active, created_at FROM webhook_endpoints ORDER BY id",
                )
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                rows.into_iter().map(WebhookRow::endpoint).collect()
            }

            async fn dispatch_outbox(&self, now: &str, limit: i64) -> Result<usize, StoreError> {
                let endpoints: Vec<WebhookEndpoint> =
                    self.webhooks().await?.into_iter().filter(|w| w.active).collect();
                let mut tx = Self::begin_write(self.writer()).await?;
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT position, topic FROM outbox WHERE dispatched_at IS NULL ORDER BY position LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                if rows.is_empty() {
                    return Ok(0);
                }
                // Every delivery in one statement, every message marked in another.
                let pairs: Vec<(&str, i64)> = rows
                    .iter()
                    .flat_map(|(position, topic)| {
                        endpoints
                            .iter()
                            .filter(move |w| w.topics.iter().any(|t| t == "*" || t == topic))
                            .map(move |w| (w.id.as_str(), *position))
                    })
                    .collect();
                for chunk in pairs.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO webhook_deliveries (endpoint_id, outbox_position, attempts, status, next_attempt_at) ",
                    );
                    q.push_values(chunk, |mut b, (endpoint, position)| {
                        b.push_bind((*endpoint).to_owned())
                            .push_bind(*position)
                            .push_bind(0_i64)
                            .push_bind("pending")
                            .push_bind(now.to_owned());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE outbox SET dispatched_at = ");
                q.push_bind(now.to_owned()).push(" WHERE position IN (");
                let mut list = q.separated(", ");
                for (position, _) in &rows {
                    list.push_bind(*position);
                }
                q.push(")");
                q.build().execute(&mut *tx).await.map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(rows.len())
            }

            async fn due_deliveries(&self, now: &str) -> Result<Vec<(Delivery, OutboxMessage)>, StoreError> {
                let rows: Vec<DueRow> = sqlx::query_as(&format!(
                    "SELECT {DELIVERY_COLUMNS}, o.position, o.id, o.loan_id, o.topic, o.payload, o.created_at \
                     FROM webhook_deliveries d JOIN outbox o ON o.position = d.outbox_position \
                     WHERE d.status = 'pending' AND d.outbox_position = \
                       (SELECT MIN(e.outbox_position) FROM webhook_deliveries e \
                        WHERE e.endpoint_id = d.endpoint_id AND e.status = 'pending') \
                     AND d.next_attempt_at <= $1 ORDER BY d.outbox_position"
                ))
                .bind(now)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|r| (r.delivery, r.message)).collect())
            }

            async fn record_attempt(&self, endpoint_id: &str, position: i64, a: &Attempt) -> Result<(), StoreError> {
                let q = match a {
                    Attempt::Delivered { at } => sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, status = 'delivered', \
                         delivered_at = $1, next_attempt_at = NULL, last_error = NULL \
                         WHERE endpoint_id = $2 AND outbox_position = $3",
                    )
                    .bind(at.clone()),
                    Attempt::Failed { error, next_attempt_at } => sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, \
                         status = CASE WHEN $1 IS NULL THEN 'failed' ELSE 'pending' END, \
                         next_attempt_at = $1, last_error = $2 \
                         WHERE endpoint_id = $3 AND outbox_position = $4",
                    )
                    .bind(next_attempt_at.clone())
                    .bind(error.clone()),
                };
                q.bind(endpoint_id.to_owned())
                    .bind(position)
                    .execute(self.writer())
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn deliveries(&self, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.endpoint_id = $1 \
                     ORDER BY d.outbox_position DESC LIMIT $2"
                ))
                .bind(endpoint_id)
                .bind(limit.clamp(1, 1000))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }
        }
    };
}

sql_outbox!(SqliteStore, sqlx::Sqlite);
sql_outbox!(PgStore, sqlx::Postgres);
