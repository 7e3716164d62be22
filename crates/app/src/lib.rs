//! Loanbook's use cases. Every write is a command: validated by the domain engine (errors name
//! the field and the rule), authorised by role, idempotent under a key, and written with its
//! projection, audit record and outbox messages in one transaction. Reads replay the loan's
//! events, so every figure can be explained from them.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod audit;
pub mod auth;
mod catalogue;
pub mod masking;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{self, LoanState};
use loanbook_domain::terms::{FieldError, Terms};
use loanbook_store::{
    Approval, AuditEntry, CommandWrite, Decision, IdempotencyRecord, LoanFilter, LoanRecord,
    NewEvent, NewOutbox, Projection, Store, StoreError, User,
};
use serde_json::{Value, json};

pub use auth::{Action, Role, digest, new_token, token_hash};

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
    #[error("idempotency key `{0}` was used for a different request")]
    IdempotencyMismatch(String),
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

/// Which commands need a second user's approval (maker-checker).
#[derive(Debug, Clone)]
pub struct ApprovalPolicy {
    /// Actions always held for approval.
    pub actions: Vec<Action>,
    /// Waivers above this amount (minor units) are held for approval.
    pub waiver_above: i64,
    /// Product changes are held for approval.
    pub products: bool,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            actions: vec![Action::WriteOff, Action::Restructure],
            // 1,000.00 in minor units.
            waiver_above: 100_000,
            products: true,
        }
    }
}

impl ApprovalPolicy {
    fn holds(&self, event: &Event) -> bool {
        match event.kind {
            EventKind::Waiver { amount, .. } => amount > self.waiver_above,
            ref k => self.actions.contains(&action_for(k)),
        }
    }
}

pub struct App {
    store: Arc<dyn Store>,
    book: String,
    policy: ApprovalPolicy,
    caches: Caches,
}

/// What the service keeps in memory to spare the database: a loan's record and terms never
/// change once booked; a token's user is re-read after a short time; the business date is
/// re-read every second.
#[derive(Default)]
struct Caches {
    loans: std::sync::Mutex<HashMap<String, Arc<(LoanRecord, Terms)>>>,
    tokens: std::sync::Mutex<HashMap<String, (Principal, Instant)>>,
    business_date: std::sync::Mutex<Option<(Date, Instant)>>,
}

const CACHE_ENTRIES: usize = 100_000;
const TOKEN_TTL: Duration = Duration::from_secs(30);
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

fn action_for(kind: &EventKind) -> Action {
    match kind {
        EventKind::Disbursement { .. } => Action::BookLoan,
        EventKind::Payment { .. } => Action::PostPayment,
        EventKind::PaymentReversal { .. } => Action::ReversePayment,
        EventKind::Charge { .. } => Action::LevyCharge,
        EventKind::Waiver { .. } => Action::WaiveCharge,
        EventKind::Prepayment { .. } => Action::Prepay,
        EventKind::RateChange { .. } => Action::ChangeRate,
        EventKind::Restructure { .. } => Action::Restructure,
        EventKind::WriteOff { .. } | EventKind::LossIdentified { .. } => Action::WriteOff,
        EventKind::Recovery { .. } => Action::Recover,
        EventKind::Settlement { .. } => Action::Settle,
        EventKind::Foreclosure { .. } => Action::Foreclose,
    }
}

pub(crate) fn corrupt(what: String) -> AppError {
    AppError::Store(StoreError::Corrupt(what))
}

