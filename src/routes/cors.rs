//! CORS for the origins in `CORS_ALLOWED_ORIGINS`, with poem's `Cors` middleware,
//! around which this adds what it gets wrong for an exact list of origins:
//!
//! - poem's `Cors` answers a request from an origin not on the list with 403
//!   (`CorsError::OriginNotAllowed`): that refuses a non-browser client that sends
//!   `Origin`, and it is not CORS's job (the browser enforces it). Here such a
//!   request goes on untouched, with no CORS header;
//! - it sends `Vary: Origin` only for origins matched by pattern or function, and
//!   never on a preflight; a cache could then hand one origin's answer to another.
//!   Here every answer varies by `Origin`, since the headers do;
//! - its errors (a preflight asking a method or header not allowed: 403) would
//!   leave as plain text; here they are problems like every other error.
//!
//! With no origin listed there is no CORS at all (poem's `Cors` with an empty list
//! would allow every origin).

use std::collections::HashSet;
use std::sync::Arc;

use poem::http::{HeaderValue, Method, header};
use poem::middleware::Cors;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::problem;
use crate::configuration::CorsSettings;

/// The methods the API's operations use (HEAD comes with GET).
const METHODS: [Method; 5] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PATCH,
    Method::DELETE,
];

/// The request headers a page may send: the token, the JSON body's type, and the
/// request id a client may set.
const REQUEST_HEADERS: [&str; 3] = ["authorization", "content-type", "x-request-id"];

/// The response headers a page may read beyond the safelisted ones.
const EXPOSED_HEADERS: [&str; 6] = [
    "location",
    "retry-after",
    "www-authenticate",
    "x-request-id",
    "x-replica-id",
    "allow",
];

/// CORS for an exact list of origins; nothing when the list is empty.
pub struct ExactCors {
    origins: Arc<HashSet<HeaderValue>>,
    max_age_secs: i32,
}

impl ExactCors {
    pub fn new(settings: &CorsSettings) -> Self {
        let origins = settings
            .allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        Self {
            origins: Arc::new(origins),
            max_age_secs: i32::try_from(settings.max_age.as_secs()).unwrap_or(i32::MAX),
        }
    }
}

impl<E: Endpoint> Middleware<E> for ExactCors {
    type Output = ExactCorsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        let plain = Arc::new(ep);
        let origins = self.origins.clone();
        let allowed = origins.clone();
        let cors = (!origins.is_empty()).then(|| {
            let cors = Cors::new()
                // A function, not `allow_origin`: then poem adds `Vary: Origin`.
                .allow_origins_fn(move |origin| {
                    HeaderValue::from_str(origin).is_ok_and(|o| allowed.contains(&o))
                })
                .allow_methods(METHODS)
                .allow_headers(REQUEST_HEADERS)
                .expose_headers(EXPOSED_HEADERS)
                .allow_credentials(false)
                .max_age(self.max_age_secs);
            Middleware::transform(&cors, plain.clone())
        });
        ExactCorsEndpoint {
            plain,
            cors,
            origins,
        }
    }
}

pub struct ExactCorsEndpoint<E> {
    plain: Arc<E>,
    cors: Option<poem::middleware::CorsEndpoint<Arc<E>>>,
    origins: Arc<HashSet<HeaderValue>>,
}

impl<E: Endpoint> Endpoint for ExactCorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Some(cors) = &self.cors else {
            return self.plain.call(req).await.map(IntoResponse::into_response);
        };
        let listed = req
            .headers()
            .get(header::ORIGIN)
            .is_some_and(|origin| self.origins.contains(origin));
        let mut response = if listed {
            match cors.call(req).await {
                Ok(response) => response,
                Err(err) if err.is_from_response() => err.into_response(),
                Err(err) => problem::problem_response(&err),
            }
        } else {
            self.plain.call(req).await?.into_response()
        };
        vary_by_origin(&mut response);
        Ok(response)
    }
}

fn vary_by_origin(response: &mut Response) {
    let varies = response
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin") || v.trim() == "*");
    if !varies {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
    }
}
