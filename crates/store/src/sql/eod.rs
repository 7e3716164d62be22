//! [`Eod`] for both backends: opening and finishing a close, claiming partitions, reading a
//! partition's loans in bulk and writing a chunk with its progress in one transaction.
//!
//! Where the backends differ it is a macro argument: PostgreSQL locks the book row while a close
//! is opened and claims with `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same
//! partition; SQLite has one writer (`BEGIN IMMEDIATE`), so a plain read is enough. Reads of a
//! chunk run in one read transaction (repeatable read on PostgreSQL), so a loan's snapshot, its
//! events and its projection agree even while commands are written meanwhile.
//!
//! A chunk's write is guarded by one conditional `UPDATE` of its progress row (not done, cursor
//! the chunk's starting one, run still running): a replayed or out-of-order chunk changes no row
//! and the whole write is refused before anything else is written. Bulk writes are multi-row
//! `INSERT … VALUES` statements, batched under both backends' bind limits.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err};
use crate::gl::check_balanced;
use crate::{
    AuditEntry, ChunkWrite, EOD_PARTITIONS, Eod, EodLoan, EodProgress, EodRun, Projection,
    RUN_DONE, RUN_RUNNING, StoreError,
};

/// Rows per multi-row statement: at most 9 bound values a row, so under 32,766 per statement.
const ROWS_PER_INSERT: usize = 3_000;

const PROGRESS_COLUMNS: &str =
    "step, partition, cursor, done, loans_read, loans_changed, rows_written, millis";

const RUN_COLUMNS: &str = "book_id, business_date, status, started_at, finished_at, summary";

/// The loan's projection is written only when it is newer than the stored one, or of the same
/// version and date or later with some column changed: never over a command's newer write.
const PROJECTION_UPSERT: &str = " ON CONFLICT (loan_id) DO UPDATE SET version = excluded.version, \
     as_of = excluded.as_of, status = excluded.status, classification = excluded.classification, \
     dpd = excluded.dpd, principal_outstanding = excluded.principal_outstanding, \
     total_overdue = excluded.total_overdue, state = excluded.state \
     WHERE excluded.version > loan_projections.version OR (excluded.version = loan_projections.version \
     AND excluded.as_of >= loan_projections.as_of AND (excluded.as_of <> loan_projections.as_of \
     OR excluded.status <> loan_projections.status OR excluded.classification <> loan_projections.classification \
     OR excluded.dpd <> loan_projections.dpd OR excluded.principal_outstanding <> loan_projections.principal_outstanding \
     OR excluded.total_overdue <> loan_projections.total_overdue OR excluded.state <> loan_projections.state))";

#[derive(sqlx::FromRow)]
struct ProgressRow {
    step: String,
    partition: i32,
    cursor: Option<String>,
    done: bool,
    loans_read: i64,
    loans_changed: i64,
    rows_written: i64,
    millis: i64,
}

impl ProgressRow {
    fn progress(self) -> Result<EodProgress, StoreError> {
        Ok(EodProgress {
            partition: u32::try_from(self.partition)
                .map_err(|_| StoreError::Corrupt(format!("partition {}", self.partition)))?,
            step: self.step,
            cursor: self.cursor,
            done: self.done,
            loans_read: self.loans_read,
            loans_changed: self.loans_changed,
            rows_written: self.rows_written,
            millis: self.millis,
        })
    }
}

fn conflict(what: String) -> StoreError {
    StoreError::Conflict { what }
}

/// Why a chunk's guarded update changed nothing, from its progress row and its run.
fn chunk_refusal(
    w: &ChunkWrite,
    from: Option<&str>,
    found: Option<(Option<String>, bool, String)>,
) -> StoreError {
    let at = format!(
        "partition {} of step `{}` of the close of {} for book `{}`",
        w.partition, w.step, w.business_date, w.book_id
    );
    match found {
        None => StoreError::NotFound { what: at },
        Some((_, _, status)) if status != RUN_RUNNING => {
            conflict(format!("{at}: the close is {status}"))
        }
        Some((_, true, _)) => conflict(format!("{at} is done already")),
        Some((cursor, false, _)) => conflict(format!(
            "{at} is at cursor {cursor:?}, not {from:?} where this chunk starts"
        )),
    }
}

