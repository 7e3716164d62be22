//! Loan commands in bulk: the payments, reversals and charges of a file of debit results, each
//! checked by the engine exactly as one command is, written a few thousand to a transaction.
//!
//! The batch reads its loans as the close reads them (terms, newest snapshot, the events after
//! it) in three statements per chunk, decides every item on rayon's threads, and writes the
//! chunk's commands with [`Loans::commit_batch`](loanbook_store::Loans::commit_batch). An item
//! the fast path cannot decide on its own goes through the single command path after the
//! chunk: one back-dated before the loan's newest event or its snapshot, one the maker-checker
//! policy holds, one whose snapshot cannot carry it. So the batch never decides differently
//! from the command it stands for.
//!
//! Applying the same items again changes nothing: a payment whose reference the loan already
//! holds on the same date, or a reversal of a receipt already reversed, is `unchanged`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{self, LoanState, Resumed, Snapshot};
use loanbook_domain::terms::Terms;
use loanbook_store::{AuditEntry, CommandWrite, EodLoan, NewEvent, NewOutbox, StoreError};
use rayon::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::commands::LoanCommand;
use super::resume::{ResumePoint, Taken, snapshot_through, snapshot_wanted};
use super::{action_for, class_message, class_moved, event_message, projection, refused};
use crate::auth::Role;
use crate::policy::ApprovalPolicy;
use crate::views::Answer;
use crate::{App, AppError, Principal, RequestMeta, corrupt};

/// Loans a chunk reads and writes in one transaction.
pub const BATCH_LOANS: usize = 2_000;

/// Chunks read, decided and written at once: one reads while another is decided and a third
/// written, so the database and the engine work side by side.
pub const CHUNKS_IN_FLIGHT: usize = 3;

/// One command of a batch, on its loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub loan_id: String,
    pub command: LoanCommand,
}

/// What became of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Written: the loan's new version is `version`.
    Posted,
    /// The loan already holds it (the same receipt, or the reversal of a reversed one).
    Unchanged,
    /// Held for a second user's approval, as the single command would be.
    Held,
    /// Refused: `field` and `rule` say why; nothing of it was written.
    Refused,
}

/// One item's result, by its position in the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    pub loan_id: String,
    pub status: ItemStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// What a batch did, item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct BatchReport {
    pub items: usize,
    pub posted: usize,
    pub unchanged: usize,
    pub held: usize,
    pub refused: usize,
    /// Items that went through the single command path (back-dated, held, or a chunk that lost
    /// a race for one of its loans).
    pub one_by_one: usize,
    /// Transactions the fast path committed.
    pub transactions: usize,
    /// Milliseconds the fast path spent reading its loans, deciding its items and writing them.
    pub read_ms: u64,
    pub decide_ms: u64,
    pub write_ms: u64,
    /// Every item's result, in the batch's order.
    pub results: Vec<ItemResult>,
}

/// How the fast path decided one item.
enum Decision {
    Write(Box<CommandWrite>, Option<Arc<Snapshot>>),
    Unchanged,
    Refused(String, String),
    /// The single command path decides it.
    Singly,
}

/// What every item of a batch shares.
struct Context {
    business_date: Date,
    policy: ApprovalPolicy,
    actor: String,
    digest: String,
    at: String,
}

/// The kinds a batch carries.
fn batchable(c: &LoanCommand) -> bool {
    matches!(
        c,
        LoanCommand::PostPayment(_) | LoanCommand::ReversePayment(_) | LoanCommand::LevyCharge(_)
    )
}

/// What one chunk did: its items' results, those left to the single path, and its times.
#[derive(Default)]
struct ChunkDone {
    results: Vec<ItemResult>,
    singly: Vec<usize>,
    read_ms: u64,
    decide_ms: u64,
    write_ms: u64,
    transactions: usize,
}

