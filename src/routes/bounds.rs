//! The bounds on what a request may hold, declared by each operation itself with
//! `#[oai(..., transform = "...")]` (poem-openapi wraps that operation's endpoint in
//! the function named), never matched from a path:
//! - [`bounded`]: a request permit, then the body gate (the task operations, the
//!   document and the docs page);
//! - [`bounded_list`]: the same with a list permit too (`GET /api/tasks`, whose page
//!   can be megabytes);
//! - none for the probes: shedding them would get a busy replica restarted or taken
//!   out of rotation, which only makes the overload worse.
//!
//! The order is fixed here: a request is shed (503) before its body is read; a body
//! that is too large (413) or not JSON (415) is refused before a byte of it is read
//! (deny.toml's quick-xml advisories rely on it); then it is read, bounded in size,
//! within the body timeout (408); then the operation answers within the request
//! timeout or is dropped, with what it held, for a 503. The permits go with the
//! response body.
//!
//! Every refusal carries its [`Rejection`] in the response's extensions, for the
//! server to count; the permits in use are read at each scrape ([`Bounds::observe`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::Either;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{Body, Endpoint, EndpointExt, IntoResponse, Request, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::problem;
use crate::configuration::RequestLimits;
use crate::server::{Metrics, Rejection};

/// Largest request body accepted; a task is far smaller.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a shed client is told to wait: long enough for a burst to pass, short enough
/// that a retry finds the replica once it has room.
const RETRY_AFTER_SECS: u64 = 1;

/// The permits and the body deadline shared by every request of one app. The app
/// puts them in every request's data: a transform is a plain function, with no
/// state of its own to keep them in.
#[derive(Clone)]
pub struct Bounds {
    requests: Arc<Semaphore>,
    lists: Arc<Semaphore>,
    limits: RequestLimits,
}

impl Bounds {
    pub fn new(limits: &RequestLimits) -> Self {
        Self {
            requests: Arc::new(Semaphore::new(limits.max_in_flight_requests)),
            lists: Arc::new(Semaphore::new(limits.max_in_flight_lists)),
            limits: *limits,
        }
    }

    /// The permits in use and their bounds, as gauges set at each scrape.
    pub fn observe(&self, metrics: &Metrics) {
        let gauges = [
            (
                "tasks_backend_requests_in_flight",
                "tasks_backend_requests_in_flight_max",
                self.requests.clone(),
                self.limits.max_in_flight_requests,
            ),
            (
                "tasks_backend_lists_in_flight",
                "tasks_backend_lists_in_flight_max",
                self.lists.clone(),
                self.limits.max_in_flight_lists,
            ),
        ];
        metrics.record(|| {
            metrics::describe_gauge!(
                "tasks_backend_requests_in_flight",
                "Requests holding a permit (answered or being answered)"
            );
            metrics::describe_gauge!(
                "tasks_backend_requests_in_flight_max",
                "The bound on requests in flight (MAX_IN_FLIGHT_REQUESTS)"
            );
            metrics::describe_gauge!(
                "tasks_backend_lists_in_flight",
                "GET /api/tasks requests holding a list permit"
            );
            metrics::describe_gauge!(
                "tasks_backend_lists_in_flight_max",
                "The bound on lists in flight (MAX_IN_FLIGHT_LISTS)"
            );
        });
        metrics.on_scrape(move || {
            for (in_use, max, permits, bound) in &gauges {
                let used = bound.saturating_sub(permits.available_permits());
                metrics::gauge!(*in_use).set(used as f64);
                metrics::gauge!(*max).set(*bound as f64);
            }
        });
    }

    fn of(req: &Request) -> poem::Result<Self> {
        req.data::<Self>().cloned().ok_or_else(|| {
            poem::Error::from_string(
                "the request bounds were not added to the app",
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        })
    }
}

/// An operation that holds a request permit while it runs and until its answer has
/// gone out; its body, if it has one, is read through the body gate.
pub fn bounded<E: Endpoint + 'static>(endpoint: E) -> impl Endpoint<Output = Response> {
    endpoint.around(|next, req| async move {
        let bounds = Bounds::of(&req)?;
        let Ok(request) = bounds.requests.clone().try_acquire_owned() else {
            return Ok(overloaded(
                "too many requests in flight",
                Rejection::InFlightRequests,
            ));
        };
        let response = read_body(&bounds.limits, next.as_ref(), req).await?;
        hold_until_sent(response, [request], false).await
    })
}

