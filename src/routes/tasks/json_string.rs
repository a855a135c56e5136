use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::domain::{TaskDescription, TaskTitle};

/// A JSON string and nothing else. poem-openapi's `String` also takes numbers and
/// booleans (`{"title": 5}` would become "5"); the API promises 400 for wrong types.
///
/// `S` only chooses what the OpenAPI document says about the field; the domain
/// types still do the parsing. Each schema states exactly the strings its domain
/// type accepts, so clients and generated tests can tell valid input from invalid
/// without reading prose.
pub struct JsonString<S>(pub String, PhantomData<fn() -> S>);

/// The schema of one kind of text field.
pub trait TextSchema {
    fn schema() -> MetaSchema;
}

impl<S> fmt::Debug for JsonString<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonString").field(&self.0).finish()
    }
}

impl<S: TextSchema + Send + Sync> Type for JsonString<S> {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(S::schema()))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<S: TextSchema + Send + Sync> ParseFromJSON for JsonString<S> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Ok(Self(text, PhantomData)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<S: TextSchema + Send + Sync> ToJSON for JsonString<S> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

// The patterns use only escapes that ECMA-262, Python's `re` and Rust's `regex` read
// alike (`\xNN`, `\uNNNN`, classes; no `\s`, `\d` or `\p`, whose meaning differs), so
// a generator in any language draws the same set of strings.

/// White space as `str::trim` sees it (Unicode `White_Space`).
const WHITE_SPACE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters as `char::is_control` sees them (Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// [`TaskTitle`]: 1 to 200 characters once surrounding white space is trimmed, no
/// control characters inside. `maxLength` cannot say "after trimming", so the
/// pattern carries the bound: a first and a last visible character with at most
/// 198 others between them, and any white space around.
pub enum Title {}

impl TextSchema for Title {
    fn schema() -> MetaSchema {
        let visible = format!("[^{CONTROL}{WHITE_SPACE}]");
        let inner = format!("[^{CONTROL}]");
        let between = TaskTitle::MAX_CHARS - 2;
        MetaSchema {
            min_length: Some(1),
            pattern: Some(format!(
                "^[{WHITE_SPACE}]*{visible}(?:{inner}{{0,{between}}}{visible})?[{WHITE_SPACE}]*$"
            )),
            ..MetaSchema::new("string")
        }
    }
}

/// [`TaskDescription`]: up to 10 000 characters; tab, line feed and carriage return
/// are the only control characters allowed.
pub enum Description {}

impl TextSchema for Description {
    fn schema() -> MetaSchema {
        MetaSchema {
            max_length: Some(TaskDescription::MAX_CHARS),
            pattern: Some(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$".to_owned()),
            ..MetaSchema::new("string")
        }
    }
}

/// [`crate::domain::DueDate`]: a calendar date written exactly as `YYYY-MM-DD`
/// (`format: date` says "real date", the pattern says "this one spelling").
pub enum Date {}

impl TextSchema for Date {
    fn schema() -> MetaSchema {
        MetaSchema {
            pattern: Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$".to_owned()),
            ..MetaSchema::new_with_format("string", "date")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DueDate;

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
            let parsed = JsonString::<Title>::parse_from_json(Some(value.clone()));
            assert_eq!(parsed.is_ok(), ok, "{value}");
        }
    }

    fn matches<S: TextSchema>(text: &str) -> bool {
        let pattern = S::schema().pattern.expect("a pattern");
        let re = regex::Regex::new(&pattern).expect("the pattern compiles");
        let chars = text.chars().count();
        let schema = S::schema();
        re.is_match(text)
            && schema.min_length.is_none_or(|min| chars >= min)
            && schema.max_length.is_none_or(|max| chars <= max)
    }

    /// The document must accept exactly what the domain accepts: schema-valid input
    /// that the API refuses (or the reverse) misleads clients and generated tests.
    #[test]
    fn each_schema_accepts_exactly_what_its_domain_type_accepts() {
        let a200 = "a".repeat(200);
        let titles = [
            String::new(),
            " ".into(),
            "\t\n \u{3000}\u{a0}".into(),
            "a".into(),
            "ab".into(),
            " buy milk ".into(),
            "\u{2028}x\u{85}".into(),
            "a b".into(),
            "a\u{a0}b".into(),
            "a\tb".into(),
            "a\u{7f}".into(),
            "\u{1}a".into(),
            "\u{9f}".into(),
            "\u{200b}".into(),
            "é".repeat(200),
            a200.clone(),
            format!("  {a200}\n"),
            format!("{a200}b"),
            format!(" {a200}b "),
            "😀".repeat(200),
            "😀".repeat(201),
        ];
        for title in &titles {
            assert_eq!(
                matches::<Title>(title),
                TaskTitle::parse(title).is_ok(),
                "title {title:?}"
            );
        }

        let descriptions = [
            String::new(),
            " ".into(),
            "two\r\nlines\tand a tab".into(),
            "bell\u{7}".into(),
            "nul\u{0}".into(),
            "\u{85}".into(),
            "\u{b}".into(),
            "x".repeat(10_000),
            "x".repeat(10_001),
            "é".repeat(10_000),
        ];
        for description in &descriptions {
            assert_eq!(
                matches::<Description>(description),
                TaskDescription::parse(description).is_ok(),
                "description {:?}",
                description.chars().take(20).collect::<String>()
            );
        }

        // The pattern is the spelling; `format: date` adds "a real calendar date",
        // which a regex cannot say, so only spelling cases are compared here.
        let dates = [
            "2026-11-26",
            "0001-01-01",
            "",
            "2026-1-05",
            "+2026-01-05",
            "2026-11-26T00:00:00Z",
            "٢٠٢٦-١١-٢٦",
        ];
        for date in dates {
            assert_eq!(
                matches::<Date>(date),
                DueDate::parse(date).is_ok(),
                "due date {date:?}"
            );
        }
    }
}
