//! The OpenAPI document is derived from the handlers and the app's types: these checks hold it
//! to what a generic client needs.

use serde_json::Value;

fn document() -> Value {
    serde_json::to_value(loanbook_web::openapi()).unwrap()
}

#[test]
fn the_document_is_openapi_3_1_with_bearer_security() {
    let d = document();
    assert!(
        d["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        d["openapi"]
    );
    assert_eq!(
        d["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(d["components"]["schemas"]["ProblemDoc"].is_object());
}

#[test]
fn every_operation_documents_its_errors_as_problems_and_its_security() {
    let d = document();
    let paths = d["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "{}", paths.len());
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let name = format!("{method} {path}");
            for status in ["401", "404", "422", "500"] {
                let r = &op["responses"][status];
                assert!(
                    r["content"]["application/problem+json"].is_object(),
                    "{name}: {status}"
                );
            }
            let open = path.starts_with("/health");
            let security = op["security"].as_array().unwrap();
            assert_eq!(
                security.iter().any(|s| s.get("bearer").is_some()),
                !open,
                "{name}"
            );
            if method == "post" || method == "put" {
                let content = &op["requestBody"]["content"];
                // A statement is uploaded as the bank's file, not as JSON.
                if path.ends_with("/statements") {
                    assert!(content["text/csv"]["schema"].is_object(), "{name}");
                    continue;
                }
                let body = &content["application/json"]["schema"];
                let no_body = [
                    "/approve",
                    "/reject",
                    "/revoke",
                    "/submit",
                    "/assess",
                    "/partner-lapse",
                    "/payout/reconcile",
                    "/expire",
                ]
                .iter()
                .any(|end| path.ends_with(end));
                assert_eq!(body.is_object(), !no_body, "{name}");
            }
        }
    }
}

#[test]
fn a_payment_body_carries_its_rules() {
    let d = document();
    let p = &d["components"]["schemas"]["PostPayment"];
    let required: Vec<&str> = p["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["date", "amount", "reference"]);
    assert_eq!(p["properties"]["date"]["format"], "date");
    assert!(p["properties"]["amount"]["pattern"].is_string());
    assert_eq!(p["additionalProperties"], false);
    let op = &d["paths"]["/v1/loans/{id}/payments"]["post"];
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PostPayment"
    );
}

#[test]
fn a_booking_names_the_domains_terms_and_event_schemas() {
    let d = document();
    let schemas = &d["components"]["schemas"];
    let booking = &schemas["BookLoan"]["properties"];
    assert_eq!(booking["terms"]["$ref"], "#/components/schemas/TermsDoc");
    assert_eq!(
        booking["events"]["items"]["$ref"],
        "#/components/schemas/EventDocV1"
    );
    assert!(schemas["TermsDoc"]["required"].is_array());
    // The event documents are closed objects, as the domain reads them.
    let variants = schemas["EventDocV1"]["oneOf"].as_array().unwrap();
    assert!(variants.len() >= 13);
    assert!(variants.iter().all(|v| v["additionalProperties"] == false));
}
