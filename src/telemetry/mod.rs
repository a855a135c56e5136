//! The logs: what is logged, in which format (text: `text`, JSON lines: `json`), and the writer
//! that takes the lines to stdout (`writer`).

mod json;
#[cfg(test)]
mod test_events;
mod text;
mod writer;

use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;

use crate::configuration::{LogFormat, LogLevel};

use writer::{DroppedLines, Guard};

/// Bytes of log lines waiting for stdout. When the reader falls this far behind, new
/// lines are dropped (and counted) rather than making requests wait. With the batch
/// being written, at most twice this: 1 MiB, part of README's memory budget.
const BUFFERED_BYTES: usize = 512 * 1024;

/// How long lines gather before they are written together.
const WRITE_EVERY: Duration = Duration::from_millis(20);

/// How often a count of dropped lines is logged, when there are any.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Keeps the log writer's thread alive; dropping it writes what is buffered
/// (waiting at most about a second if stdout is blocked).
pub struct Telemetry {
    _guard: Guard,
    dropped: DroppedLines,
}

/// Logs go to stdout, as text or as JSON lines, through a writer thread: a slow or
/// blocked log reader then costs dropped lines, never stalled requests. Text has no
/// colours, on a terminal too (Cargo.toml says why). `None` when a subscriber was
/// already set (tests start several apps in one process), or when the writer's
/// thread cannot be started (said on stderr; the service then runs without logs).
pub fn init(format: LogFormat, level: &LogLevel) -> Option<Telemetry> {
    let filter = EnvFilter::try_new(level.as_str()).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = match writer::spawn(
        std::io::stdout(),
        BUFFERED_BYTES,
        WRITE_EVERY,
        "tasks-backend-log",
    ) {
        Ok(started) => started,
        Err(err) => {
            eprintln!("tasks-backend: the log writer's thread did not start, no logs: {err}");
            return None;
        }
    };
    let dropped = writer.dropped();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder
            .fmt_fields(text::TextFields)
            .with_timer(text::UtcMicros)
            .try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(json::JsonLines::with_timer(text::UtcMicros))
            .try_init(),
    };
    installed.ok().map(|()| Telemetry {
        _guard: guard,
        dropped,
    })
}

impl Telemetry {
    /// Logs a warning with the number of dropped lines every [`DROP_REPORT_EVERY`]
    /// in which some were dropped. Needs a Tokio runtime.
    pub fn spawn_drop_reporter(&self) -> tokio::task::JoinHandle<()> {
        let dropped = self.dropped.clone();
        tokio::spawn(async move {
            let mut reported = 0;
            let mut every = tokio::time::interval(DROP_REPORT_EVERY);
            loop {
                every.tick().await;
                reported = report_drops(&dropped, reported);
            }
        })
    }

    /// Log lines dropped so far.
    pub fn dropped_lines(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let dropped = self.dropped.clone();
        move || dropped.get()
    }

    /// The last word at shutdown: how many lines were dropped over the whole run.
    pub fn report_total(&self) {
        let total = self.dropped.get();
        if total > 0 {
            tracing::warn!(
                dropped_lines_total = total,
                "log lines dropped while stdout was not keeping up"
            );
        }
    }
}

fn report_drops(dropped: &DroppedLines, reported: usize) -> usize {
    let total = dropped.get();
    if total > reported {
        tracing::warn!(
            dropped_lines = total - reported,
            dropped_lines_total = total,
            "log lines dropped while stdout was not keeping up"
        );
    }
    total
}
