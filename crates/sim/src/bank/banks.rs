//! The simulated debtor banks: when they are down, how often a debit fails for technical
//! reasons, when they settle batch debits, and which return codes they answer with.
//!
//! Every code used is listed in `reference/payment-rails.md`. A bank's code mix is the table's
//! weights, each scaled by the bank's own factor (and the minor codes of a kind dropped by some
//! banks); during an outage the codes of a system being down are more likely, at peak hours the
//! throttling codes.

use jiff::ToSpan;
use jiff::civil::Date;
use loanbook_domain::collections::Rail;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::account::Moment;
use super::population::Profile;
use super::{Market, PopulationSpec, Purpose, days_between, stream};

/// The simulated Indian banks (invented IFSC-style prefixes).
pub const INDIAN_BANKS: [&str; 8] = [
    "ARVB0", "BHRB0", "CDMB0", "DVKB0", "ESWB0", "GNDB0", "KSTB0", "MNRB0",
];
/// The simulated US banks (invented short names).
pub const US_BANKS: [&str; 8] = [
    "FRNB", "GLDC", "HRTB", "LKSD", "MPLB", "NRTH", "PNCR", "SUMT",
];
/// Outage spells per bank per month, on average (besides the nightly maintenance).
pub const OUTAGES_PER_MONTH: f64 = 1.5;
/// How much more often debits fail technically on an outage day outside the outage itself.
pub const OUTAGE_DAY_FACTOR: f64 = 2.5;

/// Why a debit fails, before the bank puts a code on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Funds,
    Closed,
    Frozen,
    Mandate,
    /// Above the rail's per-debit limit without the customer.
    Limit,
    Technical {
        /// The bank was down (maintenance or an outage spell).
        outage: bool,
    },
}

/// What kind of failure a code reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Funds,
    Closed,
    Frozen,
    Mandate,
    Limit,
    Technical,
}

/// When a code is more likely than its weight says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boost {
    Never,
    /// While the bank is down.
    Outage,
    /// At peak hours.
    Peak,
}

/// One return code a bank may answer with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Code {
    pub(crate) rail: Rail,
    pub(crate) kind: Kind,
    pub(crate) code: &'static str,
    text: &'static str,
    weight: f64,
    boost: Boost,
}

const fn c(rail: Rail, kind: Kind, code: &'static str, text: &'static str, weight: f64) -> Code {
    Code {
        rail,
        kind,
        code,
        text,
        weight,
        boost: Boost::Never,
    }
}

const fn boosted(mut code: Code, boost: Boost) -> Code {
    code.boost = boost;
    code
}

use Kind as K;
use Rail::{Ach, Nach, UpiAutopay as Upi};

/// The codes, by rail and kind, with their weights before a bank's own factors.
pub(crate) static CODES: &[Code] = &[
    c(Nach, K::Funds, "04", "Balance insufficient", 1.0),
    c(Nach, K::Closed, "01", "Account closed", 0.85),
    c(Nach, K::Closed, "02", "No such account", 0.15),
    c(Nach, K::Frozen, "68", "Account blocked or frozen", 0.6),
    c(Nach, K::Frozen, "51", "KYC documents pending", 0.4),
    c(Nach, K::Mandate, "61", "Mandate cancelled", 0.8),
    c(
        Nach,
        K::Mandate,
        "21",
        "Invalid UMRN or inactive mandate",
        0.2,
    ),
    boosted(
        c(Nach, K::Technical, "59", "Network failure (CBS)", 0.5),
        Boost::Outage,
    ),
    c(Nach, K::Technical, "92", "Core error", 0.3),
    c(Nach, K::Technical, "73", "Settlement failed", 0.2),
    c(
        Upi,
        K::Funds,
        "Z9",
        "Insufficient funds in customer account",
        0.85,
    ),
    c(Upi, K::Funds, "51", "Not sufficient funds", 0.15),
    c(Upi, K::Closed, "XH", "Account does not exist", 0.7),
    c(Upi, K::Closed, "ZX", "Inactive or dormant account", 0.3),
    c(
        Upi,
        K::Frozen,
        "YE",
        "Remitting account is blocked or frozen",
        1.0,
    ),
    c(Upi, K::Mandate, "", "Mandate has been revoked", 1.0),
    c(Upi, K::Limit, "Z8", "Per transaction limit exceeded", 1.0),
    boosted(
        c(
            Upi,
            K::Technical,
            "UT",
            "Remitter/issuer unavailable (timeout)",
            0.4,
        ),
        Boost::Outage,
    ),
    boosted(
        c(Upi, K::Technical, "XY", "Remitter CBS offline", 0.3),
        Boost::Outage,
    ),
    boosted(
        c(
            Upi,
            K::Technical,
            "U86",
            "Remitter bank throttling decline",
            0.3,
        ),
        Boost::Peak,
    ),
    c(Ach, K::Funds, "R01", "Insufficient funds", 0.8),
    c(Ach, K::Funds, "R09", "Uncollected funds", 0.2),
    c(Ach, K::Closed, "R02", "Account closed", 0.8),
    c(
        Ach,
        K::Closed,
        "R03",
        "No account/unable to locate account",
        0.2,
    ),
    c(Ach, K::Frozen, "R16", "Account frozen", 1.0),
    c(
        Ach,
        K::Mandate,
        "R07",
        "Authorization revoked by customer",
        0.7,
    ),
    c(
        Ach,
        K::Mandate,
        "R10",
        "Customer advises not authorized",
        0.3,
    ),
    boosted(
        c(Ach, K::Technical, "R32", "RDFI non-settlement", 0.7),
        Boost::Outage,
    ),
    c(Ach, K::Technical, "R06", "Returned per ODFI's request", 0.3),
];

