//! Posting rules: each effect of the loan engine turned into balanced journal entries.
//!
//! The rules, for a loan that is not written off (amounts in minor units, `Dr` / `Cr`):
//!
//! | effect | entry |
//! |---|---|
//! | `disbursed` | Dr loan principal, Cr disbursement clearing (amount) and charge income (financed fees); each co-lender's part: Dr disbursement clearing, Cr partner funding |
//! | `fell_due` | Dr interest receivable, Cr interest accrued (the interest); principal stays in loan principal |
//! | `received` | nothing: what it paid follows as `allocated` and `excess_held` |
//! | `allocated` | Dr collections clearing, Cr principal / interest receivable / charges receivable; while NPA the interest is realised: Dr interest suspense, Cr interest income; a co-lender's part of principal: Dr partner funding, Cr partner payable; of interest or charges: Dr the income, Cr partner payable |
//! | `excess_held` / `excess_applied` | collections clearing ↔ borrower excess |
//! | `penal_accrued` | Dr penal accrued, Cr penal income |
//! | `levied` | Dr charges receivable, Cr charge income (penal income for penal charges; penal accrued when `from_accrued`) |
//! | `waived` | Dr waiver expense, Cr interest / charges receivable; interest waived while NPA was never income: Dr interest suspense instead |
//! | `capitalised` | Dr loan principal, Cr interest accrued (moratorium) or interest receivable (restructure); while NPA the suspense on it is released to income (the interest is now principal); a co-lender's part: Dr interest income, Cr partner funding |
//! | `class_changed` to NPA | Dr interest income, Cr interest suspense: interest receivable + accrued as the loan carries them |
//! | `class_changed` from NPA | the suspense written back: Dr interest suspense, Cr interest income |
//! | `written_off` / `settled` | every loan asset the loan carries (principal, interest receivable and accrued, charges, penal accrued) credited, interest suspense and the co-lenders' funding debited, the rest to write-off expense / settlement loss |
//! | `reversed` | nothing (see below) |
//! | others | nothing |
//!
//! After a write-off the loan is off the books: dues falling, charges, penal interest, waivers
//! and capitalisation post nothing, and money allocated is recovery income (a co-lender's part:
//! Dr recovery income, Cr partner payable).
//!
//! **Reversals.** A replay that contains a reversal leaves the reversed receipt out of the whole
//! history, so its effects carry the `reversed` effect but no allocation of that receipt to undo.
//! The rule therefore posts nothing. A close of business that posted the receipt's allocations
//! before the reversal was recorded moves the loan from the GL position it has to the position a
//! full replay gives, with [`super::subledger::adjustment`]; the same goes for any back-dated
//! event.
//!
//! **Daily accrual** is not an effect: [`accrual_entry`] posts a day's interest earned per
//! product, where for each loan the amount is `interest_accrued(today) −
//! interest_accrued(yesterday) + Σ fell_due.interest today + Σ capitalised.amount (moratorium)
//! today`, posted before the day's effects. A [`Poster`] must be
//! told each loan's amount ([`Poster::note_accrual`]) or post it itself ([`Poster::accrual`]),
//! since moving interest to suspense needs the accrued interest the loan carries.

use crate::calendar::Date;
use crate::events::{ChargeKind, WaiverComponent};
use crate::loan::{Capitalisation, Effect, EffectKind, Paid};
use crate::terms::Terms;

use super::accounts::Role;
use super::journal::{EntryBuilder, JournalEntry, JournalError};
use super::subledger::{Position, add_entry};

/// A lender of a co-lent loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterparty {
    pub id: String,
    /// The originating lender, whose own books these are: its parts are not partner balances.
    pub originator: bool,
}

/// Posts the effects of one loan, in order, tracking whether the loan is NPA and what the loan
/// carries in the GL.
#[derive(Debug, Clone)]
pub struct Poster {
    loan_id: String,
    product: String,
    partners: Vec<Counterparty>,
    npa: bool,
    written_off: bool,
    position: Position,
}

