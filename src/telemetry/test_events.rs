//! Log events for the formats' tests: every kind of field, span and escape the
//! service logs or might, and what collects the lines.

use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// One fixed time, so that two formats' lines can be compared byte for byte.
#[derive(Clone)]
pub struct Fixed;

impl FormatTime for Fixed {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        w.write_str("2026-12-03T07:00:00.123456Z")
    }
}

#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Lines {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Every kind of event and span the service logs, and some it might.
pub fn log_everything() {
    tracing::info!(
        method = "GET",
        path = "/api/tasks/7",
        status = 200u64,
        "outside any span"
    );
    let request = tracing::info_span!("request", request_id = "0f1e-2d3c");
    let _entered = request.enter();
    tracing::info!(
        method = %"POST",
        path = %"/api/tasks",
        status = 201u16,
        token_name = Some("ci"),
        scope = None::<&str>,
        latency_ms = 0.123_f64,
        "request"
    );
    tracing::warn!(
        whole = 1.0_f64,
        tiny = 1e-7_f64,
        huge = 1e21_f64,
        minus_zero = -0.0_f64,
        nan = f64::NAN,
        infinite = f64::INFINITY,
        negative = -42i64,
        yes = true,
        no = false,
        wide = 170_141_183_460_469_231_731_687_303_715_884_105_727_i128,
        "numbers"
    );
    tracing::error!(
        quotes = "say \"hi\" \\ there",
        control = "tab\there\nnew\r\u{8}\u{c}\u{1}\u{1f}\u{7f}",
        unicode = "é ✓ 🦀 \u{2028}",
        debug = ?("a\"b", 3),
        error = &std::io::Error::other("disk \"full\"") as &(dyn std::error::Error + 'static),
        "message with \"quotes\" and\nnewline"
    );
    let outer = tracing::info_span!("outer", b = 2, a = "x\"y", name = "shadow");
    let _outer = outer.enter();
    let inner = tracing::debug_span!("inner");
    let _inner = inner.enter();
    tracing::info!("nested");
    tracing::info!(parent: &request, "explicit parent");
    tracing::info!(target: "a \"quoted\" target", "custom target");
    // Taken for a `log` record: handed to tracing-subscriber's format.
    tracing::info!(log.target = "from_log", "looks like a log record");
    // Escapes a terminal would act on, an error with sources, a raw identifier.
    tracing::warn!(
        r#type = "raw name",
        apostrophe = "it's",
        "escape \x1b[31mred\x1b[0m, bell \x07, C1 \u{85}, delete \x7f"
    );
    tracing::info!(message = "a message as a str \x1b[1m", count = 3u64);
    tracing::error!(
        error = &Saving(std::io::Error::other("disk \"full\" \x1b[2J")) as &(dyn Error + 'static),
        "saving failed"
    );
}

/// An error with a source, as a store's errors are.
#[derive(Debug)]
struct Saving(std::io::Error);

impl fmt::Display for Saving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not save \x07")
    }
}

impl Error for Saving {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
