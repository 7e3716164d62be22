//! Origination: an application from its draft to the disbursement that books its loan, on the
//! same record. Each step is a command that appends events to the application's own stream
//! (with its audit record, outbox message and idempotency record, in one transaction); the
//! domain's [`Application::apply`] refuses a step its status does not allow.
//!
//! - [`drafting`]: create, edit, submit, withdraw;
//! - [`gathering`]: the bureau report, a bank statement, Account Aggregator data;
//! - [`assessing`]: the facts, the rules and the scorecard, the offer, the automatic decision;
//! - [`deciding`]: the credit queue, officers' decisions and the second approval, the
//!   co-lending partner's decision;
//! - [`sanction`]: frozen terms, the Key Facts Statement, acceptance, expiry;
//! - [`disbursement`]: the checklist, the payout, and the booking of the loan.

pub mod assessing;
pub mod deciding;
pub mod disbursement;
pub mod drafting;
pub mod gathering;
pub mod sanction;
pub mod tranches;
mod views;

use std::sync::Arc;

use loanbook_domain::origination::application::{Act, Application, ApplicationEvent};
use loanbook_domain::origination::product::ProductPolicy;
use loanbook_rails::aa::{AccountAggregator, SimulatedAa};
use loanbook_rails::bureau::{Bureau, SimulatedBureau};
use loanbook_rails::payout::{Payouts, SimulatedPayouts};
use loanbook_store::{
    ApplicationAppend, ApplicationRecord, ApplicationWrite, AuditEntry, NewApplication, NewOutbox,
    Party, ProductVersion, StoreError,
};
use serde_json::json;

pub use views::{ApplicationEventView, ApplicationPage, ApplicationView, ListApplications};

use crate::views::CommandOutcome;
use crate::{App, AppError, Principal, RequestMeta, corrupt};

/// The services origination calls out to. The defaults are the simulators.
#[derive(Clone)]
pub struct Connectors {
    pub bureau: Arc<dyn Bureau>,
    pub account_aggregator: Arc<dyn AccountAggregator>,
    pub payouts: Arc<dyn Payouts>,
}

impl Default for Connectors {
    fn default() -> Connectors {
        Connectors {
            bureau: Arc::new(SimulatedBureau),
            account_aggregator: Arc::new(SimulatedAa),
            payouts: Arc::new(SimulatedPayouts::new()),
        }
    }
}

/// An application as loaded for a command: its record and its state.
pub(crate) struct Loaded {
    pub record: ApplicationRecord,
    pub app: Application,
}

/// What a command appends (each event also goes to the outbox as `application.{event}`).
pub(crate) struct Change {
    /// The audit action (`submit_application`, …).
    pub action: &'static str,
    pub events: Vec<ApplicationEvent>,
    /// Parties recorded with the change (a submission's people), each with its audit record.
    pub parties: Vec<(Party, AuditEntry)>,
}

impl Change {
    pub fn new(action: &'static str, events: Vec<ApplicationEvent>) -> Change {
        Change {
            action,
            events,
            parties: Vec::new(),
        }
    }
}

impl App {
    /// Who does something now, on the business date.
    pub(crate) async fn act(&self, p: &Principal) -> Result<Act, AppError> {
        Ok(Act {
            by: p.user.name.clone(),
            at: self.now(),
            on: self.business_date().await?,
        })
    }

