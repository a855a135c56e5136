//! Every check of the OpenAPI document: it is served, it says what the API does, in
//! a shape client generators accept, and the API keeps to it.
//!
//! - `schemas`: request and response bodies, and the string rules the API applies;
//! - `paths`: the documented paths and methods, and what the server derives from them;
//! - `media_types`: JSON only (deny.toml's quick-xml advisories rely on it).

mod media_types;
mod paths;
mod schemas;

use reqwest::Method;
use serde_json::Value;

use crate::harness::TestApp;

pub async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "the document has no schema {name}");
    schema
}

/// Every documented operation: its method, its path as documented (`/api/tasks/{id}`),
/// and its tags.
pub fn operations(doc: &Value) -> Vec<(Method, String, Vec<String>)> {
    let mut found = Vec::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let tags = operation["tags"]
                .as_array()
                .map(|tags| {
                    tags.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            found.push((method, path.clone(), tags));
        }
    }
    assert!(!found.is_empty(), "the document lists no operation");
    found
}
