//! Many loan commands written in one transaction ([`Loans::commit_batch`](crate::Loans)): a
//! file of debit results posts its payments this way, a few statements a table for the whole
//! batch instead of a transaction a payment.
//!
//! The versions of the batch's loans and the heads of their audit streams are read in one
//! statement each; every write is checked against its loan's version (a loan's later writes in
//! the batch against the version its earlier ones leave) and its audit record sealed on its
//! stream's head, in Rust. Then each table gets multi-row inserts. A write that lost a race to a
//! command arriving meanwhile fails the whole batch on the events' primary key (or the audit
//! stream's unique number): nothing of it is written, and it is reported as `VersionConflict`.

use std::collections::HashMap;

use super::command::{check_snapshot, command_entry};
use super::copy::copy_rows;
use super::{
    AUDIT_INSERT, KEYED_ANYWHERE, PgStore, SqliteStore, db_err, event_ids_json, keyed_refusal,
    write_conflict,
};
use crate::audit::{AuditRecord, EventFacts, seal, stream_of};
use crate::{CommandWrite, MAX_BATCH_WRITES, NewEvent, NewOutbox, StoreError};

/// Rows a multi-row statement carries: under both backends' bind limits for the widest table
/// (the audit log's 14 columns).
const ROWS_PER_STATEMENT: usize = 2_000;

/// Names a statement's `IN (…)` list carries.
const NAMES_PER_STATEMENT: usize = 5_000;

const EVENT_COLUMNS: &str =
    "loan_events (loan_id, seq, value_date, event, recorded_at, command_id)";
const EVENT_INSERT: &str =
    "INSERT INTO loan_events (loan_id, seq, value_date, event, recorded_at, command_id) ";
const OUTBOX_COLUMNS: &str = "outbox (id, loan_id, topic, payload, created_at)";
const OUTBOX_INSERT: &str = "INSERT INTO outbox (id, loan_id, topic, payload, created_at) ";
const AUDIT_COLUMNS: &str = "audit_log (stream, stream_seq, at, actor, action, target, \
     request_digest, event_ids, prev_hash, hash, scheme, key_id, content_hash, terms_hash)";

/// The genesis hash a stream's first record chains to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Refuse a batch the batch path does not write: what only a single command carries.
fn check_batch(writes: &[CommandWrite]) -> Result<(), StoreError> {
    if writes.len() > MAX_BATCH_WRITES {
        return Err(StoreError::Corrupt(format!(
            "a batch of {} commands: at most {MAX_BATCH_WRITES} a call",
            writes.len()
        )));
    }
    for w in writes {
        let single = w.new_loan.is_some()
            || w.approval.is_some()
            || w.application.is_some()
            || w.idempotency.is_some();
        if single || w.events.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "command `{}` on loan `{}`: a batch carries events on booked loans only, without \
                 a booking, an approval, an application step or an idempotency record",
                w.command_id, w.loan_id
            )));
        }
        check_snapshot(w)?;
    }
    Ok(())
}

