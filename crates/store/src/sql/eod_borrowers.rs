//! What the close's `borrowers` step reads, for both backends: the borrowers with a loan NPA or
//! held NPA on the day (`eod_marks_npa`), every loan of those borrowers with its mark
//! (`loans_by_borrower`); and the collection demands falling due on a day (`eod_marks_due`).

use super::db_err;
use crate::{EodMark, Facility, StoreError};

/// Borrowers or loans named per statement.
const NAMES_PER_QUERY: usize = 1_000;

/// A loan of a borrower with its mark's columns (all NULL without a mark).
#[derive(sqlx::FromRow)]
struct FacilityRow {
    id: String,
    loan_number: String,
    borrower_id: String,
    version: Option<i64>,
    day: Option<String>,
    earned: Option<i64>,
    suspended: Option<i64>,
    provision: Option<i64>,
    npa: Option<bool>,
    wake_on: Option<String>,
    plan: Option<String>,
    held: Option<bool>,
    arrears: Option<bool>,
    due_installment: Option<i64>,
    due_on: Option<String>,
    due_amount: Option<i64>,
    currency: Option<String>,
}

impl FacilityRow {
    fn facility(self) -> Facility {
        let mark = match (self.version, self.day) {
            (Some(version), Some(day)) => Some(EodMark {
                loan_id: self.id.clone(),
                version,
                day,
                earned: self.earned.unwrap_or(0),
                suspended: self.suspended.unwrap_or(0),
                provision: self.provision.unwrap_or(0),
                npa: self.npa.unwrap_or(false),
                wake_on: self.wake_on,
                plan: self.plan.unwrap_or_default(),
                held: self.held.unwrap_or(false),
                arrears: self.arrears.unwrap_or(false),
                due_installment: self.due_installment,
                due_on: self.due_on,
                due_amount: self.due_amount.unwrap_or(0),
                currency: self.currency,
            }),
            _ => None,
        };
        Facility {
            loan_id: self.id,
            loan_number: self.loan_number,
            borrower_id: self.borrower_id,
            mark,
        }
    }
}

macro_rules! sql_eod_borrowers {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(super) async fn npa_borrowers_on(
                &self,
                book_id: &str,
                day: &str,
            ) -> Result<Vec<String>, StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT DISTINCT l.borrower_id FROM eod_marks m JOIN loans l ON l.id = m.loan_id \
                     WHERE m.book_id = $1 AND m.day = $2 AND (m.npa OR m.held) \
                     AND l.borrower_id IS NOT NULL ORDER BY l.borrower_id",
                )
                .bind(book_id)
                .bind(day)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|(b,)| b).collect())
            }

            pub(super) async fn demands_due_on(
                &self,
                book_id: &str,
                due_on: &str,
            ) -> Result<Vec<crate::Demand>, StoreError> {
                sqlx::query_as(
                    "SELECT loan_id, installment, due_date, amount, currency FROM collection_demands \
                     WHERE book_id = $1 AND due_date = $2 AND amount > 0 AND currency IS NOT NULL \
                     AND installment IS NOT NULL ORDER BY loan_id",
                )
                .bind(book_id)
                .bind(due_on)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            pub(super) async fn facilities_of(
                &self,
                book_id: &str,
                borrowers: &[String],
            ) -> Result<Vec<Facility>, StoreError> {
                let mut out = Vec::new();
                for batch in borrowers.chunks(NAMES_PER_QUERY) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT l.id, l.loan_number, l.borrower_id, m.version, m.day, m.earned, m.suspended, \
                         m.provision, m.npa, m.wake_on, m.plan, m.held, m.arrears, m.due_installment, \
                         m.due_on, m.due_amount, m.currency \
                         FROM loans l LEFT JOIN eod_marks m ON m.loan_id = l.id WHERE l.book_id = ",
                    );
                    q.push_bind(book_id.to_owned()).push(" AND l.borrower_id IN (");
                    let mut names = q.separated(", ");
                    for b in batch {
                        names.push_bind(b.clone());
                    }
                    q.push(") ORDER BY l.borrower_id, l.id");
                    let rows: Vec<FacilityRow> =
                        q.build_query_as().fetch_all(self.reader()).await.map_err(db_err)?;
                    out.extend(rows.into_iter().map(FacilityRow::facility));
                }
                Ok(out)
            }
        }
    };
}

sql_eod_borrowers!(super::SqliteStore, sqlx::Sqlite);
sql_eod_borrowers!(super::PgStore, sqlx::Postgres);
