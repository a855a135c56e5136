//! The HTTP/1.1 server loop: hyper, driven directly, in front of the poem endpoint.
//!
//! poem's own `Server` hides the socket from hyper behind a box that does not say it
//! can write vectored, so hyper copies every response body into one buffer per
//! connection and keeps that buffer's capacity for as long as the connection lives:
//! one 5 MB list left 5 MB behind on every keep-alive connection that ever fetched
//! one (issue 13). Here hyper sees the real socket, queues body chunks without copying
//! them and buffers at most [`MAX_BUF_BYTES`] per connection in each direction.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use poem::listener::Acceptor;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Request};

/// What hyper may buffer per connection: the request head must fit (a larger one gets
/// 431), and a response is written once this much of it is queued. hyper's minimum
/// is 8 KiB; its default (about 400 KiB) times every open connection would be most
/// of the memory budget.
pub const MAX_BUF_BYTES: usize = 32 * 1024;

/// Serves `endpoint` on every connection `acceptor` hands out until `shutdown`
/// resolves; then stops accepting and gives the open connections up to `timeout` to
/// finish the request each is serving (idle ones close at once).
pub async fn serve<A, E>(
    mut acceptor: A,
    endpoint: E,
    shutdown: impl Future<Output = ()> + Send,
    timeout: Duration,
) -> std::io::Result<()>
where
    A: Acceptor,
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let endpoint = Arc::new(endpoint.into_endpoint().map_to_response());
    let graceful = GracefulShutdown::new();
    // Past the shutdown timeout, every connection still open is dropped (closed)
    // before the caller closes the database under it.
    let (close_all, closing) = tokio::sync::watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .max_buf_size(MAX_BUF_BYTES)
        // The buffer bounds a head that arrives in pieces; this one a head that
        // arrives in one read.
        .max_header_size(MAX_BUF_BYTES)
        .writev(true)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
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
                let endpoint = endpoint.clone();
                let service = hyper::service::service_fn(move |req| {
                    let endpoint = endpoint.clone();
                    let req = Request::from((req, local.clone(), remote.clone(), scheme.clone()));
                    async move {
                        let response = endpoint.get_response(req).await;
                        Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, std::io::Error>>::from(response))
                    }
                });
                let connection = graceful.watch(builder.serve_connection(TokioIo::new(io), service));
                let mut closing = closing.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        served = connection => {
                            // A client that goes away mid-request is routine, not an error.
                            if let Err(err) = served {
                                tracing::debug!(error = %err, "connection ended with an error");
                            }
                        }
                        _ = closing.wait_for(|closing| *closing) => {}
                    }
                });
            }
        }
    }
    drop(acceptor);
    if tokio::time::timeout(timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_secs = timeout.as_secs(),
            "shutdown timeout passed; closing the connections still open"
        );
        let _ = close_all.send(true);
        // Let the connection tasks see it and drop their sockets.
        tokio::task::yield_now().await;
    }
    Ok(())
}
