//! The loan list: projections of each loan's state, filtered and paged, kept true on the
//! business date by refreshing them whenever the date moves.

use loanbook_domain::calendar::Date;
use loanbook_domain::loan;
use loanbook_store::{LoanFilter, LoanListing};
use serde_json::{Value, json};

use crate::{App, AppError, Principal, Role, auth::Action, projection};

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

fn row(l: &LoanListing) -> Value {
    let p = &l.projection;
    let state: Value = serde_json::from_str(&p.state).unwrap_or(Value::Null);
    json!({
        "id": p.loan_id,
        "loan_number": l.loan_number,
        "version": p.version,
        "as_of": p.as_of,
        "status": p.status,
        "classification": p.classification,
        "dpd": p.dpd,
        "principal_outstanding": state["balances"]["principal_outstanding"],
        "total_overdue": state["total_overdue"],
    })
}

impl App {
    /// Loans by status, class, DPD, loan number or partner, in id order from `filter.after`.
    pub async fn list_loans(
        &self,
        p: &Principal,
        mut filter: LoanFilter,
    ) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        one_of("status", &filter.status, &STATUSES)?;
        one_of("classification", &filter.classification, &CLASSIFICATIONS)?;
        for (field, v) in [("dpd_min", filter.dpd_min), ("dpd_max", filter.dpd_max)] {
            if v.is_some_and(|d| !(0..=100_000).contains(&d)) {
                return Err(AppError::invalid(field, "must be between 0 and 100000"));
            }
        }
        if p.role == Role::Partner {
            filter.partner_id = p.user.partner_id.clone();
        }
        if filter.limit <= 0 {
            filter.limit = 50;
        }
        let page = self.store.list_loans(&filter).await?;
        let next = if page.len() as i64 == filter.limit {
            page.last().map(|l| l.projection.loan_id.clone())
        } else {
            None
        };
        let items: Vec<Value> = page.iter().map(row).collect();
        Ok(json!({ "items": items, "next_cursor": next }))
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
