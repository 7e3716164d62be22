//! The day: instalments falling due at its start, the day-end after its events (overdue dues,
//! penal charges, classification, closure when repaid), and quiet days run in bulk.

use rust_decimal::Decimal;

use crate::calendar::Date;
use crate::delinquency::{Classification, dpd};
use crate::terms::{ExcessHandling, Penal, Terms};

use super::{Capitalisation, EffectKind, Engine, Res, Status, day_after};

impl Engine {
    /// Run every day-end up to and including `target`.
    pub(super) fn run_through(&mut self, terms: &Terms, target: Date) -> Res<()> {
        while let Some(day) = self.day {
            if day >= target {
                break;
            }
            let next = self
                .next_due()
                .map(|d| d.due_date)
                .filter(|d| *d > day)
                .map_or(target, |d| d.min(target));
            // Quiet days: nothing falls due and nothing happens.
            let first_quiet = day_after(day);
            if next > first_quiet {
                let last_quiet = next.yesterday().unwrap_or(next);
                self.quiet_days(terms, first_quiet, last_quiet);
            }
            self.start_day(terms, next)?;
            self.end_day(terms, next);
        }
        Ok(())
    }

    /// Day-ends from `from` to `to` (inclusive) on which nothing falls due and no event applies.
    pub(super) fn quiet_days(&mut self, terms: &Terms, from: Date, to: Date) {
        let days = (to - from).get_days() + 1;
        if days <= 0 {
            return;
        }
        if self.status == Status::Active {
            let daily = match terms.penal {
                Some(Penal::Percent(pct)) => self.daily_penal(pct),
                _ => 0,
            };
            // DPD rises by one a day: find the days a class threshold is crossed.
            let crossings = self.class_crossings(from, to);
            if self.effects.is_on() {
                // Day by day, so that the effects are those of a day-by-day replay.
                let mut crossings = crossings.into_iter().peekable();
                for k in 0..i64::from(days) {
                    let Ok(day) = from.checked_add(jiff::Span::new().days(k)) else {
                        break;
                    };
                    self.accrue_penal(day, daily);
                    while let Some((_, dpd)) = crossings.next_if(|(d, _)| *d == day) {
                        self.classify(day, dpd);
                    }
                }
            } else {
                self.penal_accrued += daily * i64::from(days);
                for (day, dpd) in crossings {
                    self.classify(day, dpd);
                }
            }
        }
        self.day = Some(to);
    }

    /// The days from `from` to `to` on which the DPD of the oldest unpaid due reaches a class
    /// threshold, with that DPD, in date order.
    fn class_crossings(&self, from: Date, to: Date) -> Vec<(Date, u32)> {
        let Some(oldest) = self.oldest_unpaid() else {
            return Vec::new();
        };
        [
            Classification::Sma0,
            Classification::Sma1,
            Classification::Sma2,
            Classification::Npa,
        ]
        .into_iter()
        .filter_map(|class| {
            let offset = i64::from(class.threshold()) - 1;
            let day = oldest.checked_add(jiff::Span::new().days(offset)).ok()?;
            (day >= from && day <= to).then(|| (day, dpd(Some(oldest), day)))
        })
        .collect()
    }

    /// Start of `day`: instalments due today fall due; held advance money is applied to them.
    pub(super) fn start_day(&mut self, terms: &Terms, day: Date) -> Res<()> {
        let before = self.fallen;
        while let Some(d) = self.dues.get(self.fallen) {
            if d.due_date > day {
                break;
            }
            if d.number > 0 {
                self.period_start = d.due_date;
                self.seg_start = d.due_date;
                self.carried = Decimal::ZERO;
                self.first_extra = 0;
            }
            let capitalises = d.capitalises;
            let (instalment, principal, interest) = (d.number, d.principal, d.interest);
            self.fallen += 1;
            self.effects.emit(day, || EffectKind::FellDue {
                instalment,
                principal,
                interest,
            });
            if capitalises > 0 {
                self.capitalised += capitalises;
                let partner_parts = self.fund_partners(terms, capitalises);
                self.effects.emit(day, || EffectKind::Capitalised {
                    cause: Capitalisation::Moratorium,
                    amount: capitalises,
                    partner_parts,
                });
            }
        }
        if self.fallen > before && terms.excess != ExcessHandling::Refund {
            self.apply_excess(terms, day);
        }
        Ok(())
    }

    pub(super) fn end_day(&mut self, terms: &Terms, day: Date) {
        if self.status == Status::Active {
            if let Some(Penal::PerMissedInstallment(amount)) = terms.penal {
                self.levy_missed_installments(day, amount);
            }
            if let Some(Penal::Percent(pct)) = terms.penal {
                self.accrue_penal(day, self.daily_penal(pct));
                // Accrued penal charges are levied with each instalment's day-end.
                let is_due_day = self.dues[..self.fallen]
                    .last()
                    .is_some_and(|d| d.due_date == day);
                // After the last due date no due date levies what accrued: it is levied once the
                // arrears it accrued on are paid, so that it can be paid and the loan close. (The
                // arrears change only on a day with an event or a due date, never on a quiet day,
                // so day-by-day and bulk replays levy alike.)
                let matured_and_clear = self.nothing_left_to_fall_due()
                    && self.penal_accrued > 0
                    && self.principal_overdue() + self.interest_overdue() == 0;
                if is_due_day || matured_and_clear {
                    self.penal_to_charge(day);
                }
            }
            // Money held in advance pays charges levied today (a bounce, penal charges) too.
            if !self.excess.is_empty()
                && terms.excess != ExcessHandling::Refund
                && self.charges_due() > 0
            {
                self.apply_excess(terms, day);
            }
            let d = self.dpd(day);
            self.classify(day, d);
            if self.is_repaid() {
                self.status = Status::Closed;
                self.closed_on = Some(day);
                self.effects.emit(day, || EffectKind::Closed);
            }
        }
        self.day = Some(day);
    }

    /// Every instalment has fallen due, or those still to come are empty: principal prepaid in
    /// full under `reduce_emi` leaves zero instalments, which must not hold the loan open until
    /// its maturity.
    pub(super) fn nothing_left_to_fall_due(&self) -> bool {
        self.dues[self.fallen..]
            .iter()
            .all(|d| d.total() == 0 && d.capitalises == 0)
    }

    /// Nothing is owed and nothing more can fall due.
    pub(super) fn is_repaid(&self) -> bool {
        self.disbursed > 0
            && self.nothing_left_to_fall_due()
            && self.dues.iter().all(|d| d.unpaid() == 0)
            && self.charges_due() == 0
            && self.penal_accrued == 0
    }
}
