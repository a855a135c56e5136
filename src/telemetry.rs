use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::configuration::{LogFormat, LogLevel};

/// Logs go to stdout, as text or as JSON lines. Calling it twice is harmless
/// (tests start several apps in one process).
pub fn init(format: LogFormat, level: &LogLevel) {
    let filter = EnvFilter::try_new(level.as_str()).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal());
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
