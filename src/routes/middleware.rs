//! What every request goes through, whatever its route: the log line, and a panic
//! turned into a problem. (Tokens are `auth`'s, CORS is `cors`'s.)

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use poem::http::StatusCode;
use poem::middleware::PanicHandler;
use poem::{Endpoint, IntoResponse, Request, Response};

use super::auth::Caller;
use super::problem;

/// One log line per request: method, path, status, latency, and with tokens on, the
/// name and scope of the token that was let through (never the token).
pub async fn log_request<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    // A clone of the URI shares its bytes: no copy of the path per request.
    let uri = req.uri().clone();
    let response = next.call(req).await.map(IntoResponse::into_response);
    let (status, caller) = match &response {
        Ok(resp) => (resp.status(), resp.extensions().get::<Caller>()),
        Err(err) => (err.status(), None),
    };
    tracing::info!(
        method = %method,
        path = %uri.path(),
        status = status.as_u16(),
        token_name = caller.map(|c| c.name.as_str()),
        scope = caller.map(|c| c.scope.as_str()),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// A panic in a handler becomes an opaque 500 problem; the process keeps serving.
#[derive(Clone)]
pub struct PanicToProblem;

impl PanicHandler for PanicToProblem {
    type Response = Response;

    fn get_response(&self, _panic: Box<dyn Any + Send + 'static>) -> Response {
        problem::problem_response(&poem::Error::from_string(
            "handler panicked",
            StatusCode::INTERNAL_SERVER_ERROR,
        ))
    }
}
