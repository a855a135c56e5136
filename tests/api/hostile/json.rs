//! JSON built to break a parser or slip past a rule: malformed, truncated, the wrong
//! shape or types, nulls, huge numbers, bad values, invalid UTF-8 and control
//! characters, unknown fields. All 400.

use serde_json::json;

use super::{Case, patch, post, refuse_all};
use crate::harness::TestApp;

pub fn cases() -> Vec<Case> {
    vec![
        // Malformed and truncated JSON.
        post("truncated after a key", r#"{"title": "#, 400),
        post("truncated inside a string", r#"{"title": "abc"#, 400),
        post("a lone opening brace", "{", 400),
        post(
            "trailing garbage after the object",
            r#"{"title": "a"} x"#,
            400,
        ),
        post(
            "two objects back to back",
            r#"{"title": "a"}{"title": "b"}"#,
            400,
        ),
        post("single-quoted JSON", "{'title': 'a'}", 400),
        post("a trailing comma", r#"{"title": "a",}"#, 400),
        post("a comment inside", r#"{"title": "a" /* hi */}"#, 400),
        post("NaN as a value", r#"{"title": "a", "status": NaN}"#, 400),
        post("an empty body", "", 400),
        post("a whitespace-only body", " \n\t ", 400),
        post(
            "a byte-order mark before the JSON",
            "\u{feff}{\"title\": \"a\"}",
            400,
        ),
        // The wrong shape or wrong types.
        post("JSON null as the body", "null", 400),
        post("a bare string as the body", r#""a title""#, 400),
        post("an array of tasks", r#"[{"title": "a"}]"#, 400),
        post("title as a number", r#"{"title": 5}"#, 400),
        post("title as a boolean", r#"{"title": true}"#, 400),
        post("title as an array", r#"{"title": ["a"]}"#, 400),
        post("title as an object", r#"{"title": {"text": "a"}}"#, 400),
        post("status as a number", r#"{"title": "a", "status": 1}"#, 400),
        post(
            "due_date as a number",
            r#"{"title": "a", "due_date": 20261201}"#,
            400,
        ),
        post(
            "description as an array",
            r#"{"title": "a", "description": []}"#,
            400,
        ),
        // Nulls.
        post("title null", r#"{"title": null}"#, 400),
        post("status null", r#"{"title": "a", "status": null}"#, 400),
        patch("title null", r#"{"title": null}"#, 400),
        patch("status null", r#"{"status": null}"#, 400),
        // Huge numbers.
        post("a number past f64 as the title", r#"{"title": 1e999}"#, 400),
        post(
            "a 30-digit integer as the title",
            r#"{"title": 123456789012345678901234567890}"#,
            400,
        ),
        post(
            "a number past f64 as the status",
            r#"{"title": "a", "status": -1e400}"#,
            400,
        ),
        patch("a number past f64 as the title", r#"{"title": 1e999}"#, 400),
        // Bad values.
        post(
            "status in upper case",
            r#"{"title": "a", "status": "DONE"}"#,
            400,
        ),
        post(
            "status with a trailing space",
            r#"{"title": "a", "status": "todo "}"#,
            400,
        ),
        post(
            "due_date 30 February",
            r#"{"title": "a", "due_date": "2026-02-30"}"#,
            400,
        ),
        post(
            "due_date with a five-digit year",
            r#"{"title": "a", "due_date": "12026-01-01"}"#,
            400,
        ),
        post(
            "due_date 0000-00-00",
            r#"{"title": "a", "due_date": "0000-00-00"}"#,
            400,
        ),
        post(
            "a title of ideographic spaces only",
            json!({"title": "\u{3000}\u{3000}"}).to_string(),
            400,
        ),
        post(
            "a title of 201 emoji",
            json!({"title": "🚀".repeat(201)}).to_string(),
            400,
        ),
        post(
            "an id chosen by the client",
            r#"{"title": "a", "id": 1}"#,
            400,
        ),
        // Invalid UTF-8 and control characters.
        post(
            "invalid UTF-8 bytes in a string",
            b"{\"title\": \"\xff\xfe\"}".to_vec(),
            400,
        ),
        post(
            "an overlong UTF-8 encoding of '/'",
            b"{\"title\": \"\xc0\xaf\"}".to_vec(),
            400,
        ),
        post("a lone surrogate escape", r#"{"title": "\ud800"}"#, 400),
        post(
            "an escaped NUL in the title",
            r#"{"title": "a\u0000b"}"#,
            400,
        ),
        post(
            "an escaped ESC in the title",
            r#"{"title": "a\u001b[31mred"}"#,
            400,
        ),
        post(
            "a raw control byte inside a string",
            b"{\"title\": \"a\x01b\"}".to_vec(),
            400,
        ),
        post(
            "a bell character in the description",
            r#"{"title": "a", "description": "ding\u0007"}"#,
            400,
        ),
        patch(
            "invalid UTF-8 bytes in the title",
            b"{\"title\": \"\xed\xa0\x80\"}".to_vec(),
            400,
        ),
        patch("an escaped NUL in the title", r#"{"title": "\u0000"}"#, 400),
        // Unknown fields.
        post("an unknown field", r#"{"title": "a", "priority": 1}"#, 400),
        post(
            "a __proto__ field",
            r#"{"title": "a", "__proto__": {"admin": true}}"#,
            400,
        ),
        patch("an unknown field", r#"{"colour": "red"}"#, 400),
        patch(
            "created_at",
            r#"{"created_at": "2000-01-01T00:00:00Z"}"#,
            400,
        ),
    ]
}

async fn malformed_or_mistyped_json_gets_400_and_changes_nothing(app: &TestApp) {
    refuse_all(app, "JSON", cases()).await;
}

crate::api_tests!(malformed_or_mistyped_json_gets_400_and_changes_nothing);
