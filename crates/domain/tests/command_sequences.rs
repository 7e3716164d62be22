//! A command fuzzer: random sequences of commands against one loan, as a service would receive
//! them, each accepted only if `check_history` proves the history with it replays (the business
//! date advancing between commands). Whatever was accepted must then replay on every single date
//! from the first event to some days past the business date, and each receipt reference must name
//! one receipt.
//!
//! The commands are deliberately careless: payments reusing earlier references (reversed or not),
//! back-dated payments and reversals, reversals of unknown or already reversed references, waivers
//! of random size, recoveries on loans never written off, foreclosures below their quote, events
//! after closure. The engine, not the generator, decides what is valid.
//!
//! `PROPTEST_CASES=2000 cargo test --release -p loanbook-domain --test command_sequences` runs the
//! long version.

use std::collections::{HashMap, HashSet};

use jiff::ToSpan;
use loanbook_domain::calendar::Date;
use loanbook_domain::events::{
    ChargeKind, Event, EventKind, PrepaymentAdjust, RateChangeKeep, WaiverComponent,
};
use loanbook_domain::loan::{LoanState, check_history, foreclosure_quote, replay};
use loanbook_domain::terms::Terms;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rust_decimal::Decimal;
use serde_json::json;

const METHODS: [&str; 4] = ["emi", "equal_principal", "interest_only", "balloon"];
const EXCESS: [&str; 4] = ["advance", "reduce_tenure", "reduce_emi", "refund"];

fn plus(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).expect("date in range")
}

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    method: usize,
    principal: i64,
    rate_bp: u32,
    installments: u32,
    excess: usize,
    penal: usize,
    partners: bool,
}

fn make_terms(s: Shape) -> Terms {
    let method = METHODS[s.method];
    let mut t = json!({
        "currency": "INR", "principal": money(s.principal),
        "annual_rate": format!("{}.{:02}", s.rate_bp / 100, s.rate_bp % 100),
        "method": method, "installments": s.installments, "frequency": "monthly",
        "disbursement_date": "2024-01-10", "excess": EXCESS[s.excess],
    });
    if method == "balloon" {
        t["balloon"] = json!(money(s.principal / 4));
    }
    match s.penal {
        1 => t["penal"] = json!({"per_missed_installment": "250.00"}),
        2 => t["penal"] = json!({"percent": "24"}),
        _ => {}
    }
    if s.partners {
        t["annual_rate"] = json!("18.00");
        t["partners"] = json!([
            {"id": "bank", "share": "80", "annual_rate": "10"},
            {"id": "nbfc", "share": "20", "annual_rate": "18", "originator": true}
        ]);
    }
    Terms::from_json(&t.to_string()).unwrap_or_else(|e| panic!("{e}: {t}"))
}

prop_compose! {
    fn arb_terms()(
        method in 0usize..4,
        principal in 1_000_000i64..50_000_000,
        rate_bp in 0u32..3_000,
        installments in 6u32..30,
        excess in 0usize..4,
        penal in 0usize..3,
        partners in any::<bool>(),
    ) -> Terms {
        make_terms(Shape { method, principal, rate_bp, installments, excess, penal, partners })
    }
}

/// One command: days the business date advances before it, how far it is back-dated, what it
/// is, a size and a free choice.
#[derive(Debug, Clone, Copy)]
struct Command {
    gap: i64,
    back: i64,
    kind: u8,
    size: u32,
    pick: u32,
}

fn arb_command() -> impl Strategy<Value = Command> {
    (0i64..25, 0i64..60, 0u8..100, 1u32..10_000, any::<u32>()).prop_map(
        |(gap, back, kind, size, pick)| Command {
            gap,
            back,
            kind,
            size,
            pick,
        },
    )
}

