//! JSON fuzzing of the readers: any document, however broken, gives a value or an error, never a
//! panic. Arbitrary JSON values, and mutations of valid terms and events (a field dropped, a type
//! swapped, huge numbers, long strings, control characters, deep nesting).

use loanbook_domain::events::Event;
use loanbook_domain::money::Currency;
use loanbook_domain::terms::{RULES, Terms};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        "[0-9]{1,30}(\\.[0-9]{0,30})?".prop_map(Value::String),
        "(19|20|21|99)[0-9]{2}-[0-9]{2}-[0-9]{2}".prop_map(Value::String),
        prop::sample::select(FIELD_NAMES).prop_map(|s| Value::String(s.to_owned())),
    ]
}

/// Field names and enum values of the documents, so that arbitrary objects hit real paths.
const FIELD_NAMES: &[&str] = &[
    "currency",
    "principal",
    "annual_rate",
    "method",
    "installments",
    "frequency",
    "disbursement_date",
    "first_due_date",
    "interest_basis",
    "broken_period",
    "rounding",
    "moratorium",
    "balloon",
    "step",
    "fees",
    "tranches",
    "calendar",
    "allocation",
    "excess",
    "penal",
    "foreclosure_fee",
    "partners",
    "split",
    "type",
    "date",
    "amount",
    "reference",
    "v",
    "payment",
    "disbursement",
    "restructure",
    "rate_change",
    "emi",
    "INR",
    "JPY",
    "monthly",
    "days",
    "periods",
    "interest",
    "capitalize",
    "keep",
    "adjust",
    "kind",
    "component",
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELD_NAMES), inner), 0..10).prop_map(
                |kv| {
                    Value::Object(
                        kv.into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

fn valid_terms() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            out.push(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap());
        }
    }
    out.sort_by_key(|v: &Value| v.to_string());
    out
}

fn valid_events() -> Vec<Value> {
    vec![
        json!({"type": "disbursement", "date": "2024-01-01", "amount": "20000.00", "reference": "N1"}),
        json!({"type": "payment", "date": "2024-02-01", "amount": "969.73", "reference": "U1", "channel": "nach"}),
        json!({"type": "payment_reversal", "date": "2024-02-03", "reference": "U1"}),
        json!({"type": "charge", "date": "2024-02-03", "kind": "bounce", "amount": "500.00"}),
        json!({"type": "rate_change", "date": "2024-04-01", "annual_rate": "13.25", "keep": "emi"}),
        json!({"type": "restructure", "date": "2024-05-01", "installments": 30,
               "moratorium": {"periods": 2, "interest": "capitalize"}}),
        json!({"type": "settlement", "v": 1, "date": "2025-08-01", "amount": "0.00"}),
    ]
}

/// One mutation of a document at one of its paths.
#[derive(Debug, Clone)]
enum Mutation {
    Drop,
    Replace(Value),
    HugeNumber,
    LongString(usize),
    ControlChars,
    Nest(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Drop),
        leaf().prop_map(Mutation::Replace),
        Just(Mutation::HugeNumber),
        (1usize..100_000).prop_map(Mutation::LongString),
        Just(Mutation::ControlChars),
        (1usize..200).prop_map(Mutation::Nest),
    ]
}

fn paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = v {
        for (k, child) in map {
            let mut p = prefix.clone();
            p.push(k.clone());
            out.push(p.clone());
            paths(child, p, out);
        }
    } else if let Value::Array(items) = v {
        for (i, child) in items.iter().enumerate() {
            let mut p = prefix.clone();
            p.push(i.to_string());
            paths(child, p, out);
        }
    }
}

