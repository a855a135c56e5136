//! `LOG_FORMAT=text`: the bytes of tracing-subscriber's own text format, with two
//! of its parts written more cheaply: the fields (events' and spans') and the
//! timestamp. Its line layout (level, span scope, target) is used as it is.
//!
//! Why: its field visitor writes every piece (`name`, `=`, a space) through
//! `write!`, and its timestamp through seven `write!`s; at `GET /api/tasks/{id}`
//! the request's log line cost about 8 300 instructions, a tenth of the request
//! (callgrind, README's "Instructions per request"). Here a name or a plain string
//! is copied as it is, and only what needs escaping or a `Debug` goes
//! through `core::fmt`. The tests below hold the bytes equal to
//! tracing-subscriber's (`DefaultFields`, `SystemTime`) for every kind of field.

use std::error::Error;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

/// The fields of events and spans, as `DefaultFields` writes them.
#[derive(Debug, Default, Clone, Copy)]
pub struct TextFields;

impl<'a> MakeVisitor<Writer<'a>> for TextFields {
    type Visitor = TextVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        TextVisitor {
            sanitize: target.sanitizes_ansi_escapes(),
            writer: target,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// `message` first as it is, every other field as `name=value`, separated by spaces.
pub struct TextVisitor<'a> {
    writer: Writer<'a>,
    /// Whether messages and errors have terminal escapes escaped (always, unless a
    /// writer says otherwise).
    sanitize: bool,
    is_empty: bool,
    result: fmt::Result,
}

impl TextVisitor<'_> {
    /// Writes the separator and `name=` (nothing for `message`), then `value`;
    /// skips what `DefaultVisitor` skips (a `log` record's own fields).
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Self) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        if self.is_empty {
            self.is_empty = false;
        } else if let Err(err) = self.writer.write_char(' ') {
            self.result = Err(err);
            return;
        }
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            if let Err(err) = self
                .writer
                .write_str(name)
                .and_then(|()| self.writer.write_char('='))
            {
                self.result = Err(err);
                return;
            }
        }
        self.result = value(self);
    }

    /// A message: `Debug` of `value`, terminal escapes escaped.
    fn message(&mut self, value: &dyn fmt::Debug) -> fmt::Result {
        let sanitize = self.sanitize;
        write!(
            self.writer,
            "{}",
            Escaped::new(format_args!("{value:?}"), sanitize)
        )
    }
}

impl Visit for TextVisitor<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |v| write!(v.writer, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |v| write!(v.writer, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |v| {
            v.writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            // `DefaultVisitor`: the text as it is (its `Display`), escapes escaped.
            let plain = !self.sanitize || !value.chars().any(is_terminal_control);
            self.field(field, |v| {
                if plain {
                    v.writer.write_str(value)
                } else {
                    v.message(&format_args!("{value}"))
                }
            });
            return;
        }
        // `Debug` of a `str` quotes it and escapes `"`, `\`, control characters and
        // some of Unicode; printable ASCII without `"` or `\` comes out as it is.
        let plain = value
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
        self.field(field, |v| {
            if plain {
                v.writer.write_char('"')?;
                v.writer.write_str(value)?;
                v.writer.write_char('"')
            } else {
                write!(v.writer, "{value:?}")
            }
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let sanitize = self.sanitize;
        let name = field.name();
        // As `DefaultVisitor`: the error, then its sources as a list, all escaped.
        match value.source() {
            Some(source) => self.record_debug(
                field,
                &format_args!(
                    "{} {name}.sources={}",
                    Escaped::new(value, sanitize),
                    Sources { source, sanitize }
                ),
            ),
            None => self.record_debug(field, &format_args!("{}", Escaped::new(value, sanitize))),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.field(field, |v| v.message(value));
        } else {
            self.field(field, |v| write!(v.writer, "{value:?}"));
        }
    }
}

impl VisitOutput<fmt::Result> for TextVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for TextVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// The characters tracing-subscriber escapes in messages and errors: those a
/// terminal takes as the start of a command.
fn is_terminal_control(c: char) -> bool {
    matches!(
        c,
        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
    )
}

/// Writes what it is given with [`is_terminal_control`] characters escaped.
struct EscapeTerminal<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for EscapeTerminal<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, c) in s.char_indices().filter(|(_, c)| is_terminal_control(*c)) {
            self.0.write_str(&s[start..i])?;
            if c.is_ascii() {
                write!(self.0, "\\x{:02x}", c as u32)?;
            } else {
                write!(self.0, "\\u{{{:x}}}", c as u32)?;
            }
            start = i + c.len_utf8();
        }
        self.0.write_str(&s[start..])
    }
}

/// `value`'s `Display`, through [`EscapeTerminal`] when `sanitize`.
struct Escaped<T> {
    value: T,
    sanitize: bool,
}