    pub(crate) async fn load_application(&self, id: &str) -> Result<Loaded, AppError> {
        let record = self
            .store
            .application(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("application `{id}`")))?;
        let app: Application = serde_json::from_str(&record.state)
            .map_err(|e| corrupt(format!("application `{id}` state: {e}")))?;
        Ok(Loaded { record, app })
    }

    /// The product version an application was made under, with its policy.
    pub(crate) async fn application_product(
        &self,
        code: &str,
        version: Option<i64>,
    ) -> Result<(ProductVersion, ProductPolicy), AppError> {
        let v = self
            .store
            .product(code, version)
            .await?
            .ok_or_else(|| match version {
                Some(n) => AppError::invalid("product", format!("no product `{code}` version {n}")),
                None => AppError::invalid("product", format!("no product `{code}`")),
            })?;
        let config: serde_json::Value = serde_json::from_str(&v.config)
            .map_err(|e| corrupt(format!("product `{code}`: {e}")))?;
        let policy = ProductPolicy::from_config(&config)
            .map_err(|e| corrupt(format!("product `{code}` policy: {e:?}")))?;
        Ok((v, policy))
    }

    /// Append a change to a loaded application (or a new one, `loaded` being its draft state at
    /// version 0) in one write, and answer with the application as it is after it.
    pub(crate) async fn commit_change(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        id: &str,
        before: Option<&ApplicationRecord>,
        mut app: Application,
        change: Change,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        let version = before.map_or(0, |r| r.version);
        for e in &change.events {
            app.apply(e).map_err(|e| AppError::Invalid(vec![e]))?;
        }
        let (write, outcome) = self.application_write(p, meta, id, before, &app, change)?;
        if meta.dry_run {
            return Ok(CommandOutcome::done(outcome));
        }
        let outcome = if before.is_none() {
            CommandOutcome::created(outcome)
        } else {
            CommandOutcome::done(outcome)
        };
        let write = ApplicationWrite {
            idempotency: self.idempotency(p, meta, &outcome)?,
            ..write
        };
        match self.store.commit_application(&write).await {
            Ok(_) => Ok(outcome),
            Err(StoreError::VersionConflict { .. }) => Err(AppError::Conflict(format!(
                "application `{id}` changed meanwhile (it was at version {version}): read it again"
            ))),
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(StoreError::Duplicate { what }) => {
                Err(AppError::Conflict(format!("{what} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The write of a change and the view it answers with.
    pub(crate) fn application_write(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        id: &str,
        before: Option<&ApplicationRecord>,
        app: &Application,
        change: Change,
    ) -> Result<(ApplicationWrite, ApplicationView), AppError> {
        let version = before.map_or(0, |r| r.version);
        let mut events = Vec::with_capacity(change.events.len());
        let mut outbox = Vec::new();
        for (k, e) in change.events.iter().enumerate() {
            events.push(
                serde_json::to_string(e)
                    .map_err(|err| corrupt(format!("application event: {err}")))?,
            );
            outbox.push(NewOutbox {
                id: uuid::Uuid::now_v7().to_string(),
                loan_id: None,
                topic: format!("application.{}", e.name()),
                payload: json!({
                    "application_id": id,
                    "number": app.number,
                    "seq": version + k as i64 + 1,
                    "status": app.status.name(),
                })
                .to_string(),
            });
        }
        let state =
            serde_json::to_string(app).map_err(|e| corrupt(format!("application state: {e}")))?;
        let n = change.events.len() as i64;
        let event_ids = (version + 1..=version + n)
            .map(|s| format!("{id}:{s}"))
            .collect();
        let now = self.now();
        let append = ApplicationAppend {
            application_id: id.to_owned(),
            expected_version: version,
            new: before.is_none().then(|| NewApplication {
                book_id: self.book.clone(),
                number: app.number.clone(),
                product_id: app.product.clone(),
                product_version: app.product_version,
            }),
            events,
            applicant_id: app
                .parties
                .iter()
                .find(|l| l.role == "applicant")
                .map(|l| l.party_id.clone()),
            status: app.status.name().to_owned(),
            queue: app.queue(),
            loan_id: app.loan_id.clone(),
            state,
            audit: self.audit(
                &p.user.name,
                change.action,
                &format!("application/{id}"),
                &meta.digest,
                event_ids,
            ),
        };
        let view = ApplicationView::of(
            p,
            id,
            version + n,
            before.map_or(now.as_str(), |r| r.created_at.as_str()),
            &now,
            app,
        )?;
        let write = ApplicationWrite {
            command_id: uuid::Uuid::now_v7().to_string(),
            at: now.clone(),
            append,
            outbox,
            idempotency: None,
            approval: None,
            parties: change.parties,
        };
        Ok((write, view))
    }

    /// Run a change on an existing application under the request's idempotency key.
    pub(crate) async fn change_application<F, Fut>(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
        decide: F,
    ) -> Result<CommandOutcome<ApplicationView>, AppError>
    where
        F: FnOnce(Loaded) -> Fut,
        Fut: std::future::Future<Output = Result<(Loaded, Change), AppError>>,
    {
        self.keyed(p, meta, || async {
            let loaded = self.load_application(id).await?;
            let (loaded, change) = decide(loaded).await?;
            self.commit_change(p, meta, id, Some(&loaded.record), loaded.app, change)
                .await
        })
        .await
    }
}

/// The stable codes of the rules origination's use cases check, beside the domain's
/// (`loanbook_domain::terms::rules::meaning` knows those).
pub const RULES: &[(&str, &str)] = &[
    (
        "application.number",
        "An application number is 1 to 64 letters, digits, /, _ or -",
    ),
    (
        "application.not_expired",
        "Only a sanction whose KFS validity passed unaccepted expires",
    ),
    (
        "consent.missing",
        "The applicant has not consented to what the step needs",
    ),
    (
        "statement.unreadable",
        "The statement file is empty, too large or in no known layout",
    ),
    (
        "decision.own_application",
        "Nobody decides an application they made",
    ),
    (
        "decision.second_approver",
        "An approval above the product's limit needs a second, different officer",
    ),
    (
        "partner.not_waiting",
        "The application is not waiting for a partner's decision",
    ),
    (
        "partner.window",
        "The partner decides only within its window",
    ),
    (
        "kfs.expired",
        "The KFS can no longer be accepted: its validity passed",
    ),
    (
        "payout.in_flight",
        "A payout is in flight: reconcile it first",
    ),
    (
        "payout.not_in_flight",
        "There is no payout in flight to reconcile",
    ),
    (
        "checklist.incomplete",
        "Items of the product's disbursement checklist are not done",
    ),
    (
        "disbursement.date",
        "The loan is disbursed on its sanctioned disbursement date",
    ),
    (
        "tranche.none_left",
        "Every later tranche of the sanctioned terms is paid out",
    ),
    (
        "tranche.date",
        "A tranche is paid out on its date in the terms",
    ),
];

#[cfg(test)]
mod tests {
    /// Every code origination's use cases refuse with has a meaning, here or in the domain.
    #[test]
    fn every_code_has_a_meaning() {
        let sources = [
            include_str!("assessing.rs"),
            include_str!("deciding.rs"),
            include_str!("disbursement.rs"),
            include_str!("drafting.rs"),
            include_str!("gathering.rs"),
            include_str!("sanction.rs"),
            include_str!("tranches.rs"),
        ];
        let mut seen = 0;
        for text in sources {
            for call in ["FieldError::coded(", "refused("] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let args: String = rest.chars().take(200).collect();
                    let Some(code) = args.split('"').skip(1).step_by(2).find(|t| {
                        t.contains('.')
                            && t.bytes()
                                .all(|b| b.is_ascii_lowercase() || b"._".contains(&b))
                    }) else {
                        continue;
                    };
                    let known = super::RULES.iter().any(|(c, _)| *c == code)
                        || loanbook_domain::terms::rules::meaning(code).is_some();
                    assert!(known, "code `{code}` has no meaning");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 15, "only {seen} coded refusals found");
    }

    /// Every application event's topic is one a webhook can subscribe to.
    #[test]
    fn every_event_has_a_topic() {
        let source = include_str!("../../../domain/src/origination/application/mod.rs");
        let start = source.find("pub fn name(&self)").unwrap();
        let body = &source[start..start + source[start..].find("\n    }\n").unwrap()];
        let mut n = 0;
        for name in body.split('"').skip(1).step_by(2) {
            let topic = format!("application.{name}");
            assert!(crate::outbox::TOPICS.contains(&topic.as_str()), "{topic}");
            n += 1;
        }
        assert_eq!(n, 20);
    }
}
