//! hyper on one connection, driven directly, in front of the endpoint.
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
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::server::conn::http1;
use hyper::service::Service;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, Request, Response};

use super::Observe;
use super::metrics::{Rejection, method_label};

/// What hyper may buffer per connection: the request head must fit (a larger one gets
/// 431), and a response is written once this much of it is queued. hyper's minimum
/// is 8 KiB; its default (about 400 KiB) times every open connection would be most
/// of the memory budget.
pub const MAX_BUF_BYTES: usize = 32 * 1024;

type HyperResponse = hyper::Response<BoxBody<Bytes, std::io::Error>>;

/// The HTTP/1.1 settings of every connection.
pub(super) fn builder() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .max_buf_size(MAX_BUF_BYTES)
        // The buffer bounds a head that arrives in pieces; this one a head that
        // arrives in one read.
        .max_header_size(MAX_BUF_BYTES)
        .writev(true)
        .keep_alive(true);
    builder
}

/// Hands each request of one connection to `endpoint`, with the connection's
/// addresses, as poem's own server would, and measures it: every answer the
/// endpoint gives is counted here, whichever layer of the app gave it.
pub(super) fn service<E: Endpoint<Output = Response> + 'static>(
    endpoint: Arc<E>,
    observe: Observe,
    local: LocalAddr,
    remote: RemoteAddr,
    scheme: Scheme,
) -> impl Service<
    hyper::Request<hyper::body::Incoming>,
    Response = HyperResponse,
    Error = Infallible,
    Future = impl Future<Output = Result<HyperResponse, Infallible>> + Send,
> + Send
+ 'static {
    hyper::service::service_fn(move |req| {
        let endpoint = endpoint.clone();
        let observe = observe.clone();
        let req = Request::from((req, local.clone(), remote.clone(), scheme.clone()));
        async move {
            let measured = observe.metrics.is_enabled().then(|| {
                let method = method_label(req.method());
                let route = (observe.route_of)(req.uri().path());
                let active = observe.metrics.request_started(method);
                (method, route, Instant::now(), active)
            });
            let response = endpoint.get_response(req).await;
            if let Some((method, route, started, _active)) = measured {
                if let Some(reason) = response.extensions().get::<Rejection>() {
                    observe.metrics.reject(*reason);
                }
                let took = started.elapsed();
                observe
                    .metrics
                    .request_done(method, route, response.status(), took);
            }
            Ok::<_, Infallible>(HyperResponse::from(response))
        }
    })
}
