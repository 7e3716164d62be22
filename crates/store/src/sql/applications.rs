//! [`Applications`] for both backends: the application command write, the append of an
//! application's events that a loan command carries (a disbursement, see `command.rs`), and the
//! reads.
//!
//! An append reads, in one statement, the application's version and the head of its audit
//! stream (`application:ID`), checks the version and seals the record in Rust, whose content
//! hash covers the events as the store numbers them. Then it writes the projection (inserted
//! for a new application, else updated at the expected version), the events and the record:
//! one statement of data-modifying CTEs on PostgreSQL, one statement per table on SQLite (which
//! has no data-modifying CTEs and no round trips), as the loan write does. The check is
//! optimistic like the loan's: a command that lost a race meanwhile fails on the events'
//! primary key (or the projection's version), reported as `VersionConflict`. The idempotency
//! record, the approval and the outbox reuse the loan write's helpers.

use async_trait::async_trait;

use super::{
    AUDIT_INSERT, HEAD_COLUMNS, KEYED_ANYWHERE, PgStore, SqliteStore, audit_values, db_err,
    event_ids_json, is_unique_violation, keyed_refusal, violation, write_conflict,
};
use crate::audit::{AuditRecord, EventFacts, content_hash, seal, stream_of};
use crate::{
    ApplicationAppend, ApplicationFilter, ApplicationRecord, ApplicationWrite, Applications,
    AuditEntry, StoreError, StoredApplicationEvent,
};

const APPLICATION_COLUMNS: &str = "id, book_id, number, product_id, product_version, \
     applicant_id, status, queue, loan_id, version, state, created_at, updated_at";

const EVENT_COLUMNS: &str = "application_id, seq, event, recorded_at, command_id";

/// The audit entry an append's record seals, with the events as numbered here whatever the
/// caller said, the hash of those events and their numbers. Refused when the entry's target is
/// not of the application's stream (`application/ID`).
fn append_entry(a: &ApplicationAppend) -> Result<(AuditEntry, String, Vec<i64>), StoreError> {
    let id = &a.application_id;
    if stream_of(&a.audit.target) != format!("application:{id}") {
        return Err(StoreError::Corrupt(format!(
            "the audit record of application `{id}` targets `{}`, not `application/{id}`",
            a.audit.target
        )));
    }
    let seqs: Vec<i64> = (1..=a.events.len() as i64)
        .map(|k| a.expected_version + k)
        .collect();
    let facts: Vec<EventFacts<'_>> = a
        .events
        .iter()
        .zip(&seqs)
        .map(|(event, seq)| EventFacts {
            loan_id: id,
            seq: *seq,
            value_date: "",
            event,
        })
        .collect();
    let entry = AuditEntry {
        event_ids: seqs.iter().map(|s| format!("{id}:{s}")).collect(),
        ..a.audit.clone()
    };
    Ok((entry, content_hash(&facts), seqs))
}

/// Map a failed write of an append: a new application's number or id is taken, or another
/// command took the next event number or the audit stream's next number.
fn append_conflict(e: sqlx::Error, a: &ApplicationAppend) -> StoreError {
    let what = violation(&e);
    match &a.new {
        Some(new) if is_unique_violation(&e) && what.contains("applications") => {
            StoreError::Duplicate {
                what: if what.contains("number") {
                    format!("application number `{}`", new.number)
                } else {
                    format!("application `{}`", a.application_id)
                },
            }
        }
        _ => write_conflict(e, a.expected_version),
    }
}

/// A projection update that found the application at another version: it lost a race.
fn moved_on(a: &ApplicationAppend) -> StoreError {
    StoreError::VersionConflict {
        expected: a.expected_version,
        actual: a.expected_version + 1,
    }
}

