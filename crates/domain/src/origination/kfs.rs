//! The Key Facts Statement (RBI format): the figures of the sanctioned terms and the lender's
//! disclosures, as one document a borrower accepts.

use serde::{Deserialize, Serialize};

/// What a product says in every Key Facts Statement beside the loan's own figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KfsSettings {
    /// The lender's legal name.
    pub lender: String,
    /// How many days a sanction's KFS may be accepted in (RBI: at least 3 working days for a
    /// tenure of 7 days or more).
    pub validity_days: u32,
    /// The look-up (cooling-off) period in days, in which the borrower may exit by paying
    /// principal and proportionate APR, without penalty.
    pub cooling_off_days: u32,
    pub grievance_officer: GrievanceOfficer,
    /// Whether the lender uses recovery agents (KFS part 2).
    #[serde(default)]
    pub recovery_agents: bool,
    /// Where the lender's policy on recovery agents and its grievance redress are published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_url: Option<String>,
}

/// The nodal grievance redressal officer named in the KFS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GrievanceOfficer {
    pub name: String,
    pub phone: String,
    pub email: String,
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[];
