//! The later tranches of a disbursed application: each paid out through a rail on its date, as
//! the sanctioned terms say, and written on the loan as its disbursement event in the same
//! transaction as the application's `tranche_disbursed`. A tranche's payout follows the
//! disbursement's rules: its reference recorded before the rail is called, reconciled when its
//! result is unknown, never sent twice.

use loanbook_domain::origination::application::{ApplicationEvent, Status};
use loanbook_domain::terms::FieldError;
use loanbook_rails::payout::{PayoutOrder, Rail};

use super::disbursement::{DisburseApplication, nothing_in_flight, order_to_applicant};
use super::{ApplicationView, Change, Loaded};
use crate::servicing::commands::ApplicationStep;
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta};

fn invalid(e: FieldError) -> AppError {
    AppError::Invalid(vec![e])
}

impl App {
    /// Pay out the sanctioned terms' next tranche of a disbursed application, on its date.
    pub async fn disburse_tranche(
        &self,
        p: &Principal,
        id: &str,
        cmd: &DisburseApplication,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Disburse)?;
        self.keyed(p, meta, || async {
            let l = self.load_application(id).await?;
            let order = self.tranche_order(&l, cmd.rail).await?;
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
                tranche: Some(l.app.tranches_paid + 1),
            };
            // The reference is on record before the rail hears of it.
            let unkeyed = RequestMeta {
                idempotency_key: None,
                ..meta.clone()
            };
            let change = Change::new("send_tranche_payout", vec![sent]);
            self.commit_change(p, &unkeyed, id, Some(&l.record), l.app, change)
                .await?;
            let reply = self.connectors.payouts.send(&order).await;
            self.settle_payout(p, meta, id, &order.reference, reply)
                .await
        })
        .await
    }

    /// The payout of the next tranche, once it is due today and nothing is in flight.
    async fn tranche_order(&self, l: &Loaded, rail: Rail) -> Result<PayoutOrder, AppError> {
        let app = &l.app;
        if app.status != Status::Disbursed {
            return Err(invalid(FieldError::coded(
                "status",
                "application.status",
                "tranches are paid out after the disbursement",
            )));
        }
        nothing_in_flight(app)?;
        let terms = self.sanctioned_terms(l)?;
        let n = app.tranches_paid;
        let Some(tranche) = terms.tranches.get(n as usize) else {
            return Err(invalid(FieldError::coded(
                "tranches",
                "tranche.none_left",
                format!("the sanctioned terms have {n} later tranches, all paid out"),
            )));
        };
        let today = self.business_date().await?;
        if tranche.date != today {
            return Err(invalid(FieldError::coded(
                "tranches",
                "tranche.date",
                format!(
                    "tranche {} is paid out on {}, the business date is {today}",
                    n + 1,
                    tranche.date
                ),
            )));
        }
        order_to_applicant(l, rail, tranche.amount)
    }

    /// The rail paid a tranche: the loan's disbursement event and the application's
    /// `tranche_disbursed`, in one transaction.
    pub(super) async fn tranche_paid(
        &self,
        p: &Principal,
        meta: &RequestMeta,
        l: Loaded,
        reference: &str,
        utr: String,
        tranche: u32,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        let Some(loan_id) = l.app.loan_id.clone() else {
            return Err(crate::corrupt(format!(
                "application `{}` is disbursed without a loan",
                l.record.id
            )));
        };
        let terms = self.sanctioned_terms(&l)?;
        let index = usize::try_from(tranche)
            .unwrap_or(usize::MAX)
            .wrapping_sub(1);
        let Some(t) = terms.tranches.get(index) else {
            return Err(crate::corrupt(format!("no tranche {tranche} in the terms")));
        };
        let act = self.act(p).await?;
        let paid = ApplicationEvent::TrancheDisbursed {
            act,
            reference: reference.to_owned(),
            utr: utr.clone(),
            tranche,
        };
        let mut app = l.app.clone();
        app.apply(&paid).map_err(invalid)?;
        let id = l.record.id.clone();
        let change = Change::new("disburse_tranche", vec![paid]);
        let (write, view) = self.application_write(p, meta, &id, Some(&l.record), &app, change)?;
        let outcome = CommandOutcome::done(view);
        let step = ApplicationStep {
            append: write.append,
            outbox: write.outbox,
            idempotency: self.idempotency(p, meta, &outcome)?,
        };
        let digits = terms.currency.minor_digits();
        let event = serde_json::json!({
            "type": "disbursement",
            "date": t.date.to_string(),
            "amount": loanbook_domain::money::format_minor(t.amount, digits),
            "reference": utr,
        });
        let unkeyed = RequestMeta {
            idempotency_key: None,
            ..meta.clone()
        };
        self.loan_command_alongside(p, &loan_id, &event, &unkeyed, None, Some(&step))
            .await?;
        Ok(outcome)
    }
}
