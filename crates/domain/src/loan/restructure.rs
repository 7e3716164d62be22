//! Re-scheduling the instalments not yet fallen due: prepayment reshaping, rate change and
//! restructure.

use rust_decimal::Decimal;

use crate::calendar::Date;
use crate::delinquency::Classification;
use crate::events::{PrepaymentAdjust, RateChangeKeep};
use crate::schedule::{self, DueDates, Plan, Sizing};
use crate::terms::{MAX_INSTALLMENTS, Method, MoratoriumInterest, Terms};

use super::{Capitalisation, Due, EffectKind, Engine, Res, RescheduleCause, sched};

impl Engine {
    /// Sizing of a re-scheduled run of `balance` for the loan's method. A balloon never exceeds
    /// the balance it is part of (else the instalments would not cover the interest). A stepped
    /// loan keeps stepping, its step cycle starting again at the first re-scheduled instalment
    /// (a level annuity instead would raise the early instalments of a step-up loan when a
    /// prepayment asks to lower them).
    pub(super) fn sizing(terms: &Terms, balance: i64, keep_installment: Option<i64>) -> Sizing {
        match (terms.method, keep_installment) {
            (Method::EqualPrincipal, _) => Sizing::EqualPrincipal,
            (Method::InterestOnly, _) => Sizing::InterestOnly,
            (_, Some(i)) => Sizing::Fixed(i),
            (Method::Balloon, None) => Sizing::Balloon(terms.balloon.unwrap_or(0).min(balance)),
            (Method::Step, None) => match terms.step {
                Some(step) => Sizing::Step {
                    every: step.every,
                    percent: step.percent,
                },
                None => Sizing::Annuity,
            },
            _ => Sizing::Annuity,
        }
    }

