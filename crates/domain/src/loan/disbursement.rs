//! Disbursement: the first one books the schedule from its date; a later tranche re-schedules.

use crate::calendar::Date;
use crate::schedule::{self};
use crate::terms::{BrokenPeriod, FeeCollection, InterestBasis, Method, Terms};

use super::{Due, EffectKind, Engine, Res, RescheduleCause, Status, sched};

impl Engine {
    pub(super) fn disburse(&mut self, terms: &Terms, day: Date, amount: i64) -> Res<()> {
        if self.disbursed + amount > terms.principal {
            return Err((
                "amount",
                format!(
                    "disbursements would reach {}, above the principal {}",
                    crate::money::format_minor(
                        self.disbursed + amount,
                        terms.currency.minor_digits()
                    ),
                    crate::money::format_minor(terms.principal, terms.currency.minor_digits())
                ),
            ));
        }
        if self.status == Status::Pending {
            return self.first_disbursement(terms, day, amount);
        }
        // A later tranche: the balance grows from `day` and the instalment is recomputed.
        if self.fallen == self.dues.len() {
            return Err((
                "date",
                "every instalment has fallen due: nothing left to add a tranche to".into(),
            ));
        }
        let balance = self.scheduled_balance() + amount;
        self.disbursed += amount;
        let partner_parts = self.fund_partners(terms, amount);
        self.effects.emit(day, || EffectKind::Disbursed {
            amount,
            financed: 0,
            partner_parts,
        });
        let count = self.remaining_count();
        let moratorium = self.remaining_moratorium(terms);
        let sizing = Self::sizing(terms, balance, None);
        self.reschedule(
            terms,
            day,
            balance,
            count,
            sizing,
            moratorium,
            RescheduleCause::Tranche,
        )
    }

    pub(super) fn first_disbursement(&mut self, terms: &Terms, day: Date, amount: i64) -> Res<()> {
        // The schedule runs from the actual disbursement: interest from that day (RBI FPC 2024).
        let mut actual = terms.clone();
        actual.disbursement_date = day;
        actual.principal = amount;
        actual.tranches.clear();
        if let Some(first) = terms.first_due_date {
            if first <= day {
                return Err((
                    "date",
                    format!("is on or after the first due date {first} in the terms"),
                ));
            }
        }
        let built = schedule::build(&actual).map_err(sched)?;
        let financed: i64 = terms
            .fees
            .iter()
            .filter(|f| f.collect == FeeCollection::Finance)
            .map(|f| f.total_minor(amount))
            .sum();
        let (anchor, offset) = match terms.first_due_date {
            Some(f) => (f, 0),
            None => (day, 1),
        };
        self.anchor = anchor;
        self.offset = offset;
        let equal = terms.interest_basis == InterestBasis::EqualPeriods;
        let regular_start = terms
            .frequency
            .step(anchor, offset - 1)
            .map_err(|e| ("date", e.to_string()))?;
        self.period_start = if equal { regular_start } else { day };
        self.seg_start = self.period_start;
        self.day = Some(day.yesterday().unwrap_or(day));
        let mut opening = amount + financed;
        let moratorium_n = terms.moratorium.map_or(0, |m| m.periods);
        // Each row's index in the due-date sequence: a bullet's one instalment is due at the end
        // of its last period, not its first.
        let mut seq = if terms.method == Method::Bullet {
            terms.installments.saturating_sub(1)
        } else {
            0
        };
        for row in &built.installments {
            let this_seq = if row.number == 0 { 0 } else { seq };
            self.dues.push(Due::scheduled(
                row,
                this_seq,
                opening,
                terms.annual_rate,
                row.number >= 1 && row.number <= moratorium_n,
            ));
            if row.number > 0 {
                seq += 1;
                opening = row.balance;
            }
        }
        // Broken-period interest rides on the first instalment as the schedule put it there, and
        // goes with it into any re-scheduled first instalment.
        let bpi = built.broken_period_interest;
        self.first_extra = if bpi < 0 || terms.broken_period == BrokenPeriod::FirstInstallment {
            bpi
        } else {
            0
        };
        self.disbursed_on = Some(day);
        self.installment_amount = built.installment_amount;
        self.next_number = self.dues.last().map_or(1, |d| d.number + 1);
        self.disbursed = amount;
        self.status = Status::Active;
        let partner_parts = self.fund_partners(terms, amount + financed);
        self.effects.emit(day, || EffectKind::Disbursed {
            amount,
            financed,
            partner_parts,
        });
        Ok(())
    }
}
