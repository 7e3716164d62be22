use super::*;
use rust_decimal::Decimal;

const RBI: &str = r#"{
    "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
    "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01",
    "fees": [{"name": "processing", "amount": "400.00"}]
}"#;

fn errors(json: &str) -> Vec<String> {
    match Terms::from_json(json) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn with(field: &str, value: serde_json::Value) -> String {
    let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
    v[field] = value;
    v.to_string()
}

#[test]
fn parses_the_rbi_example() {
    let t = Terms::from_json(RBI).unwrap();
    assert_eq!(t.principal, 2_000_000);
    assert_eq!(t.annual_rate, Decimal::from(15));
    assert_eq!(t.installments, 24);
    assert_eq!(t.fees[0].total_minor(t.principal), 40_000);
    assert_eq!(t.fees[0].collect, FeeCollection::Deduct);
    assert_eq!(t.interest_basis, InterestBasis::EqualPeriods);
}

#[test]
fn canonical_json_round_trips() {
    let t = Terms::from_json(RBI).unwrap();
    let again = Terms::from_json(&t.to_json()).unwrap();
    assert_eq!(t, again);
    assert_eq!(t.to_json(), again.to_json());
}

#[test]
fn each_rule_names_its_field() {
    let cases = [
        (
            with("installments", 0.into()),
            "installments: must be between 1 and 600",
        ),
        (
            with("installments", 601.into()),
            "installments: must be between 1 and 600",
        ),
        (
            with("principal", "-5.00".into()),
            "principal: must be greater than zero",
        ),
        (
            with("principal", "1.234".into()),
            "principal: must be a decimal amount",
        ),
        (
            with("principal", "abc".into()),
            "principal: must be a decimal amount",
        ),
        (
            with("annual_rate", "101".into()),
            "annual_rate: must be between 0 and 100",
        ),
        (
            with("annual_rate", "1e2".into()),
            "annual_rate: `1e2` is not a decimal number",
        ),
        (with("currency", "XYZ".into()), "currency: unknown currency"),
        (
            with("first_due_date", "2023-12-01".into()),
            "first_due_date: must be after",
        ),
        (
            with("balloon", "100.00".into()),
            "balloon: is only for method balloon",
        ),
    ];
    for (json, expected) in cases {
        let errs = errors(&json);
        assert!(
            errs.iter().any(|e| e.starts_with(expected)),
            "{expected:?} not in {errs:?}"
        );
    }
}

#[test]
fn type_errors_name_the_path() {
    let errs = errors(&with("method", "annuity".into()));
    assert!(
        errs[0].starts_with("method: unknown variant `annuity`"),
        "{errs:?}"
    );
    let errs = errors(&with("disbursement_date", "2024-02-30".into()));
    assert!(errs[0].starts_with("disbursement_date:"), "{errs:?}");
    let errs = errors(&with("principal", 20000.into()));
    assert!(errs[0].starts_with("principal: invalid type"), "{errs:?}");
    let errs = errors(&with("colour", "red".into()));
    assert!(errs[0].contains("unknown field `colour`"), "{errs:?}");
    let errs = errors("{\"currency\": \"INR\"");
    assert_eq!(errs.len(), 1);
    let errs = errors(r#"{"currency": "INR"}"#);
    assert!(errs[0].contains("missing field"), "{errs:?}");
}

#[test]
fn balloon_must_be_below_principal() {
    let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
    v["method"] = "balloon".into();
    v["balloon"] = "25000.00".into();
    let errs = errors(&v.to_string());
    assert!(
        errs.contains(&"balloon: must be less than principal".to_owned()),
        "{errs:?}"
    );
    v.as_object_mut().unwrap().remove("balloon");
    let errs = errors(&v.to_string());
    assert!(errs.contains(&"balloon: is required with method balloon".to_owned()));
}

#[test]
fn collects_every_error_at_once() {
    let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
    v["installments"] = 0.into();
    v["annual_rate"] = "150".into();
    v["principal"] = "0".into();
    assert_eq!(errors(&v.to_string()).len(), 3);
}

#[test]
fn fees_and_tranches_are_checked() {
    let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
    v["fees"] = serde_json::json!([
        {"name": "a", "amount": "1.00", "percent": "1"},
        {"name": "b", "percent": "120"},
        {"name": "b", "amount": "30000.00"}
    ]);
    v["tranches"] = serde_json::json!([{"date": "2023-01-01", "amount": "0"}]);
    let errs = errors(&v.to_string());
    for expected in [
        "fees[0].amount: exactly one of amount and percent is required",
        "fees[1].percent: must be between 0 and 100",
        "fees[2].name: must be unique among fees",
        "tranches[0].date: must be after disbursement_date",
        "tranches[0].amount: must be greater than zero",
        "fees: fees deducted or paid upfront must be less than the first disbursement",
    ] {
        assert!(
            errs.iter().any(|e| e == expected),
            "{expected:?} not in {errs:?}"
        );
    }
}

#[test]
fn broken_period_only_under_equal_periods() {
    let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
    v["interest_basis"] = "act/365f".into();
    v["broken_period"] = "deduct".into();
    let errs = errors(&v.to_string());
    assert!(
        errs[0].starts_with("broken_period: applies only"),
        "{errs:?}"
    );
}

#[test]
fn plain_decimals_only() {
    assert_eq!(parse_plain_decimal("9.4822"), Some(Decimal::new(94822, 4)));
    assert_eq!(parse_plain_decimal("-1.5"), Some(Decimal::new(-15, 1)));
    for bad in [
        "", "-", ".5", "5.", "1e3", "1_000", " 1", "+1", "1.2.3", "١",
    ] {
        assert_eq!(parse_plain_decimal(bad), None, "{bad:?}");
    }
}

#[test]
fn security_value_is_an_amount_zero_or_more() {
    let t = Terms::from_json(&with("security_value", "500000.00".into())).unwrap();
    assert_eq!(t.security_value, Some(50_000_000));
    let again = Terms::from_json(&t.to_json()).unwrap();
    assert_eq!(again, t);
    assert!(
        t.to_json().ends_with(r#","security_value":"500000.00"}"#),
        "{}",
        t.to_json()
    );
    let zero = Terms::from_json(&with("security_value", "0".into())).unwrap();
    assert_eq!(zero.security_value, Some(0));
    for (value, expected) in [
        ("-1.00", "security_value: must not be negative"),
        ("1.234", "security_value: must be a decimal amount"),
        ("abc", "security_value: must be a decimal amount"),
        ("1e5", "security_value: must be a decimal amount"),
        (
            "2000000000000.00",
            "security_value: must be at most 1000000000000.00",
        ),
    ] {
        let errs = errors(&with("security_value", value.into()));
        assert!(
            errs.iter().any(|e| e.starts_with(expected)),
            "{value}: {expected:?} not in {errs:?}"
        );
    }
    let errs = errors(&with("security_value", 500000.into()));
    assert!(
        errs[0].starts_with("security_value: invalid type"),
        "{errs:?}"
    );
}

#[test]
fn terms_without_security_serialise_as_before() {
    let t = Terms::from_json(RBI).unwrap();
    assert_eq!(t.security_value, None);
    assert!(!t.to_json().contains("security_value"), "{}", t.to_json());
    assert_eq!(
        t.to_json(),
        r#"{"currency":"INR","principal":"20000.00","annual_rate":"15","method":"emi","installments":24,"frequency":"monthly","disbursement_date":"2024-01-01","interest_basis":"equal_periods","broken_period":"first_installment","rounding":{"installment":{"mode":"half_up","multiple":"0.01"},"interest":"half_up"},"fees":[{"name":"processing","amount":"400.00","collect":"deduct"}]}"#
    );
}
