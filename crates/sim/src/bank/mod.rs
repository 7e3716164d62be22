//! A bank simulator for collections: synthetic borrowers with bank accounts, and the banks that
//! answer auto-debits against them, for measuring collection policies (when to present a debit,
//! when to retry).
//!
//! A [`Population`] is made from a [`PopulationSpec`] and is the only way in. A policy sees what
//! a lender sees and nothing more: each borrower's [`Borrower`] facts (an id, the debtor bank,
//! the rail, the EMI and its due day) and the raw answer to each debit ([`DebitReply`]: paid, or
//! returned with the code and text a response file or API would carry, unclassified). What
//! decides the answer stays hidden inside the crate:
//!
//! - **Income** (`population.rs`). Most borrowers are salaried: paid on the 1st, 7th, 10th, 15th,
//!   the last working day or another fixed day, moved back to the Friday when it falls on a
//!   weekend and now and then paid a few days late, at a borrower-specific hour of the day (bulk
//!   salary credits come overnight or mid-morning). A share are irregular earners, paid in
//!   several smaller credits on random days. A few fall into distress for a few months: income
//!   stops or dwindles while essential spending goes on.
//! - **Spending** (`account.rs`). Each pay cycle the borrower plans to spend what is left after
//!   fixed commitments (rent, other loans, drawn just after pay day), the EMI and the buffer they
//!   like to keep; the spending drains fastest just after pay day and decays through the cycle,
//!   with day-to-day noise and the odd large shock (medical, a wedding). Some keep months of
//!   EMIs in reserve, some live from pay day to pay day, some overspend. So a debit soon after
//!   income finds money and one just before pay day often does not.
//! - **Account events** (`population.rs`). An account may be closed, a mandate cancelled by the
//!   customer, or an account frozen for a few weeks (KYC), on hidden dates; from a closure or a
//!   cancellation on, every debit fails.
//! - **Banks** (`banks.rs`). Each of eight simulated banks has a nightly maintenance window of
//!   one to three hours, a few outage spells a month, a technical failure rate per debit that
//!   rises at peak hours (10:00–13:00 and 17:00–21:00), a daily hour at which it settles NACH and
//!   ACH debits, and its own mix of return codes for each kind of failure.
//!
//! **Time.** Every call names a date and (for a debit) an hour. NACH and ACH debits are settled
//! in the debtor bank's daily batch, so the caller's hour is ignored for them and the bank's
//! batch hour is used; UPI AutoPay debits execute at the hour asked. The simulator does not
//! enforce rail rules such as UPI's execution windows or pre-debit notice (the rails layer
//! does), but a UPI debit above the rail's authentication limit is declined (`Z8`). A borrower's
//! account is advanced lazily to the moment of each call, and a call for a moment earlier than
//! one already processed for that borrower is an error ([`SimError::BackInTime`]). Calls for
//! different borrowers are independent.
//!
//! **Determinism.** Everything random comes from a ChaCha8 stream seeded from `(seed, borrower
//! or bank, date, hour, purpose)`, and only IEEE basic arithmetic is used on the draws, so the
//! same spec and the same calls per borrower give the same replies, in whatever order the
//! borrowers are visited.
//!
//! **Money** is integer minor units (paise; cents for [`Market::Us`]), with checked arithmetic.
//!
//! **Realism** (measured by the tests; `realism_figures` prints them). Debiting every borrower's
//! EMI on its due day at 09:00 fails for 10–13% of borrowers in the first months: about 9%
//! insufficient funds, about 1% technical (more when an outage meets a busy due day), and under
//! 1% closed accounts, cancelled mandates and frozen accounts, which build up month by month
//! while nothing stops presenting to them. Debiting the day after pay day fails for about 8%,
//! three days before it for 16–19%. UPI debits at peak hours fail technically more often, and
//! at 23:00 many meet a bank's maintenance window.
//!
//! **Knobs** are the constants beside the model: the population's shares (`NACH_SHARE`,
//! `IRREGULAR_SHARE`, `DISTRESS_SHARE`, `CLOSURE_PER_MONTH`, `CANCEL_PER_MONTH`,
//! `DISTRESS_CANCEL`, `FREEZE_PER_MONTH` in `population.rs`), the cycle's (`SALARY_DELAY`,
//! `SHOCK` in `account.rs`) and the banks' (`OUTAGES_PER_MONTH`, `OUTAGE_DAY_FACTOR`, the code
//! table `CODES` in `banks.rs`).

