//! The chart of accounts: the purposes ([`Role`]) that posting rules post to, and the lender's
//! accounts those purposes are booked in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which side of an entry increases an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

/// The kind of account, as it appears in the balance sheet or the profit and loss statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Asset,
    Liability,
    Income,
    Expense,
    Equity,
}

/// A purpose that the posting rules post to; the chart says which account carries it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Principal the borrower owes, whether fallen due or not.
    LoanPrincipal,
    /// Interest fallen due and not yet paid.
    InterestReceivable,
    /// Interest earned day by day that has not yet fallen due.
    InterestAccrued,
    /// Charges levied and not yet paid.
    ChargesReceivable,
    /// Penal interest accrued on arrears, not yet levied as a charge.
    PenalAccrued,
    /// Money received from borrowers, before it is settled to the bank account (bank side).
    CollectionsClearing,
    /// Money paid out to borrowers (bank side).
    DisbursementClearing,
    /// Money received above what is due and held for the borrower (a liability).
    BorrowerExcess,
    /// A co-lender's share of the principal outstanding: what the loan owes back to that lender.
    PartnerFunding,
    /// What is owed to a co-lender out of collections, until it is settled from escrow.
    PartnerPayable,
    /// Interest not recognised as income because the loan is NPA (a contra-asset).
    InterestSuspense,
    InterestIncome,
    /// Fees and charges earned (bounce charges, other charges, financed fees).
    ChargeIncome,
    /// Penal interest and penal charges earned.
    PenalIncome,
    /// Interest and charges given up by waiver.
    WaiverExpense,
    /// Dues written off.
    WriteOffExpense,
    /// Money recovered on a written-off loan.
    RecoveryIncome,
    /// Dues given up in a compromise settlement.
    SettlementLoss,
    /// The charge to profit for provisions made (negative on release).
    ProvisionExpense,
    /// Provisions held against loans (a contra-asset).
    ProvisionHeld,
}

impl Role {
    /// Every role, in a fixed order.
    pub fn all() -> impl Iterator<Item = Role> {
        <Role as strum::IntoEnumIterator>::iter()
    }

    /// The side a balance of this role normally sits on.
    pub const fn normal_side(self) -> Side {
        match self {
            Role::LoanPrincipal
            | Role::InterestReceivable
            | Role::InterestAccrued
            | Role::ChargesReceivable
            | Role::PenalAccrued
            | Role::CollectionsClearing
            | Role::WaiverExpense
            | Role::WriteOffExpense
            | Role::SettlementLoss
            | Role::ProvisionExpense => Side::Debit,
            Role::DisbursementClearing
            | Role::BorrowerExcess
            | Role::PartnerFunding
            | Role::PartnerPayable
            | Role::InterestSuspense
            | Role::InterestIncome
            | Role::ChargeIncome
            | Role::PenalIncome
            | Role::RecoveryIncome
            | Role::ProvisionHeld => Side::Credit,
        }
    }

    /// Whether the role is in the balance sheet (asset, liability, contra-asset) rather than the
    /// profit and loss statement.
    pub const fn is_balance_sheet(self) -> bool {
        !matches!(
            self,
            Role::InterestIncome
                | Role::ChargeIncome
                | Role::PenalIncome
                | Role::WaiverExpense
                | Role::WriteOffExpense
                | Role::RecoveryIncome
                | Role::SettlementLoss
                | Role::ProvisionExpense
        )
    }

    /// The role's name as it is written in JSON (`loan_principal`, …).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One account of the lender's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account code in the lender's ledger (e.g. `"1100"`).
    pub code: String,
    pub name: String,
    pub kind: AccountKind,
}

/// Why a chart cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    #[error("the chart has no account for role `{0}`")]
    MissingRole(String),
    #[error("role `{0}` is mapped more than once")]
    DuplicateRole(String),
    #[error("account code `{code}` is used by both `{first}` and `{second}`")]
    DuplicateCode {
        code: String,
        first: String,
        second: String,
    },
    #[error("role `{role}`: the account code must not be empty")]
    EmptyCode { role: String },
}

/// One mapping of the chart: a role and the account that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartLine {
    pub role: Role,
    #[serde(flatten)]
    pub account: Account,
}

/// The lender's chart: which account carries each role. Configurable as JSON (a list of
/// `{role, code, name, kind}`); [`Chart::validate`] before use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Chart {
    lines: Vec<ChartLine>,
}

impl Chart {
    /// A chart from its lines, validated.
    pub fn new(lines: Vec<ChartLine>) -> Result<Chart, ChartError> {
        let chart = Chart { lines };
        chart.validate()?;
        Ok(chart)
    }