/// The version check: a new application must not exist (and is written at version 0), any
/// other must exist at the expected version.
fn check_version(a: &ApplicationAppend, actual: Option<i64>) -> Result<(), StoreError> {
    let id = &a.application_id;
    match (&a.new, actual) {
        (Some(_), Some(_)) => Err(StoreError::Duplicate {
            what: format!("application `{id}`"),
        }),
        (None, None) => Err(StoreError::NotFound {
            what: format!("application `{id}`"),
        }),
        (Some(_), None) if a.expected_version != 0 => Err(StoreError::VersionConflict {
            expected: a.expected_version,
            actual: 0,
        }),
        (None, Some(v)) if v != a.expected_version => Err(StoreError::VersionConflict {
            expected: a.expected_version,
            actual: v,
        }),
        _ => Ok(()),
    }
}

macro_rules! sql_applications {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Read the application's version and its audit stream's head in one statement,
            /// check the version, and seal the append's audit record. Returns it and the
            /// events' numbers.
            async fn check_and_seal_application(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                a: &ApplicationAppend,
            ) -> Result<(AuditRecord, Vec<i64>), StoreError> {
                let (entry, content, seqs) = append_entry(a)?;
                let keyed = if self.audit_key.is_none() { KEYED_ANYWHERE } else { "FALSE" };
                let (actual, head_seq, prev, keyed): (Option<i64>, i64, String, bool) =
                    sqlx::query_as(&format!(
                        "SELECT (SELECT version FROM applications WHERE id = $1), \
                         {HEAD_COLUMNS}, {keyed} FROM (SELECT 1 AS one) AS one \
                         LEFT JOIN audit_heads h ON h.stream = $2"
                    ))
                    .bind(&a.application_id)
                    .bind(stream_of(&entry.target))
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db_err)?;
                check_version(a, actual)?;
                if keyed {
                    return Err(keyed_refusal());
                }
                let record = seal(&prev, head_seq + 1, &entry, content, None, self.audit_key.as_ref());
                Ok((record, seqs))
            }

            /// The projection of a new application, at `version`.
            fn push_new_application(
                q: &mut sqlx::QueryBuilder<'_, $db>,
                a: &ApplicationAppend,
                new: &crate::NewApplication,
                version: i64,
                at: &str,
            ) {
                q.push(format!("INSERT INTO applications ({APPLICATION_COLUMNS}) "));
                q.push_values([new], |mut b, new| {
                    b.push_bind(a.application_id.clone())
                        .push_bind(new.book_id.clone())
                        .push_bind(new.number.clone())
                        .push_bind(new.product_id.clone())
                        .push_bind(new.product_version)
                        .push_bind(a.applicant_id.clone())
                        .push_bind(a.status.clone())
                        .push_bind(a.queue.clone())
                        .push_bind(a.loan_id.clone())
                        .push_bind(version)
                        .push_bind(a.state.clone())
                        .push_bind(at.to_owned())
                        .push_bind(at.to_owned());
                });
            }

            /// Move the projection from the expected version to `version`.
            fn push_application_update(
                q: &mut sqlx::QueryBuilder<'_, $db>,
                a: &ApplicationAppend,
                version: i64,
                at: &str,
            ) {
                q.push("UPDATE applications SET applicant_id = ").push_bind(a.applicant_id.clone());
                q.push(", status = ").push_bind(a.status.clone());
                q.push(", queue = ").push_bind(a.queue.clone());
                q.push(", loan_id = ").push_bind(a.loan_id.clone());
                q.push(", version = ").push_bind(version);
                q.push(", state = ").push_bind(a.state.clone());
                q.push(", updated_at = ").push_bind(at.to_owned());
                q.push(" WHERE id = ").push_bind(a.application_id.clone());
                q.push(" AND version = ").push_bind(a.expected_version);
            }

            fn push_application_events(
                q: &mut sqlx::QueryBuilder<'_, $db>,
                a: &ApplicationAppend,
                seqs: &[i64],
                command_id: &str,
                at: &str,
            ) {
                q.push(format!("INSERT INTO application_events ({EVENT_COLUMNS}) "));
                q.push_values(a.events.iter().zip(seqs), |mut b, (e, seq)| {
                    b.push_bind(a.application_id.clone())
                        .push_bind(*seq)
                        .push_bind(e.clone())
                        .push_bind(at.to_owned())
                        .push_bind(command_id.to_owned());
                });
            }
        }

        #[async_trait]
        impl Applications for $store {
            async fn commit_application(&self, w: &ApplicationWrite) -> Result<Vec<i64>, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                if let Some(d) = &w.approval {
                    Self::decide(&mut tx, d, "approved").await?;
                }
                for (party, audit) in &w.parties {
                    self.write_party(&mut tx, party, audit).await?;
                }
                let seqs = self.append_application(&mut tx, &w.append, &w.command_id, &w.at).await?;
                if let Some(i) = &w.idempotency {
                    Self::record_key(&mut tx, i, &w.at).await?;
                }
                if !w.outbox.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new("");
                    Self::push_outbox(&mut q, &w.outbox, &w.at);
                    q.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(seqs)
            }

            async fn application(&self, id: &str) -> Result<Option<ApplicationRecord>, StoreError> {
                sqlx::query_as(&format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .map_err(db_err)
            }

            /// Numbers are unique in a book; across books, the first book's (by id) is returned.
            async fn application_by_number(
                &self,
                number: &str,
            ) -> Result<Option<ApplicationRecord>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {APPLICATION_COLUMNS} FROM applications WHERE number = $1 \
                     ORDER BY book_id LIMIT 1"
                ))
                .bind(number)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)
            }

            async fn application_events(
                &self,
                id: &str,
            ) -> Result<Vec<StoredApplicationEvent>, StoreError> {
                sqlx::query_as(&format!(
                    "SELECT {EVENT_COLUMNS} FROM application_events WHERE application_id = $1 ORDER BY seq"
                ))
                .bind(id)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)
            }

            async fn list_applications(
                &self,
                f: &ApplicationFilter,
            ) -> Result<Vec<ApplicationRecord>, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {APPLICATION_COLUMNS} FROM applications WHERE 1 = 1"
                ));
                if let Some(s) = &f.status {
                    q.push(" AND status = ").push_bind(s.clone());
                }
                if let Some(queue) = &f.queue {
                    q.push(" AND queue = ").push_bind(queue.clone());
                }
                if let Some(a) = &f.applicant_id {
                    q.push(" AND applicant_id = ").push_bind(a.clone());
                }
                if let Some(after) = &f.after {
                    q.push(" AND id > ").push_bind(after.clone());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(f.limit.clamp(1, 1000));
                q.build_query_as().fetch_all(self.reader()).await.map_err(db_err)
            }
        }
    };
}