    /// Replace the instalments not yet fallen due with a new run from `day`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn reschedule(
        &mut self,
        terms: &Terms,
        day: Date,
        balance: i64,
        count: u32,
        sizing: Sizing,
        moratorium: Option<(u32, MoratoriumInterest)>,
        cause: RescheduleCause,
    ) -> Res<()> {
        self.carry_to(terms, day);
        let from = self.open_from();
        let first_seq = match self.dues.get(from) {
            Some(d) => d.seq,
            None => self.dues.last().map_or(0, |d| d.seq + 1),
        };
        let first_number = self.dues.get(from).map_or(self.next_number, |d| d.number);
        let dates = DueDates {
            offset: self.offset + i32::try_from(first_seq).unwrap_or(i32::MAX),
            ..self.dates(terms)
        };
        let run = schedule::amortise(&Plan {
            currency: terms.currency,
            opening_balance: balance,
            period_start: self.period_start,
            interest_from: self.seg_start,
            carried_interest: self.carried,
            dates,
            count: count.max(1),
            first_number,
            rate: self.rate(terms),
            rounding: terms.rounding,
            sizing,
            moratorium,
            first_extra_interest: self.first_extra,
            deferred_interest: 0,
            drawdowns: &[],
        })
        .map_err(sched)?;
        self.dues.truncate(from);
        let mut opening = balance;
        for (k, row) in run.installments.iter().enumerate() {
            self.dues.push(Due::scheduled(
                row,
                first_seq + u32::try_from(k).unwrap_or(0),
                opening,
                self.annual_rate,
                moratorium.is_some_and(|(m, _)| (k as u32) < m),
            ));
            opening = row.balance;
        }
        if run.installment_amount > 0 {
            self.installment_amount = run.installment_amount;
        }
        self.next_number = self.dues.last().map_or(1, |d| d.number + 1);
        let installments = u32::try_from(run.installments.len()).unwrap_or(u32::MAX);
        let installment_amount = self.installment_amount;
        self.effects.emit(day, || EffectKind::Rescheduled {
            cause,
            installments,
            installment_amount,
        });
        Ok(())
    }

    /// Index of the first instalment a re-schedule replaces: the first not fallen due, past an
    /// instalment 0 (broken-period interest, due at the start of the first regular period) still
    /// to fall due, which stays as it is.
    pub(super) fn open_from(&self) -> usize {
        let mut i = self.fallen;
        while self.dues.get(i).is_some_and(|d| d.number == 0) {
            i += 1;
        }
        i
    }

    pub(super) fn remaining_count(&self) -> u32 {
        u32::try_from(self.dues.len().saturating_sub(self.open_from())).unwrap_or(0)
    }

    pub(super) fn remaining_moratorium(&self, terms: &Terms) -> Option<(u32, MoratoriumInterest)> {
        let n = self.dues[self.open_from()..]
            .iter()
            .take_while(|d| d.moratorium)
            .count();
        let kind = terms.moratorium.map(|m| m.interest)?;
        (n > 0).then(|| (u32::try_from(n).unwrap_or(0), kind))
    }

    /// Repay `amount` of scheduled principal ahead of time, re-shaping the rest.
    pub(super) fn reduce_principal(
        &mut self,
        terms: &Terms,
        day: Date,
        amount: i64,
        adjust: PrepaymentAdjust,
    ) -> Res<()> {
        let balance = self.scheduled_balance();
        let new_balance = balance - amount;
        let remaining = self.remaining_count();
        let moratorium = self.remaining_moratorium(terms);
        let (count, sizing) = match adjust {
            PrepaymentAdjust::ReduceEmi => (remaining, Self::sizing(terms, new_balance, None)),
            PrepaymentAdjust::ReduceTenure => match terms.method {
                Method::EqualPrincipal => {
                    let part = self.dues[self.fallen..]
                        .iter()
                        .map(|d| d.principal)
                        .find(|p| *p > 0)
                        .unwrap_or(1)
                        .max(1);
                    // The moratorium instalments still to come carry no principal: the
                    // principal parts come after them.
                    let held_back = moratorium.map_or(0, |(m, _)| m);
                    let n = u32::try_from((new_balance + part - 1) / part)
                        .unwrap_or(remaining)
                        .saturating_add(held_back);
                    (
                        n.clamp(held_back + 1, remaining.max(held_back + 1)),
                        Sizing::EqualPrincipal,
                    )
                }
                Method::InterestOnly => (remaining, Sizing::InterestOnly),
                _ => (remaining, Sizing::Fixed(self.installment_amount)),
            },
        };
        self.prepaid += amount;
        self.reschedule(
            terms,
            day,
            new_balance,
            count,
            sizing,
            moratorium,
            RescheduleCause::Prepayment,
        )
    }

    pub(super) fn change_rate(
        &mut self,
        terms: &Terms,
        day: Date,
        rate: Decimal,
        keep: RateChangeKeep,
    ) -> Res<()> {
        if matches!(terms.method, Method::Flat | Method::Bullet) {
            return Err((
                "type",
                format!(
                    "rate changes are not available for method {}",
                    terms.method.name()
                ),
            ));
        }
        self.carry_to(terms, day);
        let from = std::mem::replace(&mut self.annual_rate, rate);
        self.effects
            .emit(day, || EffectKind::RateChanged { from, to: rate });
        let balance = self.scheduled_balance();
        let remaining = self.remaining_count();
        if remaining == 0 {
            // Every instalment has fallen due: nothing is left to re-price (re-scheduling would
            // add an instalment after the loan's maturity).
            return Ok(());
        }
        let moratorium = self.remaining_moratorium(terms);
        match keep {
            RateChangeKeep::Tenure => {
                let sizing = Self::sizing(terms, balance, None);
                self.reschedule(
                    terms,
                    day,
                    balance,
                    remaining,
                    sizing,
                    moratorium,
                    RescheduleCause::RateChange,
                )
            }
            RateChangeKeep::Emi => {
                let sizing = Self::sizing(terms, balance, Some(self.installment_amount));
                if let Sizing::Fixed(emi) = sizing {
                    let period = Decimal::from(balance) * self.rate(terms).period_rate();
                    if Decimal::from(emi) <= period {
                        return Err((
                            "keep",
                            format!(
                                "the instalment {} no longer covers a period's interest at {}% (negative amortisation); keep tenure instead",
                                crate::money::format_minor(emi, terms.currency.minor_digits()),
                                rate.normalize()
                            ),
                        ));
                    }
                }
                let used = u32::try_from(self.fallen).unwrap_or(0);
                let room = MAX_INSTALLMENTS.saturating_sub(used).max(remaining);
                self.reschedule(
                    terms,
                    day,
                    balance,
                    room,
                    sizing,
                    moratorium,
                    RescheduleCause::RateChange,
                )
            }
        }
    }

    pub(super) fn restructure(
        &mut self,
        terms: &Terms,
        day: Date,
        installments: Option<u32>,
        installment_amount: Option<i64>,
        moratorium: Option<(u32, MoratoriumInterest)>,
    ) -> Res<()> {
        if matches!(terms.method, Method::Flat | Method::Bullet) {
            return Err((
                "type",
                format!(
                    "restructure is not available for method {}",
                    terms.method.name()
                ),
            ));
        }
        // Arrears of principal and interest are capitalised into the new balance.
        let mut arrears = 0;
        let mut arrears_interest = 0;
        for d in &mut self.dues[..self.fallen] {
            let unpaid = d.unpaid();
            if unpaid > 0 {
                arrears_interest += d.unpaid_interest();
                arrears += unpaid;
                d.capitalised += unpaid;
            }
        }
        self.capitalised += arrears_interest;
        let partner_parts = self.fund_partners(terms, arrears_interest);
        if arrears_interest > 0 {
            self.effects.emit(day, || EffectKind::Capitalised {
                cause: Capitalisation::Restructure,
                amount: arrears_interest,
                partner_parts,
            });
        }
        let balance = self.scheduled_balance() + arrears;
        let count = installments
            .unwrap_or_else(|| self.remaining_count())
            .max(1);
        let m = moratorium
            .map(|(n, k)| (n.min(count.saturating_sub(1)), k))
            .filter(|(n, _)| *n > 0);
        if let Some(m) = m {
            if m.0 >= count {
                return Err((
                    "moratorium.periods",
                    "must be fewer than installments".into(),
                ));
            }
        }
        let sizing = Self::sizing(terms, balance, installment_amount);
        if self.classification == Classification::Npa {
            self.npa_watch = Some(
                self.dues
                    .get(self.open_from())
                    .map_or(self.next_number, |d| d.number)
                    + m.map_or(0, |(n, _)| n),
            );
        }
        self.reschedule(
            terms,
            day,
            balance,
            count,
            sizing,
            m,
            RescheduleCause::Restructure,
        )
    }
}