/// Every loan the batch writes, once, in the order first written.
fn loans_of(writes: &[CommandWrite]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    writes
        .iter()
        .map(|w| w.loan_id.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Check each write against its loan's version and seal its audit record on its stream, in the
/// batch's order. `versions`: each loan's stored version; `heads`: each stream's number and hash.
fn seal_all(
    writes: &[CommandWrite],
    mut versions: HashMap<String, i64>,
    mut heads: HashMap<String, (i64, String)>,
    key: Option<&crate::audit::AuditKey>,
) -> Result<Vec<(AuditRecord, Vec<i64>)>, StoreError> {
    let mut sealed = Vec::with_capacity(writes.len());
    for w in writes {
        let version = versions.entry(w.loan_id.clone()).or_insert(0);
        if *version != w.expected_version {
            return Err(StoreError::VersionConflict {
                expected: w.expected_version,
                actual: *version,
            });
        }
        let (entry, _, terms, seqs) = command_entry(w);
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
        let content = crate::audit::content_hash(&facts);
        let head = heads
            .entry(stream_of(&entry.target))
            .or_insert_with(|| (0, GENESIS.to_owned()));
        let record = seal(&head.1, head.0 + 1, &entry, content, terms, key);
        *head = (record.stream_seq, record.hash.clone());
        *version += w.events.len() as i64;
        sealed.push((record, seqs));
    }
    Ok(sealed)
}

/// Each loan's newest version among the writes: the projection and touched mark it ends with.
fn last_by_loan(writes: &[CommandWrite]) -> Vec<&CommandWrite> {
    let mut last: HashMap<&str, &CommandWrite> = HashMap::new();
    for w in writes {
        last.insert(w.loan_id.as_str(), w);
    }
    loans_of(writes)
        .into_iter()
        .filter_map(|id| last.get(id).copied())
        .collect()
}

macro_rules! batch_sql {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Write `writes` in one transaction, all or none.
            pub(super) async fn write_commands(
                &self,
                writes: &[CommandWrite],
            ) -> Result<(), StoreError> {
                check_batch(writes)?;
                if writes.is_empty() {
                    return Ok(());
                }
                let mut tx = Self::begin_write(self.writer()).await?;
                let versions = Self::batch_versions(&mut tx, writes).await?;
                let heads = self.batch_heads(&mut tx, writes).await?;
                let sealed = seal_all(writes, versions, heads, self.audit_key.as_ref())?;
                Self::batch_events(&mut tx, writes, &sealed).await?;
                Self::batch_loans(&mut tx, writes).await?;
                let outbox: Vec<(&NewOutbox, &str)> = writes
                    .iter()
                    .flat_map(|w| w.outbox.iter().map(move |o| (o, w.at.as_str())))
                    .collect();
                Self::insert_outbox(&mut tx, &outbox).await?;
                let ids = sealed
                    .iter()
                    .map(|(r, _)| event_ids_json(r))
                    .collect::<Result<Vec<_>, _>>()?;
                let audit: Vec<(&AuditRecord, &String)> =
                    sealed.iter().map(|(r, _)| r).zip(&ids).collect();
                Self::insert_audit_rows(&mut tx, &audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            /// Each loan's stored version (a loan without events is absent).
            async fn batch_versions(
                tx: &mut sqlx::Transaction<'_, $db>,
                writes: &[CommandWrite],
            ) -> Result<HashMap<String, i64>, StoreError> {
                let mut versions = HashMap::new();
                for ids in loans_of(writes).chunks(NAMES_PER_STATEMENT) {
                    // Each loan's newest event from the index, one lookup a loan (an `IN` list
                    // with `GROUP BY` is planned as a scan of the whole table on PostgreSQL).
                    let mut q = sqlx::QueryBuilder::<$db>::new("WITH v (id) AS (");
                    q.push_values(ids, |mut b, id| {
                        b.push_bind(id.to_string());
                    });
                    q.push(") SELECT v.id, (SELECT MAX(e.seq) FROM loan_events e WHERE e.loan_id = v.id) FROM v");
                    let rows: Vec<(String, Option<i64>)> =
                        q.build_query_as().fetch_all(&mut **tx).await.map_err(db_err)?;
                    versions.extend(rows.into_iter().filter_map(|(id, v)| v.map(|v| (id, v))));
                }
                Ok(versions)
            }

            /// The heads of the writes' audit streams, refused when the log is keyed and this
            /// store has no key.
            async fn batch_heads(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                writes: &[CommandWrite],
            ) -> Result<HashMap<String, (i64, String)>, StoreError> {
                if self.audit_key.is_none() {
                    let (keyed,): (bool,) = sqlx::query_as(&format!("SELECT {KEYED_ANYWHERE}"))
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(db_err)?;
                    if keyed {
                        return Err(keyed_refusal());
                    }
                }
                let mut streams: Vec<String> =
                    writes.iter().map(|w| stream_of(&w.audit.target)).collect();
                streams.sort_unstable();
                streams.dedup();
                let mut heads = HashMap::new();
                for names in streams.chunks(NAMES_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT stream, seq, hash FROM audit_heads WHERE stream IN (",
                    );
                    let mut list = q.separated(", ");
                    for s in names {
                        list.push_bind(s.clone());
                    }
                    q.push(")");
                    let rows: Vec<(String, i64, String)> =
                        q.build_query_as().fetch_all(&mut **tx).await.map_err(db_err)?;
                    heads.extend(rows.into_iter().map(|(s, seq, hash)| (s, (seq, hash))));
                }
                Ok(heads)
            }

            /// The events, and each loan marked touched for the next close.
            async fn batch_events(
                tx: &mut sqlx::Transaction<'_, $db>,
                writes: &[CommandWrite],
                sealed: &[(AuditRecord, Vec<i64>)],
            ) -> Result<(), StoreError> {
                let rows: Vec<EventRow<'_>> = writes
                    .iter()
                    .zip(sealed)
                    .flat_map(|(w, (_, seqs))| {
                        w.events.iter().zip(seqs).map(move |(e, s)| (w, e, *s))
                    })
                    .collect();
                Self::insert_events(tx, &rows).await?;
                let last = last_by_loan(writes);
                for chunk in last.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO eod_touched (loan_id, part, version) ",
                    );
                    q.push_values(chunk, |mut b, w| {
                        b.push_bind(w.loan_id.clone())
                            .push_bind(super::eod_loans::part_of(&w.loan_id))
                            .push_bind(w.expected_version + w.events.len() as i64);
                    });
                    q.push(
                        " ON CONFLICT (loan_id) DO UPDATE SET version = excluded.version \
                         WHERE excluded.version > eod_touched.version",
                    );
                    q.build().execute(&mut **tx).await.map_err(db_err)?;
                }
                Ok(())
            }

            /// Each loan's projection after its last write, and the snapshots the writes carry
            /// (pruned as a command prunes).
            async fn batch_loans(
                tx: &mut sqlx::Transaction<'_, $db>,
                writes: &[CommandWrite],
            ) -> Result<(), StoreError> {
                for chunk in last_by_loan(writes).chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("");
                    Self::push_projections(&mut q, chunk);
                    q.build().execute(&mut **tx).await.map_err(db_err)?;
                }
                let snapshots: Vec<(&CommandWrite, &crate::NewSnapshot)> = writes
                    .iter()
                    .filter_map(|w| w.snapshot.as_ref().map(|s| (w, s)))
                    .collect();
                for chunk in snapshots.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("");
                    Self::push_snapshots(&mut q, chunk);
                    q.build().execute(&mut **tx).await.map_err(db_err)?;
                    let mut q = sqlx::QueryBuilder::<$db>::new("");
                    Self::push_prune_loans(&mut q, chunk.iter().map(|(w, _)| w.loan_id.as_str()));
                    q.build().execute(&mut **tx).await.map_err(db_err)?;
                }
                Ok(())
            }
        }
    };
}

