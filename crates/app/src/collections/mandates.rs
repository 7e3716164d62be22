//! Mandates in the service: a loan's standing authorities to debit its borrower's account,
//! registered, moved through the domain's lifecycle
//! ([`loanbook_domain::collections::mandate`]), replaced when the borrower changes bank account
//! or mandate, and checked against the loan's next instalment.
//!
//! Writes need [`Action::ManageMandates`] (operations and collections; admin always), reads
//! [`Action::Read`]. Each write is one store transaction with its history row and audit record,
//! under the request's idempotency key, and a dry run writes nothing. A replacement revokes the
//! old mandate (reason `replaced`) and registers the new one together, and tells servicing on
//! `loan.mandate_changed`. The account number is never stored: only its last four digits and a
//! hash; the debtor's name is masked for roles that neither service nor collect.

mod record;
mod views;

pub use views::{
    EventDetail, MandateChanged, MandateDetail, MandateEventView, MandateList, MandateReplaced,
    MandateStatusChanged, MandateView, ReadinessView,
};

use loanbook_domain::calendar::Date;
use loanbook_domain::collections::{MandateFrequency, MandateKind, MandateProblem};
use loanbook_domain::loan::{InstallmentStatus, LoanState};
use loanbook_domain::money::format_minor;
use loanbook_domain::terms::FieldError;
use loanbook_store::{MandateChange, MandateRecord, MandateWriteMeta, NewOutbox, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta, corrupt};

/// The topic a replacement is announced on.
pub const MANDATE_CHANGED: &str = "loan.mandate_changed";

/// The outbox topic of a mandate's status move.
pub const MANDATE_STATUS: &str = "loan.mandate_status";
/// The reason an old mandate is revoked with when another replaces it.
pub const REPLACED: &str = "replaced";

/// The codes of the rules mandates are refused or flagged by, with their meaning: the domain's
/// (`Mandate::readiness`, `check_debit` and the lifecycle) and the service's own.
pub const RULES: &[(&str, &str)] = &[
    (
        "mandate.active",
        "Debits need an active mandate; a paused, revoked, expired or rejected one cannot collect",
    ),
    (
        "mandate.lead_time",
        "The mandate is active by the due date, counting its registration lead time",
    ),
    (
        "mandate.max_amount",
        "The mandate's maximum covers the instalment",
    ),
    (
        "mandate.authentication_limit",
        "The instalment is within the rail's limit for debits without the customer's authentication",
    ),
    (
        "mandate.not_expired",
        "The mandate does not end before the due date",
    ),
    (
        "mandate.started",
        "A debit falls on or after the mandate's start date",
    ),
    (
        "mandate.frequency",
        "A NACH loan-instalment mandate (L001) is not as-presented",
    ),
    ("mandate.rail", "The rules applied are the mandate's rail's"),
    (
        "mandate.transition",
        "A mandate moves only forward: pending registration to active or rejected, active and \
         paused back and forth, and either to revoked or expired",
    ),
    (
        "mandate.expiry",
        "A mandate expires only after its end date",
    ),
    (
        "mandate.reference",
        "The rail's reference: for NACH the UMRN, 4 capital letters and 16 digits; otherwise 1 \
         to 64 letters, digits, `.`, `_`, `@` or `-`",
    ),
    (
        "mandate.bank_code",
        "The debtor's bank: an IFSC on NACH and UPI AutoPay, a 9-digit ABA routing number with \
         its check digit on ACH, the issuer's code of 4 to 11 capital letters or digits on cards",
    ),
    (
        "mandate.account_number",
        "An account number of 6 to 19 digits",
    ),
    (
        "mandate.debtor_name",
        "The debtor's name: 1 to 140 characters without control characters",
    ),
    (
        "mandate.dates",
        "A mandate's end date is not before its start date",
    ),
    (
        "mandate.currency",
        "The rail debits the loan's currency: INR on NACH and UPI AutoPay, USD on ACH",
    ),
    (
        "mandate.reason",
        "A revocation or rejection says why, in 1 to 200 characters",
    ),
    (
        "mandate.one_active",
        "A loan collects through one active mandate at a time",
    ),
    (
        "mandate.missing",
        "The loan has a mandate to collect through",
    ),
    (
        "mandate.installment",
        "The loan has an instalment still to fall due",
    ),
];

