//! What the tasks API adds to the generated OpenAPI document.

use serde_json::Value;

/// The request bodies declared with `deny_unknown_fields`.
const CLOSED_OBJECTS: [&str; 2] = ["CreateTask", "UpdateTask"];

/// `spec` with `additionalProperties: false` on the request bodies that refuse
/// unknown fields. poem-openapi cannot write `false` there, and without it the
/// document calls `{"title": "t", "x": 1}` valid while the API answers 400.
pub fn close_request_bodies(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_owned();
    };
    for name in CLOSED_OBJECTS {
        if let Some(Value::Object(schema)) = doc.pointer_mut(&format!("/components/schemas/{name}"))
        {
            schema.insert("additionalProperties".to_owned(), Value::Bool(false));
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned())
}
