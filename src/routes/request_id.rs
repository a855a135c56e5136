//! Request ids, which link an answer to its log lines. An incoming `X-Request-Id` is
//! kept when it follows `REPLICA_ID`'s rule (1 to 64 of `A-Z a-z 0-9 . _ -`: nothing
//! a log line, a header or a JSON string must escape, and short), so a proxy's or a
//! client's id carries through; any other value, or none, is replaced by a fresh
//! UUID. The id is sent back in `X-Request-Id` on every response, is a field of the
//! `request` span every log line of the request is written in (text and JSON), and
//! is the `request_id` member of every problem+json body (read by `problem` from
//! the task-local set here).

use std::sync::Arc;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::configuration::is_identifier;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: RequestId;
}

/// A request's id: a client's, when well formed, else one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// `None` unless `raw` follows the rule.
    pub fn parse(raw: &str) -> Option<Self> {
        is_identifier(raw).then(|| Self(raw.to_owned()))
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the request being served by this task, if any.
    pub fn current() -> Option<String> {
        CURRENT.try_with(|id| id.0.clone()).ok()
    }
}

/// Gives each request its id, serves it within the id's span and task-local, and
/// sends the id back.
pub async fn with_request_id<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    let span = tracing::info_span!("request", request_id = %id.as_str());
    let header = HeaderValue::from_str(id.as_str());
    let served = CURRENT.scope(id, next.call(req).instrument(span)).await;
    let mut response = served.map(IntoResponse::into_response)?;
    // Always valid: the rule allows nothing a header value cannot hold.
    if let Ok(header) = header {
        response.headers_mut().insert(HEADER, header);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_are_kept() {
        let cases = [
            ("abc-123_X.y", true, "the allowed characters"),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                true,
                "64 characters",
            ),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
                false,
                "65 characters",
            ),
            ("", false, "empty"),
            ("has space", false, "a space"),
            ("semi;colon", false, "a separator"),
            ("quote\"d", false, "a quote, which JSON would escape"),
            ("héllo", false, "non-ASCII"),
            (
                "line\nbreak",
                false,
                "a line break, which would forge log lines",
            ),
        ];
        for (raw, kept, why) in cases {
            assert_eq!(RequestId::parse(raw).is_some(), kept, "{why}: {raw:?}");
        }
    }

    #[test]
    fn a_generated_id_follows_the_rule_and_is_fresh() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert!(RequestId::parse(a.as_str()).is_some(), "{a:?}");
        assert_ne!(a, b);
    }
}
