//! Where values come from: built-in defaults, then `CONFIG_FILE`, then the
//! environment. Everything is read as text and parsed here, in one pass.

use std::collections::HashMap;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use super::access::{access, cors};
use super::database::database_url;
use super::limits::RawLimitSettings;
use super::parse::{self, given};
use super::{DatabaseSettings, LogFormat, LogLevel, Settings, SettingsError, ShutdownSettings};

/// Every setting as text, before parsing: environment variables are text anyway,
/// and parsing them ourselves is what makes the error messages precise.
#[derive(Deserialize)]
struct RawSettings {
    database_url: Option<String>,
    database_url_file: Option<String>,
    host: String,
    port: String,
    log_format: String,
    log_level: String,
    database_startup_timeout_secs: String,
    database_max_connections: String,
    shutdown_timeout_secs: String,
    shutdown_drain_secs: String,
    replica_id: Option<String>,
    metrics_enabled: String,
    api_tokens_file: Option<String>,
    docs_require_token: String,
    cors_allowed_origins: String,
    cors_max_age_secs: String,
    #[serde(flatten)]
    limits: RawLimitSettings,
}

const DEFAULTS: &[(&str, &str)] = &[
    ("host", "127.0.0.1"),
    ("port", "8000"),
    ("log_format", "text"),
    ("log_level", "info"),
    ("database_startup_timeout_secs", "30"),
    ("database_max_connections", "8"),
    ("shutdown_timeout_secs", "8"),
    ("shutdown_drain_secs", "0"),
    ("metrics_enabled", "true"),
    ("docs_require_token", "false"),
    ("cors_allowed_origins", ""),
    ("cors_max_age_secs", "600"),
    // Load limits; README's memory budget is computed from these defaults.
    ("max_in_flight_requests", "64"),
    ("max_in_flight_lists", "4"),
    ("max_connections", "512"),
    ("header_read_timeout_secs", "10"),
    ("body_read_timeout_secs", "10"),
    ("request_timeout_secs", "15"),
    ("idle_timeout_secs", "30"),
    ("max_list_offset", "10000"),
];

/// Settings with no default: absent means "not given".
const OPTIONAL: &[&str] = &[
    "database_url",
    "database_url_file",
    "replica_id",
    "api_tokens_file",
];

impl Settings {
    /// Reads the process environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::from_env(std::env::vars().collect())
    }

    /// Reads the given environment instead of the process's (tests use this).
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, SettingsError> {
        let config_file = env.get("CONFIG_FILE").cloned().unwrap_or_default();
        let hostname = env.get("HOSTNAME").cloned();
        let mut builder = Config::builder();
        for (key, value) in DEFAULTS {
            builder = builder
                .set_default(*key, *value)
                .map_err(|e| SettingsError::new("defaults", value, e.to_string()))?;
        }
        if !config_file.is_empty() {
            if !Path::new(&config_file).is_file() {
                return Err(SettingsError::new(
                    "CONFIG_FILE",
                    &config_file,
                    "expected the path of a readable TOML file",
                ));
            }
            builder = builder.add_source(File::new(&config_file, FileFormat::Toml).required(true));
        }
        let is_ours = |key: &str| {
            DEFAULTS.iter().any(|(d, _)| d.eq_ignore_ascii_case(key))
                || OPTIONAL.iter().any(|o| o.eq_ignore_ascii_case(key))
        };
        let only_ours: HashMap<String, String> =
            env.into_iter().filter(|(k, _)| is_ours(k)).collect();
        builder = builder.add_source(Environment::default().source(Some(only_ours)));
        let raw: RawSettings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError::new("CONFIG_FILE", &config_file, e.to_string()))?;
        raw.parse(hostname)
    }
}

impl RawSettings {
    fn parse(self, hostname: Option<String>) -> Result<Settings, SettingsError> {
        let host = parse::host(&self.host)?;
        let port = parse::number("PORT", &self.port, 0, u16::MAX.into())? as u16;
        let database = DatabaseSettings {
            url: database_url(given(self.database_url), given(self.database_url_file))?,
            startup_timeout: parse::secs(
                "DATABASE_STARTUP_TIMEOUT_SECS",
                &self.database_startup_timeout_secs,
                0,
            )?,
            max_connections: parse::number(
                "DATABASE_MAX_CONNECTIONS",
                &self.database_max_connections,
                1,
                1000,
            )? as u32,
        };
        let log_format = LogFormat::parse(&self.log_format)?;
        let log_level = LogLevel::parse(&self.log_level)?;
        let shutdown = ShutdownSettings {
            timeout: parse::secs("SHUTDOWN_TIMEOUT_SECS", &self.shutdown_timeout_secs, 0)?,
            drain: parse::secs("SHUTDOWN_DRAIN_SECS", &self.shutdown_drain_secs, 0)?,
        };
        let replica_id = match given(self.replica_id) {
            Some(id) => parse::replica_id("REPLICA_ID", &id)?,
            None => parse::default_replica_id(hostname),
        };
        let metrics_enabled = parse::boolean("METRICS_ENABLED", &self.metrics_enabled)?;
        let (connections, requests) = self.limits.parse()?;
        let access = access(given(self.api_tokens_file), &self.docs_require_token)?;
        let cors = cors(&self.cors_allowed_origins, &self.cors_max_age_secs)?;
        Ok(Settings {
            host,
            port,
            database,
            log_format,
            log_level,
            replica_id,
            connections,
            requests,
            shutdown,
            metrics_enabled,
            access,
            cors,
        })
    }
}
