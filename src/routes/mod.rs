//! The HTTP layer: OpenAPI operations, the docs, and the middleware that gives every
//! request the same limits, logging and error shape.

mod health;
mod middleware;
mod problem;
mod tasks;

use std::sync::Arc;

use poem::middleware::{CatchPanic, SetHeader};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

pub use health::Readiness;
pub use middleware::MAX_BODY_BYTES;
pub use problem::{Problem, ProblemResponse};

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
pub fn app(store: TaskStore, state: AppState) -> impl Endpoint + 'static {
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
         is not JSON, 503 while the database is unreachable.",
    );
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    Route::new()
        // GET only: any other method on these is 405, like everywhere else.
        .at("/openapi.json", poem::get(spec))
        .nest("/docs", poem::get(docs))
        .nest("/", api)
        .around(middleware::limit_body)
        .with(CatchPanic::new().with_handler(middleware::PanicToProblem))
        .catch_all_error(problem::into_problem)
        .around(middleware::allow_on_405)
        .around(middleware::log_request)
        // Which replica answered: for load-balancer checks and for users' logs.
        .with(SetHeader::new().overriding("x-replica-id", state.replica_id.as_str()))
}