/// The meaning of a mandate rule's code, here or in the domain's tables.
pub fn meaning(code: &str) -> Option<&'static str> {
    RULES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, m)| *m)
        .or_else(|| loanbook_domain::terms::rules::meaning(code))
}

/// Longest reason.
const MAX_REASON: usize = 200;

/// `POST /v1/loans/{id}/mandates`: register a mandate for the loan. It starts pending
/// registration; the rail is the kind's. `max_amount` is in the loan's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterMandate {
    /// `enach`, `physical_nach` (both on the NACH rail), `upi_autopay`, `ach` or `card`.
    #[schema(
        value_type = String,
        pattern = "^(enach|physical_nach|upi_autopay|ach|card)$",
        example = "enach"
    )]
    pub kind: MandateKind,
    /// The rail's reference: the UMRN (4 capital letters and 16 digits) for NACH, the UPI
    /// mandate id, the ACH authorisation id.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9._@-]{1,64}$",
        example = "HDFC7000000000012345"
    )]
    pub reference: String,
    /// The most one debit may take.
    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "25000.00")]
    pub max_amount: String,
    /// `monthly`, `quarterly` or `as_presented`.
    #[schema(
        value_type = String,
        pattern = "^(monthly|quarterly|as_presented)$",
        example = "monthly"
    )]
    pub frequency: MandateFrequency,
    /// The first day it may be debited on.
    #[serde(deserialize_with = "loanbook_domain::calendar::strict_date::deserialize")]
    #[schema(value_type = String, format = Date, example = "2025-07-01")]
    pub start_date: Date,
    /// The last day it may be debited on; left out: until cancelled.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "loanbook_domain::calendar::strict_date::option"
    )]
    #[schema(value_type = Option<String>, format = Date, example = "2027-06-30")]
    pub end_date: Option<Date>,
    /// The account holder's name.
    #[schema(min_length = 1, max_length = 140, example = "Asha Rao")]
    pub debtor_name: String,
    /// The account (or card) number: only its last four digits and a hash are kept.
    #[schema(pattern = "^[0-9]{6,19}$", example = "50100123454321")]
    pub account_number: String,
    /// The debtor's bank: the IFSC, the ACH routing number, or the card issuer's code.
    #[schema(pattern = "^[A-Z0-9]{4,11}$", example = "HDFC0001234")]
    pub bank_code: String,
}

/// What a status change does, each as the domain's lifecycle allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MandateAction {
    /// Registration confirmed (from pending registration).
    Activate,
    /// From active.
    Pause,
    /// From paused.
    Resume,
    /// The customer or their bank cancelled it (from active or paused; give the reason).
    Revoke,
    /// Registration refused (from pending registration; give the reason).
    Reject,
    /// Past its end date.
    Expire,
}

impl MandateAction {
    fn name(self) -> &'static str {
        match self {
            MandateAction::Activate => "activate",
            MandateAction::Pause => "pause",
            MandateAction::Resume => "resume",
            MandateAction::Revoke => "revoke",
            MandateAction::Reject => "reject",
            MandateAction::Expire => "expire",
        }
    }
}

/// `POST /v1/mandates/{mandate_id}/status`: move the mandate on its lifecycle, on the book's
/// business date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeMandateStatus {
    pub action: MandateAction,
    /// Why: required to revoke or reject, recorded in the history otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, example = "M003 signature differs")]
    pub reason: Option<String>,
    /// The version the change was decided on: refused if the mandate moved on since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, example = 1)]
    pub expected_version: Option<i64>,
}

/// A lifecycle rule the domain refused, named after the request's field.
fn refused(field: &str, p: &MandateProblem) -> AppError {
    AppError::Invalid(vec![FieldError::coded(field, p.code, p.rule.clone())])
}

