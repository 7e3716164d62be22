//! The `borrowers` step: asset classification is borrower-wise (regulation-india.md §1.4, §1.5).
//!
//! When one facility of a borrower is NPA, every facility of that borrower is NPA with it; the
//! borrower is upgraded only when the arrears on all its facilities are paid. After the `loans`
//! step has closed the day, this step reads the marks of the day that are NPA or held NPA with
//! their borrower, and every loan of those borrowers, and decides per borrower:
//!
//! - the borrower is NPA while one of its loans is NPA and one of them has anything overdue;
//! - then every active loan of a borrower with more than one (or with one held already) that is
//!   not held gets a `borrower_npa` event, naming the facility that is NPA by its loan number;
//! - otherwise every held loan gets a `borrower_upgraded` event, and takes its own class again.
//!
//! The events are appended through the loan's command path (audited, with their outbox messages),
//! dated the closed day, and the loans are closed again for that day in the step's chunks, so the
//! GL, marks and projections of the day carry the borrower's class. A re-run after a kill decides
//! again from the marks; a loan whose projection already says what the decision would write gets
//! no second event.

use std::collections::BTreeMap;
use std::time::Instant;

use loanbook_domain::delinquency::Classification;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{LoanState, Status};
use loanbook_store::{EodMark, EodProgress, Facility, User};

use super::BORROWERS_STEP;
use super::chunk::DayContext;
use super::run::CloseOptions;
use crate::auth::Role;
use crate::{App, AppError, Principal, RequestMeta};

/// What the step writes for one loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub loan_id: String,
    /// `BorrowerNpa` or `BorrowerUpgraded`.
    pub kind: EventKind,
}

/// Where one facility of a borrower stands at the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Active and closed on the day: whether it is NPA, held NPA with its borrower, and owes
    /// anything overdue.
    Read {
        npa: bool,
        held: bool,
        arrears: bool,
    },
    /// Asleep through the day: active, standard, nothing overdue, not held.
    Quiet,
    /// Closed, written off or otherwise ended: no part of the borrower's class.
    Ended,
    /// Not closed on the day although it should have been (no mark yet, or it failed).
    Unknown,
}

impl Standing {
    /// A facility's standing from its mark, at the end of `day`.
    pub fn of_mark(mark: Option<&EodMark>, day: &str) -> Standing {
        match mark {
            None => Standing::Unknown,
            Some(m) if m.day == day => Standing::Read {
                npa: m.npa,
                held: m.held,
                arrears: m.arrears,
            },
            Some(m) => match m.wake_on.as_deref() {
                None => Standing::Ended,
                Some(w) if w > day => Standing::Quiet,
                Some(_) => Standing::Unknown,
            },
        }
    }

    /// A facility's standing from its state at the end of the day.
    pub fn of_state(state: &LoanState) -> Standing {
        if state.status != Status::Active {
            return Standing::Ended;
        }
        Standing::Read {
            npa: state.classification == Classification::Npa,
            held: state.borrower_npa_since.is_some(),
            arrears: state.dpd > 0,
        }
    }

    fn is(self, which: fn(bool, bool, bool) -> bool) -> bool {
        match self {
            Standing::Read { npa, held, arrears } => which(npa, held, arrears),
            _ => false,
        }
    }
}

/// One loan of a borrower as [`decide`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standed<'a> {
    pub loan_id: &'a str,
    /// The lender's number for it: how a `borrower_npa` event names the NPA facility.
    pub loan_number: &'a str,
    pub standing: Standing,
}

