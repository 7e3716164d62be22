//! Webhooks: subscribers receive outbox messages at least once, one at a time per endpoint in
//! outbox order (so in order per loan), signed per the Standard Webhooks specification, retried
//! with exponential backoff.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use loanbook_store::{Attempt, OutboxMessage, WebhookEndpoint};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::views::{
    CommandOutcome, DeliveryList, DeliveryView, WebhookCreated, WebhookList, WebhookView,
};
use crate::{Action, App, AppError, Principal, RequestMeta};

/// Subscribe a URL to outbox topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An `http://` or `https://` URL.
    #[schema(
        max_length = 2000,
        pattern = "^https?://",
        example = "https://example.com/hooks"
    )]
    pub url: String,
    /// Topics, or `["*"]` for all (the default).
    #[serde(default)]
    #[schema(min_items = 1)]
    pub topics: Option<Vec<String>>,
}

/// Every topic the outbox carries, which a webhook can subscribe to.
pub const TOPICS: &[&str] = &[
    "loan.booked",
    "loan.disbursed",
    "payment.posted",
    "payment.reversed",
    "loan.charge",
    "loan.waiver",
    "loan.prepayment",
    "loan.rate_change",
    "loan.restructure",
    "loan.write_off",
    "loan.loss_identified",
    "loan.recovery",
    "loan.settlement",
    "loan.foreclosure",
    "loan.class_changed",
    "loan.borrower_classification",
    "loan.installment_due",
    "loan.mandate_changed",
    "loan.mandate_status",
    "audit.checkpoint",
    // An application's events, each `application.{event}` (see `app::origination`).
    "application.drafted",
    "application.edited",
    "application.submitted",
    "application.bureau_pulled",
    "application.bank_data_added",
    "application.assessed",
    "application.credit_decided",
    "application.sanctioned",
    "application.partner_requested",
    "application.partner_decided",
    "application.partner_lapsed",
    "application.accepted",
    "application.checklist_ticked",
    "application.payout_sent",
    "application.payout_failed",
    "application.payout_unknown",
    "application.disbursed",
    "application.tranche_disbursed",
    "application.withdrawn",
    "application.expired",
];

/// Attempts before a delivery is given up (about a day and a half of backoff).
pub const MAX_ATTEMPTS: i64 = 18;

/// Wait before attempt `n + 1` after `n` failures: 1 s doubling, at most an hour.
pub fn backoff(failures: i64) -> Duration {
    let exp = u32::try_from(failures.clamp(0, 12)).unwrap_or(12);
    Duration::from_secs((1u64 << exp).min(3600))
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// The `webhook-signature` header value for a message: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under the secret's key.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn body(m: &OutboxMessage) -> String {
    json!({
        "type": m.topic,
        "timestamp": m.created_at,
        "data": serde_json::from_str::<Value>(&m.payload).unwrap_or(Value::Null),
    })
    .to_string()
}

fn later(now: jiff::Timestamp, d: Duration) -> String {
    let span = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::from_secs(3600));
    now.checked_add(span).unwrap_or(now).to_string()
}

impl App {
    /// Subscribe a URL to topics (`*` for all); the answer carries the signing secret, once.
    pub async fn create_webhook(
        &self,
        p: &Principal,
        cmd: &CreateWebhook,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<WebhookCreated>, AppError> {
        p.require(Action::ManageWebhooks)?;
        self.keyed(p, meta, || self.create_webhook_once(p, cmd, meta))
            .await
    }

    async fn create_webhook_once(
        &self,
        p: &Principal,
        cmd: &CreateWebhook,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<WebhookCreated>, AppError> {
        let u = &cmd.url;
        if !((u.starts_with("http://") || u.starts_with("https://")) && u.len() <= 2000) {
            return Err(AppError::invalid(
                "url",
                "must be an http:// or https:// URL of at most 2000 characters",
            ));
        }
        let url = u.clone();
        let topics: Vec<String> = match &cmd.topics {
            None => vec!["*".into()],
            Some(a) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    if t == "*" || TOPICS.contains(&t.as_str()) {
                        Ok(t.clone())
                    } else {
                        Err(AppError::invalid(
                            format!("topics[{i}]"),
                            format!("must be `*` or one of: {}", TOPICS.join(", ")),
                        ))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(AppError::invalid(
                    "topics",
                    "must be a non-empty list of topics, or [\"*\"]",
                ));
            }
        };
        let w = WebhookEndpoint {
            id: uuid::Uuid::now_v7().to_string(),
            url,
            secret: new_secret(),
            topics,
            active: true,
            created_at: self.now(),
        };
        let audit = self.audit(
            &p.user.name,
            "create_webhook",
            &format!("webhook/{}", w.id),
            &meta.digest,
            vec![],
        );
        let outcome = CommandOutcome::created(WebhookCreated {
            id: w.id.clone(),
            url: w.url.clone(),
            topics: w.topics.clone(),
            active: w.active,
            secret: w.secret.clone(),
            created_at: w.created_at.clone(),
        });
        self.store
            .create_webhook(&w, &audit, self.idempotency(p, meta, &outcome)?.as_ref())
            .await?;
        Ok(outcome)
    }

    pub async fn webhooks(&self, p: &Principal) -> Result<WebhookList, AppError> {
        p.require(Action::ReadWebhooks)?;
        let list = self.store.webhooks().await?;
        Ok(WebhookList {
            items: list.iter().map(WebhookView::from).collect(),
        })
    }

    pub async fn webhook_deliveries(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<DeliveryList, AppError> {
        p.require(Action::ReadWebhooks)?;
        if !self.store.webhooks().await?.iter().any(|w| w.id == id) {
            return Err(AppError::NotFound(format!("webhook `{id}`")));
        }
        let list = self.store.deliveries(id, 200).await?;
        Ok(DeliveryList {
            items: list.iter().map(DeliveryView::from).collect(),
        })
    }

    /// One pass of the relay: queue new outbox messages for their endpoints, then attempt every
    /// due delivery. Returns the number of attempts made.
    pub async fn relay_once(&self, http: &reqwest::Client) -> Result<usize, AppError> {
        self.store.dispatch_outbox(&self.now(), 500).await?;
        let due = self.store.due_deliveries(&self.now()).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let endpoints = self.store.webhooks().await?;
        let mut attempts = 0;
        for (d, m) in due {
            let Some(w) = endpoints.iter().find(|w| w.id == d.endpoint_id) else {
                continue;
            };
            let body = body(&m);
            let timestamp = self.clock.now().as_second();
            let outcome = match sign(&w.secret, &m.id, timestamp, &body) {
                None => Err("the endpoint's secret is not valid base64".to_owned()),
                Some(signature) => http
                    .post(&w.url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &m.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| {
                        if r.status().is_success() {
                            Ok(())
                        } else {
                            Err(format!("answered {}", r.status()))
                        }
                    }),
            };
            let attempt = match outcome {
                Ok(()) => Attempt::Delivered { at: self.now() },
                Err(error) => Attempt::Failed {
                    error,
                    next_attempt_at: (d.attempts + 1 < MAX_ATTEMPTS)
                        .then(|| later(self.clock.now(), backoff(d.attempts))),
                },
            };
            self.store
                .record_attempt(&d.endpoint_id, d.outbox_position, &attempt)
                .await?;
            attempts += 1;
        }
        Ok(attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), Duration::from_secs(3600));
        assert!(new_secret().starts_with("whsec_"));
    }
}
