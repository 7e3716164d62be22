//! Drawing a borrower: the public facts the lender knows ([`Borrower`]) and the hidden ones that
//! decide how the account behaves ([`Profile`]).
//!
//! Each borrower is a pure function of `(seed, index)`: the draws come from the borrower's own
//! stream, so a population can be drawn in any order.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use loanbook_domain::collections::Rail;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::banks::BankModel;
use super::{Borrower, Market, PopulationSpec, Purpose, exp, normal, scale, stream};

/// Share of Indian borrowers on NACH; the rest are on UPI AutoPay.
pub const NACH_SHARE: f64 = 0.55;
/// Share of borrowers with irregular income (several credits a month on random days).
pub const IRREGULAR_SHARE: f64 = 0.15;
/// Share of borrowers who fall into distress (income stops) for a few months.
pub const DISTRESS_SHARE: f64 = 0.04;
/// Monthly chance that a borrower's account is closed.
pub const CLOSURE_PER_MONTH: f64 = 0.0015;
/// Monthly chance that a borrower cancels the mandate.
pub const CANCEL_PER_MONTH: f64 = 0.0015;
/// Chance that a borrower in distress cancels the mandate while in distress.
pub const DISTRESS_CANCEL: f64 = 0.25;
/// Monthly chance that an account is frozen for a few weeks (KYC review).
pub const FREEZE_PER_MONTH: f64 = 0.001;
/// Share of the population's debtor banks, in the order of [`super::banks::INDIAN_BANKS`].
const BANK_SHARES: [f64; 8] = [0.24, 0.18, 0.14, 0.12, 0.10, 0.09, 0.07, 0.06];

/// When a salaried borrower is paid, or how an irregular earner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pay {
    /// On this day of the month (the month's last day when shorter).
    Fixed(u8),
    /// On the month's last weekday.
    LastWorkingDay,
    /// Twice a month: the 15th and the last working day (US payrolls).
    SemiMonthly,
    /// In this many credits on random days of the month.
    Irregular(u8),
}

/// What the lender does not know of a borrower.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Profile {
    pub(crate) bank: usize,
    pub(crate) emi_minor: i64,
    /// Net monthly income in a normal month.
    pub(crate) income_minor: i64,
    pub(crate) pay: Pay,
    /// The hour a salary credit arrives.
    pub(crate) salary_hour: u8,
    /// Share of income drawn by fixed commitments (rent, other loans) just after pay day.
    pub(crate) commit_share: f64,
    /// Share of income spent on essentials even when nothing is left for them.
    pub(crate) essential_share: f64,
    /// How fast spending decays after pay day: the day weights fall by this factor a day.
    pub(crate) drain: f64,
    /// The balance the borrower aims to end a pay cycle with, in EMIs (negative: overspends).
    pub(crate) buffer_emis: f64,
    /// The balance before the first pay cycle's income.
    pub(crate) opening_minor: i64,
    /// Pay cycles `[from, to)` of distress: income stops or dwindles.
    pub(crate) distress: Option<(u32, u32)>,
    pub(crate) closed_on: Option<Date>,
    pub(crate) cancelled_on: Option<Date>,
    /// The account is frozen from the first date to the day before the second.
    pub(crate) frozen: Option<(Date, Date)>,
    /// Daily chance of paying a failed debit by another channel when the money is there.
    pub(crate) manual: f64,
}

impl Profile {
    pub(crate) fn distressed(&self, cycle: u32) -> bool {
        self.distress.is_some_and(|(a, b)| a <= cycle && cycle < b)
    }

    pub(crate) fn salaried(&self) -> bool {
        matches!(self.pay, Pay::Fixed(_) | Pay::LastWorkingDay)
    }

    pub(crate) fn frozen_on(&self, date: Date) -> bool {
        self.frozen.is_some_and(|(a, b)| a <= date && date < b)
    }
}

