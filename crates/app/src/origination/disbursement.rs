//! Disbursement: the checklist, the payout through a rail, and, when the rail pays, the loan
//! booked from the sanctioned terms in the application's own transaction.
//!
//! A payout's reference is recorded (`payout_sent`) before the rail is called, so a crash or a
//! timeout leaves a payout *in flight* that only reconciliation (asking the rail about that
//! reference) settles: nothing sends a second payout while one is in flight. A failed payout
//! books nothing and leaves the application accepted, to be paid out again under a new
//! reference.

use loanbook_domain::origination::application::{ApplicationEvent, Status, Step};
use loanbook_domain::schedule;
use loanbook_domain::terms::{FieldError, Terms};
use loanbook_rails::payout::{Beneficiary, PayoutOrder, PayoutReply, Rail, check_order};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApplicationView, Change, Loaded};
use crate::servicing::booking::SanctionedBooking;
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta, digest};

/// The checklist item that is recorded at disbursement but enforced by collections.
pub const MANDATE_ITEM: &str = "mandate_registered";

/// Tick an item of the product's disbursement checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TickChecklist {
    #[schema(min_length = 1, max_length = 64, example = "agreement_signed")]
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Pay the loan out and book it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisburseApplication {
    /// `neft`, `rtgs`, `imps` or `upi`.
    #[schema(value_type = String, pattern = "^(neft|rtgs|imps|upi)$")]
    pub rail: Rail,
}

fn invalid(e: FieldError) -> AppError {
    AppError::Invalid(vec![e])
}