use std::fmt;

use jiff::ToSpan;
use jiff::civil::Date;
use loanbook_domain::collections::Rail;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub(crate) mod account;
pub(crate) mod banks;
pub(crate) mod population;

use account::{Account, Ctx, Moment};
use banks::BankModel;
use population::Profile;

/// Most borrowers in one population (a borrower's account holds about 1.5 KB once touched).
pub const MAX_BORROWERS: usize = 1_000_000;
/// Longest simulated period, in months.
pub const MAX_MONTHS: u32 = 120;
/// Largest amount one debit or credit may carry, in minor units (₹10 crore).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000;
/// The hour a manual payment ([`Population::pays_manually`]) is made at: the evening.
pub const MANUAL_HOUR: u8 = 20;

/// Which lending market the population is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Market {
    /// Indian borrowers: about 55% on NACH and 45% on UPI AutoPay; amounts in paise.
    #[default]
    India,
    /// US borrowers, all on ACH; amounts in cents.
    Us,
}

/// A population to make: `borrowers` borrowers from `seed`, simulated from `start` for `months`
/// months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PopulationSpec {
    pub borrowers: usize,
    pub seed: u64,
    /// The first day a debit may be made on.
    pub start: Date,
    /// The simulated period: debits may be made up to the day before `start` plus this many
    /// months.
    pub months: u32,
    pub market: Market,
}

impl PopulationSpec {
    /// An Indian population.
    pub fn new(borrowers: usize, seed: u64, start: Date, months: u32) -> PopulationSpec {
        PopulationSpec {
            borrowers,
            seed,
            start,
            months,
            market: Market::India,
        }
    }
}

/// What the lender knows of a borrower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Borrower {
    /// Unique in the population (`SB-00000001`).
    pub id: String,
    /// The debtor bank's code (`ARVB0`).
    pub bank: &'static str,
    /// The rail the mandate debits over.
    pub rail: Rail,
    /// The instalment, in minor units.
    pub emi_minor: i64,
    /// The day of the month the instalment falls due (1–28).
    pub due_day: u8,
}

/// The debtor bank's answer to a debit, as a response file or API would carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebitReply {
    Paid,
    /// Returned with the rail's raw code and text. The code may be empty when the rail answers
    /// in text only (UPI's "MANDATE HAS BEEN REVOKED"), and may be a wrapped string
    /// (`U30|DEBIT HAS BEEN FAILED|Z9|INSUFFICIENT FUNDS`).
    Returned {
        code: String,
        text: String,
    },
}

/// A call the simulator refuses; it changes nothing. Each names the argument at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("{field}: {rule}")]
    Spec { field: &'static str, rule: String },
    #[error("borrower: {index} is not in the population of {count}")]
    NoSuchBorrower { index: usize, count: usize },
    #[error("amount_minor: {amount} must be positive and at most {MAX_AMOUNT_MINOR}")]
    Amount { amount: i64 },
    #[error("hour: {hour} is not an hour of the day (0-23)")]
    Hour { hour: u8 },
    #[error("date: {date} is outside the simulated period {start} to {end} (exclusive)")]
    OutOfPeriod { date: Date, start: Date, end: Date },
    #[error(
        "date: {date} {hour:02}:00 is before {last} {last_hour:02}:00, already processed for \
         borrower {borrower}"
    )]
    BackInTime {
        borrower: usize,
        date: Date,
        hour: u8,
        last: Date,
        last_hour: u8,
    },
    #[error("amount_minor: the account balance would overflow")]
    Overflow,
}

impl SimError {
    /// The argument the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            SimError::Spec { field, .. } => field,
            SimError::NoSuchBorrower { .. } => "borrower",
            SimError::Amount { .. } | SimError::Overflow => "amount_minor",
            SimError::Hour { .. } => "hour",
            SimError::OutOfPeriod { .. } | SimError::BackInTime { .. } => "date",
        }
    }
}

