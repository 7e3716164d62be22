//! [`Gl`] for both backends: posting lines in bulk and reading balances and journals.
//!
//! Lines are inserted with multi-row `INSERT … VALUES` statements of at most [`GL_LINES_PER_INSERT`]
//! rows, well under SQLite's 32,766 and PostgreSQL's 65,535 bound values per statement. The sums
//! are cast to `BIGINT` (PostgreSQL's `SUM` of `BIGINT` is `NUMERIC`); NULL product and partner
//! ids sort first on both backends.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation};
use crate::gl::check_balanced;
use crate::{AccountBalance, Gl, GlLine, LoanAccountBalance, NewGlLine, StoreError};

/// Bound values per GL line.
const GL_COLUMNS: usize = 13;

/// Lines per insert statement: 2,000 × 13 = 26,000 bound values.
const GL_LINES_PER_INSERT: usize = 2_000;

const _: () = assert!(GL_LINES_PER_INSERT * GL_COLUMNS < 32_766);

const GL_LINE_COLUMNS: &str = "id, entry_id, line_no, posted_on, kind, narration, account, \
     loan_id, product_id, partner_id, debit, credit, source";

/// A line posted twice (same entry and line number) is a duplicate, not a database failure.
pub(super) fn gl_insert_err(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate {
            what: "a GL entry line".into(),
        }
    } else {
        db_err(e)
    }
}

macro_rules! sql_gl {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Insert `lines` of `book_id` inside `tx`, in statements of at most
            /// [`GL_LINES_PER_INSERT`] rows. Returns how many were written.
            pub(super) async fn insert_gl_lines(
                tx: &mut sqlx::Transaction<'_, $db>,
                book_id: &str,
                lines: &[NewGlLine],
            ) -> Result<u64, StoreError> {
                let mut written = 0;
                for batch in lines.chunks(GL_LINES_PER_INSERT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO gl_lines (book_id, entry_id, line_no, posted_on, kind, narration, \
                         account, loan_id, product_id, partner_id, debit, credit, source) ",
                    );
                    q.push_values(batch, |mut b, l| {
                        b.push_bind(book_id.to_owned())
                            .push_bind(l.entry_id.clone())
                            .push_bind(l.line_no)
                            .push_bind(l.posted_on.clone())
                            .push_bind(l.kind.clone())
                            .push_bind(l.narration.clone())
                            .push_bind(l.account.clone())
                            .push_bind(l.loan_id.clone())
                            .push_bind(l.product_id.clone())
                            .push_bind(l.partner_id.clone())
                            .push_bind(l.debit)
                            .push_bind(l.credit)
                            .push_bind(l.source.clone());
                    });
                    let done = q.build().execute(&mut **tx).await.map_err(gl_insert_err)?;
                    written += done.rows_affected();
                }
                Ok(written)
            }
        }

        #[async_trait]
        impl Gl for $store {
            async fn post_lines(&self, book_id: &str, lines: &[NewGlLine]) -> Result<(), StoreError> {
                check_balanced(lines)?;
                if lines.is_empty() {
                    return Ok(());
                }
                let mut tx = Self::begin_write(self.writer()).await?;
                Self::insert_gl_lines(&mut tx, book_id, lines).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn trial_balance(&self, book_id: &str, date: &str) -> Result<Vec<AccountBalance>, StoreError> {
                sqlx::query_as(
                    "SELECT account, product_id, partner_id, CAST(SUM(debit) AS BIGINT) AS debit, \
                     CAST(SUM(credit) AS BIGINT) AS credit FROM gl_lines \
                     WHERE book_id = $1 AND posted_on <= $2 \
                     GROUP BY account, product_id, partner_id \
                     ORDER BY account, product_id IS NOT NULL, product_id, partner_id IS NOT NULL, partner_id",
                )
                .bind(book_id)
                .bind(date)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            async fn loan_balances(&self, book_id: &str, date: &str) -> Result<Vec<LoanAccountBalance>, StoreError> {
                sqlx::query_as(
                    "SELECT loan_id, account, partner_id, CAST(SUM(debit) - SUM(credit) AS BIGINT) AS balance \
                     FROM gl_lines WHERE book_id = $1 AND posted_on <= $2 AND loan_id IS NOT NULL \
                     GROUP BY loan_id, account, partner_id \
                     ORDER BY loan_id, account, partner_id IS NOT NULL, partner_id",
                )
                .bind(book_id)
                .bind(date)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            async fn journal(&self, book_id: &str, loan_id: &str) -> Result<Vec<GlLine>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {GL_LINE_COLUMNS} FROM gl_lines WHERE book_id = $1 AND loan_id = $2 \
                     ORDER BY posted_on, id"
                ))
                .bind(book_id)
                .bind(loan_id)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }
        }
    };
}

sql_gl!(SqliteStore, sqlx::Sqlite);
sql_gl!(PgStore, sqlx::Postgres);
