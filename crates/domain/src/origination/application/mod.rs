//! An application as an event stream: what happened to it, from the draft to the disbursement
//! that books its loan, and the state those events fold into.
//!
//! The shell decides what happened (it runs the rules, calls the bureau and the rails) and
//! appends events; [`Application::apply`] refuses an event that the application's status does
//! not allow (the table in [`lifecycle`]), so a stream can never hold an impossible history.

pub mod draft;
mod fold;
pub mod lifecycle;
mod records;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use draft::{
    Channel, Collateral, CollateralKind, Consent, ConsentPurpose, Draft, LoanRequest, PayoutAccount,
};
pub use lifecycle::{Status, Step};
pub use records::{
    Accepted, AssessmentRecord, BankData, BureauPull, DecisionRecord, PartnerState, PayoutState,
    SanctionRecord,
};

use crate::calendar::Date;
use crate::origination::bureau::{BureauReport, BureauSummary};
use crate::origination::decision::Assessment;
use crate::origination::eligibility::Facts;
use crate::origination::kfs::KeyFacts;
use crate::origination::offer::Offer;
use crate::origination::product::OnTimeout;
use crate::origination::statement::Analysis;
use crate::terms::FieldError;

/// Who did something, when it was recorded, and the business date it happened on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Act {
    pub by: String,
    /// RFC 3339.
    pub at: String,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    pub on: Date,
}

/// A person on the application, recorded as a party when it was submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PartyLink {
    /// `applicant`, `co_applicants[0]`, `guarantors[1]`, …
    pub role: String,
    pub party_id: String,
}

/// Where bank data came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BankSource {
    /// An uploaded statement file in a bank's layout.
    Statement { bank: String },
    /// An Account Aggregator fetch under a consent.
    AccountAggregator {
        fip: String,
        consent_id: String,
        purpose_code: String,
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
        from: Date,
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
        to: Date,
        data_life_days: u32,
    },
}

/// Terms a credit officer may change when approving, inside the product's bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TermsChange {
    /// A decimal amount in rupees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(pattern = "^[0-9]{1,13}(\\.[0-9]{1,2})?$"))]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 600))]
    pub installments: Option<u32>,
    /// Percent per annum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, pattern = "^[0-9]{1,3}(\\.[0-9]{1,6})?$"))]
    pub annual_rate: Option<Decimal>,
}

/// A credit officer's decision on a referred application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CreditDecision {
    /// Approve, possibly with changed terms. `final` is false when a second approver is still
    /// needed (the amount is above the product's limit for one).
    Approve {
        #[serde(default)]
        terms: TermsChange,
        #[serde(rename = "final")]
        is_final: bool,
    },
    Reject {
        reasons: Vec<String>,
    },
    /// Send the application back to its maker for more: it becomes a draft again.
    AskForMore {
        note: String,
    },
}

/// The co-lending partner's window to decide, opened at sanction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PartnerWindow {
    pub partner_id: String,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    pub decide_by: Date,
    pub on_timeout: OnTimeout,
}

