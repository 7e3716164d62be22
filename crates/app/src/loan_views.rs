//! A loan as it reads: its record and terms (cached; they never change once booked), its events
//! decoded, its state on any date by replay, its events as stored, a foreclosure quote, and the
//! check that every stored projection equals a fresh replay.

use std::sync::Arc;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::Event;
use loanbook_domain::loan;
use loanbook_domain::terms::Terms;
use loanbook_store::{LoanRecord, User};
use serde_json::{Value, json};

use crate::{
    App, AppError, CACHE_ENTRIES, Principal, Role, auth::Action, corrupt, lock, now, projection,
    state_value,
};

/// A loan as stored, decoded.
pub(crate) struct Loaded {
    pub(crate) record: LoanRecord,
    pub(crate) terms: Terms,
    pub(crate) events: Vec<Event>,
}

impl App {
    // -----------------------------------------------------------------------------------------
    // Queries
    // -----------------------------------------------------------------------------------------

    /// A loan's record and parsed terms, from the cache or the store.
    pub(crate) async fn loan_record(
        &self,
        loan_id: &str,
    ) -> Result<Arc<(LoanRecord, Terms)>, AppError> {
        if let Some(l) = lock(&self.caches.loans).get(loan_id) {
            return Ok(l.clone());
        }
        let record = self
            .store
            .loan(loan_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("loan `{loan_id}`")))?;
        let terms = Terms::from_json(&record.terms)
            .map_err(|e| corrupt(format!("terms of loan `{loan_id}`: {e}")))?;
        let l = Arc::new((record, terms));
        let mut loans = lock(&self.caches.loans);
        if loans.len() >= CACHE_ENTRIES {
            loans.clear();
        }
        loans.insert(loan_id.to_owned(), l.clone());
        Ok(l)
    }

    pub(crate) async fn load(&self, p: &Principal, loan_id: &str) -> Result<Loaded, AppError> {
        let loan = self.loan_record(loan_id).await?;
        let (record, terms) = (&loan.0, &loan.1);
        if p.role == Role::Partner
            && !p
                .user
                .partner_id
                .as_ref()
                .is_some_and(|id| record.partner_ids.contains(id))
        {
            // A partner does not learn that loans it does not fund exist.
            return Err(AppError::NotFound(format!("loan `{loan_id}`")));
        }
        let stored = self.store.event_documents(loan_id).await?;
        let mut events = Vec::with_capacity(stored.len());
        for (i, doc) in stored.iter().enumerate() {
            events.push(
                Event::from_stored_json(doc, terms.currency)
                    .map_err(|e| corrupt(format!("event {} of loan `{loan_id}`: {e}", i + 1)))?,
            );
        }
        Ok(Loaded {
            record: record.clone(),
            terms: terms.clone(),
            events,
        })
    }

    /// The loan's state at the end of `as_of` (default: the business date).
    pub async fn loan_state(
        &self,
        p: &Principal,
        loan_id: &str,
        as_of: Option<Date>,
    ) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        let loaded = self.load(p, loan_id).await?;
        let as_of = match as_of {
            Some(d) => d,
            None => self.business_date().await?,
        };
        let state = loan::replay(&loaded.terms, &loaded.events, as_of)
            .map_err(|e| corrupt(format!("loan `{loan_id}` does not replay: {e}")))?;
        Ok(json!({
            "id": loaded.record.id,
            "loan_number": loaded.record.loan_number,
            "terms_hash": loaded.record.terms_hash,
            "product_id": loaded.record.product_id,
            "product_version": loaded.record.product_version,
            "borrower_id": loaded.record.borrower_id,
            "version": loaded.events.len(),
            "state": state_value(&state)?,
        }))
    }

    pub async fn loan_events(&self, p: &Principal, loan_id: &str) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        self.load(p, loan_id).await?;
        let stored = self.store.events(loan_id).await?;
        let items: Vec<Value> = stored
            .iter()
            .map(|s| {
                json!({
                    "seq": s.seq,
                    "value_date": s.value_date,
                    "recorded_at": s.recorded_at,
                    "event": serde_json::from_str::<Value>(&s.event).unwrap_or(Value::Null),
                })
            })
            .collect();
        Ok(json!({ "loan_id": loan_id, "events": items }))
    }

    pub async fn foreclosure_quote(
        &self,
        p: &Principal,
        loan_id: &str,
        date: Date,
    ) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        let loaded = self.load(p, loan_id).await?;
        let amount = loan::foreclosure_quote(&loaded.terms, &loaded.events, date)
            .map_err(|e| AppError::invalid(e.field, e.rule.clone()))?;
        Ok(json!({
            "loan_id": loan_id,
            "date": date.to_string(),
            "amount": loanbook_domain::money::format_minor(amount, loaded.terms.currency.minor_digits()),
        }))
    }

    // -----------------------------------------------------------------------------------------
    // Integrity
    // -----------------------------------------------------------------------------------------

    /// The service itself, reading every loan (for projections and checks).
    pub(crate) fn system_principal(&self) -> Principal {
        Principal {
            user: User {
                id: "system".into(),
                name: "system".into(),
                role: "auditor".into(),
                partner_id: None,
                created_at: now(),
            },
            role: Role::Auditor,
        }
    }

    /// Loans whose stored projection differs from a fresh replay of their events.
    pub async fn projection_mismatches(&self) -> Result<Vec<String>, AppError> {
        let system = self.system_principal();
        let mut bad = Vec::new();
        for id in self.store.loan_ids().await? {
            let loaded = self.load(&system, &id).await?;
            let stored = self.store.projection(&id).await?;
            let Some(stored) = stored else {
                bad.push(format!("{id}: no projection"));
                continue;
            };
            let as_of: Date = stored
                .as_of
                .parse()
                .map_err(|e| corrupt(format!("projection of `{id}`: {e}")))?;
            let fresh = match loan::replay(&loaded.terms, &loaded.events, as_of) {
                Ok(s) => s,
                Err(e) => {
                    bad.push(format!("{id}: does not replay: {e}"));
                    continue;
                }
            };
            let expected = projection(&id, loaded.events.len() as i64, &fresh);
            if expected != stored {
                bad.push(format!(
                    "{id}: projection version {} differs from replay",
                    stored.version
                ));
            }
        }
        Ok(bad)
    }
}
