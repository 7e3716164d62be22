//! DPD and the SMA/NPA class of the loan, read from its unpaid dues (the rules themselves are
//! in [`crate::delinquency`]).

use crate::calendar::Date;
use crate::delinquency::{Classification, dpd};

use super::{EffectKind, Engine, Res, Status};

impl Engine {
    /// Move `settled` past every leading due that has nothing unpaid.
    pub(super) fn advance_settled(&mut self) {
        self.settled = self.settled.min(self.fallen);
        while self.settled < self.fallen && self.dues[self.settled].unpaid() == 0 {
            self.settled += 1;
        }
    }

    /// The oldest date on which something is still unpaid, for DPD.
    pub(super) fn oldest_unpaid(&self) -> Option<Date> {
        let due = self.dues[self.settled.min(self.fallen)..self.fallen]
            .iter()
            .find(|d| d.unpaid() > 0)
            .map(|d| d.due_date);
        let charge = self
            .charges
            .iter()
            .filter(|c| c.unpaid() > 0)
            .map(|c| c.date)
            .min();
        match (due, charge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn dpd(&self, as_of: Date) -> u32 {
        dpd(self.oldest_unpaid(), as_of)
    }

    /// Another facility of the borrower is NPA: this one is NPA with it from `day`, whatever its
    /// own DPD, until [`Engine::release_with_borrower`].
    pub(super) fn hold_with_borrower(&mut self, day: Date) -> Res<()> {
        if self.status != Status::Active {
            return Err((
                "type",
                "only an active loan is classified with its borrower".into(),
            ));
        }
        if self.borrower_npa.is_some() {
            return Err(("type", "the loan is NPA with its borrower already".into()));
        }
        self.borrower_npa = Some(day);
        let dpd = self.dpd(day);
        self.classify(day, dpd);
        Ok(())
    }

    /// Every facility of the borrower has its arrears paid: the loan's class is its own again
    /// (an NPA with nothing overdue is upgraded, unless a restructure still watches it).
    pub(super) fn release_with_borrower(&mut self, day: Date) -> Res<()> {
        if self.borrower_npa.is_none() {
            return Err(("type", "the loan is not NPA with its borrower".into()));
        }
        self.borrower_npa = None;
        if self.status == Status::Active {
            let dpd = self.dpd(day);
            self.classify(day, dpd);
        }
        Ok(())
    }

    pub(super) fn classify(&mut self, day: Date, dpd: u32) {
        let mut next = self.classification.next(dpd);
        if self.borrower_npa.is_some() {
            next = Classification::Npa;
        }
        if next == Classification::Standard && self.classification == Classification::Npa {
            if let Some(n) = self.npa_watch {
                let paid = self
                    .dues
                    .iter()
                    .find(|d| d.number == n)
                    .is_some_and(|d| d.due_date <= day && d.unpaid() == 0);
                if !paid {
                    next = Classification::Npa;
                } else {
                    self.npa_watch = None;
                }
            }
        }
        if next != self.classification {
            if next == Classification::Npa {
                self.npa_since = Some(day);
            } else if self.classification == Classification::Npa {
                self.npa_since = None;
            }
            let from = std::mem::replace(&mut self.classification, next);
            self.history.push((day, next));
            self.effects
                .emit(day, || EffectKind::ClassChanged { from, to: next });
        }
    }
}
