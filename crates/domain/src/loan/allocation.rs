//! The payment waterfall: where received and held money goes, in the terms' order.

use crate::calendar::Date;
use crate::events::PrepaymentAdjust;
use crate::money::sum_minor;
use crate::terms::{AllocationBy, Component, Terms};

use super::{EffectKind, Engine, Paid, Res, Target};

impl Engine {
    /// Pour `amount` of receipt `reference` into what is due on `day` in the terms' order.
    /// Returns the amount used.
    pub(super) fn allocate(
        &mut self,
        terms: &Terms,
        day: Date,
        reference: &str,
        amount: i64,
    ) -> i64 {
        let mut left = amount;
        let slots = self.slots(terms, day);
        for (target, component) in slots {
            if left == 0 {
                break;
            }
            let unpaid = match (target, component) {
                (Target::Due(i), Component::Principal) => self.dues[i].unpaid_principal(),
                (Target::Due(i), Component::Interest) => self.dues[i].unpaid_interest(),
                (Target::Charge(i), _) => self.charges[i].unpaid(),
                (Target::Due(_), Component::Charges) => 0,
            };
            let take = unpaid.min(left);
            if take <= 0 {
                continue;
            }
            left -= take;
            let parts = self.partner_parts(terms, target, component, take);
            debug_assert!(
                parts.is_empty() || sum_minor(parts.iter().copied()) == take,
                "partner parts {parts:?} of {take}"
            );
            match (target, component) {
                (Target::Due(i), Component::Principal) => self.dues[i].paid_principal += take,
                (Target::Due(i), _) => self.dues[i].paid_interest += take,
                (Target::Charge(i), _) => self.charges[i].paid += take,
            }
            self.credit_partners(component, &parts, 1);
            if self.effects.is_on() {
                let (paid, instalment) = match target {
                    Target::Due(i) if component == Component::Principal => {
                        (Paid::Principal, Some(self.dues[i].number))
                    }
                    Target::Due(i) => (Paid::Interest, Some(self.dues[i].number)),
                    Target::Charge(i) => (
                        Paid::Charge {
                            kind: self.charges[i].kind,
                        },
                        None,
                    ),
                };
                self.effects.emit(day, || EffectKind::Allocated {
                    reference: reference.to_owned(),
                    paid,
                    instalment,
                    amount: take,
                    partner_parts: parts,
                });
            }
        }
        self.advance_settled();
        amount - left
    }

    /// The order in which dues are filled, per `terms.allocation`.
    pub(super) fn slots(&self, terms: &Terms, day: Date) -> Vec<(Target, Component)> {
        let order = terms.allocation.order;
        let dues: Vec<usize> = (self.settled.min(self.fallen)..self.fallen)
            .filter(|&i| self.dues[i].due_date <= day && self.dues[i].unpaid() > 0)
            .collect();
        let mut charges: Vec<usize> = (0..self.charges.len())
            .filter(|&i| self.charges[i].date <= day && self.charges[i].unpaid() > 0)
            .collect();
        charges.sort_by_key(|&i| self.charges[i].date);
        let mut out = Vec::with_capacity(dues.len() * 2 + charges.len());
        match terms.allocation.by {
            AllocationBy::Installment => {
                let charge_slots = charges
                    .iter()
                    .map(|&i| (Target::Charge(i), Component::Charges));
                let charges_first = terms.allocation.charges_first();
                if charges_first {
                    out.extend(charge_slots.clone());
                }
                for &i in &dues {
                    for c in order.iter().filter(|c| **c != Component::Charges) {
                        out.push((Target::Due(i), *c));
                    }
                }
                if !charges_first {
                    out.extend(charge_slots);
                }
            }
            AllocationBy::Component => {
                for c in order {
                    match c {
                        Component::Charges => out.extend(
                            charges
                                .iter()
                                .map(|&i| (Target::Charge(i), Component::Charges)),
                        ),
                        c => out.extend(dues.iter().map(|&i| (Target::Due(i), c))),
                    }
                }
            }
        }
        out
    }

    /// Apply held money to whatever is due, oldest source first.
    pub(super) fn apply_excess(&mut self, terms: &Terms, day: Date) {
        let sources = std::mem::take(&mut self.excess);
        let mut left = Vec::with_capacity(sources.len());
        let mut sources = sources.into_iter();
        for (reference, amount) in sources.by_ref() {
            let used = self.allocate(terms, day, &reference, amount);
            assert!(
                (0..=amount).contains(&used),
                "held {amount} allocated {used}"
            );
            if used > 0 {
                self.effects.emit(day, || EffectKind::ExcessApplied {
                    reference: reference.clone(),
                    amount: used,
                });
            }
            if amount > used {
                left.push((reference, amount - used));
                // Everything due is paid: the later sources stay as they are.
                break;
            }
        }
        left.extend(sources);
        self.excess = left;
    }

    pub(super) fn receive(
        &mut self,
        terms: &Terms,
        day: Date,
        reference: &str,
        amount: i64,
    ) -> Res<()> {
        if self.receipts.contains(reference) {
            return Err((
                "reference",
                format!("`{reference}` was already used by another receipt on this loan"),
            ));
        }
        self.effects.emit(day, || EffectKind::Received {
            reference: reference.to_owned(),
            amount,
        });
        let used = self.allocate(terms, day, reference, amount);
        // A receipt is conserved: what is allocated and what is held make up its amount.
        assert!(
            (0..=amount).contains(&used),
            "receipt `{reference}` of {amount} allocated {used}"
        );
        let rest = amount - used;
        if rest > 0 {
            self.excess.push((reference.to_owned(), rest));
            self.effects.emit(day, || EffectKind::ExcessHeld {
                reference: reference.to_owned(),
                amount: rest,
            });
        }
        self.receipts.insert(reference.to_owned(), day);
        Ok(())
    }

    /// Use held money of `reference` to repay principal ahead of schedule.
    pub(super) fn prepay_from_excess(
        &mut self,
        terms: &Terms,
        day: Date,
        reference: &str,
        adjust: PrepaymentAdjust,
    ) -> Res<()> {
        let held = sum_minor(
            self.excess
                .iter()
                .filter(|(r, _)| r == reference)
                .map(|(_, a)| *a),
        );
        let take = held.min(self.scheduled_balance());
        if take <= 0 {
            return Ok(());
        }
        self.reduce_principal(terms, day, take, adjust)?;
        let mut left = take;
        for (r, a) in &mut self.excess {
            if r == reference && left > 0 {
                let t = (*a).min(left);
                *a -= t;
                left -= t;
            }
        }
        self.excess.retain(|(_, a)| *a > 0);
        let parts = if terms.partners.is_empty() {
            Vec::new()
        } else {
            self.principal_parts(terms, take)
        };
        self.credit_partners(Component::Principal, &parts, 1);
        self.effects.emit(day, || EffectKind::ExcessApplied {
            reference: reference.to_owned(),
            amount: take,
        });
        self.effects.emit(day, || EffectKind::Allocated {
            reference: reference.to_owned(),
            paid: Paid::Principal,
            instalment: None,
            amount: take,
            partner_parts: parts,
        });
        Ok(())
    }
}
