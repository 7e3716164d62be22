//! [`Bulk`] for both backends: one transaction per call, one table after another (loans
//! first, for the keys that reference them).
//!
//! - SQLite: multi-row `INSERT … VALUES (…), (…)` statements, each under SQLite's limit of
//!   32,766 bound values. In-process, so a statement costs no round trip.
//! - PostgreSQL: `COPY … FROM STDIN` in text format, one per table, streamed in 1 MiB pieces:
//!   no bind limit, no statement to parse, the fastest way rows go in. Large values (engine
//!   snapshots) are compressed with LZ4 for the transaction when the server has it.

use async_trait::async_trait;
use sqlx::Sqlite;
use sqlx::query_builder::Separated;

use super::copy::copy_rows;
use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::bulk::{check_batch, command_id};
use crate::{BookOpening, Bulk, BulkLoan, EodMark, NewGlLine, RUN_DONE, StoreError};

/// SQLite's most bound values in one statement.
const SQLITE_MAX_BINDS: usize = 32_766;

/// A unique violation in a bulk booking is a loan number (or id) already there.
fn batch_err(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate {
            what: "a loan of the batch (its id or loan number) or a GL line of it".into(),
        }
    } else {
        db_err(e)
    }
}

/// One event row: the loan, its sequence number, the event and when it was recorded.
type EventRow<'a> = (&'a str, i64, &'a crate::NewEvent, &'a str);

fn event_rows(loans: &[BulkLoan]) -> Vec<EventRow<'_>> {
    loans
        .iter()
        .flat_map(|l| {
            l.events.iter().enumerate().map(move |(k, e)| {
                (
                    l.record.id.as_str(),
                    k as i64 + 1,
                    e,
                    l.record.created_at.as_str(),
                )
            })
        })
        .collect()
}

fn partner_rows(loans: &[BulkLoan]) -> Vec<(&str, &str)> {
    loans
        .iter()
        .flat_map(|l| {
            l.record
                .partner_ids
                .iter()
                .map(move |p| (l.record.id.as_str(), p.as_str()))
        })
        .collect()
}

fn snapshot_rows(loans: &[BulkLoan]) -> Vec<(&BulkLoan, &crate::NewSnapshot)> {
    loans
        .iter()
        .filter_map(|l| l.snapshot.as_ref().map(|s| (l, s)))
        .collect()
}

const LOAN_COLUMNS: &str = "loans (id, book_id, loan_number, borrower_id, product_id, \
     product_version, terms, terms_hash, created_at, application_id)";
const PARTNER_COLUMNS: &str = "loan_partners (loan_id, partner_id)";
const EVENT_COLUMNS: &str =
    "loan_events (loan_id, seq, value_date, event, recorded_at, command_id)";
const PROJECTION_COLUMNS: &str = "loan_projections (loan_id, version, as_of, status, \
     classification, dpd, principal_outstanding, total_overdue, state)";
const SNAPSHOT_COLUMNS: &str = "loan_snapshots (loan_id, version, day, engine, created_at)";
const MARK_COLUMNS: &str = "eod_marks (loan_id, version, day, earned, suspended, provision, npa, \
     book_id, part, wake_on, plan, held, arrears, due_installment, due_on, due_amount, currency)";
const GL_COLUMNS: &str = "gl_lines (book_id, entry_id, line_no, posted_on, kind, narration, \
     account, loan_id, product_id, partner_id, debit, credit, source)";

/// Record the opening as a done close of its date.
async fn record_opening<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    book_id: &str,
    opening: &BookOpening,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO eod_runs (book_id, business_date, status, started_at, finished_at, summary) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(book_id.to_owned())
    .bind(opening.date.clone())
    .bind(RUN_DONE.to_owned())
    .bind(opening.at.clone())
    .bind(opening.summary.clone())
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Duplicate {
                what: format!("the close of {} for book `{book_id}`", opening.date),
            }
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

/// Insert `rows` into `table` with `columns` values each, as many rows a statement as the bind
/// limit allows.
async fn sqlite_insert<T: Sync>(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    table: &str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(&mut Separated<'_, 'static, Sqlite, &'static str>, &T) + Send + Sync,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(SQLITE_MAX_BINDS / columns) {
        let mut q = sqlx::QueryBuilder::<Sqlite>::new(format!("INSERT INTO {table} "));
        q.push_values(chunk, |mut b, row| bind(&mut b, row));
        q.build().execute(&mut **tx).await.map_err(batch_err)?;
    }
    Ok(())
}