/// Everything that can happen to an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ApplicationEvent {
    Drafted {
        act: Act,
        number: String,
        product: String,
        product_version: i64,
        draft: Draft,
    },
    Edited {
        act: Act,
        draft: Draft,
    },
    Submitted {
        act: Act,
        parties: Vec<PartyLink>,
    },
    BureauPulled {
        act: Act,
        /// The person's role (`applicant`, `co_applicants[0]`).
        person: String,
        report: BureauReport,
        summary: BureauSummary,
    },
    BankDataAdded {
        act: Act,
        source: BankSource,
        /// SHA-256 of the file or document as received.
        digest: String,
        transactions: u32,
        analysis: Analysis,
    },
    Assessed {
        act: Act,
        facts: Facts,
        assessment: Assessment,
        offer: Option<Offer>,
    },
    CreditDecided {
        act: Act,
        decision: CreditDecision,
    },
    Sanctioned {
        act: Act,
        /// The frozen terms, canonical JSON: the loan is booked from exactly this text.
        terms: String,
        terms_hash: String,
        kfs: Box<KeyFacts>,
        #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
        valid_until: Date,
    },
    /// The approved application goes to the co-lending partner for its own decision.
    PartnerRequested {
        act: Act,
        window: PartnerWindow,
    },
    PartnerDecided {
        act: Act,
        partner_id: String,
        approved: bool,
        #[serde(default)]
        reasons: Vec<String>,
    },
    /// The partner did not decide in its window: the product's fallback applies.
    PartnerLapsed {
        act: Act,
        partner_id: String,
        fallback: OnTimeout,
    },
    Accepted {
        act: Act,
        channel: Channel,
    },
    ChecklistTicked {
        act: Act,
        item: String,
        note: Option<String>,
    },
    PayoutSent {
        act: Act,
        reference: String,
        rail: String,
        amount: i64,
        /// The sanctioned terms' later tranche it pays (1 for the first after the
        /// disbursement), none for the disbursement itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tranche: Option<u32>,
    },
    PayoutFailed {
        act: Act,
        reference: String,
        code: String,
        reason: String,
    },
    /// The rail did not say whether it paid: reconciled by the reference, never sent again.
    PayoutUnknown {
        act: Act,
        reference: String,
        detail: String,
    },
    Disbursed {
        act: Act,
        reference: String,
        utr: String,
        loan_id: String,
        terms_hash: String,
    },
    /// A later tranche was paid out: the loan's own disbursement event was written with it.
    TrancheDisbursed {
        act: Act,
        reference: String,
        utr: String,
        tranche: u32,
    },
    Withdrawn {
        act: Act,
        reason: String,
    },
    Expired {
        act: Act,
        reason: String,
    },
}

impl ApplicationEvent {
    pub fn act(&self) -> &Act {
        use ApplicationEvent::*;
        match self {
            Drafted { act, .. }
            | Edited { act, .. }
            | Submitted { act, .. }
            | BureauPulled { act, .. }
            | BankDataAdded { act, .. }
            | Assessed { act, .. }
            | CreditDecided { act, .. }
            | Sanctioned { act, .. }
            | PartnerRequested { act, .. }
            | PartnerDecided { act, .. }
            | PartnerLapsed { act, .. }
            | Accepted { act, .. }
            | ChecklistTicked { act, .. }
            | PayoutSent { act, .. }
            | PayoutFailed { act, .. }
            | PayoutUnknown { act, .. }
            | Disbursed { act, .. }
            | TrancheDisbursed { act, .. }
            | Withdrawn { act, .. }
            | Expired { act, .. } => act,
        }
    }

    /// The step the event takes (what its application's status must allow).
    pub fn step(&self) -> Step {
        use ApplicationEvent::*;
        match self {
            Drafted { .. } | Edited { .. } => Step::Edit,
            Submitted { .. } => Step::Submit,
            BureauPulled { .. } | BankDataAdded { .. } => Step::Gather,
            Assessed { .. } => Step::Assess,
            CreditDecided { .. } => Step::Decide,
            Sanctioned { .. } => Step::Sanction,
            PartnerRequested { .. } | PartnerDecided { .. } | PartnerLapsed { .. } => {
                Step::PartnerDecide
            }
            Accepted { .. } => Step::Accept,
            ChecklistTicked { .. } => Step::Checklist,
            PayoutSent { .. }
            | PayoutFailed { .. }
            | PayoutUnknown { .. }
            | Disbursed { .. }
            | TrancheDisbursed { .. } => Step::Disburse,
            Withdrawn { .. } => Step::Withdraw,
            Expired { .. } => Step::Expire,
        }
    }

    /// The event's name (`drafted`, `credit_decided`, …).
    pub fn name(&self) -> &'static str {
        use ApplicationEvent::*;
        match self {
            Drafted { .. } => "drafted",
            Edited { .. } => "edited",
            Submitted { .. } => "submitted",
            BureauPulled { .. } => "bureau_pulled",
            BankDataAdded { .. } => "bank_data_added",
            Assessed { .. } => "assessed",
            CreditDecided { .. } => "credit_decided",
            Sanctioned { .. } => "sanctioned",
            PartnerRequested { .. } => "partner_requested",
            PartnerDecided { .. } => "partner_decided",
            PartnerLapsed { .. } => "partner_lapsed",
            Accepted { .. } => "accepted",
            ChecklistTicked { .. } => "checklist_ticked",
            PayoutSent { .. } => "payout_sent",
            PayoutFailed { .. } => "payout_failed",
            PayoutUnknown { .. } => "payout_unknown",
            Disbursed { .. } => "disbursed",
            TrancheDisbursed { .. } => "tranche_disbursed",
            Withdrawn { .. } => "withdrawn",
            Expired { .. } => "expired",
        }
    }
}

