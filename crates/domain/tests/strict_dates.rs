//! Dates are exactly `YYYY-MM-DD` wherever the domain reads one from JSON: terms, tranches,
//! holidays and events. jiff alone also reads `20240201` (ISO basic) and date-times.

use loanbook_domain::calendar::{HolidayCalendar, parse_date};
use loanbook_domain::events::Event;
use loanbook_domain::money::Currency;
use loanbook_domain::terms::Terms;
use serde_json::json;

const NOT_EXTENDED: [&str; 3] = ["20240201", "2024-2-1", "2024-02-01T00:00"];

fn terms_with(field: &str, value: serde_json::Value) -> serde_json::Value {
    let mut t = json!({
        "currency": "INR", "principal": "100000.00", "annual_rate": "12", "method": "emi",
        "installments": 12, "frequency": "monthly", "disbursement_date": "2024-01-01"
    });
    t[field] = value;
    t
}

#[test]
fn dates_not_written_yyyy_mm_dd_are_refused_in_events_naming_the_field() {
    for bad in NOT_EXTENDED {
        let v = json!({"type": "payment", "date": bad, "amount": "1.00", "reference": "U"});
        let err = Event::from_json_value(&v, Currency::INR).unwrap_err();
        assert_eq!(err.field, "date", "{bad}: {err}");
        assert!(err.rule.contains("YYYY-MM-DD"), "{bad}: {err}");
        // The stored-event reader takes the same rule.
        let err = Event::from_stored_json(&v.to_string(), Currency::INR).unwrap_err();
        assert_eq!(err.field, "date", "{bad}: {err}");
    }
    let ok = json!({"type": "payment", "date": "2024-02-01", "amount": "1.00", "reference": "U"});
    assert!(Event::from_json_value(&ok, Currency::INR).is_ok());
}

#[test]
fn dates_not_written_yyyy_mm_dd_are_refused_in_terms_naming_the_field() {
    for bad in NOT_EXTENDED {
        let cases = [
            (
                terms_with("disbursement_date", json!(bad)),
                "disbursement_date",
            ),
            (terms_with("first_due_date", json!(bad)), "first_due_date"),
            (
                terms_with("tranches", json!([{"date": bad, "amount": "100.00"}])),
                "tranches[0].date",
            ),
            (
                terms_with("calendar", json!({"holidays": ["2024-01-26", bad]})),
                "calendar.holidays",
            ),
        ];
        for (t, field) in cases {
            let err = Terms::from_json(&t.to_string()).unwrap_err();
            let first = &err.0[0];
            assert!(first.field.starts_with(field), "{bad}: {err}");
            assert!(first.rule.contains("YYYY-MM-DD"), "{bad}: {err}");
        }
    }
}

#[test]
fn the_strict_parser_reads_only_yyyy_mm_dd() {
    assert_eq!(parse_date("2024-02-01").unwrap().to_string(), "2024-02-01");
    for bad in NOT_EXTENDED {
        assert!(parse_date(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
    for bad in [
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "+2024-02-01",
        " 2024-02-01",
        "2024-02-01 ",
        "",
        "２０２４-02-01",
        "2024/02/01",
    ] {
        assert!(parse_date(bad).is_err(), "{bad:?}");
    }
    let basic = r#"{"holidays": ["20240126"]}"#;
    let err = serde_json::from_str::<HolidayCalendar>(basic).unwrap_err();
    assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
}
