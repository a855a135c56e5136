use super::redact;

/// A setting the user must change: one line, fit for stderr,
/// `invalid setting PORT="abc": expected ...`. Every layer that finds a bad setting
/// returns this (parsing, the data directory, a database server that refuses the
/// URL, an address the process cannot listen on), so the command line maps it to
/// exit status 2 without knowing where it came from.
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
