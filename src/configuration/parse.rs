//! The parsers settings share. Each error names the setting, so a caller only says
//! which one it is parsing.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::SettingsError;

/// An empty value counts as not set: an orchestrator cannot unset a variable that
/// an image sets, but it can empty it (the official images' `_FILE` rule).
pub(super) fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

pub(super) fn host(raw: &str) -> Result<IpAddr, SettingsError> {
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

pub(super) fn number(
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

/// `true` or `false`.
pub(super) fn boolean(setting: &'static str, raw: &str) -> Result<bool, SettingsError> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SettingsError::new(setting, raw, "expected true or false")),
    }
}

/// A duration in whole seconds, `min` to 3600.
pub(super) fn secs(setting: &'static str, raw: &str, min: u64) -> Result<Duration, SettingsError> {
    number(setting, raw, min, 3600).map(Duration::from_secs)
}

const REPLICA_ID_ALLOWED: &str = "expected 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'";

/// The rule of `REPLICA_ID`, also the one an incoming `X-Request-Id` must follow:
/// short, and nothing a log line, a header or a JSON string would need to escape.
pub fn is_identifier(raw: &str) -> bool {
    (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub(super) fn replica_id(setting: &'static str, raw: &str) -> Result<String, SettingsError> {
    if is_identifier(raw) {
        Ok(raw.to_owned())
    } else {
        Err(SettingsError::new(setting, raw, REPLICA_ID_ALLOWED))
    }
}

/// The host name: in a container, its id (Docker) or pod name (Kubernetes).
pub(super) fn default_replica_id(hostname: Option<String>) -> String {
    hostname
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .and_then(|h| replica_id("HOSTNAME", &h).ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
