//! The general ledger as the close has posted it: the trial balance, a loan's journal, the
//! reconciliation of the GL's control accounts to the loans' own balances, and the digest of a
//! day (one hash over every loan's state and the GL).
//!
//! Amounts are shown in rupees with two decimals: the book's journal is in paise.

use std::collections::{BTreeMap, BTreeSet};

use loanbook_domain::calendar::Date;
use loanbook_domain::gl::{Chart, ChartLine, Role, loan_roles, subledger};
use loanbook_domain::loan::{self, LoanState};
use loanbook_domain::money::format_minor;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{Action, App, AppError, Principal, corrupt};

const DIGITS: u32 = 2;

/// One account's line of the trial balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrialBalanceLine {
    pub account: String,
    pub name: String,
    pub role: String,
    pub product_id: Option<String>,
    pub partner_id: Option<String>,
    #[schema(example = "1500.00")]
    pub debit: String,
    #[schema(example = "0.00")]
    pub credit: String,
}

/// Every account's debits and credits to a date; `balanced` when they are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrialBalanceView {
    #[schema(format = Date, example = "2024-03-31")]
    pub date: String,
    pub lines: Vec<TrialBalanceLine>,
    pub total_debit: String,
    pub total_credit: String,
    pub balanced: bool,
}

/// Where the GL and the loans' own balances disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Difference {
    /// The loan, or none for a control account's total by product.
    pub loan_id: Option<String>,
    pub product_id: Option<String>,
    pub partner_id: Option<String>,
    pub role: String,
    /// What the GL holds (debit positive).
    pub gl: String,
    /// What the loans' balances say it should hold.
    pub loans: String,
}

/// The reconciliation of a day: GL control accounts against the sum of the loans' balances by
/// product and partner, and per loan for the accounts posted per loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReconciliationView {
    #[schema(format = Date, example = "2024-03-31")]
    pub date: String,
    pub loans: usize,
    pub reconciled: bool,
    pub differences: Vec<Difference>,
}

/// One line of a loan's journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct JournalLineView {
    pub entry_id: String,
    #[schema(format = Date, example = "2024-03-31")]
    pub posted_on: String,
    pub kind: String,
    pub narration: String,
    pub account: String,
    pub partner_id: Option<String>,
    pub debit: String,
    pub credit: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct JournalView {
    pub loan_id: String,
    pub lines: Vec<JournalLineView>,
}

/// One hash over every loan's state on a date and the GL's balances to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DigestView {
    #[schema(format = Date, example = "2024-03-31")]
    pub date: String,
    pub loans: usize,
    /// SHA-256, hex.
    pub digest: String,
}

/// A loan on a date: its id, product, originating co-lender and state.
type LoanOnDate = (String, Option<String>, Option<String>, LoanState);

/// Whether every line of the role carries its loan: all but the interest the summary accruals
/// post to (reconciled by product only).
fn posted_per_loan(role: Role) -> bool {
    !matches!(role, Role::InterestAccrued | Role::InterestSuspense)
}

/// GL balances keyed by role, product and partner.
type Keyed = BTreeMap<(Role, Option<String>, Option<String>), i64>;

impl App {
    pub async fn trial_balance(
        &self,
        p: &Principal,
        date: Date,
    ) -> Result<TrialBalanceView, AppError> {
        p.require(Action::ReadLedger)?;
        let chart = Chart::standard();
        let rows = self
            .store
            .trial_balance(&self.book, &date.to_string())
            .await?;
        let (mut debit, mut credit) = (0i128, 0i128);
        let mut lines = Vec::with_capacity(rows.len());
        for r in rows {
            debit += i128::from(r.debit);
            credit += i128::from(r.credit);
            let (name, role) = by_code(&chart, &r.account)
                .map(|l| (l.account.name.clone(), l.role.name()))
                .unwrap_or_else(|| ("(not in the chart)".into(), String::new()));
            lines.push(TrialBalanceLine {
                account: r.account,
                name,
                role,
                product_id: r.product_id,
                partner_id: r.partner_id,
                debit: format_minor(r.debit, DIGITS),
                credit: format_minor(r.credit, DIGITS),
            });
        }
        let total = |v: i128| format_minor(i64::try_from(v).unwrap_or(i64::MAX), DIGITS);
        Ok(TrialBalanceView {
            date: date.to_string(),
            lines,
            total_debit: total(debit),
            total_credit: total(credit),
            balanced: debit == credit,
        })
    }

    pub async fn journal_of(&self, p: &Principal, loan_id: &str) -> Result<JournalView, AppError> {
        p.require(Action::ReadLedger)?;
        self.loan_for(p, loan_id).await?;
        let lines = self.store.journal(&self.book, loan_id).await?;
        Ok(JournalView {
            loan_id: loan_id.to_owned(),
            lines: lines
                .into_iter()
                .map(|l| JournalLineView {
                    entry_id: l.entry_id,
                    posted_on: l.posted_on,
                    kind: l.kind,
                    narration: l.narration,
                    account: l.account,
                    partner_id: l.partner_id,
                    debit: format_minor(l.debit, DIGITS),
                    credit: format_minor(l.credit, DIGITS),
                })
                .collect(),
        })
    }

    /// Every loan's state at the end of `date`, by replay, with its product.
    async fn states_on(&self, date: Date) -> Result<Vec<LoanOnDate>, AppError> {
        let system = self.system_principal();
        let mut states = Vec::new();
        for id in self.store.loan_ids().await? {
            let record = self.loan_for(&system, &id).await?;
            let loaded = self.load(&system, &id).await?;
            let state = loan::replay(&loaded.terms, &loaded.events, date)
                .map_err(|e| corrupt(format!("loan `{id}` does not replay: {e}")))?;
            let originator = loaded
                .terms
                .partners
                .iter()
                .find(|p| p.originator)
                .map(|p| p.id.clone());
            states.push((id, record.0.product_id.clone(), originator, state));
        }
        Ok(states)
    }

