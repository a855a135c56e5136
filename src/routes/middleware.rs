use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use poem::http::{HeaderValue, StatusCode, header};
use poem::middleware::PanicHandler;
use poem::{Endpoint, IntoResponse, Request, Response};

use super::problem;

/// Largest request body accepted; a task is far smaller.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// RFC 9110: a 405 lists the methods the resource does have, in `Allow`.
pub async fn allow_on_405<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let allow = allowed_methods(req.uri().path());
    let mut response = next.call(req).await?.into_response();
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    Ok(response)
}

/// The methods each route answers (HEAD comes with GET). Keep in step with the routes.
fn allowed_methods(path: &str) -> &'static str {
    match path.trim_end_matches('/') {
        "/api/tasks" => "GET, HEAD, POST",
        p if p.starts_with("/api/tasks/") => "GET, HEAD, PATCH, DELETE",
        _ => "GET, HEAD",
    }
}

/// One log line per request: method, path, status, latency.
pub async fn log_request<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.call(req).await.map(IntoResponse::into_response);
    let status = match &response {
        Ok(resp) => resp.status(),
        Err(err) => err.status(),
    };
    tracing::info!(
        method = %method,
        path = %path,
        status = status.as_u16(),
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
