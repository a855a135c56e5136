//! quick-xml 0.36.2 (RUSTSEC-2026-0194, RUSTSEC-2026-0195) is linked through poem and
//! poem-openapi, whose newest releases still depend on it. deny.toml ignores both
//! advisories on the strength of two tests: this one (no operation accepts or
//! produces XML) and `hostile::media_types` (a request with an XML content type is
//! refused 415 from its headers alone, before its body is read).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::TestApp;

/// The media types the API speaks, in both directions: JSON, and the Prometheus
/// text format that `/metrics` answers (plain text, no parser of ours).
const JSON_TYPES: [&str; 3] = ["application/json", "application/problem+json", "text/plain"];

/// Every media type named in a request body or a response of any operation.
fn media_types(spec: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let paths = spec["paths"].as_object().expect("paths");
    for (path, operations) in paths {
        for (method, op) in operations.as_object().expect("operations") {
            let place = format!("{} {path}", method.to_uppercase());
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for media in content.keys() {
                    found.insert((format!("{place} request"), media.clone()));
                }
            }
            for (status, response) in op["responses"].as_object().expect("responses") {
                if let Some(content) = response["content"].as_object() {
                    for media in content.keys() {
                        found.insert((format!("{place} {status}"), media.clone()));
                    }
                }
            }
        }
    }
    found
}

async fn no_operation_accepts_or_produces_xml(app: &TestApp) {
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let found = media_types(&spec);
    // Bodies are declared at all: an empty set would make the loop below vacuous.
    assert!(
        found.iter().any(|(place, _)| place.ends_with("request")),
        "the document declares no request body at all: {found:?}"
    );
    for (place, media) in &found {
        // The essence, without parameters such as `; charset=utf-8`.
        let essence = media.split(';').next().unwrap_or_default().trim();
        assert!(
            JSON_TYPES.contains(&essence),
            "{place} declares {media}; only JSON (and /metrics' text) is expected (quick-xml advisories in deny.toml)"
        );
    }
    // Asking for XML does not get XML either.
    let response = app
        .client
        .get(app.url("/api/tasks"))
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "Accept: application/xml got {content_type}"
    );
}

crate::api_tests!(no_operation_accepts_or_produces_xml);