impl App {
    /// Post `items` in bulk (see the module's note). The principal needs each item's right; a
    /// partner may not post. Chunks run [`CHUNKS_IN_FLIGHT`] at a time (they share no loan). A
    /// chunk's transaction fails as a whole only on a store error; the other chunks may stay
    /// written, and applying the batch again posts only what is left.
    pub async fn post_batch(
        &self,
        p: &Principal,
        items: &[BatchItem],
        meta: &RequestMeta,
    ) -> Result<BatchReport, AppError> {
        if p.role == Role::Partner {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "post in bulk",
            });
        }
        for item in items {
            p.require(item.command.action())?;
        }
        let ctx = Arc::new(Context {
            business_date: self.business_date().await?,
            policy: self.policy.clone(),
            actor: p.user.name.clone(),
            digest: meta.digest.clone(),
            at: self.now(),
        });
        let mut by_loan: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            by_loan.entry(item.loan_id.as_str()).or_default().push(i);
        }
        let loans: Vec<(&str, Vec<usize>)> = by_loan.into_iter().collect();
        let done: Vec<ChunkDone> = futures::stream::iter(loans.chunks(BATCH_LOANS))
            .map(|chunk| self.post_chunk(&ctx, items, chunk))
            .buffer_unordered(CHUNKS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut report = BatchReport {
            items: items.len(),
            ..BatchReport::default()
        };
        let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
        let mut singly = Vec::new();
        for c in done {
            report.read_ms += c.read_ms;
            report.decide_ms += c.decide_ms;
            report.write_ms += c.write_ms;
            report.transactions += c.transactions;
            singly.extend(c.singly);
            for r in c.results {
                let i = r.index;
                results[i] = Some(r);
            }
        }
        singly.sort_unstable();
        for i in singly {
            report.one_by_one += 1;
            results[i] = Some(self.post_one(p, i, &items[i], meta).await);
        }
        for r in results.into_iter().flatten() {
            match r.status {
                ItemStatus::Posted => report.posted += 1,
                ItemStatus::Unchanged => report.unchanged += 1,
                ItemStatus::Held => report.held += 1,
                ItemStatus::Refused => report.refused += 1,
            }
            report.results.push(r);
        }
        Ok(report)
    }

    /// Read, decide and write one chunk of loans.
    async fn post_chunk(
        &self,
        ctx: &Arc<Context>,
        items: &[BatchItem],
        chunk: &[(&str, Vec<usize>)],
    ) -> Result<ChunkDone, AppError> {
        let started = Instant::now();
        let ids: Vec<String> = chunk.iter().map(|(id, _)| (*id).to_owned()).collect();
        let mut read: BTreeMap<String, EodLoan> = self
            .store
            .loans_to_resume(&self.book, &ids)
            .await?
            .into_iter()
            .map(|l| (l.loan_id.clone(), l))
            .collect();
        let work: Vec<LoanWork> = chunk
            .iter()
            .map(|(id, idx)| LoanWork {
                loan: read.remove(*id),
                items: idx.iter().map(|&i| (i, items[i].command.clone())).collect(),
            })
            .collect();
        let read_at = Instant::now();
        let mut done = ChunkDone {
            read_ms: millis(started, read_at),
            ..ChunkDone::default()
        };
        let shared = Arc::clone(ctx);
        let decided: Vec<(usize, Decision)> = tokio::task::spawn_blocking(move || {
            work.into_par_iter()
                .flat_map_iter(|w| decide_loan(&shared, w))
                .collect()
        })
        .await
        .map_err(|e| corrupt(format!("the batch's workers stopped: {e}")))?;
        let mut writes = Vec::new();
        let mut kept = Vec::new();
        let mut posted = Vec::new();
        for (i, d) in decided {
            let result = |status, field: Option<String>, rule: Option<String>| ItemResult {
                index: i,
                loan_id: items[i].loan_id.clone(),
                status,
                version: None,
                field,
                rule,
            };
            match d {
                Decision::Write(w, snapshot) => {
                    posted.push(i);
                    if let Some(s) = snapshot {
                        kept.push((w.loan_id.clone(), s));
                    }
                    writes.push(*w);
                }
                Decision::Unchanged => done.results.push(result(ItemStatus::Unchanged, None, None)),
                Decision::Refused(f, r) => {
                    done.results
                        .push(result(ItemStatus::Refused, Some(f), Some(r)));
                }
                Decision::Singly => done.singly.push(i),
            }
        }
        let decided_at = Instant::now();
        done.decide_ms = millis(read_at, decided_at);
        if writes.is_empty() {
            return Ok(done);
        }
        let written = self.store.commit_batch(&writes).await;
        done.write_ms = millis(decided_at, Instant::now());
        match written {
            Ok(()) => {
                done.transactions = 1;
                for (i, w) in posted.into_iter().zip(&writes) {
                    done.results.push(ItemResult {
                        index: i,
                        loan_id: w.loan_id.clone(),
                        status: ItemStatus::Posted,
                        version: Some(w.projection.version),
                        field: None,
                        rule: None,
                    });
                }
                for (loan_id, s) in kept {
                    self.keep_snapshot(&loan_id, s);
                }
            }
            // A command reached one of the loans meanwhile: every item of the chunk decides
            // again on its own, on the loan as it is now (what was unchanged or refused on the
            // state read before may not be any more).
            Err(e @ (StoreError::VersionConflict { .. } | StoreError::Retryable(_))) => {
                tracing::info!("a batch chunk lost a race ({e}); its items post one by one");
                done.results.clear();
                done.singly = chunk
                    .iter()
                    .flat_map(|(_, idx)| idx.iter().copied())
                    .collect();
            }
            Err(e) => return Err(e.into()),
        }
        Ok(done)
    }

    /// One item through the single command path.
    async fn post_one(
        &self,
        p: &Principal,
        index: usize,
        item: &BatchItem,
        meta: &RequestMeta,
    ) -> ItemResult {
        let one = RequestMeta {
            idempotency_key: None,
            target: format!("POST /v1/loans/{}/batch", item.loan_id),
            digest: meta.digest.clone(),
            dry_run: false,
        };
        let mut r = ItemResult {
            index,
            loan_id: item.loan_id.clone(),
            status: ItemStatus::Refused,
            version: None,
            field: None,
            rule: None,
        };
        match self
            .loan_command(p, &item.loan_id, &item.command, &one)
            .await
        {
            Ok(o) => match o.answer {
                Answer::Done(c) => {
                    r.status = ItemStatus::Posted;
                    r.version = Some(c.version);
                }
                Answer::Held(_) => r.status = ItemStatus::Held,
            },
            Err(e) => {
                let (field, rule) = item_refusal(&e);
                r.field = Some(field);
                r.rule = Some(rule);
            }
        }
        r
    }
}