/// Synthetic borrowers, their accounts and their banks.
#[derive(Clone)]
pub struct Population {
    spec: PopulationSpec,
    end: Date,
    borrowers: Vec<Borrower>,
    profiles: Vec<Profile>,
    accounts: Vec<Account>,
    banks: Vec<BankModel>,
}

/// Only the spec: the hidden facts are not printed.
impl fmt::Debug for Population {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Population")
            .field("spec", &self.spec)
            .field("borrowers", &self.borrowers.len())
            .finish_non_exhaustive()
    }
}

impl Population {
    /// Draw the population of `spec`: the same spec always gives the same population.
    pub fn generate(spec: &PopulationSpec) -> Result<Population, SimError> {
        if spec.borrowers > MAX_BORROWERS {
            return Err(SimError::Spec {
                field: "borrowers",
                rule: format!("{} is more than {MAX_BORROWERS}", spec.borrowers),
            });
        }
        if spec.months == 0 || spec.months > MAX_MONTHS {
            return Err(SimError::Spec {
                field: "months",
                rule: format!("{} is not between 1 and {MAX_MONTHS}", spec.months),
            });
        }
        let too_far = |_| SimError::Spec {
            field: "start",
            rule: format!("{} leaves no room for the period", spec.start),
        };
        let end = spec
            .start
            .checked_add(i64::from(spec.months).months())
            .map_err(too_far)?;
        // Cycle 0 starts in the month before `start`; its salary may be moved back a few days.
        spec.start
            .first_of_month()
            .checked_sub(2.months())
            .map_err(too_far)?;
        end.checked_add(3.months()).map_err(too_far)?;
        let banks = banks::draw_all(spec, end);
        let (borrowers, profiles): (Vec<_>, Vec<_>) = (0..spec.borrowers)
            .map(|i| population::draw(spec, end, i, &banks))
            .unzip();
        let accounts = vec![Account::default(); spec.borrowers];
        Ok(Population {
            spec: *spec,
            end,
            borrowers,
            profiles,
            accounts,
            banks,
        })
    }

    pub fn spec(&self) -> &PopulationSpec {
        &self.spec
    }

    /// The first day after the simulated period.
    pub fn end(&self) -> Date {
        self.end
    }

    /// The borrowers, by index: what the lender knows of each.
    pub fn borrowers(&self) -> &[Borrower] {
        &self.borrowers
    }

    /// Present a debit of `amount_minor` to `borrower`'s bank on `date` at `hour` (0–23).
    ///
    /// NACH and ACH debits settle in the bank's daily batch: `hour` is checked but ignored and
    /// the bank's batch hour is used. UPI AutoPay debits execute at `hour`. A paid debit leaves
    /// the account; a returned one carries the bank's raw code and text.
    pub fn debit(
        &mut self,
        borrower: usize,
        amount_minor: i64,
        date: Date,
        hour: u8,
    ) -> Result<DebitReply, SimError> {
        self.check(borrower, date, hour)?;
        check_amount(amount_minor)?;
        let profile = &self.profiles[borrower];
        let bank = &self.banks[profile.bank];
        let rail = self.borrowers[borrower].rail;
        let hour = if rail.rules().chooses_hour() {
            hour
        } else {
            bank.batch_hour
        };
        let at = Moment { date, hour };
        let account = &mut self.accounts[borrower];
        account.check_not_before(borrower, at)?;
        let ctx = Ctx::new(&self.spec, borrower);
        account.advance(&ctx, profile, at)?;
        let mut rng = stream(self.spec.seed, Purpose::Debit, borrower as u64, date, hour);
        let failure = bank.failure(profile, rail, at, amount_minor, account.balance, &mut rng);
        let reply = match failure {
            None => {
                account.pay(amount_minor);
                DebitReply::Paid
            }
            Some(f) => {
                account.returned(amount_minor, date);
                let (code, text) = bank.code(rail, f, hour, &mut rng);
                DebitReply::Returned { code, text }
            }
        };
        Ok(reply)
    }

    /// Put `amount_minor` into `borrower`'s account on `date` (a refund, a disbursement): at
    /// the moment the account stands at if that is on `date`, else at the start of `date`.
    pub fn credit(
        &mut self,
        borrower: usize,
        amount_minor: i64,
        date: Date,
    ) -> Result<(), SimError> {
        self.check(borrower, date, 0)?;
        check_amount(amount_minor)?;
        let account = &mut self.accounts[borrower];
        let at = account.moment_on(date);
        account.check_not_before(borrower, at)?;
        let ctx = Ctx::new(&self.spec, borrower);
        account.advance(&ctx, &self.profiles[borrower], at)?;
        account.credit(amount_minor)
    }

