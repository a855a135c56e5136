//! Bounds on what clients can hold at the connection level: how many connections are
//! open, how long a request's headers may take to arrive, how long a keep-alive
//! connection may sit idle. They live in an acceptor wrapper, so one mechanism covers
//! every phase of a connection and tests can drive it with raw sockets.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use poem_openapi::types::ToJSON;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::configuration::LimitSettings;
use crate::routes::Problem;

/// How long a refused connection is given to send its request, then to read the 503.
const REQUEST_GRACE: Duration = Duration::from_millis(200);
const REFUSAL_BUDGET: Duration = Duration::from_secs(1);
/// Refusals being answered at once (each a small task for at most 1.2 s); past it a
/// connection is closed without an answer.
const REFUSALS_AT_ONCE: usize = 1024;

/// An acceptor that keeps at most `max_connections` connections open and puts the
/// header-read and idle deadlines on each.
pub struct LimitedAcceptor<A> {
    inner: A,
    limits: Limits,
    open: Arc<AtomicUsize>,
    /// Refusals being written; bounded too, so a connection flood costs nothing.
    refusing: Arc<AtomicUsize>,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_connections: usize,
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

impl<A: Acceptor> LimitedAcceptor<A> {
    pub fn new(inner: A, settings: &LimitSettings) -> Self {
        Self {
            inner,
            limits: Limits {
                max_connections: settings.max_connections,
                header_read_timeout: settings.header_read_timeout,
                idle_timeout: settings.idle_timeout,
            },
            open: Arc::new(AtomicUsize::new(0)),
            refusing: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl<A: Acceptor> Acceptor for LimitedAcceptor<A> {
    type Io = GuardedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    // Cancel-safe, as poem's server loop needs: nothing is awaited after the inner
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
            refuse(io, &self.refusing);
        }
    }
}

/// One open connection in the count, given back when dropped.
struct Slot {
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
/// reset the connection before it sees the answer), answer 503 and close.
fn refuse<Io>(mut io: Io, refusing: &Arc<AtomicUsize>)
where
    Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let slot = Slot::take(refusing);
    if slot.held > REFUSALS_AT_ONCE {
        return; // dropping `io` closes it
    }
    tokio::spawn(async move {
        let _slot = slot;
        let mut request = [0u8; 4096];
        // A client that sends nothing still gets its answer after the grace.
        let _ = tokio::time::timeout(REQUEST_GRACE, io.read(&mut request)).await;
        let _ = tokio::time::timeout(REFUSAL_BUDGET, async {
            io.write_all(refusal_response().as_bytes()).await?;
            io.shutdown().await
        })
        .await;
    });
}

fn refusal_response() -> String {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let problem = Problem::new(status, "too many open connections; retry after 1 s");
    let body = problem.to_json_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {}\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        crate::routes::PROBLEM_CONTENT_TYPE,
        body.len()
    )
}

/// Where a connection stands, as far as its bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests (or fresh): the idle deadline runs.
    Idle,
    /// A request has started: its headers must end before the header deadline.
    Headers,
    /// Headers done: the body deadline is the request layer's, and the handler may take
    /// its time, so no deadline here until the response is written.
    Handling,
}

/// A connection with deadlines: reading fails with `TimedOut` once one passes, which
/// makes hyper close the connection.
pub struct GuardedIo<Io> {
    inner: Io,
    _slot: Slot,
    limits: Limits,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    /// The last two bytes read, to find the blank line that ends the headers.
    tail: [u8; 2],
}

impl<Io> GuardedIo<Io> {
    fn new(inner: Io, slot: Slot, limits: Limits) -> Self {
        Self {
            inner,
            _slot: slot,
            limits,
            // A client that connects and sends nothing is a stalled request.
            phase: Phase::Headers,
            deadline: Box::pin(tokio::time::sleep(limits.header_read_timeout)),
            tail: [0, 0],
        }
    }

    fn set_deadline(&mut self, after: Duration) {
        self.deadline.as_mut().reset(Instant::now() + after);
    }

    fn saw_read(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Idle {
            self.phase = Phase::Headers;
            self.tail = [0, 0];
            self.set_deadline(self.limits.header_read_timeout);
        }
        if self.phase != Phase::Headers {
            return;
        }
        for &b in bytes {
            // The headers end at an empty line: CRLF CRLF, or bare LF LF, which
            // hyper accepts too.
            if b == b'\n' && (self.tail[1] == b'\n' || self.tail == *b"\n\r") {
                self.phase = Phase::Handling;
                return;
            }
            self.tail = [self.tail[1], b];
        }
    }

    fn saw_write(&mut self) {
        if self.phase == Phase::Handling || self.phase == Phase::Idle {
            self.phase = Phase::Idle;
            self.set_deadline(self.limits.idle_timeout);
        }
    }

    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        matches!(self.phase, Phase::Idle | Phase::Headers)
            && self.deadline.as_mut().poll(cx).is_ready()
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for GuardedIo<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.timed_out(cx) {
            let what = match this.phase {
                Phase::Headers => "request headers did not arrive in time",
                _ => "keep-alive connection idle for too long",
            };
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            this.saw_read(new);
        }
        Poll::Ready(Ok(()))
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for GuardedIo<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        if written > 0 {
            this.saw_write();
        }
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        if written > 0 {
            this.saw_write();
        }
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
