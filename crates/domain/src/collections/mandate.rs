//! Mandates: the borrower's standing authority to debit an account, and its lifecycle.
//!
//! pending registration → active ⇄ paused → revoked, expired or rejected (with the reason).
//! Revoked, expired and rejected are final: a new mandate is registered instead, as NPCI's rules
//! say for a UPI mandate that cannot switch accounts.
//!
//! [`Mandate::readiness`] is the check made before a disbursement: a mandate that cannot collect
//! the first instalment (not active in time, its maximum below the instalment, expiring before
//! the due date, above the rail's authentication limit) is named with every problem it has.

use serde::{Deserialize, Serialize};

use super::rail::{Rail, RailRules};
use crate::calendar::Date;

/// The instrument the mandate was set up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MandateKind {
    /// eNACH, authorised online (net banking, debit card, Aadhaar).
    Enach,
    /// Physical NACH, signed on paper and registered through the sponsor bank.
    PhysicalNach,
    UpiAutopay,
    /// A US ACH debit authorisation.
    Ach,
    /// A card e-mandate.
    Card,
}

impl MandateKind {
    pub fn rail(self) -> Rail {
        match self {
            MandateKind::Enach | MandateKind::PhysicalNach => Rail::Nach,
            MandateKind::UpiAutopay => Rail::UpiAutopay,
            MandateKind::Ach => Rail::Ach,
            MandateKind::Card => Rail::Card,
        }
    }

    /// Days from submission to an active mandate, at the most: physical NACH takes 7–10
    /// working days (14 calendar days here, the 10 working days with their weekends); an
    /// online authorisation is confirmed in its own flow, counted as the next day.
    pub fn registration_lead_days(self) -> i64 {
        match self {
            MandateKind::PhysicalNach => 14,
            MandateKind::Enach => 1,
            MandateKind::UpiAutopay | MandateKind::Ach | MandateKind::Card => 0,
        }
    }
}

/// How often the mandate lets the lender debit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MandateFrequency {
    Monthly,
    Quarterly,
    /// As and when presented (not allowed for NACH loan instalments, category L001).
    AsPresented,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MandateStatus {
    PendingRegistration,
    Active { since: Date },
    Paused { since: Date },
    Revoked { on: Date, reason: String },
    Expired { on: Date },
    Rejected { on: Date, reason: String },
}

impl MandateStatus {
    pub fn name(&self) -> &'static str {
        match self {
            MandateStatus::PendingRegistration => "pending_registration",
            MandateStatus::Active { .. } => "active",
            MandateStatus::Paused { .. } => "paused",
            MandateStatus::Revoked { .. } => "revoked",
            MandateStatus::Expired { .. } => "expired",
            MandateStatus::Rejected { .. } => "rejected",
        }
    }

    /// Revoked, expired and rejected mandates never debit again.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            MandateStatus::Revoked { .. }
                | MandateStatus::Expired { .. }
                | MandateStatus::Rejected { .. }
        )
    }
}

/// A mandate on one loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// The rail's reference: the UMRN for NACH, the UPI mandate id, the ACH authorisation id.
    pub reference: String,
    pub kind: MandateKind,
    /// The debtor's bank (IFSC prefix, routing number or issuer), as the lender knows it.
    pub bank: String,
    pub max_amount_minor: i64,
    pub frequency: MandateFrequency,
    pub start: Date,
    /// The last day it may be debited on; `None`: until cancelled.
    pub end: Option<Date>,
    pub submitted_on: Date,
    pub status: MandateStatus,
}

/// Something that stops a mandate debiting, named by the mandate field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("mandate {field}: {rule}")]
pub struct MandateProblem {
    pub field: &'static str,
    /// A stable code, `mandate.…`.
    pub code: &'static str,
    pub rule: String,
}

fn problem(field: &'static str, code: &'static str, rule: String) -> MandateProblem {
    MandateProblem { field, code, rule }
}

impl Mandate {
    pub fn rail(&self) -> Rail {
        self.kind.rail()
    }

    /// The day it will be active at the latest: now if active, submission plus the lead time
    /// while it is being registered, never once final or paused.
    pub fn active_by(&self) -> Option<Date> {
        match &self.status {
            MandateStatus::Active { since } => Some(*since),
            MandateStatus::PendingRegistration => self
                .submitted_on
                .checked_add(jiff::Span::new().days(self.kind.registration_lead_days()))
                .ok(),
            _ => None,
        }
    }

