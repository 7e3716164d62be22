//! API tokens: issue with a lifetime, list, revoke, and authenticate with a cache that never
//! outlives an expiry or a revocation.
//!
//! How a revocation reaches a cached token at once, from any process: every revocation bumps the
//! store's revocation generation in the revoking transaction. Each authentication that finds
//! its token in the cache reads that generation (one row by primary key: the cheapest read the
//! database has, and the same row for every token, so it stays hot) and drops the cache when it
//! moved. The cache still spares the join of token and user and the role check; what it can no
//! longer do is answer for a token revoked by `loanbook token revoke` in another process. A
//! push (PostgreSQL `LISTEN`) would save the read but does not exist on SQLite, and a short
//! cache lifetime alone would leave a revoked token working for that lifetime. Expiry needs no
//! database at all: the cached entry carries it and is checked on every hit. Revocation through
//! this process's API also clears the cache directly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use loanbook_store::{NewToken, TokenRecord, User};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Action, Role, new_token, token_hash};
use crate::views::{TokenCreated, TokenList, TokenView};
use crate::{App, AppError, Principal, corrupt, lock};

/// `POST /v1/tokens`: a token for a user of a role (the user is created if new).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    #[schema(min_length = 1, max_length = 100)]
    pub user: String,
    pub role: Role,
    /// The co-lending partner's id: required for, and only for, the partner role.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub partner: Option<String>,
    /// `90d`, `12h`, `30m` or `none` (the default).
    #[serde(default)]
    #[schema(pattern = "^([1-9][0-9]{0,6}[dhm]|none)$", example = "90d")]
    pub expires: Option<String>,
}

/// How long a cached token is trusted before its user is read again (role changes).
const TOKEN_TTL: Duration = Duration::from_secs(30);
/// Most tokens held in the cache; it is emptied when full.
const CACHE_ENTRIES: usize = 100_000;
/// Longest lifetime a token may be given.
const MAX_LIFETIME_DAYS: i64 = 3650;
/// Characters of a token shown in lists: `lb_` and 8 hex digits (32 of its 256 random bits).
const PREFIX_LEN: usize = 11;

/// How long a new token is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Never,
    Seconds(i64),
}

impl Lifetime {
    /// `90d`, `12h`, `30m`, `45s`, or `none`.
    pub fn parse(text: &str) -> Result<Lifetime, AppError> {
        let rule = "must be a duration like 90d, 12h or 30m (at most 3650d), or none";
        let bad = || AppError::invalid("expires", rule);
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(Lifetime::Never);
        }
        if !text.is_ascii() {
            return Err(bad());
        }
        let (digits, unit) = text.split_at(text.len().saturating_sub(1));
        let unit_seconds = match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return Err(bad()),
        };
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let seconds = n.checked_mul(unit_seconds).ok_or_else(bad)?;
        if seconds == 0 || seconds > MAX_LIFETIME_DAYS * 86_400 {
            return Err(bad());
        }
        Ok(Lifetime::Seconds(seconds))
    }

    fn expires_at(self, from: jiff::Timestamp) -> Result<Option<jiff::Timestamp>, AppError> {
        match self {
            Lifetime::Never => Ok(None),
            Lifetime::Seconds(s) => from
                .checked_add(jiff::SignedDuration::from_secs(s))
                .map(Some)
                .map_err(|_| AppError::invalid("expires", "is too far in the future")),
        }
    }
}

/// Who a new token is for.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub user: &'a str,
    pub role: Role,
    /// For the partner role: the co-lending partner whose loans it may read.
    pub partner: Option<&'a str>,
    pub lifetime: Lifetime,
}

/// A token just made: the secret is in `token`, shown this once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub record: TokenRecord,
}

#[derive(Clone)]
struct Cached {
    principal: Principal,
    expires_at: Option<jiff::Timestamp>,
    generation: i64,
    at: Instant,
}

