//! The HTTP layer: OpenAPI operations, the docs, and the middleware that gives every
//! request the same limits, logging and error shape.

mod health;
mod limits;
mod middleware;
mod problem;
mod tasks;

use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

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

/// The whole HTTP application, ready to serve.
pub fn app(store: TaskStore, settings: &LimitSettings) -> impl Endpoint + 'static {
    let api = OpenApiService::new(
        (
            health::HealthApi {
                store: store.clone(),
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
    let spec = api.spec_endpoint();
    Route::new()
        // GET only: any other method on these is 405, like everywhere else.
        .at("/openapi.json", poem::get(spec))
        .nest("/docs", poem::get(docs))
        .nest("/", api)
        .around(middleware::limit_body)
        .around({
            let timeout = settings.body_read_timeout;
            move |next, req| limits::read_body_within(timeout, next, req)
        })
        .with(CatchPanic::new().with_handler(middleware::PanicToProblem))
        .catch_all_error(problem::into_problem)
        .around(middleware::allow_on_405)
        .around({
            let in_flight = limits::InFlight::new(settings);
            move |next, req| limits::shed(in_flight.clone(), next, req)
        })
        .around(middleware::log_request)
}