/// A chunk's own consistency: its cursor moves forward (an empty chunk, which only closes its
/// partition, may keep it) and it upserts each loan once.
fn check_chunk(w: &ChunkWrite, from: Option<&str>) -> Result<(), StoreError> {
    check_balanced(&w.gl_lines)?;
    if w.partition >= EOD_PARTITIONS {
        return Err(StoreError::Corrupt(format!("partition {}", w.partition)));
    }
    match (from, w.cursor.as_deref()) {
        (Some(f), Some(t)) if t < f || (t == f && w.loans_read > 0) => Err(StoreError::Corrupt(
            format!("a chunk moving the cursor back from `{f}` to `{t}`"),
        )),
        (Some(f), None) => Err(StoreError::Corrupt(format!(
            "a chunk dropping the cursor `{f}`"
        ))),
        _ => {
            let mut seen = std::collections::HashSet::new();
            match w.projections.iter().find(|p| !seen.insert(&p.loan_id)) {
                Some(p) => Err(StoreError::Corrupt(format!(
                    "a chunk with two projections of loan `{}`",
                    p.loan_id
                ))),
                None => Ok(()),
            }
        }
    }
}

macro_rules! sql_eod {
    ($store:ty, $db:ty, $lock:literal, $skip_locked:literal, $read_begin:literal, $same:literal) => {
        impl $store {
            async fn run_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                book_id: &str,
                date: &str,
            ) -> Result<Option<EodRun>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {RUN_COLUMNS} FROM eod_runs WHERE book_id = $1 AND business_date = $2"
                ))
                .bind(book_id)
                .bind(date)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_err)
            }

            /// Upsert the chunk's projections, insert and prune its snapshots. Returns the rows written.
            async fn write_loans(
                tx: &mut sqlx::Transaction<'_, $db>,
                w: &ChunkWrite,
                at: &str,
            ) -> Result<u64, StoreError> {
                let mut written = 0;
                written += Self::upsert_marks(tx, &w.book_id, &w.marks).await?;
                written += Self::add_planned(tx, &w.book_id, &w.accruals).await?;
                for batch in w.projections.chunks(ROWS_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO loan_projections (loan_id, version, as_of, status, classification, dpd, \
                         principal_outstanding, total_overdue, state) ",
                    );
                    q.push_values(batch, |mut b, p: &Projection| {
                        b.push_bind(p.loan_id.clone())
                            .push_bind(p.version)
                            .push_bind(p.as_of.clone())
                            .push_bind(p.status.clone())
                            .push_bind(p.classification.clone())
                            .push_bind(p.dpd)
                            .push_bind(p.principal_outstanding)
                            .push_bind(p.total_overdue)
                            .push_bind(p.state.clone());
                    });
                    q.push(PROJECTION_UPSERT);
                    written += q.build().execute(&mut **tx).await.map_err(db_err)?.rows_affected();
                }
                for batch in w.snapshots.chunks(ROWS_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO loan_snapshots (loan_id, version, day, engine, created_at) ",
                    );
                    q.push_values(batch, |mut b, (loan_id, s)| {
                        b.push_bind(loan_id.clone())
                            .push_bind(s.version)
                            .push_bind(s.day.clone())
                            .push_bind(s.engine.clone())
                            .push_bind(at.to_owned());
                    });
                    q.push(" ON CONFLICT (loan_id, version) DO NOTHING");
                    written += q.build().execute(&mut **tx).await.map_err(db_err)?.rows_affected();
                    // As a command prunes: the newest `SNAPSHOTS_KEPT`, and the newest of each block.
                    let mut q = sqlx::QueryBuilder::<$db>::new("");
                    Self::push_prune_loans(&mut q, batch.iter().map(|(loan_id, _)| loan_id.as_str()));
                    q.build().execute(&mut **tx).await.map_err(db_err)?;
                }
                Ok(written)
            }

            /// The guarded advance of the chunk's progress row; `false` when it does not apply.
            async fn advance(
                tx: &mut sqlx::Transaction<'_, $db>,
                w: &ChunkWrite,
                from: Option<&str>,
            ) -> Result<bool, StoreError> {
                let partition = i32::try_from(w.partition).unwrap_or(i32::MAX);
                let done = sqlx::query(concat!(
                    "UPDATE eod_progress SET cursor = $1, done = $2, loans_read = loans_read + $3, \
                     loans_changed = loans_changed + $4, millis = millis + $5 \
                     WHERE book_id = $6 AND business_date = $7 AND step = $8 AND partition = $9 \
                     AND NOT done AND cursor ",
                    $same,
                    " $10 AND EXISTS (SELECT 1 FROM eod_runs r WHERE r.book_id = $6 \
                     AND r.business_date = $7 AND r.status = 'running')"
                ))
                .bind(w.cursor.clone())
                .bind(w.done)
                .bind(w.loans_read)
                .bind(w.loans_changed)
                .bind(w.millis)
                .bind(&w.book_id)
                .bind(&w.business_date)
                .bind(&w.step)
                .bind(partition)
                .bind(from)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 1 {
                    return Ok(true);
                }
                Ok(false)
            }

            /// What stands in a refused chunk's way: its progress row's cursor and done, its run's status.
            async fn refusal(
                tx: &mut sqlx::Transaction<'_, $db>,
                w: &ChunkWrite,
                from: Option<&str>,
            ) -> StoreError {
                let partition = i32::try_from(w.partition).unwrap_or(i32::MAX);
                let found: Result<Option<(Option<String>, bool, String)>, sqlx::Error> = sqlx::query_as(
                    "SELECT g.cursor, g.done, r.status FROM eod_progress g JOIN eod_runs r \
                     ON r.book_id = g.book_id AND r.business_date = g.business_date \
                     WHERE g.book_id = $1 AND g.business_date = $2 AND g.step = $3 AND g.partition = $4",
                )
                .bind(&w.book_id)
                .bind(&w.business_date)
                .bind(&w.step)
                .bind(partition)
                .fetch_optional(&mut **tx)
                .await;
                match found {
                    Ok(found) => chunk_refusal(w, from, found),
                    Err(e) => db_err(e),
                }
            }
        }

        #[async_trait]
        impl Eod for $store {
            async fn open_run(
                &self,
                book_id: &str,
                date: &str,
                next: &str,
                at: &str,
                audit: &AuditEntry,
            ) -> Result<(EodRun, bool), StoreError> {
                if next <= date {
                    return Err(conflict(format!("the day after {date} cannot be {next}")));
                }
                let mut tx = Self::begin_write(self.writer()).await?;
                let current: Option<(String,)> =
                    sqlx::query_as(concat!("SELECT business_date FROM books WHERE id = $1", $lock))
                        .bind(book_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                let Some((current,)) = current else {
                    return Err(StoreError::NotFound { what: format!("book `{book_id}`") });
                };
                match Self::run_in(&mut tx, book_id, date).await? {
                    Some(run) if run.status == RUN_RUNNING && current == next => Ok((run, false)),
                    Some(run) => Err(conflict(format!(
                        "the close of {date} for book `{book_id}` is {} and the business date is {current}",
                        run.status
                    ))),
                    None if current == date => {
                        let run = EodRun {
                            book_id: book_id.to_owned(),
                            business_date: date.to_owned(),
                            status: RUN_RUNNING.to_owned(),
                            started_at: at.to_owned(),
                            finished_at: None,
                            summary: None,
                        };
                        sqlx::query(
                            "INSERT INTO eod_runs (book_id, business_date, status, started_at) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(book_id)
                        .bind(date)
                        .bind(RUN_RUNNING)
                        .bind(at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        sqlx::query("UPDATE books SET business_date = $1 WHERE id = $2")
                            .bind(next)
                            .bind(book_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        self.append_audit(&mut tx, audit).await?;
                        tx.commit().await.map_err(db_err)?;
                        Ok((run, true))
                    }
                    None => Err(conflict(format!(
                        "the business date of book `{book_id}` is {current}, not {date}"
                    ))),
                }
            }

            async fn claim(
                &self,
                book_id: &str,
                date: &str,
                step: &str,
                partitions: u32,
                worker: &str,
                at: &str,
                stale_before: &str,
            ) -> Result<Option<EodProgress>, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                match Self::run_in(&mut tx, book_id, date).await? {
                    None => {
                        return Err(StoreError::NotFound {
                            what: format!("the close of {date} for book `{book_id}`"),
                        });
                    }
                    Some(run) if run.status == RUN_DONE => return Ok(None),
                    Some(_) => {}
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO eod_progress (book_id, business_date, step, partition) ",
                );
                q.push_values(0..partitions.clamp(1, EOD_PARTITIONS), |mut b, p| {
                    b.push_bind(book_id.to_owned())
                        .push_bind(date.to_owned())
                        .push_bind(step.to_owned())
                        .push_bind(i32::try_from(p).unwrap_or(0));
                });
                q.push(" ON CONFLICT (book_id, business_date, step, partition) DO NOTHING");
                q.build().execute(&mut *tx).await.map_err(db_err)?;
                let free: Option<(i32,)> = sqlx::query_as(concat!(
                    "SELECT partition FROM eod_progress WHERE book_id = $1 AND business_date = $2 \
                     AND step = $3 AND NOT done AND (claimed_by IS NULL OR claimed_by = $4 OR claimed_at < $5) \
                     ORDER BY partition LIMIT 1",
                    $skip_locked
                ))
                .bind(book_id)
                .bind(date)
                .bind(step)
                .bind(worker)
                .bind(stale_before)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some((partition,)) = free else {
                    return Ok(None);
                };
                let row: ProgressRow = sqlx::query_as(&format!(
                    "UPDATE eod_progress SET claimed_by = $1, claimed_at = $2 WHERE book_id = $3 \
                     AND business_date = $4 AND step = $5 AND partition = $6 RETURNING {PROGRESS_COLUMNS}"
                ))
                .bind(worker)
                .bind(at)
                .bind(book_id)
                .bind(date)
                .bind(step)
                .bind(partition)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                row.progress().map(Some)
            }

            async fn eod_loans(&self, query: &crate::WakeQuery) -> Result<Vec<EodLoan>, StoreError> {
                let mut tx = self.reader().begin_with($read_begin).await.map_err(db_err)?;
                let mut loans = Self::chunk_loans(&mut tx, query).await?;
                if !loans.is_empty() {
                    Self::attach_history(&mut tx, &mut loans).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(loans)
            }

            async fn unmarked_loans(&self, book_id: &str) -> Result<bool, StoreError> {
                self.unmarked_in(book_id).await
            }

            async fn demands_due(&self, book_id: &str, due_on: &str) -> Result<Vec<crate::Demand>, StoreError> {
                self.demands_due_on(book_id, due_on).await
            }

            async fn npa_borrowers(&self, book_id: &str, day: &str) -> Result<Vec<String>, StoreError> {
                self.npa_borrowers_on(book_id, day).await
            }

            async fn facilities(&self, book_id: &str, borrowers: &[String]) -> Result<Vec<crate::Facility>, StoreError> {
                self.facilities_of(book_id, borrowers).await
            }

            async fn eod_loans_named(&self, book_id: &str, ids: &[String]) -> Result<Vec<EodLoan>, StoreError> {
                self.named_with_history($read_begin, book_id, ids, true).await
            }

            async fn loans_to_resume(&self, book_id: &str, ids: &[String]) -> Result<Vec<EodLoan>, StoreError> {
                self.named_with_history($read_begin, book_id, ids, false).await
            }

            async fn planned_accruals(&self, book_id: &str, day: &str) -> Result<Vec<crate::PlannedAccrual>, StoreError> {
                self.planned_on(book_id, day).await
            }

            async fn write_chunk(&self, w: &ChunkWrite, from_cursor: Option<&str>) -> Result<(), StoreError> {
                check_chunk(w, from_cursor)?;
                let mut tx = Self::begin_write(self.writer()).await?;
                if !Self::advance(&mut tx, w, from_cursor).await? {
                    return Err(Self::refusal(&mut tx, w, from_cursor).await);
                }
                let at = if w.at.is_empty() { w.business_date.as_str() } else { w.at.as_str() };
                Self::prefer_lz4(&mut tx).await?;
                Self::commit_unflushed(&mut tx).await?;
                let mut written = Self::write_loans(&mut tx, w, at).await?;
                written += Self::insert_gl_lines(&mut tx, &w.book_id, &w.gl_lines).await?;
                for batch in w.outbox.chunks(ROWS_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("");
                    Self::push_outbox(&mut q, batch, at);
                    written += q.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected();
                }
                sqlx::query(
                    "UPDATE eod_progress SET rows_written = rows_written + $1 WHERE book_id = $2 \
                     AND business_date = $3 AND step = $4 AND partition = $5",
                )
                .bind(i64::try_from(written).unwrap_or(i64::MAX))
                .bind(&w.book_id)
                .bind(&w.business_date)
                .bind(&w.step)
                .bind(i32::try_from(w.partition).unwrap_or(i32::MAX))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)
            }

            async fn progress(&self, book_id: &str, date: &str) -> Result<Vec<EodProgress>, StoreError> {
                let rows: Vec<ProgressRow> = sqlx::query_as(&format!(
                    "SELECT {PROGRESS_COLUMNS} FROM eod_progress WHERE book_id = $1 AND business_date = $2 \
                     ORDER BY step, partition"
                ))
                .bind(book_id)
                .bind(date)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                rows.into_iter().map(ProgressRow::progress).collect()
            }

            async fn finish_run(&self, book_id: &str, date: &str, at: &str, summary: &str) -> Result<(), StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                let done = sqlx::query(
                    "UPDATE eod_runs SET status = $1, finished_at = $2, summary = $3 \
                     WHERE book_id = $4 AND business_date = $5 AND status = $6",
                )
                .bind(RUN_DONE)
                .bind(at)
                .bind(summary)
                .bind(book_id)
                .bind(date)
                .bind(RUN_RUNNING)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 && Self::run_in(&mut tx, book_id, date).await?.is_none() {
                    return Err(StoreError::NotFound {
                        what: format!("the close of {date} for book `{book_id}`"),
                    });
                }
                tx.commit().await.map_err(db_err)
            }

            async fn runs(&self, book_id: &str, limit: i64) -> Result<Vec<EodRun>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {RUN_COLUMNS} FROM eod_runs WHERE book_id = $1 ORDER BY business_date DESC LIMIT $2"
                ))
                .bind(book_id)
                .bind(limit.clamp(1, 1000))
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }
        }
    };
}

