//! Maker-checker: a write the policy holds (and every change to the book's failure and
//! provisioning tables made through the API) is stored as an approval request; a second user
//! approves it (the write is carried out then, as the checker, with the approval marked in the
//! same transaction) or rejects it. Nobody decides their own request; a request is decided once.

use loanbook_store::{Approval, Decision, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Action, Role};
use crate::policy::Hold;
use crate::servicing::BookLoan;
use crate::views::{ApprovalList, ApprovalView, Approved, CommandOutcome, HeldView};
use crate::{App, AppError, Principal, RequestMeta, corrupt};

/// A checker's decision on a held request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Carry the held command out, as the checker.
    Approve,
    /// Close the request; nothing is written.
    Reject,
}

/// `POST /v1/approvals`: decide a request named in the body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// The approval request's id.
    #[schema(min_length = 1)]
    pub id: String,
    pub decision: Verdict,
}

/// The approvals list's filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApprovals {
    /// `pending`, `approved` or `rejected`.
    #[param(pattern = "^(pending|approved|rejected)$")]
    pub status: Option<String>,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// The held command was carried out: its outcome.
    Approved(Box<CommandOutcome<Approved>>),
    /// The request is closed.
    Rejected(Box<CommandOutcome<ApprovalView>>),
}

/// What an approval request targets.
enum Target<'a> {
    Loan(&'a str),
    /// A booking (with a history the policy holds) of the loan number.
    Booking,
    Product,
    /// A change to the book's debit failure table.
    FailureTable,
    /// A replacement of the book's provisioning table.
    Provisioning,
}

fn target(a: &Approval) -> Result<Target<'_>, AppError> {
    if let Some(id) = a.target.strip_prefix("loan/") {
        Ok(Target::Loan(id))
    } else if a.target.starts_with("booking/") {
        Ok(Target::Booking)
    } else if a.target.starts_with("product/") {
        Ok(Target::Product)
    } else if a.target.starts_with("failure-table/") {
        Ok(Target::FailureTable)
    } else if a.target.starts_with("provisioning/") {
        Ok(Target::Provisioning)
    } else {
        Err(corrupt(format!(
            "approval `{}` targets `{}`",
            a.id, a.target
        )))
    }
}

/// An outcome of one result type as an outcome of another (a held command's own result as
/// the approval's).
fn map_outcome<T, U>(o: CommandOutcome<T>, f: impl FnOnce(T) -> U) -> CommandOutcome<U> {
    CommandOutcome {
        kind: o.kind,
        answer: match o.answer {
            crate::Answer::Done(t) => crate::Answer::Done(f(t)),
            crate::Answer::Held(h) => crate::Answer::Held(h),
        },
        replayed: o.replayed,
    }
}

