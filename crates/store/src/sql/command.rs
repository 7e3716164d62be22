//! The command write: everything one loan command writes, in one transaction and in as few
//! statements as each backend allows.
//!
//! Both backends first read, in one statement, the loan's version and the head of its audit
//! stream (the record's previous hash, sealed in Rust: the database computes nothing
//! cryptographic). Then:
//! - PostgreSQL writes the events, the projection, the snapshot (and its pruning), the
//!   idempotency record, the outbox messages and the audit record in **one** statement of
//!   data-modifying CTEs: a payment is `BEGIN`, the read, the write, `COMMIT`: four round trips.
//! - SQLite has no data-modifying CTEs; it runs one statement per table, each multi-row
//!   (`INSERT … VALUES (…), (…)`). It is in-process, so a statement costs no round trip.
//!
//! The version check is optimistic: the read compares the loan's version with the expected one,
//! and a command that lost a race meanwhile fails on the events' primary key, reported as
//! `VersionConflict` either way. On both, a trigger moves the stream's audit head.
//!
//! A command that books a loan from an application (a disbursement) also appends the
//! application's last events after the loan's version check, in the same transaction
//! (`append_application`, `sql/applications.rs`): a stale application version fails the whole
//! write, and a stale loan version fails it before the application is touched.

use super::{
    AUDIT_INSERT, HEAD_COLUMNS, KEYED_ANYWHERE, PgStore, SqliteStore, audit_values, db_err,
    event_ids_json, is_unique_violation, keyed_refusal, write_conflict,
};
use crate::audit::{AuditRecord, EventFacts, content_hash, seal, stream_of};
use crate::{AuditEntry, CommandWrite, NewOutbox, SNAPSHOT_BLOCK, SNAPSHOTS_KEPT, StoreError};

/// The audit entry a command's record seals, with the events as written here whatever the
/// caller said, the hash of those events and the booked terms' hash.
pub(super) fn command_entry(w: &CommandWrite) -> (AuditEntry, String, Option<String>, Vec<i64>) {
    let seqs: Vec<i64> = (1..=w.events.len() as i64)
        .map(|k| w.expected_version + k)
        .collect();
    let facts: Vec<EventFacts<'_>> = w
        .events
        .iter()
        .zip(&seqs)
        .map(|(e, seq)| EventFacts {
            loan_id: &w.loan_id,
            seq: *seq,
            value_date: &e.value_date,
            event: &e.event,
        })
        .collect();
    let entry = AuditEntry {
        event_ids: seqs.iter().map(|s| format!("{}:{s}", w.loan_id)).collect(),
        ..w.audit.clone()
    };
    let terms = w.new_loan.as_ref().map(|l| l.terms_hash.clone());
    (entry, content_hash(&facts), terms, seqs)
}

/// A snapshot covers some of the loan's events, at most all of them after this command.
pub(super) fn check_snapshot(w: &CommandWrite) -> Result<(), StoreError> {
    let after = w.expected_version + w.events.len() as i64;
    match &w.snapshot {
        Some(s) if s.version < 1 || s.version > after => Err(StoreError::Corrupt(format!(
            "a snapshot of version {} for loan `{}`, which has {after} events after this command",
            s.version, w.loan_id
        ))),
        _ => Ok(()),
    }
}

