//! The end of a loan: foreclosure, settlement, write-off, loss identification and recovery.

use rust_decimal::Decimal;

use crate::calendar::Date;
use crate::delinquency::Classification;
use crate::events::ChargeKind;
use crate::money::{RoundingMode, round_to_integer};
use crate::terms::Terms;

use super::{Due, EffectKind, Engine, Loss, Res, Status};

impl Engine {
    /// An NPA identified as a loss asset.
    pub(super) fn identify_loss(&mut self, day: Date) -> Res<()> {
        if self.classification != Classification::Npa {
            return Err((
                "type",
                "only an NPA can be identified as a loss asset".into(),
            ));
        }
        if self.loss_identified.is_some() {
            return Err(("type", "the loan is a loss asset already".into()));
        }
        self.loss_identified = Some(day);
        self.effects.emit(day, || EffectKind::LossIdentified);
        Ok(())
    }

    /// Write the loan off: what is outstanding is recorded as the loss.
    pub(super) fn write_off(&mut self, day: Date) {
        let loss = Loss {
            principal: self.principal_outstanding(),
            interest: self.interest_overdue(),
            charges: self.charges_due(),
        };
        self.written_off = Some((day, loss));
        self.status = Status::WrittenOff;
        self.effects.emit(day, || EffectKind::WrittenOff { loss });
    }

    /// Money received on a written-off loan: everything owed falls due and the money pays it.
    pub(super) fn recover(
        &mut self,
        terms: &Terms,
        day: Date,
        amount: i64,
        reference: Option<&str>,
    ) -> Res<()> {
        let reference = reference.map_or_else(
            || format!("recovery:{day}:{}", self.receipts.len()),
            str::to_owned,
        );
        self.close_schedule(terms, day)?;
        self.receive(terms, day, &reference, amount)?;
        self.recovered += amount;
        self.effects
            .emit(day, || EffectKind::Recovered { reference, amount });
        Ok(())
    }

    /// A compromise settlement: everything owed falls due, the agreed amount is appropriated to it
    /// and the shortfall recorded.
    pub(super) fn settle(
        &mut self,
        terms: &Terms,
        day: Date,
        amount: i64,
        reference: Option<&str>,
    ) -> Res<()> {
        let reference = reference.map_or_else(|| format!("settlement:{day}"), str::to_owned);
        self.close_schedule(terms, day)?;
        self.penal_to_charge(day);
        self.receive(terms, day, &reference, amount)?;
        let shortfall = Loss {
            principal: self.principal_overdue(),
            interest: self.interest_overdue(),
            charges: self.charges_due(),
        };
        self.settlement_shortfall = Some(shortfall);
        self.status = Status::Settled;
        self.closed_on = Some(day);
        self.effects.emit(day, || EffectKind::Settled {
            reference,
            amount,
            shortfall,
        });
        Ok(())
    }

    /// Pay the loan off: the amount must cover the day's foreclosure amount.
    pub(super) fn foreclose(
        &mut self,
        terms: &Terms,
        day: Date,
        amount: i64,
        reference: Option<&str>,
    ) -> Res<()> {
        let quote = self.foreclosure_amount(terms, day);
        if amount < quote {
            return Err((
                "amount",
                format!(
                    "{} is less than the foreclosure amount {} on {day}",
                    crate::money::format_minor(amount, terms.currency.minor_digits()),
                    crate::money::format_minor(quote, terms.currency.minor_digits())
                ),
            ));
        }
        let fee = self.foreclosure_fee(terms);
        self.close_schedule(terms, day)?;
        self.penal_to_charge(day);
        if fee > 0 {
            self.levy(
                day,
                ChargeKind::Other,
                fee,
                Some("foreclosure_fee".into()),
                false,
            );
        }
        let reference = reference.map_or_else(|| format!("foreclosure:{day}"), str::to_owned);
        // Held money goes first, then the amount paid.
        self.apply_excess(terms, day);
        self.receive(terms, day, &reference, amount)?;
        self.status = Status::Foreclosed;
        self.closed_on = Some(day);
        self.effects
            .emit(day, || EffectKind::Foreclosed { reference, amount });
        Ok(())
    }

    /// Bring every future instalment forward to `day`: principal outstanding and interest to date
    /// fall due now (foreclosure, settlement, recovery after write-off).
    pub(super) fn close_schedule(&mut self, terms: &Terms, day: Date) -> Res<()> {
        if self.fallen == self.dues.len() {
            return Ok(());
        }
        // Interest to date, an instalment 0 still to fall due included (pro rata).
        let interest = self.interest_to(terms, day);
        self.carry_to(terms, day);
        let balance = self.scheduled_balance();
        let template = self.dues[self.open_from().min(self.dues.len() - 1)].clone();
        self.dues.truncate(self.fallen);
        self.dues.push(Due {
            number: template.number,
            due_date: day,
            principal: balance,
            interest: interest.max(0),
            opening_balance: balance,
            paid_principal: 0,
            paid_interest: 0,
            waived_interest: 0,
            capitalised: 0,
            capitalises: 0,
            moratorium: false,
            penal_levied: true,
            ..template
        });
        self.fallen = self.dues.len();
        let instalment = template.number;
        self.effects.emit(day, || EffectKind::FellDue {
            instalment,
            principal: balance,
            interest: interest.max(0),
        });
        self.carried = Decimal::ZERO;
        self.first_extra = 0;
        self.seg_start = day;
        self.period_start = day;
        Ok(())
    }

    pub(super) fn foreclosure_fee(&self, terms: &Terms) -> i64 {
        let Some(fee) = terms.foreclosure_fee else {
            return 0;
        };
        let base = Decimal::from(self.principal_outstanding()) * fee.percent / Decimal::ONE_HUNDRED;
        let base = i64::try_from(round_to_integer(base, RoundingMode::HalfUp)).unwrap_or(0);
        let tax = Decimal::from(base) * fee.tax_percent / Decimal::ONE_HUNDRED;
        base + i64::try_from(round_to_integer(tax, RoundingMode::HalfUp)).unwrap_or(0)
    }

    /// What closes the loan on `day` (interest to `day`, not including it): principal outstanding
    /// + interest overdue + interest accrued + charges due + penal accrued − held money + fee.
    pub fn foreclosure_amount(&self, terms: &Terms, day: Date) -> i64 {
        if self.status.is_final() || self.status == Status::Pending {
            return 0;
        }
        let interest_to_date = self.interest_to(terms, day);
        let total = self.principal_outstanding()
            + self.interest_overdue()
            + interest_to_date
            + self.charges_due()
            + self.penal_accrued
            + self.foreclosure_fee(terms)
            - self.excess_total();
        total.max(0)
    }
}
