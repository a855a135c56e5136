//! `GET /api/tasks/{id}`, the request a replica serves most, taken in front of the
//! router. Behind it, poem's router, the OpenAPI service's own router and
//! poem-openapi's operation (its extractors, its `ApiResponse`) cost a GET about a
//! fifth of its instructions (callgrind, 100 700 against 81 400 with this,
//! README's lean section). Only a plain `GET` whose id is all ASCII digits is
//! taken here; everything else (`HEAD`, `+7`, an id past `i64`, a trailing slash,
//! another method) goes on to the router, where `get_task` stays declared: the
//! document, `Allow` and the metrics' route label still come from it. The answer
//! goes through the same bounds ([`bounded`]: permit, body gate, request timeout)
//! and the same middleware around the router, and is the operation's own: the
//! same status, headers and body, found or not (a test holds the two to the same
//! bytes).

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};

use super::super::bounds::bounded;
use super::task_by_id;
use crate::db::TaskStore;

/// The path before the id: the operation's `prefix_path` and `/`.
const PREFIX: &str = "/api/tasks/";

/// `routes`, with `GET /api/tasks/{digits}` served before them.
pub fn with_hot_get<E: Endpoint + 'static>(
    routes: E,
    store: TaskStore,
) -> impl Endpoint<Output = Response> {
    HotGet {
        routes,
        get: bounded(TaskById { store }),
    }
}

/// The id of a request this module serves, `None` for any other request.
fn plain_id(req: &Request) -> Option<i64> {
    if req.method() != Method::GET {
        return None;
    }
    let id = req.uri().path().strip_prefix(PREFIX)?;
    // Digits only: `i64::from_str` also takes a sign, which is the router's case.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

struct HotGet<E, G> {
    routes: E,
    get: G,
}

impl<E: Endpoint, G: Endpoint<Output = Response>> Endpoint for HotGet<E, G> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if plain_id(&req).is_some() {
            self.get.call(req).await
        } else {
            self.routes.call(req).await.map(IntoResponse::into_response)
        }
    }
}

/// `get_task`'s answer: the same `task_by_id`, as a response or a `poem::Error`.
struct TaskById {
    store: TaskStore,
}

impl Endpoint for TaskById {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // Only `HotGet` calls this, with a request `plain_id` reads.
        let Some(id) = plain_id(&req) else {
            return Err(poem::error::NotFoundError.into());
        };
        match task_by_id(&self.store, id).await {
            Ok(answer) => Ok(answer.into_response()),
            // The operation's errors travel as `poem::Error`, as poem-openapi sends them.
            Err(problem) => Err(problem.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_get_of_a_plain_id_is_taken() {
        let cases = [
            (Method::GET, "/api/tasks/7", Some(7), "a plain id"),
            (Method::GET, "/api/tasks/007", Some(7), "leading zeros"),
            (Method::GET, "/api/tasks/7?x=1", Some(7), "a query string"),
            (
                Method::GET,
                "/api/tasks/9223372036854775807",
                Some(i64::MAX),
                "the largest id",
            ),
            (
                Method::GET,
                "/api/tasks/9223372036854775808",
                None,
                "past i64",
            ),
            (Method::GET, "/api/tasks/+7", None, "a sign"),
            (Method::GET, "/api/tasks/-7", None, "a minus"),
            (Method::GET, "/api/tasks/", None, "no id"),
            (Method::GET, "/api/tasks", None, "the list"),
            (Method::GET, "/api/tasks/7/", None, "a trailing slash"),
            (Method::GET, "/api/tasks/abc", None, "not a number"),
            (Method::GET, "/api/tasks/%37", None, "percent-encoded"),
            (Method::GET, "/api/tasksx/7", None, "another path"),
            (Method::HEAD, "/api/tasks/7", None, "HEAD"),
            (Method::PATCH, "/api/tasks/7", None, "PATCH"),
            (Method::DELETE, "/api/tasks/7", None, "DELETE"),
        ];
        for (method, uri, want, why) in cases {
            let req = Request::builder().method(method).uri_str(uri).finish();
            assert_eq!(plain_id(&req), want, "{why}: {uri}");
        }
    }
}
