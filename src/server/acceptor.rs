//! The connection cap: at most `MAX_CONNECTIONS` open; one past it is answered 503
//! and closed. It lives in an acceptor wrapper, which also puts the header-read and
//! idle deadlines (`deadlines`) on every connection it lets in, so one mechanism
//! covers every phase of a connection and tests can drive it with raw sockets.
//!
//! The count of open connections and of refusals is here: a metric of either would
//! read these counters.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use poem::http::StatusCode;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::deadlines::GuardedIo;
use super::metrics::{Metrics, Rejection};
use crate::configuration::ConnectionLimits;

/// How long a refused connection is given to send its request, then to read the 503.
const REQUEST_GRACE: Duration = Duration::from_millis(200);
const REFUSAL_BUDGET: Duration = Duration::from_secs(1);
/// Refusals being answered at once (each a small task for at most 1.2 s); past it a
/// connection is closed without an answer.
const REFUSALS_AT_ONCE: usize = 1024;

/// What a connection past the cap is told: a whole HTTP/1.1 response, written as is.
/// The server decides the status and says why; the body's format is the caller's
/// (the server knows none of the app's), rendered once, when the server is built.
#[derive(Clone)]
pub struct Refusal(Bytes);

impl Refusal {
    const STATUS: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
    const RETRY_AFTER_SECS: u64 = 1;
    const DETAIL: &str = "too many open connections; retry after 1 s";

    /// `render(status, detail)` returns the body's content type and the body.
    pub fn render(render: impl FnOnce(StatusCode, &str) -> (&'static str, String)) -> Self {
        let (content_type, body) = render(Self::STATUS, Self::DETAIL);
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\nretry-after: {}\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n",
            Self::STATUS.as_u16(),
            Self::STATUS.canonical_reason().unwrap_or_default(),
            Self::RETRY_AFTER_SECS,
            body.len()
        );
        Self(Bytes::from(head + &body))
    }
}

/// An acceptor that keeps at most `max_connections` connections open and puts the
/// header-read and idle deadlines on each.
pub struct LimitedAcceptor<A> {
    inner: A,
    limits: ConnectionLimits,
    refusal: Refusal,
    open: Arc<AtomicUsize>,
    /// Refusals being written; bounded too, so a connection flood costs nothing.
    refusing: Arc<AtomicUsize>,
    metrics: Metrics,
}

impl<A: Acceptor> LimitedAcceptor<A> {
    pub fn new(inner: A, limits: ConnectionLimits, refusal: Refusal, metrics: Metrics) -> Self {
        Self {
            inner,
            limits,
            refusal,
            open: Arc::new(AtomicUsize::new(0)),
            refusing: Arc::new(AtomicUsize::new(0)),
            metrics,
        }
    }

    /// The count of open connections, for the metrics to read.
    pub fn open_connections(&self) -> Arc<AtomicUsize> {
        self.open.clone()
    }
}

impl<A: Acceptor> Acceptor for LimitedAcceptor<A> {
    type Io = GuardedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    // Cancel-safe, as the server loop needs: nothing is awaited after the inner
    // accept returns.
    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        loop {
            let (io, local, remote, scheme) = self.inner.accept().await?;
            let slot = Slot::take(&self.open);
            if slot.held <= self.limits.max_connections {
                return Ok((GuardedIo::new(io, slot, self.limits), local, remote, scheme));
            }
            drop(slot);
            self.metrics.reject(Rejection::ConnectionLimit);
            refuse(io, &self.refusing, &self.refusal);
        }
    }
}

/// One open connection in the count, given back when dropped.
pub(super) struct Slot {
    open: Arc<AtomicUsize>,
    /// The count including this one.
    held: usize,
}

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Self {
        let held = open.fetch_add(1, Ordering::AcqRel) + 1;
        Self {
            open: open.clone(),
            held,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Past the connection cap: read what the client sent (closing on unread data would
/// reset the connection before it sees the answer), answer and close.
fn refuse<Io>(mut io: Io, refusing: &Arc<AtomicUsize>, refusal: &Refusal)
where
    Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let slot = Slot::take(refusing);
    if slot.held > REFUSALS_AT_ONCE {
        return; // dropping `io` closes it
    }
    let answer = refusal.0.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let mut request = [0u8; 4096];
        // A client that sends nothing still gets its answer after the grace.
        let _ = tokio::time::timeout(REQUEST_GRACE, io.read(&mut request)).await;
        let _ = tokio::time::timeout(REFUSAL_BUDGET, async {
            io.write_all(&answer).await?;
            io.shutdown().await
        })
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_a_whole_response_around_the_callers_body() {
        let refusal = Refusal::render(|status, detail| {
            ("text/plain", format!("{} {detail}", status.as_u16()))
        });
        let text = String::from_utf8(refusal.0.to_vec()).unwrap();
        let body = "503 too many open connections; retry after 1 s";
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
                 retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        );
    }
}
