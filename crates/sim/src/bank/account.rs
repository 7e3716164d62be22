//! A borrower's bank account, advanced lazily through pay cycles.
//!
//! A pay cycle runs from one pay day to the next (for irregular and semi-monthly earners, over a
//! calendar month). Cycle `c` is paid in the `c`-th month counted from the month before the
//! population's start, so cycle 0 is under way when the period begins. When the account reaches
//! a cycle's first day its plan is drawn from the cycle's own stream: the income credits, the
//! commitments drawn just after pay day, and the spending, as flows at hours of days. The plan's
//! draws do not depend on the balance; only the spending budget does: the borrower spends what
//! the balance and the cycle's income leave after commitments, the EMI and the buffer they aim
//! to end the cycle with, and never less than their essentials. Spending cannot take the balance
//! below zero.

use jiff::ToSpan;
use jiff::civil::Date;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::population::{Pay, Profile, back_to_weekday, on_to_weekday, pay_day};
use super::{PopulationSpec, Purpose, SimError, days_between, scale, stream};

/// Chance that a salary is paid late in a month (by one to four days).
pub const SALARY_DELAY: f64 = 0.07;
/// Chance of a spending shock (medical, a wedding, a repair) in a pay cycle.
pub const SHOCK: f64 = 0.08;
/// Hours the day's spending leaves the account at: a smaller part mid-morning, the rest in the
/// evening.
const SPEND_HOURS: [(u8, f64); 2] = [(11, 0.35), (19, 0.65)];

/// A point in a borrower's time: a day and an hour of it. Flows at an hour happen before a
/// debit at that hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Moment {
    pub(crate) date: Date,
    pub(crate) hour: u8,
}

impl Moment {
    fn start_of(date: Date) -> Moment {
        Moment { date, hour: 0 }
    }
}

/// What a borrower's streams are keyed by.
pub(crate) struct Ctx {
    seed: u64,
    /// The first day of the population's first month.
    first: Date,
    borrower: u64,
}

impl Ctx {
    pub(crate) fn new(spec: &PopulationSpec, borrower: usize) -> Ctx {
        Ctx {
            seed: spec.seed,
            first: spec.start.first_of_month(),
            borrower: borrower as u64,
        }
    }

    /// The first day of the month cycle `c` is paid in.
    fn month(&self, c: u32) -> Date {
        self.first
            .saturating_add((i64::from(c) - 1).months())
            .first_of_month()
    }

    /// The day cycle `c` starts: its pay day (a late salary moves it on), or for irregular and
    /// semi-monthly earners the first of its month; and the cycle's stream, to draw its plan
    /// from.
    pub(crate) fn anchor(&self, profile: &Profile, c: u32) -> (Date, ChaCha8Rng) {
        let month = self.month(c);
        let mut rng = stream(self.seed, Purpose::Cycle, self.borrower, month, 0);
        let (late, by): (f64, i64) = (rng.random(), rng.random_range(1..=4));
        let date = match pay_day(profile.pay, month) {
            None => month,
            Some(day) if c > 0 && late < SALARY_DELAY => {
                on_to_weekday(day.saturating_add(by.days()))
            }
            Some(day) => day,
        };
        (date, rng)
    }
}

/// Money moving through the account at a moment: income in (positive) or spending out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flow {
    at: Moment,
    amount: i64,
}

/// The state of one borrower's account.
#[derive(Debug, Clone, Default)]
pub(crate) struct Account {
    pub(crate) balance: i64,
    /// The latest moment a call was made at.
    last: Option<Moment>,
    started: bool,
    cycle: u32,
    next_anchor: Date,
    /// The next cycle's stream, as far as its anchor was drawn.
    next_rng: Option<Box<ChaCha8Rng>>,
    plan: Vec<Flow>,
    applied: usize,
    /// The latest returned debit's amount, until paid.
    unpaid: i64,
    failed_on: Option<Date>,
    income_since_failure: bool,
}

impl Account {
    pub(crate) fn check_not_before(&self, borrower: usize, at: Moment) -> Result<(), SimError> {
        match self.last {
            Some(last) if at < last => Err(SimError::BackInTime {
                borrower,
                date: at.date,
                hour: at.hour,
                last: last.date,
                last_hour: last.hour,
            }),
            _ => Ok(()),
        }
    }

    /// The moment a call on `date` without an hour happens at: where the account stands if it
    /// is on that day, else the day's start.
    pub(crate) fn moment_on(&self, date: Date) -> Moment {
        match self.last {
            Some(last) if last.date == date => last,
            _ => Moment::start_of(date),
        }
    }

