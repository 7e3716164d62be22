//! The realisable value of a loan's security in its terms: described by the schema with its
//! rule, refused by both when negative, and absent from every document that does not carry it,
//! so the canonical JSON (and the hash) of terms without security is what it always was.
#![cfg(feature = "schema")]

use loanbook_domain::schema::json_schema;
use loanbook_domain::terms::Terms;
use serde_json::{Value, json};

fn base_terms() -> Value {
    json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01"
    })
}

#[test]
fn the_schema_describes_the_security_value_and_refuses_a_negative_one() {
    let schema = json_schema("TermsDoc").expect("TermsDoc schema");
    let field = &schema["properties"]["security_value"];
    assert!(
        field["type"] == json!("string") || field["type"] == json!(["string", "null"]),
        "{field}"
    );
    assert!(field["pattern"].is_string(), "{field}");
    let required = schema["required"].as_array().unwrap();
    assert!(!required.contains(&json!("security_value")));
    let v = jsonschema::draft202012::new(&schema).unwrap();
    for good in ["0", "0.00", "500000.00", "18000"] {
        let mut doc = base_terms();
        doc["security_value"] = good.into();
        assert!(v.is_valid(&doc), "{good} refused by the schema");
        assert!(Terms::from_json(&doc.to_string()).is_ok(), "{good} refused");
    }
    for bad in [json!("-1.00"), json!("1e5"), json!("1.234"), json!(500000)] {
        let mut doc = base_terms();
        doc["security_value"] = bad.clone();
        assert!(!v.is_valid(&doc), "{bad} passed the schema");
        assert!(
            Terms::from_json(&doc.to_string()).is_err(),
            "{bad} passed the validator"
        );
    }
}

#[test]
fn example_terms_keep_their_canonical_json() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let t = Terms::from_json(&text).unwrap();
        assert_eq!(t.security_value, None, "{}", path.display());
        let canonical = t.to_json();
        assert!(!canonical.contains("security_value"), "{}", path.display());
        assert_eq!(Terms::from_json(&canonical).unwrap().to_json(), canonical);
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} examples");
}