impl App {
    /// Tick a checklist item of the product.
    pub async fn tick_checklist(
        &self,
        p: &Principal,
        id: &str,
        cmd: &TickChecklist,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        if cmd.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(AppError::invalid("note", "must be at most 500 characters"));
        }
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            let (_, policy) = self
                .application_product(&l.app.product, Some(l.app.product_version))
                .await?;
            if !policy.checklist.contains(&cmd.item) {
                return Err(AppError::invalid(
                    "item",
                    format!(
                        "is not on the product's checklist ({})",
                        policy.checklist.join(", ")
                    ),
                ));
            }
            let e = ApplicationEvent::ChecklistTicked {
                act,
                item: cmd.item.clone(),
                note: cmd.note.clone(),
            };
            Ok((l, Change::new("tick_checklist", vec![e])))
        })
        .await
    }

    /// Pay out an accepted application through a rail; when the rail pays, the loan is booked.
    pub async fn disburse_application(
        &self,
        p: &Principal,
        id: &str,
        cmd: &DisburseApplication,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Disburse)?;
        self.keyed(p, meta, || async {
            let l = self.load_application(id).await?;
            let (order, _) = self.payout_order(&l, cmd.rail).await?;
            if meta.dry_run {
                return Ok(CommandOutcome::done(ApplicationView::from_record(
                    p, &l.record,
                )?));
            }
            let act = self.act(p).await?;
            let sent = ApplicationEvent::PayoutSent {
                act,
                reference: order.reference.clone(),
                rail: format!("{:?}", order.rail).to_lowercase(),
                amount: order.amount,
                tranche: None,
            };
            // The reference is on record before the rail hears of it; the request's key is
            // completed with the payout's result, below.
            let unkeyed = RequestMeta {
                idempotency_key: None,
                ..meta.clone()
            };
            self.commit_change(
                p,
                &unkeyed,
                id,
                Some(&l.record),
                l.app,
                Change::new("send_payout", vec![sent]),
            )
            .await?;
            let reply = self.connectors.payouts.send(&order).await;
            self.settle_payout(p, meta, id, &order.reference, reply)
                .await
        })
        .await
    }

    /// Ask the rail for the result of a payout in flight, and settle it.
    pub async fn reconcile_payout(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Disburse)?;
        self.keyed(p, meta, || async {
            let l = self.load_application(id).await?;
            let Some(payout) = l.app.payout.as_ref().filter(|_| l.app.payout_in_flight()) else {
                return Err(invalid(FieldError::coded(
                    "payout",
                    "payout.not_in_flight",
                    "there is no payout in flight to reconcile",
                )));
            };
            let reference = payout.reference.clone();
            let reply = self.connectors.payouts.status(&reference).await;
            let still_unknown = matches!(reply, PayoutReply::Pending | PayoutReply::Unknown { .. });
            if still_unknown && payout.status == "unknown" {
                return Ok(CommandOutcome::done(ApplicationView::from_record(
                    p, &l.record,
                )?));
            }
            self.settle_payout(p, meta, id, &reference, reply).await
        })
        .await
    }

    /// The payout an accepted application would send, after every sanctioned parameter is
    /// checked again: the status, the checklist, the frozen terms and their hash, the product's
    /// bounds, the disbursement date, the account and the rail's limits.
    async fn payout_order(&self, l: &Loaded, rail: Rail) -> Result<(PayoutOrder, Terms), AppError> {
        let app = &l.app;
        Step::Disburse.check(app.status).map_err(invalid)?;
        if app.status != Status::Accepted {
            return Err(invalid(FieldError::coded(
                "status",
                "application.status",
                "the loan is booked already: pay out its later tranches with POST …/tranches",
            )));
        }
        nothing_in_flight(app)?;
        let (_, policy) = self
            .application_product(&app.product, Some(app.product_version))
            .await?;
        let missing: Vec<&str> = policy
            .checklist
            .iter()
            .filter(|i| i.as_str() != MANDATE_ITEM && !app.checklist.contains_key(*i))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(invalid(FieldError::coded(
                "checklist",
                "checklist.incomplete",
                format!("items not done: {}", missing.join(", ")),
            )));
        }
        let terms = self.sanctioned_terms(l)?;
        let broken = policy.bounds.check(&terms);
        if !broken.is_empty() {
            return Err(AppError::Invalid(broken));
        }
        let today = self.business_date().await?;
        if terms.disbursement_date != today {
            return Err(invalid(FieldError::coded(
                "disbursement_date",
                "disbursement.date",
                format!(
                    "the sanctioned disbursement date is {}, the business date {today}: disburse on that date, or sanction again",
                    terms.disbursement_date
                ),
            )));
        }
        let net = schedule::repayments(&terms)
            .map_err(|e| AppError::invalid("terms", format!("no schedule: {e}")))?
            .net_disbursed;
        Ok((order_to_applicant(l, rail, net)?, terms))
    }

    /// The frozen terms, read back and checked against their recorded hash.
    pub(super) fn sanctioned_terms(&self, l: &Loaded) -> Result<Terms, AppError> {
        let Some(s) = &l.app.sanction else {
            return Err(AppError::invalid(
                "status",
                "the application is not sanctioned",
            ));
        };
        let terms = Terms::from_json(&s.terms)
            .map_err(|e| crate::corrupt(format!("sanctioned terms: {e}")))?;
        if terms.to_json() != s.terms || digest(s.terms.as_bytes()) != s.terms_hash {
            return Err(crate::corrupt(format!(
                "application `{}`: the sanctioned terms do not match their hash",
                l.record.id
            )));
        }
        Ok(terms)
    }

    /// Record a payout's result: paid books the loan; failed frees the application for another
    /// payout; pending or unknown leaves it in flight.
    pub(super) async fn settle_payout(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        id: &str,
        reference: &str,
        reply: PayoutReply,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        let l = self.load_application(id).await?;
        let act = self.act(p).await?;
        let event = match reply {
            PayoutReply::Paid { utr } => {
                return match l.app.payout_tranche() {
                    Some(n) => self.tranche_paid(p, meta, l, reference, utr, n).await,
                    None => self.book_disbursed(p, meta, l, reference, utr).await,
                };
            }
            PayoutReply::Failed { code, reason } => ApplicationEvent::PayoutFailed {
                act,
                reference: reference.to_owned(),
                code,
                reason,
            },
            PayoutReply::Pending => ApplicationEvent::PayoutUnknown {
                act,
                reference: reference.to_owned(),
                detail: "accepted by the bank, not yet final".into(),
            },
            PayoutReply::Unknown { detail } => ApplicationEvent::PayoutUnknown {
                act,
                reference: reference.to_owned(),
                detail,
            },
        };
        let action = match event {
            ApplicationEvent::PayoutFailed { .. } => "payout_failed",
            _ => "payout_unknown",
        };
        self.commit_change(
            p,
            meta,
            id,
            Some(&l.record),
            l.app,
            Change::new(action, vec![event]),
        )
        .await
    }

    /// The rail paid: book the loan from the sanctioned terms and close the application, in one
    /// transaction.
    async fn book_disbursed(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        l: Loaded,
        reference: &str,
        utr: String,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        let terms = self.sanctioned_terms(&l)?;
        let Some(s) = l.app.sanction.clone() else {
            return Err(AppError::invalid(
                "status",
                "the application is not sanctioned",
            ));
        };
        let loan_id = uuid::Uuid::now_v7().to_string();
        let act = self.act(p).await?;
        let utr_text = utr.clone();
        let disbursed = ApplicationEvent::Disbursed {
            act,
            reference: reference.to_owned(),
            utr,
            loan_id: loan_id.clone(),
            terms_hash: s.terms_hash.clone(),
        };
        let mut app = l.app.clone();
        app.apply(&disbursed).map_err(invalid)?;
        let id = l.record.id.clone();
        let (write, view) = self.application_write(
            p,
            meta,
            &id,
            Some(&l.record),
            &app,
            Change::new("disburse_application", vec![disbursed]),
        )?;
        let outcome = CommandOutcome::done(view);
        let (product, _) = self
            .application_product(&app.product, Some(app.product_version))
            .await?;
        let borrower_id = app
            .parties
            .iter()
            .find(|x| x.role == "applicant")
            .map(|x| x.party_id.clone());
        self.book_sanctioned(
            p,
            meta,
            SanctionedBooking {
                loan_id: &loan_id,
                loan_number: &app.number,
                borrower_id,
                product: (product.product_id, product.version),
                terms: &terms,
                terms_hash: &s.terms_hash,
                utr: &utr_text,
                application: write.append,
                application_outbox: write.outbox,
                idempotency: self.idempotency(p, meta, &outcome)?,
            },
        )
        .await?;
        Ok(outcome)
    }
}

