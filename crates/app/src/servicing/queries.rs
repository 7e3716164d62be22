//! A loan as it reads: its record and terms (cached; they never change once booked), its events
//! decoded, its state on any date by replay, its events as stored, a foreclosure quote, the
//! check that every stored projection equals a fresh replay, and the loan list: projections
//! filtered and paged, kept true on the business date by refreshing them whenever it moves.

use std::sync::Arc;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::Event;
use loanbook_domain::loan::{self, LoanState, Resumed, Snapshot};
use loanbook_domain::terms::Terms;
use loanbook_store::{LoanFilter, LoanRecord, User};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{projection, state_doc};
use crate::views::{
    ForeclosureQuote, LoanEventsView, LoanPage, LoanRow, LoanView, StoredEventView,
};
use crate::{App, AppError, Principal, Role, auth::Action, corrupt};

/// A loan as stored, decoded.
pub(crate) struct Loaded {
    pub(crate) terms: Terms,
    pub(crate) events: Vec<Event>,
}

impl App {
    // -----------------------------------------------------------------------------------------
    // Queries
    // -----------------------------------------------------------------------------------------

    /// A loan's record and parsed terms, from the cache or the store.
    pub(crate) async fn loan_record(
        &self,
        loan_id: &str,
    ) -> Result<Arc<(LoanRecord, Terms)>, AppError> {
        if let Some(l) = self.caches.loans.get(loan_id) {
            return Ok(l);
        }
        let record = self
            .store
            .loan(loan_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("loan `{loan_id}`")))?;
        let terms = Terms::from_json(&record.terms)
            .map_err(|e| corrupt(format!("terms of loan `{loan_id}`: {e}")))?;
        let l = Arc::new((record, terms));
        self.caches.loans.insert(loan_id.to_owned(), l.clone());
        Ok(l)
    }

    /// The loan's record and terms, for `p`: a partner does not learn that loans it does not
    /// fund exist.
    pub(crate) async fn loan_for(
        &self,
        p: &Principal,
        loan_id: &str,
    ) -> Result<Arc<(LoanRecord, Terms)>, AppError> {
        let loan = self.loan_record(loan_id).await?;
        if p.role == Role::Partner
            && !p
                .user
                .partner_id
                .as_ref()
                .is_some_and(|id| loan.0.partner_ids.contains(id))
        {
            return Err(AppError::NotFound(format!("loan `{loan_id}`")));
        }
        Ok(loan)
    }

    /// Every stored event of the loan, read as trusted (each was checked when written).
    pub(crate) async fn events_of(
        &self,
        loan_id: &str,
        terms: &Terms,
    ) -> Result<Vec<Event>, AppError> {
        let stored = self.store.event_documents(loan_id).await?;
        let mut events = Vec::with_capacity(stored.len());
        for (i, doc) in stored.iter().enumerate() {
            events.push(
                Event::from_trusted_json(doc, terms.currency)
                    .map_err(|e| corrupt(format!("event {} of loan `{loan_id}`: {e}", i + 1)))?,
            );
        }
        Ok(events)
    }

    pub(crate) async fn load(&self, p: &Principal, loan_id: &str) -> Result<Loaded, AppError> {
        let loan = self.loan_for(p, loan_id).await?;
        let events = self.events_of(loan_id, &loan.1).await?;
        Ok(Loaded {
            terms: loan.1.clone(),
            events,
        })
    }

    /// The loan's state at the end of `as_of`, resumed from its snapshot, and its version.
    pub(crate) async fn state_at(
        &self,
        loan_id: &str,
        terms: &Terms,
        as_of: Date,
    ) -> Result<(LoanState, i64), AppError> {
        let point = self.resume_point(loan_id, terms, None).await?;
        match self.resume_loan(loan_id, terms, &point, &[], as_of).await? {
            Ok(r) => Ok((r.state, point.version())),
            Err(e) => Err(corrupt(format!("loan `{loan_id}` does not replay: {e}"))),
        }
    }

    /// The loan's state at the end of `as_of` (default: the business date).
    pub async fn loan_state(
        &self,
        p: &Principal,
        loan_id: &str,
        as_of: Option<Date>,
    ) -> Result<LoanView, AppError> {
        p.require(Action::Read)?;
        let loan = self.loan_for(p, loan_id).await?;
        let (record, terms) = (&loan.0, &loan.1);
        let as_of = match as_of {
            Some(d) => d,
            None => self.business_date().await?,
        };
        let (state, version) = self.state_at(loan_id, terms, as_of).await?;
        Ok(LoanView {
            id: record.id.clone(),
            loan_number: record.loan_number.clone(),
            terms_hash: record.terms_hash.clone(),
            product_id: record.product_id.clone(),
            product_version: record.product_version,
            borrower_id: record.borrower_id.clone(),
            application_id: record.application_id.clone(),
            version,
            state: state_doc(&state, true)?,
        })
    }

    pub async fn loan_events(
        &self,
        p: &Principal,
        loan_id: &str,
    ) -> Result<LoanEventsView, AppError> {
        p.require(Action::Read)?;
        self.load(p, loan_id).await?;
        let stored = self.store.events(loan_id).await?;
        Ok(LoanEventsView {
            loan_id: loan_id.to_owned(),
            events: stored.iter().map(StoredEventView::from).collect(),
        })
    }

    pub async fn foreclosure_quote(
        &self,
        p: &Principal,
        loan_id: &str,
        date: Date,
    ) -> Result<ForeclosureQuote, AppError> {
        p.require(Action::Read)?;
        let loaded = self.load(p, loan_id).await?;
        let amount = loan::foreclosure_quote(&loaded.terms, &loaded.events, date)
            .map_err(|e| AppError::invalid(e.field, e.rule.clone()))?;
        Ok(ForeclosureQuote {
            loan_id: loan_id.to_owned(),
            date: date.to_string(),
            amount: loanbook_domain::money::format_minor(
                amount,
                loaded.terms.currency.minor_digits(),
            ),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Integrity
    // -----------------------------------------------------------------------------------------

    /// The service itself, reading every loan (for projections and checks).
    /// The reader the command line and the integrity checks read as: an auditor (personal data
    /// masked, nothing changed).
    pub fn system_principal(&self) -> Principal {
        Principal {
            user: User {
                id: "system".into(),
                name: "system".into(),
                role: "auditor".into(),
                partner_id: None,
                created_at: self.now(),
            },
            role: Role::Auditor,
        }
    }

    /// Loans whose stored projection differs from a fresh replay of their events.
    pub async fn projection_mismatches(&self) -> Result<Vec<String>, AppError> {
        let system = self.system_principal();
        let mut bad = Vec::new();
        for id in self.store.loan_ids().await? {
            let loaded = self.load(&system, &id).await?;
            let stored = self.store.projection(&id).await?;
            let Some(stored) = stored else {
                bad.push(format!("{id}: no projection"));
                continue;
            };
            let as_of: Date = stored
                .as_of
                .parse()
                .map_err(|e| corrupt(format!("projection of `{id}`: {e}")))?;
            let fresh = match loan::replay(&loaded.terms, &loaded.events, as_of) {
                Ok(s) => s,
                Err(e) => {
                    bad.push(format!("{id}: does not replay: {e}"));
                    continue;
                }
            };
            let expected = projection(&id, loaded.events.len() as i64, &fresh);
            if expected != stored {
                bad.push(format!(
                    "{id}: projection version {} differs from replay",
                    stored.version
                ));
            }
            // Every stored snapshot, resumed through the events after it, must give the state a
            // replay from the first event gives.
            for snapshot in self.store.snapshots(&id).await? {
                let v = snapshot.version;
                let resumed = match Snapshot::from_json(&snapshot.engine) {
                    Ok(s) => {
                        let after = &loaded.events
                            [usize::try_from(v).unwrap_or(0).min(loaded.events.len())..];
                        loan::resume_owned(&loaded.terms, s, after, as_of)
                    }
                    Err(e) => {
                        bad.push(format!("{id}: snapshot {v} does not read: {e}"));
                        continue;
                    }
                };
                match resumed {
                    Ok(Resumed::Applied(r)) if r.state == fresh => {}
                    Ok(Resumed::NeedsEarlier(_)) => {}
                    Ok(Resumed::Applied(_)) => {
                        bad.push(format!(
                            "{id}: snapshot {v} resumes to a state the replay differs from"
                        ));
                    }
                    Err(e) => bad.push(format!("{id}: snapshot {v} does not resume: {e}")),
                }
            }
        }
        Ok(bad)
    }
}

/// Loan statuses a filter may name.
pub const STATUSES: [&str; 6] = [
    "pending",
    "active",
    "closed",
    "written_off",
    "settled",
    "foreclosed",
];
/// RBI classes a filter may name.
pub const CLASSIFICATIONS: [&str; 5] = ["standard", "sma0", "sma1", "sma2", "npa"];

/// Projections refreshed per store write when the business date moves.
const REFRESH_CHUNK: usize = 500;

fn one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), AppError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(AppError::invalid(
            field,
            format!("must be one of: {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// The loan list's filters and page, as a query asks for them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListLoans {
    /// One of: pending, active, closed, written_off, settled, foreclosed.
    #[param(pattern = "^(pending|active|closed|written_off|settled|foreclosed)$")]
    pub status: Option<String>,
    /// One of: standard, sma0, sma1, sma2, npa.
    #[param(pattern = "^(standard|sma0|sma1|sma2|npa)$")]
    pub classification: Option<String>,
    #[param(minimum = 0, maximum = 100000)]
    pub dpd_min: Option<i64>,
    #[param(minimum = 0, maximum = 100000)]
    pub dpd_max: Option<i64>,
    /// Loans a co-lending partner funds (a partner's own token sees only its own).
    pub partner: Option<String>,
    pub loan_number: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl ListLoans {
    /// The store's filter, once every value is within its rules.
    fn filter(&self) -> Result<LoanFilter, AppError> {
        one_of("status", &self.status, &STATUSES)?;
        one_of("classification", &self.classification, &CLASSIFICATIONS)?;
        for (field, v) in [("dpd_min", self.dpd_min), ("dpd_max", self.dpd_max)] {
            if v.is_some_and(|d| !(0..=100_000).contains(&d)) {
                return Err(AppError::invalid(field, "must be between 0 and 100000"));
            }
        }
        let limit = self.limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(AppError::invalid("limit", "must be between 1 and 1000"));
        }
        Ok(LoanFilter {
            status: self.status.clone(),
            classification: self.classification.clone(),
            dpd_min: self.dpd_min,
            dpd_max: self.dpd_max,
            partner_id: self.partner.clone(),
            loan_number: self.loan_number.clone(),
            after: self.cursor.clone(),
            limit,
        })
    }
}

impl App {
    /// Loans by status, class, DPD, loan number or partner, in id order from `filter.after`.
    pub async fn list_loans(&self, p: &Principal, q: &ListLoans) -> Result<LoanPage, AppError> {
        p.require(Action::Read)?;
        let mut filter = q.filter()?;
        if p.role == Role::Partner {
            filter.partner_id = p.user.partner_id.clone();
        }
        let page = self.store.list_loans(&filter).await?;
        let next = if page.len() as i64 == filter.limit {
            page.last().map(|l| l.projection.loan_id.clone())
        } else {
            None
        };
        Ok(LoanPage {
            items: page.iter().map(LoanRow::from).collect(),
            next_cursor: next,
        })
    }

    /// Bring every loan's projection to the business date `to`, so the list's DPD and class
    /// filters tell the truth after the date moves. Returns how many were refreshed. (The close
    /// of business will do this incrementally; this is the bulk form.)
    pub(crate) async fn refresh_projections(&self, to: Date) -> Result<usize, AppError> {
        let ids = self.store.loan_ids().await?;
        let system = self.system_principal();
        let mut written = 0;
        for chunk in ids.chunks(REFRESH_CHUNK) {
            let mut fresh = Vec::with_capacity(chunk.len());
            for id in chunk {
                let loaded = self.load(&system, id).await?;
                match loan::replay(&loaded.terms, &loaded.events, to) {
                    Ok(state) => fresh.push(projection(id, loaded.events.len() as i64, &state)),
                    Err(e) => {
                        tracing::error!(loan = %id, error = %e, "loan does not replay");
                    }
                }
            }
            written += self.store.refresh_projections(&fresh).await?;
        }
        Ok(written)
    }
}
