//! RFC 9110: a 405 lists, in `Allow`, the methods the resource does have. They are
//! read from the API's own metadata, the operations' declarations, so a new
//! operation is listed without a word here.

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::registry::MetaApi;

use super::patterns::PathPatterns;

/// The methods of each documented path; any other route (the document, the docs
/// page) answers GET and HEAD only.
pub struct AllowedMethods {
    paths: PathPatterns<HeaderValue>,
}

/// The order methods are listed in; HEAD comes with GET (poem answers it with the
/// GET operation).
static ORDER: [Method; 8] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
];

fn get_only() -> HeaderValue {
    HeaderValue::from_static("GET, HEAD")
}

impl AllowedMethods {
    pub fn from_meta(apis: &[MetaApi]) -> Self {
        let paths = PathPatterns::from_meta(apis, |path| {
            let has = |method: &Method| {
                path.operations.iter().any(|op| {
                    op.method == *method || (*method == Method::HEAD && op.method == Method::GET)
                })
            };
            let listed: Vec<&str> = ORDER
                .iter()
                .filter(|m| has(m))
                .map(Method::as_str)
                .collect();
            HeaderValue::from_str(&listed.join(", ")).unwrap_or_else(|_| get_only())
        });
        Self { paths }
    }

    /// What `Allow` says for a request to `path`.
    pub fn for_path(&self, path: &str) -> HeaderValue {
        self.paths.find(path).cloned().unwrap_or_else(get_only)
    }
}

/// Adds `Allow` to every 405.
pub async fn allow_on_405<E: Endpoint>(
    allowed: Arc<AllowedMethods>,
    next: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    // The path is matched only for a 405, not for every request; a clone of the
    // URI shares its bytes.
    let uri = req.uri().clone();
    let mut response = next.call(req).await?.into_response();
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, allowed.for_path(uri.path()));
    }
    Ok(response)
}
