//! Properties of the loan engine over random terms and random event sequences: money is
//! conserved, nothing goes negative, every way of reaching a date gives the same state, a
//! back-dated event lands where its date puts it, a reversal undoes its payment, and co-lenders'
//! columns add up to the borrower's to the paisa.

use jiff::ToSpan;
use jiff::civil::Date;
use loanbook_domain::events::Event;
use loanbook_domain::loan::{Engine, LoanState, replay};
use loanbook_domain::terms::Terms;
use proptest::prelude::*;
use serde_json::{Value, json};

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// Terms from drawn parameters.
#[allow(clippy::too_many_arguments)]
fn make_terms(
    method: usize,
    principal: i64,
    rate_bp: u32,
    n: u32,
    penal: usize,
    partners: usize,
    allocation: usize,
) -> Terms {
    let methods = ["emi", "equal_principal", "interest_only", "balloon", "step"];
    let method = methods[method % methods.len()];
    let mut t = json!({
        "currency": "INR", "principal": money(principal),
        "annual_rate": format!("{}.{:02}", rate_bp / 100, rate_bp % 100),
        "method": method, "installments": n, "frequency": "monthly",
        "disbursement_date": "2024-01-10",
    });
    if method == "balloon" {
        t["balloon"] = json!(money(principal / 5));
    }
    if method == "step" {
        t["step"] = json!({"every": (n / 3).max(1), "percent": "5"});
    }
    match penal {
        1 => t["penal"] = json!({"per_missed_installment": "250.00"}),
        2 => t["penal"] = json!({"percent": "24"}),
        _ => {}
    }
    if partners > 0 {
        // Blended 80% × 10% + 20% × 18% = 11.6%: the borrower rate is kept at least that.
        let blended = 1160.max(rate_bp);
        t["annual_rate"] = json!(format!("{}.{:02}", blended / 100, blended % 100));
        t["partners"] = json!([
            {"id": "bank", "share": "80", "annual_rate": "10"},
            {"id": "nbfc", "share": "20", "annual_rate": "18"}
        ]);
        t["split"] = json!(if partners == 1 {
            "principal_pro_rata"
        } else {
            "collection_pro_rata"
        });
    }
    if allocation == 1 {
        t["allocation"] = json!({"order": ["charges", "interest", "principal"], "by": "component"});
    }
    Terms::from_json(&t.to_string()).unwrap_or_else(|e| panic!("{e}: {t}"))
}

/// One drawn operation: days after disbursement, kind, and a size in basis points of the EMI.
type Op = (i64, usize, u32);

fn date_plus(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).expect("date in range")
}

fn parse(t: &Terms, v: Value) -> Event {
    Event::from_json_value(&v, t.currency).unwrap_or_else(|e| panic!("{e}: {v}"))
}

/// Turn drawn operations into an accepted event list, as a service would: each candidate is
/// kept only if the engine accepts it after the ones already kept. Dates are distinct.
fn accepted_events(t: &Terms, ops: &[Op]) -> Vec<Event> {
    let d0 = t.disbursement_date;
    let emi = match loanbook_domain::schedule::build(t) {
        Ok(s) => s.installment_amount.max(100),
        Err(e) => panic!("{e}"),
    };
    let mut list = vec![parse(
        t,
        json!({"type": "disbursement", "date": d0.to_string(), "amount": money(t.principal)}),
    )];
    let mut used_days = std::collections::BTreeSet::new();
    let mut payments: Vec<(String, Date)> = Vec::new();
    let mut sorted: Vec<Op> = ops.to_vec();
    sorted.sort_by_key(|o| o.0);
    for (i, &(days, kind, size)) in sorted.iter().enumerate() {
        if !used_days.insert(days) {
            continue;
        }
        let date = date_plus(d0, days);
        let amount = money((emi * i64::from(size) / 10_000).max(1));
        let reference = format!("R{i}");
        let v = match kind {
            0..=3 => {
                json!({"type": "payment", "date": date.to_string(), "amount": amount, "reference": reference, "channel": "nach"})
            }
            4 => match payments.iter().rev().find(|(_, d)| *d <= date) {
                Some((r, _)) => {
                    json!({"type": "payment_reversal", "date": date.to_string(), "reference": r, "reason": "insufficient funds"})
                }
                None => continue,
            },
            5 => {
                json!({"type": "charge", "date": date.to_string(), "kind": "bounce", "amount": "500.00", "reference": reference})
            }
            6 => {
                json!({"type": "waiver", "date": date.to_string(), "component": "charges", "amount": "100.00"})
            }
            7 => {
                json!({"type": "prepayment", "date": date.to_string(), "amount": amount, "reference": reference,
                        "adjust": if size % 2 == 0 { "reduce_emi" } else { "reduce_tenure" }})
            }
            _ => json!({"type": "rate_change", "date": date.to_string(),
                        "annual_rate": format!("{}", 10 + size % 8), "keep": "tenure"}),
        };
        let e = parse(t, v);
        list.push(e);
        if replay(t, &list, date).is_err() {
            list.pop();
            continue;
        }
        if kind <= 3 {
            payments.push((reference, date));
        }
    }
    list
}

