//! The event JSON: the documented shapes, versions, round trips and field-naming errors.

use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::money::Currency;
use loanbook_domain::terms::FieldError;
use serde_json::json;

fn read(v: serde_json::Value) -> Result<Event, FieldError> {
    Event::from_json_value(&v, Currency::INR)
}

#[test]
fn reads_the_documented_shapes() {
    let e = read(
        json!({"type": "payment", "date": "2024-02-01", "amount": "969.73",
                        "reference": "UTR1", "channel": "nach"}),
    )
    .unwrap();
    assert_eq!(
        e.kind,
        EventKind::Payment {
            amount: 96973,
            reference: "UTR1".into(),
            channel: Some("nach".into())
        }
    );
    let e =
        read(json!({"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"})).unwrap();
    assert_eq!(e.date.to_string(), "2024-01-01");
    let e = read(
        json!({"v": 1, "type": "payment_reversal", "date": "2024-02-03",
                        "reference": "UTR1", "reason": "insufficient funds"}),
    )
    .unwrap();
    assert_eq!(e.kind.name(), "payment_reversal");
}

#[test]
fn round_trips_through_the_current_version() {
    let events = [
        json!({"type": "prepayment", "date": "2024-05-01", "amount": "5000.00",
               "adjust": "reduce_tenure", "reference": "P1"}),
        json!({"type": "rate_change", "date": "2024-06-01", "annual_rate": "16.5", "keep": "emi"}),
        json!({"type": "restructure", "date": "2024-07-01", "installments": 30,
               "moratorium": {"periods": 3, "interest": "capitalize"}}),
        json!({"type": "waiver", "date": "2024-07-02", "component": "charges", "amount": "100.00"}),
        json!({"type": "settlement", "date": "2024-08-01", "amount": "0.00"}),
    ];
    for v in events {
        let e = read(v.clone()).unwrap();
        let back = serde_json::to_value(e.to_doc(Currency::INR)).unwrap();
        assert_eq!(read(back).unwrap(), e);
    }
}

#[test]
fn refuses_bad_events_naming_the_field() {
    let cases = [
        (
            json!({"type": "payment", "date": "2024-02-01", "amount": "-1.00", "reference": "U"}),
            "amount",
        ),
        (
            json!({"type": "payment", "date": "2024-02-01", "amount": "1.001", "reference": "U"}),
            "amount",
        ),
        (
            json!({"type": "payment", "date": "2024-02-01", "amount": "1.00"}),
            "event",
        ),
        (
            json!({"type": "payment", "date": "2024-02-30", "amount": "1.00", "reference": "U"}),
            "date",
        ),
        (
            json!({"type": "payment", "date": "2024-02-01", "amount": "1.00", "reference": "U", "x": 1}),
            "event",
        ),
        (json!({"type": "gift", "date": "2024-02-01"}), "type"),
        (
            json!({"type": "rate_change", "date": "2024-02-01", "annual_rate": "101", "keep": "emi"}),
            "annual_rate",
        ),
        (
            json!({"type": "restructure", "date": "2024-02-01"}),
            "restructure",
        ),
        (json!({"v": 9, "type": "payment"}), "v"),
        (json!([1, 2]), "event"),
    ];
    for (v, field) in cases {
        let err = read(v.clone()).unwrap_err();
        assert!(err.field.starts_with(field), "{v}: {err}");
    }
}

#[test]
fn lists_report_positions() {
    let text = r#"[{"type": "disbursement", "date": "2024-01-01", "amount": "100.00"},
                   {"type": "payment", "date": "2024-02-01", "amount": "x", "reference": "U"}]"#;
    let errs = Event::list_from_json(text, Currency::INR).unwrap_err();
    assert_eq!(errs[0].field, "events[1].amount");
    let lines =
        "{\"type\": \"disbursement\", \"date\": \"2024-01-01\", \"amount\": \"100.00\"}\n\n";
    assert_eq!(
        Event::list_from_json(lines, Currency::INR).unwrap().len(),
        1
    );
}
