//! Generators shared by the loan engine's property tests: random terms and random valid event
//! lists, built as a service would record them.

#![allow(dead_code)]

use jiff::ToSpan;
use loanbook_domain::calendar::Date;
use loanbook_domain::delinquency::Classification;
use loanbook_domain::events::{
    ChargeKind, Event, EventKind, PrepaymentAdjust, RateChangeKeep, WaiverComponent,
};
use loanbook_domain::loan::{Engine, LoanState, ReplayError, Status, foreclosure_quote, replay};
use loanbook_domain::terms::{Method, MoratoriumInterest, Terms};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rust_decimal::Decimal;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Terms
// ---------------------------------------------------------------------------------------------

pub const METHODS: [&str; 5] = ["emi", "equal_principal", "interest_only", "balloon", "step"];
pub const EXCESS: [&str; 4] = ["advance", "reduce_tenure", "reduce_emi", "refund"];
pub const BASES: [&str; 2] = ["equal_periods", "act/365f"];
pub const BROKEN: [&str; 4] = ["first_installment", "deduct", "installment_zero", "ignore"];
/// Every schedule method, interest basis and a few frequencies, for the loans of [`arb_any_terms`].
pub const ALL_METHODS: [&str; 7] = [
    "emi",
    "equal_principal",
    "interest_only",
    "balloon",
    "step",
    "flat",
    "bullet",
];
pub const ALL_BASES: [&str; 5] = ["equal_periods", "act/365f", "act/act", "act/360", "30/360"];
pub const FREQUENCIES: [&str; 4] = ["monthly", "fortnightly", "weekly", "quarterly"];
pub const MORATORIA: [&str; 3] = ["pay", "capitalize", "defer"];

pub fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

pub fn rate(bp: u32) -> String {
    format!("{}.{:02}", bp / 100, bp % 100)
}

pub fn plus(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).expect("date in range")
}

/// Drawn parameters of a monthly loan.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub method: usize,
    pub principal: i64,
    pub rate_bp: u32,
    pub installments: u32,
    pub start: i64,
    pub first_due: Option<i64>,
    pub basis: usize,
    pub broken: usize,
    pub penal: usize,
    pub allocation: usize,
    pub excess: usize,
    pub foreclosure_fee: bool,
    /// 0: no partners; 1: `principal_pro_rata`; 2: `collection_pro_rata`.
    pub partners: usize,
    /// What the loans of [`arb_any_terms`] add: every method and basis, other frequencies,
    /// moratoria and fees.
    pub more: Option<More>,
}

#[derive(Debug, Clone, Copy)]
pub struct More {
    pub method: usize,
    pub basis: usize,
    pub frequency: usize,
    /// 0: none; else the kind (`MORATORIA[n - 1]`).
    pub moratorium: usize,
    pub moratorium_periods: u32,
    /// 0: none; 1: financed; 2: deducted; 3: both.
    pub fees: usize,
}

pub fn make_terms(s: Shape) -> Terms {
    let t = terms_json(s);
    Terms::from_json(&t.to_string()).unwrap_or_else(|e| panic!("{e}: {t}"))
}

