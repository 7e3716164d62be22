//! Booking a loan from its terms (a product's template completed by the request), optionally
//! with the events that already happened to it (a migration), checked as a whole.

use std::sync::Arc;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::Event;
use loanbook_domain::loan::{self, Snapshot};
use loanbook_domain::terms::{FieldError, Terms};
use loanbook_store::{
    ApplicationAppend, CommandWrite, Decision, LoanRecord, NewEvent, NewOutbox, NewSnapshot,
    StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::projection;
use super::{action_for, check_dates, event_message, history_state, refused, state_doc};
use crate::views::{BookingResult, CommandOutcome, Document};
use crate::{Action, App, AppError, Principal, RequestMeta, digest};

/// Book a loan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookLoan {
    /// The lender's number for the loan, unique in the book.
    #[schema(min_length = 1, max_length = 64, example = "LN-0001")]
    pub loan_number: String,
    /// The borrower, a party of kind `borrower`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrower_id: Option<String>,
    /// A product code: its terms template is completed by `terms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub product: Option<String>,
    /// The product's version (default: its latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub product_version: Option<i64>,
    /// The loan's terms (with a product: what the loan sets over the product's template, which
    /// may leave out what the template gives).
    #[schema(value_type = loanbook_domain::terms::TermsDoc)]
    pub terms: Document,
    /// Events that already happened to the loan, oldest first (for a migration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<loanbook_domain::events::EventDocV1>)]
    pub events: Vec<Document>,
}

/// A booking request, read.
struct Booking {
    loan_number: String,
    borrower_id: Option<String>,
    terms: Terms,
    events: Vec<Event>,
    product: Option<(String, i64)>,
}

