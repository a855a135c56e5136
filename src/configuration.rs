//! Settings: built-in defaults, then an optional TOML file named by `CONFIG_FILE`,
//! then environment variables. Every value is parsed here, once; a bad one becomes a
//! [`SettingsError`] that names the setting, the value and what is allowed.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: IpAddr,
    pub port: u16,
    pub database: DatabaseSettings,
    pub log_format: LogFormat,
    pub log_level: String,
    /// How long in-flight requests may run on after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    pub limits: LimitSettings,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    /// How long start-up keeps retrying an unreachable database before giving up.
    pub startup_timeout: Duration,
    pub max_connections: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `path` is `None` for an in-memory database.
    Sqlite {
        url: String,
        path: Option<PathBuf>,
    },
    Postgres {
        url: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// One line, fit for stderr: `invalid setting PORT="abc": expected ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting}={value:?}: {problem}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub value: String,
    pub problem: String,
}

impl SettingsError {
    fn new(setting: &'static str, value: &str, problem: impl Into<String>) -> Self {
        Self {
            setting,
            value: value.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Every setting as text, before parsing: environment variables are text anyway,
/// and parsing them ourselves is what makes the error messages precise.
#[derive(Debug, Deserialize)]
struct RawSettings {
    database_url: String,
    host: String,
    port: String,
    log_format: String,
    log_level: String,
    database_startup_timeout_secs: String,
    database_max_connections: String,
    shutdown_timeout_secs: String,
    #[serde(flatten)]
    limits: RawLimitSettings,
}

const DEFAULTS: [(&str, &str); 14] = [
    ("database_url", "sqlite://data/tasks.db"),
    ("host", "127.0.0.1"),
    ("port", "8000"),
    ("log_format", "text"),
    ("log_level", "info"),
    ("database_startup_timeout_secs", "30"),
    ("database_max_connections", "8"),
    ("shutdown_timeout_secs", "8"),
    // Load limits; README's memory budget is computed from these defaults.
    ("max_in_flight_requests", "64"),
    ("max_in_flight_lists", "4"),
    ("max_connections", "512"),
    ("header_read_timeout_secs", "10"),
    ("body_read_timeout_secs", "10"),
    ("idle_timeout_secs", "30"),
];

impl Settings {
    /// Reads the process environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::from_env(std::env::vars().collect())
    }

    /// Reads the given environment instead of the process's (tests use this).
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, SettingsError> {
        let config_file = env.get("CONFIG_FILE").cloned().unwrap_or_default();
        let mut builder = Config::builder();
        for (key, value) in DEFAULTS {
            builder = builder
                .set_default(key, value)
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
        let only_ours: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| DEFAULTS.iter().any(|(d, _)| d.eq_ignore_ascii_case(k)))
            .collect();
        builder = builder.add_source(Environment::default().source(Some(only_ours)));
        let raw: RawSettings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError::new("CONFIG_FILE", &config_file, e.to_string()))?;
        raw.parse()
    }
}

impl RawSettings {
    fn parse(self) -> Result<Settings, SettingsError> {
        Ok(Settings {
            host: parse_host(&self.host)?,
            port: parse_number("PORT", &self.port, 0, u16::MAX.into())? as u16,
            database: DatabaseSettings {
                url: DatabaseUrl::parse(&self.database_url)?,
                startup_timeout: Duration::from_secs(parse_number(
                    "DATABASE_STARTUP_TIMEOUT_SECS",
                    &self.database_startup_timeout_secs,
                    0,
                    3600,
                )?),
                max_connections: parse_number(
                    "DATABASE_MAX_CONNECTIONS",
                    &self.database_max_connections,
                    1,
                    1000,
                )? as u32,
            },
            log_format: match self.log_format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(SettingsError::new(
                        "LOG_FORMAT",
                        other,
                        "expected text or json",
                    ));
                }
            },
            log_level: parse_log_level(&self.log_level)?,
            shutdown_timeout: Duration::from_secs(parse_number(
                "SHUTDOWN_TIMEOUT_SECS",
                &self.shutdown_timeout_secs,
                0,
                3600,
            )?),
            limits: self.limits.parse()?,
        })
    }
}

