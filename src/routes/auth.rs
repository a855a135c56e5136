//! Bearer tokens (RFC 6750), when `API_TOKENS_FILE` is set: [`guard`] checks every
//! request to the tasks operations (and to the docs, when `DOCS_REQUIRE_TOKEN`)
//! before anything else reads it, so nothing of the API answers without a valid
//! token; the probes and `/metrics` stay open. A read (GET, HEAD) needs `read`,
//! anything else `write`.
//!
//! [`ApiAuth`] is how the operations declare the scheme to the OpenAPI document:
//! the bearer scheme, or nothing when tokens are off (poem-openapi's fallback
//! writes that as the empty requirement `{}`; `document` drops it when tokens are
//! on). By the time an operation runs, the guard has decided.
//!
//! Nothing here logs or returns the token, its hash or the header.

use std::sync::Arc;

use poem::http::{HeaderMap, Method, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;

use super::problem::{Problem, ProblemResponse};
use crate::access::Tokens;
use crate::domain::{Scope, TokenName};

/// Sent in every challenge: which protection space the token is for.
const REALM: &str = "tasks-backend";

/// What the guard checks against.
#[derive(Clone)]
pub struct Access {
    /// `None`: tokens are off; every request passes untouched.
    pub tokens: Option<Tokens>,
    /// Whether the document and the docs page need a (read) token too.
    pub docs_require_token: bool,
}

/// Who is calling, once the guard has let a request through: in the request's
/// extensions for the operation, in the response's for the log line.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: TokenName,
    pub scope: Scope,
}

/// The bearer scheme, as declared to the document. The operations take it for the
/// declaration; what it holds, the log line already has.
#[allow(dead_code)]
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "bearerToken", checker = "caller_of")]
pub struct BearerToken(Caller);

/// The guard has already checked the token; this reads whom it let through.
async fn caller_of(req: &Request, _checked: Bearer) -> Option<Caller> {
    req.extensions().get::<Caller>().cloned()
}

/// A token, or none when tokens are off.
#[allow(dead_code)]
#[derive(SecurityScheme)]
pub enum ApiAuth {
    Token(BearerToken),
    #[oai(fallback)]
    Open,
}

/// The scope a request needs, or `None` for a route that stays open.
fn needed_scope(access: &Access, method: &Method, path: &str) -> Option<Scope> {
    let api = path == "/api" || path.starts_with("/api/");
    let docs = path == "/openapi.json" || path == "/docs" || path.starts_with("/docs/");
    if !(api || (docs && access.docs_require_token)) {
        return None;
    }
    Some(match *method {
        Method::GET | Method::HEAD => Scope::Read,
        _ => Scope::Write,
    })
}

enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// A header, but not a known bearer token (malformed, another scheme, unknown).
    Invalid,
    /// A valid token whose scope is short of the one needed.
    Insufficient(Scope),
}

/// The token in `Authorization: Bearer TOKEN`, or why there is none.
fn presented(headers: &HeaderMap) -> Result<&str, Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(header::AUTHORIZATION) {
            Refusal::Invalid
        } else {
            Refusal::Missing
        });
    };
    let value = value.to_str().map_err(|_| Refusal::Invalid)?;
    let (scheme, token) = value.split_once(' ').ok_or(Refusal::Invalid)?;
    let token = token.trim_start_matches(' ');
    // RFC 6750's b64token: what a token may be made of.
    let b64token = !token.is_empty()
        && token.trim_end_matches('=').bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if scheme.eq_ignore_ascii_case("bearer") && b64token {
        Ok(token)
    } else {
        Err(Refusal::Invalid)
    }
}

/// Lets the request through with its [`Caller`], or answers 401/403.
pub async fn guard<E: Endpoint>(
    access: Arc<Access>,
    next: Arc<E>,
    mut req: Request,
) -> poem::Result<Response> {
    let (Some(tokens), Some(needed)) = (
        access.tokens.as_ref(),
        needed_scope(&access, req.method(), req.uri().path()),
    ) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let checked = presented(req.headers()).and_then(|token| {
        let set = tokens.current();
        let entry = set.find(token).ok_or(Refusal::Invalid)?;
        if entry.scope.allows(needed) {
            Ok(Caller {
                name: entry.name.clone(),
                scope: entry.scope,
            })
        } else {
            Err(Refusal::Insufficient(needed))
        }
    });
    match checked {
        Ok(caller) => {
            req.extensions_mut().insert(caller.clone());
            let mut response = next.call(req).await?.into_response();
            response.extensions_mut().insert(caller);
            Ok(response)
        }
        Err(refusal) => Ok(refused(&refusal).into_response()),
    }
}

