//! The load limits: what one replica lets its clients hold (README, "Load limits and
//! memory budget"). The server layer enforces [`ConnectionLimits`], the routes'
//! bounds [`RequestLimits`].

use std::time::Duration;

use serde::Deserialize;

use super::{SettingsError, parse};

/// What connections may hold; enforced before a request is read.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections; past it, new ones get a 503 and are closed.
    pub max_connections: usize,
    /// From a request's first byte (or from accept) to the end of its headers.
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may sit between requests.
    pub idle_timeout: Duration,
}

/// What requests may hold; enforced per operation.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Requests handled at once; past it, an immediate 503 (health probes exempt).
    pub max_in_flight_requests: usize,
    /// List requests handled at once: the only ones that can hold megabytes. A list
    /// also takes a request permit, so the smaller of the two bounds lists.
    pub max_in_flight_lists: usize,
    /// From the end of the headers to the end of the body; past it, 408.
    pub body_read_timeout: Duration,
    /// From the end of the body to the answer: a request waiting on the database
    /// (a lock another session holds, a server that stopped answering) holds its
    /// permit and a pool connection that long at most; past it, 503.
    pub request_timeout: Duration,
    /// The deepest `offset` a list serves: the database reads every row an offset
    /// skips, so this bounds the rows one request can make it read. Past it, 400.
    pub max_list_offset: u64,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawLimitSettings {
    max_in_flight_requests: String,
    max_in_flight_lists: String,
    max_connections: String,
    header_read_timeout_secs: String,
    body_read_timeout_secs: String,
    request_timeout_secs: String,
    idle_timeout_secs: String,
    max_list_offset: String,
}

impl RawLimitSettings {
    pub(super) fn parse(self) -> Result<(ConnectionLimits, RequestLimits), SettingsError> {
        let count =
            |setting, raw: &str| parse::number(setting, raw, 1, 100_000).map(|n| n as usize);
        // A zero timeout would cut every connection at once.
        let secs = |setting, raw: &str| parse::secs(setting, raw, 1);
        // In the order of README's table: with two bad values, the first is named.
        let max_in_flight_requests = count("MAX_IN_FLIGHT_REQUESTS", &self.max_in_flight_requests)?;
        let max_in_flight_lists = count("MAX_IN_FLIGHT_LISTS", &self.max_in_flight_lists)?;
        let max_connections = count("MAX_CONNECTIONS", &self.max_connections)?;
        let header_read_timeout = secs("HEADER_READ_TIMEOUT_SECS", &self.header_read_timeout_secs)?;
        let body_read_timeout = secs("BODY_READ_TIMEOUT_SECS", &self.body_read_timeout_secs)?;
        let request_timeout = secs("REQUEST_TIMEOUT_SECS", &self.request_timeout_secs)?;
        let idle_timeout = secs("IDLE_TIMEOUT_SECS", &self.idle_timeout_secs)?;
        let max_list_offset =
            parse::number("MAX_LIST_OFFSET", &self.max_list_offset, 0, 1_000_000)?;
        let connections = ConnectionLimits {
            max_connections,
            header_read_timeout,
            idle_timeout,
        };
        let requests = RequestLimits {
            max_in_flight_requests,
            max_in_flight_lists,
            body_read_timeout,
            request_timeout,
            max_list_offset,
        };
        Ok((connections, requests))
    }
}
