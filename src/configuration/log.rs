use super::SettingsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub(super) fn parse(raw: &str) -> Result<Self, SettingsError> {
        match raw {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(SettingsError::new(
                "LOG_FORMAT",
                other,
                "expected text or json",
            )),
        }
    }
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