/// One entry being drafted: every move is a debit and a credit of the same amount, so it
/// balances whatever the amounts.
struct Draft {
    b: EntryBuilder,
}

impl Draft {
    fn mv(
        &mut self,
        dr: Role,
        dr_partner: Option<&str>,
        cr: Role,
        cr_partner: Option<&str>,
        v: i64,
    ) {
        if v == 0 || dr == cr && dr_partner == cr_partner {
            return;
        }
        self.b.push_signed(dr, v, dr_partner);
        self.b.push_signed(cr, v.saturating_neg(), cr_partner);
    }

    fn pair(&mut self, dr: Role, cr: Role, v: i64) {
        self.mv(dr, None, cr, None, v);
    }

    fn finish(self) -> Result<Option<JournalEntry>, JournalError> {
        if self.b.is_empty() {
            Ok(None)
        } else {
            self.b.build().map(Some)
        }
    }
}

/// The income role of a charge of `kind`.
fn charge_income(kind: ChargeKind) -> Role {
    match kind {
        ChargeKind::Penal => Role::PenalIncome,
        ChargeKind::Bounce | ChargeKind::Other => Role::ChargeIncome,
    }
}

impl Poster {
    /// A poster for loan `loan_id` of `product`, its lenders in the terms' order, and whether the
    /// loan is NPA before the first effect posted.
    pub fn new(
        loan_id: impl Into<String>,
        product: impl Into<String>,
        partners: Vec<Counterparty>,
        npa: bool,
    ) -> Poster {
        Poster {
            loan_id: loan_id.into(),
            product: product.into(),
            partners,
            npa,
            written_off: false,
            position: Position::new(),
        }
    }

    /// A poster with the lenders of `terms`.
    pub fn for_terms(loan_id: &str, product: &str, terms: &Terms, npa: bool) -> Poster {
        let partners = terms
            .partners
            .iter()
            .map(|p| Counterparty {
                id: p.id.clone(),
                originator: p.originator,
            })
            .collect();
        Poster::new(loan_id, product, partners, npa)
    }

    /// Resume with the GL position the loan already carries (and whether it is written off).
    pub fn resume(mut self, position: Position, written_off: bool) -> Poster {
        self.position = position;
        self.written_off = written_off;
        self
    }

    /// Whether the loan is NPA after the effects posted so far.
    pub fn is_npa(&self) -> bool {
        self.npa
    }

    /// What the loan carries in the GL after the entries posted so far, debit-positive.
    pub fn position(&self) -> &Position {
        &self.position
    }

    fn held(&self, role: Role, partner: Option<&str>) -> i64 {
        self.position
            .get(&(role, partner.map(str::to_owned)))
            .copied()
            .unwrap_or(0)
    }

    fn draft(&self, date: Date, kind: &'static str, narration: String) -> Draft {
        Draft {
            b: JournalEntry::builder(date, kind, narration)
                .dims(Some(&self.loan_id), Some(&self.product)),
        }
    }

