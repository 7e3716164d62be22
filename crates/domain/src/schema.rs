//! The JSON Schema of the wire formats a client sends or receives: the terms document, the event
//! documents and the error list, derived from the types themselves so that it cannot drift.
//!
//! Every rule JSON Schema can carry is in it (decimal-string patterns for money and rates, dates,
//! enums, required fields, closed objects, numeric ranges and text lengths); the rules across
//! fields (a balloon below the principal, shares adding up to 100, …) are checked by
//! [`crate::terms::Terms::parse`] and reported as [`crate::terms::FieldError`]s.

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Components, ComponentsBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::events::{EVENT_VERSION, EventDocV1};
use crate::terms::{FieldError, TermsDoc};

/// Every named schema of the wire formats, for an OpenAPI document's `components`.
pub fn components() -> Components {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    add::<TermsDoc>(&mut schemas);
    let mut event = EventDocV1::schema();
    close_event_variants(&mut event);
    EventDocV1::schemas(&mut schemas);
    schemas.push((EventDocV1::name().into_owned(), event));
    add::<FieldError>(&mut schemas);
    ComponentsBuilder::new().schemas_from_iter(schemas).build()
}

fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    T::schemas(schemas);
    schemas.push((T::name().into_owned(), T::schema()));
}

/// Each event variant is a closed object (`deny_unknown_fields`, which the derive does not carry
/// into an internally tagged enum's variants) that may name its version `v`.
fn close_event_variants(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::OneOf(one_of)) = schema else {
        return;
    };
    for item in &mut one_of.items {
        if let RefOr::T(Schema::Object(object)) = item {
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            let version = ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([EVENT_VERSION]))
                .description(Some("Version of the event document; 1 when absent"));
            object
                .properties
                .insert("v".to_owned(), RefOr::T(Schema::Object(version.build())));
        }
    }
}

/// A standalone JSON Schema (draft 2020-12) whose root is the named component (`TermsDoc`,
/// `EventDocV1`, `FieldError`) and whose other components are in `$defs`.
pub fn json_schema(root: &str) -> Option<serde_json::Value> {
    let components = serde_json::to_value(components()).ok()?;
    let mut defs = components.get("schemas")?.clone();
    rewrite_refs(&mut defs);
    let mut schema = defs.get(root)?.clone();
    let obj = schema.as_object_mut()?;
    obj.insert(
        "$schema".to_owned(),
        "https://json-schema.org/draft/2020-12/schema".into(),
    );
    obj.insert("$defs".to_owned(), defs);
    Some(schema)
}

/// Point `#/components/schemas/X` references at `#/$defs/X`.
fn rewrite_refs(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(s) if k == "$ref" => {
                        if let Some(name) = s.strip_prefix("#/components/schemas/") {
                            *s = format!("#/$defs/{name}");
                        }
                    }
                    other => rewrite_refs(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}
