//! The schemas say what the API accepts, in a shape client generators accept.

use serde_json::{Value, json};

use super::{document, schema};
use crate::harness::spawn_sqlite;

/// Every `allOf` in the document, with where it is.
fn all_ofs<'a>(node: &'a Value, at: String, found: &mut Vec<(String, &'a Value)>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "allOf" {
                    found.push((at.clone(), value));
                }
                all_ofs(value, format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                all_ofs(value, format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn request_bodies_are_closed_and_no_schema_wraps_a_non_object_reference_in_all_of() {
    let app = spawn_sqlite().await;
    let doc = document(&app).await;
    // openapi-python-client refuses `allOf` over a non-object and drops the whole
    // operation (POST /api/tasks did, when `status` carried its own description).
    let mut found = Vec::new();
    all_ofs(&doc, String::new(), &mut found);
    for (at, members) in found {
        for member in members.as_array().unwrap() {
            if let Some(target) = member["$ref"].as_str() {
                let name = target.rsplit('/').next().unwrap();
                assert_eq!(
                    schema(&doc, name)["type"],
                    "object",
                    "{at}: allOf over {target}, which is not an object"
                );
            }
        }
    }
    for object in ["CreateTask", "UpdateTask"] {
        assert_eq!(
            schema(&doc, object)["additionalProperties"],
            false,
            "{object} refuses unknown fields, so the document must say so"
        );
        assert_eq!(
            schema(&doc, object)["properties"]["status"],
            json!({"$ref": "#/components/schemas/TaskStatus"}),
            "{object}.status is a plain reference"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn text_fields_are_nullable_where_null_is_accepted_and_typed_as_the_domain_parses_them() {
    let app = spawn_sqlite().await;
    let doc = document(&app).await;
    // (schema, field, nullable, format)
    let cases = [
        ("CreateTask", "title", false, None),
        ("CreateTask", "description", true, None),
        ("CreateTask", "due_date", true, Some("date")),
        ("UpdateTask", "title", false, None),
        ("UpdateTask", "description", true, None),
        ("UpdateTask", "due_date", true, Some("date")),
    ];
    for (object, field, nullable, format) in cases {
        let property = &schema(&doc, object)["properties"][field];
        let at = format!("{object}.{field}: {property}");
        assert_eq!(property["type"], "string", "{at}");
        assert_eq!(
            property["nullable"].as_bool().unwrap_or(false),
            nullable,
            "{at}"
        );
        assert_eq!(property["format"].as_str(), format, "{at}");
        assert!(property["pattern"].is_string(), "{at}: no pattern");
    }
    for object in ["CreateTask", "UpdateTask"] {
        let title = &schema(&doc, object)["properties"]["title"];
        assert_eq!(title["minLength"], 1, "{object}.title: {title}");
    }
    let description = &schema(&doc, "UpdateTask")["properties"]["description"];
    assert_eq!(description["maxLength"], 10_000, "{description}");
    app.stop().await;
}

/// The served patterns against the served API: a string matches the document's
/// schema exactly when the API takes it.
#[tokio::test]
async fn the_documented_string_rules_are_the_rules_the_api_applies() {
    let app = spawn_sqlite().await;
    let doc = document(&app).await;
    let properties = &schema(&doc, "CreateTask")["properties"];
    let compile = |field: &str| {
        regex::Regex::new(properties[field]["pattern"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{field}'s pattern does not compile: {e}"))
    };
    let (title, due_date) = (compile("title"), compile("due_date"));
    let a200 = "a".repeat(200);
    let cases = [
        ("title", "".to_owned(), "empty title"),
        ("title", "   ".to_owned(), "blank title"),
        ("title", "a".to_owned(), "one character"),
        ("title", a200.clone(), "200 characters"),
        ("title", format!("{a200}a"), "201 characters"),
        (
            "title",
            format!("  {a200}\t"),
            "200 characters and white space around",
        ),
        (
            "title",
            "tab\tinside".to_owned(),
            "a control character inside",
        ),
        ("due_date", "".to_owned(), "empty due date"),
        ("due_date", "2026-11-26".to_owned(), "a date"),
        ("due_date", "2026-1-5".to_owned(), "no zero padding"),
        ("due_date", "2026-11-26T00:00:00Z".to_owned(), "a timestamp"),
    ];
    for (field, value, why) in cases {
        let body = match field {
            "title" => json!({ "title": value }),
            _ => json!({ "title": "t", field: value }),
        };
        let pattern = if field == "title" { &title } else { &due_date };
        let documented = pattern.is_match(&value) && (field != "title" || !value.is_empty());
        let status = app.post_json("/api/tasks", &body).await.status().as_u16();
        assert_eq!(
            documented,
            status == 201,
            "{why}: the document says {}, the API answers {status}",
            if documented { "valid" } else { "invalid" }
        );
    }
    // `null` is documented for the two optional fields of a new task: it means "none".
    let task = app
        .create_task(json!({"title": "t", "description": null, "due_date": null}))
        .await;
    assert!(
        task.get("description").is_none() && task.get("due_date").is_none(),
        "{task}"
    );
    app.stop().await;
}
