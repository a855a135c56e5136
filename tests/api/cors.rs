//! CORS (`CORS_ALLOWED_ORIGINS`): a preflight from a listed origin is answered
//! with the API's methods and headers, a bounded max age and `Vary: Origin`; any
//! other origin gets no CORS header at all; with no origin listed, nothing changes.

use reqwest::{Method, Response};
use serde_json::json;

use crate::harness::{TestApp, spawn_sqlite, spawn_sqlite_with};
use crate::tokens::TokenFile;

const ALLOWED: &str = "http://127.0.0.1:8081";
const OTHER: &str = "http://127.0.0.1:8082";

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/tasks/1"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .expect("an answer")
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn listed(list: &str) -> Vec<String> {
    list.split(',').map(|s| s.trim().to_owned()).collect()
}

fn no_cors_headers(response: &Response, case: &str) {
    for (name, _) in response.headers() {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "{case}: {name} sent"
        );
    }
}

#[tokio::test]
async fn a_listed_origin_gets_its_preflight_and_no_other_origin_gets_anything() {
    let tokens = TokenFile::new();
    let (key, value) = tokens.setting();
    let app = spawn_sqlite_with(&[(key, &value), ("CORS_ALLOWED_ORIGINS", ALLOWED)]).await;

    for method in ["GET", "POST", "PATCH", "DELETE"] {
        let case = format!("preflight for {method} from {ALLOWED}");
        let ok = preflight(&app, ALLOWED, method, "authorization, content-type").await;
        assert_eq!(ok.status(), 200, "{case}");
        assert_eq!(
            header(&ok, "access-control-allow-origin"),
            ALLOWED,
            "{case}"
        );
        let methods = listed(&header(&ok, "access-control-allow-methods"));
        for want in ["get", "head", "post", "patch", "delete"] {
            assert!(methods.iter().any(|m| m == want), "{case}: {methods:?}");
        }
        let headers = listed(&header(&ok, "access-control-allow-headers"));
        for want in ["authorization", "content-type"] {
            assert!(headers.iter().any(|h| h == want), "{case}: {headers:?}");
        }
        assert_eq!(header(&ok, "access-control-max-age"), "600", "{case}");
        assert!(header(&ok, "vary").contains("origin"), "{case}");
        assert!(
            ok.headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "{case}: bearer tokens need no credentials mode"
        );
    }

    let other = preflight(&app, OTHER, "DELETE", "authorization").await;
    no_cors_headers(&other, "a preflight from another origin");
    assert!(
        header(&other, "vary").contains("origin"),
        "vary on a refusal"
    );

    // The real requests: the listed origin may read the answer, the other may not.
    let with_token = |origin: &'static str| {
        app.client
            .post(app.url("/api/tasks"))
            .header("origin", origin)
            .header("authorization", format!("Bearer {}", tokens.write))
            .json(&json!({"title": "from a page"}))
            .send()
    };
    let allowed = with_token(ALLOWED).await.unwrap();
    assert_eq!(allowed.status(), 201);
    assert_eq!(header(&allowed, "access-control-allow-origin"), ALLOWED);
    assert!(header(&allowed, "vary").contains("origin"));
    let exposed = listed(&header(&allowed, "access-control-expose-headers"));
    for want in ["location", "x-request-id", "www-authenticate"] {
        assert!(exposed.iter().any(|h| h == want), "{exposed:?}");
    }
    let other = with_token(OTHER).await.unwrap();
    assert_eq!(
        other.status(),
        201,
        "the server serves; the browser enforces"
    );
    no_cors_headers(&other, "a request from another origin");

    // A refusal from the listed origin is readable by the page (it says why).
    let refused = list_from(&app, ALLOWED).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), ALLOWED);
    app.stop().await;
}

#[tokio::test]
async fn with_no_origin_listed_there_is_no_cors() {
    let app = spawn_sqlite().await;
    let response = preflight(&app, ALLOWED, "DELETE", "authorization").await;
    no_cors_headers(&response, "a preflight with CORS off");
    let get = list_from(&app, ALLOWED).await;
    assert_eq!(get.status(), 200);
    no_cors_headers(&get, "a GET with CORS off");
    app.stop().await;
}

#[tokio::test]
async fn the_max_age_is_a_setting() {
    let app = spawn_sqlite_with(&[
        ("CORS_ALLOWED_ORIGINS", &format!("{OTHER}, {ALLOWED}")),
        ("CORS_MAX_AGE_SECS", "60"),
    ])
    .await;
    let ok = preflight(&app, ALLOWED, "PATCH", "content-type").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "access-control-max-age"), "60");
    app.stop().await;
}

/// `GET /api/tasks` as a page on `origin` sends it, with no token.
async fn list_from(app: &TestApp, origin: &str) -> Response {
    app.client
        .get(app.url("/api/tasks"))
        .header("origin", origin)
        .send()
        .await
        .expect("an answer")
}
