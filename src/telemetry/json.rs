//! `LOG_FORMAT=json`: the bytes of tracing-subscriber's own JSON format
//! (`.json().flatten_event(true)`), written without its per-line machinery.
//!
//! Why not its format as is: for every line it parses each span's stored fields back
//! from JSON, twice (for `span` and again for `spans`), and pushes every string
//! through serde's adaptors; that made a JSON request line cost 30 000 to 36 000
//! instructions against 11 000 to 16 000 for a text one (callgrind, per request).
//! Here a span's stored fields (already a JSON object, written once when the span
//! was created) are copied as they are, and strings are escaped as serde_json
//! escapes them. A line this does not handle the common way (an event that came
//! from the `log` crate, a span without stored fields or with fields that are not
//! an object) is handed to tracing-subscriber's format whole. The tests below hold
//! the bytes equal to tracing-subscriber's.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The event format of JSON lines.
pub struct JsonLines<T> {
    timer: T,
    /// tracing-subscriber's own format, for the lines not written here.
    fallback: Format<Json, T>,
}

impl<T: FormatTime + Clone> JsonLines<T> {
    pub fn with_timer(timer: T) -> Self {
        Self {
            fallback: tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_timer(timer.clone()),
            timer,
        }
    }
}

impl<S, N, T> FormatEvent<S, N> for JsonLines<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        // tracing-subscriber's format takes such an event's level and target from
        // the log record's fields: left to it.
        let from_log = meta.fields().field("log.target").is_some();
        let current = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        let leaf = current.as_ref().and_then(|_| ctx.lookup_current());
        // What is written: the current span, and the leaf's scope, which holds the
        // current span too unless the event names another parent.
        let current_apart = current
            .as_ref()
            .filter(|c| leaf.as_ref().is_none_or(|l| l.id() != c.id()));
        let is_object = |span: &SpanRef<'_, S>| with_fields::<S, N, _>(span, |_| ()).is_some();
        let all_objects = current_apart.is_none_or(is_object)
            && leaf
                .as_ref()
                .is_none_or(|l| l.scope().all(|s| is_object(&s)));
        if from_log || !all_objects {
            return self.fallback.format_event(ctx, writer, event);
        }

        writer.write_str("{\"timestamp\":\"")?;
        // RFC 3339: nothing in it needs escaping.
        self.timer.format_time(&mut writer)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_char('"')?;
        let mut fields = Fields {
            out: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_str(&mut writer, meta.target())?;
        if let Some(span) = &current {
            writer.write_str(",\"span\":")?;
            write_span::<S, N>(&mut writer, span)?;
            writer.write_str(",\"spans\":[")?;
            if let Some(leaf) = &leaf {
                for (i, span) in leaf.scope().from_root().enumerate() {
                    if i > 0 {
                        writer.write_char(',')?;
                    }
                    write_span::<S, N>(&mut writer, &span)?;
                }
            }
            writer.write_char(']')?;
        }
        writer.write_str("}\n")
    }
}

/// `f` of what is inside the braces of the span's stored fields; `None` when they
/// are missing or not an object.
fn with_fields<S, N, R>(span: &SpanRef<'_, S>, f: impl FnOnce(&str) -> R) -> Option<R>
where
    S: for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    let extensions = span.extensions();
    let stored = extensions.get::<FormattedFields<N>>()?;
    Some(f(stored.fields.strip_prefix('{')?.strip_suffix('}')?))
}

/// `{FIELDS,"name":NAME}`: the span's stored fields as they are, then its name.
fn write_span<S, N>(out: &mut Writer<'_>, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    with_fields::<S, N, _>(span, |inner| {
        out.write_char('{')?;
        if !inner.is_empty() {
            out.write_str(inner)?;
            out.write_char(',')?;
        }
        out.write_str("\"name\":")?;
        write_str(out, span.name())?;
        out.write_char('}')
    })
    .unwrap_or(Err(fmt::Error))
}

/// The event's fields as `,"name":value` members, as tracing-serde writes them:
/// numbers and booleans as JSON's, everything else as a string (of its `Debug`).
struct Fields<'a, 'w> {
    out: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self
                .out
                .write_char(',')
                .and_then(|()| write_str(self.out, field.name()))
                .and_then(|()| self.out.write_char(':'))
                .and_then(|()| value(self.out));
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| {
            if value.is_finite() {
                out.write_str(zmij::Buffer::new().format_finite(value))
            } else {
                out.write_str("null")
            }
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_str(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(Escaped(out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

fn write_str(out: &mut Writer<'_>, s: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(s)?;
    out.write_char('"')
}

/// Writes what it is given as the inside of a JSON string, escaped as serde_json
/// escapes: `"`, `\` and the control characters below 0x20, nothing else.
struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, byte) in s.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::fmt::format::JsonFields;

    use super::super::test_events::{Fixed, Lines, log_everything};
    use super::*;

    fn lines_of<F>(format: F) -> String
    where
        F: FormatEvent<tracing_subscriber::Registry, JsonFields> + Send + Sync + 'static,
    {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(lines.clone())
            .fmt_fields(JsonFields::new())
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);
        lines.text()
    }

    #[test]
    fn lines_are_tracing_subscribers_byte_for_byte() {
        let ours = lines_of(JsonLines::with_timer(Fixed));
        let theirs = lines_of(
            tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_timer(Fixed),
        );
        assert_eq!(ours.lines().count(), 11, "one line per event:\n{ours}");
        for (i, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
            assert_eq!(a, b, "line {i}: ours, then tracing-subscriber's");
        }
        assert_eq!(ours, theirs);
        for line in ours.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        }
    }
}
