//! Idempotent writes. An `Idempotency-Key` belongs to one user and one request target: the
//! method and the path with its ids (`POST /v1/loans/ID/payments`). A key is reserved before its
//! request runs and completed, in the request's own transaction, with the typed answer and its
//! outcome kind (in the record's `status` column, see [`OutcomeKind::code`]); so a retry gets
//! the stored reply, a copy racing its original waits for it (or is told it is still running),
//! and the key never answers for another loan, route or body.

use std::future::Future;
use std::time::Duration;

use loanbook_store::{IN_PROGRESS, IdempotencyRecord, KeyReservation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::views::{Answer, CommandOutcome, HeldView, OutcomeKind};
use crate::{App, AppError, Principal, RequestMeta, corrupt};

/// How long a copy of a request waits for the original to finish before it is answered
/// `request-in-progress`.
const WAIT_FOR_ORIGINAL: Duration = Duration::from_secs(5);
/// How often the waiting copy looks again.
const POLL: Duration = Duration::from_millis(20);
/// A reservation older than this belongs to a request whose process died: every request ends
/// (answers or times out) within 30 s, so twice that is safe.
const STALE_AFTER_MS: i64 = 60_000;

impl App {
    /// Run a write under the request's idempotency key, if it has one. `run` must store its
    /// reply with [`App::idempotency`] in the transaction that makes the change; when it fails,
    /// the reservation is dropped so the key can be used again.
    pub(crate) async fn keyed<T, F, Fut>(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        run: F,
    ) -> Result<CommandOutcome<T>, AppError>
    where
        T: DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CommandOutcome<T>, AppError>>,
    {
        let Some(key) = meta.idempotency_key.as_deref() else {
            return run().await;
        };
        if meta.dry_run {
            return run().await;
        }
        let wanted = IdempotencyRecord {
            scope: p.user.id.clone(),
            key: key.to_owned(),
            target: meta.target.clone(),
            request_digest: meta.digest.clone(),
            status: IN_PROGRESS,
            body: String::new(),
        };
        let waited = tokio::time::Instant::now();
        loop {
            let at = self.clock.now();
            let ms = at.as_millisecond();
            match self
                .store
                .reserve_key(&wanted, &at.to_string(), ms, ms - STALE_AFTER_MS)
                .await?
            {
                KeyReservation::Reserved => break,
                KeyReservation::Taken(found) => {
                    same_request(&wanted, &found)?;
                    if found.status != IN_PROGRESS {
                        return stored_reply(&found);
                    }
                    if waited.elapsed() >= WAIT_FOR_ORIGINAL {
                        return Err(AppError::InProgress(key.to_owned()));
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
        let result = run().await;
        if result.is_err() {
            if let Err(e) = self.store.release_key(&wanted.scope, key).await {
                // The reservation goes stale and is taken over after STALE_AFTER_MS.
                tracing::warn!(error = %e, key, "could not release an idempotency key");
            }
        }
        result
    }

    /// The record that stores `outcome` under the request's key, written with the change.
    pub(crate) fn idempotency<T: Serialize>(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        outcome: &CommandOutcome<T>,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let Some(key) = &meta.idempotency_key else {
            return Ok(None);
        };
        let body = serde_json::to_string(&outcome.answer)
            .map_err(|e| corrupt(format!("answer for key `{key}`: {e}")))?;
        Ok(Some(IdempotencyRecord {
            scope: p.user.id.clone(),
            key: key.clone(),
            target: meta.target.clone(),
            request_digest: meta.digest.clone(),
            status: outcome.kind.code(),
            body,
        }))
    }

    /// The change was refused at commit because the key was completed meanwhile (a copy of
    /// this request outside the reservation, such as an approval's stored reply): answer as
    /// the stored reply does.
    pub(crate) async fn after_key_race<T: DeserializeOwned>(
        &self,
        p: &Principal,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<T>, AppError> {
        let Some(key) = meta.idempotency_key.as_deref() else {
            return Err(AppError::Conflict("the request conflicted; retry".into()));
        };
        let found = self.store.idempotency(&p.user.id, key).await?;
        match found {
            Some(found) if found.status != IN_PROGRESS => {
                same_request(
                    &IdempotencyRecord {
                        scope: p.user.id.clone(),
                        key: key.to_owned(),
                        target: meta.target.clone(),
                        request_digest: meta.digest.clone(),
                        status: IN_PROGRESS,
                        body: String::new(),
                    },
                    &found,
                )?;
                stored_reply(&found)
            }
            _ => Err(AppError::InProgress(key.to_owned())),
        }
    }
}

/// A key answers only the request it was first used for.
fn same_request(wanted: &IdempotencyRecord, found: &IdempotencyRecord) -> Result<(), AppError> {
    if found.target != wanted.target {
        return Err(AppError::IdempotencyMismatch {
            key: wanted.key.clone(),
            why: format!("was used for `{}`", found.target),
        });
    }
    if found.request_digest != wanted.request_digest {
        return Err(AppError::IdempotencyMismatch {
            key: wanted.key.clone(),
            why: "was used with a different body".into(),
        });
    }
    Ok(())
}

/// The stored answer, typed again, marked as replayed.
fn stored_reply<T: DeserializeOwned>(r: &IdempotencyRecord) -> Result<CommandOutcome<T>, AppError> {
    let kind = OutcomeKind::from_code(r.status)
        .ok_or_else(|| corrupt(format!("stored outcome {} for key `{}`", r.status, r.key)))?;
    let bad = |e: serde_json::Error| corrupt(format!("stored answer for key `{}`: {e}", r.key));
    let answer = match kind {
        OutcomeKind::Held => Answer::Held(Box::new(
            serde_json::from_str::<HeldView>(&r.body).map_err(bad)?,
        )),
        OutcomeKind::Created | OutcomeKind::Done => {
            Answer::Done(serde_json::from_str::<T>(&r.body).map_err(bad)?)
        }
    };
    Ok(CommandOutcome {
        kind,
        answer,
        replayed: true,
    })
}
