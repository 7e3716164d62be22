//! One event applied to the loan: whether its status admits it, then what it does.

use crate::events::{Event, EventKind, PrepaymentAdjust};
use crate::terms::{ExcessHandling, Method, Terms};

use super::{Engine, Res, Status};

impl Engine {
    /// Whether `event` may apply to the loan as it stands: the loan's status decides.
    pub(super) fn admissible(&self, event: &Event) -> Res<()> {
        if matches!(event.kind, EventKind::Recovery { .. }) && self.written_off.is_none() {
            return Err((
                "type",
                "recovery is money received on a written-off loan, and this loan has no write_off \
                 on or before this date; record a payment instead"
                    .into(),
            ));
        }
        if self.status == Status::Pending && !matches!(event.kind, EventKind::Disbursement { .. }) {
            return Err((
                "date",
                "is before the loan's first disbursement: nothing is disbursed yet".into(),
            ));
        }
        // A reversal records that money never came: it stands after the loan closed (the replay
        // leaves the reversed receipt out of the whole history, so what the loan reads as after
        // it is decided there; the event itself changes nothing here).
        if self.status.is_final() && !matches!(event.kind, EventKind::PaymentReversal { .. }) {
            return Err((
                "type",
                format!(
                    "the loan is {} since {}",
                    self.status.name(),
                    self.closed_on.map_or_else(String::new, |d| d.to_string())
                ),
            ));
        }
        if self.status == Status::WrittenOff
            && !matches!(
                event.kind,
                EventKind::Recovery { .. } | EventKind::PaymentReversal { .. }
            )
        {
            return Err((
                "type",
                "the loan is written off: only recovery and payment_reversal apply".into(),
            ));
        }
        Ok(())
    }

    pub(super) fn apply(&mut self, terms: &Terms, event: &Event) -> Res<()> {
        let day = event.date;
        self.admissible(event)?;
        match &event.kind {
            EventKind::Disbursement { amount, .. } => self.disburse(terms, day, *amount)?,
            EventKind::Payment {
                amount, reference, ..
            } => {
                self.receive(terms, day, reference, *amount)?;
                match terms.excess {
                    ExcessHandling::ReduceEmi => {
                        self.prepay_from_excess(terms, day, reference, PrepaymentAdjust::ReduceEmi)?
                    }
                    ExcessHandling::ReduceTenure => self.prepay_from_excess(
                        terms,
                        day,
                        reference,
                        PrepaymentAdjust::ReduceTenure,
                    )?,
                    ExcessHandling::Advance | ExcessHandling::Refund => {}
                }
            }
            EventKind::Prepayment {
                amount,
                adjust,
                reference,
            } => {
                if matches!(terms.method, Method::Flat | Method::Bullet) {
                    return Err((
                        "type",
                        format!(
                            "part prepayment is not available for method {}; use foreclosure",
                            terms.method.name()
                        ),
                    ));
                }
                self.receive(terms, day, reference, *amount)?;
                self.prepay_from_excess(terms, day, reference, *adjust)?;
            }
            // Checked and applied by `run`: the reversed receipt is left out of the replay.
            EventKind::PaymentReversal { .. } => {}
            EventKind::Charge {
                kind,
                amount,
                reference,
            } => self.levy(day, *kind, *amount, reference.clone(), false),
            EventKind::Waiver { component, amount } => {
                self.waive(terms, day, *component, *amount)?
            }
            EventKind::RateChange { annual_rate, keep } => {
                self.change_rate(terms, day, *annual_rate, *keep)?
            }
            EventKind::Restructure {
                installments,
                installment_amount,
                moratorium,
            } => self.restructure(
                terms,
                day,
                *installments,
                *installment_amount,
                moratorium.map(|m| (m.periods, m.interest)),
            )?,
            EventKind::LossIdentified { .. } => self.identify_loss(day)?,
            EventKind::BorrowerNpa { .. } => self.hold_with_borrower(day)?,
            EventKind::BorrowerUpgraded => self.release_with_borrower(day)?,
            EventKind::WriteOff { .. } => self.write_off(day),
            EventKind::Recovery { amount, reference } => {
                self.recover(terms, day, *amount, reference.as_deref())?
            }
            EventKind::Settlement { amount, reference } => {
                self.settle(terms, day, *amount, reference.as_deref())?
            }
            EventKind::Foreclosure { amount, reference } => {
                self.foreclose(terms, day, *amount, reference.as_deref())?
            }
        }
        Ok(())
    }
}
