use super::*;
use crate::origination::bounds::{Bounds, Range};
use crate::origination::eligibility::Eligibility;
use proptest::prelude::*;

fn base(principal: &str, rate: &str, installments: u32) -> Terms {
    let doc = serde_json::json!({
        "currency": "INR", "principal": principal, "annual_rate": rate, "method": "emi",
        "installments": installments, "frequency": "monthly", "disbursement_date": "2024-01-01"
    });
    Terms::from_json(&doc.to_string()).unwrap()
}

fn facts(income: i64, existing: i64) -> Facts {
    Facts {
        bureau_score: Some(750),
        monthly_income: income,
        existing_emi: existing,
        age_years: 30,
        age_at_maturity_years: 30,
        ..Facts::default()
    }
}

fn policy(foir: &str, amount: (i64, i64), tenure: (u32, u32)) -> ProductPolicy {
    ProductPolicy {
        bounds: Bounds {
            amount: Some(Range {
                min: amount.0,
                max: amount.1,
            }),
            installments: Some(Range {
                min: tenure.0,
                max: tenure.1,
            }),
            ..Bounds::default()
        },
        eligibility: Some(Eligibility {
            max_foir_percent: Some(foir.parse().unwrap()),
            max_age_at_maturity: Some(60),
            ..Eligibility::default()
        }),
        ..ProductPolicy::open()
    }
}

/// Re-evaluate a loan from scratch with the public rules: valid terms, within the bounds, every
/// eligibility rule passing with the instalment of `schedule::build`.
fn eligible(
    p: &ProductPolicy,
    base: &Terms,
    f: &Facts,
    principal: i64,
    n: u32,
    collateral: Option<i64>,
    birth: Option<Date>,
) -> bool {
    let mut t = base.clone();
    t.principal = principal;
    t.installments = n;
    if let Some(r) = p.bounds.rate() {
        t.annual_rate = r;
    }
    let Ok(t) = Terms::parse(&t.to_doc()) else {
        return false;
    };
    if !p.bounds.check(&t).is_empty() {
        return false;
    }
    let Ok(s) = schedule::build(&t) else {
        return false;
    };
    let mut f = f.clone();
    f.proposed_emi = s.installment_amount;
    if let Some(b) = birth {
        f.age_at_maturity_years = age_on(b, s.installments.last().unwrap().due_date);
    }
    if let Some(c) = collateral {
        f.ltv_percent = ltv_percent(principal, c);
    }
    p.eligibility
        .as_ref()
        .is_none_or(|e| e.evaluate(&f).iter().all(|r| r.passed))
}

#[test]
fn foir_limits_the_amount_to_the_rupee() {
    // Income ₹50,000, existing EMI ₹5,000, FOIR 50%: the new EMI may be up to ₹20,000.
    let p = policy("50", (1_000_000, 100_000_000), (12, 12));
    let f = facts(5_000_000, 500_000);
    let o = offer(&p, &base("100000", "12", 12), &f, None, None).unwrap();
    assert_eq!(o.installments, 12);
    assert_eq!(o.principal % 100, 0);
    assert!(eligible(
        &p,
        &base("1", "12", 12),
        &f,
        o.principal,
        12,
        None,
        None
    ));
    assert!(!eligible(
        &p,
        &base("1", "12", 12),
        &f,
        o.principal + 100,
        12,
        None,
        None
    ));
    // FOIR is read at 2 decimal places: an EMI of ₹20,002.44 gives (5,000 + 20,002.44) / 50,000
    // = 50.0049%, which is 50.00%; PMT(1%, 12) on ₹2,25,129 is that EMI.
    assert_eq!((o.principal, o.installment_amount), (22_512_900, 2_000_244));
    assert_eq!(
        o.limited_by,
        vec!["eligibility.max_foir_percent", "bounds.installments"]
    );
    assert_eq!(o.annual_rate, Decimal::from(12));
}

#[test]
fn the_amount_bound_caps_the_offer_and_the_tenure_is_the_shortest_that_reaches_it() {
    let p = policy("50", (1_000_000, 20_000_000), (6, 60));
    let f = facts(5_000_000, 0);
    let o = offer(&p, &base("100000", "12", 24), &f, None, None).unwrap();
    assert_eq!(o.principal, 20_000_000);
    assert!(o.limited_by.contains(&"bounds.amount".to_owned()), "{o:?}");
    // ₹2,00,000 at 12% needs an EMI ≤ ₹25,000: 9 months is ₹23,486.44, 8 months ₹26,138.07.
    assert_eq!(o.installments, 9);
    assert!(!eligible(
        &p,
        &base("1", "12", 9),
        &f,
        20_000_000,
        8,
        None,
        None
    ));
}