    /// Apply every flow up to and including `to`, drawing the plans of the cycles reached.
    pub(crate) fn advance(
        &mut self,
        ctx: &Ctx,
        profile: &Profile,
        to: Moment,
    ) -> Result<(), SimError> {
        if !self.started {
            self.started = true;
            self.balance = profile.opening_minor;
            let (anchor, rng) = ctx.anchor(profile, 0);
            self.next_anchor = anchor;
            self.next_rng = Some(Box::new(rng));
            self.load(ctx, profile, 0);
        }
        loop {
            while let Some(f) = self.plan.get(self.applied).copied() {
                if f.at > to {
                    break;
                }
                self.apply(f)?;
                self.applied += 1;
            }
            // The cycle count bounds the loop even if the dates stopped at the calendar's end.
            let beyond = self.cycle > super::MAX_MONTHS + 4;
            if beyond || self.applied < self.plan.len() || Moment::start_of(self.next_anchor) > to {
                break;
            }
            self.load(ctx, profile, self.cycle + 1);
        }
        self.last = Some(self.last.map_or(to, |l| l.max(to)));
        Ok(())
    }

    /// Start cycle `c` on its anchor day with the balance as it stands.
    fn load(&mut self, ctx: &Ctx, profile: &Profile, c: u32) {
        let anchor = self.next_anchor;
        let mut rng = match self.next_rng.take() {
            Some(rng) => *rng,
            None => ctx.anchor(profile, c).1,
        };
        let (next, next_rng) = ctx.anchor(profile, c + 1);
        // Pay days move forward; a late salary never leaves a cycle empty.
        self.next_anchor = next.max(anchor.saturating_add(1.day()));
        self.next_rng = Some(Box::new(next_rng));
        self.cycle = c;
        let cycle = Cycle {
            c,
            anchor,
            days: days_between(anchor, self.next_anchor).max(1),
        };
        self.plan = plan(&mut rng, profile, cycle, self.balance);
        self.applied = 0;
    }

    fn apply(&mut self, f: Flow) -> Result<(), SimError> {
        if f.amount >= 0 {
            self.balance = self
                .balance
                .checked_add(f.amount)
                .ok_or(SimError::Overflow)?;
            if self.unpaid > 0 && f.amount > 0 {
                self.income_since_failure = true;
            }
        } else {
            let spend = f.amount.saturating_neg().min(self.balance.max(0));
            self.balance -= spend;
        }
        Ok(())
    }

    /// A debit of `amount` was paid (the caller checked the balance covers it).
    pub(crate) fn pay(&mut self, amount: i64) {
        self.balance = self.balance.saturating_sub(amount);
        self.settle(amount);
    }

    fn settle(&mut self, amount: i64) {
        self.unpaid = self.unpaid.saturating_sub(amount).max(0);
        if self.unpaid == 0 {
            self.failed_on = None;
        }
    }

    /// A debit of `amount` was returned on `date`.
    pub(crate) fn returned(&mut self, amount: i64, date: Date) {
        if self.unpaid == 0 {
            self.failed_on = Some(date);
            self.income_since_failure = false;
        }
        self.unpaid = amount;
    }

    pub(crate) fn credit(&mut self, amount: i64) -> Result<(), SimError> {
        self.balance = self.balance.checked_add(amount).ok_or(SimError::Overflow)?;
        Ok(())
    }

    /// Whether the borrower pays the unpaid debit by another channel on `date`, and how much:
    /// all of it when the balance allows, now and then most of what there is.
    pub(crate) fn pay_manually(
        &mut self,
        profile: &Profile,
        date: Date,
        rng: &mut ChaCha8Rng,
    ) -> Option<i64> {
        if self.unpaid <= 0 {
            return None;
        }
        let (u, partial): (f64, f64) = (rng.random(), rng.random());
        let waited = self.failed_on.map_or(0, |d| days_between(d, date));
        let mut p = profile.manual;
        if !self.income_since_failure {
            p *= 0.35;
        }
        if waited < 1 {
            p *= 0.3;
        }
        if u >= p {
            return None;
        }
        let amount = if self.balance >= self.unpaid {
            self.unpaid
        } else if self.balance >= self.unpaid / 2 && partial < 0.3 {
            // A round sum: whole hundreds of rupees.
            self.balance / 10_000 * 10_000
        } else {
            return None;
        };
        if amount <= 0 {
            return None;
        }
        self.balance -= amount;
        self.settle(amount);
        Some(amount)
    }
}

/// A pay cycle: its number, its first day and its length in days.
#[derive(Debug, Clone, Copy)]
struct Cycle {
    c: u32,
    anchor: Date,
    days: i64,
}

/// The flows of `cycle`, drawn from `rng`, with `balance` in the account as it starts; sorted by
/// moment, income first within a moment.
fn plan(rng: &mut ChaCha8Rng, profile: &Profile, cycle: Cycle, balance: i64) -> Vec<Flow> {
    let Cycle { c, anchor, days } = cycle;
    let mut flows = Vec::with_capacity(2 * days as usize + 10);
    let expected = income(rng, profile, c, anchor, days, &mut flows);
    let commit = commitments(rng, profile, anchor, days, &mut flows);
    let target = scale(
        profile.emi_minor,
        profile.buffer_emis * rng.random_range(0.8..1.2),
    );
    let essential = scale(profile.income_minor, profile.essential_share);
    let free = balance
        .saturating_add(expected)
        .saturating_sub(commit)
        .saturating_sub(profile.emi_minor)
        .saturating_sub(target);
    let budget = if profile.distressed(c) {
        essential
    } else {
        free.max(essential)
    };
    spending(rng, profile, anchor, days, budget, &mut flows);
    flows.sort_by_key(|f| (f.at, f.amount < 0));
    flows
}

