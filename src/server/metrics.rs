//! The metrics registry, and what the server itself measures: every request that
//! reaches the endpoint (method, route pattern, status, duration), the requests in
//! progress, and what is refused, with its reason, wherever it is refused (the
//! connection cap, hyper's own 431 and 400, the routes' 503, 408, 413 and 415).
//!
//! The registry is `metrics-exporter-prometheus`'s recorder, one per app (tests run
//! several apps in one process, so nothing is installed globally): code records
//! through [`Metrics::record`], which makes it the `metrics` macros' recorder for
//! the call. Gauges read from elsewhere (pools, permits, connections) are set by
//! hooks run at each scrape, so nothing is paid for them between scrapes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics::{Gauge, SharedString, counter, describe_counter, describe_gauge, gauge, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use poem::http::{Method, StatusCode};

/// The OpenTelemetry HTTP server metrics, as exported to Prometheus.
pub const REQUEST_DURATION: &str = "http_server_request_duration_seconds";
pub const ACTIVE_REQUESTS: &str = "http_server_active_requests";
/// What the service refused because of one of its bounds, by reason.
pub const REJECTIONS: &str = "tasks_backend_rejections_total";
const BUILD_INFO: &str = "tasks_backend_build_info";

/// OpenTelemetry's advice for `http.server.request.duration`: 5 ms to 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The route label of every path that matches no route: a client can make up any
/// number of paths, never a series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The revision the binary was built from (the images' build passes it); `unknown`
/// for a build outside git.
const REVISION: &str = match option_env!("TASKS_BACKEND_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};

/// Why a request or a connection was refused. The routes put it in a response's
/// extensions; the server counts it when the response leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Past `MAX_CONNECTIONS`: 503 and closed, before any request.
    ConnectionLimit,
    /// Past `MAX_IN_FLIGHT_REQUESTS`: 503.
    InFlightRequests,
    /// Past `MAX_IN_FLIGHT_LISTS`: 503.
    InFlightLists,
    /// The body did not arrive within `BODY_READ_TIMEOUT_SECS`: 408.
    BodyTimeout,
    /// The answer was not ready within `REQUEST_TIMEOUT_SECS`: 503.
    RequestTimeout,
    /// A body over the limit: 413.
    BodyTooLarge,
    /// A body that is not JSON: 415.
    UnsupportedMediaType,
    /// A request head over the connection buffer: hyper's 431.
    HeaderTooLarge,
    /// A request head hyper cannot parse: hyper's 400.
    MalformedHead,
    /// The headers did not arrive within `HEADER_READ_TIMEOUT_SECS`: closed.
    HeaderTimeout,
}

impl Rejection {
    pub const ALL: [Self; 10] = [
        Self::ConnectionLimit,
        Self::InFlightRequests,
        Self::InFlightLists,
        Self::BodyTimeout,
        Self::RequestTimeout,
        Self::BodyTooLarge,
        Self::UnsupportedMediaType,
        Self::HeaderTooLarge,
        Self::MalformedHead,
        Self::HeaderTimeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionLimit => "connection_limit",
            Self::InFlightRequests => "in_flight_requests",
            Self::InFlightLists => "in_flight_lists",
            Self::BodyTimeout => "body_timeout",
            Self::RequestTimeout => "request_timeout",
            Self::BodyTooLarge => "body_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::HeaderTooLarge => "header_too_large",
            Self::MalformedHead => "malformed_head",
            Self::HeaderTimeout => "header_timeout",
        }
    }
}

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

/// The app's registry; cheap to clone. Disabled (`METRICS_ENABLED=false`), it
/// records nothing and renders nothing.
#[derive(Clone)]
pub struct Metrics {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    process: metrics_process::Collector,
    hooks: Mutex<Vec<ScrapeHook>>,
    /// [`ACTIVE_REQUESTS`] of each method label, registered once: a request then
    /// pays no look-up for it (`bench/metrics-cost.sh`).
    active: Vec<(&'static str, Gauge)>,
}

impl Metrics {
    pub fn new(enabled: bool) -> Self {
        if !enabled {
            return Self { inner: None };
        }
        // The buckets are a non-empty constant, the builder's only error: the
        // fallback (summaries) cannot happen.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_DURATION.to_owned()),
                &DURATION_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let active = metrics::with_local_recorder(&recorder, || {
            METHOD_LABELS
                .iter()
                .map(|&method| {
                    (
                        method,
                        gauge!(ACTIVE_REQUESTS, "http_request_method" => method),
                    )
                })
                .collect()
        });
        let metrics = Self {
            inner: Some(Arc::new(Inner {
                handle: recorder.handle(),
                recorder,
                process: metrics_process::Collector::default(),
                hooks: Mutex::new(Vec::new()),
                active,
            })),
        };
        metrics.record(|| {
            describe();
            if let Some(inner) = &metrics.inner {
                inner.process.describe();
            }
        });
        metrics
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Runs `f` with this registry as the `metrics` macros' recorder; nothing when
    /// disabled.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        let inner = self.inner.as_ref()?;
        Some(metrics::with_local_recorder(&inner.recorder, f))
    }

