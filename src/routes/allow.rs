//! RFC 9110: a 405 lists, in `Allow`, the methods the resource does have. They are
//! read from the API's own metadata, the operations' declarations, so a new
//! operation is listed without a word here.

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::registry::MetaApi;

/// The methods of each documented path; any other route (the document, the docs
/// page) answers GET and HEAD only.
pub struct AllowedMethods {
    paths: Vec<(Vec<Segment>, HeaderValue)>,
}

/// One segment of a documented path: literal, or a `{parameter}` that matches any.
#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
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
        let paths = apis
            .iter()
            .flat_map(|api| &api.paths)
            .map(|path| {
                let has = |method: &Method| {
                    path.operations.iter().any(|op| {
                        op.method == *method
                            || (*method == Method::HEAD && op.method == Method::GET)
                    })
                };
                let listed: Vec<&str> = ORDER
                    .iter()
                    .filter(|m| has(m))
                    .map(Method::as_str)
                    .collect();
                let allow =
                    HeaderValue::from_str(&listed.join(", ")).unwrap_or_else(|_| get_only());
                (segments(&path.path), allow)
            })
            .collect();
        Self { paths }
    }

    /// What `Allow` says for a request to `path`.
    pub fn for_path(&self, path: &str) -> HeaderValue {
        let wanted: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.paths
            .iter()
            .find(|(pattern, _)| {
                pattern.len() == wanted.len()
                    && pattern.iter().zip(&wanted).all(|(p, w)| match p {
                        Segment::Literal(literal) => literal == w,
                        Segment::Parameter => !w.is_empty(),
                    })
            })
            .map_or_else(get_only, |(_, allow)| allow.clone())
    }
}

/// `/api/tasks/{id}` as its segments (the document's form of a path).
fn segments(path: &str) -> Vec<Segment> {
    path.trim_end_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Parameter
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

/// Adds `Allow` to every 405.
pub async fn allow_on_405<E: Endpoint>(
    allowed: Arc<AllowedMethods>,
    next: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let allow = allowed.for_path(req.uri().path());
    let mut response = next.call(req).await?.into_response();
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(response)
}
