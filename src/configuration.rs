//! Settings: built-in defaults, then an optional TOML file named by `CONFIG_FILE`,
//! then environment variables. Every value is parsed here, once; a bad one becomes a
//! [`SettingsError`] that names the setting, the value and what is allowed.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: IpAddr,
    pub port: u16,
    pub database: DatabaseSettings,
    pub log_format: LogFormat,
    pub log_level: LogLevel,
    /// How long in-flight requests may run on after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// How long the server keeps serving after SIGTERM/SIGINT, with `/readyz` at 503,
    /// so a load balancer stops sending traffic before the listener closes.
    pub shutdown_drain: Duration,
    /// Sent as `X-Replica-Id` on every response, to tell replicas apart.
    pub replica_id: String,
    pub limits: LimitSettings,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    /// How long start-up keeps trying (connecting, waiting for another replica's
    /// migration) before giving up; zero means one attempt.
    pub startup_timeout: Duration,
    pub max_connections: u32,
}

/// The database to use. A PostgreSQL URL may hold a password, so it is kept in a
/// type whose `Debug` never prints it; [`DatabaseUrl::redacted`] is for logs.
#[derive(Clone)]
pub enum DatabaseUrl {
    /// `path` is `None` for an in-memory database.
    Sqlite {
        url: String,
        path: Option<PathBuf>,
    },
    Postgres {
        url: SecretString,
    },
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A tracing filter that was checked to mean what it says (see [`LogLevel::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLevel(String);

impl LogLevel {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    const ALLOWED: &str = "expected off, error, warn, info, debug, trace, or tracing filter directives such as info,sqlx=warn";

    /// tracing reads a bare word it does not know as a *target* name, so `warning`
    /// would silently turn every log line off; every directive without `=` must
    /// therefore be a level name.
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        let refuse = || SettingsError::new("LOG_LEVEL", raw, Self::ALLOWED);
        let directives: Vec<&str> = raw.split(',').map(str::trim).collect();
        for directive in &directives {
            let is_level = Self::LEVELS
                .iter()
                .any(|l| l.eq_ignore_ascii_case(directive));
            if directive.is_empty() || !(is_level || directive.contains('=')) {
                return Err(refuse());
            }
        }
        tracing_subscriber::EnvFilter::try_new(raw).map_err(|_| refuse())?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
    /// `value` is masked here, so no caller can forget to: any password-like part
    /// of it is replaced before the error exists.
    pub fn new(setting: &'static str, value: &str, problem: impl Into<String>) -> Self {
        Self {
            setting,
            value: redact(value),
            problem: problem.into(),
        }
    }
}

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
    #[serde(flatten)]
    limits: RawLimitSettings,
}

const DEFAULT_DATABASE_URL: &str = "sqlite://data/tasks.db";

const DEFAULTS: &[(&str, &str)] = &[
    ("host", "127.0.0.1"),
    ("port", "8000"),
    ("log_format", "text"),
    ("log_level", "info"),
    ("database_startup_timeout_secs", "30"),
    ("database_max_connections", "8"),
    ("shutdown_timeout_secs", "8"),
    ("shutdown_drain_secs", "0"),
    // Load limits; README's memory budget is computed from these defaults.
    ("max_in_flight_requests", "64"),
    ("max_in_flight_lists", "4"),
    ("max_connections", "512"),
    ("header_read_timeout_secs", "10"),
    ("body_read_timeout_secs", "10"),
    ("idle_timeout_secs", "30"),
];

/// Settings with no default: absent means "not given".
const OPTIONAL: &[&str] = &["database_url", "database_url_file", "replica_id"];

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
        Ok(Settings {
            host: parse_host(&self.host)?,
            port: parse_number("PORT", &self.port, 0, u16::MAX.into())? as u16,
            database: DatabaseSettings {
                url: database_url(given(self.database_url), given(self.database_url_file))?,
                startup_timeout: parse_secs(
                    "DATABASE_STARTUP_TIMEOUT_SECS",
                    &self.database_startup_timeout_secs,
                )?,
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
            log_level: LogLevel::parse(&self.log_level)?,
            shutdown_timeout: parse_secs("SHUTDOWN_TIMEOUT_SECS", &self.shutdown_timeout_secs)?,
            shutdown_drain: parse_secs("SHUTDOWN_DRAIN_SECS", &self.shutdown_drain_secs)?,
            replica_id: match given(self.replica_id) {
                Some(id) => parse_replica_id("REPLICA_ID", &id)?,
                None => default_replica_id(hostname),
            },
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

/// An empty value counts as not set: an orchestrator cannot unset a variable that
/// an image sets, but it can empty it (the official images' `_FILE` rule).
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// `DATABASE_URL`, or the contents of the file named by `DATABASE_URL_FILE` (the
/// `_FILE` convention of the official images, for Docker and Kubernetes secrets).
fn database_url(url: Option<String>, file: Option<String>) -> Result<DatabaseUrl, SettingsError> {
    match (url, file) {
        (Some(url), Some(_)) => Err(SettingsError::new(
            "DATABASE_URL",
            &url,
            "DATABASE_URL and DATABASE_URL_FILE are both set; set only one",
        )),
        (Some(url), None) => DatabaseUrl::parse(&url),
        (None, Some(file)) => {
            let contents = std::fs::read_to_string(&file).map_err(|e| {
                SettingsError::new(
                    "DATABASE_URL_FILE",
                    &file,
                    format!("cannot read the file: {}", e.kind()),
                )
            })?;
            // Secret files usually end with a newline; nothing else is trimmed.
            let url = contents.trim_end_matches(['\n', '\r']);
            DatabaseUrl::parse(url).map_err(|e| SettingsError {
                setting: "DATABASE_URL_FILE",
                value: file.clone(),
                problem: format!("the file holds an invalid URL {}: {}", e.value, e.problem),
            })
        }
        (None, None) => DatabaseUrl::parse(DEFAULT_DATABASE_URL),
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

/// A duration in whole seconds, 0 to 3600.
fn parse_secs(setting: &'static str, raw: &str) -> Result<Duration, SettingsError> {
    parse_number(setting, raw, 0, 3600).map(Duration::from_secs)
}

const REPLICA_ID_ALLOWED: &str = "expected 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'";

fn parse_replica_id(setting: &'static str, raw: &str) -> Result<String, SettingsError> {
    let valid = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(SettingsError::new(setting, raw, REPLICA_ID_ALLOWED))
    }
}

/// The host name: in a container, its id (Docker) or pod name (Kubernetes).
fn default_replica_id(hostname: Option<String>) -> String {
    hostname
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .and_then(|h| parse_replica_id("HOSTNAME", &h).ok())
        .unwrap_or_else(|| "unknown".to_owned())
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
                        url: SecretString::from(raw),
                    })
                }
                Ok(_) => Err(SettingsError::new(
                    "DATABASE_URL",
                    raw,
                    format!("{}: the host is missing", Self::ALLOWED),
                )),
                Err(e) => Err(SettingsError::new(
                    "DATABASE_URL",
                    raw,
                    format!("{} ({e})", Self::ALLOWED),
                )),
            };
        }
        Err(SettingsError::new("DATABASE_URL", raw, Self::ALLOWED))
    }

    /// The URL itself, password included: only for opening connections.
    pub fn expose(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } => url,
            Self::Postgres { url } => url.expose_secret(),
        }
    }

    /// The URL fit for logs and error messages: any password is masked.
    pub fn redacted(&self) -> String {
        redact(self.expose())
    }
}

/// Masks the user information of anything URL-like (`scheme://USER:PASS@host`),
/// whether or not it parses as a URL, and the value of password-like query
/// parameters. Over-masking is fine; printing a password is not.
pub fn redact(raw: &str) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(i) => raw.split_at(i + 3),
        None => ("", raw),
    };
    // The last `@` ends the user information: a raw password may hold `@`, `/` or `?`.
    let rest = match rest.rfind('@') {
        Some(at) => format!("***{}", &rest[at..]),
        None => rest.to_owned(),
    };
    let masked = match rest.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => rest,
    };
    format!("{scheme}{masked}")
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "pass", "pwd", "secret", "token", "sslpassword"]
        .iter()
        .any(|k| key == *k)
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

    fn sqlite_path(url: &DatabaseUrl) -> Option<&Path> {
        match url {
            DatabaseUrl::Sqlite { path, .. } => path.as_deref(),
            DatabaseUrl::Postgres { .. } => None,
        }
    }

    #[test]
    fn with_nothing_set_the_defaults_apply() {
        let s = Settings::from_env(env(&[])).unwrap();
        assert_eq!(s.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.port, 8000);
        assert_eq!(s.database.url.expose(), "sqlite://data/tasks.db");
        assert_eq!(
            sqlite_path(&s.database.url),
            Some(Path::new("data/tasks.db"))
        );
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.shutdown_drain, Duration::ZERO);
    }

    #[test]
    fn environment_variables_override_defaults() {
        let s = Settings::from_env(env(&[
            ("HOST", "0.0.0.0"),
            ("PORT", "9000"),
            ("DATABASE_URL", "sqlite:///app/data/tasks.db"),
            ("LOG_FORMAT", "json"),
            ("SHUTDOWN_DRAIN_SECS", "5"),
            ("REPLICA_ID", "web-1"),
        ]))
        .unwrap();
        assert_eq!(s.host.to_string(), "0.0.0.0");
        assert_eq!(s.port, 9000);
        assert_eq!(
            sqlite_path(&s.database.url),
            Some(Path::new("/app/data/tasks.db"))
        );
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.shutdown_drain, Duration::from_secs(5));
        assert_eq!(s.replica_id, "web-1");
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
            ("DATABASE_URL", "postgres://u:p@db:70000/t"),
            ("DATABASE_URL_FILE", "/does/not/exist"),
            ("LOG_FORMAT", "xml"),
            ("LOG_LEVEL", "info,[bad"),
            ("LOG_LEVEL", "warning"),
            ("LOG_LEVEL", "info,verbose"),
            ("LOG_LEVEL", ""),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_STARTUP_TIMEOUT_SECS", "soon"),
            ("SHUTDOWN_TIMEOUT_SECS", "9999"),
            ("SHUTDOWN_DRAIN_SECS", "-5"),
            ("REPLICA_ID", "has space"),
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
    fn log_levels_and_real_directives_are_accepted() {
        for value in [
            "error",
            "WARN",
            "info",
            "debug",
            "trace",
            "off",
            "info,sqlx=warn",
            "tasks_backend=debug",
            "warn,poem=info,tasks_backend=trace",
        ] {
            let s = Settings::from_env(env(&[("LOG_LEVEL", value)]))
                .unwrap_or_else(|e| panic!("LOG_LEVEL={value} should be accepted: {e}"));
            assert_eq!(s.log_level.as_str(), value);
        }
    }

    #[test]
    fn passwords_never_reach_an_error_or_debug_output() {
        let secret = "s3cret";
        let cases = [
            "postgres://u:s3cret@db:70000/t",
            "postgres://u:s3cret@/t",
            "mysql://user:s3cret@db/tasks",
            "postgres://u:s3cret/x@db:70000/t",
            "u:s3cret@db/tasks",
            "postgres://db/t?password=s3cret",
            "postgresql://u:s3cret@db:5432/t?sslmode=bogus&password=s3cret",
        ];
        for raw in cases {
            match DatabaseUrl::parse(raw) {
                Err(err) => assert!(!err.to_string().contains(secret), "{raw}: {err}"),
                Ok(url) => {
                    assert!(!format!("{url:?}").contains(secret), "{raw}: {url:?}");
                    assert!(!url.redacted().contains(secret), "{raw}");
                }
            }
        }
        let s =
            Settings::from_env(env(&[("DATABASE_URL", "postgres://u:s3cret@db:5432/t")])).unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains(secret), "Debug of the settings: {debug}");
        assert!(
            debug.contains("db:5432"),
            "still says which database: {debug}"
        );
    }

    #[test]
    fn redact_masks_user_information_and_secret_parameters() {
        let cases = [
            ("postgres://u:p@db/t", "postgres://***@db/t"),
            ("postgres://db/t", "postgres://db/t"),
            ("sqlite://data/tasks.db", "sqlite://data/tasks.db"),
            ("postgres://u:p@db:70000/t", "postgres://***@db:70000/t"),
            (
                "postgres://db/t?sslmode=require&password=x",
                "postgres://db/t?sslmode=require&password=***",
            ),
            ("abc", "abc"),
        ];
        for (raw, want) in cases {
            assert_eq!(redact(raw), want, "redact({raw:?})");
        }
    }

    #[test]
    fn the_url_can_come_from_a_file_but_not_from_both() {
        let dir = tempfile_dir("url-file");
        let file = dir.join("url");
        fs_write(&file, "postgres://u:s3cret@db:5432/tasks\n");
        let path = file.to_string_lossy().into_owned();
        let s = Settings::from_env(env(&[("DATABASE_URL_FILE", &path)])).unwrap();
        assert_eq!(s.database.url.expose(), "postgres://u:s3cret@db:5432/tasks");

        let err = Settings::from_env(env(&[
            ("DATABASE_URL_FILE", &path),
            ("DATABASE_URL", "postgres://u:other@db/t"),
        ]))
        .unwrap_err();
        assert_eq!(err.setting, "DATABASE_URL", "{err}");
        assert!(err.problem.contains("DATABASE_URL_FILE"), "{err}");
        assert!(!err.to_string().contains("other"), "{err}");

        // An empty DATABASE_URL is how a pod overrides an image's value: not set.
        let s =
            Settings::from_env(env(&[("DATABASE_URL_FILE", &path), ("DATABASE_URL", "")])).unwrap();
        assert!(s.database.url.expose().starts_with("postgres://"));

        fs_write(&file, "postgres://u:s3cret@db:70000/tasks\n");
        let err = Settings::from_env(env(&[("DATABASE_URL_FILE", &path)])).unwrap_err();
        assert_eq!(err.setting, "DATABASE_URL_FILE", "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_replica_id_defaults_to_the_host_name() {
        let s = Settings::from_env(env(&[("HOSTNAME", "0123abcd")])).unwrap();
        assert_eq!(s.replica_id, "0123abcd");
        let s = Settings::from_env(env(&[("HOSTNAME", "0123abcd"), ("REPLICA_ID", "r2")])).unwrap();
        assert_eq!(s.replica_id, "r2");
    }

    #[test]
    fn a_config_file_sets_values_that_the_environment_overrides() {
        let dir = tempfile_dir("cfg");
        let file = dir.join("settings.toml");
        fs_write(&file, "port = 7000\nhost = \"0.0.0.0\"\n");
        let path = file.to_string_lossy().into_owned();
        let s = Settings::from_env(env(&[("CONFIG_FILE", &path), ("PORT", "7001")])).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((s.host.to_string().as_str(), s.port), ("0.0.0.0", 7001));
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tasks-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fs_write(path: &Path, contents: &str) {
        std::fs::write(path, contents).unwrap();
    }
}
