//! Bytes that are not HTTP, or not HTTP hyper will take: 400 from hyper, bare.

use super::{Case, Expect, raw_request, refuse_all};
use crate::harness::TestApp;

pub fn cases() -> Vec<Case> {
    let json_ct = b"Content-Type: application/json\r\n".as_slice();
    vec![
        // Bytes that are not HTTP.
        Case::raw(
            "a request line that is not HTTP",
            b"GARBAGE\r\n\r\n".to_vec(),
            Expect::Bare(400),
        ),
        Case::raw(
            "an unknown HTTP version",
            b"GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            Expect::Bare(400),
        ),
        Case::raw(
            "a raw non-ASCII byte in the target",
            raw_request(b"GET /api/tasks/\xff HTTP/1.1", b"", b""),
            Expect::Bare(400),
        ),
        Case::raw(
            "a control byte in a header value",
            raw_request(b"GET /health HTTP/1.1", b"X-Bad: a\x01b\r\n", b""),
            Expect::Bare(400),
        ),
        Case::raw(
            "a Content-Length that is not a number",
            raw_request(
                b"POST /api/tasks HTTP/1.1",
                &[json_ct, b"Content-Length: abc\r\n"].concat(),
                br#"{"title": "a"}"#,
            ),
            Expect::Bare(400),
        ),
        Case::raw(
            "two different Content-Lengths",
            raw_request(
                b"POST /api/tasks HTTP/1.1",
                &[json_ct, b"Content-Length: 14\r\nContent-Length: 15\r\n"].concat(),
                br#"{"title": "a"} "#,
            ),
            Expect::Bare(400),
        ),
        Case::raw(
            "an unknown Transfer-Encoding",
            raw_request(
                b"POST /api/tasks HTTP/1.1",
                &[json_ct, b"Transfer-Encoding: gzip\r\n"].concat(),
                br#"{"title": "a"}"#,
            ),
            Expect::Bare(400),
        ),
    ]
}

async fn bytes_that_are_not_http_get_400_and_change_nothing(app: &TestApp) {
    refuse_all(app, "bytes that are not HTTP", cases()).await;
}

crate::api_tests!(bytes_that_are_not_http_get_400_and_change_nothing);
