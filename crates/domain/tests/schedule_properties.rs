//! Invariants of the schedule engine over random valid terms.

use loanbook_domain::schedule::build;
use loanbook_domain::terms::{FeeCollection, InterestBasis, Terms};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

const METHODS: [&str; 7] = [
    "emi",
    "flat",
    "equal_principal",
    "interest_only",
    "bullet",
    "balloon",
    "step",
];
const FREQUENCIES: [&str; 6] = [
    "monthly",
    "weekly",
    "fortnightly",
    "quarterly",
    "half_yearly",
    "yearly",
];
const BASES: [&str; 5] = ["equal_periods", "act/365f", "act/act", "act/360", "30/360"];
const MODES: [&str; 4] = ["half_up", "half_even", "up", "down"];
const MULTIPLES: [&str; 4] = ["0.01", "0.05", "1", "10"];
const BROKEN: [&str; 4] = ["first_installment", "deduct", "installment_zero", "ignore"];
const MORATORIUM: [&str; 3] = ["pay", "capitalize", "defer"];

prop_compose! {
    fn terms_json()(
        method in 0..METHODS.len(),
        principal in 100_000_i64..5_000_000_000,
        rate_bp in 0u32..3_600,
        n in 1u32..=120,
        freq in 0..FREQUENCIES.len(),
        days in prop::option::of(1u32..=60),
        basis in 0..BASES.len(),
        mode in 0..MODES.len(),
        imode in 0..MODES.len(),
        multiple in 0..MULTIPLES.len(),
        disb_offset in 0i64..3_000,
        first_due_extra in prop::option::of(-10i64..20),
        broken in 0..BROKEN.len(),
        moratorium in prop::option::of((1u32..6, 0..MORATORIUM.len())),
        balloon_pct in 1i64..60,
        step in (1u32..13, -10i32..=15),
        fee in prop::option::of((0i64..50_000, 0..3usize)),
        tranche in prop::option::of((1i64..40, 1i64..40)),
    ) -> Value {
        let method = METHODS[method];
        let n = if method == "balloon" { n.max(2) } else { n };
        let d0 = jiff::civil::date(2020, 1, 1)
            .checked_add(jiff::Span::new().days(disb_offset))
            .unwrap();
        let mut t = json!({
            "currency": "INR",
            "principal": format!("{}.{:02}", principal / 100, principal % 100),
            "annual_rate": format!("{}.{:02}", rate_bp / 100, rate_bp % 100),
            "method": method,
            "installments": n,
            "frequency": match days { Some(d) if freq == 0 => json!({"days": d}), _ => json!(FREQUENCIES[freq]) },
            "disbursement_date": d0.to_string(),
            "interest_basis": BASES[basis],
            "rounding": {"installment": {"mode": MODES[mode], "multiple": MULTIPLES[multiple]},
                         "interest": MODES[imode]},
        });
        if BASES[basis] == "equal_periods" {
            t["broken_period"] = json!(BROKEN[broken]);
        }
        if let Some(extra) = first_due_extra {
            // A first due date around one month after disbursement: a broken period.
            let first = d0.checked_add(jiff::Span::new().days(30 + extra)).unwrap();
            if freq == 0 && days.is_none() {
                t["first_due_date"] = json!(first.to_string());
            }
        }
        if let Some((periods, kind)) = moratorium {
            if matches!(method, "emi" | "equal_principal" | "balloon" | "step") && periods < n {
                t["moratorium"] = json!({"periods": periods, "interest": MORATORIUM[kind]});
            }
        }
        if method == "balloon" {
            let b = principal * balloon_pct / 100;
            t["balloon"] = json!(format!("{}.{:02}", b / 100, b % 100));
        }
        if method == "step" {
            let (every, pct) = step;
            if n >= 2 {
                t["step"] = json!({"every": every.min(n - 1), "percent": pct.to_string()});
            } else {
                t["method"] = json!("emi");
            }
        }
        if let Some((amount, collect)) = fee {
            let amount = amount.min(principal / 4);
            let collect = ["deduct", "finance", "upfront"][collect];
            t["fees"] = json!([{
                "name": "processing",
                "amount": format!("{}.{:02}", amount / 100, amount % 100),
                "tax_percent": "18",
                "collect": collect,
            }]);
        }
        if let Some((days_in, pct)) = tranche {
            if matches!(method, "emi" | "equal_principal" | "interest_only") && n >= 3 {
                let date = d0.checked_add(jiff::Span::new().days(days_in)).unwrap();
                let amount = principal * pct / 100;
                t["tranches"] = json!([{"date": date.to_string(),
                    "amount": format!("{}.{:02}", amount / 100, amount % 100)}]);
            }
        }
        t
    }
}

fn parse(t: &Value) -> Option<Terms> {
    // A few random combinations break a cross-field rule (a tranche after the last due date); the
    // generator then simply moves on.
    Terms::from_json(&t.to_string()).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn schedule_invariants(t in terms_json()) {
        let Some(terms) = parse(&t) else { return Ok(()) };
        let s = build(&terms).map_err(|e| TestCaseError::fail(format!("{e} for {t}")))?;
        let financed: i64 = terms
            .fees
            .iter()
            .filter(|f| f.collect == FeeCollection::Finance)
            .map(|f| f.total_minor(terms.principal))
            .sum();
        let capitalised: i64 = s.installments.iter().map(|r| r.capitalised).sum();
        let principal_paid: i64 = s.installments.iter().map(|r| r.principal).sum();
        // Principal parts repay exactly what was financed plus what was capitalised.
        prop_assert_eq!(principal_paid, terms.principal + financed + capitalised, "{}", t);
        prop_assert_eq!(s.totals.principal, terms.principal + financed);
        prop_assert_eq!(s.totals.payable, s.totals.principal + s.totals.interest);
        for r in &s.installments {
            prop_assert!(r.principal >= 0 && r.interest >= 0 && r.balance >= 0, "{:?} in {}", r, t);
            prop_assert_eq!(r.total, r.principal + r.interest + r.fees);
        }
        prop_assert_eq!(s.installments.last().map(|r| r.balance), Some(0));
        // Due dates never go backwards.
        prop_assert!(s.installments.windows(2).all(|w| w[0].due_date <= w[1].due_date));
        // Deterministic.
        prop_assert_eq!(&build(&terms).unwrap(), &s);
    }

    #[test]
    fn apr_is_at_least_the_nominal_rate_when_fees_are_deducted(
        principal in 1_000_000_i64..1_000_000_000,
        rate_bp in 100u32..3_600,
        n in 2u32..=360,
        fee_bp in 1i64..500,
    ) {
        let fee = principal * fee_bp / 10_000;
        let t = json!({
            "currency": "INR",
            "principal": format!("{}.{:02}", principal / 100, principal % 100),
            "annual_rate": format!("{}.{:02}", rate_bp / 100, rate_bp % 100),
            "method": "emi", "installments": n, "frequency": "monthly",
            "disbursement_date": "2024-01-31",
            "fees": [{"name": "processing", "amount": format!("{}.{:02}", fee / 100, fee % 100)}],
        });
        let terms = Terms::from_json(&t.to_string()).unwrap();
        prop_assert_eq!(terms.interest_basis, InterestBasis::EqualPeriods);
        let s = build(&terms).unwrap();
        let nominal = Decimal::new(i64::from(rate_bp), 2);
        prop_assert!(s.apr >= nominal, "APR {} below nominal {} for {}", s.apr, nominal, t);
    }
}
