//! Request ids: a well-formed `X-Request-Id` is kept, any other replaced; the id
//! comes back on every response, in the problem body and in the request's log
//! lines, text and JSON. (`assert_problem` checks the problem's `request_id`
//! against the header in every test that gets a problem.)

use std::time::Duration;

use crate::harness::process::ServerProcess;
use crate::harness::{TestApp, assert_problem, spawn_sqlite};

const HEADER: &str = "x-request-id";

async fn get_with_id(app: &TestApp, path: &str, id: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(id) = id {
        request = request.header(HEADER, id);
    }
    request.send().await.expect("an answer")
}

fn id_of(response: &reqwest::Response) -> String {
    response.headers()[HEADER].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_well_formed_id_is_kept_and_sent_back() {
    let app = spawn_sqlite().await;
    for id in ["abc-123", "0f8c1d2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5", "lb.7_x"] {
        let ok = get_with_id(&app, "/health", Some(id)).await;
        assert_eq!(id_of(&ok), id, "on a 200");
        let missing = get_with_id(&app, "/api/tasks/999", Some(id)).await;
        assert_eq!(id_of(&missing), id, "on a 404");
        let body = assert_problem(missing, 404, id).await;
        assert_eq!(body["request_id"], id, "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_bad_or_missing_id_is_replaced_by_a_fresh_one() {
    let app = spawn_sqlite().await;
    let too_long = "x".repeat(65);
    let cases: [(Option<&str>, &str); 5] = [
        (None, "no header"),
        (Some(""), "empty"),
        (Some(too_long.as_str()), "65 characters"),
        (Some("has space"), "a space"),
        (Some("a\"quote"), "a quote"),
    ];
    let mut seen = Vec::new();
    for (sent, why) in cases {
        let response = get_with_id(&app, "/no/such/route", sent).await;
        let id = id_of(&response);
        assert!(Some(id.as_str()) != sent, "{why}: kept {id:?}");
        assert_eq!(id.len(), 36, "{why}: a UUID, got {id:?}");
        let body = assert_problem(response, 404, why).await;
        assert_eq!(body["request_id"], id.as_str(), "{why}");
        assert!(!seen.contains(&id), "{why}: {id} given twice");
        seen.push(id);
    }
    app.stop().await;
}

/// Every log line of a request carries its id: the request line here, in both formats.
#[test]
fn the_id_is_in_the_requests_log_lines_text_and_json() {
    for format in ["json", "text"] {
        let dir = tempfile::tempdir().unwrap();
        let mut server = ServerProcess::start_with(dir.path(), &[("LOG_FORMAT", format)]);
        let id = format!("log-check-{format}");
        let answer = crate::harness::client::blocking_get_with(
            server.port,
            "/api/tasks/7",
            &[(HEADER, id.as_str())],
        );
        assert!(answer.contains("404"), "{answer}");
        if format == "json" {
            let line = server.wait_for_log(|l| l["message"] == "request");
            assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
        }
        // Stopped first: every line is then flushed and read.
        server.signal("TERM");
        assert_eq!(server.wait_exit(Duration::from_secs(15)).code(), Some(0));
        let logs = server.logs();
        let lines: Vec<&String> = logs.iter().filter(|l| l.contains("/api/tasks/7")).collect();
        assert_eq!(lines.len(), 1, "{format}: one request line in {logs:#?}");
        let want = match format {
            "json" => format!("\"request_id\":\"{id}\""),
            _ => format!("request{{request_id={id}}}"),
        };
        assert!(
            lines[0].contains(&want),
            "{format}: {want} not in {}",
            lines[0]
        );
    }
}