fn apply(doc: &Value, pick: usize, m: &Mutation) -> Value {
    let mut doc = doc.clone();
    let mut all = Vec::new();
    paths(&doc, Vec::new(), &mut all);
    let Some(path) = all.get(pick % all.len().max(1)).cloned() else {
        return doc;
    };
    let (last, parents) = path.split_last().unwrap();
    let mut at = &mut doc;
    for p in parents {
        at = match at {
            Value::Object(map) => map.get_mut(p).unwrap(),
            Value::Array(items) => &mut items[p.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    let Value::Object(map) = at else {
        return doc;
    };
    let old = map.get(last).cloned().unwrap_or(Value::Null);
    let new = match m {
        Mutation::Drop => {
            map.remove(last);
            return doc;
        }
        Mutation::Replace(v) => v.clone(),
        Mutation::HugeNumber => match old {
            Value::String(_) => Value::String("9".repeat(400)),
            _ => json!(u64::MAX),
        },
        Mutation::LongString(n) => Value::String("x".repeat(*n)),
        Mutation::ControlChars => Value::String("\u{0}\u{7}\n\u{1b}[2J\u{202e}".to_owned()),
        Mutation::Nest(depth) => {
            let mut v = old;
            for _ in 0..*depth {
                v = json!([v]);
            }
            v
        }
    };
    map.insert(last.clone(), new);
    doc
}

fn check_terms(doc: &Value) {
    match Terms::from_json(&doc.to_string()) {
        Ok(t) => {
            // What parses round-trips and quotes (or refuses to quote) without a panic.
            assert_eq!(Terms::from_json(&t.to_json()).as_ref(), Ok(&t));
            let _ = loanbook_domain::schedule::build(&t);
        }
        Err(e) => {
            assert!(!e.0.is_empty());
            for f in &e.0 {
                assert!(
                    RULES.iter().any(|(c, _)| *c == f.code),
                    "{} not in RULES",
                    f.code
                );
            }
        }
    }
}

fn check_event(doc: &Value) {
    for currency in [Currency::INR, Currency::JPY] {
        let general = Event::from_json_value(doc, currency);
        let text = doc.to_string();
        let trusted = Event::from_trusted_json(&text, currency);
        let _ = Event::from_stored_json(&text, currency);
        let _ = Event::list_from_json(&format!("[{text}]"), currency);
        let _ = Event::list_from_json(&format!("{text}\n{text}\n"), currency);
        if let Ok(e) = &general {
            // What the general reader accepts, the trusted reader reads the same way.
            assert_eq!(trusted.as_ref(), Ok(e), "{text}");
            let stored = e.to_stored_json(currency);
            assert_eq!(Event::from_trusted_json(&stored, currency).as_ref(), Ok(e));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_the_readers(doc in arbitrary_json()) {
        check_terms(&doc);
        check_event(&doc);
    }

    #[test]
    fn mutated_terms_never_panic(which in any::<usize>(), muts in prop::collection::vec((any::<usize>(), mutation()), 1..4)) {
        let docs = valid_terms();
        let mut doc = docs[which % docs.len()].clone();
        for (pick, m) in &muts {
            doc = apply(&doc, *pick, m);
        }
        check_terms(&doc);
    }

    #[test]
    fn mutated_events_never_panic(which in any::<usize>(), muts in prop::collection::vec((any::<usize>(), mutation()), 1..4)) {
        let docs = valid_events();
        let mut doc = docs[which % docs.len()].clone();
        for (pick, m) in &muts {
            doc = apply(&doc, *pick, m);
        }
        check_event(&doc);
    }

    #[test]
    fn arbitrary_text_never_panics_the_readers(text in ".{0,200}") {
        let _ = Terms::from_json(&text);
        let _ = Event::from_trusted_json(&text, Currency::INR);
        let _ = Event::from_stored_json(&text, Currency::INR);
        let _ = Event::list_from_json(&text, Currency::INR);
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Terms::from_json(&deep).is_err());
    assert!(Event::from_trusted_json(&deep, Currency::INR).is_err());
    assert!(Event::list_from_json(&deep, Currency::INR).is_err());
    let mut doc = valid_terms()[0].clone();
    let mut nested = json!("x");
    for _ in 0..120 {
        nested = json!({"a": nested});
    }
    doc["calendar"] = nested;
    assert!(Terms::from_json(&doc.to_string()).is_err());
}
