//! A loan's state as the API and `loanbook replay --json` show it: money as decimal strings in
//! the loan's currency, dates ISO, names in snake case. Serialised straight from these types (no
//! intermediate JSON tree), with the fields of each object in alphabetical order, the order the
//! document has always had.

use loanbook_domain::loan::{InstallmentStatus, LoanState, Loss};
use loanbook_domain::money::format_minor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A loan's state at the end of `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoanStateView {
    #[schema(format = Date)]
    pub as_of: String,
    /// RBI asset class: `standard`, `substandard`, `doubtful_1`…, `loss`.
    pub asset_class: String,
    #[schema(example = "12")]
    pub annual_rate: String,
    pub balances: BalancesView,
    /// The day the loan became NPA with another facility of its borrower, while it is so held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub borrower_npa_since: Option<String>,
    /// `standard`, `sma0`, `sma1`, `sma2` or `npa`.
    pub classification: String,
    pub classification_history: Vec<ClassEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub closed_on: Option<String>,
    pub dpd: u32,
    pub events_applied: usize,
    pub foreclosure_amount: String,
    pub installment_amount: String,
    /// The schedule with what was paid of it: on reads and dry runs, not in a command's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installments: Option<Vec<InstallmentView>>,
    #[schema(format = Date)]
    pub npa_since: Option<String>,
    pub partners: Vec<PartnerView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_shortfall: Option<LossView>,
    /// `pending`, `active`, `closed`, `written_off`, …
    pub status: String,
    pub total_overdue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_off: Option<WrittenOffView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalancesView {
    pub charges_due: String,
    pub excess: String,
    pub interest_accrued: String,
    pub interest_overdue: String,
    pub interest_suspended: String,
    pub penal_accrued: String,
    pub principal_outstanding: String,
    pub principal_overdue: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClassEntry {
    pub class: String,
    #[schema(format = Date)]
    pub date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstallmentView {
    pub capitalised: String,
    #[schema(format = Date)]
    pub due_date: String,
    pub interest: String,
    pub number: u32,
    pub paid: String,
    pub principal: String,
    /// `paid`, `partially_paid`, `overdue`, `due` or `upcoming`.
    pub status: String,
    pub total: String,
    pub waived: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartnerView {
    pub charges_received: String,
    pub id: String,
    pub interest_received: String,
    pub principal_outstanding: String,
    pub principal_received: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LossView {
    pub charges: String,
    pub interest: String,
    pub principal: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WrittenOffView {
    pub amounts: LossView,
    #[schema(format = Date)]
    pub date: String,
}

fn status_name(s: InstallmentStatus) -> &'static str {
    match s {
        InstallmentStatus::Paid => "paid",
        InstallmentStatus::PartiallyPaid => "partially_paid",
        InstallmentStatus::Overdue => "overdue",
        InstallmentStatus::Due => "due",
        InstallmentStatus::Upcoming => "upcoming",
    }
}

impl LoanStateView {
    /// The view of `s`; `rows` adds the instalments.
    pub fn of(s: &LoanState, rows: bool) -> LoanStateView {
        let digits = s.currency.minor_digits();
        let m = |v: i64| format_minor(v, digits);
        let loss = |l: &Loss| LossView {
            charges: m(l.charges),
            interest: m(l.interest),
            principal: m(l.principal),
        };
        let b = &s.balances;
        LoanStateView {
            as_of: s.as_of.to_string(),
            asset_class: s.asset_class.name().to_owned(),
            annual_rate: s.annual_rate.normalize().to_string(),
            balances: BalancesView {
                charges_due: m(b.charges_due),
                excess: m(b.excess),
                interest_accrued: m(b.interest_accrued),
                interest_overdue: m(b.interest_overdue),
                interest_suspended: m(b.interest_suspended),
                penal_accrued: m(b.penal_accrued),
                principal_outstanding: m(b.principal_outstanding),
                principal_overdue: m(b.principal_overdue),
            },
            classification: s.classification.name().to_owned(),
            classification_history: s
                .classification_history
                .iter()
                .map(|(d, c)| ClassEntry {
                    class: c.name().to_owned(),
                    date: d.to_string(),
                })
                .collect(),
            closed_on: s.closed_on.map(|d| d.to_string()),
            dpd: s.dpd,
            events_applied: s.events_applied,
            foreclosure_amount: m(s.foreclosure_amount),
            installment_amount: m(s.installment_amount),
            installments: rows.then(|| {
                s.installments
                    .iter()
                    .map(|i| InstallmentView {
                        capitalised: m(i.capitalised),
                        due_date: i.due_date.to_string(),
                        interest: m(i.interest),
                        number: i.number,
                        paid: m(i.paid),
                        principal: m(i.principal),
                        status: status_name(i.status).to_owned(),
                        total: m(i.total),
                        waived: m(i.waived),
                    })
                    .collect()
            }),
            npa_since: s.npa_since.map(|d| d.to_string()),
            borrower_npa_since: s.borrower_npa_since.map(|d| d.to_string()),
            partners: s
                .partners
                .iter()
                .map(|p| PartnerView {
                    charges_received: m(p.charges_received),
                    id: p.id.clone(),
                    interest_received: m(p.interest_received),
                    principal_outstanding: m(p.principal_outstanding),
                    principal_received: m(p.principal_received),
                })
                .collect(),
            recovered: s.written_off.as_ref().map(|_| m(s.recovered)),
            settlement_shortfall: s.settlement_shortfall.as_ref().map(loss),
            status: s.status.name().to_owned(),
            total_overdue: m(s.total_overdue),
            written_off: s.written_off.as_ref().map(|(d, l)| WrittenOffView {
                amounts: loss(l),
                date: d.to_string(),
            }),
        }
    }
}
