//! The HTTP application: the OpenAPI operations, the docs, and what every request
//! goes through.
//!
//! - `tasks/`: the task operations, their DTOs, the list's streamed body, and
//!   `hot_get`, which answers a plain GET of one task in front of the routers;
//! - `health`: the probes (`/health`, `/livez`, `/readyz`);
//! - `metrics`: `/metrics`, and the route label of a request;
//! - `bounds`: what a request may hold (permits, body size, media type, body
//!   time), named by each operation in its `#[oai(transform = ...)]`;
//! - `problem`: every error as `application/problem+json`, the one place errors
//!   meet status codes;
//! - `auth`: bearer tokens (`API_TOKENS_FILE`): the guard and the scheme the
//!   operations declare;
//! - `cors`: CORS for the origins in `CORS_ALLOWED_ORIGINS`;
//! - `allow`: the 405's `Allow`, from the operations' declarations;
//! - `patterns`: the documented paths as patterns, which `allow` and `metrics` match;
//! - `middleware`: the log line and panics, for every request;
//! - `request_id`: `X-Request-Id`, in the response, the log lines and problems.
//!
//! A new route: an operation in `tasks/` (or a new `*Api` beside it, added to [`Api`])
//! that names its bounds; the document, the `Allow` header and the tests that walk
//! the document pick it up.

mod allow;
mod auth;
mod bounds;
mod cors;
mod health;
mod metrics;
mod middleware;
mod patterns;
mod problem;
mod request_id;
mod tasks;

use std::sync::Arc;

use poem::middleware::{CatchPanic, SetHeader};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApi, OpenApiService, Tags};

pub use auth::Access;
pub use bounds::MAX_BODY_BYTES;
pub use health::LIVENESS_PATH;
pub use metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;
pub use problem::{CONTENT_TYPE as PROBLEM_CONTENT_TYPE, Problem, ProblemResponse, render};

use crate::configuration::{CorsSettings, RequestLimits};
use crate::db::TaskStore;
use crate::server::{Metrics, Readiness, RouteOf};

#[derive(Tags)]
enum ApiTags {
    /// Liveness and readiness.
    Health,
    /// Task tracking.
    Tasks,
    /// Prometheus metrics.
    Metrics,
}

/// Every OpenAPI operation of the service.
type Api = (
    health::LivenessApi,
    health::HealthApi,
    metrics::MetricsApi,
    tasks::TasksApi,
);

/// What the HTTP layer shares across requests besides the store.
#[derive(Clone)]
pub struct AppState {
    /// Flipped by the server when a stop begins; `/readyz` reads it.
    pub readiness: Readiness,
    /// Sent as `X-Replica-Id` on every response.
    pub replica_id: String,
    /// What `/metrics` renders; the request bounds add their gauges to it.
    pub metrics: Metrics,
}

/// The route label of a request's path, for the server's metrics.
pub fn route_of() -> RouteOf {
    metrics::route_of(patterns::PathPatterns::from_meta(&Api::meta(), |path| {
        ::metrics::SharedString::from(Arc::<str>::from(path.path.as_str()))
    }))
}

/// The whole HTTP application, ready to serve.
pub fn app(
    store: TaskStore,
    state: AppState,
    limits: &RequestLimits,
    access: Access,
    cors: &CorsSettings,
) -> impl Endpoint + 'static {
    let hot_store = store.clone();
    let health = health::HealthApi {
        store: store.clone(),
        readiness: state.readiness,
    };
    let api: Api = (
        health::LivenessApi,
        health.clone(),
        metrics::MetricsApi {
            metrics: state.metrics.clone(),
            health,
        },
        tasks::TasksApi {
            store,
            max_list_offset: limits.max_list_offset,
        },
    );
    let bounds = bounds::Bounds::new(limits);
    bounds.observe(&state.metrics);
    let api = OpenApiService::new(api, "tasks-backend", env!("CARGO_PKG_VERSION")).description(
        "A small task-tracking API. Every error is `application/problem+json` (RFC 9457): \
         400 for any request that is malformed or breaks a rule, 404 for an unknown task \
         or route, 405 for a wrong method, 413 for a body over 64 KiB, 415 for a body that \
         is not JSON, 408 for a body that does not arrive within BODY_READ_TIMEOUT_SECS, \
         503 while the database is unreachable or does not answer within \
         REQUEST_TIMEOUT_SECS, or the replica is at its limit of requests in flight (then \
         with `Retry-After`). When the service runs with tokens \
         (API_TOKENS_FILE), every tasks operation needs `Authorization: Bearer TOKEN`: \
         401 without a valid token, 403 for a read-only token on a write.",
    );
    let docs = api.swagger_ui();
    let spec = tasks::close_request_bodies(&api.spec());
    let spec = if access.tokens.is_some() {
        tasks::require_tokens(&spec)
    } else {
        spec
    };
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(spec.clone())
    });
    let allowed = Arc::new(allow::AllowedMethods::from_meta(&Api::meta()));
    let access = Arc::new(access);
    let routes = Route::new()
        // GET only: any other method on these is 405, like everywhere else.
        .at("/openapi.json", bounds::bounded(poem::get(spec)))
        .nest("/docs", bounds::bounded(poem::get(docs)))
        .nest("/", api);
    // The request served most skips the routers (`tasks::hot_get`).
    tasks::with_hot_get(routes, hot_store)
        // The operations' bounds find their permits here.
        .data(bounds)
        .with(CatchPanic::new().with_handler(middleware::PanicToProblem))
        .catch_all_error(problem::into_problem)
        .around(move |next, req| allow::allow_on_405(allowed.clone(), next, req))
        // Before any route reads the request: nothing answers without a token.
        .around(move |next, req| auth::guard(access.clone(), next, req))
        // Outside the guard: a preflight carries no token.
        .with(cors::ExactCors::new(cors))
        .around(middleware::log_request)
        // Outside the log line and every problem, which all carry the id.
        .around(request_id::with_request_id)
        // Which replica answered: for load-balancer checks and for users' logs.
        .with(SetHeader::new().overriding("x-replica-id", state.replica_id.as_str()))
}

#[cfg(test)]
mod tests {
    use poem::http::Method;

    use super::*;

    /// The constant is in the declaration; this holds it to one GET operation.
    #[test]
    fn the_healthcheck_asks_the_path_the_liveness_operation_declares() {
        let declared = Api::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .find(|path| path.path == LIVENESS_PATH)
            .unwrap_or_else(|| panic!("no operation is declared at {LIVENESS_PATH}"));
        let methods: Vec<Method> = declared
            .operations
            .iter()
            .map(|op| op.method.clone())
            .collect();
        assert_eq!(methods, [Method::GET], "{LIVENESS_PATH}");
    }

    #[test]
    fn allow_lists_the_declared_methods_of_each_path() {
        let allowed = allow::AllowedMethods::from_meta(&Api::meta());
        let cases = [
            ("/api/tasks", "GET, HEAD, POST"),
            ("/api/tasks/", "GET, HEAD, POST"),
            ("/api/tasks/7", "GET, HEAD, PATCH, DELETE"),
            ("/api/tasks/abc", "GET, HEAD, PATCH, DELETE"),
            ("/health", "GET, HEAD"),
            ("/livez", "GET, HEAD"),
            ("/metrics", "GET, HEAD"),
            ("/openapi.json", "GET, HEAD"),
            ("/docs", "GET, HEAD"),
        ];
        for (path, want) in cases {
            assert_eq!(allowed.for_path(path), want, "Allow for {path}");
        }
    }
}
