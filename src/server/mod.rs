//! The server: the transport under the HTTP application. It listens, accepts at most
//! `MAX_CONNECTIONS` connections with header and idle deadlines on each, drives hyper
//! on them in front of an endpoint it knows nothing about, and stops in order.
//!
//! - `acceptor`: the connection cap, and what a connection past it is told;
//! - `deadlines`: the header-read and idle deadlines of one connection;
//! - `connection`: hyper's settings ([`MAX_BUF_BYTES`]) and the request hand-over;
//! - `shutdown`: signals, the drain, the grace for open connections, the cut;
//! - `readiness`: the flag a stop flips and `/readyz` reads;
//! - `metrics`: the registry, and what the server measures of every request and
//!   every refusal.
//!
//! It never imports the routes: the endpoint, and the body of the refusal it writes
//! past the connection cap, are handed to it. Counters of what happens at this level
//! (connections open, refused at the cap, cut at shutdown; readiness) belong here,
//! beside what they count, for an endpoint to read.

mod acceptor;
mod connection;
mod deadlines;
mod metrics;
mod readiness;
mod shutdown;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use poem::listener::{Acceptor, Listener as _, TcpAcceptor, TcpListener};
use poem::{Endpoint, EndpointExt, IntoEndpoint};

pub use acceptor::Refusal;
pub use connection::MAX_BUF_BYTES;
pub use metrics::{Metrics, REJECTIONS, REQUEST_DURATION, Rejection, UNMATCHED_ROUTE};
pub use readiness::Readiness;
pub use shutdown::ShutdownSignal;

use acceptor::LimitedAcceptor;
use shutdown::OpenConnections;

use crate::configuration::{ConnectionLimits, ShutdownSettings};

/// A bound socket, not yet accepting: binding comes first so that the port is known
/// (port 0 picks a free one) before anything is served.
pub struct Listener {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
}

impl Listener {
    pub async fn bind(wanted: SocketAddr) -> io::Result<Self> {
        let acceptor = TcpListener::bind(wanted).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(wanted);
        Ok(Self { acceptor, addr })
    }

    /// The bound address: the real port when port 0 was asked for.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Names a request's route for the metrics, from its path: the pattern it matches
/// (`/api/tasks/{id}`) or [`UNMATCHED_ROUTE`]. The app knows its routes; the server
/// is handed this.
pub type RouteOf = Arc<dyn Fn(&str) -> ::metrics::SharedString + Send + Sync>;

/// What the server measures requests into, and how it names their routes.
#[derive(Clone)]
pub struct Observe {
    pub metrics: Metrics,
    pub route_of: RouteOf,
}

/// How often the histograms' samples are folded into their buckets between scrapes.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Everything needed to serve, put together; [`Server::run`] serves.
///
/// The endpoint's type is erased here, once per server (`Box<dyn Serve>`), not
/// per request: a `BoxEndpoint` boxed the whole app's future for every request,
/// a fresh heap block of its full size (about 16 KiB: every layer's future
/// holds the one inside it) copied in and freed again.
pub struct Server {
    addr: SocketAddr,
    serving: Box<dyn Serve>,
}

/// A future that stops the server.
type Stop<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What [`Server`] holds, its endpoint type erased.
trait Serve: Send {
    fn run<'a>(
        self: Box<Self>,
        stop: Stop<'a>,
    ) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>>;
}

struct Serving<E> {
    acceptor: LimitedAcceptor<TcpAcceptor>,
    endpoint: Arc<E>,
    readiness: Readiness,
    shutdown: ShutdownSettings,
    observe: Observe,
}

impl Server {
    /// `readiness` is the flag the stop flips; the caller hands the same one to
    /// whatever answers `/readyz`.
    pub fn new<E>(
        listener: Listener,
        endpoint: E,
        limits: ConnectionLimits,
        refusal: Refusal,
        readiness: Readiness,
        shutdown: ShutdownSettings,
        observe: Observe,
    ) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        let acceptor =
            LimitedAcceptor::new(listener.acceptor, limits, refusal, observe.metrics.clone());
        let open = acceptor.open_connections();
        observe.metrics.on_scrape(move || {
            ::metrics::gauge!("tasks_backend_connections_open")
                .set(open.load(Ordering::Relaxed) as f64);
            ::metrics::gauge!("tasks_backend_connections_max").set(limits.max_connections as f64);
        });
        observe.metrics.record(|| {
            ::metrics::describe_gauge!("tasks_backend_connections_open", "Open client connections");
            ::metrics::describe_gauge!(
                "tasks_backend_connections_max",
                "The bound on open connections (MAX_CONNECTIONS)"
            );
        });
        Self {
            addr: listener.addr,
            serving: Box::new(Serving {
                acceptor,
                endpoint: Arc::new(endpoint.into_endpoint().map_to_response()),
                readiness,
                shutdown,
                observe,
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves every connection until `stop` resolves; then `/readyz` answers 503
    /// while the server keeps serving for the drain, then it stops accepting and
    /// gives the open connections up to the shutdown timeout to finish the request
    /// each is serving (idle ones close at once), then cuts the rest.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) -> io::Result<()> {
        self.serving.run(Box::pin(stop)).await
    }
}

impl<E: Endpoint<Output = poem::Response> + 'static> Serve for Serving<E> {
    fn run<'a>(
        self: Box<Self>,
        stop: Stop<'a>,
    ) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>> {
        Box::pin(self.serve(stop))
    }
}

impl<E: Endpoint<Output = poem::Response> + 'static> Serving<E> {
    async fn serve(self: Box<Self>, stop: Stop<'_>) -> io::Result<()> {
        let Self {
            mut acceptor,
            endpoint,
            readiness,
            shutdown,
            observe,
        } = *self;
        let metrics = observe.metrics.clone();
        let upkeep = tokio::spawn(async move {
            let mut every = tokio::time::interval(METRICS_UPKEEP_EVERY);
            loop {
                every.tick().await;
                metrics.upkeep();
            }
        });
        let drained = shutdown::drained(stop, readiness, shutdown.drain);
        tokio::pin!(drained);
        let open = OpenConnections::new();
        let http1 = connection::builder();
        loop {
            tokio::select! {
                () = &mut drained => break,
                accepted = acceptor.accept() => {
                    let (io, local, remote, scheme) = match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            // Out of file descriptors, most likely: give them time to be
                            // given back instead of spinning on the error.
                            tracing::warn!(error = %err, "accepting a connection failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let service = connection::service(
                        endpoint.clone(),
                        observe.clone(),
                        local,
                        remote,
                        scheme,
                    );
                    open.spawn(http1.serve_connection(TokioIo::new(io), service), &observe.metrics);
                }
            }
        }
        drop(acceptor);
        open.finish(shutdown.timeout).await;
        upkeep.abort();
        Ok(())
    }
}