/// [`bounded`], and a list permit as well, kept until the last chunk of the page has
/// been taken by the connection.
pub fn bounded_list<E: Endpoint + 'static>(endpoint: E) -> impl Endpoint<Output = Response> {
    endpoint.around(|next, req| async move {
        let bounds = Bounds::of(&req)?;
        let Ok(request) = bounds.requests.clone().try_acquire_owned() else {
            return Ok(overloaded(
                "too many requests in flight",
                Rejection::InFlightRequests,
            ));
        };
        let Ok(list) = bounds.lists.clone().try_acquire_owned() else {
            return Ok(overloaded(
                "too many task lists in flight",
                Rejection::InFlightLists,
            ));
        };
        let response = read_body(&bounds.limits, next.as_ref(), req).await?;
        // Streamed (`TaskListJson`): the permits end with the stream.
        let streamed = response.status().is_success();
        hold_until_sent(response, [request, list], streamed).await
    })
}

/// A response's memory lives until its body has gone out to the socket, which for a
/// slow client is long after the handler returned: the permits go with the body.
/// hyper polls a body for more only once its write buffer has room, so the permits
/// come back when the last chunk has been taken, with at most the connection's
/// buffer (`server::MAX_BUF_BYTES`) still to write.
async fn hold_until_sent<const N: usize>(
    mut response: Response,
    permits: [OwnedSemaphorePermit; N],
    streamed: bool,
) -> poem::Result<Response> {
    let chunks = if streamed {
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
    response.set_body(Body::from_bytes_stream(chunks.map(move |chunk| {
        let _held = &permits;
        chunk
    })));
    Ok(response)
}

/// Past a bound: 503 at once. A queue would hold the same memory and only make the
/// client's wait longer.
fn overloaded(detail: &str, reason: Rejection) -> Response {
    let mut response = refused(
        format!("{detail}; retry after {RETRY_AFTER_SECS} s"),
        StatusCode::SERVICE_UNAVAILABLE,
        reason,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// A problem response that says, for the server's count, which bound refused it.
fn refused(detail: String, status: StatusCode, reason: Rejection) -> Response {
    let mut response = problem::problem_response(&poem::Error::from_string(detail, status));
    response.extensions_mut().insert(reason);
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

/// The body gate, the one place a request body is read: refused unread when it is
/// too large (413) or not JSON (415), else read here, bounded in size, within
/// the body timeout, so a stalled upload is cut with a 408 instead of holding its
/// connection and its in-flight permit for ever; then [`answer_within`]. Bodies are at most
/// [`MAX_BODY_BYTES`], so holding one in memory for the handler is cheap.
async fn read_body<E: Endpoint>(
    limits: &RequestLimits,
    next: &E,
    mut req: Request,
) -> poem::Result<Response> {
    let (timeout, request_timeout) = (limits.body_read_timeout, limits.request_timeout);
    let too_large = || {
        refused(
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BodyTooLarge,
        )
    };
    let declared = req.headers().typed_get::<ContentLength>().map(|c| c.0);
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Ok(too_large());
    }
    let has_body = match declared {
        Some(len) => len > 0,
        None => req.headers().contains_key(header::TRANSFER_ENCODING),
    };
    if !has_body {
        return answer_within(request_timeout, next, req).await;
    }
    // Nothing but JSON is ever parsed (deny.toml's quick-xml advisories rely on it).
    if !is_json(req.content_type()) {
        return Ok(refused(
            "the request body must be application/json".to_owned(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::UnsupportedMediaType,
        ));
    }
    let read = req.take_body().into_bytes_limit(MAX_BODY_BYTES);
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(body)) => req.set_body(body),
        Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => return Ok(too_large()),
        Ok(Err(_)) => {
            return Err(poem::Error::from_string(
                "the request body could not be read",
                StatusCode::BAD_REQUEST,
            ));
        }
        Err(_) => {
            let mut response = refused(
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs()
                ),
                StatusCode::REQUEST_TIMEOUT,
                Rejection::BodyTimeout,
            );
            // The rest of the body may still come; the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Ok(response);
        }
    }
    answer_within(request_timeout, next, req).await
}

/// Runs the operation for at most `timeout`. Past it the operation's future is
/// dropped, and with it the database connection it held (the pool closes one
/// dropped mid-query), so a request stuck on the database (a lock held elsewhere, a
/// server that stopped answering) cannot hold its permits and a connection for
/// ever: 503 with `Retry-After`, as for the other bounds that shed load.
async fn answer_within<E: Endpoint>(
    timeout: Duration,
    next: &E,
    req: Request,
) -> poem::Result<Response> {
    match tokio::time::timeout(timeout, next.call(req)).await {
        Ok(answer) => answer.map(IntoResponse::into_response),
        Err(_) => Ok(overloaded(
            &format!(
                "no answer within {} s (a write may still take effect)",
                timeout.as_secs()
            ),
            Rejection::RequestTimeout,
        )),
    }
}
