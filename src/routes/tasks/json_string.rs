use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// A JSON string and nothing else. poem-openapi's `String` also takes numbers and
/// booleans (`{"title": 5}` would become "5"); the API promises 400 for wrong types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonString(pub String);

impl Type for JsonString {
    const IS_REQUIRED: bool = true;

    // Validators such as `max_length` see the inner `String`.
    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for JsonString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for JsonString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_strings_are_accepted() {
        let cases = [
            (serde_json::json!("text"), true),
            (serde_json::json!(5), false),
            (serde_json::json!(true), false),
            (serde_json::json!(["a"]), false),
            (serde_json::json!({"a": 1}), false),
            (Value::Null, false),
        ];
        for (value, ok) in cases {
            let parsed = JsonString::parse_from_json(Some(value.clone()));
            assert_eq!(parsed.is_ok(), ok, "{value}");
        }
    }
}
