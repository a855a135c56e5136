//! The one way tests talk HTTP to the service, in this process or in another: the
//! HTTP clients, raw sockets for what no client would send, and the check of a
//! problem answer.

use std::time::Duration;

use reqwest::{Client, Response};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A client that never goes through a proxy (the service is on loopback).
pub fn http() -> Client {
    Client::builder().no_proxy().build().expect("http client")
}

/// [`http`], with a bound on every request: a stalled server fails the test instead
/// of hanging it.
pub fn http_within(timeout: Duration) -> Client {
    Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("http client")
}

/// A plain HTTP/1.0 GET over a socket: keeps synchronous tests free of a runtime.
pub fn blocking_get(port: u16, path: &str) -> String {
    blocking_get_with(port, path, &[])
}

/// [`blocking_get`] with more headers.
pub fn blocking_get_with(port: u16, path: &str, headers: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\n{extra}\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A raw connection to the service at `address` (`http://HOST:PORT`).
pub async fn connect(address: &str) -> TcpStream {
    TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Asserts an RFC 9457 problem response with `status`, and returns its body.
/// Its `request_id` is the response's `X-Request-Id`.
pub async fn assert_problem(response: Response, status: u16, context: &str) -> Value {
    assert_eq!(response.status(), status, "{context}");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{context}");
    let body: Value = response.json().await.expect("problem JSON");
    assert!(!request_id.is_empty(), "{context}: no X-Request-Id");
    assert_eq!(body["request_id"], request_id, "{context}: {body}");
    assert_eq!(body["status"], status, "{context}: {body}");
    assert_eq!(body["type"], "about:blank", "{context}: {body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{context}: {body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{context}: {body}"
    );
    body
}

/// What the server sends on a raw connection until `done` says so of all read so far
/// or the connection closes, or what came before `within` ran out (then `ended` is
/// false).
pub async fn read_until(
    stream: &mut TcpStream,
    within: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut chunk = vec![0u8; 64 * 1024];
    while !done(&got) {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Err(_) => return (got, false),
        }
    }
    (got, true)
}

/// Everything the server sends until it closes the connection, or what came before
/// `within` ran out (then `closed` is false).
pub async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let (got, closed) = read_until(stream, within, |_| false).await;
    (String::from_utf8_lossy(&got).into_owned(), closed)
}
