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

/// `spec` with tokens required: the empty requirement (`{}`, "or no token") that
/// the fallback of `ApiAuth` adds to every tasks operation is dropped, since with
/// `API_TOKENS_FILE` set the guard lets no request through without a token.
pub fn require_tokens(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_owned();
    };
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                if let Some(Value::Array(security)) = op.get_mut("security") {
                    security.retain(|req| req.as_object().is_none_or(|r| !r.is_empty()));
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned())
}