    /// `hook` sets gauges from what it reads, at every scrape (it records through
    /// the macros, like [`Metrics::record`]).
    pub fn on_scrape(&self, hook: impl Fn() + Send + Sync + 'static) {
        if let Some(inner) = &self.inner {
            inner
                .hooks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Box::new(hook));
        }
    }

    /// The Prometheus text format (0.0.4), after the hooks and the process
    /// collector have run; `None` when disabled.
    pub fn render(&self) -> Option<String> {
        let inner = self.inner.as_ref()?;
        metrics::with_local_recorder(&inner.recorder, || {
            inner.process.collect();
            for hook in inner
                .hooks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
            {
                hook();
            }
        });
        Some(inner.handle.render())
    }

    /// Folds the histogram samples recorded since the last scrape into their
    /// buckets: without it, a replica nobody scrapes would keep every sample.
    pub(super) fn upkeep(&self) {
        if let Some(inner) = &self.inner {
            inner.handle.run_upkeep();
        }
    }

    pub fn reject(&self, reason: Rejection) {
        self.record(|| counter!(REJECTIONS, "reason" => reason.as_str()).increment(1));
    }

    /// A request has started: counted in [`ACTIVE_REQUESTS`] until the guard drops.
    pub(super) fn request_started(&self, method: &'static str) -> Option<ActiveRequest> {
        let (_, gauge) = self
            .inner
            .as_ref()?
            .active
            .iter()
            .find(|(label, _)| *label == method)?;
        gauge.increment(1.0);
        Some(ActiveRequest(gauge.clone()))
    }

    pub(super) fn request_done(
        &self,
        method: &'static str,
        route: SharedString,
        status: StatusCode,
        took: Duration,
    ) {
        self.record(|| {
            histogram!(
                REQUEST_DURATION,
                "http_request_method" => method,
                "http_route" => route,
                "http_response_status_code" => status_label(status),
            )
            .record(took.as_secs_f64());
        });
    }
}

/// One request in [`ACTIVE_REQUESTS`].
pub(super) struct ActiveRequest(Gauge);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Every value the method label takes.
const METHOD_LABELS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "_OTHER",
];

/// The status label; the statuses the service answers are static strings, so a
/// request allocates none (`bench/metrics-cost.sh`).
fn status_label(status: StatusCode) -> SharedString {
    const COMMON: [(u16, &str); 14] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (400, "400"),
        (404, "404"),
        (405, "405"),
        (408, "408"),
        (413, "413"),
        (415, "415"),
        (431, "431"),
        (500, "500"),
        (503, "503"),
        (304, "304"),
        (206, "206"),
    ];
    let code = status.as_u16();
    COMMON
        .iter()
        .find(|(common, _)| *common == code)
        .map_or_else(
            || SharedString::from(code.to_string()),
            |(_, label)| SharedString::const_str(label),
        )
}

/// OpenTelemetry's rule: the known methods by name, any other as `_OTHER`, so a
/// client cannot make a series with a method of its own.
pub(super) fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("_OTHER", Method::as_str)
}

fn describe() {
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Duration of HTTP server requests that reached the service, until the response head"
    );
    describe_gauge!(ACTIVE_REQUESTS, "HTTP server requests in progress");
    describe_counter!(
        REJECTIONS,
        "Requests and connections refused by one of the service's bounds, by reason"
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version and revision of this build"
    );
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "revision" => REVISION).set(1.0);
    // Every reason is listed from the start, so a rate over it never lacks a series.
    for reason in Rejection::ALL {
        counter!(REJECTIONS, "reason" => reason.as_str()).absolute(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let cases = [
            (Method::GET, "GET"),
            (Method::DELETE, "DELETE"),
            (Method::from_bytes(b"BREW").unwrap(), "_OTHER"),
        ];
        for (method, want) in cases {
            assert_eq!(method_label(&method), want, "label of {method}");
        }
    }

    #[test]
    fn status_labels_are_the_codes() {
        for code in [200, 206, 404, 418, 503, 599] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_label(status).as_ref(), code.to_string(), "{code}");
        }
    }

    #[test]
    fn every_method_label_has_its_active_gauge() {
        let metrics = Metrics::new(true);
        for method in [
            Method::GET,
            Method::CONNECT,
            Method::from_bytes(b"BREW").unwrap(),
        ] {
            let label = method_label(&method);
            assert!(metrics.request_started(label).is_some(), "{label}");
        }
    }

    #[test]
    fn a_disabled_registry_renders_nothing() {
        let metrics = Metrics::new(false);
        metrics.reject(Rejection::BodyTimeout);
        assert!(metrics.render().is_none());
    }

    #[test]
    fn the_duration_is_a_histogram_with_the_advised_buckets() {
        let metrics = Metrics::new(true);
        metrics.request_done("GET", "/x".into(), StatusCode::OK, Duration::from_millis(7));
        let text = metrics.render().unwrap();
        assert!(
            text.contains(&format!("# TYPE {REQUEST_DURATION} histogram")),
            "{text}"
        );
        let bucket = format!(
            "{REQUEST_DURATION}_bucket{{http_request_method=\"GET\",http_route=\"/x\",\
             http_response_status_code=\"200\",le=\"0.01\"}} 1"
        );
        assert!(text.contains(&bucket), "{bucket} not in\n{text}");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        assert!(text.contains("tasks_backend_build_info{"), "{text}");
    }
}