macro_rules! command_sql {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The parts of a command that only some commands have and that no later statement
            /// depends on the result of: the approval it carries out and, for a booking, the
            /// loan and its partners.
            async fn write_command_prelude(
                tx: &mut sqlx::Transaction<'_, $db>,
                w: &CommandWrite,
            ) -> Result<(), StoreError> {
                if let Some(d) = &w.approval {
                    Self::decide(tx, d, "approved").await?;
                }
                let Some(loan) = &w.new_loan else { return Ok(()) };
                sqlx::query(
                    "INSERT INTO loans (id, book_id, loan_number, borrower_id, product_id, product_version, terms, terms_hash, created_at, application_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&loan.id)
                .bind(&loan.book_id)
                .bind(&loan.loan_number)
                .bind(&loan.borrower_id)
                .bind(&loan.product_id)
                .bind(loan.product_version)
                .bind(&loan.terms)
                .bind(&loan.terms_hash)
                .bind(&loan.created_at)
                .bind(&loan.application_id)
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Duplicate { what: format!("loan number `{}`", loan.loan_number) }
                    } else {
                        db_err(e)
                    }
                })?;
                if loan.partner_ids.is_empty() {
                    return Ok(());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO loan_partners (loan_id, partner_id) ");
                q.push_values(&loan.partner_ids, |mut b, p| {
                    b.push_bind(loan.id.clone()).push_bind(p.clone());
                });
                q.build().execute(&mut **tx).await.map_err(db_err)?;
                Ok(())
            }

            /// Read the loan's version and its audit stream's head in one statement, check the
            /// version, and seal the command's audit record. Returns it and the events' numbers.
            async fn check_and_seal(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                w: &CommandWrite,
            ) -> Result<(AuditRecord, Vec<i64>), StoreError> {
                check_snapshot(w)?;
                let (entry, content, terms, seqs) = command_entry(w);
                let keyed = if self.audit_key.is_none() { KEYED_ANYWHERE } else { "FALSE" };
                let (actual, head_seq, prev, keyed): (i64, i64, String, bool) = sqlx::query_as(&format!(
                    "SELECT (SELECT COALESCE(MAX(seq), 0) FROM loan_events WHERE loan_id = $1), \
                     {HEAD_COLUMNS}, {keyed} FROM (SELECT 1 AS one) AS one \
                     LEFT JOIN audit_heads h ON h.stream = $2"
                ))
                .bind(&w.loan_id)
                .bind(stream_of(&entry.target))
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?;
                if actual != w.expected_version {
                    return Err(StoreError::VersionConflict { expected: w.expected_version, actual });
                }
                if keyed {
                    return Err(keyed_refusal());
                }
                let record = seal(&prev, head_seq + 1, &entry, content, terms, self.audit_key.as_ref());
                Ok((record, seqs))
            }

            fn push_events(q: &mut sqlx::QueryBuilder<'_, $db>, w: &CommandWrite, seqs: &[i64]) {
                q.push("INSERT INTO loan_events (loan_id, seq, value_date, event, recorded_at, command_id) ");
                q.push_values(w.events.iter().zip(seqs), |mut b, (e, seq)| {
                    b.push_bind(w.loan_id.clone())
                        .push_bind(*seq)
                        .push_bind(e.value_date.clone())
                        .push_bind(e.event.clone())
                        .push_bind(w.at.clone())
                        .push_bind(w.command_id.clone());
                });
            }

            /// The loan is touched: the next close reads it (see `eod_touched` in migration 0011).
            fn push_touched(q: &mut sqlx::QueryBuilder<'_, $db>, w: &CommandWrite, seqs: &[i64]) {
                q.push("INSERT INTO eod_touched (loan_id, part, version) ");
                q.push_values([w], |mut b, w| {
                    b.push_bind(w.loan_id.clone())
                        .push_bind(super::eod_loans::part_of(&w.loan_id))
                        .push_bind(seqs.iter().copied().max().unwrap_or(w.expected_version));
                });
                q.push(
                    " ON CONFLICT (loan_id) DO UPDATE SET version = excluded.version \
                     WHERE excluded.version > eod_touched.version",
                );
            }

            /// The projections of `writes` (one each; a loan at most once), upserted.
            pub(super) fn push_projections(q: &mut sqlx::QueryBuilder<'_, $db>, writes: &[&CommandWrite]) {
                q.push(
                    "INSERT INTO loan_projections (loan_id, version, as_of, status, classification, dpd, \
                     principal_outstanding, total_overdue, state) ",
                );
                q.push_values(writes, |mut b, w| {
                    let p = &w.projection;
                    b.push_bind(w.loan_id.clone())
                        .push_bind(p.version)
                        .push_bind(p.as_of.clone())
                        .push_bind(p.status.clone())
                        .push_bind(p.classification.clone())
                        .push_bind(p.dpd)
                        .push_bind(p.principal_outstanding)
                        .push_bind(p.total_overdue)
                        .push_bind(p.state.clone());
                });
                q.push(
                    " ON CONFLICT (loan_id) DO UPDATE SET version = excluded.version, as_of = excluded.as_of, \
                     status = excluded.status, classification = excluded.classification, dpd = excluded.dpd, \
                     principal_outstanding = excluded.principal_outstanding, total_overdue = excluded.total_overdue, \
                     state = excluded.state",
                );
            }

            /// Snapshots of writes' loans, each kept once.
            pub(super) fn push_snapshots(
                q: &mut sqlx::QueryBuilder<'_, $db>,
                rows: &[(&CommandWrite, &crate::NewSnapshot)],
            ) {
                q.push("INSERT INTO loan_snapshots (loan_id, version, day, engine, created_at) ");
                q.push_values(rows, |mut b, (w, s)| {
                    b.push_bind(w.loan_id.clone())
                        .push_bind(s.version)
                        .push_bind(s.day.clone())
                        .push_bind(s.engine.clone())
                        .push_bind(w.at.clone());
                });
                q.push(" ON CONFLICT (loan_id, version) DO NOTHING");
            }

            /// Drop the snapshots of the loans `ids` but the newest [`SNAPSHOTS_KEPT`] and the newest
            /// of each block of [`SNAPSHOT_BLOCK`] versions, in a statement after the one that
            /// inserted their new snapshots (so it sees them).
            pub(super) fn push_prune_loans<'a>(
                q: &mut sqlx::QueryBuilder<'_, $db>,
                ids: impl IntoIterator<Item = &'a str>,
            ) {
                q.push(format!(
                    "DELETE FROM loan_snapshots WHERE version < (SELECT k.version FROM loan_snapshots k \
                     WHERE k.loan_id = loan_snapshots.loan_id ORDER BY k.version DESC LIMIT 1 OFFSET {}) \
                     AND version NOT IN (SELECT MAX(b.version) FROM loan_snapshots b \
                     WHERE b.loan_id = loan_snapshots.loan_id GROUP BY b.version / {SNAPSHOT_BLOCK}) \
                     AND loan_id IN (",
                    SNAPSHOTS_KEPT - 1
                ));
                let mut list = q.separated(", ");
                for id in ids {
                    list.push_bind(id.to_owned());
                }
                q.push(")");
            }

            /// Drop the loan's snapshots but the newest `keep` and the newest of each block of
            /// [`SNAPSHOT_BLOCK`] versions.
            fn push_prune(q: &mut sqlx::QueryBuilder<'_, $db>, loan_id: &str, keep: i64) {
                q.push("DELETE FROM loan_snapshots WHERE loan_id = ").push_bind(loan_id.to_owned());
                q.push(" AND version < (SELECT MIN(version) FROM (SELECT version FROM loan_snapshots WHERE loan_id = ")
                    .push_bind(loan_id.to_owned())
                    .push(" ORDER BY version DESC LIMIT ")
                    .push_bind(keep)
                    .push(") AS newest) AND version NOT IN (SELECT MAX(version) FROM loan_snapshots WHERE loan_id = ")
                    .push_bind(loan_id.to_owned())
                    .push(" GROUP BY version / ")
                    .push_bind(SNAPSHOT_BLOCK)
                    .push(")");
            }

            fn push_record_key(q: &mut sqlx::QueryBuilder<'_, $db>, i: &crate::IdempotencyRecord, at: &str) {
                q.push("INSERT INTO idempotency_keys (scope, key, target, request_digest, status, body, created_at, reserved_at) ");
                q.push_values([i], |mut b, i| {
                    b.push_bind(i.scope.clone())
                        .push_bind(i.key.clone())
                        .push_bind(i.target.clone())
                        .push_bind(i.request_digest.clone())
                        .push_bind(i.status)
                        .push_bind(i.body.clone())
                        .push_bind(at.to_owned())
                        .push_bind(0_i64);
                });
                q.push(
                    " ON CONFLICT (scope, key) DO UPDATE SET status = excluded.status, body = excluded.body \
                     WHERE idempotency_keys.status = 0 AND idempotency_keys.target = excluded.target \
                     AND idempotency_keys.request_digest = excluded.request_digest",
                );
            }

            /// The outbox messages of a write, created at `at`.
            pub(super) fn push_outbox(q: &mut sqlx::QueryBuilder<'_, $db>, outbox: &[NewOutbox], at: &str) {
                q.push("INSERT INTO outbox (id, loan_id, topic, payload, created_at) ");
                q.push_values(outbox, |mut b, o| {
                    b.push_bind(o.id.clone())
                        .push_bind(o.loan_id.clone())
                        .push_bind(o.topic.clone())
                        .push_bind(o.payload.clone())
                        .push_bind(at.to_owned());
                });
            }
        }
    };
}