/// The loan as the service sees it: the accepted events and the business date.
struct Book {
    terms: Terms,
    events: Vec<Event>,
    business_date: Date,
    /// Every receipt reference offered so far (accepted or not), to draw reuses from.
    offered: Vec<String>,
    /// Accepted reversals' references.
    reversed: Vec<String>,
    state: Option<LoanState>,
    next: u32,
    accepted: usize,
    refused: usize,
}

impl Book {
    fn fresh(&mut self) -> String {
        self.next += 1;
        let r = format!("R{}", self.next);
        self.offered.push(r.clone());
        r
    }

    /// A fresh reference, or (one time in four) an earlier one.
    fn reference(&mut self, c: Command) -> String {
        if c.pick % 4 == 0 && !self.offered.is_empty() {
            self.offered[(c.pick / 4) as usize % self.offered.len()].clone()
        } else {
            self.fresh()
        }
    }

    fn emi(&self) -> i64 {
        self.state
            .as_ref()
            .map_or(0, |s| s.installment_amount)
            .max(self.terms.principal / i64::from(self.terms.installments))
            .max(100)
    }

    fn part(&self, of: i64, c: Command) -> i64 {
        (i128::from(of) * i128::from(c.size) / 5_000).clamp(1, i128::from(i64::MAX)) as i64
    }

    fn event(&mut self, c: Command) -> Event {
        if self.events.is_empty() {
            // The loan starts with its first disbursement, on the terms' date.
            self.business_date = self.terms.disbursement_date;
            let amount = if c.pick % 2 == 0 {
                self.terms.principal
            } else {
                self.terms.principal / 2
            };
            return Event {
                date: self.business_date,
                kind: EventKind::Disbursement {
                    amount,
                    reference: None,
                },
            };
        }
        let back = if c.pick % 3 == 0 { c.back } else { 0 };
        let date = plus(self.business_date, -back);
        let emi = self.emi();
        let kind = match c.kind {
            0..=3 => EventKind::Disbursement {
                amount: if self.events.is_empty() || c.pick % 2 == 0 {
                    self.terms.principal
                } else {
                    self.part(self.terms.principal / 4, c)
                },
                reference: None,
            },
            4..=44 => EventKind::Payment {
                amount: self.part(emi, c),
                reference: self.reference(c),
                channel: None,
            },
            45..=57 => {
                let reference = match c.pick % 4 {
                    // A receipt offered before (accepted, refused or reversed).
                    0 | 1 if !self.offered.is_empty() => {
                        self.offered[(c.pick / 4) as usize % self.offered.len()].clone()
                    }
                    2 if !self.reversed.is_empty() => {
                        self.reversed[(c.pick / 4) as usize % self.reversed.len()].clone()
                    }
                    _ => format!("NOPE{}", c.size),
                };
                EventKind::PaymentReversal {
                    reference,
                    reason: None,
                }
            }
            58..=65 => EventKind::Prepayment {
                amount: self.part(self.terms.principal / 8, c),
                adjust: if c.pick % 2 == 0 {
                    PrepaymentAdjust::ReduceEmi
                } else {
                    PrepaymentAdjust::ReduceTenure
                },
                reference: self.reference(c),
            },
            66..=72 => EventKind::Charge {
                kind: if c.pick % 2 == 0 {
                    ChargeKind::Bounce
                } else {
                    ChargeKind::Other
                },
                amount: i64::from(c.size % 900 + 100) * 100,
                reference: None,
            },
            73..=81 => {
                let (component, due) = match (c.pick % 2, self.state.as_ref()) {
                    (0, Some(s)) => (WaiverComponent::Charges, s.balances.charges_due),
                    (_, Some(s)) => (WaiverComponent::Interest, s.balances.interest_overdue),
                    (_, None) => (WaiverComponent::Charges, 0),
                };
                EventKind::Waiver {
                    component,
                    // Mostly within what was due on the business date, sometimes above it.
                    amount: self.part(due.max(1), c) / 2 + 1,
                }
            }
            82..=85 => EventKind::RateChange {
                annual_rate: Decimal::new(i64::from(c.size % 3_000), 2),
                keep: if c.pick % 2 == 0 {
                    RateChangeKeep::Emi
                } else {
                    RateChangeKeep::Tenure
                },
            },
            86..=87 => EventKind::WriteOff { reason: None },
            88..=92 => EventKind::Recovery {
                amount: self.part(emi, c),
                reference: if c.pick % 5 == 0 {
                    None
                } else {
                    Some(self.reference(c))
                },
            },
            93..=95 => {
                let quote = foreclosure_quote(&self.terms, &self.events, date).unwrap_or(0);
                EventKind::Settlement {
                    amount: self.part(quote.max(100), c) / 2,
                    reference: Some(self.reference(c)),
                }
            }
            _ => {
                let quote = foreclosure_quote(&self.terms, &self.events, date).unwrap_or(0);
                EventKind::Foreclosure {
                    amount: match c.pick % 4 {
                        0 => (quote - 1).max(1),
                        1 => quote.max(1) + i64::from(c.size),
                        _ => quote.max(1),
                    },
                    reference: Some(self.reference(c)),
                }
            }
        };
        Event { date, kind }
    }

