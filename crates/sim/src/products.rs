//! The product mix of a synthetic book and the terms each product's loans are drawn with, in the
//! ranges of the product examples (`examples/*.json`).

use jiff::ToSpan;
use jiff::civil::Date;
use loanbook_domain::money::format_minor;
use loanbook_domain::terms::Terms;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// The products a synthetic book sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    /// Unsecured personal loan: monthly EMI, a processing fee deducted at disbursement.
    Personal,
    /// Two-wheeler loan: flat rate, monthly, instalment rounded up to the rupee.
    TwoWheeler,
    /// MSME term loan: equal principal, quarterly, actual/365 interest, Sunday-adjusted dates.
    Msme,
    /// MSME loan co-lent with a bank (80% bank, 20% the lender): monthly EMI, penal charges.
    MsmeColending,
    /// Gold loan: one bullet repayment of principal and interest at maturity.
    Gold,
}

impl Product {
    /// The product's code in the book.
    pub fn name(self) -> &'static str {
        match self {
            Product::Personal => "personal",
            Product::TwoWheeler => "two_wheeler",
            Product::Msme => "msme",
            Product::MsmeColending => "msme_colending",
            Product::Gold => "gold",
        }
    }

    /// Whether a part prepayment re-shapes the schedule (EMI loans); the others can only be
    /// foreclosed early.
    pub fn part_prepayable(self) -> bool {
        matches!(self, Product::Personal | Product::MsmeColending)
    }
}

/// The share of loans of each product, in percent.
const MIX: [(Product, u32); 5] = [
    (Product::Personal, 60),
    (Product::TwoWheeler, 15),
    (Product::Msme, 8),
    (Product::MsmeColending, 10),
    (Product::Gold, 7),
];

/// The co-lending banks a co-lent loan's 80% share is placed with.
const BANKS: [&str; 2] = ["bank-a", "bank-b"];

/// Days before the as-of date a loan may have been disbursed unless told otherwise: five years.
pub const MAX_AGE_DAYS: i64 = 5 * 365;

/// Draw a product and its terms, disbursed in the `max_age_days` before `as_of`.
pub fn draw(rng: &mut ChaCha8Rng, as_of: Date, max_age_days: i64) -> (Product, Terms) {
    let mut pick = rng.random_range(0..100u32);
    let mut product = Product::Personal;
    for (p, share) in MIX {
        if pick < share {
            product = p;
            break;
        }
        pick -= share;
    }
    let age = rng.random_range(1..=max_age_days.max(1));
    let disbursed = as_of.saturating_sub(age.days());
    let doc = match product {
        Product::Personal => personal(rng, disbursed),
        Product::TwoWheeler => two_wheeler(rng, disbursed),
        Product::Msme => msme(rng, disbursed),
        Product::MsmeColending => colending(rng, disbursed),
        Product::Gold => gold(rng, disbursed),
    };
    // The generator only writes terms within every rule: a refusal is a bug here.
    let terms = match Terms::from_json(&doc.to_string()) {
        Ok(t) => t,
        Err(e) => panic!(
            "generated {} terms are invalid: {e:?}: {doc}",
            product.name()
        ),
    };
    (product, terms)
}

/// Rupees as a decimal string.
fn rupees(r: i64) -> String {
    format_minor(r * 100, 2)
}

/// A rate in hundredths of a percent as a decimal string (`1125` → `11.25`).
fn rate(hundredths: i64) -> String {
    format_minor(hundredths, 2)
}

/// A multiple of `step` between `lo` and `hi`.
fn stepped(rng: &mut ChaCha8Rng, lo: i64, hi: i64, step: i64) -> i64 {
    rng.random_range(lo / step..=hi / step) * step
}

fn one_of<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn personal(rng: &mut ChaCha8Rng, disbursed: Date) -> Value {
    let principal = stepped(rng, 20_000, 500_000, 1_000);
    // A processing fee of 1% to 2.5%, to the rupee.
    let fee = principal * rng.random_range(100..=250) / 10_000;
    json!({
        "currency": "INR",
        "principal": rupees(principal),
        "annual_rate": rate(stepped(rng, 1100, 2400, 25)),
        "method": "emi",
        "installments": one_of(rng, &[12, 18, 24, 36, 48, 60]),
        "frequency": "monthly",
        "disbursement_date": disbursed.to_string(),
        "interest_basis": "equal_periods",
        "rounding": { "installment": { "mode": "half_up", "multiple": "0.01" }, "interest": "half_up" },
        "fees": [ { "name": "processing", "amount": rupees(fee), "collect": "deduct" } ]
    })
}

fn two_wheeler(rng: &mut ChaCha8Rng, disbursed: Date) -> Value {
    json!({
        "currency": "INR",
        "principal": rupees(stepped(rng, 40_000, 150_000, 500)),
        "annual_rate": rate(stepped(rng, 850, 1200, 25)),
        "method": "flat",
        "installments": one_of(rng, &[12, 18, 24, 36]),
        "frequency": "monthly",
        "disbursement_date": disbursed.to_string(),
        "rounding": { "installment": { "mode": "up", "multiple": "1" }, "interest": "half_up" },
        "fees": [ { "name": "documentation", "amount": "499.00", "tax_percent": "18" } ]
    })
}

fn msme(rng: &mut ChaCha8Rng, disbursed: Date) -> Value {
    json!({
        "currency": "INR",
        "principal": rupees(stepped(rng, 500_000, 2_500_000, 10_000)),
        "annual_rate": rate(stepped(rng, 1050, 1400, 25)),
        "method": "equal_principal",
        "installments": one_of(rng, &[8, 12, 16, 20]),
        "frequency": "quarterly",
        "disbursement_date": disbursed.to_string(),
        "interest_basis": "act/365f",
        "calendar": { "weekend": ["sun"], "holidays": [], "adjust": "following" }
    })
}

fn colending(rng: &mut ChaCha8Rng, disbursed: Date) -> Value {
    // The blended rate is the shares' weighted rates: multiples of 0.05% and 0.25% keep it exact.
    let bank = stepped(rng, 900, 1050, 5);
    let nbfc = stepped(rng, 1600, 2000, 25);
    let blended = (bank * 80 + nbfc * 20) / 100;
    json!({
        "currency": "INR",
        "principal": rupees(stepped(rng, 500_000, 2_000_000, 10_000)),
        "annual_rate": rate(blended),
        "method": "emi",
        "installments": one_of(rng, &[36, 48, 60, 72, 84]),
        "frequency": "monthly",
        "disbursement_date": disbursed.to_string(),
        "partners": [
            { "id": one_of(rng, &BANKS), "share": "80", "annual_rate": rate(bank) },
            { "id": "nbfc", "share": "20", "annual_rate": rate(nbfc) }
        ],
        "split": "principal_pro_rata",
        "penal": { "percent": "24" },
        "foreclosure_fee": { "percent": "2" }
    })
}

fn gold(rng: &mut ChaCha8Rng, disbursed: Date) -> Value {
    json!({
        "currency": "INR",
        "principal": rupees(stepped(rng, 25_000, 500_000, 1_000)),
        "annual_rate": rate(stepped(rng, 900, 1400, 25)),
        "method": "bullet",
        "installments": 1,
        "frequency": { "days": one_of(rng, &[90, 180, 270, 365]) },
        "disbursement_date": disbursed.to_string(),
        "interest_basis": "act/365f"
    })
}
