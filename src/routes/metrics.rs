//! `GET /metrics`: this replica's metrics in the Prometheus text format (0.0.4), for
//! a Prometheus server to scrape. Like the probes it declares no bounds: a scrape
//! is answered however busy the replica is, which is when it matters most. It asks
//! the database what `/readyz` asks (on the probes' pool), for the readiness gauge.
//!
//! Which route a request took is named here too ([`route_of`]): the documented
//! pattern, never the raw path, so no client can add a series.

use std::sync::Arc;

use metrics::SharedString;
use poem::http::StatusCode;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::health::HealthApi;
use super::patterns::PathPatterns;
use super::problem::Problem;
use crate::server::{Metrics, RouteOf, UNMATCHED_ROUTE};

/// The Prometheus text exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

const READY: &str = "tasks_backend_ready";

pub struct MetricsApi {
    pub metrics: Metrics,
    pub health: HealthApi,
}

#[derive(Debug, ApiResponse)]
pub enum MetricsResponse {
    /// The metrics, in the Prometheus text exposition format 0.0.4.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4")]
    Metrics(PlainText<String>),
}

/// What `/metrics` can fail with: it needs no token, so it does not share the
/// tasks operations' list of problems.
#[derive(Debug, ApiResponse)]
pub enum MetricsProblem {
    /// Metrics are turned off (`METRICS_ENABLED=false`).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
}

#[OpenApi]
impl MetricsApi {
    /// Prometheus metrics of this replica: HTTP requests by method, route and
    /// status, refusals by reason, connections, permits, database pools,
    /// readiness, dropped log lines, build and process. 404 when turned off
    /// (`METRICS_ENABLED=false`).
    #[oai(path = "/metrics", method = "get", tag = "ApiTags::Metrics")]
    async fn metrics(&self) -> Result<MetricsResponse, MetricsProblem> {
        if self.metrics.is_enabled() {
            let ready = self.health.readiness_problem().await.is_none();
            self.metrics.record(|| {
                metrics::describe_gauge!(READY, "1 when /readyz would answer 200, else 0");
                metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
            });
        }
        match self.metrics.render() {
            Some(text) => Ok(MetricsResponse::Metrics(PlainText(text))),
            None => Err(MetricsProblem::NotFound(Json(Problem::new(
                StatusCode::NOT_FOUND,
                "metrics are turned off (METRICS_ENABLED=false)",
            )))),
        }
    }
}

/// The route label of a request's path: the documented pattern it matches, the
/// document, the docs page, or [`UNMATCHED_ROUTE`].
pub fn route_of(documented: PathPatterns<SharedString>) -> RouteOf {
    Arc::new(move |path: &str| {
        if let Some(route) = documented.find(path) {
            return route.clone();
        }
        match path {
            "/openapi.json" => SharedString::from("/openapi.json"),
            "/docs" => SharedString::from("/docs"),
            _ if path.starts_with("/docs/") => SharedString::from("/docs"),
            _ => SharedString::from(UNMATCHED_ROUTE),
        }
    })
}
