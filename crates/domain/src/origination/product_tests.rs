use super::*;
use crate::origination::bounds::{Range, RatePolicy};
use crate::terms::Method;
use proptest::prelude::*;
use serde_json::{Value, json};

pub(crate) fn full_config() -> Value {
    json!({
        "terms": {"currency": "INR", "method": "emi", "frequency": "monthly"},
        "bounds": {
            "amount": {"min": "10000.00", "max": "500000.00"},
            "installments": {"min": 6, "max": 60},
            "methods": ["emi", "flat"],
            "frequencies": ["monthly"],
            "rate": {"type": "fixed", "min": "10.5", "max": "24"},
            "max_moratorium_periods": 3,
            "max_fee_percent": "2",
            "amount_step": "1000.00"
        },
        "eligibility": {
            "min_bureau_score": 700, "max_foir_percent": "50", "min_age": 21,
            "max_age_at_maturity": 60, "min_monthly_income": "25000.00",
            "max_dpd_12m": 30, "allow_no_bureau_history": true
        },
        "scorecard": {
            "characteristics": [
                {"name": "bureau_score", "bands": [
                    {"to": "700", "points": 0},
                    {"from": "700", "to": "750", "points": 20},
                    {"from": "750", "points": 40}
                ], "missing_points": 10},
                {"name": "foir_percent", "bands": [
                    {"to": "30", "points": 30}, {"from": "30", "points": 10}
                ]}
            ],
            "approve_from": 50, "refer_from": 30
        },
        "approval": {"second_approver_above": "300000.00"},
        "colending": {
            "partner_id": "bank-a", "partner_share": "80", "partner_rate": "10",
            "decision_days": 15, "on_timeout": "book_fully"
        },
        "kfs": {
            "lender": "Example Finance Ltd", "validity_days": 3, "cooling_off_days": 3,
            "grievance_officer": {"name": "A. Officer", "phone": "+91 80 0000 0000", "email": "grievance@example.in"}
        },
        "checklist": ["kyc", "agreement_signed", "mandate_registered"]
    })
}

/// Set the value at a JSON pointer, adding the last key to its parent object when missing.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent).unwrap() {
        Value::Object(m) => {
            m.insert(key.to_owned(), value);
        }
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        other => panic!("{parent} is {other}"),
    }
}

fn errors(config: Value) -> Vec<FieldError> {
    ProductPolicy::from_config(&config).unwrap_err()
}

fn has(errors: &[FieldError], field: &str, code: &str) -> bool {
    errors.iter().any(|e| e.field == field && e.code == code)
}

#[test]
fn a_full_config_reads_into_its_types() {
    let p = ProductPolicy::from_config(&full_config()).unwrap();
    assert_eq!(
        p.bounds.amount,
        Some(Range {
            min: 1_000_000,
            max: 50_000_000
        })
    );
    assert_eq!(p.bounds.installments, Some(Range { min: 6, max: 60 }));
    assert_eq!(p.bounds.methods, vec![Method::Emi, Method::Flat]);
    assert_eq!(
        p.bounds.rate,
        Some(RatePolicy::Fixed {
            min: "10.5".parse().unwrap(),
            max: Decimal::from(24)
        })
    );
    assert_eq!(p.bounds.amount_step, Some(100_000));
    let e = p.eligibility.as_ref().unwrap();
    assert_eq!(e.min_monthly_income, Some(2_500_000));
    assert_eq!(e.max_foir_percent, Some(Decimal::from(50)));
    assert!(e.allow_no_bureau_history);
    assert_eq!(p.scorecard.as_ref().unwrap().characteristics.len(), 2);
    assert_eq!(p.approval.second_approver_above, Some(30_000_000));
    let c = p.colending.as_ref().unwrap();
    assert_eq!(
        (c.partner_share, c.decision_days, c.on_timeout),
        (Decimal::from(80), 15, OnTimeout::BookFully)
    );
    assert_eq!(p.kfs.as_ref().unwrap().lender, "Example Finance Ltd");
    assert_eq!(p.checklist.len(), 3);

    // It writes back as the same document (less the terms template).
    let mut expected = full_config();
    expected.as_object_mut().unwrap().remove("terms");
    let written = serde_json::to_value(&p).unwrap();
    let again = ProductPolicy::from_config(&written).unwrap();
    assert_eq!(again, p);
    assert_eq!(written["bounds"]["amount"]["min"], "10000.00");
    assert_eq!(written["colending"]["on_timeout"], "book_fully");
}