/// Every code, in one order.
pub(crate) fn all_codes() -> impl Iterator<Item = &'static Code> {
    CODES.iter()
}

/// Whether `hour` is a peak hour (10:00–13:00, 17:00–21:00).
pub(crate) fn peak(hour: u8) -> bool {
    (10..13).contains(&hour) || (17..21).contains(&hour)
}

/// Hours of the day from `from`, `len` long; a span may run past midnight into the same
/// date's first hours (the nightly maintenance does every night).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) from: u8,
    pub(crate) len: u8,
}

impl Span {
    pub(crate) fn contains(self, hour: u8) -> bool {
        (u32::from(hour) + 24 - u32::from(self.from)) % 24 < u32::from(self.len)
    }
}

/// A bank's hidden behaviour.
#[derive(Debug, Clone)]
pub(crate) struct BankModel {
    pub(crate) code: &'static str,
    /// The hour the bank settles the day's NACH and ACH debits.
    pub(crate) batch_hour: u8,
    pub(crate) maintenance: Span,
    /// Chance a debit fails technically off peak.
    base_rate: f64,
    /// How many times likelier at peak hours.
    peak_factor: f64,
    /// Whether the bank's texts are in capitals.
    upper: bool,
    /// Share of UPI insufficient-funds answers wrapped in a `U30|…` string.
    wrapped: f64,
    /// Outage spells by day from the population's start.
    start: Date,
    outages: Vec<Option<Span>>,
    /// The bank's weight for each code of [`all_codes`], in its order.
    weights: Vec<f64>,
}

/// The banks of `spec`'s market, with their outages over the period to `end`.
pub(crate) fn draw_all(spec: &PopulationSpec, end: Date) -> Vec<BankModel> {
    let names = match spec.market {
        Market::India => INDIAN_BANKS,
        Market::Us => US_BANKS,
    };
    let days = days_between(spec.start, end).max(0);
    names
        .iter()
        .enumerate()
        .map(|(i, code)| draw(spec, i, code, days))
        .collect()
}

fn draw(spec: &PopulationSpec, index: usize, code: &'static str, days: i64) -> BankModel {
    let mut rng = stream(spec.seed, Purpose::Bank, index as u64, spec.start, 0);
    let maintenance = Span {
        from: [22, 23, 0, 1, 2][rng.random_range(0..5)],
        len: rng.random_range(1..=3),
    };
    let weights = all_codes()
        .map(|c| {
            // The minor codes of a kind are not used by every bank (each kind keeps a main
            // code of weight 0.35 or more).
            if c.weight < 0.35 && rng.random_bool(0.3) {
                0.0
            } else {
                c.weight * rng.random_range(0.3..1.0)
            }
        })
        .collect();
    let outages = (0..days)
        .map(|d| outage(spec.seed, index, spec.start.saturating_add(d.days())))
        .collect();
    BankModel {
        code,
        batch_hour: rng.random_range(6..=11),
        maintenance,
        base_rate: rng.random_range(0.003..0.012),
        peak_factor: rng.random_range(2.0..4.0),
        upper: rng.random_bool(0.5),
        wrapped: rng.random_range(0.0..0.15),
        start: spec.start,
        outages,
        weights,
    }
}

