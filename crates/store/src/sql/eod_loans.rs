//! The loans a chunk of the close reads and the marks and planned accruals it writes, for both
//! backends.
//!
//! A chunk reads only the loans that wake: those whose mark wakes on the day or earlier, those a
//! command has touched (written events for) since a close last read them, and (while the book
//! holds any) those no close has seen. The three sets are one `UNION` over indexes
//! (`eod_marks_waking`, `eod_touched_by_part`, `loans_by_partition`), paged by loan id, so a
//! quiet loan costs the close nothing: its accrual is in the plan its last close wrote to
//! `eod_accruals`.

use std::collections::{BTreeMap, HashMap};

use super::db_err;
use crate::eod::{partition_key, partition_key_sql};
use crate::{EodLoan, EodMark, PlannedAccrual, StoreError, partition_of};

/// Marks per multi-row statement: 17 bound values a row, under 32,766 per statement.
pub(super) const MARKS_PER_INSERT: usize = 1_900;

/// A mark's columns, in [`EodMark`]'s order.
pub(super) const MARK_SELECT: &str = "loan_id, version, day, earned, suspended, provision, npa, wake_on, plan, \
     held, arrears, due_installment, due_on, due_amount, currency";

/// A loan of a chunk with its terms and co-lenders.
#[derive(sqlx::FromRow)]
pub(super) struct LoanRow {
    id: String,
    product_id: Option<String>,
    borrower_id: Option<String>,
    terms: String,
    /// The partner ids joined by U+001E, in order.
    partners: Option<String>,
}

impl LoanRow {
    pub(super) fn loan(self) -> EodLoan {
        EodLoan {
            partner_ids: self
                .partners
                .filter(|p| !p.is_empty())
                .map(|p| p.split('\u{1e}').map(str::to_owned).collect())
                .unwrap_or_default(),
            loan_id: self.id,
            product_id: self.product_id,
            borrower_id: self.borrower_id,
            terms: self.terms,
            snapshot: None,
            events: Vec::new(),
            mark: None,
        }
    }
}

/// A mark's partition key as the marks table holds it.
pub(super) fn part_of(loan_id: &str) -> String {
    partition_key(partition_of(loan_id)).map_or_else(|| "0".to_owned(), String::from)
}

/// The planned accruals with one row per (day, product, NPA flag), summed, zero sums left out:
/// one upsert statement may not touch a row twice.
pub(super) fn summed(accruals: &[PlannedAccrual]) -> Vec<PlannedAccrual> {
    let mut sums: BTreeMap<(&str, &str, bool), i64> = BTreeMap::new();
    for a in accruals {
        *sums
            .entry((a.day.as_str(), a.product_id.as_str(), a.npa))
            .or_insert(0) += a.amount;
    }
    sums.into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|((day, product, npa), amount)| PlannedAccrual {
            day: day.to_owned(),
            product_id: product.to_owned(),
            npa,
            amount,
        })
        .collect()
}

