//! The HTTP layer: OpenAPI operations, the docs, and the middleware that gives every
//! request the same limits, logging and error shape.

mod health;
mod limits;
mod middleware;
mod problem;
mod tasks;

use std::sync::Arc;

use poem::middleware::{CatchPanic, SetHeader};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

pub use health::Readiness;
pub use middleware::MAX_BODY_BYTES;
pub use problem::{CONTENT_TYPE as PROBLEM_CONTENT_TYPE, Problem, ProblemResponse};

use crate::configuration::LimitSettings;
use crate::db::TaskStore;

#[derive(Tags)]
enum ApiTags {
    /// Liveness and readiness.
    Health,
    /// Task tracking.
    Tasks,
}

/// What the HTTP layer shares across requests besides the store.
#[derive(Clone)]
pub struct AppState {
    pub readiness: Arc<Readiness>,
    /// Sent as `X-Replica-Id` on every response.
    pub replica_id: String,
}

/// The whole HTTP application, ready to serve.
pub fn app(store: TaskStore, state: AppState, bounds: &LimitSettings) -> impl Endpoint + 'static {
    let api = OpenApiService::new(
        (
            health::HealthApi {
                store: store.clone(),
                readiness: state.readiness.clone(),
            },
            tasks::TasksApi { store },
        ),
        "tasks-backend",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "A small task-tracking API. Every error is `application/problem+json` (RFC 9457): \
         400 for any request that is malformed or breaks a rule, 404 for an unknown task \
         or route, 405 for a wrong method, 413 for a body over 64 KiB, 415 for a body that \
         is not JSON, 408 for a body that does not arrive within BODY_READ_TIMEOUT_SECS, \
         503 while the database is unreachable or the replica is at its limit of requests \
         in flight (then with `Retry-After`).",
    );
    let docs = api.swagger_ui();
    let spec = tasks::close_request_bodies(&api.spec());
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(spec.clone())
    });
    Route::new()
        // GET only: any other method on these is 405, like everywhere else.
        .at("/openapi.json", poem::get(spec))
        .nest("/docs", poem::get(docs))
        .nest("/", api)
        .around({
            let timeout = bounds.body_read_timeout;
            move |next, req| limits::read_body(timeout, next, req)
        })
        .with(CatchPanic::new().with_handler(middleware::PanicToProblem))
        .catch_all_error(problem::into_problem)
        .around(middleware::allow_on_405)
        .around({
            let in_flight = limits::InFlight::new(bounds);
            move |next, req| limits::shed(in_flight.clone(), next, req)
        })
        .around(middleware::log_request)
        // Which replica answered: for load-balancer checks and for users' logs.
        .with(SetHeader::new().overriding("x-replica-id", state.replica_id.as_str()))
}
