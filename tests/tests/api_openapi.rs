//! `docs/openapi.json` is the OpenAPI document generated from the code; this test fails when they differ.
//! Regenerate with: `UPDATE_OPENAPI=1 cargo test -p contact-sync-tests --test api_openapi`.

use std::path::PathBuf;

use contact_sync::api::API_FUNCTIONS;
use contact_sync::api::openapi::openapi_json;
use serde_json::Value;

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn the_checked_in_openapi_document_matches_the_code() {
    let generated = openapi_json();
    let path = checked_in_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/openapi.json is out of date with the code; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p contact-sync-tests --test api_openapi` and commit the result"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_sigv4_and_every_route() {
    let doc: Value = serde_json::from_str(&openapi_json()).expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["sigv4"]["type"],
        "apiKey"
    );
    assert_eq!(doc["security"][0]["sigv4"], Value::Array(Vec::new()));
    let routes = [
        ("post", "/syncs"),
        ("get", "/syncs"),
        ("get", "/syncs/{id}"),
        ("patch", "/syncs/{id}"),
        ("delete", "/syncs/{id}"),
        ("post", "/syncs/{id}/runs"),
        ("get", "/syncs/{id}/runs"),
        ("get", "/syncs/{id}/runs/{run_id}"),
        ("get", "/directory/search"),
        ("get", "/users/{user}/contact-groups"),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(documented, routes.len(), "every route once, nothing else");
    assert_eq!(API_FUNCTIONS.len(), 9);
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let responses = op["responses"].as_object().expect("responses");
        for (status, response) in responses {
            let code: u16 = status.parse().expect("numeric status");
            if code >= 400 && code != 403 {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status} must document the error body"
                );
            }
        }
        assert!(
            responses.contains_key("403"),
            "{method} {path}: IAM refusals are documented"
        );
    }
}