fn engine_at(t: &Terms, list: &[Event], as_of: Date) -> Engine {
    let mut e = Engine::new(t);
    e.run(t, list, as_of).unwrap_or_else(|err| panic!("{err}"));
    e
}

fn check_conservation(t: &Terms, e: &Engine, s: &LoanState) -> Result<(), TestCaseError> {
    let mut allocated_due = 0i64;
    for (reference, r) in &e.receipts {
        let lines: i64 = r.lines.iter().map(|l| l.amount).sum();
        let held: i64 = e
            .excess
            .iter()
            .filter(|(x, _)| x == reference)
            .map(|(_, a)| a)
            .sum();
        // Every rupee of a receipt is allocated, prepaid, or held as excess.
        prop_assert_eq!(r.amount, lines + r.prepaid + held, "receipt {}", reference);
        allocated_due += lines;
        for l in &r.lines {
            prop_assert!(l.amount > 0);
            if !t.partners.is_empty() {
                prop_assert_eq!(l.partner_parts.iter().sum::<i64>(), l.amount);
            }
        }
    }
    // What the dues and charges record as paid is exactly what the receipts allocated.
    let paid: i64 = e
        .dues
        .iter()
        .map(|d| d.paid_principal + d.paid_interest)
        .sum::<i64>()
        + e.charges.iter().map(|c| c.paid).sum::<i64>();
    prop_assert_eq!(paid, allocated_due);
    prop_assert_eq!(
        s.balances.excess,
        e.excess.iter().map(|(_, a)| a).sum::<i64>()
    );

    // Nothing negative.
    let b = &s.balances;
    for v in [
        b.principal_outstanding,
        b.principal_overdue,
        b.interest_overdue,
        b.interest_accrued,
        b.interest_suspended,
        b.charges_due,
        b.penal_accrued,
        b.excess,
        s.total_overdue,
        s.foreclosure_amount,
    ] {
        prop_assert!(v >= 0, "negative balance in {:?}", b);
    }
    for i in &s.installments {
        prop_assert!(
            i.principal >= 0 && i.interest >= 0 && i.paid >= 0 && i.paid <= i.total,
            "{:?}",
            i
        );
    }
    for d in &e.dues {
        prop_assert!(
            d.unpaid_principal() >= 0 && d.unpaid_interest() >= 0,
            "{:?}",
            d
        );
    }
    for c in &e.charges {
        prop_assert!(c.unpaid() >= 0, "{:?}", c);
    }

    // Co-lenders: each column adds up to the borrower's figure exactly.
    if !t.partners.is_empty() {
        let sum = |f: fn(&loanbook_domain::loan::PartnerState) -> i64| {
            s.partners.iter().map(f).sum::<i64>()
        };
        let principal_received: i64 =
            e.dues.iter().map(|d| d.paid_principal).sum::<i64>() + e.prepaid;
        let interest_received: i64 = e.dues.iter().map(|d| d.paid_interest).sum();
        let charges_received: i64 = e.charges.iter().map(|c| c.paid).sum();
        prop_assert_eq!(sum(|p| p.principal_received), principal_received);
        prop_assert_eq!(sum(|p| p.interest_received), interest_received);
        prop_assert_eq!(sum(|p| p.charges_received), charges_received);
        prop_assert_eq!(sum(|p| p.principal_outstanding), b.principal_outstanding);
        for p in &s.partners {
            prop_assert!(
                p.principal_outstanding >= 0 && p.interest_received >= 0,
                "{:?}",
                p
            );
        }
    }
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec((1i64..420, 0usize..9, 1u32..25_000), 0..24)
}

