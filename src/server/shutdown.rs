//! A stop, in order: a signal (or the caller's future) asks for it; `/readyz` turns
//! 503 and the server keeps serving for the drain, so load balancers move traffic
//! away; then it stops accepting and gives open connections the shutdown timeout to
//! finish what they are serving; past it, it cuts the ones still open, so nothing
//! is served after the caller closes the database.

use std::future::Future;
use std::time::Duration;

use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

use super::Readiness;
use super::deadlines::HeaderDeadline;
use super::metrics::{Metrics, Rejection};

/// SIGTERM (what `docker stop` sends) and SIGINT (Ctrl-C) both ask for a graceful
/// stop. The handlers are installed when this is created, not when it is first
/// awaited: a signal that arrives during start-up must not kill the process uncleanly.
pub struct ShutdownSignal {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignal {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the next SIGTERM or SIGINT.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = self.interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
        }
    }
}

/// hyper's own answers (431, 400) and the header deadline, from how a connection
/// ended.
fn refused_by(err: &hyper::Error) -> Option<Rejection> {
    if err.is_parse_too_large() {
        Some(Rejection::HeaderTooLarge)
    } else if err.is_parse() {
        Some(Rejection::MalformedHead)
    } else if HeaderDeadline::caused(err) {
        Some(Rejection::HeaderTimeout)
    } else {
        None
    }
}

/// Resolves when the server should stop accepting: `stop`, then the drain.
pub(super) async fn drained(stop: impl Future<Output = ()>, readiness: Readiness, drain: Duration) {
    stop.await;
    readiness.start_draining();
    if !drain.is_zero() {
        tracing::info!(
            drain_secs = drain.as_secs(),
            "draining: /readyz answers 503, still serving"
        );
        tokio::time::sleep(drain).await;
    }
}

/// The open connections, as far as a stop is concerned: each can be asked to finish
/// its request and close, and each is cut when the grace is over.
pub(super) struct OpenConnections {
    graceful: GracefulShutdown,
    close_all: watch::Sender<bool>,
}

impl OpenConnections {
    pub(super) fn new() -> Self {
        Self {
            graceful: GracefulShutdown::new(),
            close_all: watch::Sender::new(false),
        }
    }

    /// Serves `connection` on a task of its own until it ends or is cut; counts
    /// what hyper refused on it.
    pub(super) fn spawn<C>(&self, connection: C, metrics: &Metrics)
    where
        C: GracefulConnection<Error = hyper::Error> + Send + 'static,
    {
        let metrics = metrics.clone();
        let connection = self.graceful.watch(connection);
        let mut closing = self.close_all.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                served = connection => {
                    // A client that goes away mid-request is routine, not an error.
                    if let Err(err) = served {
                        tracing::debug!(error = %err, "connection ended with an error");
                        if let Some(reason) = refused_by(&err) {
                            metrics.reject(reason);
                        }
                    }
                }
                _ = closing.wait_for(|closing| *closing) => {}
            }
        });
    }

    /// Lets every connection finish the request it is serving (idle ones close at
    /// once) for up to `timeout`; then closes the ones still open.
    pub(super) async fn finish(self, timeout: Duration) {
        if tokio::time::timeout(timeout, self.graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_secs = timeout.as_secs(),
                "shutdown timeout passed; closing the connections still open"
            );
            self.close_all.send_replace(true);
            // Let the connection tasks see it and drop their sockets.
            tokio::task::yield_now().await;
        }
    }
}
