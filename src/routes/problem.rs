//! Every HTTP error leaves as `application/problem+json` (RFC 9457). This module is
//! the one place where errors meet status codes.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object};

use super::request_id::RequestId;
use super::tasks::CursorError;
use crate::db::StoreError;
use crate::domain::DomainError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// Longest `detail` sent back; parser messages can quote the offending input.
const MAX_DETAIL_CHARS: usize = 500;

/// An RFC 9457 problem. `type` is `about:blank`, so `title` is the status's reason phrase.
#[derive(Debug, Clone, Object)]
pub struct Problem {
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request's id, as in its `X-Request-Id` and its log lines.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let detail: String = detail.into();
        let detail = match detail.char_indices().nth(MAX_DETAIL_CHARS) {
            Some((cut, _)) => format!("{}...", &detail[..cut]),
            None => detail,
        };
        Self {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            request_id: RequestId::current(),
        }
    }
}

/// The error half of every operation's result, so the OpenAPI document lists each
/// error status an operation can answer with.
#[derive(Debug, ApiResponse)]
pub enum ProblemResponse {
    /// Malformed JSON, wrong types, unknown fields, or a value that breaks a rule.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Tokens are on (`API_TOKENS_FILE`) and the request has no valid bearer token;
    /// `WWW-Authenticate` says which (RFC 6750).
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>, #[oai(header = "WWW-Authenticate")] String),
    /// The token's scope does not allow this operation (a `read` token on a
    /// write): `WWW-Authenticate` says `error="insufficient_scope"`.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>, #[oai(header = "WWW-Authenticate")] String),
    /// No such task, or no such route.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request body is larger than 64 KiB.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body is not `application/json`.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// An unexpected failure; the details are logged, never returned.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The database cannot be reached right now; retry later.
    #[oai(status = 503, content_type = "application/problem+json")]
    ServiceUnavailable(Json<Problem>),
}

/// Errors raised while serving the API, before they are given a status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("task {0} does not exist")]
    TaskNotFound(i64),
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("{0}; start again from the first page, without `after`")]
    Cursor(#[from] CursorError),
    #[error(
        "`offset` {offset} is past its bound of {max} (MAX_LIST_OFFSET): skipping that \
         many tasks means reading them all. Page with the cursor instead: pass each \
         page's `next` as `after` (it is also in the page's `Link: rel=\"next\"` header)"
    )]
    OffsetTooDeep { offset: u64, max: u64 },
    #[error("`after` and `offset` cannot be combined: a page by cursor starts right after it")]
    CursorWithOffset,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ApiError> for ProblemResponse {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::TaskNotFound(_) => {
                Self::NotFound(Json(Problem::new(StatusCode::NOT_FOUND, err.to_string())))
            }
            ApiError::Invalid(_)
            | ApiError::Cursor(_)
            | ApiError::OffsetTooDeep { .. }
            | ApiError::CursorWithOffset => {
                Self::BadRequest(Json(Problem::new(StatusCode::BAD_REQUEST, err.to_string())))
            }
            ApiError::Store(StoreError::Unavailable(ref cause)) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::ServiceUnavailable(Json(Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; try again later",
                )))
            }
            ApiError::Store(store) => Self::Internal(Json(internal_problem(
                &store,
                StatusCode::INTERNAL_SERVER_ERROR,
            ))),
        }
    }
}

impl From<DomainError> for ProblemResponse {
    fn from(err: DomainError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<StoreError> for ProblemResponse {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

/// Turns any error that reached the edge of the app (unknown route, wrong method,
/// unparsable body, panic, internal failure) into a problem response.
pub async fn into_problem(err: poem::Error) -> Response {
    // An operation's own `ProblemResponse` arrives here wrapped in an error;
    // it already is the answer.
    if err.is_from_response() {
        return err.into_response();
    }
    problem_response(&err)
}

/// A problem's content type and body, for a writer outside the app: the server's
/// refusal past the connection cap.
pub fn render(status: StatusCode, detail: &str) -> (&'static str, String) {
    (CONTENT_TYPE, Problem::new(status, detail).to_json_string())
}

pub fn problem_response(err: &poem::Error) -> Response {
    let problem = problem_for(err);
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Json(problem).into_response();
    response.set_status(status);
    response.headers_mut().insert(
        poem::http::header::CONTENT_TYPE,
        poem::http::HeaderValue::from_static(CONTENT_TYPE),
    );
    response
}

fn problem_for(err: &poem::Error) -> Problem {
    let status = err.status();
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        return internal_problem(err, status);
    }
    let detail = err.to_string();
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        detail
    };
    Problem::new(status, detail)
}

/// Logs the real cause and returns a body that reveals nothing of it
/// (database messages, panics and paths stay in the logs).
fn internal_problem(cause: &dyn std::fmt::Display, status: StatusCode) -> Problem {
    tracing::error!(error = %cause, status = status.as_u16(), "internal error");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server failed to handle this request; the cause has been logged",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_detail_is_cut_short() {
        let problem = Problem::new(StatusCode::BAD_REQUEST, "é".repeat(2000));
        assert_eq!(problem.detail.chars().count(), MAX_DETAIL_CHARS + 3);
    }

    #[test]
    fn internal_errors_are_opaque() {
        let err = poem::Error::from_string("secret sql text", StatusCode::INTERNAL_SERVER_ERROR);
        let problem = problem_for(&err);
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"), "{}", problem.detail);
    }
}
