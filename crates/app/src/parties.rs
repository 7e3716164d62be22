//! Parties: borrowers, guarantors and co-lending partners. Their details are shown whole only
//! to roles that need identities; every other reader gets them masked (see [`crate::masking`]).

use loanbook_store::Party;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::views::{CommandOutcome, Document, PartyPage, PartyView};
use crate::{Action, App, AppError, Principal, RequestMeta, Role};

/// The kinds of party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Borrower,
    Guarantor,
    Partner,
}

impl PartyKind {
    pub fn name(self) -> &'static str {
        match self {
            PartyKind::Borrower => "borrower",
            PartyKind::Guarantor => "guarantor",
            PartyKind::Partner => "partner",
        }
    }
}

/// Record a party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateParty {
    pub kind: PartyKind,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Free-form details (KYC identifiers, addresses): masked for roles without a need.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub details: Option<Document>,
}

/// The parties list's filter and page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParties {
    #[param(pattern = "^(borrower|guarantor|partner)$")]
    pub kind: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl App {
    /// Record a party.
    pub async fn create_party(
        &self,
        p: &Principal,
        cmd: &CreateParty,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<PartyView>, AppError> {
        p.require(Action::BookLoan)?;
        self.keyed(p, meta, || self.create_party_once(p, cmd, meta))
            .await
    }

    async fn create_party_once(
        &self,
        p: &Principal,
        cmd: &CreateParty,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<PartyView>, AppError> {
        let kind = cmd.kind.name().to_owned();
        let name = cmd.name.clone();
        if name.trim().is_empty() || name.len() > 200 {
            return Err(AppError::invalid(
                "name",
                "must be a string of 1 to 200 characters",
            ));
        }
        let details = match cmd.details.as_ref().map(Document::value) {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(d @ Value::Object(_)) => d.clone(),
            Some(_) => return Err(AppError::invalid("details", "must be a JSON object")),
        };
        let party = Party {
            id: uuid::Uuid::now_v7().to_string(),
            book_id: self.book.clone(),
            kind,
            name,
            details: details.to_string(),
            created_at: self.now(),
        };
        let audit = self.audit(
            &p.user.name,
            "create_party",
            &format!("party/{}", party.id),
            &meta.digest,
            vec![],
        );
        let outcome = CommandOutcome::created(party_view(p, &party));
        self.store
            .create_party(
                &party,
                &audit,
                self.idempotency(p, meta, &outcome)?.as_ref(),
            )
            .await?;
        Ok(outcome)
    }

    pub async fn party(&self, p: &Principal, id: &str) -> Result<PartyView, AppError> {
        p.require(Action::Read)?;
        if p.role == Role::Partner {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "read parties",
            });
        }
        let party = self
            .store
            .party(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("party `{id}`")))?;
        Ok(party_view(p, &party))
    }

    pub async fn parties(&self, p: &Principal, q: &ListParties) -> Result<PartyPage, AppError> {
        p.require(Action::Read)?;
        let limit = q.limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(AppError::invalid("limit", "must be between 1 and 1000"));
        }
        if p.role == Role::Partner {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "read parties",
            });
        }
        let list = self
            .store
            .parties(q.kind.as_deref(), q.cursor.as_deref(), limit)
            .await?;
        let next = if list.len() as i64 == limit {
            list.last().map(|x| x.id.clone())
        } else {
            None
        };
        Ok(PartyPage {
            items: list.iter().map(|x| party_view(p, x)).collect(),
            next_cursor: next,
        })
    }
}

/// A party as the caller may see it: identifiers masked for roles that do not need them.
fn party_view(p: &Principal, party: &Party) -> PartyView {
    let privileged = matches!(p.role, Role::Admin | Role::Credit | Role::Operations);
    PartyView::for_reader(party, privileged)
}