macro_rules! sql_eod_loans {
    ($store:ty, $db:ty, $partners:literal) => {
        impl $store {
            /// The chunk's waking loans with their terms and partners, in id order.
            pub(super) async fn chunk_loans(
                tx: &mut sqlx::Transaction<'_, $db>,
                w: &crate::WakeQuery,
            ) -> Result<Vec<EodLoan>, StoreError> {
                let Some(key) = partition_key(w.partition) else {
                    return Err(StoreError::NotFound { what: format!("partition {}", w.partition) });
                };
                let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT l.id, l.product_id, l.borrower_id, l.terms, ",
                    $partners,
                    " AS partners FROM loans l WHERE l.id IN (SELECT m.loan_id FROM eod_marks m WHERE m.book_id = "
                ));
                q.push_bind(w.book_id.clone())
                    .push(" AND m.part = ")
                    .push_bind(key.to_string())
                    .push(" AND m.wake_on <= ")
                    .push_bind(w.date.clone());
                if let Some(after) = &w.after {
                    q.push(" AND m.loan_id > ").push_bind(after.clone());
                }
                q.push(" UNION SELECT t.loan_id FROM eod_touched t WHERE t.part = ")
                    .push_bind(key.to_string());
                if let Some(after) = &w.after {
                    q.push(" AND t.loan_id > ").push_bind(after.clone());
                }
                if w.unmarked {
                    q.push(" UNION SELECT u.id FROM loans u WHERE u.book_id = ")
                        .push_bind(w.book_id.clone())
                        .push(format!(" AND {} = '{key}'", partition_key_sql("u.id")));
                    if let Some(after) = &w.after {
                        q.push(" AND u.id > ").push_bind(after.clone());
                    }
                    q.push(" AND NOT EXISTS (SELECT 1 FROM eod_marks n WHERE n.loan_id = u.id)");
                }
                q.push(") AND l.book_id = ")
                    .push_bind(w.book_id.clone())
                    .push(" ORDER BY l.id LIMIT ")
                    .push_bind(w.limit.clamp(1, crate::EOD_LOANS_MAX));
                let rows: Vec<LoanRow> = q.build_query_as().fetch_all(&mut **tx).await.map_err(db_err)?;
                Ok(rows.into_iter().map(LoanRow::loan).collect())
            }

            /// The named loans of the book with their terms and partners, in id order.
            pub(super) async fn named_loans(
                tx: &mut sqlx::Transaction<'_, $db>,
                book_id: &str,
                ids: &[String],
            ) -> Result<Vec<EodLoan>, StoreError> {
                let mut out = Vec::new();
                let postgres = <$db as sqlx::Database>::NAME == "PostgreSQL";
                for batch in ids.chunks(MARKS_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                        "SELECT l.id, l.product_id, l.borrower_id, l.terms, ",
                        $partners,
                        " AS partners FROM "
                    ));
                    if postgres {
                        // One index lookup a loan (see `attach_events`).
                        q.push("(");
                        q.push_values(batch, |mut b, id| {
                            b.push_bind(id.clone());
                        });
                        q.push(") AS v (id) CROSS JOIN LATERAL (SELECT * FROM loans x WHERE x.id = v.id OFFSET 0) AS l WHERE l.book_id = ")
                            .push_bind(book_id.to_owned());
                    } else {
                        q.push("loans l WHERE l.book_id = ")
                            .push_bind(book_id.to_owned())
                            .push(" AND l.id IN (");
                        let mut names = q.separated(", ");
                        for id in batch {
                            names.push_bind(id.clone());
                        }
                        q.push(")");
                    }
                    q.push(" ORDER BY l.id");
                    let rows: Vec<LoanRow> =
                        q.build_query_as().fetch_all(&mut **tx).await.map_err(db_err)?;
                    out.extend(rows.into_iter().map(LoanRow::loan));
                }
                out.sort_by(|a, b| a.loan_id.cmp(&b.loan_id));
                Ok(out)
            }
            /// The named loans of the book with their history (and their marks when `marks`), in
            /// one read transaction begun with `begin`.
            pub(super) async fn named_with_history(
                &self,
                begin: &str,
                book_id: &str,
                ids: &[String],
                marks: bool,
            ) -> Result<Vec<EodLoan>, StoreError> {
                let mut tx = self.reader().begin_with(begin.to_owned()).await.map_err(db_err)?;
                let mut loans = Self::named_loans(&mut tx, book_id, ids).await?;
                if !loans.is_empty() {
                    Self::attach_events(&mut tx, &mut loans).await?;
                    if marks {
                        Self::attach_marks(&mut tx, &mut loans).await?;
                    }
                }
                tx.commit().await.map_err(db_err)?;
                Ok(loans)
            }

            /// Give each loan its newest snapshot, the events after it and its mark: one query each.
            pub(super) async fn attach_history(
                tx: &mut sqlx::Transaction<'_, $db>,
                loans: &mut [EodLoan],
            ) -> Result<(), StoreError> {
                Self::attach_events(tx, loans).await?;
                Self::attach_marks(tx, loans).await
            }

            /// Give each loan its newest snapshot and the events after it.
            async fn attach_events(
                tx: &mut sqlx::Transaction<'_, $db>,
                loans: &mut [EodLoan],
            ) -> Result<(), StoreError> {
                // PostgreSQL plans an `IN` list of a chunk's loans as a scan of the whole table once
                // the book is small against the list (a few percent of its loans); a lateral read
                // per loan keeps to the index (`OFFSET 0` keeps the planner from flattening it back
                // into a join).
                let postgres = <$db as sqlx::Database>::NAME == "PostgreSQL";
                let mut q = if postgres {
                    let mut q = sqlx::QueryBuilder::<$db>::new("SELECT s.loan_id, s.version, s.day, s.engine, s.created_at FROM (");
                    q.push_values(loans.iter(), |mut b, l| {
                        b.push_bind(l.loan_id.clone());
                    });
                    q.push(
                        ") AS v (loan_id) CROSS JOIN LATERAL (SELECT n.loan_id, n.version, n.day, n.engine, n.created_at \
                         FROM loan_snapshots n WHERE n.loan_id = v.loan_id ORDER BY n.version DESC LIMIT 1) AS s",
                    );
                    q
                } else {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT s.loan_id, s.version, s.day, s.engine, s.created_at FROM loan_snapshots s \
                         WHERE s.version = (SELECT MAX(n.version) FROM loan_snapshots n WHERE n.loan_id = s.loan_id) \
                         AND s.loan_id IN (",
                    );
                    push_ids(&mut q, loans);
                    q
                };
                let snapshots: Vec<crate::SnapshotRecord> =
                    q.build_query_as().fetch_all(&mut **tx).await.map_err(db_err)?;
                let mut by_loan: HashMap<String, crate::SnapshotRecord> =
                    snapshots.into_iter().map(|s| (s.loan_id.clone(), s)).collect();
                for l in loans.iter_mut() {
                    l.snapshot = by_loan.remove(&l.loan_id);
                }
                // The events after each loan's snapshot (after none: all of them).
                let mut q = sqlx::QueryBuilder::<$db>::new("WITH v (loan_id, version) AS (");
                q.push_values(loans.iter(), |mut b, l| {
                    b.push_bind(l.loan_id.clone())
                        .push_bind(l.snapshot.as_ref().map_or(0, |s| s.version));
                });
                q.push(if postgres {
                    ") SELECT e.loan_id, e.seq, e.value_date, e.event, e.recorded_at, e.command_id \
                     FROM v CROSS JOIN LATERAL (SELECT a.loan_id, a.seq, a.value_date, a.event, a.recorded_at, a.command_id \
                     FROM loan_events a WHERE a.loan_id = v.loan_id AND a.seq > v.version OFFSET 0) AS e \
                     ORDER BY e.loan_id, e.seq"
                } else {
                    ") SELECT e.loan_id, e.seq, e.value_date, e.event, e.recorded_at, e.command_id \
                     FROM v JOIN loan_events e ON e.loan_id = v.loan_id AND e.seq > v.version \
                     ORDER BY e.loan_id, e.seq"
                });
                let events: Vec<crate::StoredEvent> =
                    q.build_query_as().fetch_all(&mut **tx).await.map_err(db_err)?;
                let mut by_loan: HashMap<String, Vec<crate::StoredEvent>> = HashMap::new();
                for e in events {
                    by_loan.entry(e.loan_id.clone()).or_default().push(e);
                }
                for l in loans.iter_mut() {
                    l.events = by_loan.remove(&l.loan_id).unwrap_or_default();
                }
                Ok(())
            }

            /// Give each loan its mark.
            async fn attach_marks(
                tx: &mut sqlx::Transaction<'_, $db>,
                loans: &mut [EodLoan],
            ) -> Result<(), StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    format!("SELECT {MARK_SELECT} FROM eod_marks WHERE loan_id IN ("),
                );
                push_ids(&mut q, loans);
                let marks: Vec<EodMark> = q.build_query_as().fetch_all(&mut **tx).await.map_err(db_err)?;
                let mut by_loan: HashMap<String, EodMark> =
                    marks.into_iter().map(|m| (m.loan_id.clone(), m)).collect();
                for l in loans.iter_mut() {
                    l.mark = by_loan.remove(&l.loan_id);
                }
                Ok(())
            }

            /// Upsert marks of the book's loans. Returns the rows written.
            pub(super) async fn upsert_marks(
                tx: &mut sqlx::Transaction<'_, $db>,
                book_id: &str,
                marks: &[EodMark],
            ) -> Result<u64, StoreError> {
                let mut written = 0;
                for batch in marks.chunks(MARKS_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO eod_marks (loan_id, version, day, earned, suspended, provision, npa, \
                         book_id, part, wake_on, plan, held, arrears, due_installment, due_on, due_amount, \
                         currency) ",
                    );
                    q.push_values(batch, |mut b, m: &EodMark| {
                        b.push_bind(m.loan_id.clone())
                            .push_bind(m.version)
                            .push_bind(m.day.clone())
                            .push_bind(m.earned)
                            .push_bind(m.suspended)
                            .push_bind(m.provision)
                            .push_bind(m.npa)
                            .push_bind(book_id.to_owned())
                            .push_bind(part_of(&m.loan_id))
                            .push_bind(m.wake_on.clone())
                            .push_bind(m.plan.clone())
                            .push_bind(m.held)
                            .push_bind(m.arrears)
                            .push_bind(m.due_installment)
                            .push_bind(m.due_on.clone())
                            .push_bind(m.due_amount)
                            .push_bind(m.currency.clone());
                    });
                    q.push(
                        " ON CONFLICT (loan_id) DO UPDATE SET version = excluded.version, day = excluded.day, \
                         earned = excluded.earned, suspended = excluded.suspended, provision = excluded.provision, \
                         npa = excluded.npa, book_id = excluded.book_id, part = excluded.part, \
                         wake_on = excluded.wake_on, plan = excluded.plan, held = excluded.held, \
                         arrears = excluded.arrears, due_installment = excluded.due_installment, \
                         due_on = excluded.due_on, due_amount = excluded.due_amount, currency = excluded.currency",
                    );
                    written += q.build().execute(&mut **tx).await.map_err(db_err)?.rows_affected();
                    // The commands' touches the marks now cover are done with.
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "DELETE FROM eod_touched WHERE version <= (SELECT m.version FROM eod_marks m \
                         WHERE m.loan_id = eod_touched.loan_id) AND loan_id IN (",
                    );
                    let mut ids = q.separated(", ");
                    for m in batch {
                        ids.push_bind(m.loan_id.clone());
                    }
                    q.push(")");
                    q.build().execute(&mut **tx).await.map_err(db_err)?;
                }
                Ok(written)
            }

            /// Add changes to the book's planned accruals. Returns the rows written.
            pub(super) async fn add_planned(
                tx: &mut sqlx::Transaction<'_, $db>,
                book_id: &str,
                accruals: &[PlannedAccrual],
            ) -> Result<u64, StoreError> {
                let mut written = 0;
                for batch in summed(accruals).chunks(MARKS_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO eod_accruals (book_id, day, product_id, npa, amount) ",
                    );
                    q.push_values(batch, |mut b, a: &PlannedAccrual| {
                        b.push_bind(book_id.to_owned())
                            .push_bind(a.day.clone())
                            .push_bind(a.product_id.clone())
                            .push_bind(a.npa)
                            .push_bind(a.amount);
                    });
                    q.push(
                        " ON CONFLICT (book_id, day, product_id, npa) \
                         DO UPDATE SET amount = eod_accruals.amount + excluded.amount",
                    );
                    written += q.build().execute(&mut **tx).await.map_err(db_err)?.rows_affected();
                }
                Ok(written)
            }

            pub(super) async fn unmarked_in(&self, book_id: &str) -> Result<bool, StoreError> {
                let (loans, marks): (i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM loans WHERE book_id = $1), \
                     (SELECT COUNT(*) FROM eod_marks WHERE book_id = $1)",
                )
                .bind(book_id)
                .fetch_one(self.reader())
                .await
                .map_err(db_err)?;
                Ok(loans > marks)
            }

            pub(super) async fn planned_on(
                &self,
                book_id: &str,
                day: &str,
            ) -> Result<Vec<PlannedAccrual>, StoreError> {
                sqlx::query_as(
                    "SELECT day, product_id, npa, amount FROM eod_accruals \
                     WHERE book_id = $1 AND day = $2 AND amount <> 0 ORDER BY product_id, npa",
                )
                .bind(book_id)
                .bind(day)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }
        }
    };
}