    /// Whether a debit of `amount` on `date` is within the mandate (status, dates, amount and
    /// the rail's authentication limit).
    pub fn check_debit(
        &self,
        rules: &RailRules,
        amount: i64,
        date: Date,
    ) -> Result<(), MandateProblem> {
        if !matches!(self.status, MandateStatus::Active { .. }) {
            return Err(problem(
                "status",
                "mandate.active",
                format!(
                    "debits need an active mandate; it is {}",
                    self.status.name()
                ),
            ));
        }
        self.check_terms(rules, amount, date)
    }

    fn check_terms(
        &self,
        rules: &RailRules,
        amount: i64,
        date: Date,
    ) -> Result<(), MandateProblem> {
        if date < self.start {
            return Err(problem(
                "start",
                "mandate.started",
                format!("debits start on {}; {date} is before", self.start),
            ));
        }
        if let Some(end) = self.end.filter(|end| date > *end) {
            return Err(problem(
                "end",
                "mandate.not_expired",
                format!("debits end on {end}; {date} is after"),
            ));
        }
        if amount > self.max_amount_minor {
            return Err(problem(
                "max_amount_minor",
                "mandate.max_amount",
                format!(
                    "the debit of {amount} is above the mandate's maximum of {}",
                    self.max_amount_minor
                ),
            ));
        }
        if let Some(limit) = rules.authentication_limit_minor.filter(|l| amount > *l) {
            return Err(problem(
                "max_amount_minor",
                "mandate.authentication_limit",
                format!(
                    "debits above {limit} on {} need the customer to authenticate each time",
                    rules.rail.code()
                ),
            ));
        }
        Ok(())
    }

    /// Every reason the mandate cannot collect the first instalment of `amount` due on
    /// `first_due`; empty when it can.
    pub fn readiness(
        &self,
        rules: &RailRules,
        amount: i64,
        first_due: Date,
    ) -> Vec<MandateProblem> {
        let mut problems = Vec::new();
        if rules.rail != self.rail() {
            problems.push(problem(
                "kind",
                "mandate.rail",
                format!(
                    "the mandate is on {}, the rules are {}'s",
                    self.rail().code(),
                    rules.rail.code()
                ),
            ));
        }
        match self.active_by() {
            None => problems.push(problem(
                "status",
                "mandate.active",
                format!("a {} mandate cannot debit", self.status.name()),
            )),
            Some(by) if by > first_due => problems.push(problem(
                "submitted_on",
                "mandate.lead_time",
                format!(
                    "registration takes up to {} days, so it is active by {by}, after the first \
                     instalment's due date {first_due}",
                    self.kind.registration_lead_days()
                ),
            )),
            Some(_) => {}
        }
        if self.rail() == Rail::Nach && self.frequency == MandateFrequency::AsPresented {
            problems.push(problem(
                "frequency",
                "mandate.frequency",
                "NACH loan-instalment mandates (L001) cannot be as-presented".into(),
            ));
        }
        if let Err(e) = self.check_terms(rules, amount, first_due) {
            problems.push(e);
        }
        problems
    }

    /// Registration confirmed.
    pub fn activate(&mut self, on: Date) -> Result<(), MandateProblem> {
        self.move_to(
            matches!(self.status, MandateStatus::PendingRegistration),
            "pending_registration",
            MandateStatus::Active { since: on },
        )
    }

    pub fn pause(&mut self, on: Date) -> Result<(), MandateProblem> {
        self.move_to(
            matches!(self.status, MandateStatus::Active { .. }),
            "active",
            MandateStatus::Paused { since: on },
        )
    }

    pub fn resume(&mut self, on: Date) -> Result<(), MandateProblem> {
        self.move_to(
            matches!(self.status, MandateStatus::Paused { .. }),
            "paused",
            MandateStatus::Active { since: on },
        )
    }

    /// The customer or their bank cancelled it.
    pub fn revoke(&mut self, on: Date, reason: String) -> Result<(), MandateProblem> {
        self.move_to(
            !self.status.is_final() && self.status != MandateStatus::PendingRegistration,
            "active or paused",
            MandateStatus::Revoked { on, reason },
        )
    }

    pub fn reject(&mut self, on: Date, reason: String) -> Result<(), MandateProblem> {
        self.move_to(
            matches!(self.status, MandateStatus::PendingRegistration),
            "pending_registration",
            MandateStatus::Rejected { on, reason },
        )
    }

    /// Past its end date.
    pub fn expire(&mut self, on: Date) -> Result<(), MandateProblem> {
        let due = self.end.is_some_and(|end| on > end);
        if !due {
            return Err(problem(
                "end",
                "mandate.expiry",
                format!("a mandate expires only after its end date; {on} is not"),
            ));
        }
        self.move_to(
            !self.status.is_final(),
            "not final",
            MandateStatus::Expired { on },
        )
    }