    /// The co-lenders (not the originator) with their parts of `parts`.
    fn partner_parts<'a>(&'a self, parts: &'a [i64]) -> impl Iterator<Item = (&'a str, i64)> {
        self.partners
            .iter()
            .zip(parts)
            .filter(|(p, v)| !p.originator && **v != 0)
            .map(|(p, v)| (p.id.as_str(), *v))
    }

    /// Record in the position a day's accrual of `amount` posted in a summary entry
    /// ([`accrual_entry`]), to income or to suspense as the loan is NPA or not.
    pub fn note_accrual(&mut self, amount: i64) {
        if self.written_off || amount == 0 {
            return;
        }
        let credit = if self.npa {
            Role::InterestSuspense
        } else {
            Role::InterestIncome
        };
        for (role, v) in [
            (Role::InterestAccrued, amount),
            (credit, amount.saturating_neg()),
        ] {
            let slot = self.position.entry((role, None)).or_default();
            *slot = slot.saturating_add(v);
        }
    }

    /// A day's accrual of this loan as an entry of its own (the loan-level form of
    /// [`accrual_entry`]).
    pub fn accrual(
        &mut self,
        date: Date,
        amount: i64,
    ) -> Result<Option<JournalEntry>, JournalError> {
        if self.written_off {
            return Ok(None);
        }
        let mut d = self.draft(
            date,
            "accrual",
            format!("interest accrued on {}", self.loan_id),
        );
        let credit = if self.npa {
            Role::InterestSuspense
        } else {
            Role::InterestIncome
        };
        d.pair(Role::InterestAccrued, credit, amount);
        self.keep(d.finish())
    }

    fn keep(
        &mut self,
        entry: Result<Option<JournalEntry>, JournalError>,
    ) -> Result<Option<JournalEntry>, JournalError> {
        if let Ok(Some(e)) = &entry {
            add_entry(&mut self.position, e);
        }
        entry
    }

    /// The entries of one effect (none for an effect with nothing to post).
    pub fn post(&mut self, effect: &Effect) -> Result<Option<JournalEntry>, JournalError> {
        let entry = if self.written_off {
            self.off_book(effect)
        } else {
            self.on_book(effect)
        };
        self.keep(entry)
    }

    /// Rules while the loan is on the books.
    fn on_book(&mut self, effect: &Effect) -> Result<Option<JournalEntry>, JournalError> {
        let date = effect.date;
        let loan = self.loan_id.clone();
        match &effect.kind {
            EffectKind::Disbursed {
                amount,
                financed,
                partner_parts,
            } => self.disbursed(date, *amount, *financed, partner_parts),
            EffectKind::FellDue {
                instalment,
                interest,
                ..
            } => {
                let mut d = self.draft(
                    date,
                    "due",
                    format!("instalment {instalment} of {loan} due"),
                );
                d.pair(Role::InterestReceivable, Role::InterestAccrued, *interest);
                d.finish()
            }
            EffectKind::Allocated {
                reference,
                paid,
                amount,
                partner_parts,
                ..
            } => self.allocated(date, reference, *paid, *amount, partner_parts),
            EffectKind::ExcessHeld { reference, amount } => {
                let mut d = self.draft(date, "excess", format!("{reference}: money held"));
                d.pair(Role::CollectionsClearing, Role::BorrowerExcess, *amount);
                d.finish()
            }
            EffectKind::ExcessApplied { reference, amount } => {
                let mut d = self.draft(date, "excess", format!("{reference}: held money used"));
                d.pair(Role::BorrowerExcess, Role::CollectionsClearing, *amount);
                d.finish()
            }
            EffectKind::PenalAccrued { amount } => {
                let mut d = self.draft(date, "penal", format!("penal interest on {loan}"));
                d.pair(Role::PenalAccrued, Role::PenalIncome, *amount);
                d.finish()
            }
            EffectKind::Levied {
                kind,
                amount,
                from_accrued,
                ..
            } => {
                let mut d = self.draft(date, "charge", format!("charge levied on {loan}"));
                let credit = if *from_accrued {
                    Role::PenalAccrued
                } else {
                    charge_income(*kind)
                };
                d.pair(Role::ChargesReceivable, credit, *amount);
                d.finish()
            }
            EffectKind::Waived { component, amount } => self.waived(date, *component, *amount),
            EffectKind::Capitalised {
                cause,
                amount,
                partner_parts,
            } => self.capitalised(date, *cause, *amount, partner_parts),
            EffectKind::ClassChanged { to, .. } => self.class_changed(date, *to),
            EffectKind::WrittenOff { .. } => {
                self.written_off = true;
                self.write_down(date, "write_off", Role::WriteOffExpense)
            }
            EffectKind::Settled { .. } => self.write_down(date, "settlement", Role::SettlementLoss),
            EffectKind::Received { .. }
            | EffectKind::RateChanged { .. }
            | EffectKind::Rescheduled { .. }
            | EffectKind::Reversed { .. }
            | EffectKind::LossIdentified
            | EffectKind::Recovered { .. }
            | EffectKind::Foreclosed { .. }
            | EffectKind::Closed => Ok(None),
        }
    }

    fn disbursed(
        &self,
        date: Date,
        amount: i64,
        financed: i64,
        partner_parts: &[i64],
    ) -> Result<Option<JournalEntry>, JournalError> {
        let loan = &self.loan_id;
        let mut d = self.draft(date, "disbursement", format!("disbursed to {loan}"));
        d.pair(Role::LoanPrincipal, Role::DisbursementClearing, amount);
        d.pair(Role::LoanPrincipal, Role::ChargeIncome, financed);
        for (p, v) in self.partner_parts(partner_parts) {
            d.mv(
                Role::DisbursementClearing,
                None,
                Role::PartnerFunding,
                Some(p),
                v,
            );
        }
        d.finish()
    }

    fn waived(
        &self,
        date: Date,
        component: WaiverComponent,
        amount: i64,
    ) -> Result<Option<JournalEntry>, JournalError> {
        let mut d = self.draft(date, "waiver", format!("waiver on {}", self.loan_id));
        match component {
            WaiverComponent::Interest if self.npa => {
                d.pair(Role::InterestSuspense, Role::InterestReceivable, amount);
            }
            WaiverComponent::Interest => {
                d.pair(Role::WaiverExpense, Role::InterestReceivable, amount);
            }
            WaiverComponent::Charges => {
                d.pair(Role::WaiverExpense, Role::ChargesReceivable, amount);
            }
        }
        d.finish()
    }

    fn capitalised(
        &self,
        date: Date,
        cause: Capitalisation,
        amount: i64,
        partner_parts: &[i64],
    ) -> Result<Option<JournalEntry>, JournalError> {
        let mut d = self.draft(
            date,
            "capitalisation",
            format!("interest capitalised on {}", self.loan_id),
        );
        let from = match cause {
            Capitalisation::Moratorium => Role::InterestAccrued,
            Capitalisation::Restructure => Role::InterestReceivable,
        };
        d.pair(Role::LoanPrincipal, from, amount);
        if self.npa {
            d.pair(Role::InterestSuspense, Role::InterestIncome, amount);
        }
        for (p, v) in self.partner_parts(partner_parts) {
            d.mv(Role::InterestIncome, None, Role::PartnerFunding, Some(p), v);
        }
        d.finish()
    }

    fn allocated(
        &self,
        date: Date,
        reference: &str,
        paid: Paid,
        amount: i64,
        parts: &[i64],
    ) -> Result<Option<JournalEntry>, JournalError> {
        let mut d = self.draft(date, "repayment", format!("{reference}: allocated"));
        let (target, income) = match paid {
            Paid::Principal => (Role::LoanPrincipal, None),
            Paid::Interest => (Role::InterestReceivable, Some(Role::InterestIncome)),
            Paid::Charge { kind } => (Role::ChargesReceivable, Some(charge_income(kind))),
        };
        d.pair(Role::CollectionsClearing, target, amount);
        if paid == Paid::Interest && self.npa {
            d.pair(Role::InterestSuspense, Role::InterestIncome, amount);
        }
        for (p, v) in self.partner_parts(parts) {
            match income {
                None => d.mv(
                    Role::PartnerFunding,
                    Some(p),
                    Role::PartnerPayable,
                    Some(p),
                    v,
                ),
                Some(role) => d.mv(role, None, Role::PartnerPayable, Some(p), v),
            }
        }
        d.finish()
    }

    fn class_changed(
        &mut self,
        date: Date,
        to: crate::delinquency::Classification,
    ) -> Result<Option<JournalEntry>, JournalError> {
        let npa = to == crate::delinquency::Classification::Npa;
        let loan = self.loan_id.clone();
        let mut d = self.draft(date, "suspense", String::new());
        if npa && !self.npa {
            d = self.draft(
                date,
                "suspense",
                format!("{loan} NPA: interest to suspense"),
            );
            let unrealised = self
                .held(Role::InterestReceivable, None)
                .saturating_add(self.held(Role::InterestAccrued, None));
            d.pair(Role::InterestIncome, Role::InterestSuspense, unrealised);
        } else if !npa && self.npa {
            d = self.draft(
                date,
                "suspense",
                format!("{loan} upgraded: suspense written back"),
            );
            let suspense = self.held(Role::InterestSuspense, None).saturating_neg();
            d.pair(Role::InterestSuspense, Role::InterestIncome, suspense);
        }
        self.npa = npa;
        d.finish()
    }

    /// Take every loan asset the loan carries off the books, net of the suspense against it and
    /// of the co-lenders' funding (each lender bears its own share); the rest goes to `loss`.
    fn write_down(
        &self,
        date: Date,
        kind: &'static str,
        loss: Role,
    ) -> Result<Option<JournalEntry>, JournalError> {
        let loan = self.loan_id.clone();
        let mut d = self.draft(date, kind, format!("{loan}: {kind}"));
        for role in [
            Role::LoanPrincipal,
            Role::InterestReceivable,
            Role::InterestAccrued,
            Role::ChargesReceivable,
            Role::PenalAccrued,
        ] {
            d.pair(loss, role, self.held(role, None));
        }
        d.pair(
            Role::InterestSuspense,
            loss,
            self.held(Role::InterestSuspense, None).saturating_neg(),
        );
        for p in self.partners.iter().filter(|p| !p.originator) {
            let funding = self
                .held(Role::PartnerFunding, Some(&p.id))
                .saturating_neg();
            d.mv(Role::PartnerFunding, Some(&p.id), loss, None, funding);
        }
        d.finish()
    }

    /// Rules after a write-off: only money moves.
    fn off_book(&mut self, effect: &Effect) -> Result<Option<JournalEntry>, JournalError> {
        let date = effect.date;
        match &effect.kind {
            EffectKind::Allocated {
                reference,
                amount,
                partner_parts,
                ..
            } => {
                let mut d = self.draft(date, "recovery", format!("{reference}: recovered"));
                d.pair(Role::CollectionsClearing, Role::RecoveryIncome, *amount);
                for (p, v) in self.partner_parts(partner_parts) {
                    d.mv(Role::RecoveryIncome, None, Role::PartnerPayable, Some(p), v);
                }
                d.finish()
            }
            EffectKind::ExcessHeld { .. } | EffectKind::ExcessApplied { .. } => {
                self.on_book(effect)
            }
            EffectKind::ClassChanged { to, .. } => {
                self.npa = *to == crate::delinquency::Classification::Npa;
                Ok(None)
            }
            _ => Ok(None),
        }
    }
}