#[async_trait]
impl Bulk for SqliteStore {
    async fn book_loans(&self, book_id: &str, loans: &[BulkLoan]) -> Result<(), StoreError> {
        check_batch(book_id, loans)?;
        let mut tx = Self::begin_write(self.writer()).await?;
        sqlite_insert(&mut tx, LOAN_COLUMNS, 10, loans, |b, l| {
            let r = &l.record;
            b.push_bind(r.id.clone())
                .push_bind(r.book_id.clone())
                .push_bind(r.loan_number.clone())
                .push_bind(r.borrower_id.clone())
                .push_bind(r.product_id.clone())
                .push_bind(r.product_version)
                .push_bind(r.terms.clone())
                .push_bind(r.terms_hash.clone())
                .push_bind(r.created_at.clone())
                .push_bind(r.application_id.clone());
        })
        .await?;
        sqlite_insert(
            &mut tx,
            PARTNER_COLUMNS,
            2,
            &partner_rows(loans),
            |b, (l, p)| {
                b.push_bind((*l).to_owned()).push_bind((*p).to_owned());
            },
        )
        .await?;
        sqlite_insert(
            &mut tx,
            EVENT_COLUMNS,
            6,
            &event_rows(loans),
            |b, (l, seq, e, at)| {
                b.push_bind((*l).to_owned())
                    .push_bind(*seq)
                    .push_bind(e.value_date.clone())
                    .push_bind(e.event.clone())
                    .push_bind((*at).to_owned())
                    .push_bind(command_id(l));
            },
        )
        .await?;
        sqlite_insert(&mut tx, PROJECTION_COLUMNS, 9, loans, |b, l| {
            let p = &l.projection;
            b.push_bind(p.loan_id.clone())
                .push_bind(p.version)
                .push_bind(p.as_of.clone())
                .push_bind(p.status.clone())
                .push_bind(p.classification.clone())
                .push_bind(p.dpd)
                .push_bind(p.principal_outstanding)
                .push_bind(p.total_overdue)
                .push_bind(p.state.clone());
        })
        .await?;
        sqlite_insert(
            &mut tx,
            SNAPSHOT_COLUMNS,
            5,
            &snapshot_rows(loans),
            |b, (l, s)| {
                b.push_bind(l.record.id.clone())
                    .push_bind(s.version)
                    .push_bind(s.day.clone())
                    .push_bind(s.engine.clone())
                    .push_bind(l.record.created_at.clone());
            },
        )
        .await?;
        let marks: Vec<EodMark> = loans.iter().filter_map(|l| l.mark.clone()).collect();
        Self::upsert_marks(&mut tx, book_id, &marks).await?;
        let lines: Vec<NewGlLine> = loans.iter().flat_map(|l| l.gl_lines.clone()).collect();
        Self::insert_gl_lines(&mut tx, book_id, &lines).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn open_ledger(&self, book_id: &str, opening: &BookOpening) -> Result<(), StoreError> {
        crate::gl::check_balanced(&opening.gl_lines)?;
        let mut tx = Self::begin_write(self.writer()).await?;
        record_opening(&mut tx, book_id, opening).await?;
        Self::insert_gl_lines(&mut tx, book_id, &opening.gl_lines).await?;
        Self::add_planned(&mut tx, book_id, &opening.accruals).await?;
        tx.commit().await.map_err(db_err)
    }
}

impl PgStore {
    /// The loans' marks and opening GL lines, by COPY.
    async fn copy_ledger(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        book_id: &str,
        loans: &[BulkLoan],
    ) -> Result<(), StoreError> {
        let marks: Vec<&EodMark> = loans.iter().filter_map(|l| l.mark.as_ref()).collect();
        copy_rows(batch_err, tx, MARK_COLUMNS, &marks, |c, m| {
            c.text(&m.loan_id)
                .int(m.version)
                .text(&m.day)
                .int(m.earned)
                .int(m.suspended)
                .int(m.provision)
                .text(if m.npa { "t" } else { "f" })
                .text(book_id)
                .text(&super::eod_loans::part_of(&m.loan_id))
                .opt(m.wake_on.as_deref())
                .text(&m.plan)
                .text(if m.held { "t" } else { "f" })
                .text(if m.arrears { "t" } else { "f" })
                .opt_int(m.due_installment)
                .opt(m.due_on.as_deref())
                .int(m.due_amount)
                .opt(m.currency.as_deref());
        })
        .await?;
        let lines: Vec<&NewGlLine> = loans.iter().flat_map(|l| l.gl_lines.iter()).collect();
        copy_rows(batch_err, tx, GL_COLUMNS, &lines, |c, l| {
            c.text(book_id)
                .text(&l.entry_id)
                .int(i64::from(l.line_no))
                .text(&l.posted_on)
                .text(&l.kind)
                .text(&l.narration)
                .text(&l.account)
                .opt(l.loan_id.as_deref())
                .opt(l.product_id.as_deref())
                .opt(l.partner_id.as_deref())
                .int(l.debit)
                .int(l.credit)
                .text(&l.source);
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Bulk for PgStore {
    async fn book_loans(&self, book_id: &str, loans: &[BulkLoan]) -> Result<(), StoreError> {
        check_batch(book_id, loans)?;
        let mut tx = Self::begin_write(self.writer()).await?;
        Self::prefer_lz4(&mut tx).await?;
        copy_rows(batch_err, &mut tx, LOAN_COLUMNS, loans, |c, l| {
            let r = &l.record;
            c.text(&r.id)
                .text(&r.book_id)
                .text(&r.loan_number)
                .opt(r.borrower_id.as_deref())
                .opt(r.product_id.as_deref())
                .opt_int(r.product_version)
                .text(&r.terms)
                .text(&r.terms_hash)
                .text(&r.created_at)
                .opt(r.application_id.as_deref());
        })
        .await?;
        copy_rows(
            batch_err,
            &mut tx,
            PARTNER_COLUMNS,
            &partner_rows(loans),
            |c, (l, p)| {
                c.text(l).text(p);
            },
        )
        .await?;
        copy_rows(
            batch_err,
            &mut tx,
            EVENT_COLUMNS,
            &event_rows(loans),
            |c, (l, seq, e, at)| {
                c.text(l)
                    .int(*seq)
                    .text(&e.value_date)
                    .text(&e.event)
                    .text(at)
                    .text(&command_id(l));
            },
        )
        .await?;
        copy_rows(batch_err, &mut tx, PROJECTION_COLUMNS, loans, |c, l| {
            let p = &l.projection;
            c.text(&p.loan_id)
                .int(p.version)
                .text(&p.as_of)
                .text(&p.status)
                .text(&p.classification)
                .int(p.dpd)
                .int(p.principal_outstanding)
                .int(p.total_overdue)
                .text(&p.state);
        })
        .await?;
        copy_rows(
            batch_err,
            &mut tx,
            SNAPSHOT_COLUMNS,
            &snapshot_rows(loans),
            |c, (l, s)| {
                c.text(&l.record.id)
                    .int(s.version)
                    .text(&s.day)
                    .text(&s.engine)
                    .text(&l.record.created_at);
            },
        )
        .await?;
        Self::copy_ledger(&mut tx, book_id, loans).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn open_ledger(&self, book_id: &str, opening: &BookOpening) -> Result<(), StoreError> {
        crate::gl::check_balanced(&opening.gl_lines)?;
        let mut tx = Self::begin_write(self.writer()).await?;
        record_opening(&mut tx, book_id, opening).await?;
        Self::insert_gl_lines(&mut tx, book_id, &opening.gl_lines).await?;
        Self::add_planned(&mut tx, book_id, &opening.accruals).await?;
        tx.commit().await.map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::testing::TestDatabase;
    use crate::{
        BulkLoan, LoanRecord, NewEvent, NewSnapshot, Projection, Store, StoreError, connect,
        terms_digest,
    };

    /// Text the COPY encoding must escape: a backslash, a tab, a newline, a carriage return.
    const AWKWARD: &str = "{\"note\":\"a\\\\b\ttab\nline\rcr\"}";

    fn bulk_loan(n: usize, events: usize) -> BulkLoan {
        let id = format!("L{n:05}");
        let terms = format!("{{\"n\":{n}}}");
        BulkLoan {
            record: LoanRecord {
                id: id.clone(),
                book_id: "main".into(),
                loan_number: format!("LN-{n}"),
                borrower_id: (n % 2 == 0).then(|| format!("B{n}")),
                product_id: None,
                product_version: None,
                terms_hash: terms_digest(&terms),
                terms,
                partner_ids: if n % 3 == 0 {
                    vec!["bank-a".into(), "nbfc".into()]
                } else {
                    vec![]
                },
                created_at: "2026-01-01T00:00:00Z".into(),
                application_id: None,
            },
            events: (1..=events)
                .map(|k| NewEvent {
                    value_date: format!("2025-{:02}-01", (k % 12) + 1),
                    event: if k == 2 {
                        AWKWARD.into()
                    } else {
                        format!("{{\"k\":{k}}}")
                    },
                })
                .collect(),
            projection: Projection {
                loan_id: id,
                version: events as i64,
                as_of: "2025-12-31".into(),
                status: "active".into(),
                classification: if n % 5 == 0 { "sma1" } else { "standard" }.into(),
                dpd: if n % 5 == 0 { 40 } else { 0 },
                principal_outstanding: 1_000 * n as i64,
                total_overdue: 0,
                state: "{}".into(),
            },
            snapshot: (n % 2 == 1).then(|| NewSnapshot {
                version: events as i64,
                day: "2025-12-31".into(),
                engine: format!("{{\"engine\":{n}}}"),
            }),
            mark: None,
            gl_lines: vec![],
        }
    }

    async fn open(db: &TestDatabase) -> Arc<dyn Store> {
        let s = connect(&db.url).await.unwrap();
        s.ensure_book("main", "Main", "2026-01-01", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        s
    }

    /// A batch reads back through the loan reads as written, past SQLite's bind limit.
    async fn a_batch_reads_back(db: &TestDatabase) {
        let store = open(db).await;
        // 700 loans × 9 events: more event values than one SQLite statement may bind.
        let loans: Vec<BulkLoan> = (1..=700).map(|n| bulk_loan(n, 9)).collect();
        store.book_loans("main", &loans).await.unwrap();
        assert_eq!(store.loan_ids().await.unwrap().len(), 700);
        for l in [&loans[0], &loans[1], &loans[2], &loans[699]] {
            let id = &l.record.id;
            assert_eq!(store.loan(id).await.unwrap().as_ref(), Some(&l.record));
            let events = store.events(id).await.unwrap();
            assert_eq!(events.len(), 9);
            for (k, (stored, new)) in events.iter().zip(&l.events).enumerate() {
                assert_eq!(stored.seq, k as i64 + 1);
                assert_eq!(stored.value_date, new.value_date);
                assert_eq!(stored.event, new.event);
                assert_eq!(stored.command_id, format!("bulk:{id}"));
                assert_eq!(stored.recorded_at, l.record.created_at);
            }
            assert_eq!(
                store.projection(id).await.unwrap().as_ref(),
                Some(&l.projection)
            );
            let snapshots = store.snapshots(id).await.unwrap();
            assert_eq!(snapshots.len(), usize::from(l.snapshot.is_some()));
            if let Some(s) = &l.snapshot {
                assert_eq!(snapshots[0].engine, s.engine);
                let (resumed, after) = store.resume_point(id, None).await.unwrap().unwrap();
                assert_eq!(resumed.version, 9);
                assert!(after.is_empty());
            }
        }
        let colent = store
            .list_loans(&crate::LoanFilter {
                partner_id: Some("nbfc".into()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(colent.len(), 700 / 3);
    }

    /// A loan number already in the book fails the whole batch: nothing of it is written.
    async fn a_duplicate_writes_nothing(db: &TestDatabase) {
        let store = open(db).await;
        store.book_loans("main", &[bulk_loan(1, 2)]).await.unwrap();
        let mut again = bulk_loan(1, 2);
        again.record.id = "other".into();
        again.projection.loan_id = "other".into();
        let batch = vec![bulk_loan(2, 3), again];
        let e = store.book_loans("main", &batch).await.unwrap_err();
        assert!(matches!(e, StoreError::Duplicate { .. }), "{e}");
        assert_eq!(store.loan_ids().await.unwrap(), vec!["L00001".to_owned()]);
        // Rows that do not fit together are refused before anything is written.
        let mut wrong = bulk_loan(3, 2);
        wrong.projection.version = 5;
        let e = store.book_loans("main", &[wrong]).await.unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
        let e = store
            .book_loans("other", &[bulk_loan(4, 1)])
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_a_batch_reads_back() {
        let db = TestDatabase::sqlite();
        a_batch_reads_back(&db).await;
        db.drop_database().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_a_batch_reads_back() {
        let db = TestDatabase::postgres().await.unwrap();
        a_batch_reads_back(&db).await;
        db.drop_database().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_a_duplicate_writes_nothing() {
        let db = TestDatabase::sqlite();
        a_duplicate_writes_nothing(&db).await;
        db.drop_database().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_a_duplicate_writes_nothing() {
        let db = TestDatabase::postgres().await.unwrap();
        a_duplicate_writes_nothing(&db).await;
        db.drop_database().await;
    }
}