/// A loan as stored, decoded.
struct Loaded {
    record: LoanRecord,
    terms: Terms,
    events: Vec<Event>,
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
        Ok(
            json!({"book": self.book, "business_date": to.to_string(), "previous": from.to_string()}),
        )
    }

    // -----------------------------------------------------------------------------------------
    // Users and tokens
    // -----------------------------------------------------------------------------------------

    pub async fn authenticate(&self, token: &str) -> Result<Principal, AppError> {
        let hash = token_hash(token);
        if let Some((p, at)) = lock(&self.caches.tokens).get(&hash) {
            if at.elapsed() < TOKEN_TTL {
                return Ok(p.clone());
            }
        }
        let user = self
            .store
            .user_by_token(&hash)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let role = Role::parse(&user.role).ok_or_else(|| {
            corrupt(format!(
                "user `{}` has unknown role `{}`",
                user.name, user.role
            ))
        })?;
        let p = Principal { user, role };
        let mut tokens = lock(&self.caches.tokens);
        if tokens.len() >= CACHE_ENTRIES {
            tokens.clear();
        }
        tokens.insert(hash, (p.clone(), Instant::now()));
        Ok(p)
    }

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
    /// a new token for it. `actor` is `None` only for the command line, which runs with the
    /// operator's own access to the database.
    pub async fn create_user(
        &self,
        actor: Option<&Principal>,
        name: &str,
        role: Role,
        partner_id: Option<&str>,
    ) -> Result<String, AppError> {
        if let Some(p) = actor {
            p.require(Action::ManageUsers)?;
        }
        if name.trim().is_empty() || name.len() > 100 {
            return Err(AppError::invalid("user", "must be 1 to 100 characters"));
        }
        if role == Role::Partner && partner_id.is_none_or(|p| p.trim().is_empty()) {
            return Err(AppError::invalid(
                "partner",
                "is required for the partner role",
            ));
        }
        let actor_name = actor.map_or("cli".to_owned(), |p| p.user.name.clone());
        let user = match self.store.user_by_name(name).await? {
            Some(u) if u.role == role.name() => u,
            Some(u) => {
                return Err(AppError::Conflict(format!(
                    "user `{name}` exists with the role `{}`",
                    u.role
                )));
            }
            None => {
                let u = User {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: name.to_owned(),
                    role: role.name().to_owned(),
                    partner_id: partner_id.map(str::to_owned),
                    created_at: now(),
                };
                let audit = self.audit(
                    &actor_name,
                    "create_user",
                    &format!("user/{name}"),
                    "",
                    vec![],
                );
                self.store.create_user(&u, &audit).await?;
                u
            }
        };
        let token = new_token();
        let audit = self.audit(
            &actor_name,
            "create_token",
            &format!("user/{name}"),
            "",
            vec![],
        );
        self.store
            .create_token(&token_hash(&token), &user.id, &audit)
            .await?;
        Ok(token)
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
        if let Some(reply) = self.replayed(p, meta).await? {
            return Ok(reply);
        }
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
        for e in &events {
            p.require(action_for(&e.kind))?;
        }
        let business_date = self.business_date().await?;
        check_dates(&events, business_date)?;
        let state = loan::replay(&terms, &events, business_date).map_err(|e| {
            AppError::invalid(format!("events[{}].{}", e.index, e.field), e.rule.clone())
        })?;

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
            approval: None,
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
        if let Some(reply) = self.replayed(p, meta).await? {
            return Ok(reply);
        }
        self.loan_command_with(p, loan_id, event, meta, None).await
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
        let state = loan::replay(&loaded.terms, &events, business_date).map_err(|e| {
            let field = if e.index == events.len() - 1 {
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
        })?;
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
        if decision.is_none() && self.policy.holds(&new) {
            return self
                .hold(
                    p,
                    action_for(&new.kind),
                    format!("loan/{loan_id}"),
                    event.to_string(),
                    meta,
                )
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

    /// Hold a valid command for a second user's approval.
    /// Hold a valid command for a second user's approval: answered 202 with the request.
    pub(crate) async fn hold(
        &self,
        p: &Principal,
        action: Action,
        target: String,
        payload: String,
        meta: &RequestMeta,
    ) -> Result<Reply, AppError> {
        let a = Approval {
            id: uuid::Uuid::now_v7().to_string(),
            action: action.name().to_owned(),
            target,
            payload,
            maker: p.user.name.clone(),
            status: "pending".into(),
            checker: None,
            created_at: now(),
            decided_at: None,
        };
        let audit = self.audit(
            &p.user.name,
            &format!("request_{}", action.name()),
            &format!("approval/{}", a.id),
            &meta.digest,
            vec![],
        );
        let reply = Reply {
            status: 202,
            body: json!({"approval": approval_json(&a)}),
        };
        match self
            .store
            .create_approval(&a, &audit, self.idempotency(p, meta, &reply).as_ref())
            .await
        {
            Ok(()) => Ok(reply),
            Err(StoreError::IdempotencyConflict { .. }) => self.after_key_race(p, meta).await,
            Err(e) => Err(e.into()),
        }
    }

    pub async fn approvals(&self, p: &Principal, status: Option<&str>) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        if let Some(s) = status {
            if !matches!(s, "pending" | "approved" | "rejected") {
                return Err(AppError::invalid(
                    "status",
                    "must be pending, approved or rejected",
                ));
            }
        }
        let list = self.store.approvals(status, 1000).await?;
        Ok(json!({"items": list.iter().map(approval_json).collect::<Vec<_>>()}))
    }

    pub async fn approval(&self, p: &Principal, id: &str) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        let a = self.pending_or_any(id).await?;
        Ok(approval_json(&a))
    }

    async fn pending_or_any(&self, id: &str) -> Result<Approval, AppError> {
        self.store
            .approval(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("approval `{id}`")))
    }

    async fn checkable(&self, p: &Principal, id: &str) -> Result<Approval, AppError> {
        p.require(Action::Approve)?;
        let a = self.pending_or_any(id).await?;
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
        Ok(a)
    }

    /// Approve a held command: it is carried out now, as the checker, with the approval marked
    /// in the same transaction.
    pub async fn approve(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<Reply, AppError> {
        let a = self.checkable(p, id).await?;
        if a.target.starts_with("product/") {
            p.require(Action::ManageProducts)?;
            let decision = Decision {
                approval_id: a.id.clone(),
                checker: p.user.name.clone(),
                at: now(),
            };
            return self.approve_product(p, &a, &decision, meta).await;
        }
        let loan_id = a
            .target
            .strip_prefix("loan/")
            .ok_or_else(|| corrupt(format!("approval `{id}` targets `{}`", a.target)))?;
        let event: Value = serde_json::from_str(&a.payload)
            .map_err(|e| corrupt(format!("approval `{id}` payload: {e}")))?;
        let decision = Decision {
            approval_id: a.id.clone(),
            checker: p.user.name.clone(),
            at: now(),
        };
        let meta = RequestMeta {
            idempotency_key: None,
            digest: meta.digest.clone(),
            dry_run: false,
        };
        match self
            .loan_command_with(p, loan_id, &event, &meta, Some(&decision))
            .await
        {
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
    ) -> Result<Value, AppError> {
        let a = self.checkable(p, id).await?;
        let decision = Decision {
            approval_id: a.id.clone(),
            checker: p.user.name.clone(),
            at: now(),
        };
        let audit = self.audit(
            &p.user.name,
            &format!("reject_{}", a.action),
            &format!("approval/{id}"),
            &meta.digest,
            vec![],
        );
        self.store.reject_approval(&decision, &audit).await?;
        let a = self.pending_or_any(id).await?;
        Ok(approval_json(&a))
    }

    fn idempotency(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        reply: &Reply,
    ) -> Option<IdempotencyRecord> {
        meta.idempotency_key.as_ref().map(|key| IdempotencyRecord {
            scope: p.user.id.clone(),
            key: key.clone(),
            request_digest: meta.digest.clone(),
            status: i64::from(reply.status),
            body: reply.body.to_string(),
        })
    }

    /// The stored reply of a request already done under this key, if any.
    async fn replayed(&self, p: &Principal, meta: &RequestMeta) -> Result<Option<Reply>, AppError> {
        let Some(key) = &meta.idempotency_key else {
            return Ok(None);
        };
        if meta.dry_run {
            return Ok(None);
        }
        match self.store.idempotency(&p.user.id, key).await? {
            None => Ok(None),
            Some(r) if r.request_digest == meta.digest => {
                let body = serde_json::from_str(&r.body)
                    .map_err(|e| corrupt(format!("stored reply for key `{key}`: {e}")))?;
                let status = u16::try_from(r.status).unwrap_or(200);
                Ok(Some(Reply { status, body }))
            }
            Some(_) => Err(AppError::IdempotencyMismatch(key.clone())),
        }
    }

    /// Another request with the same key committed first: answer as it did.
    async fn after_key_race(&self, p: &Principal, meta: &RequestMeta) -> Result<Reply, AppError> {
        match self.replayed(p, meta).await? {
            Some(r) => Ok(r),
            None => Err(AppError::Conflict("idempotency key in use; retry".into())),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Queries
    // -----------------------------------------------------------------------------------------

    /// A loan's record and parsed terms, from the cache or the store.
    async fn loan_record(&self, loan_id: &str) -> Result<Arc<(LoanRecord, Terms)>, AppError> {
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

    async fn load(&self, p: &Principal, loan_id: &str) -> Result<Loaded, AppError> {
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

    pub async fn list_loans(
        &self,
        p: &Principal,
        mut filter: LoanFilter,
    ) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        if p.role == Role::Partner {
            filter.partner_id = p.user.partner_id.clone();
        }
        if filter.limit <= 0 {
            filter.limit = 50;
        }
        let page = self.store.list_loans(&filter).await?;
        let next = if page.len() as i64 == filter.limit {
            page.last().map(|l| l.loan_id.clone())
        } else {
            None
        };
        let items: Vec<Value> = page
            .iter()
            .map(|l| {
                json!({
                    "id": l.loan_id,
                    "version": l.version,
                    "as_of": l.as_of,
                    "status": l.status,
                    "classification": l.classification,
                    "dpd": l.dpd,
                    "principal_outstanding": l.principal_outstanding,
                    "total_overdue": l.total_overdue,
                })
            })
            .collect();
        Ok(json!({ "items": items, "next_cursor": next }))
    }

    // -----------------------------------------------------------------------------------------
    // Integrity
    // -----------------------------------------------------------------------------------------

    /// Loans whose stored projection differs from a fresh replay of their events.
    pub async fn projection_mismatches(&self) -> Result<Vec<String>, AppError> {
        let system = Principal {
            user: User {
                id: "system".into(),
                name: "system".into(),
                role: "auditor".into(),
                partner_id: None,
                created_at: now(),
            },
            role: Role::Auditor,
        };
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

pub(crate) fn approval_json(a: &Approval) -> Value {
    json!({
        "id": a.id,
        "action": a.action,
        "target": a.target,
        "request": serde_json::from_str::<Value>(&a.payload).unwrap_or(Value::Null),
        "maker": a.maker,
        "status": a.status,
        "checker": a.checker,
        "created_at": a.created_at,
        "decided_at": a.decided_at,
    })
}

fn with_dry_run(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.insert("dry_run".into(), Value::Bool(true));
    }
    body
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

fn projection(loan_id: &str, version: i64, s: &LoanState) -> Projection {
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