#[test]
fn age_at_maturity_limits_the_tenure() {
    let p = policy("40", (1_000_000, 1_000_000_000), (12, 240));
    let f = facts(10_000_000, 0);
    // Born 1966-06-15, at most 60 at maturity: a monthly loan from 2024-01-01 may last fall due
    // on 2027-06-01 (still 60, instalment 41), not 2027-07-01 (61).
    let birth = Date::new(1966, 6, 15).unwrap();
    let o = offer(&p, &base("100000", "12", 24), &f, None, Some(birth)).unwrap();
    assert_eq!(o.installments, 41, "{o:?}");
    assert!(
        o.limited_by
            .contains(&"eligibility.max_age_at_maturity".to_owned())
    );
    assert!(eligible(
        &p,
        &base("1", "12", 24),
        &f,
        o.principal,
        41,
        None,
        Some(birth)
    ));
    assert!(!eligible(
        &p,
        &base("1", "12", 24),
        &f,
        o.principal,
        42,
        None,
        Some(birth)
    ));
}

#[test]
fn ltv_caps_the_amount_on_the_collateral() {
    let mut p = policy("90", (100_000, 100_000_000), (12, 12));
    p.eligibility.as_mut().unwrap().max_ltv_percent = Some(Decimal::from(75));
    p.bounds.amount_step = Some(100_000);
    let f = facts(100_000_000, 0);
    let o = offer(&p, &base("1000", "12", 12), &f, Some(10_000_000), None).unwrap();
    // 75% of ₹1,00,000 in steps of ₹1,000.
    assert_eq!(o.principal, 7_500_000);
    assert_eq!(o.limited_by, vec!["eligibility.max_ltv_percent"]);
}

#[test]
fn nothing_eligible_gives_no_offer() {
    let mut p = policy("50", (1_000_000, 100_000_000), (12, 24));
    // Existing obligations already take 60% of income.
    assert!(
        offer(
            &p,
            &base("100000", "12", 12),
            &facts(5_000_000, 3_000_000),
            None,
            None
        )
        .is_none()
    );
    // A rule no amount can change.
    p.eligibility.as_mut().unwrap().min_bureau_score = Some(800);
    assert!(
        offer(
            &p,
            &base("100000", "12", 12),
            &facts(5_000_000, 0),
            None,
            None
        )
        .is_none()
    );
    // Too old for the shortest tenure.
    let p = policy("50", (1_000_000, 100_000_000), (12, 24));
    let birth = Date::new(1960, 1, 1).unwrap();
    assert!(
        offer(
            &p,
            &base("100000", "12", 12),
            &facts(5_000_000, 0),
            None,
            Some(birth)
        )
        .is_none()
    );
}