#[test]
fn a_config_without_policy_keys_is_open() {
    for config in [json!({}), json!({"terms": {"method": "emi"}})] {
        assert_eq!(
            ProductPolicy::from_config(&config).unwrap(),
            ProductPolicy::open()
        );
    }
    assert_eq!(ProductPolicy::default(), ProductPolicy::open());
}

#[test]
fn broken_configs_name_every_field_with_its_path() {
    let mut c = full_config();
    c["bounds"]["amount"]["min"] = json!("10000.001");
    c["eligibility"]["max_foir_percent"] = json!(50);
    c["colending"]["partner_share"] = json!("95");
    c["colending"]["decision_days"] = json!(30);
    c["checklist"] = json!(["kyc", "kyc", "Bad Name"]);
    c["colour"] = json!("red");
    let e = errors(c);
    assert!(has(&e, "bounds.amount.min", "amount.format"), "{e:?}");
    assert!(
        has(&e, "eligibility.max_foir_percent", "json.type"),
        "{e:?}"
    );
    assert!(
        has(&e, "colending.partner_share", "colending.share"),
        "{e:?}"
    );
    assert!(
        has(&e, "colending.decision_days", "colending.decision_days"),
        "{e:?}"
    );
    assert!(has(&e, "checklist[1]", "checklist.unique"), "{e:?}");
    assert!(has(&e, "checklist[2]", "checklist.name"), "{e:?}");
    assert!(has(&e, "colour", "field.unknown"), "{e:?}");
}

#[test]
fn each_broken_field_gets_its_code() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/bounds/amount",
            json!({"min": "900.00", "max": "100.00"}),
            "bounds.amount",
            "bounds.range",
        ),
        (
            "/bounds/amount",
            json!({"min": "0", "max": "100.00"}),
            "bounds.amount.min",
            "amount.positive",
        ),
        (
            "/bounds/amount/max",
            json!("-5.00"),
            "bounds.amount.max",
            "amount.non_negative",
        ),
        (
            "/bounds/amount/max",
            json!("2000000000000"),
            "bounds.amount.max",
            "amount.max",
        ),
        (
            "/bounds/installments",
            json!({"min": 0, "max": 700}),
            "bounds.installments.max",
            "installments.range",
        ),
        (
            "/bounds/rate",
            json!({"type": "fixed", "min": "30", "max": "12"}),
            "bounds.rate",
            "bounds.range",
        ),
        (
            "/bounds/rate",
            // Inside a tagged enum the reader loses the field's name: the enum is named.
            json!({"type": "fixed", "min": "1e1", "max": "12"}),
            "bounds.rate",
            "rate.format",
        ),
        (
            "/bounds/rate",
            json!({"type": "variable"}),
            "bounds.rate.type",
            "enum.unknown",
        ),
        (
            "/bounds/rate",
            json!({"type": "floating", "benchmark": "repo", "benchmark_rate": "5.5", "spread": "3", "reset_months": 0}),
            "bounds.rate.reset_months",
            "bounds.reset",
        ),
        (
            "/bounds/max_fee_percent",
            json!("150"),
            "bounds.max_fee_percent",
            "rate.range",
        ),
        (
            "/bounds/methods",
            json!(["annuity"]),
            "bounds.methods[0]",
            "enum.unknown",
        ),
        ("/bounds/colour", json!(1), "bounds.colour", "field.unknown"),
        (
            "/eligibility/min_bureau_score",
            json!(950),
            "eligibility.min_bureau_score",
            "eligibility.bureau_score",
        ),
        (
            "/eligibility/max_foir_percent",
            json!("1.0000001"),
            "eligibility.max_foir_percent",
            "rate.precision",
        ),
        (
            "/eligibility/min_age",
            json!(70),
            "eligibility.max_age_at_maturity",
            "eligibility.age",
        ),
        (
            "/scorecard/refer_from",
            json!(60),
            "scorecard.refer_from",
            "scorecard.thresholds",
        ),
        (
            "/scorecard/characteristics/0/name",
            json!("shoe_size"),
            "scorecard.characteristics[0].name",
            "scorecard.characteristic",
        ),
        (
            "/approval/second_approver_above",
            json!("0"),
            "approval.second_approver_above",
            "amount.positive",
        ),
        (
            "/colending/on_timeout",
            json!("wait"),
            "colending.on_timeout",
            "enum.unknown",
        ),
        (
            "/colending/partner_id",
            json!(" "),
            "colending.partner_id",
            "text.empty",
        ),
        (
            "/scorecard/characteristics/0/bands/1/from",
            json!("710"),
            "scorecard.characteristics[0].bands[1].from",
            "scorecard.gap",
        ),
        (
            "/scorecard/characteristics/1/bands/0/points",
            json!("ten"),
            "scorecard.characteristics[1].bands[0].points",
            "json.type",
        ),
        ("/kfs/lender", json!(""), "kfs.lender", "text.empty"),
        ("/checklist", json!("kyc"), "checklist", "json.type"),
    ];
    for (pointer, value, field, code) in cases {
        let mut c = full_config();
        set(&mut c, pointer, value.clone());
        let e = errors(c);
        assert!(
            has(&e, field, code),
            "{pointer} = {value}: want {field} {code}, got {e:?}"
        );
        for err in &e {
            assert!(
                crate::terms::rules::meaning(err.code).is_some(),
                "{} not in a table",
                err.code
            );
        }
    }
}

