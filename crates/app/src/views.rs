//! Everything the service answers, typed: the results of commands and the views of queries.
//! Money is a decimal string in the loan's currency, dates are `YYYY-MM-DD`, timestamps RFC 3339.
//! Each type derives its JSON Schema, so the API's contract is these types.
//!
//! A view a role without a need for identities sees is masked when it is made
//! ([`PartyView::for_reader`]): no view carries personal data its reader may not see.

use loanbook_store::{
    Approval, AuditRecord, Delivery, LoanListing, Party, ProductVersion, StoredEvent, TokenRecord,
    WebhookEndpoint,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A JSON document the service keeps as given (a product's configuration, a party's details,
/// a held request) or the engine writes (a loan's state, an event): an object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[schema(value_type = Object)]
#[serde(transparent)]
pub struct Document(Value);

impl Document {
    pub(crate) fn new(v: Value) -> Document {
        Document(v)
    }

    /// A stored JSON text; what does not parse reads as `null` (it was written by this service).
    pub(crate) fn parse(text: &str) -> Document {
        Document(serde_json::from_str(text).unwrap_or(Value::Null))
    }

    /// The document as JSON text.
    pub fn to_json(&self) -> String {
        self.0.to_string()
    }

    pub(crate) fn value(&self) -> &Value {
        &self.0
    }
}

/// How a command ended, which the HTTP layer answers as 201, 200 or 202.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Something new was written.
    Created,
    /// Done without creating anything (a decision, a dry run).
    Done,
    /// Held for a second user's approval; nothing changed yet.
    Held,
}

impl OutcomeKind {
    /// The code stored with an idempotency record. Records written before outcomes were typed
    /// hold an HTTP status; [`OutcomeKind::from_code`] reads those too.
    pub(crate) fn code(self) -> i64 {
        match self {
            OutcomeKind::Created => 1,
            OutcomeKind::Done => 2,
            OutcomeKind::Held => 3,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<OutcomeKind> {
        match code {
            1 | 201 => Some(OutcomeKind::Created),
            2 | 200 => Some(OutcomeKind::Done),
            3 | 202 => Some(OutcomeKind::Held),
            _ => None,
        }
    }
}

/// What a command answers: its result, or the approval request that holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer<T> {
    Done(T),
    Held(Box<HeldView>),
}

/// A command's outcome. `replayed` when it is the stored answer to an earlier request under
/// the same idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome<T> {
    pub kind: OutcomeKind,
    pub answer: Answer<T>,
    pub replayed: bool,
}

impl<T> CommandOutcome<T> {
    pub(crate) fn created(result: T) -> CommandOutcome<T> {
        CommandOutcome {
            kind: OutcomeKind::Created,
            answer: Answer::Done(result),
            replayed: false,
        }
    }

    pub(crate) fn done(result: T) -> CommandOutcome<T> {
        CommandOutcome {
            kind: OutcomeKind::Done,
            answer: Answer::Done(result),
            replayed: false,
        }
    }

    pub(crate) fn held(held: HeldView) -> CommandOutcome<T> {
        CommandOutcome {
            kind: OutcomeKind::Held,
            answer: Answer::Held(Box::new(held)),
            replayed: false,
        }
    }

    /// The result, when the command was not held.
    pub fn result(&self) -> Option<&T> {
        match &self.answer {
            Answer::Done(t) => Some(t),
            Answer::Held(_) => None,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A booked loan (or, on a dry run, the loan it would be, with its whole schedule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookingResult {
    pub id: String,
    pub loan_number: String,
    pub version: i64,
    /// SHA-256 (hex) of the booked terms.
    pub terms_hash: String,
    pub state: crate::state_view::LoanStateView,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

/// An event as a loan holds it: its place in the loan's stream and its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeqEvent {
    pub seq: i64,
    #[schema(value_type = loanbook_domain::events::EventDocV1)]
    pub event: Document,
}

/// A loan command's result: the event appended and the loan's state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CommandResult {
    pub loan_id: String,
    pub version: i64,
    pub event: SeqEvent,
    pub state: crate::state_view::LoanStateView,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

/// A loan on a date: its record and its state by replay of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoanView {
    pub id: String,
    pub loan_number: String,
    pub terms_hash: String,
    pub product_id: Option<String>,
    pub product_version: Option<i64>,
    pub borrower_id: Option<String>,
    /// The application the loan was booked from, when origination booked it.
    pub application_id: Option<String>,
    pub version: i64,
    pub state: crate::state_view::LoanStateView,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredEventView {
    pub seq: i64,
    #[schema(format = Date)]
    pub value_date: String,
    #[schema(format = DateTime)]
    pub recorded_at: String,
    #[schema(value_type = loanbook_domain::events::EventDocV1)]
    pub event: Document,
}

impl From<&StoredEvent> for StoredEventView {
    fn from(s: &StoredEvent) -> Self {
        StoredEventView {
            seq: s.seq,
            value_date: s.value_date.clone(),
            recorded_at: s.recorded_at.clone(),
            event: Document::parse(&s.event),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoanEventsView {
    pub loan_id: String,
    pub events: Vec<StoredEventView>,
}

/// What closing the loan on `date` would cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForeclosureQuote {
    pub loan_id: String,
    #[schema(format = Date)]
    pub date: String,
    #[schema(example = "98000.00")]
    pub amount: String,
}

/// A loan in the list: its stored projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoanRow {
    pub id: String,
    pub loan_number: String,
    pub version: i64,
    #[schema(format = Date)]
    pub as_of: String,
    pub status: String,
    pub classification: String,
    pub dpd: i64,
    pub principal_outstanding: Option<String>,
    pub total_overdue: Option<String>,
}

impl From<&LoanListing> for LoanRow {
    fn from(l: &LoanListing) -> Self {
        let p = &l.projection;
        let state: Value = serde_json::from_str(&p.state).unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        LoanRow {
            id: p.loan_id.clone(),
            loan_number: l.loan_number.clone(),
            version: p.version,
            as_of: p.as_of.clone(),
            status: p.status.clone(),
            classification: p.classification.clone(),
            dpd: p.dpd,
            principal_outstanding: text(&state["balances"]["principal_outstanding"]),
            total_overdue: text(&state["total_overdue"]),
        }
    }
}

/// A page of loans; `next_cursor` is the `cursor` of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoanPage {
    pub items: Vec<LoanRow>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BusinessDateView {
    #[schema(format = Date)]
    pub business_date: String,
}

/// The business date moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BusinessDateChanged {
    pub book: String,
    #[schema(format = Date)]
    pub business_date: String,
    #[schema(format = Date)]
    pub previous: String,
    /// Loans whose projection was brought to the new date.
    pub projections_refreshed: usize,
}

/// A request held for approval, or decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalView {
    pub id: String,
    pub action: String,
    pub target: String,
    /// The held request.
    pub request: Document,
    pub maker: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub checker: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl From<&Approval> for ApprovalView {
    fn from(a: &Approval) -> Self {
        ApprovalView {
            id: a.id.clone(),
            action: a.action.clone(),
            target: a.target.clone(),
            request: Document::parse(&a.payload),
            maker: a.maker.clone(),
            status: a.status.clone(),
            checker: a.checker.clone(),
            created_at: a.created_at.clone(),
            decided_at: a.decided_at.clone(),
        }
    }
}

/// A write held for a second user's approval, with the rule that held it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeldView {
    pub approval: ApprovalView,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalList {
    pub items: Vec<ApprovalView>,
}

/// What approving a held request did: the held command's own result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Approved {
    Command(CommandResult),
    Booking(BookingResult),
    Product(ProductView),
    Provisioning(crate::provisioning::ProvisioningView),
    FailureTable(crate::collections::failure_table::FailureTableView),
}

/// A product version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    pub code: String,
    pub name: String,
    pub version: i64,
    pub config: Document,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&ProductVersion> for ProductView {
    fn from(v: &ProductVersion) -> Self {
        ProductView {
            code: v.code.clone(),
            name: v.name.clone(),
            version: v.version,
            config: Document::parse(&v.config),
            created_at: v.created_at.clone(),
        }
    }
}

/// A product change: the version written, or on a dry run the version it would be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ProductChange {
    DryRun { product: ProductView, dry_run: bool },
    Written(ProductView),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<ProductView>,
}

/// A party as its reader may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartyView {
    pub id: String,
    /// `borrower`, `guarantor` or `partner`.
    pub kind: String,
    pub name: String,
    /// Identifiers masked for roles that do not need them.
    pub details: Document,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl PartyView {
    /// The party for a reader: `privileged` readers see identifiers, others see them masked.
    pub(crate) fn for_reader(party: &Party, privileged: bool) -> PartyView {
        let mut details: Value = serde_json::from_str(&party.details).unwrap_or(Value::Null);
        if !privileged {
            crate::masking::mask_value(&mut details);
        }
        PartyView {
            id: party.id.clone(),
            kind: party.kind.clone(),
            name: party.name.clone(),
            details: Document::new(details),
            created_at: party.created_at.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartyPage {
    pub items: Vec<PartyView>,
    pub next_cursor: Option<String>,
}

/// A webhook endpoint as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub topics: Vec<String>,
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookView {
    fn from(w: &WebhookEndpoint) -> Self {
        WebhookView {
            id: w.id.clone(),
            url: w.url.clone(),
            topics: w.topics.clone(),
            active: w.active,
            created_at: w.created_at.clone(),
        }
    }
}

/// A new webhook endpoint with its signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookCreated {
    pub id: String,
    pub url: String,
    pub topics: Vec<String>,
    pub active: bool,
    /// `whsec_` and the base64 key (Standard Webhooks).
    pub secret: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// One message's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub endpoint_id: String,
    pub outbox_position: i64,
    pub attempts: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            endpoint_id: d.endpoint_id.clone(),
            outbox_position: d.outbox_position,
            attempts: d.attempts,
            status: d.status.clone(),
            next_attempt_at: d.next_attempt_at.clone(),
            last_error: d.last_error.clone(),
            delivered_at: d.delivered_at.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
}

/// An API token as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    /// `lb_` and the first 8 hex digits.
    pub prefix: Option<String>,
    pub user: String,
    pub role: String,
    pub partner: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

impl TokenView {
    /// The token as listed at `now` (which decides whether it has expired).
    pub fn at(t: &TokenRecord, now: jiff::Timestamp) -> TokenView {
        let expired = t
            .expires_at
            .as_deref()
            .and_then(|e| e.parse::<jiff::Timestamp>().ok())
            .is_some_and(|e| now >= e);
        let status = if t.revoked_at.is_some() {
            "revoked"
        } else if expired {
            "expired"
        } else {
            "active"
        };
        TokenView {
            id: t.id.clone(),
            prefix: t.prefix.clone(),
            user: t.user.name.clone(),
            role: t.user.role.clone(),
            partner: t.user.partner_id.clone(),
            created_at: t.created_at.clone(),
            expires_at: t.expires_at.clone(),
            revoked_at: t.revoked_at.clone(),
            revoked_by: t.revoked_by.clone(),
            status: status.to_owned(),
        }
    }
}

/// A new token with its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub record: TokenView,
    /// The bearer token: `lb_` and 64 hex digits.
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// One record of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecordView {
    pub seq: i64,
    /// The chain the record extends (`loan:ID`, `product:CODE`, `book`, `audit`, …).
    pub stream: String,
    /// Its number in that stream, from 1.
    pub stream_seq: i64,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub request_digest: String,
    pub event_ids: Vec<String>,
    pub content_hash: String,
    pub terms_hash: Option<String>,
    pub scheme: String,
    pub key_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&AuditRecord> for AuditRecordView {
    fn from(r: &AuditRecord) -> Self {
        AuditRecordView {
            seq: r.seq,
            stream: r.stream.clone(),
            stream_seq: r.stream_seq,
            at: r.entry.at.clone(),
            actor: r.entry.actor.clone(),
            action: r.entry.action.clone(),
            target: r.entry.target.clone(),
            request_digest: r.entry.request_digest.clone(),
            event_ids: r.entry.event_ids.clone(),
            content_hash: r.content_hash.clone(),
            terms_hash: r.terms_hash.clone(),
            scheme: r.scheme.clone(),
            key_id: r.key_id.clone(),
            prev_hash: r.prev_hash.clone(),
            hash: r.hash.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditHeadView {
    pub seq: i64,
    pub stream: String,
    pub hash: String,
}

/// A page of the audit log; `next_after` is the `after` of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRecordView>,
    pub next_after: Option<i64>,
    /// The newest record of the whole log; null on an empty log.
    pub head: Option<AuditHeadView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_codes_read_back_and_read_the_statuses_stored_before_them() {
        for k in [OutcomeKind::Created, OutcomeKind::Done, OutcomeKind::Held] {
            assert_eq!(OutcomeKind::from_code(k.code()), Some(k));
        }
        assert_eq!(OutcomeKind::from_code(201), Some(OutcomeKind::Created));
        assert_eq!(OutcomeKind::from_code(202), Some(OutcomeKind::Held));
        assert_eq!(OutcomeKind::from_code(0), None);
    }

    #[test]
    fn a_party_is_masked_for_readers_without_a_need() {
        let party = Party {
            id: "p".into(),
            book_id: "main".into(),
            kind: "borrower".into(),
            name: "Asha".into(),
            details: r#"{"pan": "ABCDE1234F", "city": "Pune"}"#.into(),
            created_at: "2024-01-01T00:00:00Z".into(),
        };
        let masked = PartyView::for_reader(&party, false);
        assert_eq!(masked.details.value()["pan"], "******234F");
        assert_eq!(masked.details.value()["city"], "Pune");
        let open = PartyView::for_reader(&party, true);
        assert_eq!(open.details.value()["pan"], "ABCDE1234F");
    }
}