/// The borrower at `index` of `spec`, banking with one of `banks`.
pub(crate) fn draw(
    spec: &PopulationSpec,
    end: Date,
    index: usize,
    banks: &[BankModel],
) -> (Borrower, Profile) {
    let mut rng = stream(spec.seed, Purpose::Borrower, index as u64, spec.start, 0);
    let bank = pick_bank(&mut rng, banks.len());
    let rail = match spec.market {
        Market::India if rng.random_bool(NACH_SHARE) => Rail::Nach,
        Market::India => Rail::UpiAutopay,
        Market::Us => Rail::Ach,
    };
    let emi_minor = draw_emi(&mut rng, spec.market);
    let pay = draw_pay(&mut rng, spec.market);
    let due_day = draw_due_day(&mut rng, pay, spec.market);
    let mut profile = draw_finances(&mut rng, bank, emi_minor, pay);
    draw_events(&mut rng, &mut profile, spec, end);
    let borrower = Borrower {
        id: format!("SB-{:08}", index + 1),
        bank: banks.get(bank).map_or("", |b| b.code),
        rail,
        emi_minor,
        due_day,
    };
    (borrower, profile)
}

fn pick_bank(rng: &mut ChaCha8Rng, banks: usize) -> usize {
    let mut u: f64 = rng.random();
    for (i, share) in BANK_SHARES.iter().enumerate().take(banks) {
        if u < *share {
            return i;
        }
        u -= share;
    }
    0
}

/// A log-normal EMI: ₹2,000 to ₹60,000 around ₹8,000; $80 to $2,000 around $350.
fn draw_emi(rng: &mut ChaCha8Rng, market: Market) -> i64 {
    let (median, low, high) = match market {
        Market::India => (8_000.0, 2_000.0, 60_000.0),
        Market::Us => (350.0, 80.0, 2_000.0),
    };
    let units: f64 = (median * exp(0.75 * normal(rng))).clamp(low, high);
    // Whole rupees or dollars, in minor units.
    (units.round() as i64) * 100
}

fn draw_pay(rng: &mut ChaCha8Rng, market: Market) -> Pay {
    let u: f64 = rng.random();
    if u < IRREGULAR_SHARE {
        return Pay::Irregular(rng.random_range(2..=6));
    }
    let u = (u - IRREGULAR_SHARE) / (1.0 - IRREGULAR_SHARE);
    match market {
        Market::Us if u < 0.6 => Pay::SemiMonthly,
        Market::Us if u < 0.85 => Pay::LastWorkingDay,
        Market::Us => Pay::Fixed(1),
        Market::India => match u {
            u if u < 0.24 => Pay::Fixed(1),
            u if u < 0.42 => Pay::Fixed(7),
            u if u < 0.71 => Pay::LastWorkingDay,
            u if u < 0.83 => Pay::Fixed(10),
            u if u < 0.89 => Pay::Fixed(15),
            u if u < 0.94 => Pay::Fixed(5),
            _ => Pay::Fixed(rng.random_range(2..=28)),
        },
    }
}

/// The due day: often the first of the lender's usual days a few days after pay day (the
/// lender asked), otherwise any of them.
fn draw_due_day(rng: &mut ChaCha8Rng, pay: Pay, market: Market) -> u8 {
    let menu: &[(u8, f64)] = match market {
        Market::India => &[(1, 0.3), (5, 0.25), (7, 0.15), (10, 0.2), (15, 0.1)],
        Market::Us => &[(1, 0.45), (15, 0.35), (5, 0.1), (20, 0.1)],
    };
    let pay_day = match pay {
        Pay::Fixed(d) => Some(d),
        Pay::LastWorkingDay => Some(30),
        Pay::SemiMonthly | Pay::Irregular(_) => None,
    };
    if let Some(p) = pay_day {
        if rng.random_bool(0.55) {
            let after = |d: u8| {
                let gap = (i32::from(d) - i32::from(p)).rem_euclid(30);
                (1..=6).contains(&gap)
            };
            if let Some((d, _)) = menu.iter().find(|(d, _)| after(*d)) {
                return *d;
            }
        }
    }
    if rng.random_bool(0.04) {
        return rng.random_range(2..=28);
    }
    let mut u: f64 = rng.random();
    for (d, w) in menu {
        if u < *w {
            return *d;
        }
        u -= w;
    }
    1
}

