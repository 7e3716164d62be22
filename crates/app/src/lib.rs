//! Loanbook's use cases. Every write is a command: validated by the domain engine (errors name
//! the field and the rule), authorised by role, idempotent under a key, and written with its
//! projection, audit record and outbox messages in one transaction. Reads replay the loan's
//! events, so every figure can be explained from them.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod approvals;
mod audit;
pub mod auth;
mod catalogue;
mod idempotency;
mod listing;
mod loan_views;
pub mod masking;
pub mod policy;
pub mod tokens;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{self, LoanState};
use loanbook_domain::terms::{FieldError, Terms};
use loanbook_store::{
    AuditEntry, CommandWrite, Decision, LoanRecord, NewEvent, NewOutbox, Projection, Store,
    StoreError, User,
};
use serde_json::{Value, json};

pub use auth::{Action, Role, digest, new_token, token_hash};
pub use policy::ApprovalPolicy;

/// Why a request was not done. Each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("a valid API token is required")]
    Unauthorized,
    #[error("the role `{role}` may not {action}")]
    Forbidden {
        role: &'static str,
        action: &'static str,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("idempotency key `{key}` {why}: use a new key for a new request")]
    IdempotencyMismatch { key: String, why: String },
    #[error("a request with idempotency key `{0}` is still in progress; retry shortly")]
    InProgress(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    pub(crate) fn invalid(field: impl Into<String>, rule: impl Into<String>) -> AppError {
        AppError::Invalid(vec![FieldError::new(field, rule)])
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub role: Role,
}

impl Principal {
    pub fn require(&self, action: Action) -> Result<(), AppError> {
        if self.role.may(action) {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                role: self.role.name(),
                action: action.name(),
            })
        }
    }
}

/// What came with a write request besides its body.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub idempotency_key: Option<String>,
    /// The request's method and path with its ids (`POST /v1/loans/ID/payments`): what an
    /// idempotency key is scoped to.
    pub target: String,
    /// SHA-256 of the request body.
    pub digest: String,
    /// Return the resulting state without writing anything.
    pub dry_run: bool,
}

/// A command's answer: an HTTP status and a JSON body (stored as-is under an idempotency key).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// How many times a command is tried when it loses a race for its loan.
const MAX_ATTEMPTS: u32 = 64;

pub struct App {
    store: Arc<dyn Store>,
    book: String,
    policy: ApprovalPolicy,
    caches: Caches,
}

/// What the service keeps in memory to spare the database: a loan's record and terms never
/// change once booked; a token's user is re-read after a short time, and never outlives the
/// token's expiry or revocation (see [`tokens`]); the business date is re-read every second.
#[derive(Default)]
struct Caches {
    loans: std::sync::Mutex<HashMap<String, Arc<(LoanRecord, Terms)>>>,
    tokens: tokens::TokenCache,
    business_date: std::sync::Mutex<Option<(Date, Instant)>>,
}

const CACHE_ENTRIES: usize = 100_000;
const DATE_TTL: Duration = Duration::from_secs(1);

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a cache lock leaves a cache, not money, in doubt: keep using it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn today() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

fn loan_topic(kind: &EventKind) -> String {
    let name = kind.name();
    match kind {
        EventKind::Payment { .. } => "payment.posted".into(),
        EventKind::PaymentReversal { .. } => "payment.reversed".into(),
        EventKind::Disbursement { .. } => "loan.disbursed".into(),
        _ => format!("loan.{name}"),
    }
}

pub(crate) fn action_for(kind: &EventKind) -> Action {
    match kind {
        EventKind::Disbursement { .. } => Action::BookLoan,
        EventKind::Payment { .. } => Action::PostPayment,
        EventKind::PaymentReversal { .. } => Action::ReversePayment,
        EventKind::Charge { .. } => Action::LevyCharge,
        EventKind::Waiver { .. } => Action::WaiveCharge,
        EventKind::Prepayment { .. } => Action::Prepay,
        EventKind::RateChange { .. } => Action::ChangeRate,
        EventKind::Restructure { .. } => Action::Restructure,
        EventKind::WriteOff { .. } => Action::WriteOff,
        EventKind::LossIdentified { .. } => Action::IdentifyLoss,
        EventKind::Recovery { .. } => Action::Recover,
        EventKind::Settlement { .. } => Action::Settle,
        EventKind::Foreclosure { .. } => Action::Foreclose,
    }
}