/// The terms JSON of a drawn shape.
pub fn terms_json(s: Shape) -> serde_json::Value {
    let method = match s.more {
        Some(m) => ALL_METHODS[m.method % ALL_METHODS.len()],
        None => METHODS[s.method % METHODS.len()],
    };
    let start = plus(jiff::civil::date(2023, 11, 1), s.start);
    let mut t = json!({
        "currency": "INR", "principal": money(s.principal), "annual_rate": rate(s.rate_bp),
        "method": method, "installments": s.installments, "frequency": "monthly",
        "disbursement_date": start.to_string(),
        "interest_basis": match s.more {
            Some(m) => ALL_BASES[m.basis % ALL_BASES.len()],
            None => BASES[s.basis % BASES.len()],
        },
        "excess": EXCESS[s.excess % EXCESS.len()],
    });
    if let Some(days) = s.first_due {
        t["first_due_date"] = json!(plus(start, days).to_string());
        if t["interest_basis"] == "equal_periods" {
            t["broken_period"] = json!(BROKEN[s.broken % BROKEN.len()]);
        }
    }
    if method == "balloon" {
        t["balloon"] = json!(money(s.principal / 5));
    }
    if method == "step" {
        t["step"] = json!({"every": (s.installments / 3).max(1), "percent": "5"});
    }
    match s.penal {
        1 => t["penal"] = json!({"per_missed_installment": "250.00"}),
        2 => t["penal"] = json!({"percent": "24"}),
        _ => {}
    }
    match s.allocation {
        1 => {
            t["allocation"] =
                json!({"order": ["charges", "interest", "principal"], "by": "component"})
        }
        2 => {
            t["allocation"] =
                json!({"order": ["charges", "interest", "principal"], "by": "installment"})
        }
        3 => {
            t["allocation"] =
                json!({"order": ["interest", "charges", "principal"], "by": "component"})
        }
        _ => {}
    }
    if s.foreclosure_fee {
        t["foreclosure_fee"] = json!({"percent": "2", "tax_percent": "18"});
    }
    if s.partners > 0 {
        // Bank 80% at 10%, NBFC (originator) 20% at 18%: blended 11.6%, the least rate
        // `principal_pro_rata` allows.
        t["annual_rate"] = json!(rate(1160.max(s.rate_bp)));
        t["partners"] = json!([
            {"id": "bank", "share": "80", "annual_rate": "10"},
            {"id": "nbfc", "share": "20", "annual_rate": "18", "originator": true}
        ]);
        t["split"] = json!(if s.partners == 1 {
            "principal_pro_rata"
        } else {
            "collection_pro_rata"
        });
    }
    if let Some(m) = s.more {
        t["frequency"] = json!(FREQUENCIES[m.frequency % FREQUENCIES.len()]);
        if m.moratorium > 0 && !matches!(method, "flat" | "bullet") {
            t["moratorium"] = json!({
                "periods": m.moratorium_periods.min(s.installments - 1).max(1),
                "interest": MORATORIA[(m.moratorium - 1) % MORATORIA.len()],
            });
        }
        let financed = json!({"name": "processing", "percent": "1.5", "tax_percent": "18", "collect": "finance"});
        let deducted = json!({"name": "documentation", "amount": "500.00", "collect": "deduct"});
        match m.fees {
            1 => t["fees"] = json!([financed]),
            2 => t["fees"] = json!([deducted]),
            3 => t["fees"] = json!([financed, deducted]),
            _ => {}
        }
    }
    t
}

prop_compose! {
    pub fn arb_more()(
        method in 0usize..7,
        basis in 0usize..5,
        frequency in 0usize..4,
        moratorium in 0usize..4,
        moratorium_periods in 1u32..4,
        fees in 0usize..4,
    ) -> More {
        More { method, basis, frequency, moratorium, moratorium_periods, fees }
    }
}

/// Loans over every method, interest basis, moratorium, fee, excess policy and split, weekly to
/// quarterly. Terms the validation refuses (a combination no product may have) are not drawn.
pub fn arb_any_terms() -> impl Strategy<Value = Terms> {
    (arb_shape(0..3), prop::option::weighted(0.8, arb_more()))
        .prop_filter_map("terms the validation refuses", |(s, more)| {
            Terms::from_json(&terms_json(Shape { more, ..s }).to_string()).ok()
        })
}

prop_compose! {
    pub fn arb_shape(partner_modes: std::ops::Range<usize>)(
        method in 0usize..5,
        principal in 1_000_000i64..300_000_000,
        rate_bp in 0u32..3_000,
        installments in 3u32..25,
        start in 0i64..400,
        first_due in prop::option::of(20i64..55),
        basis in 0usize..2,
        broken in 0usize..4,
        penal in 0usize..3,
        allocation in 0usize..4,
        excess in 0usize..4,
        foreclosure_fee in any::<bool>(),
        partners in partner_modes,
    ) -> Shape {
        Shape {
            method, principal, rate_bp, installments, start, first_due, basis, broken, penal,
            allocation, excess, foreclosure_fee, partners, more: None,
        }
    }
}

