use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub(crate) fn facts() -> Facts {
    Facts {
        bureau_score: Some(720),
        max_dpd_12m: 0,
        existing_emi: 1_000_000,
        monthly_income: 8_000_000,
        proposed_emi: 2_204_284,
        age_years: 30,
        age_at_maturity_years: 35,
        ltv_percent: Some(d("70")),
        bounced_debits: 0,
        enquiries_6m: 1,
    }
}

fn only(rules: Eligibility, facts: &Facts) -> RuleResult {
    let mut r = rules.evaluate(facts);
    assert_eq!(r.len(), 1);
    r.remove(0)
}

#[test]
fn foir_is_obligations_over_income() {
    // (10,000 + 22,042.84) / 80,000 = 40.0535… → 40.05
    assert_eq!(foir_percent(&facts()), Some(d("40.05")));
    let mut f = facts();
    f.existing_emi = 0;
    f.proposed_emi = 1;
    f.monthly_income = 200; // 0.5% exactly
    assert_eq!(foir_percent(&f), Some(d("0.5")));
    f.proposed_emi = 1;
    f.monthly_income = 80_000; // 0.00125% → 0.00
    assert_eq!(foir_percent(&f), Some(d("0")));
    f.proposed_emi = 4;
    f.monthly_income = 80_000; // 0.005% → half-up 0.01
    assert_eq!(foir_percent(&f), Some(d("0.01")));
    f.monthly_income = 0;
    assert_eq!(foir_percent(&f), None);
    f.monthly_income = -5;
    assert_eq!(foir_percent(&f), None);
}

#[test]
fn bureau_score_passes_at_its_minimum() {
    let rule = |allow| Eligibility {
        min_bureau_score: Some(720),
        allow_no_bureau_history: allow,
        ..Eligibility::default()
    };
    let r = only(rule(false), &facts());
    assert!(r.passed, "{}", r.reason);
    assert_eq!(r.rule, "min_bureau_score");
    assert_eq!(r.threshold, "720");
    assert_eq!(r.inputs["bureau_score"], "720");
    assert_eq!(r.reason, "bureau score 720 is at least the minimum 720");
    let mut f = facts();
    f.bureau_score = Some(719);
    let r = only(rule(false), &f);
    assert!(!r.passed);
    assert_eq!(r.reason, "bureau score 719 is below the minimum 720");
    assert_eq!(r.code(), "eligibility.min_bureau_score");
    f.bureau_score = None;
    assert!(!only(rule(false), &f).passed);
    assert!(only(rule(true), &f).passed);
}

#[test]
fn foir_passes_at_its_maximum() {
    let rule = |max: &str| Eligibility {
        max_foir_percent: Some(d(max)),
        ..Eligibility::default()
    };
    let r = only(rule("40.05"), &facts());
    assert!(r.passed, "{}", r.reason);
    assert_eq!(
        r.reason,
        "obligations of ₹32,042.84 against income of ₹80,000.00 give a FOIR of 40.05%, within the maximum 40.05%"
    );
    assert_eq!(r.inputs["proposed_emi"], "22042.84");
    let r = only(rule("40.04"), &facts());
    assert!(!r.passed);
    assert!(
        r.reason.contains("above the maximum 40.04%"),
        "{}",
        r.reason
    );
    let mut f = facts();
    f.monthly_income = 0;
    assert!(!only(rule("50"), &f).passed);
}

#[test]
fn ages_pass_at_their_limits() {
    let min = |a| Eligibility {
        min_age: Some(a),
        ..Eligibility::default()
    };
    assert!(only(min(30), &facts()).passed);
    assert!(!only(min(31), &facts()).passed);
    let max = |a| Eligibility {
        max_age_at_maturity: Some(a),
        ..Eligibility::default()
    };
    assert!(only(max(35), &facts()).passed);
    let r = only(max(34), &facts());
    assert!(!r.passed);
    assert_eq!(r.reason, "age at maturity 35 is above the maximum 34");
}

#[test]
fn income_ltv_and_dpd_pass_at_their_limits() {
    let income = |m| Eligibility {
        min_monthly_income: Some(m),
        ..Eligibility::default()
    };
    assert!(only(income(8_000_000), &facts()).passed);
    let r = only(income(8_000_001), &facts());
    assert!(!r.passed);
    assert_eq!(
        r.reason,
        "monthly income ₹80,000.00 is below the minimum ₹80,000.01"
    );

    let ltv = |m: &str| Eligibility {
        max_ltv_percent: Some(d(m)),
        ..Eligibility::default()
    };
    assert!(only(ltv("70"), &facts()).passed);
    assert!(!only(ltv("69.99"), &facts()).passed);
    let mut f = facts();
    f.ltv_percent = None;
    assert!(!only(ltv("75"), &f).passed);

    let dpd = |m| Eligibility {
        max_dpd_12m: Some(m),
        ..Eligibility::default()
    };
    f.max_dpd_12m = 30;
    assert!(only(dpd(30), &f).passed);
    assert!(!only(dpd(29), &f).passed);
}

#[test]
fn every_rule_is_evaluated_and_coded() {
    let all = Eligibility {
        min_bureau_score: Some(900),
        max_foir_percent: Some(d("10")),
        min_age: Some(99),
        max_age_at_maturity: Some(20),
        min_monthly_income: Some(i64::MAX),
        max_ltv_percent: Some(d("1")),
        max_dpd_12m: Some(0),
        allow_no_bureau_history: false,
    };
    let mut f = facts();
    f.max_dpd_12m = 1;
    let results = all.evaluate(&f);
    assert_eq!(results.len(), 7);
    for r in &results {
        assert!(!r.passed, "{}", r.rule);
        assert!(
            crate::terms::rules::meaning(&r.code()).is_some(),
            "{}",
            r.code()
        );
    }
    assert!(Eligibility::default().evaluate(&f).is_empty());
}

#[test]
fn ltv_and_age_arithmetic() {
    assert_eq!(ltv_percent(7_500_000, 10_000_000), Some(d("75")));
    assert_eq!(ltv_percent(1, 3), Some(d("33.33")));
    assert_eq!(ltv_percent(2, 3), Some(d("66.67")));
    assert_eq!(ltv_percent(1, 0), None);
    let date = |y, m, d| Date::new(y, m, d).unwrap();
    assert_eq!(age_on(date(1990, 6, 15), date(2024, 6, 14)), 33);
    assert_eq!(age_on(date(1990, 6, 15), date(2024, 6, 15)), 34);
    assert_eq!(age_on(date(2000, 2, 29), date(2001, 2, 28)), 0);
    assert_eq!(age_on(date(2000, 2, 29), date(2001, 3, 1)), 1);
    assert_eq!(age_on(date(2030, 1, 1), date(2024, 1, 1)), 0);
}

#[test]
fn facts_read_and_write_money_as_decimal_strings() {
    let f = facts();
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v["proposed_emi"], "22042.84");
    assert_eq!(v["ltv_percent"], "70");
    let back: Facts = serde_json::from_value(v).unwrap();
    assert_eq!(back, f);
}

#[test]
fn validation_names_broken_rules() {
    let e = Eligibility {
        min_bureau_score: Some(250),
        max_foir_percent: Some(d("101")),
        min_age: Some(60),
        max_age_at_maturity: Some(58),
        ..Eligibility::default()
    }
    .validate("eligibility");
    let got: Vec<(&str, &str)> = e.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        got,
        vec![
            ("eligibility.min_bureau_score", "eligibility.bureau_score"),
            ("eligibility.max_foir_percent", "rate.range"),
            ("eligibility.max_age_at_maturity", "eligibility.age"),
        ]
    );
}