/// An application's state: the fold of its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Application {
    pub number: String,
    pub product: String,
    pub product_version: i64,
    pub status: Status,
    pub opened: Act,
    pub draft: Draft,
    pub parties: Vec<PartyLink>,
    pub bureau: Vec<BureauPull>,
    pub bank: Vec<BankData>,
    pub assessment: Option<AssessmentRecord>,
    pub decisions: Vec<DecisionRecord>,
    pub sanction: Option<SanctionRecord>,
    pub partner: Option<PartnerState>,
    pub acceptance: Option<Accepted>,
    pub checklist: BTreeMap<String, Act>,
    pub payout: Option<PayoutState>,
    pub loan_id: Option<String>,
    /// How many of the sanctioned terms' later tranches were paid out.
    #[serde(default)]
    pub tranches_paid: u32,
    /// Why it was withdrawn or expired.
    pub ended: Option<String>,
    /// The note of the last request for more.
    pub asked_for: Option<String>,
}

impl Application {
    /// Fold a stream: its first event drafts the application, each later one must be possible
    /// in the status the ones before it left.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = &'a ApplicationEvent>,
    ) -> Result<Application, FieldError> {
        let mut events = events.into_iter();
        let mut app = match events.next() {
            Some(ApplicationEvent::Drafted {
                act,
                number,
                product,
                product_version,
                draft,
            }) => Application::drafted(act, number, product, *product_version, draft),
            _ => return Err(stream_error("an application's first event drafts it")),
        };
        for e in events {
            app.apply(e)?;
        }
        Ok(app)
    }

    fn drafted(act: &Act, number: &str, product: &str, version: i64, draft: &Draft) -> Self {
        Application {
            number: number.to_owned(),
            product: product.to_owned(),
            product_version: version,
            status: Status::Draft,
            opened: act.clone(),
            draft: draft.clone(),
            parties: Vec::new(),
            bureau: Vec::new(),
            bank: Vec::new(),
            assessment: None,
            decisions: Vec::new(),
            sanction: None,
            partner: None,
            acceptance: None,
            checklist: BTreeMap::new(),
            payout: None,
            loan_id: None,
            tranches_paid: 0,
            ended: None,
            asked_for: None,
        }
    }

    /// Apply one event, refusing it when the status does not allow its step.
    pub fn apply(&mut self, event: &ApplicationEvent) -> Result<(), FieldError> {
        use ApplicationEvent as E;
        event.step().check(self.status)?;
        match event {
            E::Drafted { .. } => return Err(stream_error("an application is drafted once")),
            E::Edited { draft, .. } => self.draft = draft.clone(),
            E::Submitted { parties, .. } => {
                self.parties = parties.clone();
                self.status = Status::Submitted;
                self.asked_for = None;
            }
            E::BureauPulled { .. } => self.bureau_pulled(event),
            E::BankDataAdded { .. } => self.bank_added(event),
            E::Assessed {
                act,
                facts,
                assessment,
                offer,
            } => self.assessed(act, facts, assessment, offer),
            E::CreditDecided { act, decision } => self.decided(act, decision),
            E::Sanctioned { .. } => self.sanctioned(event)?,
            E::PartnerRequested { window, .. } => {
                if self.partner.is_some() {
                    return Err(stream_error("the partner was asked already"));
                }
                self.partner = Some(PartnerState {
                    window: window.clone(),
                    outcome: None,
                    act: None,
                    reasons: Vec::new(),
                });
            }
            E::PartnerDecided {
                act,
                partner_id,
                approved,
                reasons,
            } => {
                let outcome = if *approved { "approved" } else { "declined" };
                self.partner_outcome(act, partner_id, outcome, reasons)?;
            }
            E::PartnerLapsed {
                act,
                partner_id,
                fallback,
            } => {
                let outcome = match fallback {
                    OnTimeout::BookFully => "lapsed_book_fully",
                    OnTimeout::Decline => "lapsed_decline",
                };
                self.partner_outcome(act, partner_id, outcome, &[])?;
            }
            E::Accepted { act, channel } => {
                self.acceptance = Some(Accepted {
                    act: act.clone(),
                    channel: *channel,
                });
                self.status = Status::Accepted;
            }
            E::ChecklistTicked { act, item, .. } => {
                self.checklist.insert(item.clone(), act.clone());
            }
            E::PayoutSent { .. } => self.payout_sent(event)?,
            E::PayoutFailed {
                reference,
                code,
                reason,
                ..
            } => self.payout_result(reference, "failed", Some(format!("{code}: {reason}")))?,
            E::PayoutUnknown {
                reference, detail, ..
            } => self.payout_result(reference, "unknown", Some(detail.clone()))?,
            E::Disbursed { .. } => self.disbursed(event)?,
            E::TrancheDisbursed { .. } => self.tranche_disbursed(event)?,
            E::Withdrawn { reason, .. } => {
                if self.payout_in_flight() {
                    return Err(stream_error(
                        "a payout is in flight: reconcile it before withdrawing",
                    ));
                }
                self.ended = Some(reason.clone());
                self.status = Status::Withdrawn;
            }
            E::Expired { reason, .. } => {
                if self.payout_in_flight() {
                    return Err(stream_error("a payout is in flight: reconcile it first"));
                }
                self.ended = Some(reason.clone());
                self.status = Status::Expired;
            }
        }
        Ok(())
    }

    /// The tranche the current payout pays, if it is one.
    pub fn payout_tranche(&self) -> Option<u32> {
        self.payout.as_ref().and_then(|p| p.tranche)
    }

    /// Whether a payout was sent and has no final result: nothing may send another.
    pub fn payout_in_flight(&self) -> bool {
        self.payout
            .as_ref()
            .is_some_and(|p| p.status == "sent" || p.status == "unknown")
    }

    /// The amount and tenure in force: the request, as changed by the last approval.
    pub fn approved_request(&self) -> (Option<i64>, Option<u32>, Option<Decimal>) {
        let mut amount = self.draft.amount();
        let mut installments = self.draft.request.installments;
        let mut rate = None;
        for d in &self.decisions {
            if let CreditDecision::Approve { terms, .. } = &d.decision {
                if let Some(a) = terms
                    .amount
                    .as_deref()
                    .and_then(|a| draft::rupees(a, true).ok())
                {
                    amount = Some(a);
                }
                installments = terms.installments.or(installments);
                rate = terms.annual_rate.or(rate);
            }
        }
        (amount, installments, rate)
    }

    /// The approvals given since the application was last referred, oldest first.
    pub fn pending_approvals(&self) -> Vec<&DecisionRecord> {
        self.decisions
            .iter()
            .rev()
            .take_while(|d| {
                matches!(
                    d.decision,
                    CreditDecision::Approve {
                        is_final: false,
                        ..
                    }
                )
            })
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }

    /// The queue the application waits in: the credit queue when referred, the partner's while
    /// it decides.
    pub fn queue(&self) -> Option<String> {
        match self.status {
            Status::Referred => Some("credit".to_owned()),
            Status::Approved => self
                .partner
                .as_ref()
                .filter(|p| p.pending())
                .map(|p| format!("partner:{}", p.window.partner_id)),
            _ => None,
        }
    }
}

fn stream_error(rule: &str) -> FieldError {
    FieldError::coded("events", "application.stream", rule)
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "application.status",
        "The step is not possible in the application's status",
    ),
    (
        "application.stream",
        "The event does not follow from the application's history",
    ),
    (
        "partner.decided",
        "The co-lending partner has decided already",
    ),
    (
        "partner.pending",
        "The co-lending partner has not decided yet",
    ),
];