/// Tokens recently seen valid, by hash.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: std::sync::Mutex<HashMap<String, Cached>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Cached> {
        let mut entries = lock(&self.entries);
        match entries.get(hash) {
            Some(c) if c.at.elapsed() < TOKEN_TTL => Some(c.clone()),
            Some(_) => {
                entries.remove(hash);
                None
            }
            None => None,
        }
    }

    fn insert(&self, hash: String, c: Cached) {
        let mut entries = lock(&self.entries);
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, c);
    }

    fn remove(&self, hash: &str) {
        lock(&self.entries).remove(hash);
    }

    /// Forget every token cached before the revocation generation `generation`.
    fn forget_before(&self, generation: i64) {
        lock(&self.entries).retain(|_, c| c.generation >= generation);
    }

    fn clear(&self) {
        lock(&self.entries).clear();
    }
}

fn timestamp(what: &str, text: &str) -> Result<jiff::Timestamp, AppError> {
    text.parse()
        .map_err(|e| corrupt(format!("{what}: `{text}` is not a timestamp ({e})")))
}

/// Whether a token with this expiry is still valid at `at`.
fn valid_at(expires_at: Option<jiff::Timestamp>, at: jiff::Timestamp) -> bool {
    expires_at.is_none_or(|e| at < e)
}