fn stale(id: &str, e: StoreError) -> AppError {
    match e {
        StoreError::VersionConflict { actual, .. } => AppError::Conflict(format!(
            "mandate `{id}` changed meanwhile (it is at version {actual}); read it again"
        )),
        e => e.into(),
    }
}

/// The instalment the mandate must collect next: the first still to fall due and unpaid.
fn next_installment(state: &LoanState, today: Date) -> Option<(u32, Date, i64)> {
    state
        .installments
        .iter()
        .find(|i| {
            matches!(
                i.status,
                InstallmentStatus::Due | InstallmentStatus::Upcoming
            ) || i.status == InstallmentStatus::PartiallyPaid && i.due_date >= today
        })
        .map(|i| (i.number, i.due_date, i.total))
}

/// The mandate readiness looks at: the active one, else the newest still in force, else the
/// newest.
fn checked_mandate(mandates: &[MandateRecord]) -> Option<&MandateRecord> {
    let in_force =
        |m: &&MandateRecord| !matches!(m.status.as_str(), "revoked" | "expired" | "rejected");
    mandates
        .iter()
        .find(|m| m.status == "active")
        .or_else(|| mandates.iter().rev().find(in_force))
        .or_else(|| mandates.last())
}

impl App {
    /// Register a mandate for a loan.
    pub async fn register_mandate(
        &self,
        p: &Principal,
        loan_id: &str,
        cmd: &RegisterMandate,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<MandateView>, AppError> {
        p.require(Action::ManageMandates)?;
        self.keyed(p, meta, || {
            self.register_mandate_once(p, loan_id, cmd, meta)
        })
        .await
    }

    /// The record registering `cmd` on the loan would write.
    async fn mandate_record(
        &self,
        p: &Principal,
        loan_id: &str,
        cmd: &RegisterMandate,
    ) -> Result<MandateRecord, AppError> {
        let loan = self.loan_for(p, loan_id).await?;
        let today = self.business_date().await?;
        let id = uuid::Uuid::now_v7().to_string();
        record::new_record(
            cmd,
            (&id, &self.book, loan_id),
            loan.1.currency,
            today,
            &self.now(),
        )
    }

    async fn register_mandate_once(
        &self,
        p: &Principal,
        loan_id: &str,
        cmd: &RegisterMandate,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<MandateView>, AppError> {
        let m = self.mandate_record(p, loan_id, cmd).await?;
        let view = record::view(p, &m)?;
        if meta.dry_run {
            return Ok(CommandOutcome::done(MandateView {
                dry_run: true,
                ..view
            }));
        }
        let detail = EventDetail {
            action: "register".into(),
            on: m.submitted_on.clone(),
            replaces: None,
            replaced_by: None,
        };
        let event = record::history_row(&m, None, &p.user.name, &detail)?;
        let outcome = CommandOutcome::created(view);
        let write = MandateWriteMeta {
            audit: vec![self.audit(
                &p.user.name,
                "register_mandate",
                &format!("mandate/{}", m.id),
                &meta.digest,
                vec![],
            )],
            outbox: vec![],
            key: self.idempotency(p, meta, &outcome)?,
        };
        match self.store.insert_mandate(&m, &event, &write).await {
            Ok(()) => Ok(outcome),
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(e) => Err(e.into()),
        }
    }

    /// A mandate `p` may see: one of a loan it may see.
    async fn mandate_for(&self, p: &Principal, id: &str) -> Result<MandateRecord, AppError> {
        let m = self
            .store
            .mandate(id)
            .await?
            .filter(|m| m.book_id == self.book)
            .ok_or_else(|| AppError::NotFound(format!("mandate `{id}`")))?;
        match self.loan_for(p, &m.loan_id).await {
            Ok(_) => Ok(m),
            Err(AppError::NotFound(_)) => Err(AppError::NotFound(format!("mandate `{id}`"))),
            Err(e) => Err(e),
        }
    }

    /// Move a mandate on its lifecycle, on the business date.
    pub async fn change_mandate_status(
        &self,
        p: &Principal,
        mandate_id: &str,
        cmd: &ChangeMandateStatus,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<MandateView>, AppError> {
        p.require(Action::ManageMandates)?;
        self.keyed(p, meta, || {
            self.change_status_once(p, mandate_id, cmd, meta)
        })
        .await
    }

    /// The change `cmd` makes to `m` as the domain allows it, or the rule it breaks.
    async fn status_change(
        &self,
        p: &Principal,
        m: &MandateRecord,
        cmd: &ChangeMandateStatus,
    ) -> Result<MandateChange, AppError> {
        if let Some(v) = cmd.expected_version.filter(|v| *v != m.version) {
            return Err(AppError::Conflict(format!(
                "mandate `{}` is at version {}, not {v}; read it again",
                m.id, m.version
            )));
        }
        let reason = cmd.reason.as_deref().map(str::trim);
        if reason.is_some_and(|r| r.is_empty() || r.chars().count() > MAX_REASON)
            || reason.is_none()
                && matches!(cmd.action, MandateAction::Revoke | MandateAction::Reject)
        {
            return Err(AppError::Invalid(vec![FieldError::coded(
                "reason",
                "mandate.reason",
                format!("must say why, in 1 to {MAX_REASON} characters"),
            )]));
        }
        let today = self.business_date().await?;
        let mut d = record::domain(m)?;
        let why = || reason.unwrap_or_default().to_owned();
        let moved = match cmd.action {
            MandateAction::Activate => d.activate(today),
            MandateAction::Pause => d.pause(today),
            MandateAction::Resume => d.resume(today),
            MandateAction::Revoke => d.revoke(today, why()),
            MandateAction::Reject => d.reject(today, why()),
            MandateAction::Expire => d.expire(today),
        };
        moved.map_err(|e| refused("action", &e))?;
        if matches!(cmd.action, MandateAction::Activate | MandateAction::Resume) {
            let others = self.store.loan_mandates(&m.loan_id).await?;
            if let Some(active) = others.iter().find(|o| o.status == "active" && o.id != m.id) {
                return Err(AppError::Invalid(vec![FieldError::coded(
                    "action",
                    "mandate.one_active",
                    format!(
                        "the loan collects through mandate `{}` already: revoke or pause it first, \
                         or replace it",
                        active.id
                    ),
                )]));
            }
        }
        let next = record::moved(m, &d.status, &self.now());
        let detail = EventDetail {
            action: cmd.action.name().into(),
            on: today.to_string(),
            replaces: None,
            replaced_by: None,
        };
        let mut event = record::history_row(&next, Some(&m.status), &p.user.name, &detail)?;
        if reason.is_some() {
            event.reason = reason.map(str::to_owned);
        }
        Ok(MandateChange {
            expected_version: m.version,
            mandate: next,
            event,
        })
    }

    async fn change_status_once(
        &self,
        p: &Principal,
        mandate_id: &str,
        cmd: &ChangeMandateStatus,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<MandateView>, AppError> {
        let m = self.mandate_for(p, mandate_id).await?;
        let change = self.status_change(p, &m, cmd).await?;
        let view = record::view(p, &change.mandate)?;
        if meta.dry_run {
            return Ok(CommandOutcome::done(MandateView {
                dry_run: true,
                ..view
            }));
        }
        let outcome = CommandOutcome::done(view);
        let write = MandateWriteMeta {
            audit: vec![self.audit(
                &p.user.name,
                &format!("{}_mandate", cmd.action.name()),
                &format!("mandate/{}", m.id),
                &meta.digest,
                vec![],
            )],
            outbox: vec![status_message(&m, &change)?],
            key: self.idempotency(p, meta, &outcome)?,
        };
        match self.store.change_mandate_status(&change, &write).await {
            Ok(()) => Ok(outcome),
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(e) => Err(stale(mandate_id, e)),
        }
    }

    /// Change of bank account or mandate: register `cmd` for the old mandate's loan and revoke
    /// the old one (reason `replaced`) in one transaction, and tell servicing on
    /// `loan.mandate_changed`.
    pub async fn replace_mandate(
        &self,
        p: &Principal,
        mandate_id: &str,
        cmd: &RegisterMandate,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<MandateReplaced>, AppError> {
        p.require(Action::ManageMandates)?;
        self.keyed(p, meta, || {
            self.replace_mandate_once(p, mandate_id, cmd, meta)
        })
        .await
    }

    async fn replace_mandate_once(
        &self,
        p: &Principal,
        mandate_id: &str,
        cmd: &RegisterMandate,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<MandateReplaced>, AppError> {
        let old = self.mandate_for(p, mandate_id).await?;
        let new = self.mandate_record(p, &old.loan_id, cmd).await?;
        let revoke = ChangeMandateStatus {
            action: MandateAction::Revoke,
            reason: Some(REPLACED.into()),
            expected_version: None,
        };
        let mut change = self.status_change(p, &old, &revoke).await?;
        change.event.detail = serde_json::to_string(&EventDetail {
            action: "replace".into(),
            on: new.submitted_on.clone(),
            replaces: None,
            replaced_by: Some(new.id.clone()),
        })
        .map_err(|e| corrupt(format!("mandate history detail: {e}")))?;
        let detail = EventDetail {
            action: "register".into(),
            on: new.submitted_on.clone(),
            replaces: Some(old.id.clone()),
            replaced_by: None,
        };
        let event = record::history_row(&new, None, &p.user.name, &detail)?;
        let answer = MandateReplaced {
            replaced: record::view(p, &change.mandate)?,
            mandate: record::view(p, &new)?,
        };
        if meta.dry_run {
            let mark = |v: MandateView| MandateView { dry_run: true, ..v };
            return Ok(CommandOutcome::done(MandateReplaced {
                replaced: mark(answer.replaced),
                mandate: mark(answer.mandate),
            }));
        }
        let outcome = CommandOutcome::created(answer);
        let write = MandateWriteMeta {
            audit: vec![
                self.audit(
                    &p.user.name,
                    "replace_mandate",
                    &format!("mandate/{}", old.id),
                    &meta.digest,
                    vec![],
                ),
                self.audit(
                    &p.user.name,
                    "register_mandate",
                    &format!("mandate/{}", new.id),
                    &meta.digest,
                    vec![],
                ),
            ],
            outbox: vec![changed_message(&old, &new)?],
            key: self.idempotency(p, meta, &outcome)?,
        };
        match self
            .store
            .replace_mandate(&change, &new, &event, &write)
            .await
        {
            Ok(()) => Ok(outcome),
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(e) => Err(stale(mandate_id, e)),
        }
    }

    /// A loan's mandates, oldest first.
    pub async fn loan_mandates(
        &self,
        p: &Principal,
        loan_id: &str,
    ) -> Result<MandateList, AppError> {
        p.require(Action::Read)?;
        self.loan_for(p, loan_id).await?;
        let mandates = self
            .store
            .loan_mandates(loan_id)
            .await?
            .iter()
            .map(|m| record::view(p, m))
            .collect::<Result<_, _>>()?;
        Ok(MandateList {
            loan_id: loan_id.to_owned(),
            mandates,
        })
    }

    /// A mandate with its history.
    pub async fn mandate_detail(
        &self,
        p: &Principal,
        mandate_id: &str,
    ) -> Result<MandateDetail, AppError> {
        p.require(Action::Read)?;
        let m = self.mandate_for(p, mandate_id).await?;
        let history = self
            .store
            .mandate_history(mandate_id)
            .await?
            .iter()
            .map(record::event_view)
            .collect::<Result<_, _>>()?;
        Ok(MandateDetail {
            mandate: record::view(p, &m)?,
            history,
        })
    }

    /// Whether the loan's mandate can collect its next instalment, by the domain's
    /// `Mandate::readiness` on the business date.
    pub async fn mandate_readiness(
        &self,
        p: &Principal,
        loan_id: &str,
    ) -> Result<ReadinessView, AppError> {
        p.require(Action::Read)?;
        let loan = self.loan_for(p, loan_id).await?;
        let today = self.business_date().await?;
        let (state, _) = self.state_at(loan_id, &loan.1, today).await?;
        let next = next_installment(&state, today);
        let mandates = self.store.loan_mandates(loan_id).await?;
        let checked = checked_mandate(&mandates);
        let mut problems = Vec::new();
        if checked.is_none() {
            problems.push(FieldError::coded(
                "mandates",
                "mandate.missing",
                "the loan has no mandate: register one",
            ));
        }
        if next.is_none() {
            problems.push(FieldError::coded(
                "installment",
                "mandate.installment",
                format!("the loan has no instalment still to fall due on {today}"),
            ));
        }
        if let (Some(m), Some((_, due, amount))) = (checked, next) {
            let d = record::domain(m)?;
            problems.extend(
                d.readiness(&d.rail().rules(), amount, due)
                    .into_iter()
                    .map(|e| FieldError::coded(e.field, e.code, e.rule)),
            );
        }
        let digits = loan.1.currency.minor_digits();
        Ok(ReadinessView {
            loan_id: loan_id.to_owned(),
            ready: problems.is_empty(),
            mandate_id: checked.map(|m| m.id.clone()),
            installment: next.map(|n| n.0),
            due_date: next.map(|n| n.1.to_string()),
            amount: next.map(|n| format_minor(n.2, digits)),
            as_of: today.to_string(),
            problems,
        })
    }
}

fn status_message(old: &MandateRecord, change: &MandateChange) -> Result<NewOutbox, AppError> {
    let message = MandateStatusChanged {
        loan_id: old.loan_id.clone(),
        mandate_id: old.id.clone(),
        from: old.status.clone(),
        to: change.mandate.status.clone(),
        reason: change.event.reason.clone(),
        on: change.mandate.status_on.clone().unwrap_or_default(),
    };
    Ok(NewOutbox {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: Some(old.loan_id.clone()),
        topic: MANDATE_STATUS.into(),
        payload: serde_json::to_string(&message)
            .map_err(|e| corrupt(format!("{MANDATE_STATUS} message: {e}")))?,
    })
}

fn changed_message(old: &MandateRecord, new: &MandateRecord) -> Result<NewOutbox, AppError> {
    let message = MandateChanged {
        loan_id: new.loan_id.clone(),
        mandate_id: new.id.clone(),
        replaced_mandate_id: old.id.clone(),
        reason: REPLACED.into(),
        rail: new.rail.clone(),
        kind: new.kind.clone(),
        reference: new.reference.clone(),
        status: new.status.clone(),
        max_amount: new.max_amount,
        currency: new.currency.clone(),
        account_last4: new.account_last4.clone(),
        bank_code: new.bank_code.clone(),
        on: new.submitted_on.clone(),
    };
    Ok(NewOutbox {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: Some(new.loan_id.clone()),
        topic: MANDATE_CHANGED.into(),
        payload: serde_json::to_string(&message)
            .map_err(|e| corrupt(format!("{MANDATE_CHANGED} message: {e}")))?,
    })
}

#[cfg(test)]
mod tests {
    /// Every code mandates are refused or flagged with has a meaning, and the codes are unique.
    #[test]
    fn every_code_has_a_meaning() {
        let sources = [
            include_str!("mandates.rs"),
            include_str!("mandates/record.rs"),
            include_str!("../../../domain/src/collections/mandate.rs"),
        ];
        let mut seen = 0;
        for text in sources {
            for (at, _) in text.match_indices("\"mandate.") {
                let rest = &text[at + 1..];
                let code: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '.' || *c == '_')
                    .collect();
                if code == "mandate." || code.ends_with('.') {
                    continue;
                }
                assert!(
                    super::meaning(&code).is_some(),
                    "code `{code}` has no meaning"
                );
                seen += 1;
            }
        }
        assert!(seen >= 25, "only {seen} coded rules found");
        let mut codes: Vec<_> = super::RULES.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), super::RULES.len(), "a code twice");
        for code in ["amount.format", "amount.positive", "amount.max"] {
            assert!(super::meaning(code).is_some(), "{code}");
        }
    }

    #[test]
    fn the_topic_can_be_subscribed_to() {
        assert!(crate::outbox::TOPICS.contains(&super::MANDATE_CHANGED));
        assert!(crate::outbox::TOPICS.contains(&super::MANDATE_STATUS));
    }
}