fn draw_finances(rng: &mut ChaCha8Rng, bank: usize, emi_minor: i64, pay: Pay) -> Profile {
    // The EMI's share of net income (FOIR), log-normal around 18%.
    let foir = (0.18 * exp(0.45 * normal(rng))).clamp(0.04, 0.6);
    let income_minor = scale(emi_minor, 1.0 / foir);
    let salary_hour = match rng.random::<f64>() {
        u if u < 0.4 => rng.random_range(1..=6),
        u if u < 0.8 => rng.random_range(7..=11),
        _ => rng.random_range(12..=17),
    };
    let buffer_emis: f64 = match rng.random::<f64>() {
        u if u < 0.25 => rng.random_range(-0.3..0.4),
        u if u < 0.72 => rng.random_range(0.4..1.5),
        _ => rng.random_range(1.5..6.0),
    };
    let opening = buffer_emis.max(0.0) + rng.random_range(0.0..0.3);
    let manual = if rng.random_bool(0.3) {
        0.0
    } else {
        rng.random_range(0.05..0.3)
    };
    Profile {
        bank,
        emi_minor,
        income_minor,
        pay,
        salary_hour,
        commit_share: rng.random_range(0.10..0.35),
        essential_share: rng.random_range(0.25..0.40),
        drain: 1.0 - 1.0 / rng.random_range(4.0..15.0),
        buffer_emis,
        opening_minor: scale(emi_minor, opening),
        distress: None,
        closed_on: None,
        cancelled_on: None,
        frozen: None,
        manual,
    }
}

/// Distress, closure, cancellation and freezing, on dates in the period.
fn draw_events(rng: &mut ChaCha8Rng, p: &mut Profile, spec: &PopulationSpec, end: Date) {
    let months = f64::from(spec.months);
    let days = super::days_between(spec.start, end).max(1);
    let any_day =
        |rng: &mut ChaCha8Rng| spec.start.saturating_add(rng.random_range(0..days).days());
    if rng.random_bool(DISTRESS_SHARE) {
        // Cycle c is paid in the c-th month from the month before `start`.
        let from = rng.random_range(2..=spec.months + 1);
        p.distress = Some((from, from + rng.random_range(2..=5)));
        p.manual *= 0.5;
        if rng.random_bool(DISTRESS_CANCEL) {
            let month = spec
                .start
                .first_of_month()
                .saturating_add(i64::from(from).months())
                .saturating_sub(1.month());
            p.cancelled_on = Some(month.saturating_add(rng.random_range(5..40).days()));
        }
    }
    if rng.random_bool(chance(CLOSURE_PER_MONTH, months)) {
        p.closed_on = Some(any_day(rng));
    }
    if p.cancelled_on.is_none() && rng.random_bool(chance(CANCEL_PER_MONTH, months)) {
        p.cancelled_on = Some(any_day(rng));
    }
    if rng.random_bool(chance(FREEZE_PER_MONTH, months)) {
        let from = any_day(rng);
        p.frozen = Some((from, from.saturating_add(rng.random_range(7..45).days())));
    }
}

/// The chance of at least one event in `months` months at `monthly` a month.
fn chance(monthly: f64, months: f64) -> f64 {
    let mut none = 1.0;
    let mut m = 0.0;
    while m < months {
        none *= 1.0 - monthly;
        m += 1.0;
    }
    (1.0 - none).clamp(0.0, 1.0)
}

/// The day a salary of `pay` for the month of `first` (its first day) is due, before any delay:
/// a weekend moves it back to the Friday. `None` for irregular earners.
pub(crate) fn pay_day(pay: Pay, first: Date) -> Option<Date> {
    let day = match pay {
        Pay::Fixed(d) => {
            let d = i8::try_from(d).unwrap_or(1).min(first.days_in_month());
            first.saturating_add(i64::from(d - 1).days())
        }
        Pay::LastWorkingDay => first.last_of_month(),
        Pay::SemiMonthly | Pay::Irregular(_) => return None,
    };
    Some(back_to_weekday(day))
}

pub(crate) fn back_to_weekday(d: Date) -> Date {
    match d.weekday() {
        Weekday::Saturday => d.saturating_sub(1.day()),
        Weekday::Sunday => d.saturating_sub(2.days()),
        _ => d,
    }
}

pub(crate) fn on_to_weekday(d: Date) -> Date {
    match d.weekday() {
        Weekday::Saturday => d.saturating_add(2.days()),
        Weekday::Sunday => d.saturating_add(1.day()),
        _ => d,
    }
}