/// What one replica lets its clients hold: requests in flight, connections, time.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Requests handled at once; past it, an immediate 503 (health probes exempt).
    pub max_in_flight_requests: usize,
    /// List requests handled at once: the only ones that can hold megabytes. A list
    /// also takes a request permit, so the smaller of the two bounds lists.
    pub max_in_flight_lists: usize,
    /// Open connections; past it, new ones get a 503 and are closed.
    pub max_connections: usize,
    /// From a request's first byte (or from accept) to the end of its headers.
    pub header_read_timeout: Duration,
    /// From the end of the headers to the end of the body; past it, 408.
    pub body_read_timeout: Duration,
    /// How long a keep-alive connection may sit between requests.
    pub idle_timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct RawLimitSettings {
    max_in_flight_requests: String,
    max_in_flight_lists: String,
    max_connections: String,
    header_read_timeout_secs: String,
    body_read_timeout_secs: String,
    idle_timeout_secs: String,
}

impl RawLimitSettings {
    fn parse(self) -> Result<LimitSettings, SettingsError> {
        let secs =
            |setting, raw: &str| parse_number(setting, raw, 1, 3600).map(Duration::from_secs);
        Ok(LimitSettings {
            max_in_flight_requests: parse_number(
                "MAX_IN_FLIGHT_REQUESTS",
                &self.max_in_flight_requests,
                1,
                100_000,
            )? as usize,
            max_in_flight_lists: parse_number(
                "MAX_IN_FLIGHT_LISTS",
                &self.max_in_flight_lists,
                1,
                100_000,
            )? as usize,
            max_connections: parse_number("MAX_CONNECTIONS", &self.max_connections, 1, 100_000)?
                as usize,
            header_read_timeout: secs("HEADER_READ_TIMEOUT_SECS", &self.header_read_timeout_secs)?,
            body_read_timeout: secs("BODY_READ_TIMEOUT_SECS", &self.body_read_timeout_secs)?,
            idle_timeout: secs("IDLE_TIMEOUT_SECS", &self.idle_timeout_secs)?,
        })
    }
}

fn parse_host(raw: &str) -> Result<IpAddr, SettingsError> {
    if raw == "localhost" {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    raw.parse().map_err(|_| {
        SettingsError::new(
            "HOST",
            raw,
            "expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1, or localhost",
        )
    })
}

fn parse_number(
    setting: &'static str,
    raw: &str,
    min: u64,
    max: u64,
) -> Result<u64, SettingsError> {
    match raw.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(SettingsError::new(
            setting,
            raw,
            format!("expected a whole number from {min} to {max}"),
        )),
    }
}

fn parse_log_level(raw: &str) -> Result<String, SettingsError> {
    tracing_subscriber::EnvFilter::try_new(raw)
        .map(|_| raw.to_owned())
        .map_err(|_| {
            SettingsError::new(
                "LOG_LEVEL",
                raw,
                "expected error, warn, info, debug, trace or a tracing filter such as info,sqlx=warn",
            )
        })
}

impl DatabaseUrl {
    const ALLOWED: &str = "expected sqlite://PATH (relative), sqlite:///PATH (absolute), sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DATABASE";

    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let path = rest.split('?').next().unwrap_or_default();
            let path = match path {
                "" => return Err(SettingsError::new("DATABASE_URL", raw, Self::ALLOWED)),
                ":memory:" => None,
                file => Some(PathBuf::from(file)),
            };
            return Ok(Self::Sqlite {
                url: raw.to_owned(),
                path,
            });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return match url::Url::parse(raw) {
                Ok(parsed) if parsed.host_str().is_some_and(|h| !h.is_empty()) => {
                    Ok(Self::Postgres {
                        url: raw.to_owned(),
                    })
                }
                _ => Err(SettingsError::new(
                    "DATABASE_URL",
                    &redact(raw),
                    Self::ALLOWED,
                )),
            };
        }
        Err(SettingsError::new(
            "DATABASE_URL",
            &redact(raw),
            Self::ALLOWED,
        ))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url } => url,
        }
    }

    /// The URL fit for logs and error messages: any password is masked.
    pub fn redacted(&self) -> String {
        redact(self.as_str())
    }

    /// For SQLite: create the data directory when missing and prove it is writable,
    /// so a bad volume is reported as a settings error before anything binds.
    pub fn prepare_storage(&self) -> Result<(), SettingsError> {
        let Self::Sqlite {
            url,
            path: Some(path),
        } = self
        else {
            return Ok(());
        };
        let fail = |what: String| SettingsError::new("DATABASE_URL", url, what);
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| {
            fail(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        // SQLite's WAL needs to create files beside the database, so the directory
        // itself must be writable, not just the database file.
        let probe = dir.join(format!(".tasks-backend-write-probe-{}", std::process::id()));
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|e| {
                fail(format!(
                    "data directory {} is not writable: {e}",
                    dir.display()
                ))
            })?;
        if path.exists() {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| {
                    fail(format!(
                        "database file {} is not writable: {e}",
                        path.display()
                    ))
                })?;
        }
        Ok(())
    }
}

fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn with_nothing_set_the_defaults_apply() {
        let s = Settings::from_env(env(&[])).unwrap();
        assert_eq!(s.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.port, 8000);
        assert_eq!(
            s.database.url,
            DatabaseUrl::Sqlite {
                url: "sqlite://data/tasks.db".into(),
                path: Some("data/tasks.db".into())
            }
        );
        assert_eq!(s.log_format, LogFormat::Text);
    }

    #[test]
    fn environment_variables_override_defaults() {
        let s = Settings::from_env(env(&[
            ("HOST", "0.0.0.0"),
            ("PORT", "9000"),
            ("DATABASE_URL", "sqlite:///app/data/tasks.db"),
            ("LOG_FORMAT", "json"),
        ]))
        .unwrap();
        assert_eq!(s.host.to_string(), "0.0.0.0");
        assert_eq!(s.port, 9000);
        assert_eq!(
            s.database.url,
            DatabaseUrl::Sqlite {
                url: "sqlite:///app/data/tasks.db".into(),
                path: Some("/app/data/tasks.db".into())
            }
        );
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases = [
            ("PORT", "abc"),
            ("PORT", "70000"),
            ("PORT", "-1"),
            ("HOST", "not-an-ip"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_URL", "sqlite://"),
            ("DATABASE_URL", "postgres://"),
            ("LOG_FORMAT", "xml"),
            ("LOG_LEVEL", "info,[bad"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_STARTUP_TIMEOUT_SECS", "soon"),
            ("SHUTDOWN_TIMEOUT_SECS", "9999"),
            ("CONFIG_FILE", "/does/not/exist.toml"),
            ("MAX_IN_FLIGHT_REQUESTS", "0"),
            ("MAX_IN_FLIGHT_LISTS", "0"),
            ("MAX_CONNECTIONS", "many"),
            ("HEADER_READ_TIMEOUT_SECS", "0"),
            ("BODY_READ_TIMEOUT_SECS", "-5"),
            ("IDLE_TIMEOUT_SECS", "3601"),
        ];
        for (setting, value) in cases {
            let err = Settings::from_env(env(&[(setting, value)]))
                .expect_err(&format!("{setting}={value} should be refused"));
            assert_eq!(err.setting, setting, "{setting}={value}: {err}");
        }
    }

    #[test]
    fn a_password_in_a_bad_database_url_is_not_echoed() {
        let err = DatabaseUrl::parse("mysql://user:hunter2@db/tasks").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_config_file_sets_values_that_the_environment_overrides() {
        let dir = std::env::temp_dir().join(format!("tasks-cfg-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("settings.toml");
        fs::write(&file, "port = 7000\nhost = \"0.0.0.0\"\n").unwrap();
        let path = file.to_string_lossy().into_owned();
        let s = Settings::from_env(env(&[("CONFIG_FILE", &path), ("PORT", "7001")])).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!((s.host.to_string().as_str(), s.port), ("0.0.0.0", 7001));
    }

    #[test]
    fn sqlite_storage_is_created_when_missing() {
        let dir = std::env::temp_dir().join(format!("tasks-store-{}", std::process::id()));
        let db = dir.join("nested/tasks.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", db.display())).unwrap();
        url.prepare_storage().unwrap();
        assert!(db.parent().unwrap().is_dir());
        fs::remove_dir_all(&dir).unwrap();
    }
}