pub(crate) fn corrupt(what: String) -> AppError {
    AppError::Store(StoreError::Corrupt(what))
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
    /// The service over `store`, for the book `book` (created with today's business date).
    pub async fn new(store: Arc<dyn Store>, book: &str) -> Result<App, AppError> {
        store
            .ensure_book(book, book, &today().to_string(), &now())
            .await?;
        Ok(App {
            store,
            book: book.to_owned(),
            policy: ApprovalPolicy::default(),
            caches: Caches::default(),
        })
    }

    /// Replace the maker-checker policy.
    pub fn with_policy(mut self, policy: ApprovalPolicy) -> App {
        self.policy = policy;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn business_date(&self) -> Result<Date, AppError> {
        if let Some((d, at)) = *lock(&self.caches.business_date) {
            if at.elapsed() < DATE_TTL {
                return Ok(d);
            }
        }
        let text = self.store.business_date(&self.book).await?;
        let d: Date = text
            .parse()
            .map_err(|e| corrupt(format!("business date `{text}`: {e}")))?;
        *lock(&self.caches.business_date) = Some((d, Instant::now()));
        Ok(d)
    }

    /// Move the book's business date forward (until the close of business does it): the date
    /// value-dated events may not pass. Admin only; never backwards.
    pub async fn set_business_date(
        &self,
        actor: Option<&Principal>,
        to: Date,
    ) -> Result<Value, AppError> {
        if let Some(p) = actor {
            p.require(Action::ManageUsers)?;
        }
        let from = self.business_date().await?;
        if to < from {
            return Err(AppError::invalid(
                "date",
                format!("must not be before the current business date {from}"),
            ));
        }
        let actor_name = actor.map_or("cli".to_owned(), |p| p.user.name.clone());
        let audit = self.audit(
            &actor_name,
            "set_business_date",
            &format!("book/{}", self.book),
            "",
            vec![],
        );
        match self
            .store
            .set_business_date(&self.book, &from.to_string(), &to.to_string(), &audit)
            .await
        {
            Ok(()) => {}
            Err(StoreError::VersionConflict { .. }) => {
                return Err(AppError::Conflict(
                    "the business date changed meanwhile; read it again".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        *lock(&self.caches.business_date) = Some((to, Instant::now()));
        let refreshed = self.refresh_projections(to).await?;
        Ok(json!({
            "book": self.book,
            "business_date": to.to_string(),
            "previous": from.to_string(),
            "projections_refreshed": refreshed,
        }))
    }

    // -----------------------------------------------------------------------------------------
    // Users and tokens
    // -----------------------------------------------------------------------------------------

    /// Create the first admin and return its token; refused once any user exists.
    pub async fn admin_init(&self, name: &str) -> Result<String, AppError> {
        if self.store.user_count().await? > 0 {
            return Err(AppError::Conflict(
                "users exist already: create tokens with `loanbook token create`".into(),
            ));
        }
        self.create_user(None, name, Role::Admin, None).await
    }

    /// Create a user with a role (or add a token to an existing user of that role) and return
    /// a new token for it that never expires. `actor` is `None` only for the command line.
    /// [`App::issue_token`] gives the token a lifetime.
    pub async fn create_user(
        &self,
        actor: Option<&Principal>,
        name: &str,
        role: Role,
        partner_id: Option<&str>,
    ) -> Result<String, AppError> {
        let req = tokens::TokenRequest {
            user: name,
            role,
            partner: partner_id,
            lifetime: tokens::Lifetime::Never,
        };
        Ok(self.issue_token(actor, &req).await?.token)
    }

    pub(crate) fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        digest: &str,
        event_ids: Vec<String>,
    ) -> AuditEntry {
        AuditEntry {
            at: now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            request_digest: digest.to_owned(),
            event_ids,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands
    // -----------------------------------------------------------------------------------------

    /// Book a loan from its terms, optionally with the events that already happened to it
    /// (for migration): `{"loan_number": "…", "terms": {…}, "borrower_id"?: "…", "events"?: […]}`.
    pub async fn book_loan(
        &self,
        p: &Principal,
        body: &Value,
        meta: &RequestMeta,
    ) -> Result<Reply, AppError> {
        p.require(Action::BookLoan)?;
        self.keyed(p, meta, || self.book_loan_once(p, body, meta, None))
            .await
    }

    /// Read a booking request: `{"loan_number", "terms", "borrower_id"?, "events"?, "product"?,
    /// "product_version"?}`, with the product's terms merged in.
    async fn booking(&self, body: &Value) -> Result<Booking, AppError> {
        let obj = body
            .as_object()
            .ok_or_else(|| AppError::invalid("body", "must be a JSON object"))?;
        for k in obj.keys() {
            if !matches!(
                k.as_str(),
                "loan_number" | "terms" | "borrower_id" | "events" | "product" | "product_version"
            ) {
                return Err(AppError::invalid(
                    k.clone(),
                    "is not a field of a loan booking",
                ));
            }
        }
        let loan_number = match obj.get("loan_number") {
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 64 => s.clone(),
            _ => {
                return Err(AppError::invalid(
                    "loan_number",
                    "must be a string of 1 to 64 characters",
                ));
            }
        };
        let borrower_id = match obj.get("borrower_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(AppError::invalid("borrower_id", "must be a string")),
        };
        let terms_value = obj
            .get("terms")
            .ok_or_else(|| AppError::invalid("terms", "is required"))?;
        let (terms_value, product) = match obj.get("product") {
            None | Some(Value::Null) => (terms_value.clone(), None),
            Some(Value::String(code)) => {
                let version = match obj.get("product_version") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.as_i64().filter(|n| *n >= 1).ok_or_else(|| {
                        AppError::invalid("product_version", "must be a whole number from 1")
                    })?),
                };
                let (merged, id, version) = self.product_terms(code, version, terms_value).await?;
                (merged, Some((id, version)))
            }
            Some(_) => return Err(AppError::invalid("product", "must be a product code")),
        };
        if let Some(b) = &borrower_id {
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
        let events = match obj.get("events") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => {
                Event::list_from_json(&v.to_string(), terms.currency).map_err(AppError::Invalid)?
            }
        };
        Ok(Booking {
            loan_number,
            borrower_id,
            terms,
            events,
            product,
        })
    }

    /// Book a loan once its key is reserved; `decision` when an approval releases it.
    async fn book_loan_once(
        &self,
        p: &Principal,
        body: &Value,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<Reply, AppError> {
        let Booking {
            loan_number,
            borrower_id,
            terms,
            events,
            product,
        } = self.booking(body).await?;
        // A booked history is the result of every command in it: each needs the role that may
        // make it, and the whole is held when the policy holds any part of it.
        for e in &events {
            p.require(action_for(&e.kind))?;
        }
        let business_date = self.business_date().await?;
        check_dates(&events, business_date)?;
        let state = history_state(&terms, &events, business_date, 0)?;
        if decision.is_none() && !meta.dry_run {
            if let Some(hold) = self.policy.hold(&[], &events, &state) {
                let payload = body.to_string();
                return self
                    .hold(p, hold, format!("booking/{loan_number}"), payload, meta)
                    .await;
            }
        }

        let terms_json = terms.to_json();
        let id = uuid::Uuid::now_v7().to_string();
        let at = now();
        let record = LoanRecord {
            id: id.clone(),
            book_id: self.book.clone(),
            loan_number,
            borrower_id,
            product_id: product.as_ref().map(|p| p.0.clone()),
            product_version: product.as_ref().map(|p| p.1),
            terms_hash: digest(terms_json.as_bytes()),
            terms: terms_json,
            partner_ids: terms.partners.iter().map(|p| p.id.clone()).collect(),
            created_at: at.clone(),
        };
        let version = events.len() as i64;
        // A dry run shows the whole schedule; a booking answers with the summary.
        let state_json = if meta.dry_run {
            state_value(&state)?
        } else {
            state.summary_json()
        };
        let body = json!({
            "id": id,
            "loan_number": record.loan_number,
            "version": version,
            "terms_hash": record.terms_hash,
            "state": state_json,
        });
        if meta.dry_run {
            return Ok(Reply {
                status: 200,
                body: with_dry_run(body),
            });
        }
        let reply = Reply { status: 201, body };
        let event_ids: Vec<String> = (1..=version).map(|s| format!("{id}:{s}")).collect();
        let mut outbox = vec![NewOutbox {
            id: uuid::Uuid::now_v7().to_string(),
            loan_id: Some(id.clone()),
            topic: "loan.booked".into(),
            payload: json!({"loan_id": id, "loan_number": record.loan_number}).to_string(),
        }];
        outbox.extend(
            events
                .iter()
                .enumerate()
                .map(|(k, e)| event_message(&id, k as i64 + 1, e, terms.currency)),
        );
        let write = CommandWrite {
            command_id: uuid::Uuid::now_v7().to_string(),
            at,
            loan_id: id.clone(),
            expected_version: 0,
            snapshot: None,
            projection: projection(&id, version, &state),
            new_loan: Some(record),
            events: events
                .iter()
                .map(|e| NewEvent {
                    value_date: e.date.to_string(),
                    event: event_json(e, terms.currency),
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
            idempotency: self.idempotency(p, meta, &reply),
            approval: decision.cloned(),
        };
        match self.store.commit(&write).await {
            Ok(_) => Ok(reply),
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(StoreError::Duplicate { what }) => {
                Err(AppError::Conflict(format!("{what} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Append one event to a loan: `event` is the event's JSON with its `type`.
    pub async fn loan_command(
        &self,
        p: &Principal,
        loan_id: &str,
        event: &Value,
        meta: &RequestMeta,
    ) -> Result<Reply, AppError> {
        self.keyed(p, meta, || {
            self.loan_command_with(p, loan_id, event, meta, None)
        })
        .await
    }

    async fn loan_command_with(
        &self,
        p: &Principal,
        loan_id: &str,
        event: &Value,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<Reply, AppError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_loan_command(p, loan_id, event, meta, decision)
                .await
            {
                Err(AppError::Store(e)) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                    // Lost a race for the loan: decide again on its new version.
                    let pause = u64::from(attempt.min(10)) * (1 + rand::random::<u64>() % 3);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(AppError::Store(StoreError::IdempotencyConflict { .. })) => {
                    return self.after_key_race(p, meta).await;
                }
                other => return other,
            }
        }
    }

    async fn try_loan_command(
        &self,
        p: &Principal,
        loan_id: &str,
        event: &Value,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<Reply, AppError> {
        let loaded = self.load(p, loan_id).await?;
        let new = Event::from_json_value(event, loaded.terms.currency)
            .map_err(|e| AppError::Invalid(vec![e]))?;
        p.require(action_for(&new.kind))?;
        let business_date = self.business_date().await?;
        check_dates(std::slice::from_ref(&new), business_date)?;
        let version = loaded.events.len() as i64;
        let mut events = loaded.events;
        events.push(new.clone());
        let state = history_state(&loaded.terms, &events, business_date, events.len() - 1)?;
        // A dry run shows the whole resulting schedule; a command answers with the summary.
        let state_json = if meta.dry_run {
            state_value(&state)?
        } else {
            state.summary_json()
        };
        let seq = version + 1;
        let body = json!({
            "loan_id": loan_id,
            "version": seq,
            "event": {"seq": seq, "event": serde_json::to_value(new.to_doc(loaded.terms.currency)).unwrap_or(Value::Null)},
            "state": state_json,
        });
        if meta.dry_run {
            return Ok(Reply {
                status: 200,
                body: with_dry_run(body),
            });
        }
        let before = &events[..events.len() - 1];
        let hold = self.policy.hold(before, std::slice::from_ref(&new), &state);
        if let (None, Some(hold)) = (decision, hold) {
            return self
                .hold(p, hold, format!("loan/{loan_id}"), event.to_string(), meta)
                .await;
        }
        let reply = Reply { status: 201, body };
        let previous = self.store.projection_head(loan_id).await?;
        let mut outbox = vec![event_message(loan_id, seq, &new, loaded.terms.currency)];
        if let Some((_, prev_class)) = previous {
            let class = state.classification.name();
            if prev_class != class {
                outbox.push(NewOutbox {
                    id: uuid::Uuid::now_v7().to_string(),
                    loan_id: Some(loan_id.to_owned()),
                    topic: "loan.class_changed".into(),
                    payload: json!({"loan_id": loan_id, "from": prev_class, "to": class, "as_of": state.as_of.to_string()}).to_string(),
                });
            }
        }
        let write = CommandWrite {
            command_id: uuid::Uuid::now_v7().to_string(),
            at: now(),
            loan_id: loan_id.to_owned(),
            expected_version: version,
            new_loan: None,
            snapshot: None,
            events: vec![NewEvent {
                value_date: new.date.to_string(),
                event: event_json(&new, loaded.terms.currency),
            }],
            projection: projection(loan_id, seq, &state),
            audit: self.audit(
                &p.user.name,
                action_for(&new.kind).name(),
                &format!("loan/{loan_id}"),
                &meta.digest,
                vec![format!("{loan_id}:{seq}")],
            ),
            outbox,
            idempotency: self.idempotency(p, meta, &reply),
            approval: decision.cloned(),
        };
        self.store.commit(&write).await?;
        Ok(reply)
    }
}

fn with_dry_run(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.insert("dry_run".into(), Value::Bool(true));
    }
    body
}

/// The state a history replays to on `through`, once it is known to replay on every date up to
/// it: nothing that cannot be read back is ever written. `new_from` is the index of the first
/// event the write adds; an error is named by the field of the event that broke.
fn history_state(
    terms: &Terms,
    events: &[Event],
    through: Date,
    new_from: usize,
) -> Result<LoanState, AppError> {
    loan::check_history(terms, events, through).map_err(|e| {
        let field = if new_from == 0 {
            format!("events[{}].{}", e.index, e.field)
        } else if e.index == new_from && events.len() == new_from + 1 {
            e.field.to_owned()
        } else {
            format!(
                "event {} ({} on {}): {}",
                e.index + 1,
                e.event,
                e.date,
                e.field
            )
        };
        AppError::invalid(field, e.rule.clone())
    })
}

/// Events may not be dated after the book's business date.
fn check_dates(events: &[Event], business_date: Date) -> Result<(), AppError> {
    for (i, e) in events.iter().enumerate() {
        if e.date > business_date {
            let field = if events.len() == 1 {
                "date".to_owned()
            } else {
                format!("events[{i}].date")
            };
            return Err(AppError::invalid(
                field,
                format!("must not be after the business date {business_date}"),
            ));
        }
    }
    Ok(())
}

fn state_value(state: &LoanState) -> Result<Value, AppError> {
    serde_json::to_value(state).map_err(|e| corrupt(format!("state: {e}")))
}

fn event_json(e: &Event, currency: loanbook_domain::money::Currency) -> String {
    serde_json::to_string(&e.to_doc(currency)).unwrap_or_default()
}

fn event_message(
    loan_id: &str,
    seq: i64,
    e: &Event,
    currency: loanbook_domain::money::Currency,
) -> NewOutbox {
    NewOutbox {
        id: uuid::Uuid::now_v7().to_string(),
        loan_id: Some(loan_id.to_owned()),
        topic: loan_topic(&e.kind),
        payload: json!({
            "loan_id": loan_id,
            "seq": seq,
            "event": serde_json::to_value(e.to_doc(currency)).unwrap_or(Value::Null),
        })
        .to_string(),
    }
}

pub(crate) fn projection(loan_id: &str, version: i64, s: &LoanState) -> Projection {
    Projection {
        loan_id: loan_id.to_owned(),
        version,
        as_of: s.as_of.to_string(),
        status: s.status.name().to_owned(),
        classification: s.classification.name().to_owned(),
        dpd: i64::from(s.dpd),
        principal_outstanding: s.balances.principal_outstanding,
        total_overdue: s.total_overdue,
        state: s.summary_json().to_string(),
    }
}
