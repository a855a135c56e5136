//! The header-read and idle deadlines on one connection: reading fails with
//! `TimedOut` once the one in force passes, which makes hyper close the connection.
//! The body deadline is not here: it is the routes' (a 408 needs an answer).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::acceptor::Slot;
use crate::configuration::ConnectionLimits;

/// The error a connection ends with when its headers were late: a type of its own,
/// so that the server can count it (an idle keep-alive closing is routine).
#[derive(Debug, thiserror::Error)]
#[error("request headers did not arrive in time")]
pub(super) struct HeaderDeadline;

impl HeaderDeadline {
    /// Did `err`, as hyper gives it back, come from this deadline?
    pub(super) fn caused(err: &hyper::Error) -> bool {
        std::error::Error::source(err)
            .and_then(|source| source.downcast_ref::<io::Error>())
            .and_then(io::Error::get_ref)
            .is_some_and(|inner| inner.is::<Self>())
    }
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
    /// This connection's place in the count of open ones.
    _slot: Slot,
    limits: ConnectionLimits,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    /// The last two bytes read, to find the blank line that ends the headers.
    tail: [u8; 2],
}

impl<Io> GuardedIo<Io> {
    pub(super) fn new(inner: Io, slot: Slot, limits: ConnectionLimits) -> Self {
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
            let err = match this.phase {
                Phase::Headers => io::Error::new(io::ErrorKind::TimedOut, HeaderDeadline),
                _ => io::Error::new(
                    io::ErrorKind::TimedOut,
                    "keep-alive connection idle for too long",
                ),
            };
            return Poll::Ready(Err(err));
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
