//! What the mandate use cases answer: typed views, and the message a replacement announces.

use loanbook_domain::collections::Rail;
use loanbook_domain::terms::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A mandate as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MandateView {
    pub id: String,
    pub loan_id: String,
    pub rail: Rail,
    /// `enach`, `physical_nach`, `upi_autopay`, `ach` or `card`.
    pub kind: String,
    pub reference: String,
    #[schema(example = "25000.00")]
    pub max_amount: String,
    #[schema(example = "INR")]
    pub currency: String,
    /// `monthly`, `quarterly` or `as_presented`.
    pub frequency: String,
    #[schema(format = Date)]
    pub start_date: String,
    #[schema(format = Date)]
    pub end_date: Option<String>,
    /// The business date it was submitted for registration.
    #[schema(format = Date)]
    pub submitted_on: String,
    /// `pending_registration`, `active`, `paused`, `revoked`, `expired` or `rejected`.
    pub status: String,
    /// The business date of its last status change.
    #[schema(format = Date)]
    pub status_on: Option<String>,
    /// Why it was revoked or rejected.
    pub status_reason: Option<String>,
    /// Masked for roles that neither service nor collect the loan.
    pub debtor_name: String,
    /// The account number's last four digits (the number itself is not kept).
    #[schema(example = "4321")]
    pub account_last4: String,
    pub bank_code: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// How many times it was written; give it as `expected_version` to change it.
    pub version: i64,
    /// A dry run: the mandate as it would be; nothing was written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// What a history row records besides the statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventDetail {
    /// `register`, `activate`, `pause`, `resume`, `revoke`, `reject`, `expire` or `replace`.
    pub action: String,
    /// The business date it was done on.
    #[schema(format = Date)]
    pub on: String,
    /// The mandate this one replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// The mandate that replaced this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// One write of a mandate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MandateEventView {
    /// The version the write made.
    pub seq: i64,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    /// Left out for the registration.
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: Option<String>,
    pub detail: EventDetail,
}

/// A mandate with its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MandateDetail {
    pub mandate: MandateView,
    pub history: Vec<MandateEventView>,
}

/// A loan's mandates, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MandateList {
    pub loan_id: String,
    pub mandates: Vec<MandateView>,
}

/// A replacement: the old mandate revoked, and the new one registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MandateReplaced {
    pub replaced: MandateView,
    pub mandate: MandateView,
}

/// Whether the loan's mandate can collect its next instalment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReadinessView {
    pub loan_id: String,
    /// No problem found.
    pub ready: bool,
    /// The mandate checked: the active one, else the newest still in force, else the newest.
    pub mandate_id: Option<String>,
    /// The next instalment still to fall due: its number, due date and amount.
    pub installment: Option<u32>,
    #[schema(format = Date)]
    pub due_date: Option<String>,
    pub amount: Option<String>,
    /// The business date checked on.
    #[schema(format = Date)]
    pub as_of: String,
    /// Every reason it cannot collect, each naming the mandate's field and the rule.
    pub problems: Vec<FieldError>,
}

/// What `loan.mandate_status` carries: a mandate of the loan moved, so that servicing stops
/// presenting on a paused, revoked, rejected or expired one, and starts on an activated one, at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MandateStatusChanged {
    pub loan_id: String,
    pub mandate_id: String,
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The business date of the move.
    pub on: String,
}

/// What `loan.mandate_changed` carries: enough for servicing to collect through the new mandate
/// at once (the account masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MandateChanged {
    pub loan_id: String,
    pub mandate_id: String,
    pub replaced_mandate_id: String,
    pub reason: String,
    pub rail: String,
    pub kind: String,
    pub reference: String,
    pub status: String,
    pub max_amount: i64,
    pub currency: String,
    pub account_last4: String,
    pub bank_code: String,
    pub on: String,
}