/// The answer to a refused request: its problem and its `WWW-Authenticate`.
fn refused(refusal: &Refusal) -> ProblemResponse {
    use poem::http::StatusCode;
    match refusal {
        Refusal::Missing => ProblemResponse::Unauthorized(
            Json(Problem::new(
                StatusCode::UNAUTHORIZED,
                "this operation needs a token: send Authorization: Bearer TOKEN",
            )),
            format!("Bearer realm=\"{REALM}\""),
        ),
        Refusal::Invalid => ProblemResponse::Unauthorized(
            Json(Problem::new(
                StatusCode::UNAUTHORIZED,
                "the Authorization header does not hold a valid bearer token",
            )),
            format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", \
                 error_description=\"the token is malformed, unknown or revoked\""
            ),
        ),
        Refusal::Insufficient(needed) => ProblemResponse::Forbidden(
            Json(Problem::new(
                StatusCode::FORBIDDEN,
                format!("this operation needs a token with the {needed} scope"),
            )),
            format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{needed}\", \
                 error_description=\"this operation needs the {needed} scope\""
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    use super::*;

    #[test]
    fn only_the_api_needs_a_token_and_the_docs_when_asked() {
        let open_docs = Access {
            tokens: None,
            docs_require_token: false,
        };
        let closed_docs = Access {
            docs_require_token: true,
            ..open_docs.clone()
        };
        let cases = [
            (&open_docs, Method::GET, "/api/tasks", Some(Scope::Read)),
            (&open_docs, Method::HEAD, "/api/tasks/1", Some(Scope::Read)),
            (&open_docs, Method::POST, "/api/tasks", Some(Scope::Write)),
            (
                &open_docs,
                Method::PATCH,
                "/api/tasks/1",
                Some(Scope::Write),
            ),
            (
                &open_docs,
                Method::DELETE,
                "/api/tasks/1",
                Some(Scope::Write),
            ),
            (&open_docs, Method::PUT, "/api/other", Some(Scope::Write)),
            (&open_docs, Method::GET, "/apix", None),
            (&open_docs, Method::GET, "/health", None),
            (&open_docs, Method::GET, "/livez", None),
            (&open_docs, Method::GET, "/readyz", None),
            (&open_docs, Method::GET, "/metrics", None),
            (&open_docs, Method::GET, "/docs", None),
            (&open_docs, Method::GET, "/openapi.json", None),
            (&closed_docs, Method::GET, "/docs", Some(Scope::Read)),
            (
                &closed_docs,
                Method::GET,
                "/docs/index.js",
                Some(Scope::Read),
            ),
            (
                &closed_docs,
                Method::GET,
                "/openapi.json",
                Some(Scope::Read),
            ),
            (&closed_docs, Method::GET, "/health", None),
        ];
        for (access, method, path, want) in cases {
            assert_eq!(
                needed_scope(access, &method, path),
                want,
                "{method} {path} (docs_require_token={})",
                access.docs_require_token
            );
        }
    }

    #[test]
    fn only_one_well_formed_bearer_header_presents_a_token() {
        let cases: [(&[&str], Option<&str>); 10] = [
            (&["Bearer abc123"], Some("abc123")),
            (&["bearer abc-._~+/="], Some("abc-._~+/=")),
            (&["BEARER  abc"], Some("abc")),
            (&[], None),
            (&["Bearer"], None),
            (&["Bearer "], None),
            (&["Basic dXNlcjpwYXNz"], None),
            (&["Bearer a b"], None),
            (&["Bearer a=b"], None),
            (&["Bearer abc", "Bearer abc"], None),
        ];
        for (values, want) in cases {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            }
            let got = presented(&headers).ok();
            assert_eq!(got, want, "{values:?}");
        }
    }
}