impl super::SqliteStore {
    /// Nothing to do: SQLite stores values as they are.
    pub(super) async fn prefer_lz4(
        _tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Nothing to do: SQLite's durability is the connection's.
    pub(super) async fn commit_unflushed(
        _tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl super::PgStore {
    /// A chunk of the close need not wait for its commit to reach the disk: its progress is in
    /// the same transaction, so a commit lost in a crash is lost whole and redone by the re-run,
    /// and a later command that reads what the chunk wrote flushes it with its own commit (the
    /// log is written in order).
    pub(super) async fn commit_unflushed(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> Result<(), StoreError> {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Snapshots and terms are large enough to be compressed: LZ4 (where the server has it)
    /// costs the server a fraction of the default pglz's time, and reads back the same. A server
    /// without it refuses the setting: in a savepoint, so the transaction goes on.
    pub(super) async fn prefer_lz4(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> Result<(), StoreError> {
        use sqlx::Acquire as _;
        let mut sp = tx.begin().await.map_err(db_err)?;
        let set = sqlx::query("SET LOCAL default_toast_compression = lz4")
            .execute(&mut *sp)
            .await;
        match set {
            Ok(_) => sp.commit().await.map_err(db_err),
            Err(_) => sp.rollback().await.map_err(db_err),
        }
    }
}

/// `id, id, …)`: the loans' ids as bound values closing an `IN (` list.
fn push_ids<DB>(q: &mut sqlx::QueryBuilder<'_, DB>, loans: &[EodLoan])
where
    DB: sqlx::Database,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut ids = q.separated(", ");
    for l in loans {
        ids.push_bind(l.loan_id.clone());
    }
    q.push(")");
}

sql_eod_loans!(
    super::SqliteStore,
    sqlx::Sqlite,
    "(SELECT group_concat(partner_id, char(30) ORDER BY partner_id) FROM loan_partners WHERE loan_id = l.id)"
);
sql_eod_loans!(
    super::PgStore,
    sqlx::Postgres,
    "(SELECT string_agg(partner_id, chr(30) ORDER BY partner_id) FROM loan_partners WHERE loan_id = l.id)"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_accruals_are_summed_per_day_product_and_flag() {
        let a = |day: &str, product: &str, npa, amount| PlannedAccrual {
            day: day.into(),
            product_id: product.into(),
            npa,
            amount,
        };
        let got = summed(&[
            a("2026-01-02", "p", false, 5),
            a("2026-01-02", "p", false, -2),
            a("2026-01-02", "p", true, 4),
            a("2026-01-03", "p", false, 1),
            a("2026-01-03", "p", false, -1),
        ]);
        assert_eq!(
            got,
            vec![
                a("2026-01-02", "p", false, 3),
                a("2026-01-02", "p", true, 4)
            ]
        );
    }

    #[test]
    fn a_marks_part_is_its_partition_key() {
        assert_eq!(part_of("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5F"), "f");
        assert_eq!(part_of("x-z"), "0");
    }
}