impl<T> Escaped<T> {
    fn new(value: T, sanitize: bool) -> Self {
        Self { value, sanitize }
    }
}

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sanitize {
            write!(EscapeTerminal(f), "{}", self.value)
        } else {
            write!(f, "{}", self.value)
        }
    }
}

/// An error's sources, from the first, as a `Debug` list of their messages.
struct Sources<'a> {
    source: &'a (dyn Error + 'static),
    sanitize: bool,
}

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut next = Some(self.source);
        while let Some(err) = next {
            // An entry is written with `Debug`, which for `format_args!` is its text.
            list.entry(&format_args!("{}", Escaped::new(err, self.sanitize)));
            next = err.source();
        }
        list.finish()
    }
}

/// The time of a line as tracing-subscriber's `SystemTime` writes it (RFC 3339 in
/// UTC, microseconds, `Z`), its digits placed in a fixed layout: chrono's own
/// RFC 3339 writer cost about 1 900 instructions a line, tracing-subscriber's 2 300.
#[derive(Debug, Default, Clone, Copy)]
pub struct UtcMicros;

impl FormatTime for UtcMicros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write_time(w, chrono::Utc::now())
    }
}

fn write_time(w: &mut Writer<'_>, time: chrono::DateTime<chrono::Utc>) -> fmt::Result {
    use chrono::{Datelike, Timelike};
    let Ok(year) = u32::try_from(time.year()) else {
        // Before year 0 or past 9999 the layout differs: tracing-subscriber's own.
        return SystemTime.format_time(w);
    };
    if year > 9999 {
        return SystemTime.format_time(w);
    }
    let mut line = *b"0000-00-00T00:00:00.000000Z";
    let micros = (time.nanosecond() / 1_000).min(999_999);
    for (at, width, value) in [
        (0, 4, year),
        (5, 2, time.month()),
        (8, 2, time.day()),
        (11, 2, time.hour()),
        (14, 2, time.minute()),
        (17, 2, time.second()),
        (20, 6, micros),
    ] {
        let mut value = value;
        for digit in line[at..at + width].iter_mut().rev() {
            // Below 10: a digit.
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    w.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
    use tracing_subscriber::fmt::format::DefaultFields;

    use super::super::test_events::{Fixed, Lines, log_everything};
    use super::*;

    fn lines_of<N>(fields: N) -> String
    where
        N: for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static,
    {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(lines.clone())
            .fmt_fields(fields)
            .event_format(tracing_subscriber::fmt::format().with_timer(Fixed))
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);
        lines.text()
    }

    #[test]
    fn lines_are_tracing_subscribers_byte_for_byte() {
        let ours = lines_of(TextFields);
        let theirs = lines_of(DefaultFields::new());
        // One line per event, and one more for the message with a line break.
        assert_eq!(ours.lines().count(), 12, "{ours}");
        for (i, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
            assert_eq!(a, b, "line {i}: ours, then tracing-subscriber's");
        }
        assert_eq!(ours, theirs);
    }

    #[test]
    fn the_time_is_written_as_tracing_subscribers() {
        let write = |timer: &dyn FormatTime| {
            let mut out = String::new();
            timer
                .format_time(&mut Writer::new(&mut out))
                .expect("a time is written");
            out
        };
        let theirs = write(&SystemTime);
        let ours = write(&UtcMicros);
        let after = write(&SystemTime);
        // The same shape, character class by character class.
        let shape = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect()
        };
        assert_eq!(shape(&ours), "9999-99-99T99:99:99.999999Z", "{ours}");
        assert_eq!(shape(&ours), shape(&theirs), "ours {ours}, theirs {theirs}");
        // The same clock: read between two of tracing-subscriber's readings (RFC
        // 3339 with a fixed width sorts as text).
        assert!(
            theirs <= ours && ours <= after,
            "{theirs} <= {ours} <= {after}"
        );
    }

    #[test]
    fn a_time_is_written_as_rfc_3339_with_microseconds() {
        let at = |secs: i64, nanos: u32| -> DateTime<Utc> {
            Utc.timestamp_opt(secs, nanos)
                .single()
                .unwrap_or_else(|| panic!("{secs}.{nanos} is a time"))
        };
        let cases = [
            (at(0, 0), "the epoch"),
            (at(1_709_164_800, 5_000), "a leap day, 5 us"),
            (
                at(1_764_748_799, 999_999_999),
                "the last nanosecond of a second",
            ),
            (
                at(253_402_300_799, 999_999_000),
                "the last microsecond of 9999",
            ),
            (at(-62_135_596_800, 0), "the first second of year 1"),
            (at(1_796_284_800, 123_456_789), "a time of this project"),
        ];
        for (time, why) in cases {
            let mut ours = String::new();
            write_time(&mut Writer::new(&mut ours), time).expect("written");
            assert_eq!(
                ours,
                time.to_rfc3339_opts(SecondsFormat::Micros, true),
                "{why}"
            );
        }
    }
}