    /// Whether `borrower`, whose last debit was returned and is still unpaid, pays by another
    /// channel (a UPI transfer, a branch deposit) on `date`, at [`MANUAL_HOUR`]; the amount paid
    /// leaves the account. More likely once income has arrived since the failure; some
    /// borrowers never do. Call it after the day's debits for the borrower.
    pub fn pays_manually(&mut self, borrower: usize, date: Date) -> Result<Option<i64>, SimError> {
        self.check(borrower, date, MANUAL_HOUR)?;
        let at = Moment {
            date,
            hour: MANUAL_HOUR,
        };
        let account = &mut self.accounts[borrower];
        account.check_not_before(borrower, at)?;
        let profile = &self.profiles[borrower];
        let ctx = Ctx::new(&self.spec, borrower);
        account.advance(&ctx, profile, at)?;
        let mut rng = stream(
            self.spec.seed,
            Purpose::Manual,
            borrower as u64,
            date,
            MANUAL_HOUR,
        );
        Ok(account.pay_manually(profile, date, &mut rng))
    }

    /// Check the borrower, the date and the hour of a call.
    fn check(&self, borrower: usize, date: Date, hour: u8) -> Result<(), SimError> {
        if borrower >= self.borrowers.len() {
            return Err(SimError::NoSuchBorrower {
                index: borrower,
                count: self.borrowers.len(),
            });
        }
        if hour >= 24 {
            return Err(SimError::Hour { hour });
        }
        if date < self.spec.start || date >= self.end {
            return Err(SimError::OutOfPeriod {
                date,
                start: self.spec.start,
                end: self.end,
            });
        }
        Ok(())
    }
}

fn check_amount(amount: i64) -> Result<(), SimError> {
    if amount <= 0 || amount > MAX_AMOUNT_MINOR {
        return Err(SimError::Amount { amount });
    }
    Ok(())
}

/// What a random stream is for, so that two uses of one key never share a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A borrower's facts, drawn once.
    Borrower = 1,
    /// A bank's behaviour, drawn once.
    Bank = 2,
    /// A bank's outage spells on one day.
    Outage = 3,
    /// A borrower's pay cycle: income, commitments, spending.
    Cycle = 4,
    /// One debit.
    Debit = 6,
    /// One day's chance of a manual payment.
    Manual = 7,
}

/// Marks the bank simulator's streams apart from the loan books' (`crate::stream`).
const DOMAIN: u8 = 0xB4;

/// The random stream of one use of `(seed, index, date, hour)`.
pub(crate) fn stream(seed: u64, what: Purpose, index: u64, date: Date, hour: u8) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    key[16..18].copy_from_slice(&date.year().to_le_bytes());
    key[18] = date.month().to_le_bytes()[0];
    key[19] = date.day().to_le_bytes()[0];
    key[20] = hour;
    key[21] = what as u8;
    key[31] = DOMAIN;
    ChaCha8Rng::from_seed(key)
}

/// `e^x` from IEEE basic operations only (so the same on every platform), for |x| ≤ 8.
pub(crate) fn exp(x: f64) -> f64 {
    let x = x.clamp(-8.0, 8.0) / 64.0;
    // Taylor series of e^(x/64), then squared six times.
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=8 {
        term *= x / f64::from(k);
        sum += term;
    }
    for _ in 0..6 {
        sum *= sum;
    }
    sum
}

/// A standard normal draw from twelve uniforms (Irwin–Hall), without transcendental functions.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    use rand::Rng;
    (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
}

/// `base × factor`, rounded to the minor unit.
pub(crate) fn scale(base: i64, factor: f64) -> i64 {
    (base as f64 * factor).round() as i64
}

/// The days from `a` to `b` (negative when `b` is before `a`).
pub(crate) fn days_between(a: Date, b: Date) -> i64 {
    a.duration_until(b).as_secs() / 86_400
}

#[cfg(test)]
mod tests;
