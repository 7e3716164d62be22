//! Payouts: paying a loan's disbursement to the borrower over NEFT, RTGS, IMPS or UPI.
//!
//! [`check_order`] holds each rail's own limits and the beneficiary's formats; [`Payouts`] is the
//! connector (send once per reference, ask for the result); [`SimulatedPayouts`] is the
//! deterministic bank behind it for tests and the demo.
//!
//! Rail facts (RBI and NPCI public rules; the project's reference pages cover the debit rails, not
//! these):
//! - RTGS: minimum ₹2,00,000, no maximum; UTR of 22 characters, `AAAAR` + channel digit +
//!   `YYYYMMDD` + 8-digit sequence.
//! - NEFT: no minimum or maximum set by RBI; UTR of 16 characters, `AAAAN` + `YY` + day of the
//!   year `DDD` + 6-digit sequence.
//! - IMPS: at most ₹5,00,000 a transaction; a 12-digit RRN: the year's last digit, the day of the
//!   year, the hour, a 6-digit sequence.
//! - UPI: at most ₹1,00,000 a transaction to a person (higher caps are for named merchant
//!   categories, not loan payouts); a 12-digit RRN as for IMPS.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use loanbook_domain::calendar::Date;
use loanbook_domain::money::format_minor;
use loanbook_domain::terms::FieldError;
use serde::{Deserialize, Serialize};

/// RTGS's minimum, in paise (₹2,00,000).
pub const RTGS_MIN: i64 = 20_000_000;
/// IMPS's maximum a transaction, in paise (₹5,00,000).
pub const IMPS_MAX: i64 = 50_000_000;
/// UPI's maximum a transaction to a person, in paise (₹1,00,000).
pub const UPI_MAX: i64 = 10_000_000;
/// Longest order reference: the 35 characters of an ISO 20022 end-to-end id.
pub const MAX_REFERENCE_LEN: usize = 35;
/// Longest beneficiary name the rails carry.
pub const MAX_NAME_LEN: usize = 100;
/// Indian bank account numbers run from 9 to 18 digits.
pub const ACCOUNT_DIGITS: std::ops::RangeInclusive<usize> = 9..=18;

/// The stable codes of the rules [`check_order`] applies, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    ("payout.reference", "1 to 35 letters, digits, `-` or `_`"),
    ("payout.amount_positive", "the amount is more than zero"),
    ("payout.rtgs_minimum", "RTGS carries ₹2,00,000 or more"),
    ("payout.imps_maximum", "IMPS carries at most ₹5,00,000"),
    ("payout.upi_maximum", "UPI carries at most ₹1,00,000"),
    ("beneficiary.name", "a name of 1 to 100 characters"),
    ("beneficiary.required", "the rail needs this detail"),
    (
        "beneficiary.ifsc",
        "an IFSC: 4 capital letters, `0`, 6 capital letters or digits",
    ),
    ("beneficiary.account_number", "9 to 18 digits"),
    ("beneficiary.vpa", "a VPA `name@psp`"),
];

/// A payment rail for payouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rail {
    Neft,
    Rtgs,
    Imps,
    Upi,
}

/// Who is paid: a bank account (account number and IFSC) or a UPI address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beneficiary {
    pub name: String,
    pub account_number: Option<String>,
    pub ifsc: Option<String>,
    pub vpa: Option<String>,
}

/// One payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutOrder {
    /// Our unique id for the payout; the bank's idempotency key.
    pub reference: String,
    pub rail: Rail,
    /// Paise.
    pub amount: i64,
    pub beneficiary: Beneficiary,
}

/// What the bank says about a payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum PayoutReply {
    /// Credited; the UTR (RRN for IMPS and UPI) proves it.
    Paid { utr: String },
    /// Not paid, finally: the rail's return code and its reason.
    Failed { code: String, reason: String },
    /// Accepted, not yet settled: ask [`Payouts::status`] later.
    Pending,
    /// No answer (a timeout, a broken connection): the payout may or may not have gone. Never
    /// resend under a new reference; ask [`Payouts::status`].
    Unknown { detail: String },
}