fn millis(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.duration_since(from).as_millis()).unwrap_or(u64::MAX)
}

/// An error of the single path as an item's field and rule.
fn item_refusal(e: &AppError) -> (String, String) {
    match e {
        AppError::Invalid(errors) => errors.first().map_or_else(
            || ("command".to_owned(), e.to_string()),
            |f| (f.field.clone(), f.rule.clone()),
        ),
        AppError::NotFound(what) => ("loan_id".to_owned(), format!("no {what}")),
        other => ("command".to_owned(), other.to_string()),
    }
}

/// One loan of a chunk as read, with its items of the batch in order.
struct LoanWork {
    loan: Option<EodLoan>,
    items: Vec<(usize, LoanCommand)>,
}

/// Decide one loan's items in order, each on top of those before it (pure).
fn decide_loan(ctx: &Context, work: LoanWork) -> Vec<(usize, Decision)> {
    let refuse_all = |why: String| -> Vec<(usize, Decision)> {
        work.items
            .iter()
            .map(|(i, _)| (*i, Decision::Refused("loan_id".into(), why.clone())))
            .collect()
    };
    let Some(loan) = &work.loan else {
        return refuse_all("no such loan in the book".into());
    };
    let (terms, mut point) = match read_loan(loan) {
        Ok(read) => read,
        Err(why) => return refuse_all(why),
    };
    let mut out = Vec::with_capacity(work.items.len());
    let mut left_to_single = false;
    for (i, command) in &work.items {
        // Once an item of the loan goes the single way, its later items follow it there, in order.
        if left_to_single {
            out.push((*i, Decision::Singly));
            continue;
        }
        let d = decide_item(ctx, &loan.loan_id, &terms, &point, command);
        if let Decision::Write(w, _) = &d {
            point.tail.extend(written_events(w, &terms));
        }
        left_to_single = matches!(d, Decision::Singly);
        out.push((*i, d));
    }
    out
}

