use std::time::Duration;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::db::TaskStore;

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

#[derive(Debug, ApiResponse)]
pub enum HealthResponse {
    /// Serving, and the database answers.
    #[oai(status = 200)]
    Healthy(Json<HealthStatus>),
    /// Serving, but the database does not answer.
    #[oai(status = 503)]
    Unhealthy(Json<HealthStatus>),
}

pub struct HealthApi {
    pub store: TaskStore,
}

#[OpenApi]
impl HealthApi {
    /// Liveness and readiness: 200 when the database answers a trivial query.
    #[oai(path = "/health", method = "get", tag = "ApiTags::Health")]
    async fn health(&self) -> HealthResponse {
        let reason = match tokio::time::timeout(DATABASE_PING_BUDGET, self.store.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "health check: database did not answer");
                Some("database unavailable".to_owned())
            }
            Err(_) => Some(format!(
                "database did not answer within {} ms",
                DATABASE_PING_BUDGET.as_millis()
            )),
        };
        match reason {
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
}