sql_eod!(SqliteStore, sqlx::Sqlite, "", "", "BEGIN", "IS");
sql_eod!(
    PgStore,
    sqlx::Postgres,
    " FOR UPDATE",
    " FOR UPDATE SKIP LOCKED",
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    "IS NOT DISTINCT FROM"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_moves_forward_and_names_each_loan_once() {
        let mut w = ChunkWrite {
            cursor: Some("L2".into()),
            loans_read: 1,
            ..ChunkWrite::default()
        };
        assert!(check_chunk(&w, Some("L1")).is_ok());
        assert!(check_chunk(&w, None).is_ok());
        assert!(check_chunk(&w, Some("L2")).is_err());
        assert!(check_chunk(&w, Some("L3")).is_err());
        // The empty chunk that ends a partition whose loans filled its last chunk keeps the cursor.
        w.loans_read = 0;
        assert!(check_chunk(&w, Some("L2")).is_ok());
        assert!(check_chunk(&w, Some("L3")).is_err());
        w.loans_read = 1;
        w.cursor = None;
        assert!(check_chunk(&w, Some("L1")).is_err());
        assert!(check_chunk(&w, None).is_ok());
        let p = |id: &str| Projection {
            loan_id: id.into(),
            version: 1,
            as_of: String::new(),
            status: String::new(),
            classification: String::new(),
            dpd: 0,
            principal_outstanding: 0,
            total_overdue: 0,
            state: String::new(),
        };
        w.projections = vec![p("L1"), p("L2")];
        assert!(check_chunk(&w, None).is_ok());
        w.projections.push(p("L1"));
        assert!(check_chunk(&w, None).is_err());
        w.projections.clear();
        w.partition = EOD_PARTITIONS;
        assert!(check_chunk(&w, None).is_err());
    }
}
