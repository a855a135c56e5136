//! The server: the transport under the HTTP application. It listens, accepts at most
//! `MAX_CONNECTIONS` connections with header and idle deadlines on each, drives hyper
//! on them in front of an endpoint it knows nothing about, and stops in order.
//!
//! - `acceptor`: the connection cap, and what a connection past it is told;
//! - `deadlines`: the header-read and idle deadlines of one connection;
//! - `connection`: hyper's settings ([`MAX_BUF_BYTES`]) and the request hand-over;
//! - `shutdown`: signals, the drain, the grace for open connections, the cut;
//! - `readiness`: the flag a stop flips and `/readyz` reads.
//!
//! It never imports the routes: the endpoint, and the body of the refusal it writes
//! past the connection cap, are handed to it. Counters of what happens at this level
//! (connections open, refused at the cap, cut at shutdown; readiness) belong here,
//! beside what they count, for an endpoint to read.

mod acceptor;
mod connection;
mod deadlines;
mod readiness;
mod shutdown;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use poem::listener::{Acceptor, Listener as _, TcpAcceptor, TcpListener};
use poem::{EndpointExt, IntoEndpoint};

pub use acceptor::Refusal;
pub use connection::MAX_BUF_BYTES;
pub use readiness::Readiness;
pub use shutdown::ShutdownSignal;

use acceptor::LimitedAcceptor;
use connection::SharedEndpoint;
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

/// Everything needed to serve, put together; [`Server::run`] serves.
pub struct Server {
    acceptor: LimitedAcceptor<TcpAcceptor>,
    addr: SocketAddr,
    endpoint: SharedEndpoint,
    readiness: Readiness,
    shutdown: ShutdownSettings,
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
    ) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        Self {
            acceptor: LimitedAcceptor::new(listener.acceptor, limits, refusal),
            addr: listener.addr,
            endpoint: Arc::new(endpoint.into_endpoint().map_to_response().boxed()),
            readiness,
            shutdown,
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
        let Self {
            mut acceptor,
            endpoint,
            readiness,
            shutdown,
            ..
        } = self;
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
                    let service = connection::service(endpoint.clone(), local, remote, scheme);
                    open.spawn(http1.serve_connection(TokioIo::new(io), service));
                }
            }
        }
        drop(acceptor);
        open.finish(shutdown.timeout).await;
        Ok(())
    }
}