/// Any of the generated loans, a third of them co-lent.
pub fn arb_terms() -> impl Strategy<Value = Terms> {
    arb_shape(0..3).prop_map(make_terms)
}

/// Co-lent loans, under both splits.
pub fn arb_colending_terms() -> impl Strategy<Value = Terms> {
    arb_shape(1..3).prop_map(make_terms)
}

/// Loans that hold money received above what is due (`advance` or `refund`) rather than
/// re-shaping the schedule with it.
pub fn arb_holding_terms() -> impl Strategy<Value = Terms> {
    arb_shape(0..3).prop_map(|s| {
        make_terms(Shape {
            excess: if s.excess % 2 == 0 { 0 } else { 3 },
            ..s
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Event sequences
// ---------------------------------------------------------------------------------------------

/// One drawn step of a loan's life: days after the previous step, what happens (per mille
/// weights, see `build_events`), a size and a free choice.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    pub gap: i64,
    pub kind: u16,
    pub size: u32,
    pub pick: u32,
}

prop_compose! {
    pub fn arb_op_of(kinds: std::ops::Range<u16>)(gap in 0i64..45, kind in kinds, size in 1u32..10_000, pick in any::<u32>()) -> Op {
        Op { gap, kind, size, pick }
    }
}

/// A loan's drawn life: the first disbursement's part of the principal (percent, when the
/// method takes tranches) and the steps after it.
#[derive(Debug, Clone)]
pub struct Story {
    pub first_part: Option<i64>,
    pub ops: Vec<Op>,
}

/// The steps of the original generator: receipts, prepayments, charges, waivers, reversals,
/// rate changes, tranches, write-off, settlement, foreclosure.
pub fn arb_op() -> impl Strategy<Value = Op> {
    arb_op_of(0..1000)
}

prop_compose! {
    pub fn arb_story()(first_part in prop::option::of(40i64..95), ops in prop::collection::vec(arb_op(), 0..40)) -> Story {
        Story { first_part, ops }
    }
}

prop_compose! {
    /// Stories over every event kind: the original steps plus restructures and loss
    /// identification.
    pub fn arb_any_story()(first_part in prop::option::of(40i64..95), ops in prop::collection::vec(arb_op_of(0..1100), 0..40)) -> Story {
        Story { first_part, ops }
    }
}

pub fn engine_at(t: &Terms, list: &[Event], as_of: Date) -> Result<Engine, ReplayError> {
    let mut e = Engine::new(t);
    e.run(t, list, as_of)?;
    Ok(e)
}

pub fn is_final(s: Status) -> bool {
    matches!(s, Status::Closed | Status::Settled | Status::Foreclosed)
}

/// A fraction `per_10k / 10_000` of `v`, at least one paisa.
pub fn part(v: i64, per_10k: u32) -> i64 {
    (i128::from(v) * i128::from(per_10k) / 10_000).clamp(1, i128::from(i64::MAX)) as i64
}

/// A reversal takes its receipt out of the whole history, and an event recorded after the
/// receipt may have been valid only with it: a waiver sized to what was due, an instalment kept
/// through a rate change, a tranche before the last due date. Less money is not always less due
/// (a shorter tenure bought by the receipt spreads a later tranche over fewer instalments, a
/// receipt that clears arrears after maturity levies the penal charges accrued), so such an
/// event may be refused once the receipt is gone; a service records the reversal only if the
/// list still replays, so the generator drops it.
pub fn undone_by_reversal(err: &ReplayError) -> bool {
    matches!(
        (err.event, err.field),
        ("waiver", "amount") | ("rate_change", "keep") | ("disbursement", "date")
    )
}

/// Turn a drawn story into a valid event list, as a service would record it: each event is
/// sized from the state on its date, and the engine must accept every prefix.
pub fn build_events(t: &Terms, story: &Story) -> Result<Vec<Event>, TestCaseError> {
    let d0 = t.disbursement_date;
    let tranches = matches!(
        t.method,
        Method::Emi | Method::EqualPrincipal | Method::InterestOnly
    );
    let first = match story.first_part {
        Some(p) if tranches => t.principal * p / 100,
        _ => t.principal,
    };
    let mut list = vec![Event {
        date: d0,
        kind: EventKind::Disbursement {
            amount: first,
            reference: Some("D0".into()),
        },
    }];
    let mut disbursed = first;
    let start = engine_at(t, &list, d0).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let last_due = start.dues.last().map_or(d0, |d| d.due_date);
    let horizon = plus(last_due, 60);
    let mut date = d0;
    // Receipts that may be reversed: reference, date.
    let mut receipts: Vec<(String, Date)> = Vec::new();
    let mut rate_changes = 0;
    // Part prepayment, rate change and restructure re-shape the schedule: not for flat or bullet.
    let reshapes = !matches!(t.method, Method::Flat | Method::Bullet);
    for (i, op) in story.ops.iter().enumerate() {
        date = plus(date, op.gap);
        if date > horizon {
            break;
        }
        // The state at the end of `date` with the events so far: active then means active all
        // day, and what is due then is at most what is due when the new event applies.
        let e = engine_at(t, &list, date).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if is_final(e.status) {
            break;
        }
        let written_off = e.status == Status::WrittenOff;
        let reference = format!("R{i}");
        let emi = e.installment_amount.max(100);
        let mut terminal = false;
        let kind = match op.kind {
            // Money received: partial, exact, over-payment, or all that is owed.
            0..=419 | 930..=939 | 950..=959 | 970..=999 => {
                let amount = match op.pick % 40 {
                    0 => {
                        let s = LoanState::new(t, &e, date);
                        if s.total_overdue > 0 {
                            s.total_overdue
                        } else {
                            emi
                        }
                    }
                    1 => i64::from(op.size % 500 + 1),
                    2 if !written_off => {
                        foreclosure_quote(t, &list, date)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?
                            .max(1)
                            + i64::from(op.size % 3) * 1000
                    }
                    _ => part(emi, op.size * 3),
                };
                receipts.push((reference.clone(), date));
                if written_off {
                    EventKind::Recovery {
                        amount,
                        reference: Some(reference),
                    }
                } else {
                    EventKind::Payment {
                        amount,
                        reference,
                        channel: Some("nach".into()),
                    }
                }
            }
            420..=499 if !written_off && reshapes => {
                receipts.push((reference.clone(), date));
                EventKind::Prepayment {
                    amount: part(e.principal_outstanding().max(emi), op.size + op.size / 10),
                    adjust: if op.pick % 2 == 0 {
                        PrepaymentAdjust::ReduceEmi
                    } else {
                        PrepaymentAdjust::ReduceTenure
                    },
                    reference,
                }
            }
            500..=579 if !written_off => EventKind::Charge {
                kind: if op.pick % 2 == 0 {
                    ChargeKind::Bounce
                } else {
                    ChargeKind::Other
                },
                amount: i64::from(op.size % 900 + 100) * 100,
                reference: Some(reference),
            },
            580..=639 if !written_off => {
                // Charges levied before the day-end (not the penal charges levied at it). And
                // not penal charges levied off a due date: those are what accrued after the last
                // due date, levied when a receipt clears the arrears; a later reversal of that
                // receipt un-levies them (they stay accrued), so a waiver of them would be
                // refused once the receipt is reversed, as the rules say it must.
                let due: i64 = e
                    .charges
                    .iter()
                    .filter(|c| {
                        c.kind != ChargeKind::Penal
                            || (c.date < date && e.dues.iter().any(|d| d.due_date == c.date))
                    })
                    .map(|c| c.unpaid())
                    .sum();
                if due <= 0 {
                    continue;
                }
                EventKind::Waiver {
                    component: WaiverComponent::Charges,
                    amount: part(due, (op.size % 100 + 1) * 100),
                }
            }
            640..=699 if !written_off => {
                let due = e.interest_overdue();
                if due <= 0 {
                    continue;
                }
                EventKind::Waiver {
                    component: WaiverComponent::Interest,
                    amount: part(due, (op.size % 100 + 1) * 100),
                }
            }
            700..=819 => {
                if receipts.is_empty() {
                    continue;
                }
                let k = op.pick as usize % receipts.len();
                let (r, _) = receipts.remove(k);
                EventKind::PaymentReversal {
                    reference: r,
                    reason: Some("insufficient funds".into()),
                }
            }
            820..=869 if !written_off && reshapes && rate_changes < 2 => {
                rate_changes += 1;
                let new = Decimal::new(i64::from(op.size % 3000), 2);
                // Keeping the instalment is refused when it would no longer cover a period's
                // interest on the balance (negative amortisation): only then is it kept.
                let keep_emi = matches!(t.method, Method::Emi | Method::Balloon | Method::Step)
                    && Decimal::from(e.installment_amount)
                        > Decimal::from(e.scheduled_balance()) * new
                            / (Decimal::from(100) * t.frequency.periods_per_year())
                    && op.pick % 2 == 0;
                EventKind::RateChange {
                    annual_rate: new,
                    keep: if keep_emi {
                        RateChangeKeep::Emi
                    } else {
                        RateChangeKeep::Tenure
                    },
                }
            }
            870..=919
                if !written_off
                    && tranches
                    && disbursed < t.principal
                    && e.dues.iter().any(|d| d.due_date > date) =>
            {
                let amount = part(t.principal - disbursed, (op.size % 100 + 1) * 100);
                disbursed += amount;
                EventKind::Disbursement {
                    amount,
                    reference: Some(reference),
                }
            }
            920..=929 if !written_off => EventKind::WriteOff {
                reason: Some("uncontactable".into()),
            },
            940..=949 if !written_off => {
                terminal = true;
                let quote = foreclosure_quote(t, &list, date)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                EventKind::Settlement {
                    amount: part(quote.max(100), 5_000 + op.size % 6_000),
                    reference: Some(reference),
                }
            }
            // A foreclosure quote covers the events before its date: only on a day of its own.
            960..=969 if !written_off && list.last().is_some_and(|l| l.date < date) => {
                terminal = true;
                let quote = foreclosure_quote(t, &list, date)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                EventKind::Foreclosure {
                    amount: (quote + i64::from(op.pick % 2) * i64::from(op.size)).max(1),
                    reference: Some(reference),
                }
            }
            1000..=1059 if !written_off && reshapes && e.principal_outstanding() > 0 => {
                let installments = op.size % 24 + 1;
                EventKind::Restructure {
                    installments: (op.pick % 3 != 0).then_some(installments),
                    installment_amount: None,
                    moratorium: (op.pick % 4 == 1 && installments > 1).then(|| {
                        loanbook_domain::terms::Moratorium {
                            periods: (op.size % 3 + 1).min(installments - 1),
                            interest: [
                                MoratoriumInterest::Pay,
                                MoratoriumInterest::Capitalize,
                                MoratoriumInterest::Defer,
                            ][op.pick as usize % 3],
                        }
                    }),
                }
            }
            1060..=1099
                if !written_off
                    && e.classification == Classification::Npa
                    && e.npa_since.is_some_and(|d| d < date)
                    && e.loss_identified.is_none() =>
            {
                EventKind::LossIdentified {
                    reason: Some("no recovery expected".into()),
                }
            }
            _ => continue,
        };
        let reversal = matches!(kind, EventKind::PaymentReversal { .. });
        list.push(Event { date, kind });
        if let Err(err) = replay(t, &list, date) {
            if reversal && undone_by_reversal(&err) {
                list.pop();
                continue;
            }
            return Err(TestCaseError::fail(format!(
                "a valid event was refused: {err}\nterms: {}\nevents: {list:#?}",
                t.to_json()
            )));
        }
        if terminal {
            break;
        }
    }
    Ok(list)
}

/// The property tests' configuration: 128 cases by default (a few seconds in debug);
/// `PROPTEST_CASES=N` asks for more.
pub fn config() -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(128),
        ..proptest::test_runner::Config::default()
    }
}