    /// Offer one command: accepted only if the history with it is proven to replay.
    fn offer(&mut self, c: Command) {
        self.business_date = plus(self.business_date, c.gap);
        let event = self.event(c);
        let mut candidate = self.events.clone();
        candidate.push(event);
        match check_history(&self.terms, &candidate, self.business_date) {
            Ok(state) => {
                if let Some(EventKind::PaymentReversal { reference, .. }) =
                    candidate.last().map(|e| &e.kind)
                {
                    self.reversed.push(reference.clone());
                }
                self.events = candidate;
                self.state = Some(state);
                self.accepted += 1;
            }
            Err(_) => self.refused += 1,
        }
    }
}

/// Every receipt reference names one receipt; every reversal names one receipt dated on or
/// before it, and no receipt is reversed twice.
fn references_are_unique(events: &[Event]) -> Result<(), TestCaseError> {
    let mut receipts: HashMap<&str, Date> = HashMap::new();
    for e in events {
        if let Some(r) = e.kind.receipt_reference() {
            prop_assert!(
                receipts.insert(r, e.date).is_none(),
                "reference `{}` names two receipts: {:#?}",
                r,
                events
            );
        }
    }
    let mut reversed = HashSet::new();
    for e in events {
        if let EventKind::PaymentReversal { reference, .. } = &e.kind {
            let paid = receipts.get(reference.as_str());
            prop_assert!(
                paid.is_some_and(|d| *d <= e.date),
                "reversal of `{}` on {} names no earlier receipt",
                reference,
                e.date
            );
            prop_assert!(
                reversed.insert(reference.as_str()),
                "`{}` reversed twice",
                reference
            );
        }
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn accepted_commands_replay_on_every_date(
        terms in arb_terms(),
        commands in prop::collection::vec(arb_command(), 1..60),
        extra in 0i64..45,
    ) {
        let mut book = Book {
            business_date: terms.disbursement_date,
            terms,
            events: Vec::new(),
            offered: Vec::new(),
            reversed: Vec::new(),
            state: None,
            next: 0,
            accepted: 0,
            refused: 0,
        };
        for c in commands {
            book.offer(c);
        }
        references_are_unique(&book.events)?;
        let Some(first) = book.events.iter().map(|e| e.date).min() else {
            return Ok(());
        };
        let end = plus(book.business_date, extra);
        let mut day = first;
        while day <= end {
            if let Err(e) = replay(&book.terms, &book.events, day) {
                return Err(TestCaseError::fail(format!(
                    "an accepted history does not replay on {day}: {e}\nterms: {}\nevents: {:#?}",
                    book.terms.to_json(),
                    book.events
                )));
            }
            day = plus(day, 1);
        }
    }
}
