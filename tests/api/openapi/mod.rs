//! Every check of the OpenAPI document: it is served, it says what the API does, in
//! a shape client generators accept, and the API keeps to it.
//!
//! - `schemas`: request and response bodies, and the string rules the API applies;
//! - `paths`: the documented paths and methods, and what the server derives from them;
//! - `media_types`: JSON only (deny.toml's quick-xml advisories rely on it).

mod media_types;
mod paths;
mod schemas;

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