sql_applications!(SqliteStore, sqlx::Sqlite);
sql_applications!(PgStore, sqlx::Postgres);

/// Run one statement of an append built by a `push_…` function on SQLite; returns how many
/// rows it wrote.
async fn sqlite_exec(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    a: &ApplicationAppend,
    build: impl FnOnce(&mut sqlx::QueryBuilder<'_, sqlx::Sqlite>),
) -> Result<u64, StoreError> {
    let mut q = sqlx::QueryBuilder::new("");
    build(&mut q);
    let done = q
        .build()
        .execute(&mut **tx)
        .await
        .map_err(|e| append_conflict(e, a))?;
    Ok(done.rows_affected())
}

impl SqliteStore {
    /// Append an application's events at its expected version inside `tx`: the version check,
    /// the projection, the events and the audit record on its stream, a statement each.
    /// Returns the events' sequence numbers.
    pub(super) async fn append_application(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        a: &ApplicationAppend,
        command_id: &str,
        at: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let (record, seqs) = self.check_and_seal_application(tx, a).await?;
        let version = a.expected_version + seqs.len() as i64;
        // The projection first when it is new: the events refer to it.
        let written = sqlite_exec(tx, a, |q| match &a.new {
            Some(new) => Self::push_new_application(q, a, new, version, at),
            None => Self::push_application_update(q, a, version, at),
        })
        .await?;
        if written == 0 {
            return Err(moved_on(a));
        }
        if !a.events.is_empty() {
            sqlite_exec(tx, a, |q| {
                Self::push_application_events(q, a, &seqs, command_id, at)
            })
            .await?;
        }
        Self::insert_audit(tx, &record).await?;
        Ok(seqs)
    }
}

impl PgStore {
    /// Append an application's events at its expected version inside `tx`: the version check
    /// and the audit head in one statement, then the projection, the events and the audit
    /// record in one more. Returns the events' sequence numbers.
    pub(super) async fn append_application(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        a: &ApplicationAppend,
        command_id: &str,
        at: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let (record, seqs) = self.check_and_seal_application(tx, a).await?;
        let version = a.expected_version + seqs.len() as i64;
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new("WITH ap AS (");
        match &a.new {
            Some(new) => Self::push_new_application(&mut q, a, new, version, at),
            None => Self::push_application_update(&mut q, a, version, at),
        }
        q.push(" RETURNING 1), ");
        if !a.events.is_empty() {
            q.push("ev AS (");
            Self::push_application_events(&mut q, a, &seqs, command_id, at);
            q.push(" RETURNING 1), ");
        }
        q.push("au AS (").push(AUDIT_INSERT);
        audit_values!(q, record, event_ids_json(&record)?);
        q.push(" RETURNING 1) SELECT COUNT(*) FROM ap");
        let (written,): (i64,) = q
            .build_query_as()
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| append_conflict(e, a))?;
        if written == 0 {
            return Err(moved_on(a));
        }
        Ok(seqs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewApplication;

    fn append(expected_version: i64, new: bool, target: &str) -> ApplicationAppend {
        ApplicationAppend {
            application_id: "A1".into(),
            expected_version,
            new: new.then(|| NewApplication {
                book_id: "main".into(),
                number: "APP-1".into(),
                product_id: "P1".into(),
                product_version: 1,
            }),
            events: vec![r#"{"type":"a"}"#.into(), r#"{"type":"b"}"#.into()],
            applicant_id: None,
            status: "draft".into(),
            queue: None,
            loan_id: None,
            state: "{}".into(),
            audit: AuditEntry {
                at: "2024-02-01T10:00:00Z".into(),
                actor: "ops-1".into(),
                action: "submit".into(),
                target: target.into(),
                request_digest: String::new(),
                event_ids: vec!["caller:9".into()],
            },
        }
    }

    #[test]
    fn the_entry_numbers_the_events_after_the_expected_version() {
        let (entry, content, seqs) = append_entry(&append(3, false, "application/A1")).unwrap();
        assert_eq!(seqs, vec![4, 5]);
        assert_eq!(entry.event_ids, vec!["A1:4", "A1:5"]);
        let facts = [
            EventFacts {
                loan_id: "A1",
                seq: 4,
                value_date: "",
                event: r#"{"type":"a"}"#,
            },
            EventFacts {
                loan_id: "A1",
                seq: 5,
                value_date: "",
                event: r#"{"type":"b"}"#,
            },
        ];
        assert_eq!(content, content_hash(&facts));
    }

    #[test]
    fn an_entry_of_another_stream_is_refused() {
        let err = append_entry(&append(0, true, "loan/A1")).unwrap_err();
        assert!(err.to_string().contains("application/A1"), "{err}");
        assert!(append_entry(&append(0, true, "application/A1/decision")).is_ok());
    }

    #[test]
    fn the_version_check_names_each_case() {
        assert!(check_version(&append(0, true, ""), None).is_ok());
        assert!(matches!(
            check_version(&append(0, true, ""), Some(2)),
            Err(StoreError::Duplicate { .. })
        ));
        assert!(matches!(
            check_version(&append(1, true, ""), None),
            Err(StoreError::VersionConflict {
                expected: 1,
                actual: 0
            })
        ));
        assert!(matches!(
            check_version(&append(2, false, ""), None),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            check_version(&append(2, false, ""), Some(3)),
            Err(StoreError::VersionConflict {
                expected: 2,
                actual: 3
            })
        ));
        assert!(check_version(&append(3, false, ""), Some(3)).is_ok());
    }
}