impl App {
    /// The caller of a token that exists, is not revoked and has not expired.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AppError> {
        let hash = token_hash(token);
        let cache = &self.caches.tokens;
        if let Some(c) = cache.get(&hash) {
            if !valid_at(c.expires_at, self.clock.now()) {
                cache.remove(&hash);
                return Err(AppError::Unauthorized);
            }
            let generation = self.store.revocation_generation().await?;
            if generation == c.generation {
                return Ok(c.principal);
            }
            cache.forget_before(generation);
        }
        let grant = self
            .store
            .token_grant(&hash)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let expires_at = grant
            .expires_at
            .as_deref()
            .map(|e| timestamp(&format!("token `{}` expiry", grant.token_id), e))
            .transpose()?;
        if !valid_at(expires_at, self.clock.now()) {
            return Err(AppError::Unauthorized);
        }
        let role = Role::parse(&grant.user.role).ok_or_else(|| {
            corrupt(format!(
                "user `{}` has unknown role `{}`",
                grant.user.name, grant.user.role
            ))
        })?;
        let principal = Principal {
            user: grant.user,
            role,
        };
        cache.insert(
            hash,
            Cached {
                principal: principal.clone(),
                expires_at,
                generation: grant.generation,
                at: Instant::now(),
            },
        );
        Ok(principal)
    }

    /// Issue a token through the API: its secret is in the answer, and nowhere else.
    pub async fn create_token(
        &self,
        p: &Principal,
        cmd: &IssueToken,
    ) -> Result<TokenCreated, AppError> {
        let req = TokenRequest {
            user: &cmd.user,
            role: cmd.role,
            partner: cmd.partner.as_deref(),
            lifetime: Lifetime::parse(cmd.expires.as_deref().unwrap_or("none"))?,
        };
        let issued = self.issue_token(Some(p), &req).await?;
        Ok(TokenCreated {
            record: TokenView::at(&issued.record, self.clock.now()),
            token: issued.token,
        })
    }

    /// Every token, as listed.
    pub async fn token_list(&self, p: &Principal) -> Result<TokenList, AppError> {
        let now = self.clock.now();
        let tokens = self.tokens(Some(p)).await?;
        Ok(TokenList {
            tokens: tokens.iter().map(|t| TokenView::at(t, now)).collect(),
        })
    }

    /// Revoke a token through the API: the token as listed after.
    pub async fn revoke(&self, p: &Principal, id: &str) -> Result<TokenView, AppError> {
        let t = self.revoke_token(Some(p), id).await?;
        Ok(TokenView::at(&t, self.clock.now()))
    }

    /// Create a user with a role (or reuse the user of that name and role) and a new token for
    /// it. `actor` is `None` only for the command line, which runs with the operator's own
    /// access to the database.
    pub async fn issue_token(
        &self,
        actor: Option<&Principal>,
        req: &TokenRequest<'_>,
    ) -> Result<IssuedToken, AppError> {
        if let Some(p) = actor {
            p.require(Action::ManageUsers)?;
        }
        let name = req.user;
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("user", "must be 1 to 100 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "user",
                "must not contain control characters",
            ));
        }
        let partner = req.partner.map(str::trim).filter(|p| !p.is_empty());
        match (req.role, partner) {
            (Role::Partner, None) => {
                return Err(AppError::invalid(
                    "partner",
                    "is required for the partner role",
                ));
            }
            (Role::Partner, Some(p)) if p.chars().any(char::is_control) || p.len() > 100 => {
                return Err(AppError::invalid(
                    "partner",
                    "must be 1 to 100 characters without control characters",
                ));
            }
            (Role::Partner, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(AppError::invalid("partner", "is only for the partner role"));
            }
        }
        let created = self.clock.now();
        let expires_at = req.lifetime.expires_at(created)?;
        let actor_name = actor.map_or("cli".to_owned(), |p| p.user.name.clone());
        let user = match self.store.user_by_name(name).await? {
            Some(u) if u.role == req.role.name() && u.partner_id.as_deref() == partner => u,
            Some(u) => {
                return Err(AppError::Conflict(format!(
                    "user `{name}` exists with the role `{}`{}",
                    u.role,
                    u.partner_id
                        .map(|p| format!(" for the partner `{p}`"))
                        .unwrap_or_default()
                )));
            }
            None => {
                let u = User {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: name.to_owned(),
                    role: req.role.name().to_owned(),
                    partner_id: partner.map(str::to_owned),
                    created_at: self.now(),
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
        let new = NewToken {
            id: uuid::Uuid::now_v7().to_string(),
            hash: token_hash(&token),
            prefix: token.chars().take(PREFIX_LEN).collect(),
            user_id: user.id.clone(),
            created_at: created.to_string(),
            expires_at: expires_at.map(|e| e.to_string()),
        };
        let audit = self.audit(
            &actor_name,
            "create_token",
            &format!("token/{}", new.id),
            "",
            vec![],
        );
        self.store.issue_token(&new, &audit).await?;
        Ok(IssuedToken {
            token,
            record: TokenRecord {
                id: new.id,
                prefix: Some(new.prefix),
                user,
                created_at: new.created_at,
                expires_at: new.expires_at,
                revoked_at: None,
                revoked_by: None,
            },
        })
    }

    /// Every token, oldest first.
    pub async fn tokens(&self, actor: Option<&Principal>) -> Result<Vec<TokenRecord>, AppError> {
        if let Some(p) = actor {
            p.require(Action::ManageUsers)?;
        }
        Ok(self.store.tokens().await?)
    }

    /// Revoke a token: from now on it gets 401, here and in every other server on the database.
    /// Revoking a revoked token changes nothing and answers the token as it is.
    pub async fn revoke_token(
        &self,
        actor: Option<&Principal>,
        id: &str,
    ) -> Result<TokenRecord, AppError> {
        if let Some(p) = actor {
            p.require(Action::ManageUsers)?;
        }
        let actor_name = actor.map_or("cli".to_owned(), |p| p.user.name.clone());
        let audit = self.audit(
            &actor_name,
            "revoke_token",
            &format!("token/{id}"),
            "",
            vec![],
        );
        self.store
            .revoke_token(id, &audit.at, &actor_name, &audit)
            .await?;
        // This process need not wait for the generation check.
        self.caches.tokens.clear();
        self.store
            .token(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("token `{id}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_with_their_unit_and_refuse_the_rest() {
        assert_eq!(
            Lifetime::parse("90d").unwrap(),
            Lifetime::Seconds(90 * 86_400)
        );
        assert_eq!(
            Lifetime::parse("12h").unwrap(),
            Lifetime::Seconds(12 * 3_600)
        );
        assert_eq!(Lifetime::parse("30m").unwrap(), Lifetime::Seconds(1_800));
        assert_eq!(Lifetime::parse("none").unwrap(), Lifetime::Never);
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "1.5d",
            "1w",
            "3651d",
            "99999999999d",
            "90 d",
            "+5h",
            "é",
        ] {
            assert!(Lifetime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiry_is_exclusive() {
        let t: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        assert!(valid_at(None, t));
        assert!(!valid_at(Some(t), t));
        assert!(valid_at(Some(t), t - jiff::SignedDuration::from_secs(1)));
    }
}