impl App {
    /// Hold a valid write for a second user's approval: answered 202 with the request and the
    /// rule that held it; the reply is stored under the request's idempotency key.
    pub(crate) async fn hold<T: Serialize + DeserializeOwned>(
        &self,
        p: &Principal,
        hold: Hold,
        target: String,
        payload: String,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<T>, AppError> {
        let a = Approval {
            id: uuid::Uuid::now_v7().to_string(),
            action: hold.action.name().to_owned(),
            target,
            payload,
            maker: p.user.name.clone(),
            status: "pending".into(),
            checker: None,
            created_at: self.now(),
            decided_at: None,
        };
        let audit = self.audit(
            &p.user.name,
            &format!("request_{}", hold.action.name()),
            &format!("approval/{}", a.id),
            &meta.digest,
            vec![],
        );
        let outcome = CommandOutcome::held(HeldView {
            approval: ApprovalView::from(&a),
            reason: hold.reason,
        });
        match self
            .store
            .create_approval(&a, &audit, self.idempotency(p, meta, &outcome)?.as_ref())
            .await
        {
            Ok(()) => Ok(outcome),
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the caller may see the approval: a partner sees only those of the loans its
    /// co-lending partner funds.
    async fn visible(&self, p: &Principal, a: &Approval) -> Result<bool, AppError> {
        if p.role != Role::Partner {
            return Ok(true);
        }
        let (Some(partner), Some(loan_id)) = (&p.user.partner_id, a.target.strip_prefix("loan/"))
        else {
            return Ok(false);
        };
        match self.loan_record(loan_id).await {
            Ok(l) => Ok(l.0.partner_ids.contains(partner)),
            Err(AppError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn approvals(
        &self,
        p: &Principal,
        q: &ListApprovals,
    ) -> Result<ApprovalList, AppError> {
        p.require(Action::Read)?;
        let status = q.status.as_deref();
        if let Some(s) = status {
            if !matches!(s, "pending" | "approved" | "rejected") {
                return Err(AppError::invalid(
                    "status",
                    "must be pending, approved or rejected",
                ));
            }
        }
        let list = self.store.approvals(status, 1000).await?;
        let mut items = Vec::with_capacity(list.len());
        for a in &list {
            if self.visible(p, a).await? {
                items.push(ApprovalView::from(a));
            }
        }
        Ok(ApprovalList { items })
    }

    pub async fn approval(&self, p: &Principal, id: &str) -> Result<ApprovalView, AppError> {
        p.require(Action::Read)?;
        let a = self.any_approval(id).await?;
        if !self.visible(p, &a).await? {
            return Err(AppError::NotFound(format!("approval `{id}`")));
        }
        Ok(ApprovalView::from(&a))
    }

    async fn any_approval(&self, id: &str) -> Result<Approval, AppError> {
        self.store
            .approval(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("approval `{id}`")))
    }

    /// A pending request the caller may decide, with the caller's decision on it.
    async fn checkable(&self, p: &Principal, id: &str) -> Result<(Approval, Decision), AppError> {
        p.require(Action::Approve)?;
        let a = self.any_approval(id).await?;
        if a.status != "pending" {
            return Err(AppError::Conflict(format!(
                "approval `{id}` is already {}",
                a.status
            )));
        }
        if a.maker == p.user.name {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "approve or reject their own request",
            });
        }
        let decision = Decision {
            approval_id: a.id.clone(),
            checker: p.user.name.clone(),
            at: self.now(),
        };
        Ok((a, decision))
    }

    /// Approve a held write: it is carried out now, as the checker, on the loan as it is now
    /// (checked again in full), with the approval marked in the same transaction.
    pub async fn decide(
        &self,
        p: &Principal,
        id: &str,
        verdict: Verdict,
        meta: &RequestMeta,
    ) -> Result<Decided, AppError> {
        Ok(match verdict {
            Verdict::Approve => Decided::Approved(Box::new(self.approve(p, id, meta).await?)),
            Verdict::Reject => Decided::Rejected(Box::new(self.reject(p, id, meta).await?)),
        })
    }

    pub async fn approve(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<Approved>, AppError> {
        p.require(Action::Approve)?;
        self.keyed(p, meta, || self.approve_once(p, id, meta)).await
    }

    async fn approve_once(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<Approved>, AppError> {
        let (a, decision) = self.checkable(p, id).await?;
        let meta = RequestMeta {
            dry_run: false,
            ..meta.clone()
        };
        let bad = |e: serde_json::Error| corrupt(format!("approval `{id}` payload: {e}"));
        let done = match target(&a)? {
            Target::Product => {
                p.require(Action::ManageProducts)?;
                let o = self.approve_product(p, &a, &decision, &meta).await?;
                return Ok(map_outcome(o, Approved::Product));
            }
            Target::FailureTable => self
                .approve_failure_table(p, &a, &decision, &meta)
                .await
                .map(|o| map_outcome(o, Approved::FailureTable)),
            Target::Provisioning => self
                .approve_provisioning(p, &a, &decision, &meta)
                .await
                .map(|o| map_outcome(o, Approved::Provisioning)),
            Target::Loan(loan_id) => {
                let event: serde_json::Value = serde_json::from_str(&a.payload).map_err(bad)?;
                self.loan_command_with(p, loan_id, &event, &meta, Some(&decision))
                    .await
                    .map(|o| map_outcome(o, Approved::Command))
            }
            Target::Booking => {
                let cmd: BookLoan = serde_json::from_str(&a.payload).map_err(bad)?;
                self.book_loan_once(p, &cmd, &meta, Some(&decision))
                    .await
                    .map(|o| map_outcome(o, Approved::Booking))
            }
        };
        match done {
            Err(AppError::Store(StoreError::NotFound { .. })) => Err(AppError::Conflict(format!(
                "approval `{id}` was decided meanwhile"
            ))),
            other => other,
        }
    }

    pub async fn reject(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApprovalView>, AppError> {
        p.require(Action::Approve)?;
        self.keyed(p, meta, || self.reject_once(p, id, meta)).await
    }

    async fn reject_once(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApprovalView>, AppError> {
        let (a, decision) = self.checkable(p, id).await?;
        let audit = self.audit(
            &p.user.name,
            &format!("reject_{}", a.action),
            &format!("approval/{id}"),
            &meta.digest,
            vec![],
        );
        let decided = Approval {
            status: "rejected".into(),
            checker: Some(decision.checker.clone()),
            decided_at: Some(decision.at.clone()),
            ..a
        };
        let outcome = CommandOutcome::done(ApprovalView::from(&decided));
        self.store
            .reject_approval(
                &decision,
                &audit,
                self.idempotency(p, meta, &outcome)?.as_ref(),
            )
            .await?;
        Ok(outcome)
    }
}
