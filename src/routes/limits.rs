//! Bounds on the work requests may hold: how many run at once (load shedding) and how
//! long a request body may take to arrive.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::Either;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use tokio::sync::Semaphore;

use super::middleware::MAX_BODY_BYTES;
use super::problem;
use crate::configuration::LimitSettings;

/// Probes answer however busy the replica is: shedding them would get a busy replica
/// restarted or taken out of rotation, which only makes the overload worse.
const EXEMPT_PATHS: [&str; 3] = ["/livez", "/readyz", "/health"];

/// What a shed client is told to wait: long enough for a burst to pass, short enough
/// that a retry finds the replica once it has room.
const RETRY_AFTER_SECS: u64 = 1;

/// The permits of the in-flight bounds, shared by every request of one app.
#[derive(Clone)]
pub struct InFlight {
    requests: Arc<Semaphore>,
    lists: Arc<Semaphore>,
}

impl InFlight {
    pub fn new(limits: &LimitSettings) -> Self {
        Self {
            requests: Arc::new(Semaphore::new(limits.max_in_flight_requests)),
            lists: Arc::new(Semaphore::new(limits.max_in_flight_lists)),
        }
    }
}

/// Admits a request if a permit is free, and answers 503 at once otherwise: a queue
/// would hold the same memory and only make the client's wait longer.
pub async fn shed<E: Endpoint>(
    in_flight: InFlight,
    next: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let path = req.uri().path();
    if EXEMPT_PATHS.contains(&path) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let is_list = matches!(*req.method(), Method::GET | Method::HEAD)
        && path.trim_end_matches('/') == "/api/tasks";
    let Ok(request) = in_flight.requests.clone().try_acquire_owned() else {
        return Ok(overloaded("too many requests in flight"));
    };
    let list = if is_list {
        match in_flight.lists.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => return Ok(overloaded("too many task lists in flight")),
        }
    } else {
        None
    };
    let mut response = next.call(req).await?.into_response();
    // A response's memory lives until its body has gone out to the socket, which for
    // a slow client is long after the handler returned: the permits go with the body.
    // hyper polls a body for more only once its write buffer has room, so the permits
    // come back when the last chunk has been taken, with at most the connection's
    // buffer (`server::MAX_BUF_BYTES`) still to write.
    let chunks = if is_list && response.status().is_success() {
        // Streamed (`TaskListJson`): the permits end with the stream.
        Either::Left(response.take_body().into_bytes_stream())
    } else {
        // Everything else is a few KiB, already whole in memory: it keeps its length.
        let body = match response.take_body().into_bytes().await {
            Ok(body) => body,
            Err(err) => return Err(poem::Error::new(err, StatusCode::INTERNAL_SERVER_ERROR)),
        };
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        Either::Right(futures_util::stream::iter([Ok::<_, std::io::Error>(body)]))
    };
    let permits = (request, list);
    response.set_body(Body::from_bytes_stream(chunks.map(move |chunk| {
        let _held = &permits;
        chunk
    })));
    Ok(response)
}

fn overloaded(detail: &str) -> Response {
    let mut response = problem::problem_response(&poem::Error::from_string(
        format!("{detail}; retry after {RETRY_AFTER_SECS} s"),
        StatusCode::SERVICE_UNAVAILABLE,
    ));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// No content type (the handler then decides), `application/json`, or `…+json`.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The one place a request body is read: refused unread when it is too large (413)
/// or not JSON (415), else read here, bounded in size, within `timeout`, so a
/// stalled upload is cut with a 408 instead of holding its connection and its
/// in-flight permit for ever. Bodies are at most [`MAX_BODY_BYTES`], so holding one
/// in memory for the handler is cheap.
pub async fn read_body<E: Endpoint>(
    timeout: Duration,
    next: Arc<E>,
    mut req: Request,
) -> poem::Result<Response> {
    let too_large = || {
        poem::Error::from_string(
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
    };
    let declared = req.headers().typed_get::<ContentLength>().map(|c| c.0);
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let has_body = match declared {
        Some(len) => len > 0,
        None => req.headers().contains_key(header::TRANSFER_ENCODING),
    };
    if !has_body {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    // Nothing but JSON is ever parsed (deny.toml's quick-xml advisories rely on it).
    if !is_json(req.content_type()) {
        return Err(poem::Error::from_string(
            "the request body must be application/json",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ));
    }
    let read = req.take_body().into_bytes_limit(MAX_BODY_BYTES);
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(body)) => req.set_body(body),
        Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => return Err(too_large()),
        Ok(Err(_)) => {
            return Err(poem::Error::from_string(
                "the request body could not be read",
                StatusCode::BAD_REQUEST,
            ));
        }
        Err(_) => {
            let mut response = problem::problem_response(&poem::Error::from_string(
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs()
                ),
                StatusCode::REQUEST_TIMEOUT,
            ));
            // The rest of the body may still come; the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Ok(response);
        }
    }
    next.call(req).await.map(IntoResponse::into_response)
}