/// Bank `index`'s outage spell on `date`, if it has one: one to four hours.
fn outage(seed: u64, index: usize, date: Date) -> Option<Span> {
    let mut rng = stream(seed, Purpose::Outage, index as u64, date, 0);
    if !rng.random_bool(OUTAGES_PER_MONTH / 30.0) {
        return None;
    }
    let len = rng.random_range(1..=4);
    Some(Span {
        from: rng.random_range(0..=24 - len),
        len,
    })
}

impl BankModel {
    /// The outage spell on `date`, if any.
    pub(crate) fn outage_on(&self, date: Date) -> Option<Span> {
        let d = days_between(self.start, date);
        usize::try_from(d)
            .ok()
            .and_then(|d| self.outages.get(d).copied().flatten())
    }

    /// Whether the bank is down at `at`.
    pub(crate) fn down(&self, at: Moment) -> bool {
        self.maintenance.contains(at.hour)
            || self.outage_on(at.date).is_some_and(|s| s.contains(at.hour))
    }

    /// The chance a debit at `at` fails technically while the bank is up.
    pub(crate) fn technical_rate(&self, at: Moment) -> f64 {
        let mut rate = self.base_rate;
        if peak(at.hour) {
            rate *= self.peak_factor;
        }
        if self.outage_on(at.date).is_some() {
            rate *= OUTAGE_DAY_FACTOR;
        }
        rate.min(1.0)
    }

    /// Why a debit of `amount` at `at` against `balance` fails, if it does. Checked in the order
    /// the rail would: the mandate, the bank being up, then the account and its funds.
    pub(crate) fn failure(
        &self,
        p: &Profile,
        rail: Rail,
        at: Moment,
        amount: i64,
        balance: i64,
        rng: &mut ChaCha8Rng,
    ) -> Option<Failure> {
        let technical: f64 = rng.random();
        let failure = if p.cancelled_on.is_some_and(|d| d <= at.date) {
            Failure::Mandate
        } else if self.down(at) {
            Failure::Technical { outage: true }
        } else if technical < self.technical_rate(at) {
            Failure::Technical { outage: false }
        } else if p.closed_on.is_some_and(|d| d <= at.date) {
            Failure::Closed
        } else if p.frozen_on(at.date) {
            Failure::Frozen
        } else if rail
            .rules()
            .authentication_limit_minor
            .is_some_and(|l| amount > l)
        {
            Failure::Limit
        } else if balance < amount {
            Failure::Funds
        } else {
            return None;
        };
        Some(failure)
    }

    /// The code and text the bank answers `failure` on `rail` at `hour` with.
    pub(crate) fn code(
        &self,
        rail: Rail,
        failure: Failure,
        hour: u8,
        rng: &mut ChaCha8Rng,
    ) -> (String, String) {
        let (kind, outage) = match failure {
            Failure::Funds => (Kind::Funds, false),
            Failure::Closed => (Kind::Closed, false),
            Failure::Frozen => (Kind::Frozen, false),
            Failure::Mandate => (Kind::Mandate, false),
            Failure::Limit => (Kind::Limit, false),
            Failure::Technical { outage } => (Kind::Technical, outage),
        };
        let (code, text) = self.pick(rail, kind, hour, outage, rng);
        let text = if self.upper {
            text.to_ascii_uppercase()
        } else {
            text.to_owned()
        };
        if rail == Rail::UpiAutopay && kind == Kind::Funds && rng.random_bool(self.wrapped) {
            let wrapped = format!(
                "U30|DEBIT HAS BEEN FAILED|{code}|{}",
                text.to_ascii_uppercase()
            );
            return (wrapped, "DEBIT HAS BEEN FAILED".to_owned());
        }
        (code.to_owned(), text)
    }

    /// A code of `kind` on `rail`, drawn by the bank's weights.
    fn pick(
        &self,
        rail: Rail,
        kind: Kind,
        hour: u8,
        outage: bool,
        rng: &mut ChaCha8Rng,
    ) -> (&'static str, &'static str) {
        let weight = |(c, w): (&Code, &f64)| match c.boost {
            Boost::Outage if outage => w * 4.0,
            Boost::Peak if peak(hour) => w * 3.0,
            _ => *w,
        };
        let candidates = || {
            all_codes()
                .zip(self.weights.iter())
                .filter(|(c, _)| c.rail == rail && c.kind == kind)
        };
        let total: f64 = candidates().map(weight).sum();
        let mut u = rng.random::<f64>() * total;
        let mut chosen = None;
        for (c, w) in candidates() {
            let w = weight((c, w));
            if w <= 0.0 {
                continue;
            }
            chosen = Some(c);
            if u < w {
                break;
            }
            u -= w;
        }
        chosen.map_or(("", "Transaction failed"), |c| (c.code, c.text))
    }
}
