//! An application's statuses and the steps each allows: one table, so that every command is
//! refused the same way when it comes at the wrong time.

use serde::{Deserialize, Serialize};

use crate::terms::FieldError;

/// Where an application is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    /// Being filled in; editable.
    Draft,
    /// Complete and submitted: bureau and bank data are gathered.
    Submitted,
    /// The rules and the scorecard have run (a passing state: the decision follows at once).
    Assessed,
    /// Approved by the rules or by a credit officer: ready for sanction.
    Approved,
    /// In the credit queue for an officer's decision.
    Referred,
    Rejected,
    /// Terms frozen and hashed, the Key Facts Statement issued.
    Sanctioned,
    /// The borrower accepted the KFS: ready to disburse.
    Accepted,
    /// Paid out; the loan is booked.
    Disbursed,
    Withdrawn,
    Expired,
}

impl Status {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether the application has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Rejected | Status::Disbursed | Status::Withdrawn | Status::Expired
        )
    }
}

/// What can be done to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Step {
    Edit,
    Submit,
    /// Pull a bureau report, add a statement or Account Aggregator data.
    Gather,
    Assess,
    /// A credit officer's approval, rejection or request for more.
    Decide,
    Sanction,
    /// The co-lending partner's decision (or its lapse).
    PartnerDecide,
    Accept,
    /// Tick an item of the disbursement checklist.
    Checklist,
    Disburse,
    Withdraw,
    Expire,
}

impl Step {
    /// The statuses this step may be taken in.
    pub fn allowed_in(self) -> &'static [Status] {
        use Status::*;
        match self {
            Step::Edit | Step::Submit => &[Draft],
            Step::Gather | Step::Assess => &[Submitted],
            Step::Decide => &[Referred],
            Step::Sanction => &[Approved],
            Step::PartnerDecide => &[Approved],
            Step::Accept => &[Sanctioned],
            Step::Checklist => &[Sanctioned, Accepted],
            // After the disbursement, the sanctioned terms' later tranches.
            Step::Disburse => &[Accepted, Disbursed],
            Step::Withdraw => &[Draft, Submitted, Approved, Referred, Sanctioned, Accepted],
            Step::Expire => &[Approved, Sanctioned, Accepted],
        }
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Refuse the step unless `status` allows it, naming both.
    pub fn check(self, status: Status) -> Result<(), FieldError> {
        if self.allowed_in().contains(&status) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.allowed_in().iter().map(|s| s.name()).collect();
        Err(FieldError::coded(
            "status",
            "application.status",
            format!(
                "`{}` is not possible for an application that is {} (only when {})",
                self.name(),
                status.name(),
                allowed.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn final_statuses_allow_nothing() {
        let steps = [
            Step::Edit,
            Step::Submit,
            Step::Gather,
            Step::Assess,
            Step::Decide,
            Step::Sanction,
            Step::PartnerDecide,
            Step::Accept,
            Step::Checklist,
            Step::Disburse,
            Step::Withdraw,
            Step::Expire,
        ];
        for s in Status::VARIANTS.iter().filter(|s| s.is_final()) {
            for step in steps {
                // A disbursed application still pays out its loan's later tranches.
                if *s == Status::Disbursed && step == Step::Disburse {
                    assert!(step.check(*s).is_ok());
                    continue;
                }
                assert!(step.check(*s).is_err(), "{step:?} in {s:?}");
            }
        }
        let e = Step::Accept.check(Status::Draft).unwrap_err();
        assert_eq!(e.code, "application.status");
        assert!(
            e.rule.contains("accept") && e.rule.contains("draft"),
            "{}",
            e.rule
        );
    }
}