fn terms_strategy() -> impl Strategy<Value = Terms> {
    (
        0usize..5,
        1_000_000i64..500_000_000,
        0u32..3_000,
        3u32..13,
        0usize..3,
        0usize..3,
        0usize..2,
    )
        .prop_map(|(m, p, r, n, penal, partners, alloc)| {
            make_terms(m, p, r, n, penal, partners, alloc)
        })
}

proptest! {
    // 128 cases by default; PROPTEST_CASES=N asks for more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        .. ProptestConfig::default()
    })]

    #[test]
    fn money_is_conserved_and_nothing_goes_negative(t in terms_strategy(), ops in ops(), extra in 0i64..200) {
        let list = accepted_events(&t, &ops);
        let last = list.iter().map(|e| e.date).max().unwrap_or(t.disbursement_date);
        for as_of in [last, date_plus(last, extra)] {
            let e = engine_at(&t, &list, as_of);
            let s = LoanState::new(&t, &e, as_of);
            check_conservation(&t, &e, &s)?;
        }
    }

    #[test]
    fn full_incremental_and_snapshot_replays_agree(t in terms_strategy(), ops in ops(), cuts in prop::collection::vec(0i64..500, 1..4)) {
        let list = accepted_events(&t, &ops);
        let end = date_plus(t.disbursement_date, 500);
        let full = replay(&t, &list, end).unwrap_or_else(|e| panic!("{e}"));

        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut engine = Engine::new(&t);
        for &c in &cuts {
            engine.run(&t, &list, date_plus(t.disbursement_date, c)).unwrap_or_else(|e| panic!("{e}"));
        }
        // A snapshot taken at the last cut, stored as JSON and read back, resumes to the same state.
        let stored = serde_json::to_string(&engine).unwrap_or_else(|e| panic!("{e}"));
        let snapshot: Engine = serde_json::from_str(&stored).unwrap_or_else(|e| panic!("{e}"));
        let resumed = snapshot.resume(&t, &list, end).unwrap_or_else(|e| panic!("{e}"));
        engine.run(&t, &list, end).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(&LoanState::new(&t, &engine, end), &full);
        prop_assert_eq!(&LoanState::new(&t, &resumed, end), &full);
        prop_assert_eq!(&engine, &resumed);
    }

    #[test]
    fn a_back_dated_event_lands_at_its_value_date(t in terms_strategy(), ops in ops(), pick in any::<prop::sample::Index>()) {
        let list = accepted_events(&t, &ops);
        prop_assume!(list.len() > 2);
        // Record one event (not the disbursement) last, as if it had been posted late.
        let i = 1 + pick.index(list.len() - 1);
        let mut late = list.clone();
        let e = late.remove(i);
        late.push(e);
        let end = date_plus(t.disbursement_date, 450);
        prop_assert_eq!(replay(&t, &late, end).map_err(|e| e.to_string()), replay(&t, &list, end).map_err(|e| e.to_string()));
    }

    #[test]
    fn reversing_a_payment_restores_the_state_without_it(
        t in terms_strategy(), ops in ops(), pay_day in 1i64..380, size in 1u32..30_000, later in 0i64..40,
    ) {
        let base = accepted_events(&t, &ops);
        let pay_date = date_plus(t.disbursement_date, pay_day);
        let reverse_date = date_plus(pay_date, later);
        let amount = money(i64::from(size) * 100);
        let mut with = base.clone();
        with.push(parse(&t, json!({"type": "payment", "date": pay_date.to_string(), "amount": amount, "reference": "PX"})));
        with.push(parse(&t, json!({"type": "payment_reversal", "date": reverse_date.to_string(), "reference": "PX"})));
        let as_of = date_plus(reverse_date, 1);
        let (Ok(a), Ok(b)) = (replay(&t, &with, as_of), replay(&t, &base, as_of)) else {
            // The base list may hold events that refuse to follow the extra payment (a prepayment
            // whose principal it already cleared, say); that case says nothing about reversal.
            return Ok(());
        };
        // From the reversal's date on, the loan reads as if the payment never came: the same
        // instalments, balances, penal charges, class history and partner columns. Only the count
        // of events differs.
        let mut a = a;
        prop_assert_eq!(a.events_applied, b.events_applied + 2);
        a.events_applied = b.events_applied;
        prop_assert_eq!(a, b);
    }
}
