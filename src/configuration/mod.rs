//! Settings: built-in defaults, then an optional TOML file named by `CONFIG_FILE`,
//! then environment variables. Every value is parsed here, once; a bad one becomes a
//! [`SettingsError`] that names the setting, the value and what is allowed.
//!
//! - `load`: where values come from (defaults, file, environment) and the whole
//!   [`Settings`] parsed from them;
//! - `parse`: the small parsers every setting shares (numbers, seconds, host);
//! - `database`: `DATABASE_URL` / `DATABASE_URL_FILE`; `redact` masks its secrets;
//! - `limits`: what connections and requests may hold (the load limits);
//! - `log`: `LOG_FORMAT`, `LOG_LEVEL`;
//! - `access`: `API_TOKENS_FILE`, `DOCS_REQUIRE_TOKEN`, `CORS_ALLOWED_ORIGINS`,
//!   `CORS_MAX_AGE_SECS`;
//! - `error`: [`SettingsError`], the one error for a bad setting, whichever layer
//!   finds it (the settings, the data directory, the database server, the bind).
//!
//! A new setting: its default in `load::DEFAULTS`, its raw field and its parsed
//! field beside its kin (or in [`Settings`]), a row in README's settings table.

mod access;
mod database;
mod error;
mod limits;
mod load;
mod log;
mod parse;
mod redact;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

pub use access::{AccessSettings, CorsSettings};
pub use database::{DatabaseSettings, DatabaseUrl};
pub use error::SettingsError;
pub use limits::{ConnectionLimits, RequestLimits};
pub use log::{LogFormat, LogLevel};
pub use parse::is_identifier;
pub use redact::redact;

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: IpAddr,
    pub port: u16,
    pub database: DatabaseSettings,
    pub log_format: LogFormat,
    pub log_level: LogLevel,
    /// Sent as `X-Replica-Id` on every response, to tell replicas apart.
    pub replica_id: String,
    /// What the server layer bounds: open connections, header and idle time.
    pub connections: ConnectionLimits,
    /// What the routes bound: requests in flight, body read time.
    pub requests: RequestLimits,
    pub shutdown: ShutdownSettings,
    /// Whether `/metrics` is served and requests are measured.
    pub metrics_enabled: bool,
    /// Bearer tokens (off unless `API_TOKENS_FILE` is set).
    pub access: AccessSettings,
    /// Which other origins' web pages may call the API.
    pub cors: CorsSettings,
}

/// How a stop goes (SIGTERM/SIGINT): first `drain`, then up to `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct ShutdownSettings {
    /// How long the server keeps serving, with `/readyz` at 503, so a load
    /// balancer stops sending traffic before the listener closes.
    pub drain: Duration,
    /// How long in-flight requests may then run on before their connections are cut.
    pub timeout: Duration,
}
