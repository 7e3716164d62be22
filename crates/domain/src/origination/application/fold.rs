//! How each event changes an application: the parts of [`Application::apply`] that are more
//! than a line.

use super::{
    Act, Application, ApplicationEvent, AssessmentRecord, BankData, BureauPull, CreditDecision,
    DecisionRecord, PartnerState, PayoutState, SanctionRecord, Status, stream_error,
};
use crate::origination::decision::Assessment;
use crate::origination::eligibility::Facts;
use crate::origination::offer::Offer;
use crate::terms::FieldError;

impl Application {
    pub(super) fn bureau_pulled(&mut self, event: &ApplicationEvent) {
        if let ApplicationEvent::BureauPulled {
            act,
            person,
            report,
            summary,
        } = event
        {
            self.bureau.retain(|b| &b.person != person);
            self.bureau.push(BureauPull {
                person: person.clone(),
                act: act.clone(),
                report: report.clone(),
                summary: summary.clone(),
            });
        }
    }

    pub(super) fn bank_added(&mut self, event: &ApplicationEvent) {
        if let ApplicationEvent::BankDataAdded {
            act,
            source,
            digest,
            transactions,
            analysis,
        } = event
        {
            self.bank.push(BankData {
                act: act.clone(),
                source: source.clone(),
                digest: digest.clone(),
                transactions: *transactions,
                analysis: analysis.clone(),
            });
        }
    }

    pub(super) fn sanctioned(&mut self, event: &ApplicationEvent) -> Result<(), FieldError> {
        let ApplicationEvent::Sanctioned {
            act,
            terms,
            terms_hash,
            kfs,
            valid_until,
        } = event
        else {
            return Ok(());
        };
        if self.partner.as_ref().is_some_and(PartnerState::pending) {
            return Err(FieldError::coded(
                "partner",
                "partner.pending",
                "the co-lending partner has not decided yet",
            ));
        }
        self.sanction = Some(SanctionRecord {
            act: act.clone(),
            terms: terms.clone(),
            terms_hash: terms_hash.clone(),
            kfs: kfs.clone(),
            valid_until: *valid_until,
        });
        self.status = Status::Sanctioned;
        Ok(())
    }

    pub(super) fn payout_sent(&mut self, event: &ApplicationEvent) -> Result<(), FieldError> {
        if let ApplicationEvent::PayoutSent {
            reference,
            rail,
            amount,
            tranche,
            ..
        } = event
        {
            // A disbursed application pays out only its later tranches; an accepted one only
            // its disbursement.
            if (self.status == Status::Disbursed) != tranche.is_some() {
                return Err(stream_error(
                    "a payout is the disbursement until the loan is booked, a tranche after",
                ));
            }
            let attempts = self.payout.as_ref().map_or(0, |p| p.attempts) + 1;
            self.payout = Some(PayoutState {
                reference: reference.clone(),
                rail: rail.clone(),
                amount: *amount,
                status: "sent".into(),
                detail: None,
                utr: None,
                attempts,
                tranche: *tranche,
            });
        }
        Ok(())
    }

    pub(super) fn assessed(
        &mut self,
        act: &Act,
        facts: &Facts,
        a: &Assessment,
        offer: &Option<Offer>,
    ) {
        use crate::origination::decision::Outcome;
        self.assessment = Some(AssessmentRecord {
            act: act.clone(),
            facts: facts.clone(),
            assessment: a.clone(),
            offer: offer.clone(),
        });
        self.status = match a.outcome {
            Outcome::Approve => Status::Approved,
            Outcome::Refer => Status::Referred,
            Outcome::Reject => Status::Rejected,
        };
    }

    pub(super) fn decided(&mut self, act: &Act, decision: &CreditDecision) {
        self.decisions.push(DecisionRecord {
            act: act.clone(),
            decision: decision.clone(),
        });
        match decision {
            CreditDecision::Approve { is_final: true, .. } => self.status = Status::Approved,
            CreditDecision::Approve { .. } => {}
            CreditDecision::Reject { .. } => self.status = Status::Rejected,
            CreditDecision::AskForMore { note } => {
                self.asked_for = Some(note.clone());
                self.status = Status::Draft;
            }
        }
    }

    pub(super) fn partner_outcome(
        &mut self,
        act: &Act,
        partner_id: &str,
        outcome: &str,
        reasons: &[String],
    ) -> Result<(), FieldError> {
        let Some(p) = self
            .partner
            .as_mut()
            .filter(|p| p.window.partner_id == partner_id)
        else {
            return Err(stream_error("no co-lending partner of that id is deciding"));
        };
        if !p.pending() {
            return Err(FieldError::coded(
                "partner",
                "partner.decided",
                "the partner has decided already",
            ));
        }
        p.outcome = Some(outcome.to_owned());
        p.act = Some(act.clone());
        p.reasons = reasons.to_vec();
        Ok(())
    }

    pub(super) fn payout_result(
        &mut self,
        reference: &str,
        status: &str,
        detail: Option<String>,
    ) -> Result<(), FieldError> {
        match self.payout.as_mut().filter(|p| p.reference == reference) {
            Some(p) if p.status == "sent" || p.status == "unknown" => {
                p.status = status.to_owned();
                p.detail = detail;
                Ok(())
            }
            Some(_) => Err(stream_error("the payout has its result already")),
            None => Err(stream_error("no payout with that reference was sent")),
        }
    }

    pub(super) fn disbursed(&mut self, event: &ApplicationEvent) -> Result<(), FieldError> {
        let ApplicationEvent::Disbursed {
            reference,
            utr,
            loan_id,
            ..
        } = event
        else {
            return Ok(());
        };
        if self.status != Status::Accepted || self.payout_tranche().is_some() {
            return Err(stream_error("the disbursement books the loan once"));
        }
        self.payout_result(reference, "paid", None)?;
        if let Some(p) = &mut self.payout {
            p.utr = Some(utr.clone());
        }
        self.loan_id = Some(loan_id.clone());
        self.status = Status::Disbursed;
        Ok(())
    }

    pub(super) fn tranche_disbursed(&mut self, event: &ApplicationEvent) -> Result<(), FieldError> {
        let ApplicationEvent::TrancheDisbursed {
            reference,
            utr,
            tranche,
            ..
        } = event
        else {
            return Ok(());
        };
        if self.payout_tranche() != Some(*tranche) || *tranche != self.tranches_paid + 1 {
            return Err(stream_error("no payout of that tranche is in flight"));
        }
        self.payout_result(reference, "paid", None)?;
        if let Some(p) = &mut self.payout {
            p.utr = Some(utr.clone());
        }
        self.tranches_paid = *tranche;
        Ok(())
    }
}
