//! Health endpoints, one per question an orchestrator asks:
//! - `/livez`: is the process serving? Never touches the database, so a database
//!   outage does not get every replica restarted (the images' HEALTHCHECK and
//!   Kubernetes' liveness and startup probes use it).
//! - `/readyz`: should traffic come here? The database answers and the process is
//!   not shutting down (load balancers and Kubernetes' readiness probe).
//! - `/health`: the container contract: the database answers.
//!
//! They declare no bounds (see `bounds`): a probe is answered however busy the
//! replica is.

use std::time::Duration;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::db::TaskStore;
use crate::server::Readiness;

/// The liveness probe's path: [`LivenessApi`] is declared at it, and
/// `tasks-backend healthcheck` asks it.
pub const LIVENESS_PATH: &str = "/livez";

/// The probe must answer well within the 3 s health-check timeout of the images.
const DATABASE_PING_BUDGET: Duration = Duration::from_millis(1500);

#[derive(Debug, Object)]
pub struct HealthStatus {
    /// `healthy` or `unhealthy`.
    pub status: String,
    /// Why the service is unhealthy; absent when healthy.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
}

#[derive(Debug, Object)]
pub struct ProbeStatus {
    /// `alive`, `ready` or `not ready`.
    pub status: String,
    /// Why the replica is not ready; absent otherwise.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
}

#[derive(Debug, ApiResponse)]
pub enum HealthResponse {
    /// Serving, and the database answers.
    #[oai(status = 200)]
    Healthy(Json<HealthStatus>),
    /// Serving, but the database does not answer.
    #[oai(status = 503)]
    Unhealthy(Json<HealthStatus>),
}

#[derive(Debug, ApiResponse)]
pub enum LivenessResponse {
    /// The process serves requests.
    #[oai(status = 200)]
    Alive(Json<ProbeStatus>),
}

#[derive(Debug, ApiResponse)]
pub enum ReadinessResponse {
    /// Ready for traffic.
    #[oai(status = 200)]
    Ready(Json<ProbeStatus>),
    /// Shutting down, or the database does not answer: send traffic elsewhere.
    #[oai(status = 503)]
    NotReady(Json<ProbeStatus>),
}

#[derive(Clone)]
pub struct HealthApi {
    pub store: TaskStore,
    pub readiness: Readiness,
}

impl HealthApi {
    /// `None` when the replica should get traffic, else why not (what `/readyz`
    /// answers, and what the `tasks_backend_ready` gauge shows).
    pub(super) async fn readiness_problem(&self) -> Option<String> {
        if self.readiness.is_draining() {
            Some("shutting down".to_owned())
        } else {
            self.database_problem().await
        }
    }

    /// `None` when the database answered within the budget, else why not.
    async fn database_problem(&self) -> Option<String> {
        match tokio::time::timeout(DATABASE_PING_BUDGET, self.store.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "health check: database did not answer");
                Some("database unavailable".to_owned())
            }
            Err(_) => Some(format!(
                "database did not answer within {} ms",
                DATABASE_PING_BUDGET.as_millis()
            )),
        }
    }
}

#[OpenApi]
impl HealthApi {
    /// Container health: 200 when the database answers a trivial query.
    #[oai(path = "/health", method = "get", tag = "ApiTags::Health")]
    async fn health(&self) -> HealthResponse {
        match self.database_problem().await {
            None => HealthResponse::Healthy(Json(HealthStatus {
                status: "healthy".to_owned(),
                reason: None,
            })),
            reason => HealthResponse::Unhealthy(Json(HealthStatus {
                status: "unhealthy".to_owned(),
                reason,
            })),
        }
    }

    /// Readiness: 200 when the database answers and the process is not shutting
    /// down; 503 otherwise.
    #[oai(path = "/readyz", method = "get", tag = "ApiTags::Health")]
    async fn readyz(&self) -> ReadinessResponse {
        match self.readiness_problem().await {
            None => ReadinessResponse::Ready(Json(ProbeStatus {
                status: "ready".to_owned(),
                reason: None,
            })),
            reason => ReadinessResponse::NotReady(Json(ProbeStatus {
                status: "not ready".to_owned(),
                reason,
            })),
        }
    }
}

/// Liveness has an API of its own so that its path is a constant the declaration
/// uses (`prefix_path` takes an expression; an operation's `path` only a literal),
/// and `tasks-backend healthcheck` asks the very same.
pub struct LivenessApi;

#[OpenApi(prefix_path = LIVENESS_PATH, tag = "ApiTags::Health")]
impl LivenessApi {
    /// Liveness: 200 while the process serves. Does not touch the database.
    #[oai(path = "/", method = "get")]
    async fn livez(&self) -> LivenessResponse {
        LivenessResponse::Alive(Json(ProbeStatus {
            status: "alive".to_owned(),
            reason: None,
        }))
    }
}