/// Refuse a payout while another is in flight: only reconciliation settles that one.
pub(super) fn nothing_in_flight(
    app: &loanbook_domain::origination::application::Application,
) -> Result<(), AppError> {
    if app.payout_in_flight() {
        return Err(invalid(FieldError::coded(
            "payout",
            "payout.in_flight",
            "a payout is in flight: reconcile it (POST …/payout/reconcile) before another",
        )));
    }
    Ok(())
}

/// A payout of `amount` to the applicant's account, under the application's next reference,
/// checked against the rail's limits and the account's formats.
pub(super) fn order_to_applicant(
    l: &Loaded,
    rail: Rail,
    amount: i64,
) -> Result<PayoutOrder, AppError> {
    let app = &l.app;
    let Some(account) = &app.draft.payout_account else {
        return Err(AppError::invalid(
            "payout_account",
            "is required to disburse",
        ));
    };
    let attempt = app.payout.as_ref().map_or(0, |p| p.attempts) + 1;
    let order = PayoutOrder {
        reference: format!("{}-P{attempt}", l.record.id.replace('-', "")),
        rail,
        amount,
        beneficiary: Beneficiary {
            name: account.name.clone(),
            account_number: account.account_number.clone(),
            ifsc: account.ifsc.clone(),
            vpa: account.vpa.clone(),
        },
    };
    check_order(&order).map_err(AppError::Invalid)?;
    Ok(order)
}
