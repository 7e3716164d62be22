//! Loanbook's use cases. Every write is a command: validated by the domain engine (errors name
//! the field and the rule), authorised by role, idempotent under a key, and written with its
//! projection, audit record and outbox messages in one transaction. Reads replay the loan's
//! events, so every figure can be explained from them.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod approvals;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod collections;
pub mod documents;
pub mod eod;
pub mod gl;
mod idempotency;
pub mod masking;
pub mod origination;
pub mod outbox;
pub mod parties;
pub mod policy;
pub mod products;
pub mod provisioning;
pub mod servicing;
pub mod state_view;
pub mod tokens;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use loanbook_domain::calendar::Date;
use loanbook_domain::terms::{FieldError, Terms};
use loanbook_store::{AuditEntry, LoanRecord, Store, User};

use serde::Deserialize;
use utoipa::ToSchema;

pub use auth::{Action, Role, digest, new_token, token_hash};
pub use clock::{Clock, FixedClock, SystemClock};
pub use loanbook_store::StoreError;
pub use policy::ApprovalPolicy;
pub use views::{Answer, CommandOutcome, OutcomeKind};

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

/// Move the book's business date (forward only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBusinessDate {
    #[serde(deserialize_with = "loanbook_domain::calendar::strict_date::deserialize")]
    #[schema(value_type = String, format = Date, example = "2024-02-01")]
    pub date: Date,
}

/// How many times a command is tried when it loses a race for its loan.
pub(crate) const MAX_ATTEMPTS: u32 = 64;

pub struct App {
    store: Arc<dyn Store>,
    book: String,
    policy: ApprovalPolicy,
    clock: Arc<dyn Clock>,
    caches: Caches,
    connectors: origination::Connectors,
}

/// What the service keeps in memory to spare the database: a loan's record and terms never
/// change once booked (the least recently used give way when it is full); a token's user is
/// re-read after a short time, and never outlives the token's expiry or revocation (see
/// [`tokens`]); the business date is re-read every second.
struct Caches {
    loans: moka::sync::Cache<String, Arc<(LoanRecord, Terms)>>,
    tokens: tokens::TokenCache,
    business_date: moka::sync::Cache<(), Date>,
    /// Each loan's newest snapshot seen here (see [`servicing`]'s resume).
    snapshots: moka::sync::Cache<String, Arc<loanbook_domain::loan::Snapshot>>,
}

const CACHE_ENTRIES: u64 = 100_000;
/// Snapshots held in memory (each the size of a loan's schedule and receipts).
const SNAPSHOT_ENTRIES: u64 = 10_000;
const DATE_TTL: Duration = Duration::from_secs(1);

impl Caches {
    fn new() -> Caches {
        Caches {
            loans: moka::sync::Cache::new(CACHE_ENTRIES),
            tokens: tokens::TokenCache::default(),
            snapshots: moka::sync::Cache::new(SNAPSHOT_ENTRIES),
            business_date: moka::sync::Cache::builder()
                .max_capacity(1)
                .time_to_live(DATE_TTL)
                .build(),
        }
    }
}

pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a cache lock leaves a cache, not money, in doubt: keep using it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn corrupt(what: String) -> AppError {
    AppError::Store(StoreError::Corrupt(what))
}

impl App {
    /// The service over `store`, for the book `book` (created with the clock's date as its
    /// business date), reading the time from `clock`.
    pub async fn new(
        store: Arc<dyn Store>,
        book: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<App, AppError> {
        let today = clock.today().to_string();
        let now = clock.now().to_string();
        store.ensure_book(book, book, &today, &now).await?;
        Ok(App {
            store,
            book: book.to_owned(),
            policy: ApprovalPolicy::default(),
            clock,
            caches: Caches::new(),
            connectors: origination::Connectors::default(),
        })
    }

    /// The time now, as the clock tells it (RFC 3339).
    pub(crate) fn now(&self) -> String {
        self.clock.now().to_string()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Replace the connectors origination calls (the bureau, the Account Aggregator, the
    /// payout rails).
    pub fn with_connectors(mut self, connectors: origination::Connectors) -> App {
        self.connectors = connectors;
        self
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
        if let Some(d) = self.caches.business_date.get(&()) {
            return Ok(d);
        }
        let text = self.store.business_date(&self.book).await?;
        let d: Date = text
            .parse()
            .map_err(|e| corrupt(format!("business date `{text}`: {e}")))?;
        self.caches.business_date.insert((), d);
        Ok(d)
    }

    /// Move the book's business date forward (until the close of business does it): the date
    /// value-dated events may not pass. Admin only; never backwards.
    pub async fn set_business_date(
        &self,
        actor: Option<&Principal>,
        cmd: &SetBusinessDate,
    ) -> Result<views::BusinessDateChanged, AppError> {
        let to = cmd.date;
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
        self.caches.business_date.insert((), to);
        let refreshed = self.refresh_projections(to).await?;
        Ok(views::BusinessDateChanged {
            book: self.book.clone(),
            business_date: to.to_string(),
            previous: from.to_string(),
            projections_refreshed: refreshed,
        })
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
            at: self.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            request_digest: digest.to_owned(),
            event_ids,
        }
    }
}