impl App {
    /// Book a loan from its terms, optionally with the events that already happened to it.
    pub async fn book_loan(
        &self,
        p: &Principal,
        cmd: &BookLoan,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<BookingResult>, AppError> {
        p.require(Action::BookLoan)?;
        self.keyed(p, meta, || self.book_loan_once(p, cmd, meta, None))
            .await
    }

    /// Read a booking request, with the product's terms merged in.
    async fn booking(&self, cmd: &BookLoan) -> Result<Booking, AppError> {
        let loan_number = cmd.loan_number.clone();
        if loan_number.trim().is_empty() || loan_number.len() > 64 {
            return Err(AppError::invalid(
                "loan_number",
                "must be a string of 1 to 64 characters",
            ));
        }
        let terms_value = match &cmd.product {
            None => cmd.terms.value().clone(),
            Some(code) => {
                if cmd.product_version.is_some_and(|n| n < 1) {
                    return Err(AppError::invalid(
                        "product_version",
                        "must be a whole number from 1",
                    ));
                }
                let (merged, id, version) = self
                    .product_terms(code, cmd.product_version, cmd.terms.value())
                    .await?;
                return self.booking_with(cmd, merged, Some((id, version))).await;
            }
        };
        self.booking_with(cmd, terms_value, None).await
    }

    async fn booking_with(
        &self,
        cmd: &BookLoan,
        terms_value: serde_json::Value,
        product: Option<(String, i64)>,
    ) -> Result<Booking, AppError> {
        if let Some(b) = &cmd.borrower_id {
            if self.store.party(b).await?.is_none() {
                return Err(AppError::invalid("borrower_id", format!("no party `{b}`")));
            }
        }
        let terms = Terms::from_json(&terms_value.to_string()).map_err(|e| {
            AppError::Invalid(
                e.0.into_iter()
                    .map(|f| FieldError::new(format!("terms.{}", f.field), f.rule))
                    .collect(),
            )
        })?;
        // A loan booked under a product keeps the product's bounds, each broken one named.
        if let (Some(code), Some((_, version))) = (&cmd.product, &product) {
            let (_, policy) = self.application_product(code, Some(*version)).await?;
            let broken = policy.bounds.check(&terms);
            if !broken.is_empty() {
                return Err(AppError::Invalid(broken));
            }
        }
        let mut events = Vec::with_capacity(cmd.events.len());
        let mut errors = Vec::new();
        for (i, doc) in cmd.events.iter().enumerate() {
            match Event::from_json_value(doc.value(), terms.currency) {
                Ok(e) => events.push(e),
                Err(e) => errors.push(FieldError::new(format!("events[{i}].{}", e.field), e.rule)),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        Ok(Booking {
            loan_number: cmd.loan_number.clone(),
            borrower_id: cmd.borrower_id.clone(),
            terms,
            events,
            product,
        })
    }

    /// Book a loan once its key is reserved; `decision` when an approval releases it.
    pub(crate) async fn book_loan_once(
        &self,
        p: &Principal,
        cmd: &BookLoan,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<CommandOutcome<BookingResult>, AppError> {
        let Booking {
            loan_number,
            borrower_id,
            terms,
            events,
            product,
        } = self.booking(cmd).await?;
        // A booked history is the result of every command in it: each needs the role that may
        // make it, and the whole is held when the policy holds any part of it.
        events
            .iter()
            .try_for_each(|e| p.require(action_for(&e.kind)))?;
        let business_date = self.business_date().await?;
        check_dates(&events, business_date)?;
        let state = history_state(&terms, &events, business_date, 0)?;
        if decision.is_none() && !meta.dry_run {
            if let Some(hold) = self.policy.hold(&[], &events, &state) {
                let payload = serde_json::to_string(cmd)
                    .map_err(|e| crate::corrupt(format!("booking request: {e}")))?;
                return self
                    .hold(p, hold, format!("booking/{loan_number}"), payload, meta)
                    .await;
            }
        }

        let id = uuid::Uuid::now_v7().to_string();
        let at = self.now();
        let record = LoanRecord {
            id: id.clone(),
            book_id: self.book.clone(),
            loan_number,
            borrower_id,
            product_id: product.as_ref().map(|p| p.0.clone()),
            product_version: product.as_ref().map(|p| p.1),
            ..frozen(&terms, &at)
        };
        let version = events.len() as i64;
        // A dry run shows the whole schedule; a booking answers with the summary.
        let result = BookingResult {
            id: id.clone(),
            loan_number: record.loan_number.clone(),
            version,
            terms_hash: record.terms_hash.clone(),
            state: state_doc(&state, meta.dry_run)?,
            dry_run: meta.dry_run,
        };
        if meta.dry_run {
            return Ok(CommandOutcome::done(result));
        }
        let outcome = CommandOutcome::created(result);
        let event_ids: Vec<String> = (1..=version).map(|s| format!("{id}:{s}")).collect();
        let (_, effects) = loan::replay_with_effects(&terms, &events, business_date)
            .map_err(|e| refused(&e, events.len(), 0))?;
        let outbox = booked_messages(&id, &record.loan_number, &events, terms.currency, &effects);
        let snapshot = booking_snapshot(&terms, &events, business_date)?;
        let write = CommandWrite {
            snapshot: snapshot.as_ref().map(|(_, record)| record.clone()),
            command_id: uuid::Uuid::now_v7().to_string(),
            at,
            loan_id: id.clone(),
            expected_version: 0,
            projection: projection(&id, version, &state),
            new_loan: Some(record),
            events: events
                .iter()
                .map(|e| NewEvent {
                    value_date: e.date.to_string(),
                    event: e.to_stored_json(terms.currency),
                })
                .collect(),
            audit: self.audit(
                &p.user.name,
                "book_loan",
                &format!("loan/{id}"),
                &meta.digest,
                event_ids,
            ),
            outbox,
            idempotency: self.idempotency(p, meta, &outcome)?,
            approval: decision.cloned(),
            application: None,
        };
        match self.store.commit(&write).await {
            Ok(_) => {
                if let Some((snapshot, _)) = snapshot {
                    self.keep_snapshot(&id, Arc::new(snapshot));
                }
                Ok(outcome)
            }
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(StoreError::Duplicate { what }) => {
                Err(AppError::Conflict(format!("{what} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A loan booked from a sanctioned application: its frozen terms and the application's last
/// events, which the booking writes in its own transaction.
pub(crate) struct SanctionedBooking<'a> {
    pub loan_id: &'a str,
    pub loan_number: &'a str,
    pub borrower_id: Option<String>,
    pub product: (String, i64),
    pub terms: &'a Terms,
    /// The hash recorded at sanction: the booked terms must have it.
    pub terms_hash: &'a str,
    /// The rail's reference for the payout.
    pub utr: &'a str,
    pub application: ApplicationAppend,
    /// The application's outbox messages, besides the loan's own.
    pub application_outbox: Vec<NewOutbox>,
    pub idempotency: Option<loanbook_store::IdempotencyRecord>,
}

impl App {
    /// Book the loan of a disbursed application: the sanctioned terms as they are, no events
    /// before its first day, `loan.booked` and `loan.disbursed` in the outbox, and the
    /// application's disbursement in the same transaction.
    pub(crate) async fn book_sanctioned(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        b: SanctionedBooking<'_>,
    ) -> Result<(), AppError> {
        let business_date = self.business_date().await?;
        // The payout is the loan's first event: its gross first disbursement (fees come off it
        // as the terms say), referenced by the rail's UTR.
        let events = vec![Event {
            date: b.terms.disbursement_date,
            kind: loanbook_domain::events::EventKind::Disbursement {
                amount: b.terms.first_disbursement(),
                reference: Some(b.utr.to_owned()),
            },
        }];
        check_dates(&events, business_date)?;
        let state = history_state(b.terms, &events, business_date, 0)?;
        let at = self.now();
        let record = LoanRecord {
            id: b.loan_id.to_owned(),
            book_id: self.book.clone(),
            loan_number: b.loan_number.to_owned(),
            borrower_id: b.borrower_id,
            product_id: Some(b.product.0),
            product_version: Some(b.product.1),
            application_id: Some(b.application.application_id.clone()),
            ..frozen(b.terms, &at)
        };
        if record.terms_hash != b.terms_hash {
            return Err(crate::corrupt(format!(
                "the loan's terms hash {} is not the sanctioned {}",
                record.terms_hash, b.terms_hash
            )));
        }
        let (_, effects) = loan::replay_with_effects(b.terms, &events, business_date)
            .map_err(|e| refused(&e, events.len(), 0))?;
        let currency = b.terms.currency;
        let mut outbox = booked_messages(b.loan_id, b.loan_number, &events, currency, &effects);
        let net = loanbook_domain::schedule::repayments(b.terms)
            .map_err(|e| AppError::invalid("terms", format!("no schedule: {e}")))?
            .net_disbursed;
        outbox.push(NewOutbox {
            id: uuid::Uuid::now_v7().to_string(),
            loan_id: Some(b.loan_id.to_owned()),
            topic: "loan.disbursed".into(),
            payload: json!({
                "loan_id": b.loan_id,
                "loan_number": b.loan_number,
                "application_id": b.application.application_id,
                "date": b.terms.disbursement_date.to_string(),
                "utr": b.utr,
                "net_disbursed": loanbook_domain::money::format_minor(net, 2),
            })
            .to_string(),
        });
        outbox.extend(b.application_outbox);
        let write = CommandWrite {
            snapshot: None,
            command_id: uuid::Uuid::now_v7().to_string(),
            at,
            loan_id: b.loan_id.to_owned(),
            expected_version: 0,
            projection: projection(b.loan_id, 1, &state),
            new_loan: Some(record),
            events: events
                .iter()
                .map(|e| NewEvent {
                    value_date: e.date.to_string(),
                    event: e.to_stored_json(currency),
                })
                .collect(),
            audit: self.audit(
                &p.user.name,
                "book_loan",
                &format!("loan/{}", b.loan_id),
                &meta.digest,
                vec![format!("{}:1", b.loan_id)],
            ),
            outbox,
            idempotency: b.idempotency,
            approval: None,
            application: Some(b.application),
        };
        match self.store.commit(&write).await {
            Ok(_) => Ok(()),
            Err(StoreError::VersionConflict { .. }) => Err(AppError::Conflict(
                "the application changed meanwhile: read it again".into(),
            )),
            Err(StoreError::Duplicate { what }) => {
                Err(AppError::Conflict(format!("{what} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The outbox messages of a booking: `loan.booked`, then each booked event's.
fn booked_messages(
    id: &str,
    loan_number: &str,
    events: &[Event],
    currency: loanbook_domain::money::Currency,
    effects: &[loan::Effect],
) -> Vec<NewOutbox> {
    let mut outbox = vec![NewOutbox {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: Some(id.to_owned()),
        topic: "loan.booked".into(),
        payload: json!({"loan_id": id, "loan_number": loan_number}).to_string(),
    }];
    outbox.extend(
        events
            .iter()
            .enumerate()
            .map(|(k, e)| event_message(id, k as i64 + 1, e, currency, effects, k)),
    );
    outbox
}

/// The snapshot a booked history starts with: the engine at the end of the day before the
/// business date, over the booked events dated before it (none when there are none).
fn booking_snapshot(
    terms: &Terms,
    events: &[Event],
    business_date: Date,
) -> Result<Option<(Snapshot, NewSnapshot)>, AppError> {
    let Ok(eve) = business_date.yesterday() else {
        return Ok(None);
    };
    if events.first().is_none_or(|e| e.date > eve) {
        return Ok(None);
    }
    let snapshot = Snapshot::take(terms, events, eve).map_err(|e| refused(&e, events.len(), 0))?;
    let engine = snapshot
        .to_json()
        .map_err(|e| crate::corrupt(format!("snapshot: {e}")))?;
    let record = NewSnapshot {
        version: snapshot.version,
        day: snapshot.day.to_string(),
        engine,
    };
    Ok(Some((snapshot, record)))
}

/// The frozen part of a loan's record: its terms, their hash and its co-lenders.
fn frozen(terms: &Terms, at: &str) -> LoanRecord {
    let terms_json = terms.to_json();
    LoanRecord {
        id: String::new(),
        book_id: String::new(),
        loan_number: String::new(),
        borrower_id: None,
        product_id: None,
        product_version: None,
        terms_hash: digest(terms_json.as_bytes()),
        terms: terms_json,
        partner_ids: terms.partners.iter().map(|p| p.id.clone()).collect(),
        created_at: at.to_owned(),
        application_id: None,
    }
}
