//! [`Catalogue`] for both backends: products with their versions, and parties.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::{
    AuditEntry, Catalogue, Decision, IdempotencyRecord, Party, ProductVersion, StoreError,
};

const PRODUCT_COLUMNS: &str =
    "p.id AS product_id, p.code, p.name, v.version, v.config, v.created_at";
const PARTY_COLUMNS: &str = "id, book_id, kind, name, details, created_at";

macro_rules! sql_catalogue {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Record a party, with its audit record, in the write `tx` belongs to.
            pub(super) async fn write_party(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                p: &Party,
                audit: &AuditEntry,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!("INSERT INTO parties ({PARTY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
                    .bind(&p.id)
                    .bind(&p.book_id)
                    .bind(&p.kind)
                    .bind(&p.name)
                    .bind(&p.details)
                    .bind(&p.created_at)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                self.append_audit(tx, audit).await.map(|_| ())
            }

            /// Create the product at version 1, or rename it for a later version; then add the
            /// version. Refused with `VersionConflict` when `version` is not the next one.
            async fn write_product_version(
                tx: &mut sqlx::Transaction<'_, $db>,
                book_id: &str,
                v: &ProductVersion,
            ) -> Result<(), StoreError> {
                let current: Option<(i64,)> = sqlx::query_as(
                    "SELECT MAX(version) FROM product_versions WHERE product_id = $1 HAVING COUNT(*) > 0",
                )
                .bind(&v.product_id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_err)?;
                let actual = current.map_or(0, |c| c.0);
                if actual + 1 != v.version {
                    return Err(StoreError::VersionConflict { expected: v.version - 1, actual });
                }
                let renamed = if actual == 0 {
                    sqlx::query("INSERT INTO products (id, book_id, code, name, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&v.product_id)
                        .bind(book_id)
                        .bind(&v.code)
                        .bind(&v.name)
                        .bind(&v.created_at)
                } else {
                    sqlx::query("UPDATE products SET name = $1 WHERE id = $2")
                        .bind(&v.name)
                        .bind(&v.product_id)
                };
                renamed.execute(&mut **tx).await.map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Duplicate { what: format!("product `{}`", v.code) }
                    } else {
                        db_err(e)
                    }
                })?;
                sqlx::query("INSERT INTO product_versions (product_id, version, config, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&v.product_id)
                    .bind(v.version)
                    .bind(&v.config)
                    .bind(&v.created_at)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::VersionConflict { expected: v.version - 1, actual: v.version }
                        } else {
                            db_err(e)
                        }
                    })?;
                Ok(())
            }
        }

        #[async_trait]
        impl Catalogue for $store {
            async fn add_product_version(
                &self,
                book_id: &str,
                v: &ProductVersion,
                audit: &AuditEntry,
                approval: Option<&Decision>,
                key: Option<&IdempotencyRecord>,
            ) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                if let Some(d) = approval {
                    Self::decide(&mut tx, d, "approved").await?;
                }
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &v.created_at).await?;
                }
                Self::write_product_version(&mut tx, book_id, v).await?;
                self.append_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn product(&self, code: &str, version: Option<i64>) -> Result<Option<ProductVersion>, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products p JOIN product_versions v ON v.product_id = p.id WHERE p.code = "
                ));
                q.push_bind(code.to_owned());
                if let Some(n) = version {
                    q.push(" AND v.version = ").push_bind(n);
                }
                q.push(" ORDER BY v.version DESC LIMIT 1");
                q.build_query_as().fetch_optional(self.reader()).await.map_err(db_err)
            }

            async fn products(&self) -> Result<Vec<ProductVersion>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products p JOIN product_versions v ON v.product_id = p.id \
                     WHERE v.version = (SELECT MAX(w.version) FROM product_versions w WHERE w.product_id = p.id) \
                     ORDER BY p.code"
                ))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            async fn create_party(&self, p: &Party, audit: &AuditEntry, key: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                self.write_party(&mut tx, p, audit).await?;
                if let Some(k) = key {
                    Self::record_key(&mut tx, k, &p.created_at).await?;
                }
                tx.commit().await.map_err(db_err)
            }

            async fn party(&self, id: &str) -> Result<Option<Party>, StoreError> {
                sqlx::query_as(&format!("SELECT {PARTY_COLUMNS} FROM parties WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)
            }

            async fn parties(&self, kind: Option<&str>, after: Option<&str>, limit: i64) -> Result<Vec<Party>, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {PARTY_COLUMNS} FROM parties WHERE 1 = 1"
                ));
                if let Some(k) = kind {
                    q.push(" AND kind = ").push_bind(k.to_owned());
                }
                if let Some(a) = after {
                    q.push(" AND id > ").push_bind(a.to_owned());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(limit.clamp(1, 1000));
                q.build_query_as().fetch_all(self.reader()).await.map_err(db_err)
            }
        }
    };
}

sql_catalogue!(SqliteStore, sqlx::Sqlite);
sql_catalogue!(PgStore, sqlx::Postgres);