/// The decisions for one borrower, from where each of its loans stands (any order).
pub fn decide(loans: &[Standed<'_>]) -> Vec<Decision> {
    let held = |s: Standing| s.is(|_, held, _| held);
    // The facility named as the cause: one NPA of its own if any, else one held.
    let cause = loans
        .iter()
        .filter(|l| l.standing.is(|npa, _, _| npa))
        .min_by_key(|l| (held(l.standing), l.loan_number));
    let arrears = loans.iter().any(|l| l.standing.is(|_, _, arrears| arrears));
    let held_any = loans.iter().any(|l| held(l.standing));
    let unknown = loans.iter().any(|l| l.standing == Standing::Unknown);
    let active: Vec<&Standed<'_>> = loans
        .iter()
        .filter(|l| matches!(l.standing, Standing::Read { .. } | Standing::Quiet))
        .collect();
    match cause {
        Some(cause) if arrears => {
            if active.len() < 2 && !held_any {
                return Vec::new();
            }
            active
                .iter()
                .filter(|l| !held(l.standing))
                .map(|l| Decision {
                    loan_id: l.loan_id.to_owned(),
                    kind: EventKind::BorrowerNpa {
                        facility: cause.loan_number.to_owned(),
                    },
                })
                .collect()
        }
        _ if held_any && !unknown => loans
            .iter()
            .filter(|l| held(l.standing))
            .map(|l| Decision {
                loan_id: l.loan_id.to_owned(),
                kind: EventKind::BorrowerUpgraded,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The decisions for every borrower at the end of `day`, from the marks, in loan id order.
pub(crate) fn decide_all(day: &str, facilities: &[Facility]) -> Vec<Decision> {
    let mut by_borrower: BTreeMap<&str, Vec<Standed<'_>>> = BTreeMap::new();
    for f in facilities {
        by_borrower
            .entry(&f.borrower_id)
            .or_default()
            .push(Standed {
                loan_id: &f.loan_id,
                loan_number: &f.loan_number,
                standing: Standing::of_mark(f.mark.as_ref(), day),
            });
    }
    let mut out: Vec<Decision> = by_borrower.values().flat_map(|l| decide(l)).collect();
    out.sort_by(|a, b| a.loan_id.cmp(&b.loan_id));
    out
}

impl App {
    /// Work the `borrowers` step's partition (a book-level step: its one partition, 0, does the
    /// work). The loans that failed to take their borrower's class.
    pub(crate) async fn work_borrowers(
        &self,
        ctx: &DayContext,
        progress: &EodProgress,
        options: &CloseOptions,
    ) -> Result<Vec<String>, AppError> {
        let started = Instant::now();
        let mut failures = Vec::new();
        let mut decided = Vec::new();
        if progress.partition == 0 {
            let day = ctx.date.to_string();
            let borrowers = self.store.npa_borrowers(&self.book, &day).await?;
            let facilities = self.store.facilities(&self.book, &borrowers).await?;
            for d in decide_all(&day, &facilities) {
                match self.classify_with_borrower(ctx, &d).await {
                    Ok(()) => decided.push(d.loan_id),
                    Err(e) => failures.push(format!("{}: {e}", d.loan_id)),
                }
            }
        }
        let mut cursor = progress.cursor.clone();
        decided.retain(|id| cursor.as_ref().is_none_or(|c| id > c));
        let mut chunks = decided.chunks(options.chunk.max(1)).peekable();
        if chunks.peek().is_none() {
            let write = self.chunk_write(
                ctx,
                BORROWERS_STEP,
                progress.partition,
                super::chunk::ChunkClosed::default(),
                cursor.clone(),
                true,
                0,
                started,
            );
            self.store.write_chunk(&write.0, cursor.as_deref()).await?;
            return Ok(failures);
        }
        while let Some(ids) = chunks.next() {
            let begun = Instant::now();
            let loans = self.store.eod_loans_named(&self.book, ids).await?;
            let read = loans.len();
            let closed = self.close_chunk(ctx, loans).await?;
            let last = ids.last().cloned();
            let done = chunks.peek().is_none();
            let (write, failed) = self.chunk_write(
                ctx,
                BORROWERS_STEP,
                progress.partition,
                closed,
                last.clone(),
                done,
                read,
                begun,
            );
            failures.extend(failed);
            self.store.write_chunk(&write, cursor.as_deref()).await?;
            cursor = last;
        }
        Ok(failures)
    }

    /// Append the decision's event to its loan, dated the closed day, unless the loan's
    /// projection says it has been appended already (a re-run after a kill).
    async fn classify_with_borrower(&self, ctx: &DayContext, d: &Decision) -> Result<(), AppError> {
        let holding = matches!(d.kind, EventKind::BorrowerNpa { .. });
        if let Some(p) = self.store.projection(&d.loan_id).await? {
            let state: serde_json::Value = serde_json::from_str(&p.state)
                .map_err(|e| crate::corrupt(format!("projection of `{}`: {e}", d.loan_id)))?;
            let held = state
                .get("borrower_npa_since")
                .is_some_and(|v| !v.is_null());
            if held == holding {
                return Ok(());
            }
        }
        let event = Event {
            date: ctx.date,
            kind: d.kind.clone(),
        };
        // Neither event carries an amount, so the currency does not shape the document.
        let doc = serde_json::to_value(event.to_doc(loanbook_domain::money::Currency::INR))
            .map_err(|e| crate::corrupt(format!("event: {e}")))?;
        let meta = RequestMeta {
            target: format!("eod {} {BORROWERS_STEP} {}", ctx.date, d.loan_id),
            ..RequestMeta::default()
        };
        self.loan_command_with(&self.close_principal(), &d.loan_id, &doc, &meta, None)
            .await?;
        Ok(())
    }

    /// Whom the close's own events are written by.
    fn close_principal(&self) -> Principal {
        Principal {
            user: User {
                id: "eod".into(),
                name: "eod".into(),
                role: "admin".into(),
                partner_id: None,
                created_at: self.now(),
            },
            role: Role::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: &str = "2024-06-29";

    fn loan(
        id: &str,
        borrower: &str,
        mark: Option<(&str, Option<&str>, bool, bool, bool)>,
    ) -> Facility {
        Facility {
            loan_id: id.into(),
            loan_number: format!("LN-{id}"),
            borrower_id: borrower.into(),
            mark: mark.map(|(day, wake_on, npa, held, arrears)| EodMark {
                loan_id: id.into(),
                version: 1,
                day: day.into(),
                earned: 0,
                suspended: 0,
                provision: 0,
                npa,
                wake_on: wake_on.map(str::to_owned),
                plan: String::new(),
                held,
                arrears,
                due_installment: None,
                due_on: None,
                due_amount: 0,
                currency: None,
            }),
        }
    }

    fn kinds(d: &[Decision]) -> Vec<(String, &'static str)> {
        d.iter()
            .map(|d| (d.loan_id.clone(), (&d.kind).into()))
            .collect()
    }

    #[test]
    fn one_npa_facility_makes_every_active_facility_of_its_borrower_npa() {
        let loans = [
            loan(
                "a",
                "b1",
                Some((DAY, Some("2024-06-30"), true, false, true)),
            ),
            loan(
                "b",
                "b1",
                Some(("2024-06-20", Some("2024-07-05"), false, false, false)),
            ),
            loan(
                "c",
                "b1",
                Some((DAY, Some("2024-06-30"), false, false, true)),
            ),
            loan("d", "b1", Some(("2024-01-01", None, false, false, false))),
        ];
        let d = decide_all(DAY, &loans);
        assert_eq!(
            kinds(&d),
            vec![
                ("a".into(), "borrower_npa"),
                ("b".into(), "borrower_npa"),
                ("c".into(), "borrower_npa"),
            ],
            "the closed loan takes no part"
        );
        assert!(d.iter().all(|d| d.kind
            == EventKind::BorrowerNpa {
                facility: "LN-a".into()
            }));
    }

    #[test]
    fn a_borrower_with_one_facility_is_left_to_its_own_class() {
        let loans = [loan(
            "a",
            "b1",
            Some((DAY, Some("2024-06-30"), true, false, true)),
        )];
        assert!(decide_all(DAY, &loans).is_empty());
    }

    #[test]
    fn held_facilities_stay_npa_until_every_arrear_of_the_borrower_is_paid() {
        // The NPA facility is paid up, the other still owes: both stay held.
        let owing = [
            loan(
                "a",
                "b1",
                Some((DAY, Some("2024-06-30"), true, true, false)),
            ),
            loan("b", "b1", Some((DAY, Some("2024-06-30"), true, true, true))),
        ];
        assert!(decide_all(DAY, &owing).is_empty());
        let paid = [
            loan(
                "a",
                "b1",
                Some((DAY, Some("2024-06-30"), true, true, false)),
            ),
            loan(
                "b",
                "b1",
                Some((DAY, Some("2024-06-30"), true, true, false)),
            ),
        ];
        assert_eq!(
            kinds(&decide_all(DAY, &paid)),
            vec![
                ("a".into(), "borrower_upgraded"),
                ("b".into(), "borrower_upgraded")
            ]
        );
    }

    #[test]
    fn a_facility_not_closed_on_the_day_holds_the_upgrade_back() {
        let loans = [
            loan(
                "a",
                "b1",
                Some((DAY, Some("2024-06-30"), true, true, false)),
            ),
            loan(
                "b",
                "b1",
                Some(("2024-06-27", Some("2024-06-28"), true, true, true)),
            ),
        ];
        assert!(decide_all(DAY, &loans).is_empty());
    }

    #[test]
    fn a_new_facility_of_an_npa_borrower_is_held_with_it() {
        let loans = [
            loan("a", "b1", Some((DAY, Some("2024-06-30"), true, true, true))),
            loan(
                "n",
                "b1",
                Some((DAY, Some("2024-07-10"), false, false, false)),
            ),
        ];
        assert_eq!(
            kinds(&decide_all(DAY, &loans)),
            vec![("n".into(), "borrower_npa")]
        );
    }
}
