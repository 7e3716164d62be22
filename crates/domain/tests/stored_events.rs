//! The stored encoding of events: stable, and read back by the trusted reader as the general
//! reader reads it.

use loanbook_domain::events::Event;
use loanbook_domain::money::Currency;

fn example_events() -> Vec<Event> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/events/rbi-personal-loan.json");
    let text = std::fs::read_to_string(path).unwrap();
    Event::list_from_json(&text, Currency::INR).unwrap()
}

fn every_kind() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!({"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"}),
        json!({"type": "payment", "date": "2024-02-01", "amount": "969.73", "reference": "U\"1", "channel": "nach"}),
        json!({"type": "payment_reversal", "date": "2024-02-03", "reference": "U\"1", "reason": "funds"}),
        json!({"type": "charge", "date": "2024-02-03", "kind": "bounce", "amount": "500.00"}),
        json!({"type": "waiver", "date": "2024-02-04", "component": "charges", "amount": "500.00"}),
        json!({"type": "prepayment", "date": "2024-03-04", "amount": "5000.00", "adjust": "reduce_tenure", "reference": "P1"}),
        json!({"type": "rate_change", "date": "2024-04-01", "annual_rate": "13.25", "keep": "emi"}),
        json!({"type": "restructure", "date": "2024-05-01", "installments": 30, "installment_amount": "800.00",
               "moratorium": {"periods": 2, "interest": "capitalize"}}),
        json!({"type": "write_off", "date": "2025-05-01", "reason": "NPA"}),
        json!({"type": "loss_identified", "date": "2025-06-01"}),
        json!({"type": "recovery", "date": "2025-07-01", "amount": "100.00"}),
        json!({"type": "settlement", "date": "2025-08-01", "amount": "0.00", "reference": "S"}),
        json!({"type": "foreclosure", "date": "2025-09-01", "amount": "10.50"}),
    ]
}

#[test]
fn the_trusted_reader_reads_what_the_general_reader_reads() {
    for v in every_kind() {
        let general = Event::from_json_value(&v, Currency::INR).unwrap();
        let trusted = Event::from_trusted_json(&v.to_string(), Currency::INR).unwrap();
        assert_eq!(general, trusted, "{v}");
        let stored = general.to_stored_json(Currency::INR);
        assert_eq!(
            Event::from_trusted_json(&stored, Currency::INR).unwrap(),
            general
        );
        assert_eq!(
            Event::from_stored_json(&stored, Currency::INR).unwrap(),
            general
        );
    }
}

#[test]
fn the_encoding_is_stable() {
    for e in example_events() {
        let stored = e.to_stored_json(Currency::INR);
        assert_eq!(stored, e.to_stored_json(Currency::INR));
        let again = Event::from_trusted_json(&stored, Currency::INR).unwrap();
        assert_eq!(again, e);
        assert_eq!(
            again.to_stored_json(Currency::INR),
            stored,
            "re-encoding changed {stored}"
        );
        assert!(stored.starts_with("{\"type\":"), "{stored}");
    }
    let e = &example_events()[1];
    assert_eq!(
        e.to_stored_json(Currency::INR),
        r#"{"type":"payment","date":"2024-02-01","amount":"969.73","reference":"NACH-0201","channel":"nach"}"#
    );
}

#[test]
fn older_and_broken_documents_are_refused_or_upgraded_not_misread() {
    let v2 =
        r#"{"v": 2, "type": "payment", "date": "2024-02-01", "amount": "1.00", "reference": "U"}"#;
    let err = Event::from_trusted_json(v2, Currency::INR).unwrap_err();
    assert_eq!(err.code, "event.version");
    let v1 =
        r#"{"v": 1, "type": "payment", "date": "2024-02-01", "amount": "1.00", "reference": "U"}"#;
    assert!(Event::from_trusted_json(v1, Currency::INR).is_ok());
    for (text, code) in [
        (
            r#"{"type": "payment", "date": "2024-02-01", "amount": "1.00"}"#,
            "field.missing",
        ),
        (r#"{"type": "gift", "date": "2024-02-01"}"#, "enum.unknown"),
        (
            r#"{"type": "payment", "date": "2024-02-01", "amount": "one", "reference": "U"}"#,
            "amount.format",
        ),
        (
            r#"{"type": "payment", "date": "2024-02-01", "amount": 1, "reference": "U"}"#,
            "json.type",
        ),
        (r#"{"type": "payment""#, "json.syntax"),
    ] {
        let err = Event::from_trusted_json(text, Currency::INR).unwrap_err();
        assert_eq!(err.code, code, "{text}: {err}");
    }
}
