//! [`Applications`] for both backends: the application command write, the append of an
//! application's events that a loan command carries (a disbursement, see `command.rs`), and the
//! reads.
//!
//! An append reads the application's version, checks it, writes the projection (inserted for a
//! new application, else updated at the expected version), the events with the next sequence
//! numbers, and the audit record on the application's stream (`application:ID`), whose content
//! hash covers those events as the store numbered them. The check is optimistic like the loan's:
//! a command that lost a race meanwhile fails on the events' primary key, reported as
//! `VersionConflict`. Applications take few commands each, so both backends run one statement
//! per table here; the idempotency record, the approval and the outbox reuse the loan write's
//! helpers.

use async_trait::async_trait;

use super::{PgStore, SqliteStore, db_err, is_unique_violation, write_conflict};
use crate::audit::{EventFacts, content_hash, stream_of};
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

/// Map a failed insert of a new application: its number or its id is taken.
fn taken(e: sqlx::Error, a: &ApplicationAppend, number: &str) -> StoreError {
    if !is_unique_violation(&e) {
        return db_err(e);
    }
    let what = match &e {
        sqlx::Error::Database(d) => {
            format!("{} {}", d.constraint().unwrap_or_default(), d.message())
        }
        _ => String::new(),
    };
    if what.contains("number") {
        StoreError::Duplicate {
            what: format!("application number `{number}`"),
        }
    } else {
        StoreError::Duplicate {
            what: format!("application `{}`", a.application_id),
        }
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
            /// Append an application's events at its expected version inside `tx`: the version
            /// check, the projection, the events and the audit record on its stream. Returns
            /// the events' sequence numbers.
            pub(super) async fn append_application(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                a: &ApplicationAppend,
                command_id: &str,
                at: &str,
            ) -> Result<Vec<i64>, StoreError> {
                let (entry, content, seqs) = append_entry(a)?;
                let actual: Option<(i64,)> =
                    sqlx::query_as("SELECT version FROM applications WHERE id = $1")
                        .bind(&a.application_id)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db_err)?;
                check_version(a, actual.map(|v| v.0))?;
                let version = a.expected_version + seqs.len() as i64;
                if let Some(new) = &a.new {
                    Self::insert_application(tx, a, new, version, at).await?;
                }
                if !a.events.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                        "INSERT INTO application_events ({EVENT_COLUMNS}) "
                    ));
                    q.push_values(a.events.iter().zip(&seqs), |mut b, (e, seq)| {
                        b.push_bind(a.application_id.clone())
                            .push_bind(*seq)
                            .push_bind(e.clone())
                            .push_bind(at.to_owned())
                            .push_bind(command_id.to_owned());
                    });
                    q.build()
                        .execute(&mut **tx)
                        .await
                        .map_err(|e| write_conflict(e, a.expected_version))?;
                }
                if a.new.is_none() {
                    Self::update_application(tx, a, version, at).await?;
                }
                let record = self.seal_next(tx, &entry, content, None).await?;
                Self::insert_audit(tx, &record).await?;
                Ok(seqs)
            }

            async fn insert_application(
                tx: &mut sqlx::Transaction<'_, $db>,
                a: &ApplicationAppend,
                new: &crate::NewApplication,
                version: i64,
                at: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO applications ({APPLICATION_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(&a.application_id)
                .bind(&new.book_id)
                .bind(&new.number)
                .bind(&new.product_id)
                .bind(new.product_version)
                .bind(&a.applicant_id)
                .bind(&a.status)
                .bind(&a.queue)
                .bind(&a.loan_id)
                .bind(version)
                .bind(&a.state)
                .bind(at)
                .bind(at)
                .execute(&mut **tx)
                .await
                .map_err(|e| taken(e, a, &new.number))?;
                Ok(())
            }

            /// Move the projection from the expected version to `version`.
            async fn update_application(
                tx: &mut sqlx::Transaction<'_, $db>,
                a: &ApplicationAppend,
                version: i64,
                at: &str,
            ) -> Result<(), StoreError> {
                let done = sqlx::query(
                    "UPDATE applications SET applicant_id = $2, status = $3, queue = $4, loan_id = $5, \
                     version = $6, state = $7, updated_at = $8 WHERE id = $1 AND version = $9",
                )
                .bind(&a.application_id)
                .bind(&a.applicant_id)
                .bind(&a.status)
                .bind(&a.queue)
                .bind(&a.loan_id)
                .bind(version)
                .bind(&a.state)
                .bind(at)
                .bind(a.expected_version)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::VersionConflict {
                        expected: a.expected_version,
                        actual: a.expected_version + 1,
                    });
                }
                Ok(())
            }
        }

        #[async_trait]
        impl Applications for $store {
            async fn commit_application(&self, w: &ApplicationWrite) -> Result<Vec<i64>, StoreError> {
                let mut tx = Self::begin_write(self.writer()).await?;
                if let Some(d) = &w.approval {
                    Self::decide(&mut tx, d, "approved").await?;
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