#[test]
fn a_config_that_is_not_an_object_is_refused() {
    for config in [json!([]), json!("x"), json!(null), json!(1)] {
        let e = errors(config);
        assert_eq!(
            (e[0].field.as_str(), e[0].code),
            ("config", "product.config")
        );
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z0-9._-]{0,8}".prop_map(Value::String),
        Just(json!("10.5")),
        Just(json!("-1")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("bounds".to_owned()),
            Just("eligibility".to_owned()),
            Just("scorecard".to_owned()),
            Just("colending".to_owned()),
            Just("amount".to_owned()),
            Just("min".to_owned()),
            Just("max".to_owned()),
            Just("bands".to_owned()),
            Just("characteristics".to_owned()),
            "[a-z_]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replace one leaf of the full example by a random value, at a random place.
fn mutate(doc: &mut Value, path: &[usize], value: Value) {
    let mut node = doc;
    for (depth, i) in path.iter().enumerate() {
        let next = match node {
            Value::Object(m) if !m.is_empty() => {
                let k = m.keys().nth(i % m.len()).cloned().unwrap();
                m.get_mut(&k).unwrap()
            }
            Value::Array(a) if !a.is_empty() => {
                let n = a.len();
                &mut a[i % n]
            }
            _ => break,
        };
        if depth + 1 == path.len() {
            *next = value;
            return;
        }
        node = next;
    }
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(config in arb_json()) {
        if let Err(errors) = ProductPolicy::from_config(&config) {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(crate::terms::rules::meaning(e.code).is_some(), "{}", e.code);
                prop_assert!(!e.field.is_empty());
            }
        }
    }

    #[test]
    fn a_mutated_example_never_panics(path in prop::collection::vec(any::<usize>(), 1..6), value in arb_json()) {
        let mut config = full_config();
        mutate(&mut config, &path, value);
        match ProductPolicy::from_config(&config) {
            Ok(p) => prop_assert!(p.validate().is_empty()),
            Err(errors) => {
                for e in &errors {
                    prop_assert!(crate::terms::rules::meaning(e.code).is_some(), "{}", e.code);
                }
            }
        }
    }
}
