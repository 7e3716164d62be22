//! The JSON Schema of the wire formats: the examples validate against it, and it carries the rules.
#![cfg(feature = "schema")]

use loanbook_domain::schema::json_schema;
use serde_json::{Value, json};

fn terms_schema() -> Value {
    json_schema("TermsDoc").expect("TermsDoc schema")
}

fn event_schema() -> Value {
    json_schema("EventDocV1").expect("EventDocV1 schema")
}

fn examples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema).expect("a valid JSON Schema")
}

#[test]
fn every_example_terms_file_validates() {
    let v = validator(&terms_schema());
    let mut seen = 0;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 9, "only {seen} examples");
}

#[test]
fn every_example_event_validates() {
    let v = validator(&event_schema());
    let text =
        std::fs::read_to_string(examples_dir().join("events/rbi-personal-loan.json")).unwrap();
    let events: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(!events.is_empty());
    for e in &events {
        let errors: Vec<String> = v.iter_errors(e).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{e}: {errors:?}");
    }
}

fn base_terms() -> Value {
    json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01"
    })
}

#[test]
fn the_schema_refuses_what_the_validator_refuses() {
    let v = validator(&terms_schema());
    assert!(v.is_valid(&base_terms()));
    let bad = [
        ("principal", json!("1.234")),
        ("principal", json!("1e3")),
        ("principal", json!("0")),
        ("principal", json!(20000)),
        ("annual_rate", json!("101")),
        ("annual_rate", json!("1.1234567")),
        ("installments", json!(0)),
        ("installments", json!(601)),
        ("currency", json!("XYZ")),
        ("method", json!("annuity")),
        ("disbursement_date", json!("20240101")),
        ("disbursement_date", json!("1899-12-31")),
        ("frequency", json!({"days": 0})),
        ("frequency", json!("daily")),
        ("colour", json!("red")),
    ];
    for (field, value) in bad {
        let mut doc = base_terms();
        doc[field] = value.clone();
        assert!(!v.is_valid(&doc), "{field} = {value} passed the schema");
        assert!(
            loanbook_domain::terms::Terms::from_json(&doc.to_string()).is_err(),
            "{field} = {value} passed the validator"
        );
    }
    let mut doc = base_terms();
    doc["fees"] = json!([{"name": "processing", "amount": "400.00", "tip": "1"}]);
    assert!(!v.is_valid(&doc), "unknown field in a fee passed");
    doc["fees"] = json!([{"name": "", "amount": "400.00"}]);
    assert!(!v.is_valid(&doc), "empty fee name passed");
}

#[test]
fn required_fields_are_those_serde_requires() {
    let s = terms_schema();
    let mut required: Vec<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        [
            "annual_rate",
            "currency",
            "disbursement_date",
            "frequency",
            "installments",
            "method",
            "principal"
        ]
    );
    assert_eq!(s["additionalProperties"], json!(false));
    assert_eq!(s["properties"]["disbursement_date"]["format"], "date");
    assert_eq!(s["properties"]["installments"]["minimum"], 1);
    assert_eq!(s["properties"]["installments"]["maximum"], 600);
}

#[test]
fn a_payment_is_described_exactly() {
    let v = validator(&event_schema());
    let payment =
        json!({"type": "payment", "date": "2024-02-01", "amount": "969.73", "reference": "UTR1"});
    assert!(v.is_valid(&payment));
    for (field, value) in [
        ("amount", json!("-1.00")),
        ("amount", json!("0.00")),
        ("amount", json!(969.73)),
        ("reference", json!("")),
        ("reference", json!("x".repeat(201))),
        ("date", json!("2024-13-01")),
        ("type", json!("gift")),
        ("extra", json!(1)),
    ] {
        let mut doc = payment.clone();
        doc[field] = value.clone();
        assert!(!v.is_valid(&doc), "{field} = {value} passed the schema");
    }
    let mut doc = payment.clone();
    doc["v"] = json!(1);
    assert!(v.is_valid(&doc), "a payment naming its version was refused");
    doc["v"] = json!(2);
    assert!(!v.is_valid(&doc), "an unknown version passed");
    let mut doc = payment.clone();
    doc.as_object_mut().unwrap().remove("reference");
    assert!(!v.is_valid(&doc), "a payment without a reference passed");
}

#[test]
fn the_schema_is_written_out_for_review() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    for root in ["TermsDoc", "EventDocV1", "FieldError"] {
        let s = json_schema(root).unwrap();
        std::fs::write(
            dir.join(format!("{root}.schema.json")),
            serde_json::to_string_pretty(&s).unwrap(),
        )
        .unwrap();
    }
}
