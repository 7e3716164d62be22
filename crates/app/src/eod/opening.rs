//! Opening the ledger of a loan book loaded in bulk: each loan closed at the book's as-of date as
//! a first close would close it (its whole history posted on an empty journal), so that the next
//! close finds every loan marked and reads only the loans that wake.

use std::collections::BTreeMap;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::Event;
use loanbook_domain::gl::{self, Chart};
use loanbook_domain::loan::Snapshot;
use loanbook_domain::terms::Terms;
use loanbook_store::{EodMark, NewGlLine, PlannedAccrual};

use super::loan_close::{self, History, LoanInput, Outcome};
use crate::provisioning::ProvisioningSetup;

/// One loan's opening.
#[derive(Debug, Clone)]
pub struct OpenedLoan {
    pub mark: EodMark,
    /// Its balanced entries (the loan's position, its provision) as GL lines.
    pub gl_lines: Vec<NewGlLine>,
    /// The interest accrued over its history, for the book's summary accruals: to income and to
    /// suspense.
    pub accrued_income: i64,
    pub accrued_suspense: i64,
    /// Its plan for the quiet days after the as-of date.
    pub planned: Vec<PlannedAccrual>,
}

/// Close `as_of` for a loan no close has seen, from all of its `events`, provisioned by
/// `provisioning`.
pub fn open_loan(
    loan_id: &str,
    product: Option<&str>,
    terms: &Terms,
    events: Vec<Event>,
    as_of: Date,
    provisioning: &ProvisioningSetup,
) -> Result<OpenedLoan, String> {
    let input = LoanInput {
        loan_id: loan_id.to_owned(),
        product: product.map(str::to_owned),
        terms: terms.clone(),
        snapshot: Snapshot::zero(terms),
        tail: Vec::new(),
        mark: None,
        unplanned: Vec::new(),
        history: Some(History {
            events,
            journal: gl::Position::new(),
        }),
    };
    let closed = match loan_close::close_loan(&input, as_of, provisioning) {
        Outcome::Closed(c) => c,
        Outcome::NeedsHistory => return Err(format!("{loan_id}: does not close")),
        Outcome::Failed(why) => return Err(format!("{loan_id}: {why}")),
    };
    let source = format!("opening:{as_of}");
    Ok(OpenedLoan {
        gl_lines: super::chunk::gl_lines(&Chart::standard(), &closed.entries, &source),
        mark: closed.mark,
        accrued_income: closed.accrued_income,
        accrued_suspense: closed.accrued_suspense,
        planned: closed.planned,
    })
}

/// The summary accruals of opened loans, per product: interest accrued to income and to
/// suspense, as GL lines dated `as_of`.
#[derive(Debug, Clone, Default)]
pub struct OpeningAccruals {
    by_product: BTreeMap<(String, bool), i64>,
}

impl OpeningAccruals {
    /// Add a loan's interest accrued to income and to suspense.
    pub fn add(&mut self, product: Option<&str>, income: i64, suspense: i64) {
        let product = product.unwrap_or_default().to_owned();
        *self.by_product.entry((product.clone(), false)).or_insert(0) += income;
        *self.by_product.entry((product, true)).or_insert(0) += suspense;
    }

    pub fn gl_lines(&self, as_of: Date) -> Vec<NewGlLine> {
        let entries: Vec<_> = self
            .by_product
            .iter()
            .filter_map(|((product, npa), amount)| gl::accrual_entry(as_of, product, *amount, *npa))
            .collect();
        super::chunk::gl_lines(&Chart::standard(), &entries, &format!("opening:{as_of}"))
    }
}
