//! [`Loans`] for both backends: reading loans, events, snapshots and projections. The command
//! write itself is in `command.rs`.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err};
use crate::{
    CommandWrite, LoanFilter, LoanListing, LoanRecord, Loans, Projection, SnapshotRecord,
    StoreError, StoredEvent,
};

#[derive(sqlx::FromRow)]
struct LoanRow {
    id: String,
    book_id: String,
    loan_number: String,
    borrower_id: Option<String>,
    product_id: Option<String>,
    product_version: Option<i64>,
    terms: String,
    terms_hash: String,
    created_at: String,
    application_id: Option<String>,
    /// The partner ids joined by [`SEPARATOR`], in order; `None` for none.
    partners: Option<String>,
}

/// One row of a resume point: the snapshot first (`kind` 0: `seq` its version, `value_date`
/// its day, `event` its engine JSON), then the events after it (`kind` 1).
#[derive(sqlx::FromRow)]
struct ResumeRow {
    kind: i64,
    seq: i64,
    value_date: String,
    event: String,
    recorded_at: String,
    command_id: String,
}

const PROJECTION_COLUMNS: &str = "p.loan_id, p.version, p.as_of, p.status, p.classification, p.dpd, \
     p.principal_outstanding, p.total_overdue, p.state";

const EVENT_COLUMNS: &str = "loan_id, seq, value_date, event, recorded_at, command_id";

/// Separates documents in one aggregated string: JSON escapes every control character inside
/// strings, and ids hold none, so a record separator never occurs in a document.
const SEPARATOR: char = '\u{1e}';

fn split_joined(joined: Option<String>) -> Vec<String> {
    match joined {
        None => Vec::new(),
        Some(j) if j.is_empty() => Vec::new(),
        Some(j) => j.split(SEPARATOR).map(str::to_owned).collect(),
    }
}

fn resume(loan_id: &str, rows: Vec<ResumeRow>) -> Option<(SnapshotRecord, Vec<StoredEvent>)> {
    let mut rows = rows.into_iter();
    let first = rows.next().filter(|r| r.kind == 0)?;
    let snapshot = SnapshotRecord {
        loan_id: loan_id.to_owned(),
        version: first.seq,
        day: first.value_date,
        engine: first.event,
        created_at: first.recorded_at,
    };
    let events = rows
        .map(|r| StoredEvent {
            loan_id: loan_id.to_owned(),
            seq: r.seq,
            value_date: r.value_date,
            event: r.event,
            recorded_at: r.recorded_at,
            command_id: r.command_id,
        })
        .collect();
    Some((snapshot, events))
}