/// A day's interest earned on the loans of `product` (the sum of each loan's amount, see the
/// module comment): Dr interest accrued, Cr interest income, or interest suspense for NPA loans.
/// A negative amount (accrued interest taken back) posts the reverse.
pub fn accrual_entry(date: Date, product: &str, amount: i64, npa: bool) -> Option<JournalEntry> {
    let credit = if npa {
        Role::InterestSuspense
    } else {
        Role::InterestIncome
    };
    let narration = format!(
        "interest accrued on {product}{}",
        if npa { " (NPA)" } else { "" }
    );
    let mut d = Draft {
        b: JournalEntry::builder(date, "accrual", narration).dims(None, Some(product)),
    };
    d.pair(Role::InterestAccrued, credit, amount);
    d.finish().ok().flatten()
}

/// The movement of a loan's provision from `from` to `to`: Dr provision expense, Cr provision
/// held when it rises; the reverse when it is released.
pub fn provision_entry(
    date: Date,
    loan: &str,
    product: &str,
    from: i64,
    to: i64,
) -> Option<JournalEntry> {
    let change = i128::from(to) - i128::from(from);
    let change = i64::try_from(change).ok()?;
    let narration = if change >= 0 {
        format!("provision on {loan} raised")
    } else {
        format!("provision on {loan} released")
    };
    let mut d = Draft {
        b: JournalEntry::builder(date, "provision", narration).dims(Some(loan), Some(product)),
    };
    d.pair(Role::ProvisionExpense, Role::ProvisionHeld, change);
    d.finish().ok().flatten()
}
