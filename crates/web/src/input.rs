//! Strict input. A JSON body is parsed once into a value while refusing what serde_json would
//! let through: a key given twice in one object (serde_json keeps the last, silently) and
//! control characters in any string or key (PostgreSQL refuses NUL in text, and no identifier,
//! name or reference has a use for them). Path parameters and query values are held to the
//! same rule. Each refusal names the field by its JSON path, e.g. `terms.partners[0].id`.

use std::cell::RefCell;
use std::fmt;

use axum::extract::{FromRequestParts, Query, RawPathParams, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::Problem;

const CONTROL: &str = "must not contain control characters";

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A key as it may be shown in a field name.
fn shown(key: &str) -> String {
    key.escape_default().to_string()
}

/// Why a body was refused beyond being malformed.
enum Fault {
    Duplicate(String),
    Control(String),
}

struct Node<'a> {
    path: String,
    fault: &'a RefCell<Option<Fault>>,
}

impl Node<'_> {
    fn child(&self, path: String) -> Node<'_> {
        Node {
            path,
            fault: self.fault,
        }
    }

    fn refuse<E: de::Error>(&self, fault: Fault) -> E {
        *self.fault.borrow_mut() = Some(fault);
        E::custom("refused")
    }

    fn string<E: de::Error>(&self, s: String) -> Result<Value, E> {
        if has_control(&s) {
            return Err(self.refuse(Fault::Control(self.field())));
        }
        Ok(Value::String(s))
    }

    fn field(&self) -> String {
        if self.path.is_empty() {
            "body".to_owned()
        } else {
            self.path.clone()
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.string(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.string(v)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let child = self.child(format!("{}[{}]", self.path, items.len()));
            match seq.next_element_seed(child)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                shown(&key)
            } else {
                format!("{}.{}", self.path, shown(&key))
            };
            if has_control(&key) {
                return Err(self.refuse(Fault::Control(path)));
            }
            if object.contains_key(&key) {
                return Err(self.refuse(Fault::Duplicate(path)));
            }
            let value = map.next_value_seed(self.child(path))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parse a body as JSON, strictly.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, Problem> {
    let fault = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Node {
        path: String::new(),
        fault: &fault,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, fault.into_inner()) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(Fault::Duplicate(field))) => {
            Err(Problem::invalid(&field, "is given more than once"))
        }
        (Err(_), Some(Fault::Control(field))) => Err(Problem::invalid(&field, CONTROL)),
        (Err(e), None) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            &format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// Refuse control characters in path parameters (named as in the route, e.g. `id`) and in
/// query parameters (named by their key).
pub(crate) async fn strict_params(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    if let Ok(params) = RawPathParams::from_request_parts(&mut parts, &()).await {
        for (name, value) in &params {
            if has_control(value) {
                return Problem::invalid(name, CONTROL).into_response();
            }
        }
    }
    if parts.uri.query().is_some() {
        if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            for (key, value) in &pairs {
                if has_control(key) || has_control(value) {
                    return Problem::invalid(&shown(key), CONTROL).into_response();
                }
            }
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(body: &str) -> String {
        let p = parse_json(body.as_bytes()).unwrap_err();
        format!("{p:?}")
    }

    #[test]
    fn strict_json_names_the_path_of_what_it_refuses() {
        let v = parse_json(br#"{"a": [1, {"b": "x"}], "c": null, "d": 1.5, "e": true}"#).unwrap();
        assert_eq!(v["a"][1]["b"], "x");
        assert!(field(r#"{"a": 1, "a": 2}"#).contains("\"a\""));
        assert!(field(r#"{"t": {"p": [{"id": "x", "id": "y"}]}}"#).contains("t.p[0].id"));
        assert!(field(r#"{"loan_number": "LN\u0000"}"#).contains("\"loan_number\""));
        assert!(
            field(r#"{"terms": {"partners": [{"id": "a\tb"}]}}"#).contains("terms.partners[0].id")
        );
        assert!(field(r#"{"k\u0001": 1}"#).contains("k\\\\u{1}"));
        assert!(field("\"\u{7f}\"").contains("body"));
        assert!(field(r#"{"a": 1"#).contains("malformed-json"));
        assert!(field(r#"{"a": 1} x"#).contains("malformed-json"));
        // Duplicates in different objects are fine.
        assert!(parse_json(br#"{"a": {"x": 1}, "b": {"x": 1}}"#).is_ok());
    }
}