macro_rules! sql_loans {
    ($store:ty, $db:ty, $aggregate:literal, $partners:literal) => {
        #[async_trait]
        impl Loans for $store {
            async fn commit(&self, w: &CommandWrite) -> Result<Vec<i64>, StoreError> {
                self.write_command(w).await
            }

            async fn commit_batch(&self, writes: &[CommandWrite]) -> Result<(), StoreError> {
                self.write_commands(writes).await
            }

            async fn loan(&self, id: &str) -> Result<Option<LoanRecord>, StoreError> {
                let row: Option<LoanRow> = sqlx::query_as(concat!(
                    "SELECT id, book_id, loan_number, borrower_id, product_id, product_version, terms, terms_hash, created_at, application_id, ",
                    $partners,
                    " AS partners FROM loans l WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
                Ok(row.map(|r| LoanRecord {
                    id: r.id,
                    book_id: r.book_id,
                    loan_number: r.loan_number,
                    borrower_id: r.borrower_id,
                    product_id: r.product_id,
                    product_version: r.product_version,
                    terms: r.terms,
                    terms_hash: r.terms_hash,
                    partner_ids: split_joined(r.partners),
                    created_at: r.created_at,
                    application_id: r.application_id,
                }))
            }

            async fn events(&self, loan_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
                self.events_after(loan_id, 0).await
            }

            async fn events_after(&self, loan_id: &str, version: i64) -> Result<Vec<StoredEvent>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {EVENT_COLUMNS} FROM loan_events WHERE loan_id = $1 AND seq > $2 ORDER BY seq"
                ))
                .bind(loan_id)
                .bind(version)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            async fn event_documents(&self, loan_id: &str) -> Result<Vec<String>, StoreError> {
                // One row instead of thousands: the driver's per-row cost dominates otherwise.
                let (joined,): (Option<String>,) = sqlx::query_as($aggregate)
                    .bind(loan_id)
                    .fetch_one(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(split_joined(joined))
            }

            async fn resume_point(
                &self,
                loan_id: &str,
                before_day: Option<&str>,
            ) -> Result<Option<(SnapshotRecord, Vec<StoredEvent>)>, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "WITH s AS (SELECT loan_id, version, day, engine, created_at FROM loan_snapshots WHERE loan_id = ",
                );
                q.push_bind(loan_id.to_owned());
                if let Some(day) = before_day {
                    q.push(" AND day < ").push_bind(day.to_owned());
                }
                q.push(
                    " ORDER BY version DESC LIMIT 1) \
                     SELECT CAST(0 AS BIGINT) AS kind, s.version AS seq, s.day AS value_date, s.engine AS event, \
                     s.created_at AS recorded_at, '' AS command_id FROM s \
                     UNION ALL \
                     SELECT CAST(1 AS BIGINT), e.seq, e.value_date, e.event, e.recorded_at, e.command_id \
                     FROM s JOIN loan_events e ON e.loan_id = s.loan_id AND e.seq > s.version \
                     ORDER BY 1, 2",
                );
                let rows: Vec<ResumeRow> = q.build_query_as().fetch_all(self.reader()).await.map_err(db_err)?;
                Ok(resume(loan_id, rows))
            }

            async fn snapshots(&self, loan_id: &str) -> Result<Vec<SnapshotRecord>, StoreError> {
                sqlx::query_as(
                    "SELECT loan_id, version, day, engine, created_at FROM loan_snapshots \
                     WHERE loan_id = $1 ORDER BY version",
                )
                .bind(loan_id)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            async fn projection(&self, loan_id: &str) -> Result<Option<Projection>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {PROJECTION_COLUMNS} FROM loan_projections p WHERE p.loan_id = $1"
                ))
                .bind(loan_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)
            }

            async fn projection_head(&self, loan_id: &str) -> Result<Option<(i64, String)>, StoreError> {
                sqlx::query_as("SELECT version, classification FROM loan_projections WHERE loan_id = $1")
                    .bind(loan_id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)
            }

            async fn list_loans(&self, f: &LoanFilter) -> Result<Vec<LoanListing>, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {PROJECTION_COLUMNS}, l.loan_number FROM loan_projections p \
                     JOIN loans l ON l.id = p.loan_id WHERE 1 = 1"
                ));
                if let Some(s) = &f.status {
                    q.push(" AND p.status = ").push_bind(s.clone());
                }
                if let Some(c) = &f.classification {
                    q.push(" AND p.classification = ").push_bind(c.clone());
                }
                if let Some(d) = f.dpd_min {
                    q.push(" AND p.dpd >= ").push_bind(d);
                }
                if let Some(d) = f.dpd_max {
                    q.push(" AND p.dpd <= ").push_bind(d);
                }
                if let Some(n) = &f.loan_number {
                    q.push(" AND l.loan_number = ").push_bind(n.clone());
                }
                if let Some(partner) = &f.partner_id {
                    q.push(" AND p.loan_id IN (SELECT loan_id FROM loan_partners WHERE partner_id = ")
                        .push_bind(partner.clone())
                        .push(")");
                }
                if let Some(after) = &f.after {
                    q.push(" AND p.loan_id > ").push_bind(after.clone());
                }
                q.push(" ORDER BY p.loan_id LIMIT ").push_bind(f.limit.clamp(1, 1000));
                q.build_query_as().fetch_all(self.reader()).await.map_err(db_err)
            }

            async fn refresh_projections(&self, ps: &[Projection]) -> Result<usize, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let mut written = 0;
                for p in ps {
                    let done = sqlx::query(
                        "UPDATE loan_projections SET as_of = $2, status = $3, classification = $4, dpd = $5, \
                         principal_outstanding = $6, total_overdue = $7, state = $8 \
                         WHERE loan_id = $1 AND version = $9",
                    )
                    .bind(&p.loan_id)
                    .bind(&p.as_of)
                    .bind(&p.status)
                    .bind(&p.classification)
                    .bind(p.dpd)
                    .bind(p.principal_outstanding)
                    .bind(p.total_overdue)
                    .bind(&p.state)
                    .bind(p.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    written += usize::try_from(done.rows_affected()).unwrap_or(0);
                }
                tx.commit().await.map_err(db_err)?;
                Ok(written)
            }

            async fn loan_ids(&self) -> Result<Vec<String>, StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM loans ORDER BY id")
                    .fetch_all(self.reader())
                    .await
                    .map_err(db_err)?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }
        }
    };
}

// The aggregates differ in name and in how they are ordered.
sql_loans!(
    SqliteStore,
    sqlx::Sqlite,
    "SELECT group_concat(event, char(30)) FROM \
     (SELECT event FROM loan_events WHERE loan_id = $1 ORDER BY seq)",
    "(SELECT group_concat(partner_id, char(30) ORDER BY partner_id) FROM loan_partners \
     WHERE loan_id = l.id)"
);
sql_loans!(
    PgStore,
    sqlx::Postgres,
    "SELECT string_agg(event, chr(30) ORDER BY seq) FROM loan_events WHERE loan_id = $1",
    "(SELECT string_agg(partner_id, chr(30) ORDER BY partner_id) FROM loan_partners WHERE loan_id = l.id)"
);