#[test]
fn a_floating_product_offers_at_its_rate() {
    let mut p = policy("50", (1_000_000, 100_000_000), (12, 12));
    p.bounds.rate = Some(crate::origination::bounds::RatePolicy::Floating {
        benchmark: "repo".into(),
        benchmark_rate: "5.5".parse().unwrap(),
        spread: "4.5".parse().unwrap(),
        reset_months: 3,
    });
    let o = offer(
        &p,
        &base("100000", "15", 12),
        &facts(5_000_000, 0),
        None,
        None,
    )
    .unwrap();
    assert_eq!(o.annual_rate, Decimal::from(10));
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["annual_rate"], "10");
    assert!(json["principal"].as_str().unwrap().ends_with(".00"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn the_offer_is_eligible_and_one_step_more_is_not(
        income in 1_000_000i64..50_000_000,
        existing_pct in 0i64..60,
        foir in 20u32..70,
        rate in 8u32..30,
        n_min in 3u32..36,
        n_span in 0u32..48,
        min in 100_000i64..5_000_000,
        span in 0i64..200_000_000,
        step in prop_oneof![Just(None), Just(Some(100_000i64)), Just(Some(50_000i64))],
        collateral in prop_oneof![Just(None), (5_000_000i64..300_000_000).prop_map(Some)],
        birth_year in 1960i16..2000,
        method in prop_oneof![Just("emi"), Just("flat"), Just("equal_principal")],
        fee in prop_oneof![Just(None), Just(Some("1.5")), Just(Some("2000.00"))],
    ) {
        let mut p = policy(&foir.to_string(), (min, min + span), (n_min, n_min + n_span));
        p.bounds.amount_step = step;
        if collateral.is_some() {
            p.eligibility.as_mut().unwrap().max_ltv_percent = Some(Decimal::from(80));
        }
        let birth = Some(Date::new(birth_year, 3, 10).unwrap());
        let f = facts(income, income * existing_pct / 100);
        let mut doc = base("50000", &rate.to_string(), n_min).to_doc();
        doc.method = serde_json::from_value(serde_json::json!(method)).unwrap();
        if let Some(fee) = fee {
            let kind = if fee.contains('.') && fee.len() > 4 { "amount" } else { "percent" };
            doc.fees = serde_json::from_value(serde_json::json!([{"name": "processing", kind: fee}])).unwrap();
        }
        let b = Terms::parse(&doc).unwrap();
        let step = step.unwrap_or(100);
        match offer(&p, &b, &f, collateral, birth) {
            Some(o) => {
                prop_assert!(eligible(&p, &b, &f, o.principal, o.installments, collateral, birth), "{:?}", o);
                prop_assert!(!eligible(&p, &b, &f, o.principal + step, o.installments, collateral, birth), "{:?}", o);
                prop_assert_eq!(o.principal % step, 0);
                prop_assert!(!o.limited_by.is_empty());
            }
            None => {
                // No loan at the shortest tenure is eligible, however large.
                for k in 0..=8 {
                    let a = (min + span * k / 8 + step - 1) / step * step;
                    prop_assert!(!eligible(&p, &b, &f, a, n_min, collateral, birth), "{}", a);
                }
            }
        }
    }
}

/// co-lending.md §4: ₹10,00,000 over 60 months at the blended 11.6% has an EMI of ₹22,042.84.
#[test]
fn the_reference_loan_is_offered_with_its_emi() {
    let mut p = policy("50", (1_000_000, 100_000_000), (60, 60));
    p.bounds.rate = Some(crate::origination::bounds::RatePolicy::Fixed {
        min: Decimal::from(10),
        max: Decimal::from(18),
    });
    // Income ₹44,085.68: 50% of it is exactly the reference EMI.
    let f = facts(4_408_568, 0);
    let o = offer(&p, &base("100000", "11.6", 60), &f, None, None).unwrap();
    assert_eq!(
        (o.principal, o.installment_amount),
        (100_000_000, 2_204_284)
    );
    assert_eq!(o.limited_by, vec!["bounds.amount"]);
    // On ₹44,080.00 the reference EMI is a FOIR of 50.0064%, read as 50.01%: the offer drops by
    // whole rupees.
    let o = offer(
        &p,
        &base("100000", "11.6", 60),
        &facts(4_408_000, 0),
        None,
        None,
    )
    .unwrap();
    assert!(
        o.principal < 100_000_000 && o.principal > 99_990_000,
        "{o:?}"
    );
    assert_eq!(
        o.limited_by,
        vec!["eligibility.max_foir_percent", "bounds.installments"]
    );
}

#[test]
fn a_fixed_fee_larger_than_the_smallest_loan_does_not_hide_the_offer() {
    let p = policy("50", (100_000, 100_000_000), (12, 12));
    let mut doc = base("100000", "12", 12).to_doc();
    doc.fees =
        serde_json::from_value(serde_json::json!([{"name": "processing", "amount": "5000.00"}]))
            .unwrap();
    let b = Terms::parse(&doc).unwrap();
    let f = facts(5_000_000, 0);
    let o = offer(&p, &b, &f, None, None).unwrap();
    assert!(o.principal > 500_000, "{o:?}");
    assert!(eligible(&p, &b, &f, o.principal, 12, None, None));
    assert!(!eligible(&p, &b, &f, o.principal + 100, 12, None, None));
    // ₹5,000 of fees cannot come out of a ₹1,000 loan.
    assert!(!eligible(&p, &b, &f, 100_000, 12, None, None));
}