batch_sql!(SqliteStore, sqlx::Sqlite);
batch_sql!(PgStore, sqlx::Postgres);

/// An event row of the batch: its write, the event and its number.
type EventRow<'a> = (&'a CommandWrite, &'a NewEvent, i64);

/// A message row: the message and when its write was made.
type OutboxRow<'a> = (&'a NewOutbox, &'a str);

/// An audit row: the sealed record and its event ids as JSON.
type AuditRow<'a> = (&'a AuditRecord, &'a String);

/// SQLite: multi-row `INSERT`s (in-process, a statement costs no round trip).
impl SqliteStore {
    async fn insert_events(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        rows: &[EventRow<'_>],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(EVENT_INSERT);
            q.push_values(chunk, |mut b, (w, e, seq)| {
                b.push_bind(w.loan_id.clone())
                    .push_bind(*seq)
                    .push_bind(e.value_date.clone())
                    .push_bind(e.event.clone())
                    .push_bind(w.at.clone())
                    .push_bind(w.command_id.clone());
            });
            q.build()
                .execute(&mut **tx)
                .await
                .map_err(|e| write_conflict(e, chunk[0].0.expected_version))?;
        }
        Ok(())
    }

    async fn insert_outbox(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        rows: &[OutboxRow<'_>],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(OUTBOX_INSERT);
            q.push_values(chunk, |mut b, (o, at)| {
                b.push_bind(o.id.clone())
                    .push_bind(o.loan_id.clone())
                    .push_bind(o.topic.clone())
                    .push_bind(o.payload.clone())
                    .push_bind(at.to_string());
            });
            q.build().execute(&mut **tx).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn insert_audit_rows(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        rows: &[AuditRow<'_>],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(AUDIT_INSERT);
            q.push_values(chunk, |mut b, (r, ids)| {
                b.push_bind(r.stream.clone())
                    .push_bind(r.stream_seq)
                    .push_bind(r.entry.at.clone())
                    .push_bind(r.entry.actor.clone())
                    .push_bind(r.entry.action.clone())
                    .push_bind(r.entry.target.clone())
                    .push_bind(r.entry.request_digest.clone())
                    .push_bind((*ids).clone())
                    .push_bind(r.prev_hash.clone())
                    .push_bind(r.hash.clone())
                    .push_bind(r.scheme.clone())
                    .push_bind(r.key_id.clone())
                    .push_bind(r.content_hash.clone())
                    .push_bind(r.terms_hash.clone());
            });
            q.build()
                .execute(&mut **tx)
                .await
                .map_err(|e| write_conflict(e, 0))?;
        }
        Ok(())
    }
}

/// A unique violation while copying a batch's events is a loan that moved on meanwhile; on the
/// audit log, a stream that did.
fn copy_conflict(e: sqlx::Error) -> StoreError {
    write_conflict(e, 0)
}

/// PostgreSQL: `COPY`, one per table.
impl PgStore {
    async fn insert_events(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        rows: &[EventRow<'_>],
    ) -> Result<(), StoreError> {
        copy_rows(copy_conflict, tx, EVENT_COLUMNS, rows, |c, (w, e, seq)| {
            c.text(&w.loan_id)
                .int(*seq)
                .text(&e.value_date)
                .text(&e.event)
                .text(&w.at)
                .text(&w.command_id);
        })
        .await
    }

    async fn insert_outbox(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        rows: &[OutboxRow<'_>],
    ) -> Result<(), StoreError> {
        copy_rows(db_err, tx, OUTBOX_COLUMNS, rows, |c, (o, at)| {
            c.text(&o.id)
                .opt(o.loan_id.as_deref())
                .text(&o.topic)
                .text(&o.payload)
                .text(at);
        })
        .await
    }

    async fn insert_audit_rows(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        rows: &[AuditRow<'_>],
    ) -> Result<(), StoreError> {
        copy_rows(copy_conflict, tx, AUDIT_COLUMNS, rows, |c, (r, ids)| {
            c.text(&r.stream)
                .int(r.stream_seq)
                .text(&r.entry.at)
                .text(&r.entry.actor)
                .text(&r.entry.action)
                .text(&r.entry.target)
                .text(&r.entry.request_digest)
                .text(ids)
                .text(&r.prev_hash)
                .text(&r.hash)
                .text(&r.scheme)
                .opt(r.key_id.as_deref())
                .text(&r.content_hash)
                .opt(r.terms_hash.as_deref());
        })
        .await
    }
}
