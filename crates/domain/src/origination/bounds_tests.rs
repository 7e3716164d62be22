use super::*;
use crate::terms::{Moratorium, MoratoriumInterest};

pub(crate) fn terms(principal: &str, rate: &str, installments: u32) -> Terms {
    let doc = serde_json::json!({
        "currency": "INR", "principal": principal, "annual_rate": rate, "method": "emi",
        "installments": installments, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "fees": [{"name": "processing", "percent": "2", "tax_percent": "18"}]
    });
    Terms::from_json(&doc.to_string()).unwrap()
}

fn bounds() -> Bounds {
    Bounds {
        amount: Some(Range {
            min: 1_000_000,
            max: 50_000_000,
        }),
        installments: Some(Range { min: 6, max: 60 }),
        methods: vec![Method::Emi],
        frequencies: vec![Frequency::Monthly],
        rate: Some(RatePolicy::Fixed {
            min: "10.5".parse().unwrap(),
            max: Decimal::from(24),
        }),
        max_moratorium_periods: Some(3),
        max_fee_percent: Some(Decimal::from(2)),
        amount_step: None,
    }
}

fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
    errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
}

#[test]
fn terms_within_every_bound_pass_at_the_edges() {
    let b = bounds();
    for (p, r, n) in [
        ("10000.00", "10.5", 6),
        ("500000.00", "24", 60),
        ("250000", "12", 24),
    ] {
        assert!(b.check(&terms(p, r, n)).is_empty(), "{p} {r} {n}");
    }
}

#[test]
fn the_amount_bound_names_itself_in_rupees() {
    let b = bounds();
    for p in ["9999.99", "500000.01"] {
        let e = b.check(&terms(p, "12", 12));
        assert_eq!(codes(&e), vec![("terms.principal", "bounds.amount")]);
        assert_eq!(e[0].rule, "must be between ₹10,000.00 and ₹5,00,000.00");
    }
}

#[test]
fn each_bound_fails_just_past_its_edge() {
    let b = bounds();
    let e = b.check(&terms("20000", "12", 5));
    assert_eq!(
        codes(&e),
        vec![("terms.installments", "bounds.installments")]
    );
    assert_eq!(e[0].rule, "must be between 6 and 60");
    let e = b.check(&terms("20000", "12", 61));
    assert_eq!(
        codes(&e),
        vec![("terms.installments", "bounds.installments")]
    );

    let e = b.check(&terms("20000", "10.49", 12));
    assert_eq!(codes(&e), vec![("terms.annual_rate", "bounds.rate")]);
    assert_eq!(e[0].rule, "must be between 10.5% and 24%");
    let e = b.check(&terms("20000", "24.01", 12));
    assert_eq!(codes(&e), vec![("terms.annual_rate", "bounds.rate")]);

    let mut t = terms("20000", "12", 12);
    t.method = Method::Flat;
    t.frequency = Frequency::Weekly;
    t.moratorium = Some(Moratorium {
        periods: 4,
        interest: MoratoriumInterest::Pay,
    });
    let e = b.check(&t);
    assert_eq!(
        codes(&e),
        vec![
            ("terms.method", "bounds.method"),
            ("terms.frequency", "bounds.frequency"),
            ("terms.moratorium.periods", "bounds.moratorium"),
        ]
    );
    assert_eq!(e[0].rule, "must be one of emi");
    assert_eq!(e[1].rule, "must be one of monthly");
    assert_eq!(e[2].rule, "must be at most 3 periods");
    t.moratorium = Some(Moratorium {
        periods: 3,
        interest: MoratoriumInterest::Pay,
    });
    assert_eq!(b.check(&t).len(), 2);
}

#[test]
fn fees_are_measured_before_tax() {
    let mut b = bounds();
    // 2% processing fee: exactly the cap (the 18% tax does not count).
    assert!(b.check(&terms("20000", "12", 12)).is_empty());
    b.max_fee_percent = Some("1.99".parse().unwrap());
    let e = b.check(&terms("20000", "12", 12));
    assert_eq!(codes(&e), vec![("terms.fees", "bounds.fees")]);
    assert!(e[0].rule.contains("they are 2%"), "{}", e[0].rule);
}

#[test]
fn a_floating_rate_is_the_benchmark_plus_the_spread() {
    let b = Bounds {
        rate: Some(RatePolicy::Floating {
            benchmark: "repo".into(),
            benchmark_rate: "5.5".parse().unwrap(),
            spread: "3.25".parse().unwrap(),
            reset_months: 3,
        }),
        ..Bounds::default()
    };
    assert_eq!(b.rate(), Some("8.75".parse().unwrap()));
    assert!(b.check(&terms("20000", "8.75", 12)).is_empty());
    let e = b.check(&terms("20000", "8.76", 12));
    assert_eq!(codes(&e), vec![("terms.annual_rate", "bounds.rate")]);
    assert_eq!(
        e[0].rule,
        "must be the benchmark repo at 5.5% plus the spread 3.25%: 8.75%"
    );
    assert_eq!(bounds().rate(), None);
    assert_eq!(Bounds::default().rate(), None);
}

#[test]
fn no_bounds_allow_anything() {
    assert!(
        Bounds::default()
            .check(&terms("99999999", "99", 600))
            .is_empty()
    );
    assert!(Bounds::default().validate("bounds").is_empty());
    assert!(bounds().validate("bounds").is_empty());
}

#[test]
fn amounts_display_with_indian_grouping() {
    let cases = [
        (0, "₹0.00"),
        (99_999, "₹999.99"),
        (100_000, "₹1,000.00"),
        (10_000_000, "₹1,00,000.00"),
        (1_234_567_890, "₹1,23,45,678.90"),
        (-50_000, "-₹500.00"),
    ];
    for (minor, text) in cases {
        assert_eq!(display_amount(minor, Currency::INR), text);
    }
    assert_eq!(
        display_amount(123_456_789, Currency::USD),
        "USD 1,234,567.89"
    );
    assert_eq!(display_amount(1_000, Currency::JPY), "JPY 1,000");
}
