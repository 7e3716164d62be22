//! Charges: levied, waived, and penal charges turned into a charge.

use crate::calendar::Date;
use crate::events::{ChargeKind, WaiverComponent};
use crate::terms::Terms;

use super::{ChargeDue, EffectKind, Engine, Res};

impl Engine {
    /// Penal charges per missed instalment: levied at the day-end of its due date on each
    /// instalment of that day still unpaid.
    pub(super) fn levy_missed_installments(&mut self, day: Date, amount: i64) {
        if amount <= 0 {
            return;
        }
        let mut levy = Vec::new();
        for d in &mut self.dues[..self.fallen] {
            if d.due_date == day && !d.penal_levied && d.unpaid() > 0 {
                d.penal_levied = true;
                levy.push(d.number);
            }
        }
        for number in levy {
            self.levy(
                day,
                ChargeKind::Penal,
                amount,
                Some(format!("penal:{number}")),
                false,
            );
        }
    }

    /// Levy a charge on `day`; `from_accrued` when it is accrued penal interest.
    pub(super) fn levy(
        &mut self,
        day: Date,
        kind: ChargeKind,
        amount: i64,
        reference: Option<String>,
        from_accrued: bool,
    ) {
        self.effects.emit(day, || EffectKind::Levied {
            kind,
            amount,
            reference: reference.clone(),
            from_accrued,
        });
        self.charges.push(ChargeDue {
            date: day,
            kind,
            amount,
            paid: 0,
            waived: 0,
            reference,
        });
    }

    /// Penal interest of the day-end of `day`.
    pub(super) fn accrue_penal(&mut self, day: Date, amount: i64) {
        if amount == 0 {
            return;
        }
        self.penal_accrued += amount;
        self.effects
            .emit(day, || EffectKind::PenalAccrued { amount });
    }

    pub(super) fn penal_to_charge(&mut self, day: Date) {
        let amount = std::mem::take(&mut self.penal_accrued);
        if amount > 0 {
            self.levy(
                day,
                ChargeKind::Penal,
                amount,
                Some(format!("penal:{day}")),
                true,
            );
        }
    }

    pub(super) fn waive(
        &mut self,
        terms: &Terms,
        day: Date,
        component: WaiverComponent,
        amount: i64,
    ) -> Res<()> {
        let due = match component {
            WaiverComponent::Charges => self.charges_due(),
            WaiverComponent::Interest => self.interest_overdue(),
        };
        if amount > due {
            let what = match component {
                WaiverComponent::Charges => "charges due",
                WaiverComponent::Interest => "interest overdue",
            };
            return Err((
                "amount",
                format!(
                    "is more than the {what} ({}): a waiver never takes a balance below zero",
                    crate::money::format_minor(due, terms.currency.minor_digits())
                ),
            ));
        }
        let mut left = amount;
        match component {
            WaiverComponent::Charges => {
                let mut idx: Vec<usize> = (0..self.charges.len()).collect();
                idx.sort_by_key(|&i| self.charges[i].date);
                for i in idx {
                    let t = self.charges[i].unpaid().min(left);
                    self.charges[i].waived += t;
                    left -= t;
                }
            }
            WaiverComponent::Interest => {
                for d in &mut self.dues[..self.fallen] {
                    let t = d.unpaid_interest().min(left);
                    d.waived_interest += t;
                    left -= t;
                }
            }
        }
        self.advance_settled();
        self.effects
            .emit(day, || EffectKind::Waived { component, amount });
        Ok(())
    }
}