    fn move_to(
        &mut self,
        allowed: bool,
        from: &str,
        to: MandateStatus,
    ) -> Result<(), MandateProblem> {
        if !allowed {
            return Err(problem(
                "status",
                "mandate.transition",
                format!(
                    "only a mandate that is {from} can become {}; it is {}",
                    to.name(),
                    self.status.name()
                ),
            ));
        }
        self.status = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn mandate(kind: MandateKind) -> Mandate {
        Mandate {
            reference: "HDFC7000000000012345".into(),
            kind,
            bank: "HDFC".into(),
            max_amount_minor: 2_500_000,
            frequency: MandateFrequency::Monthly,
            start: date(2026, 1, 1),
            end: Some(date(2028, 12, 31)),
            submitted_on: date(2026, 1, 1),
            status: MandateStatus::PendingRegistration,
        }
    }

    #[test]
    fn physical_nach_needs_its_lead_time_before_the_first_emi() {
        let m = mandate(MandateKind::PhysicalNach);
        let rules = Rail::Nach.rules();
        let early = m.readiness(&rules, 1_000_000, date(2026, 1, 10));
        assert_eq!(
            early.iter().map(|p| p.code).collect::<Vec<_>>(),
            ["mandate.lead_time"]
        );
        assert!(m.readiness(&rules, 1_000_000, date(2026, 1, 15)).is_empty());
        let e = mandate(MandateKind::Enach);
        assert!(e.readiness(&rules, 1_000_000, date(2026, 1, 2)).is_empty());
    }

    #[test]
    fn readiness_names_every_problem() {
        let mut m = mandate(MandateKind::UpiAutopay);
        m.max_amount_minor = 20_000_000;
        m.end = Some(date(2026, 1, 31));
        let rules = Rail::UpiAutopay.rules();
        // ₹1,50,000 is above the ₹1,00,000 authentication limit; the due date is past the end.
        let p = m.readiness(&rules, 15_000_000, date(2026, 2, 5));
        assert_eq!(
            p.iter().map(|p| p.code).collect::<Vec<_>>(),
            ["mandate.not_expired"]
        );
        let p = m.readiness(&rules, 15_000_000, date(2026, 1, 5));
        assert_eq!(
            p.iter().map(|p| p.code).collect::<Vec<_>>(),
            ["mandate.authentication_limit"]
        );
        m.max_amount_minor = 100;
        let p = m.readiness(&rules, 1_000, date(2026, 1, 5));
        assert_eq!(p[0].field, "max_amount_minor");
        let mut n = mandate(MandateKind::Enach);
        n.frequency = MandateFrequency::AsPresented;
        let p = n.readiness(&Rail::Nach.rules(), 1_000, date(2026, 1, 5));
        assert_eq!(
            p.iter().map(|p| p.code).collect::<Vec<_>>(),
            ["mandate.frequency"]
        );
    }

    #[test]
    fn the_lifecycle_moves_only_forward() {
        let mut m = mandate(MandateKind::Enach);
        let rules = Rail::Nach.rules();
        assert_eq!(
            m.check_debit(&rules, 1_000, date(2026, 2, 1))
                .map_err(|e| e.code),
            Err("mandate.active")
        );
        assert!(m.pause(date(2026, 1, 2)).is_err());
        assert!(m.activate(date(2026, 1, 2)).is_ok());
        assert!(m.check_debit(&rules, 1_000, date(2026, 2, 1)).is_ok());
        assert!(m.activate(date(2026, 1, 3)).is_err());
        assert!(m.pause(date(2026, 3, 1)).is_ok());
        assert!(m.check_debit(&rules, 1_000, date(2026, 3, 5)).is_err());
        assert!(m.resume(date(2026, 3, 10)).is_ok());
        assert!(
            m.expire(date(2026, 3, 11))
                .is_err_and(|e| e.code == "mandate.expiry")
        );
        assert!(m.revoke(date(2026, 4, 1), "customer".into()).is_ok());
        assert!(m.status.is_final());
        assert!(
            m.resume(date(2026, 4, 2))
                .is_err_and(|e| e.code == "mandate.transition")
        );
        assert_eq!(m.active_by(), None);
        let mut p = mandate(MandateKind::PhysicalNach);
        assert!(
            p.reject(date(2026, 1, 9), "M003 signature differs".into())
                .is_ok()
        );
        assert_eq!(p.status.name(), "rejected");
        assert!(p.revoke(date(2026, 1, 10), "x".into()).is_err());
    }
}