/// The rail's own limits and the beneficiary's formats; every broken rule, each naming its field.
pub fn check_order(order: &PayoutOrder) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let reference_ok = !order.reference.is_empty()
        && order.reference.len() <= MAX_REFERENCE_LEN
        && order
            .reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !reference_ok {
        errors.push(FieldError::coded(
            "reference",
            "payout.reference",
            "must be 1 to 35 letters, digits, `-` or `_`",
        ));
    }
    check_amount(order.rail, order.amount, &mut errors);
    check_beneficiary(order.rail, &order.beneficiary, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn rupees(paise: i64) -> String {
    format!("₹{}", format_minor(paise, 2))
}

fn check_amount(rail: Rail, amount: i64, errors: &mut Vec<FieldError>) {
    let broken = if amount <= 0 {
        Some((
            "payout.amount_positive",
            "must be more than zero".to_owned(),
        ))
    } else {
        match rail {
            Rail::Rtgs if amount < RTGS_MIN => Some((
                "payout.rtgs_minimum",
                format!("must be at least {} on RTGS", rupees(RTGS_MIN)),
            )),
            Rail::Imps if amount > IMPS_MAX => Some((
                "payout.imps_maximum",
                format!("must be at most {} on IMPS", rupees(IMPS_MAX)),
            )),
            Rail::Upi if amount > UPI_MAX => Some((
                "payout.upi_maximum",
                format!("must be at most {} on UPI", rupees(UPI_MAX)),
            )),
            _ => None,
        }
    };
    if let Some((code, rule)) = broken {
        errors.push(FieldError::coded("amount", code, rule));
    }
}

fn check_beneficiary(rail: Rail, b: &Beneficiary, errors: &mut Vec<FieldError>) {
    let name = b.name.trim();
    if name.is_empty() || b.name.chars().count() > MAX_NAME_LEN {
        errors.push(FieldError::coded(
            "beneficiary.name",
            "beneficiary.name",
            "must be a name of 1 to 100 characters",
        ));
    }
    let required = |field: &str, what: &str| {
        FieldError::coded(
            format!("beneficiary.{field}"),
            "beneficiary.required",
            format!("is required: {what}"),
        )
    };
    match rail {
        Rail::Upi => match &b.vpa {
            None => errors.push(required("vpa", "UPI pays a VPA")),
            Some(vpa) if !is_vpa(vpa) => errors.push(FieldError::coded(
                "beneficiary.vpa",
                "beneficiary.vpa",
                format!("must be a VPA `name@psp`, got `{vpa}`"),
            )),
            Some(_) => {}
        },
        Rail::Neft | Rail::Rtgs | Rail::Imps => {
            match &b.account_number {
                None => errors.push(required("account_number", "the rail pays an account")),
                Some(a) if !is_account_number(a) => errors.push(FieldError::coded(
                    "beneficiary.account_number",
                    "beneficiary.account_number",
                    "must be 9 to 18 digits",
                )),
                Some(_) => {}
            }
            match &b.ifsc {
                None => errors.push(required("ifsc", "the rail routes by IFSC")),
                Some(i) if !is_ifsc(i) => errors.push(FieldError::coded(
                    "beneficiary.ifsc",
                    "beneficiary.ifsc",
                    format!(
                        "must be an IFSC: 4 capital letters, `0`, 6 capital letters or digits, got `{i}`"
                    ),
                )),
                Some(_) => {}
            }
        }
    }
}

/// `AAAA0XXXXXX`: the bank's 4 letters, a zero, the branch's 6 letters or digits.
pub fn is_ifsc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[..4].iter().all(u8::is_ascii_uppercase)
        && b[4] == b'0'
        && b[5..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

pub fn is_account_number(s: &str) -> bool {
    ACCOUNT_DIGITS.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// `name@psp`: a name of 2 to 256 letters, digits, `.`, `-` or `_`; a PSP handle of 2 to 64
/// letters or digits starting with a letter.
pub fn is_vpa(s: &str) -> bool {
    let Some((name, psp)) = s.split_once('@') else {
        return false;
    };
    let name_ok = (2..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let psp_ok = (2..=64).contains(&psp.len())
        && psp.as_bytes()[0].is_ascii_alphabetic()
        && psp.bytes().all(|b| b.is_ascii_alphanumeric());
    name_ok && psp_ok
}

/// The payout connector of a bank or payment aggregator.
#[async_trait]
pub trait Payouts: Send + Sync {
    /// Send once per reference: a reference already sent answers its known result, never pays twice.
    async fn send(&self, order: &PayoutOrder) -> PayoutReply;
    /// The final or current result of a reference (reconciliation after Unknown/Pending).
    async fn status(&self, reference: &str) -> PayoutReply;
}

/// How the simulated bank treats a payout, chosen by the last digit of the beneficiary's account
/// number (for UPI, the last character of the VPA's name before `@`):
///
/// | ending | `send` | `status` |
/// |---|---|---|
/// | other (0–4, a letter) | paid | paid |
/// | 5 | failed: no such account (`02`; UPI `XH`, account does not exist) | the same |
/// | 6 | failed: account closed (`01`; UPI `ZX`, inactive or dormant account) | the same |
/// | 7 | pending | paid |
/// | 8 | unknown (timeout) | paid |
/// | 9 | unknown (timeout) | failed: network failure (`59`; UPI `U91`, beneficiary bank high response time) |
///
/// The codes are those of the NPCI tables in the project's rail reference. An order that breaks
/// [`check_order`] fails with `84` (invalid data format) and each broken rule. A reference reused
/// for a different order fails with `31` (duplicate reference number) and leaves the first alone.
#[derive(Debug)]
pub struct SimulatedPayouts {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Paid,
    NoSuchAccount,
    AccountClosed,
    PendingThenPaid,
    TimeoutThenPaid,
    TimeoutThenFailed,
}

#[derive(Debug)]
struct Record {
    order: PayoutOrder,
    behaviour: Behaviour,
    /// The final result, fixed when the bank takes the order.
    outcome: PayoutReply,
    /// Whether a pending payout has settled.
    settled: bool,
}

#[derive(Debug)]
struct State {
    business_date: Date,
    sequence: u64,
    records: HashMap<String, Record>,
    paid: HashMap<String, u32>,
}

/// The business date the simulator stamps its UTRs with unless told another.
const DEFAULT_DATE: Date = Date::constant(2024, 1, 1);
/// The simulated remitting bank's code at the head of NEFT and RTGS UTRs.
const BANK_CODE: &str = "LBSB";

impl Default for SimulatedPayouts {
    fn default() -> Self {
        SimulatedPayouts::new()
    }
}

impl SimulatedPayouts {
    pub fn new() -> Self {
        SimulatedPayouts::on(DEFAULT_DATE)
    }

    /// A simulator whose UTRs carry `business_date`.
    pub fn on(business_date: Date) -> Self {
        SimulatedPayouts {
            state: Mutex::new(State {
                business_date,
                sequence: 0,
                records: HashMap::new(),
                paid: HashMap::new(),
            }),
        }
    }

    /// How many times the reference was paid: 0 or 1, whatever was resent.
    pub fn paid_count(&self, reference: &str) -> u32 {
        self.lock().paid.get(reference).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent (each write is one insert).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn behaviour(order: &PayoutOrder) -> Behaviour {
    let b = &order.beneficiary;
    let key = match order.rail {
        Rail::Upi => b.vpa.as_deref().and_then(|v| v.split('@').next()),
        _ => b.account_number.as_deref(),
    };
    match key.and_then(|k| k.chars().last()) {
        Some('5') => Behaviour::NoSuchAccount,
        Some('6') => Behaviour::AccountClosed,
        Some('7') => Behaviour::PendingThenPaid,
        Some('8') => Behaviour::TimeoutThenPaid,
        Some('9') => Behaviour::TimeoutThenFailed,
        _ => Behaviour::Paid,
    }
}

fn failed(code: &str, reason: &str) -> PayoutReply {
    PayoutReply::Failed {
        code: code.to_owned(),
        reason: reason.to_owned(),
    }
}

impl State {
    /// The next UTR in the rail's format.
    fn utr(&mut self, rail: Rail) -> String {
        self.sequence += 1;
        let d = self.business_date;
        let seq = self.sequence;
        match rail {
            Rail::Neft => format!(
                "{BANK_CODE}N{:02}{:03}{:06}",
                d.year().rem_euclid(100),
                d.day_of_year(),
                seq % 1_000_000
            ),
            Rail::Rtgs => format!(
                "{BANK_CODE}R1{:04}{:02}{:02}{:08}",
                d.year(),
                d.month(),
                d.day(),
                seq % 100_000_000
            ),
            // The simulator has no clock: its hour is 10.
            Rail::Imps | Rail::Upi => format!(
                "{}{:03}10{:06}",
                d.year().rem_euclid(10),
                d.day_of_year(),
                seq % 1_000_000
            ),
        }
    }

    fn final_outcome(&mut self, order: &PayoutOrder, behaviour: Behaviour) -> PayoutReply {
        let upi = order.rail == Rail::Upi;
        match behaviour {
            Behaviour::NoSuchAccount if upi => failed("XH", "Account does not exist"),
            Behaviour::NoSuchAccount => failed("02", "No such account"),
            Behaviour::AccountClosed if upi => failed("ZX", "Inactive or dormant account"),
            Behaviour::AccountClosed => failed("01", "Account closed"),
            Behaviour::TimeoutThenFailed if upi => {
                failed("U91", "Beneficiary bank high response time")
            }
            Behaviour::TimeoutThenFailed => failed("59", "Network failure (CBS)"),
            Behaviour::Paid | Behaviour::PendingThenPaid | Behaviour::TimeoutThenPaid => {
                let utr = self.utr(order.rail);
                *self.paid.entry(order.reference.clone()).or_insert(0) += 1;
                PayoutReply::Paid { utr }
            }
        }
    }
}

#[async_trait]
impl Payouts for SimulatedPayouts {
    async fn send(&self, order: &PayoutOrder) -> PayoutReply {
        if let Err(errors) = check_order(order) {
            let reason: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return failed("84", &reason.join("; "));
        }
        let mut state = self.lock();
        if let Some(known) = state.records.get(&order.reference) {
            if known.order != *order {
                return failed(
                    "31",
                    "Duplicate reference number: sent before with other details",
                );
            }
            // The bank answers a known reference with what it knows; a pending one stays pending
            // until it settles (the first status call).
            return if known.behaviour == Behaviour::PendingThenPaid && !known.settled {
                PayoutReply::Pending
            } else {
                known.outcome.clone()
            };
        }
        let behaviour = behaviour(order);
        let outcome = state.final_outcome(order, behaviour);
        let reply = match behaviour {
            Behaviour::PendingThenPaid => PayoutReply::Pending,
            Behaviour::TimeoutThenPaid | Behaviour::TimeoutThenFailed => PayoutReply::Unknown {
                detail: "timed out waiting for the bank's answer".to_owned(),
            },
            _ => outcome.clone(),
        };
        state.records.insert(
            order.reference.clone(),
            Record {
                order: order.clone(),
                behaviour,
                outcome,
                settled: false,
            },
        );
        reply
    }

    async fn status(&self, reference: &str) -> PayoutReply {
        match self.lock().records.get_mut(reference) {
            Some(record) => {
                record.settled = true;
                record.outcome.clone()
            }
            None => PayoutReply::Unknown {
                detail: format!("the bank has no payout with reference `{reference}`"),
            },
        }
    }
}

#[cfg(test)]
mod tests;
