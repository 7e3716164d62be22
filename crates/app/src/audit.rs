//! The audit log as a use case: verifying the chain, writing checkpoints, reading it page by
//! page, and the readiness check that proves the database takes writes.

use loanbook_store::{ChainBreak, Checkpoint, CheckpointRecord, KeyRequired, StoreError, Verified};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::views::{AuditHeadView, AuditPage, AuditRecordView};
use crate::{Action, App, AppError, Principal};

/// A page of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Records after this seq (default 0).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Most records one page of the audit log holds.
pub const AUDIT_PAGE_LIMIT: i64 = 1000;

impl App {
    /// Check the audit chain with the store's key; the number of records on success.
    pub async fn verify_audit(&self) -> Result<Result<usize, ChainBreak>, AppError> {
        Ok(self.verify_audit_at(None).await?.map(|v| v.records))
    }

    /// Check every audit stream and its head, the stored checkpoints, the events and terms the
    /// records cover and, if given, a checkpoint kept elsewhere.
    pub async fn verify_audit_at(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Result<Verified, ChainBreak>, AppError> {
        match self.store.verify_audit(checkpoint).await? {
            Ok(result) => Ok(result),
            Err(KeyRequired {
                stream,
                seq,
                key_id,
            }) => Err(AppError::Store(StoreError::AuditKey(format!(
                "audit record {seq} of stream `{stream}` is sealed with the key {key_id}: configure the audit key to verify"
            )))),
        }
    }

    /// Write a checkpoint over every audit stream's head: stored with the heads it covers, an
    /// outbox message on `audit.checkpoint` (for anchoring outside the database) and its own
    /// audit record. `actor` is `None` only for the
    /// command line; through the API it is for admins.
    pub async fn audit_checkpoint(
        &self,
        actor: Option<&Principal>,
    ) -> Result<CheckpointRecord, AppError> {
        if let Some(p) = actor {
            p.require(Action::CheckpointAudit)?;
        }
        let actor_name = actor.map_or("cli".to_owned(), |p| p.user.name.clone());
        let entry = self.audit(&actor_name, "audit_checkpoint", "audit", "", vec![]);
        Ok(self
            .store
            .audit_checkpoint(&entry, &uuid::Uuid::now_v7().to_string())
            .await?)
    }

    /// A page of the audit log after record `after`: for auditors and admins.
    pub async fn audit_log(&self, p: &Principal, q: &AuditQuery) -> Result<AuditPage, AppError> {
        p.require(Action::ReadAudit)?;
        let after = q.after.unwrap_or(0);
        let limit = q.limit.unwrap_or(100);
        if after < 0 {
            return Err(AppError::invalid("after", "must be 0 or more"));
        }
        if !(1..=AUDIT_PAGE_LIMIT).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be between 1 and {AUDIT_PAGE_LIMIT}"),
            ));
        }
        let page = self.store.audit_page(after, limit).await?;
        let newest = self.store.audit_newest().await?;
        let next = if page.len() as i64 == limit {
            page.last().map(|r| r.seq)
        } else {
            None
        };
        Ok(AuditPage {
            items: page.iter().map(AuditRecordView::from).collect(),
            next_after: next,
            head: newest.map(|r| AuditHeadView {
                seq: r.seq,
                stream: r.stream,
                hash: r.hash,
            }),
        })
    }

    /// Whether the database takes writes now (a heartbeat row rewritten in a transaction).
    pub async fn ready(&self) -> Result<(), AppError> {
        Ok(self.store.check_writable(&self.now()).await?)
    }
}