    /// Reconcile the GL of `date` (a closed day) to the loans' balances at its end.
    pub async fn reconcile(
        &self,
        p: &Principal,
        date: Date,
    ) -> Result<ReconciliationView, AppError> {
        p.require(Action::ReadLedger)?;
        let chart = Chart::standard();
        let day = date.to_string();
        let states = self.states_on(date).await?;
        let mut gl_totals: Keyed = BTreeMap::new();
        for r in self.store.trial_balance(&self.book, &day).await? {
            if let Some(role) = by_code(&chart, &r.account).map(|l| l.role) {
                *gl_totals
                    .entry((role, r.product_id, r.partner_id))
                    .or_insert(0) += r.debit - r.credit;
            }
        }
        let mut gl_loans: BTreeMap<(String, Role, Option<String>), i64> = BTreeMap::new();
        for r in self.store.loan_balances(&self.book, &day).await? {
            if let Some(role) = by_code(&chart, &r.account).map(|l| l.role) {
                *gl_loans.entry((r.loan_id, role, r.partner_id)).or_insert(0) += r.balance;
            }
        }
        let mut loans_totals: Keyed = BTreeMap::new();
        let mut loans_each: BTreeMap<(String, Role, Option<String>), i64> = BTreeMap::new();
        let products: BTreeMap<&String, &Option<String>> = states
            .iter()
            .map(|(id, product, _, _)| (id, product))
            .collect();
        for (id, product, originator, state) in &states {
            for ((role, partner), amount) in subledger(state, originator.as_deref()) {
                *loans_totals
                    .entry((role, product.clone(), partner.clone()))
                    .or_insert(0) += amount;
                if posted_per_loan(role) {
                    loans_each.insert((id.clone(), role, partner), amount);
                }
            }
        }
        let reconciled: Vec<Role> = loan_roles().collect();
        let mut differences = Vec::new();
        let each_keys: BTreeSet<&(String, Role, Option<String>)> = loans_each
            .keys()
            .chain(
                gl_loans
                    .keys()
                    .filter(|(_, r, _)| reconciled.contains(r) && posted_per_loan(*r)),
            )
            .collect();
        for key @ (id, role, partner) in each_keys {
            let (held, owed) = (value(&gl_loans, key), value(&loans_each, key));
            if held != owed {
                let product = products.get(id).copied().cloned().unwrap_or_default();
                differences.push(difference(Some(id), &product, partner, *role, held, owed));
            }
        }
        let total_keys: BTreeSet<&(Role, Option<String>, Option<String>)> = loans_totals
            .keys()
            .chain(gl_totals.keys().filter(|(r, _, _)| reconciled.contains(r)))
            .collect();
        for key @ (role, product, partner) in total_keys {
            let (held, owed) = (value(&gl_totals, key), value(&loans_totals, key));
            if held != owed {
                differences.push(difference(None, product, partner, *role, held, owed));
            }
        }
        Ok(ReconciliationView {
            date: day,
            loans: states.len(),
            reconciled: differences.is_empty(),
            differences,
        })
    }

    /// One hash over every loan's state at the end of `date` and the trial balance to it: two
    /// closes of the same book give the same digest exactly when they agree on every figure.
    pub async fn eod_digest(&self, p: &Principal, date: Date) -> Result<DigestView, AppError> {
        p.require(Action::ReadLedger)?;
        let states = self.states_on(date).await?;
        // By loan number, the loan's human reference, so that two books built alike compare
        // equal whatever ids their loans were given.
        let system = self.system_principal();
        let mut numbered = Vec::with_capacity(states.len());
        for (id, _, _, state) in &states {
            let number = self.loan_for(&system, id).await?.0.loan_number.clone();
            let json = serde_json::to_string(&crate::state_view::LoanStateView::of(state, false))
                .map_err(|e| corrupt(format!("state of `{id}`: {e}")))?;
            numbered.push((number, json));
        }
        numbered.sort();
        let mut hash = Sha256::new();
        for (number, json) in &numbered {
            hash.update(number.as_bytes());
            hash.update(json.as_bytes());
        }
        for r in self
            .store
            .trial_balance(&self.book, &date.to_string())
            .await?
        {
            let line = format!(
                "{}|{}|{}|{}|{}\n",
                r.account,
                r.product_id.unwrap_or_default(),
                r.partner_id.unwrap_or_default(),
                r.debit,
                r.credit
            );
            hash.update(line.as_bytes());
        }
        Ok(DigestView {
            date: date.to_string(),
            loans: states.len(),
            digest: hex::encode(hash.finalize()),
        })
    }
}

fn value<K: Ord>(map: &BTreeMap<K, i64>, key: &K) -> i64 {
    map.get(key).copied().unwrap_or(0)
}

/// The chart's line of account `code`.
fn by_code<'c>(chart: &'c Chart, code: &str) -> Option<&'c ChartLine> {
    chart.lines().iter().find(|l| l.account.code == code)
}

fn difference(
    loan: Option<&String>,
    product: &Option<String>,
    partner: &Option<String>,
    role: Role,
    gl: i64,
    loans: i64,
) -> Difference {
    Difference {
        loan_id: loan.cloned(),
        product_id: product.clone(),
        partner_id: partner.clone(),
        role: role.name().to_owned(),
        gl: format_minor(gl, DIGITS),
        loans: format_minor(loans, DIGITS),
    }
}