/// The loan as stored: its terms and where its engine resumes.
fn read_loan(loan: &EodLoan) -> Result<(Terms, ResumePoint), String> {
    let terms = Terms::from_json(&loan.terms).map_err(|e| format!("terms: {e:?}"))?;
    let snapshot = match &loan.snapshot {
        Some(s) => Snapshot::from_json(&s.engine).map_err(|e| format!("snapshot: {e}"))?,
        None => Snapshot::zero(&terms),
    };
    let tail = loan
        .events
        .iter()
        .map(|s| {
            Event::from_trusted_json(&s.event, terms.currency)
                .map_err(|e| format!("event {}: {e}", s.seq))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        terms,
        ResumePoint {
            snapshot: Arc::new(snapshot),
            tail,
        },
    ))
}

/// The events a write adds, as the engine reads them back.
fn written_events(w: &CommandWrite, terms: &Terms) -> Vec<Event> {
    w.events
        .iter()
        .filter_map(|e| Event::from_trusted_json(&e.event, terms.currency).ok())
        .collect()
}

/// Whether the loan already holds `new`: the receipt of its reference on its date, the reversal
/// of a receipt already reversed, or a charge of the same reference.
fn already_held(point: &ResumePoint, new: &Event) -> bool {
    let engine = &point.snapshot.engine;
    if let EventKind::Charge {
        reference: Some(reference),
        ..
    } = &new.kind
    {
        let same = |r: &Option<String>| r.as_deref() == Some(reference.as_str());
        return engine.charges.iter().any(|c| same(&c.reference))
            || point
                .tail
                .iter()
                .any(|e| matches!(&e.kind, EventKind::Charge { reference: r, .. } if same(r)));
    }
    if let Some(reference) = new.kind.receipt_reference() {
        return engine.receipts.get(reference) == Some(new.date)
            || point
                .tail
                .iter()
                .any(|e| e.date == new.date && e.kind.receipt_reference() == Some(reference));
    }
    if let EventKind::PaymentReversal { reference, .. } = &new.kind {
        return engine.voided.contains_key(reference)
            || point.tail.iter().any(|e| {
                matches!(&e.kind, EventKind::PaymentReversal { reference: r, .. } if r == reference)
            });
    }
    false
}