command_sql!(SqliteStore, sqlx::Sqlite);
command_sql!(PgStore, sqlx::Postgres);

/// Run one statement built by a `push_…` function on SQLite.
async fn sqlite_run(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    expected: i64,
    build: impl FnOnce(&mut sqlx::QueryBuilder<'_, sqlx::Sqlite>),
) -> Result<u64, StoreError> {
    let mut q = sqlx::QueryBuilder::new("");
    build(&mut q);
    let done = q
        .build()
        .execute(&mut **tx)
        .await
        .map_err(|e| write_conflict(e, expected))?;
    Ok(done.rows_affected())
}

impl SqliteStore {
    pub(super) async fn write_command(&self, w: &CommandWrite) -> Result<Vec<i64>, StoreError> {
        let mut tx = Self::begin_write(self.writer()).await?;
        Self::write_command_prelude(&mut tx, w).await?;
        let (record, seqs) = self.check_and_seal(&mut tx, w).await?;
        if let Some(a) = &w.application {
            self.append_application(&mut tx, a, &w.command_id, &w.at)
                .await?;
        }
        let v = w.expected_version;
        if !w.events.is_empty() {
            sqlite_run(&mut tx, v, |q| Self::push_events(q, w, &seqs)).await?;
            sqlite_run(&mut tx, v, |q| Self::push_touched(q, w, &seqs)).await?;
        }
        sqlite_run(&mut tx, v, |q| Self::push_projections(q, &[w])).await?;
        if let Some(s) = &w.snapshot {
            sqlite_run(&mut tx, v, |q| Self::push_snapshots(q, &[(w, s)])).await?;
            sqlite_run(&mut tx, v, |q| {
                Self::push_prune(q, &w.loan_id, SNAPSHOTS_KEPT)
            })
            .await?;
        }
        if let Some(i) = &w.idempotency {
            if sqlite_run(&mut tx, v, |q| Self::push_record_key(q, i, &w.at)).await? == 0 {
                return Err(StoreError::IdempotencyConflict { key: i.key.clone() });
            }
        }
        if !w.outbox.is_empty() {
            sqlite_run(&mut tx, v, |q| Self::push_outbox(q, &w.outbox, &w.at)).await?;
        }
        Self::insert_audit(&mut tx, &record).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(seqs)
    }
}

impl PgStore {
    pub(super) async fn write_command(&self, w: &CommandWrite) -> Result<Vec<i64>, StoreError> {
        let mut tx = Self::begin_write(self.writer()).await?;
        Self::write_command_prelude(&mut tx, w).await?;
        let (record, seqs) = self.check_and_seal(&mut tx, w).await?;
        if let Some(a) = &w.application {
            self.append_application(&mut tx, a, &w.command_id, &w.at)
                .await?;
        }
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new("WITH ");
        if !w.events.is_empty() {
            q.push("ev AS (");
            Self::push_events(&mut q, w, &seqs);
            q.push(" RETURNING 1), tc AS (");
            Self::push_touched(&mut q, w, &seqs);
            q.push(" RETURNING 1), ");
        }
        q.push("pr AS (");
        Self::push_projections(&mut q, &[w]);
        q.push(" RETURNING 1), ");
        if let Some(s) = &w.snapshot {
            q.push("sn AS (");
            Self::push_snapshots(&mut q, &[(w, s)]);
            // The pruning does not see the snapshot written beside it: keep one fewer.
            q.push(" RETURNING 1), pn AS (");
            Self::push_prune(&mut q, &w.loan_id, SNAPSHOTS_KEPT - 1);
            q.push(" RETURNING 1), ");
        }
        if let Some(i) = &w.idempotency {
            q.push("ik AS (");
            Self::push_record_key(&mut q, i, &w.at);
            q.push(" RETURNING 1), ");
        }
        if !w.outbox.is_empty() {
            q.push("ob AS (");
            Self::push_outbox(&mut q, &w.outbox, &w.at);
            q.push(" RETURNING 1), ");
        }
        q.push("au AS (").push(AUDIT_INSERT);
        audit_values!(q, record, event_ids_json(&record)?);
        q.push(" RETURNING 1) SELECT ");
        q.push(if w.idempotency.is_some() {
            "(SELECT COUNT(*) FROM ik)"
        } else {
            "CAST(1 AS BIGINT)"
        });
        let (keyed,): (i64,) = q
            .build_query_as()
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| write_conflict(e, w.expected_version))?;
        if let (0, Some(i)) = (keyed, &w.idempotency) {
            return Err(StoreError::IdempotencyConflict { key: i.key.clone() });
        }
        tx.commit().await.map_err(db_err)?;
        Ok(seqs)
    }
}
