//! Authentication at the edge: the bearer token, its rate limit, and the defences against a
//! flood of bad tokens.
//!
//! - `Authorization: Bearer TOKEN`; the scheme is case-insensitive.
//! - A token that failed (unknown, revoked, expired) is remembered by hash in a bounded
//!   negative cache, so the same bad token again never reaches the database.
//! - Failed authentications are limited per client address (a keyed GCRA limiter): past the
//!   limit the address is answered 429 with `Retry-After`, without a database read, until
//!   the limiter has a cell for it again. So distinct bad tokens from one address reach the
//!   database at most at that rate.
//! - Authenticated requests are limited per token (keyed by the token's hash).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use loanbook_app::{App, AppError, Principal, token_hash};

use crate::{Problem, WebConfig, request_id};

/// Bad token hashes remembered.
const REJECTED_ENTRIES: u64 = 10_000;
/// How long a bad token is remembered. A token unknown now cannot become valid later (a new
/// token is a new random secret), and a revoked or expired one stays so.
const REJECTED_TTL: Duration = Duration::from_secs(600);
/// Addresses held back at once.
const BLOCKED_ENTRIES: u64 = 10_000;
/// Limiter keys kept before the idle ones are swept.
const LIMITER_KEYS: usize = 10_000;
/// Longest token accepted in the header.
const MAX_TOKEN_LEN: usize = 256;

pub(crate) struct Guard {
    per_token: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    token_rate: u32,
    rejected: moka::sync::Cache<String, ()>,
    /// Addresses over their failure limit, with the instant they may try again.
    blocked: moka::sync::Cache<IpAddr, Instant>,
}

fn quota(per_second: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
}

/// Whole seconds to wait, at least one.
fn seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl Guard {
    pub(crate) fn new(config: &WebConfig) -> Guard {
        Guard {
            per_token: RateLimiter::keyed(quota(config.rate_limit)),
            per_address: RateLimiter::keyed(quota(config.auth_failure_limit)),
            token_rate: config.rate_limit,
            rejected: moka::sync::Cache::builder()
                .max_capacity(REJECTED_ENTRIES)
                .time_to_live(REJECTED_TTL)
                .build(),
            blocked: moka::sync::Cache::builder()
                .max_capacity(BLOCKED_ENTRIES)
                .time_to_live(Duration::from_secs(60))
                .build(),
        }
    }

    /// 429 while the address is over its failure limit.
    fn check_blocked(&self, client: IpAddr) -> Result<(), Problem> {
        match self.blocked.get(&client) {
            Some(until) if until > Instant::now() => Err(too_many_failures(
                until.saturating_duration_since(Instant::now()),
            )),
            _ => Ok(()),
        }
    }

    /// A failed authentication: 401, or 429 once the address is over its limit.
    fn failed(&self, client: IpAddr) -> Problem {
        if self.per_address.len() > LIMITER_KEYS {
            self.per_address.retain_recent();
        }
        match self.per_address.check_key(&client) {
            Ok(()) => Problem::from(AppError::Unauthorized),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.per_address.clock().now());
                self.blocked.insert(client, Instant::now() + wait);
                too_many_failures(wait)
            }
        }
    }

    fn within_token_rate(&self, hash: &str) -> Result<(), Problem> {
        if self.per_token.len() > LIMITER_KEYS {
            self.per_token.retain_recent();
        }
        self.per_token
            .check_key(&hash.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.per_token.clock().now());
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    &format!(
                        "more than {} requests in one second with this token",
                        self.token_rate
                    ),
                )
                .retry_after(seconds(wait))
            })
    }
}

fn too_many_failures(wait: Duration) -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "too many failed authentications from this address",
    )
    .retry_after(seconds(wait))
}

/// The token of `Authorization: Bearer TOKEN` (any case of `Bearer`).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    let token = token.trim();
    let fine = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_graphic());
    fine.then_some(token)
}

/// The caller, within the limits.
pub(crate) async fn principal(
    app: &App,
    guard: &Guard,
    headers: &HeaderMap,
) -> Result<Principal, Problem> {
    let client = request_id::client();
    let Some(token) = bearer(headers) else {
        return Err(guard.failed(client));
    };
    let hash = token_hash(token);
    if guard.rejected.contains_key(&hash) {
        return Err(guard.failed(client));
    }
    guard.check_blocked(client)?;
    match app.authenticate(token).await {
        Ok(p) => {
            guard.within_token_rate(&hash)?;
            request_id::set_user(&p.user.name);
            Ok(p)
        }
        Err(AppError::Unauthorized) => {
            guard.rejected.insert(hash, ());
            Err(guard.failed(client))
        }
        Err(e) => Err(Problem::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer(&auth("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&auth("bearer abc")), Some("abc"));
        assert_eq!(bearer(&auth("BEARER   abc ")), Some("abc"));
        assert_eq!(bearer(&auth("Basic abc")), None);
        assert_eq!(bearer(&auth("Bearer")), None);
        assert_eq!(bearer(&auth("Bearer a b")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(seconds(Duration::ZERO), 1);
        assert_eq!(seconds(Duration::from_millis(10)), 1);
        assert_eq!(seconds(Duration::from_secs(1)), 1);
        assert_eq!(seconds(Duration::from_millis(1500)), 2);
    }
}