fn decide_item(
    ctx: &Context,
    loan_id: &str,
    terms: &Terms,
    point: &ResumePoint,
    cmd: &LoanCommand,
) -> Decision {
    if !batchable(cmd) {
        return Decision::Refused(
            "command".into(),
            "only payments, reversals and charges post in bulk".into(),
        );
    }
    let new = match serde_json::to_value(cmd.to_doc())
        .map_err(|e| (String::from("command"), e.to_string()))
        .and_then(|v| {
            Event::from_json_value(&v, terms.currency).map_err(|e| (e.field.clone(), e.rule))
        }) {
        Ok(e) => e,
        Err((field, rule)) => return Decision::Refused(field, rule),
    };
    if new.date > ctx.business_date {
        return Decision::Refused(
            "date".into(),
            format!("must not be after the business date {}", ctx.business_date),
        );
    }
    if already_held(point, &new) {
        return Decision::Unchanged;
    }
    let back_dated = point.tail.iter().any(|e| e.date > new.date)
        || point.snapshot.engine.day.is_some_and(|d| d > new.date);
    if back_dated {
        return Decision::Singly;
    }
    let version = point.version();
    let index = usize::try_from(version).unwrap_or(usize::MAX);
    let events: Vec<Event> = point.tail.iter().cloned().chain([new.clone()]).collect();
    let applied = match loan::resume(terms, &point.snapshot, &events, ctx.business_date) {
        Ok(Resumed::Applied(r)) => r,
        Ok(Resumed::NeedsEarlier(_)) => return Decision::Singly,
        Err(e) => {
            let f = refused(&e, index + 1, index);
            let (field, rule) = item_refusal(&f);
            return Decision::Refused(field, rule);
        }
    };
    let new_slice = std::slice::from_ref(&new);
    if ctx
        .policy
        .hold(&point.tail, new_slice, &applied.state)
        .is_some()
    {
        return Decision::Singly;
    }
    match command_write(ctx, loan_id, terms, point, &new, &applied) {
        Ok(d) => d,
        Err(e) => Decision::Refused("command".into(), e.to_string()),
    }
}

/// The write of one decided item, with its snapshot when one is due.
fn command_write(
    ctx: &Context,
    loan_id: &str,
    terms: &Terms,
    point: &ResumePoint,
    new: &Event,
    applied: &loan::Resumption,
) -> Result<Decision, AppError> {
    let version = point.version();
    let index = usize::try_from(version).unwrap_or(usize::MAX);
    let seq = version + 1;
    let currency = terms.currency;
    let mut outbox = vec![event_message(
        loan_id,
        seq,
        new,
        currency,
        &applied.effects,
        index,
    )];
    outbox.extend(class_change(ctx, loan_id, terms, point, new, applied));
    let added = std::slice::from_ref(new);
    let snapshot = match snapshot_wanted(point, added, ctx.business_date) {
        Some((target, eve)) => match snapshot_through(loan_id, terms, point, added, target, eve)? {
            Taken::Snapshot(s) => Some(s),
            Taken::NeedsEarlier(_) | Taken::Refused => None,
        },
        None => None,
    };
    let action = action_for(&new.kind);
    let write = CommandWrite {
        command_id: uuid::Uuid::now_v7().to_string(),
        at: ctx.at.clone(),
        loan_id: loan_id.to_owned(),
        expected_version: version,
        new_loan: None,
        events: vec![NewEvent {
            value_date: new.date.to_string(),
            event: new.to_stored_json(currency),
        }],
        projection: projection(loan_id, seq, &applied.state),
        snapshot: snapshot.as_ref().map(|(_, record)| record.clone()),
        audit: AuditEntry {
            at: ctx.at.clone(),
            actor: ctx.actor.clone(),
            action: action.name().to_owned(),
            target: format!("loan/{loan_id}"),
            request_digest: ctx.digest.clone(),
            event_ids: vec![format!("{loan_id}:{seq}")],
        },
        outbox,
        idempotency: None,
        approval: None,
        application: None,
    };
    Ok(Decision::Write(Box::new(write), snapshot.map(|(s, _)| s)))
}

/// The `loan.class_changed` message when the item moves the loan's class on the business date
/// (as the single command sends it).
fn class_change(
    ctx: &Context,
    loan_id: &str,
    terms: &Terms,
    point: &ResumePoint,
    new: &Event,
    applied: &loan::Resumption,
) -> Option<NewOutbox> {
    if !class_moved(&applied.effects, new) {
        return None;
    }
    let before: LoanState =
        match loan::resume(terms, &point.snapshot, &point.tail, ctx.business_date) {
            Ok(Resumed::Applied(r)) => r.state,
            _ => return None,
        };
    class_message(
        loan_id,
        before.classification,
        applied.state.classification,
        ctx.business_date,
    )
}
