//! What an application keeps of each step: the records its state is made of.

use serde::{Deserialize, Serialize};

use super::{Act, BankSource, Channel, CreditDecision, PartnerWindow};
use crate::calendar::Date;
use crate::origination::bureau::{BureauReport, BureauSummary};
use crate::origination::decision::Assessment;
use crate::origination::eligibility::Facts;
use crate::origination::kfs::KeyFacts;
use crate::origination::offer::Offer;
use crate::origination::statement::Analysis;

/// The bureau report pulled for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BureauPull {
    pub person: String,
    pub act: Act,
    pub report: BureauReport,
    pub summary: BureauSummary,
}

/// Bank data added, with its analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BankData {
    pub act: Act,
    pub source: BankSource,
    pub digest: String,
    pub transactions: u32,
    pub analysis: Analysis,
}

/// The assessment the rules made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AssessmentRecord {
    pub act: Act,
    pub facts: Facts,
    pub assessment: Assessment,
    pub offer: Option<Offer>,
}

/// A decision with who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DecisionRecord {
    pub act: Act,
    pub decision: CreditDecision,
}

/// The sanction: the frozen terms and the KFS issued on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct SanctionRecord {
    pub act: Act,
    pub terms: String,
    pub terms_hash: String,
    pub kfs: Box<KeyFacts>,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    pub valid_until: Date,
}

/// The co-lending partner's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PartnerState {
    pub window: PartnerWindow,
    /// `approved`, `declined`, `lapsed_book_fully`, `lapsed_decline`; none while pending.
    pub outcome: Option<String>,
    pub act: Option<Act>,
    #[serde(default)]
    pub reasons: Vec<String>,
}

impl PartnerState {
    /// Whether the partner takes its share of the loan.
    pub fn shares(&self) -> bool {
        self.outcome.as_deref() == Some("approved")
    }

    pub fn pending(&self) -> bool {
        self.outcome.is_none()
    }
}

/// The payout in flight or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PayoutState {
    pub reference: String,
    pub rail: String,
    pub amount: i64,
    /// `sent`, `unknown`, `failed`, `paid`.
    pub status: String,
    pub detail: Option<String>,
    pub utr: Option<String>,
    /// How many payouts were sent for the application (each with its own reference).
    pub attempts: u32,
    /// The later tranche it pays; none for the disbursement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tranche: Option<u32>,
}

/// The borrower's acceptance of the KFS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Accepted {
    pub act: Act,
    pub channel: Channel,
}