    /// A sensible default chart: assets 1xxx, liabilities 2xxx, income 4xxx, expenses 5xxx.
    pub fn standard() -> Chart {
        use AccountKind::*;
        let row = |role, code: &str, name: &str, kind| ChartLine {
            role,
            account: Account {
                code: code.to_owned(),
                name: name.to_owned(),
                kind,
            },
        };
        Chart {
            lines: vec![
                row(Role::LoanPrincipal, "1100", "Loans: principal", Asset),
                row(
                    Role::InterestReceivable,
                    "1110",
                    "Interest receivable",
                    Asset,
                ),
                row(
                    Role::InterestAccrued,
                    "1120",
                    "Interest accrued not due",
                    Asset,
                ),
                row(Role::ChargesReceivable, "1130", "Charges receivable", Asset),
                row(Role::PenalAccrued, "1140", "Penal interest accrued", Asset),
                row(
                    Role::InterestSuspense,
                    "1150",
                    "Interest suspense (NPA)",
                    Asset,
                ),
                row(
                    Role::ProvisionHeld,
                    "1190",
                    "Provisions for loan losses",
                    Asset,
                ),
                row(
                    Role::CollectionsClearing,
                    "1210",
                    "Collections clearing",
                    Asset,
                ),
                row(
                    Role::DisbursementClearing,
                    "1220",
                    "Disbursement clearing",
                    Asset,
                ),
                row(
                    Role::BorrowerExcess,
                    "2100",
                    "Borrower money held",
                    Liability,
                ),
                row(Role::PartnerFunding, "2200", "Co-lender funding", Liability),
                row(
                    Role::PartnerPayable,
                    "2210",
                    "Payable to co-lenders (escrow)",
                    Liability,
                ),
                row(Role::InterestIncome, "4100", "Interest income", Income),
                row(Role::ChargeIncome, "4200", "Fee and charge income", Income),
                row(Role::PenalIncome, "4300", "Penal income", Income),
                row(
                    Role::RecoveryIncome,
                    "4400",
                    "Recoveries of written-off loans",
                    Income,
                ),
                row(Role::WaiverExpense, "5100", "Waivers", Expense),
                row(Role::WriteOffExpense, "5200", "Loans written off", Expense),
                row(Role::SettlementLoss, "5300", "Settlement losses", Expense),
                row(Role::ProvisionExpense, "5400", "Provision expense", Expense),
            ],
        }
    }

    /// Refuse a chart where a role has no account, a role is mapped twice, a code repeats or is
    /// empty.
    pub fn validate(&self) -> Result<(), ChartError> {
        let mut roles: BTreeMap<Role, ()> = BTreeMap::new();
        let mut codes: BTreeMap<&str, Role> = BTreeMap::new();
        for line in &self.lines {
            if roles.insert(line.role, ()).is_some() {
                return Err(ChartError::DuplicateRole(line.role.name()));
            }
            let code = line.account.code.trim();
            if code.is_empty() {
                return Err(ChartError::EmptyCode {
                    role: line.role.name(),
                });
            }
            if let Some(first) = codes.insert(code, line.role) {
                return Err(ChartError::DuplicateCode {
                    code: code.to_owned(),
                    first: first.name(),
                    second: line.role.name(),
                });
            }
        }
        match Role::all().find(|r| !roles.contains_key(r)) {
            Some(missing) => Err(ChartError::MissingRole(missing.name())),
            None => Ok(()),
        }
    }

    /// The account that carries `role`.
    pub fn account(&self, role: Role) -> Option<&Account> {
        self.lines
            .iter()
            .find(|l| l.role == role)
            .map(|l| &l.account)
    }

    pub fn lines(&self) -> &[ChartLine] {
        &self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_chart_is_valid_and_round_trips() {
        let chart = Chart::standard();
        chart.validate().unwrap();
        let json = serde_json::to_string(&chart).unwrap();
        assert!(json.contains("\"role\":\"loan_principal\""));
        let back: Chart = serde_json::from_str(&json).unwrap();
        assert_eq!(back, chart);
        assert_eq!(chart.account(Role::LoanPrincipal).unwrap().code, "1100");
    }

    #[test]
    fn validation_names_the_role_or_code() {
        let mut lines = Chart::standard().lines().to_vec();
        lines.retain(|l| l.role != Role::PenalIncome);
        let err = Chart::new(lines.clone()).unwrap_err();
        assert_eq!(err, ChartError::MissingRole("penal_income".into()));

        let mut twice = Chart::standard().lines().to_vec();
        twice.push(twice[0].clone());
        assert_eq!(
            Chart::new(twice).unwrap_err(),
            ChartError::DuplicateRole("loan_principal".into())
        );

        let mut code = Chart::standard().lines().to_vec();
        code[1].account.code = "1100".into();
        let err = Chart::new(code).unwrap_err();
        assert!(err.to_string().contains("`1100`"), "{err}");
        assert!(err.to_string().contains("interest_receivable"), "{err}");
    }

    #[test]
    fn every_role_has_a_name() {
        for r in Role::all() {
            assert!(!r.name().is_empty());
        }
    }
}