/// The cycle's income credits; the income the borrower expects of it.
fn income(
    rng: &mut ChaCha8Rng,
    p: &Profile,
    c: u32,
    anchor: Date,
    days: i64,
    flows: &mut Vec<Flow>,
) -> i64 {
    let factor = if p.distressed(c) {
        if rng.random_bool(0.4) {
            rng.random_range(0.1..0.35)
        } else {
            0.0
        }
    } else if rng.random_bool(0.04) {
        // A bonus or arrears month.
        rng.random_range(1.2..2.0)
    } else {
        rng.random_range(0.98..1.02)
    };
    let month = scale(p.income_minor, factor);
    let mut credit = |date: Date, hour: u8, amount: i64| {
        if amount > 0 {
            flows.push(Flow {
                at: Moment { date, hour },
                amount,
            });
        }
    };
    match p.pay {
        Pay::Fixed(_) | Pay::LastWorkingDay => {
            credit(anchor, p.salary_hour, month);
            month
        }
        Pay::SemiMonthly => {
            let mid = back_to_weekday(anchor.saturating_add(14.days()));
            let last = back_to_weekday(anchor.last_of_month());
            credit(mid, p.salary_hour, month / 2);
            credit(last, p.salary_hour, month - month / 2);
            month
        }
        Pay::Irregular(k) => {
            // The month's takings vary; the borrower plans on a normal month.
            let month = scale(month, rng.random_range(0.6..1.4));
            let weights: Vec<f64> = (0..k).map(|_| rng.random_range(0.5..1.5)).collect();
            let total: f64 = weights.iter().sum();
            let mut left = month;
            for (i, w) in weights.iter().enumerate() {
                let day = anchor.saturating_add(rng.random_range(0..days).days());
                let hour = rng.random_range(8..=20);
                let amount = if i + 1 == weights.len() {
                    left
                } else {
                    scale(month, w / total)
                };
                left -= amount;
                credit(day, hour, amount);
            }
            p.income_minor
        }
    }
}

/// Rent, other loans and bills, drawn in one or two parts in the days after pay day; their sum.
fn commitments(
    rng: &mut ChaCha8Rng,
    p: &Profile,
    anchor: Date,
    days: i64,
    flows: &mut Vec<Flow>,
) -> i64 {
    let total = scale(p.income_minor, p.commit_share);
    let first = scale(total, rng.random_range(0.4..1.0));
    for amount in [first, total - first] {
        let (day, hour) = if p.salaried() {
            let day = rng.random_range(0..=2).min(days - 1);
            let hour = if day == 0 {
                (p.salary_hour + 1).clamp(9, 23)
            } else {
                rng.random_range(8..=11)
            };
            (day, hour)
        } else {
            (rng.random_range(0..=4).min(days - 1), 9)
        };
        if amount > 0 {
            flows.push(Flow {
                at: Moment {
                    date: anchor.saturating_add(day.days()),
                    hour,
                },
                amount: -amount,
            });
        }
    }
    total
}

/// Spend `budget` over the cycle: most just after pay day (irregular and semi-monthly earners
/// spend more evenly), with daily noise and now and then a shock.
fn spending(
    rng: &mut ChaCha8Rng,
    p: &Profile,
    anchor: Date,
    days: i64,
    budget: i64,
    flows: &mut Vec<Flow>,
) {
    let drain = if p.salaried() {
        p.drain
    } else {
        p.drain.max(0.96)
    };
    let mut weights = Vec::with_capacity(days as usize);
    let mut w = 1.0;
    let mut bits = 0u64;
    for day in 0..days {
        // Four days' noise from each draw: 16 bits a day.
        if day % 4 == 0 {
            bits = rng.random();
        }
        let u = (bits & 0xFFFF) as f64 / 65_536.0;
        bits >>= 16;
        weights.push(w * (0.4 + 1.2 * u));
        w *= drain;
    }
    // Normalise on the weights without noise, so that the noise moves the cycle's total.
    let plain: f64 = (0..days).fold((0.0, 1.0), |(s, w), _| (s + w, w * drain)).0;
    for (day, w) in weights.iter().enumerate() {
        let date = anchor.saturating_add((day as i64).days());
        for (hour, share) in SPEND_HOURS {
            let amount = scale(budget, w / plain * share);
            if amount > 0 {
                flows.push(Flow {
                    at: Moment { date, hour },
                    amount: -amount,
                });
            }
        }
    }
    if rng.random_bool(SHOCK) {
        let day = rng.random_range(0..days);
        let amount = scale(p.income_minor, rng.random_range(0.1..0.6));
        flows.push(Flow {
            at: Moment {
                date: anchor.saturating_add(day.days()),
                hour: 15,
            },
            amount: -amount,
        });
    }
}
