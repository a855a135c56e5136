//! `DATABASE_URL`, or a file holding it (`DATABASE_URL_FILE`), and the settings
//! that go with it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{SettingsError, redact};

const DEFAULT_DATABASE_URL: &str = "sqlite://data/tasks.db";

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

    /// A bad setting that names this URL (masked): a data directory that cannot be
    /// written, a database server that refuses the URL.
    pub fn refused(&self, problem: impl Into<String>) -> SettingsError {
        SettingsError::new("DATABASE_URL", self.expose(), problem)
    }
}

/// `DATABASE_URL`, or the contents of the file named by `DATABASE_URL_FILE` (the
/// `_FILE` convention of the official images, for Docker and Kubernetes secrets).
/// Each is `None` when not given.
pub(super) fn database_url(
    url: Option<String>,
    file: Option<String>,
) -> Result<DatabaseUrl, SettingsError> {
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
