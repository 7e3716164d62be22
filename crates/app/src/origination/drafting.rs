//! Creating an application, editing its draft, submitting and withdrawing it; reading
//! applications.

use loanbook_domain::origination::application::{
    Application, ApplicationEvent, Draft, PartyLink, Status, Step,
};
use loanbook_domain::terms::FieldError;
use loanbook_store::{ApplicationFilter, Party};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApplicationEventView, ApplicationPage, ApplicationView, Change, ListApplications};
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta, Role};

/// Open an application under a product version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    /// The lender's reference, unique in the book.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9/_-]{1,64}$",
        example = "APP-0001"
    )]
    pub number: String,
    /// The product's code.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$", example = "PL-12")]
    pub product: String,
    /// The product's version (default: its latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub product_version: Option<i64>,
    /// What is known so far; the rest can follow by edits.
    #[serde(default)]
    pub draft: Draft,
}

/// Replace a draft's contents (the whole draft: what is left out is cleared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditApplication {
    pub draft: Draft,
}

/// Withdraw an application (the applicant's or the lender's choice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawApplication {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

fn invalid(errors: Vec<FieldError>) -> Result<(), AppError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

impl App {
    /// Open an application: its draft is checked field by field (what is present must be well
    /// formed; what is missing may follow).
    pub async fn create_application(
        &self,
        p: &Principal,
        cmd: &CreateApplication,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let number = &cmd.number;
        if number.is_empty()
            || number.len() > 64
            || !number
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        {
            return Err(AppError::Invalid(vec![FieldError::coded(
                "number",
                "application.number",
                "must be 1 to 64 letters, digits, /, _ or -",
            )]));
        }
        if cmd.product_version.is_some_and(|v| v < 1) {
            return Err(AppError::invalid(
                "product_version",
                "must be a whole number from 1",
            ));
        }
        let act = self.act(p).await?;
        invalid(cmd.draft.check(act.on))?;
        let (product, _) = self
            .application_product(&cmd.product, cmd.product_version)
            .await?;
        if self.store.application_by_number(number).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "application number `{number}` already exists"
            )));
        }
        let drafted = ApplicationEvent::Drafted {
            act,
            number: number.clone(),
            product: product.code.clone(),
            product_version: product.version,
            draft: cmd.draft.clone(),
        };
        let app = Application::from_events([&drafted]).map_err(|e| AppError::Invalid(vec![e]))?;
        let id = uuid::Uuid::now_v7().to_string();
        self.keyed(p, meta, || async {
            // The drafted event is the stream's first: it is written, not applied again.
            let (write, view) = self.application_write(
                p,
                meta,
                &id,
                None,
                &app,
                Change::new("create_application", vec![drafted.clone()]),
            )?;
            if meta.dry_run {
                return Ok(CommandOutcome::done(view));
            }
            let outcome = CommandOutcome::created(view);
            let write = loanbook_store::ApplicationWrite {
                idempotency: self.idempotency(p, meta, &outcome)?,
                ..write
            };
            match self.store.commit_application(&write).await {
                Ok(_) => Ok(outcome),
                Err(loanbook_store::StoreError::IdempotencyConflict { .. }) => {
                    self.after_key_race(p, meta).await
                }
                Err(loanbook_store::StoreError::Duplicate { what }) => {
                    Err(AppError::Conflict(format!("{what} already exists")))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// Replace a draft's contents.
    pub async fn edit_application(
        &self,
        p: &Principal,
        id: &str,
        cmd: &EditApplication,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let act = self.act(p).await?;
        invalid(cmd.draft.check(act.on))?;
        self.change_application(p, id, meta, |l| async move {
            let e = ApplicationEvent::Edited {
                act,
                draft: cmd.draft.clone(),
            };
            Ok((l, Change::new("edit_application", vec![e])))
        })
        .await
    }

    /// Submit a draft: refused with every missing or malformed field listed; each person on it
    /// is recorded as a party.
    pub async fn submit_application(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            Step::Submit
                .check(l.app.status)
                .map_err(|e| AppError::Invalid(vec![e]))?;
            let d = &l.app.draft;
            let mut errors = d.missing();
            errors.extend(d.check(act.on));
            invalid(errors)?;
            let mut parties = Vec::new();
            let mut records = Vec::new();
            let people = std::iter::once(("applicant".to_owned(), &d.applicant, "borrower"))
                .chain(
                    d.co_applicants
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (format!("co_applicants[{i}]"), x, "borrower")),
                )
                .chain(
                    d.guarantors
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (format!("guarantors[{i}]"), x, "guarantor")),
                );
            // Each person becomes a party in the submission's own write.
            for (role, person, kind) in people {
                let party = Party {
                    id: uuid::Uuid::now_v7().to_string(),
                    book_id: self.book.clone(),
                    kind: kind.to_owned(),
                    name: person.name.clone().unwrap_or_default(),
                    details: serde_json::to_string(person)
                        .map_err(|e| crate::corrupt(format!("party details: {e}")))?,
                    created_at: act.at.clone(),
                };
                let audit = self.audit(
                    &p.user.name,
                    "create_party",
                    &format!("party/{}", party.id),
                    &meta.digest,
                    vec![],
                );
                parties.push(PartyLink {
                    role,
                    party_id: party.id.clone(),
                });
                records.push((party, audit));
            }
            let e = ApplicationEvent::Submitted { act, parties };
            let mut change = Change::new("submit_application", vec![e]);
            change.parties = records;
            Ok((l, change))
        })
        .await
    }

    /// Withdraw an application that has not ended.
    pub async fn withdraw_application(
        &self,
        p: &Principal,
        id: &str,
        cmd: &WithdrawApplication,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let reason = cmd.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(AppError::invalid("reason", "must be 1 to 500 characters"));
        }
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            let e = ApplicationEvent::Withdrawn {
                act,
                reason: reason.to_owned(),
            };
            Ok((l, Change::new("withdraw_application", vec![e])))
        })
        .await
    }

    /// An application. A partner sees only the applications in its own queue or decided by it.
    pub async fn application(&self, p: &Principal, id: &str) -> Result<ApplicationView, AppError> {
        p.require(Action::Read)?;
        let l = self.load_application(id).await?;
        self.may_see(p, &l.app)?;
        ApplicationView::from_record(p, &l.record)
    }

    /// An application's events, oldest first.
    pub async fn application_events(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<Vec<ApplicationEventView>, AppError> {
        p.require(Action::Read)?;
        let l = self.load_application(id).await?;
        self.may_see(p, &l.app)?;
        let events = self.store.application_events(id).await?;
        Ok(events
            .iter()
            .map(|e| ApplicationEventView::of(p, e))
            .collect())
    }

    /// Applications, oldest first, with keyset paging. Not for partners (they read their queue).
    pub async fn applications(
        &self,
        p: &Principal,
        q: &ListApplications,
    ) -> Result<ApplicationPage, AppError> {
        p.require(Action::Read)?;
        if p.role == Role::Partner {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "list applications (read /v1/queues/partner)",
            });
        }
        if let Some(s) = &q.status {
            if s.parse::<Status>().is_err() {
                return Err(AppError::invalid("status", format!("no status `{s}`")));
            }
        }
        self.application_page(
            p,
            ApplicationFilter {
                status: q.status.clone(),
                queue: None,
                applicant_id: None,
                after: q.cursor.clone(),
                limit: q.limit.unwrap_or(50),
            },
        )
        .await
    }

    pub(crate) async fn application_page(
        &self,
        p: &Principal,
        filter: ApplicationFilter,
    ) -> Result<ApplicationPage, AppError> {
        if !(1..=1000).contains(&filter.limit) {
            return Err(AppError::invalid("limit", "must be between 1 and 1000"));
        }
        let list = self.store.list_applications(&filter).await?;
        let next_cursor = if list.len() as i64 == filter.limit {
            list.last().map(|x| x.id.clone())
        } else {
            None
        };
        let items = list
            .iter()
            .map(|r| ApplicationView::from_record(p, r))
            .collect::<Result<_, _>>()?;
        Ok(ApplicationPage { items, next_cursor })
    }

    /// A partner reads only the applications its co-lending arrangement sent it.
    pub(crate) fn may_see(&self, p: &Principal, app: &Application) -> Result<(), AppError> {
        if p.role != Role::Partner {
            return Ok(());
        }
        let mine = app
            .partner
            .as_ref()
            .is_some_and(|s| Some(&s.window.partner_id) == p.user.partner_id.as_ref());
        if mine {
            Ok(())
        } else {
            Err(AppError::NotFound("application".into()))
        }
    }
}
