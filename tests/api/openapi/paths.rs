//! The documented paths and methods: the probes and the API are there, and the
//! server's own answers (`Allow`, the health probe's path) come from the same
//! declarations.

use reqwest::Method;
use serde_json::{Value, json};

use super::{document, operations};
use crate::harness::{TestApp, assert_problem, spawn_sqlite};

async fn the_openapi_document_and_the_docs_page_are_served(app: &TestApp) {
    let spec = app.get("/openapi.json").await;
    assert_eq!(spec.status(), 200);
    let spec: Value = spec.json().await.unwrap();
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        spec["openapi"]
    );
    for path in ["/health", "/api/tasks", "/api/tasks/{id}"] {
        assert!(spec["paths"][path].is_object(), "spec lacks {path}");
    }
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "the docs page is Swagger UI");
}

async fn the_probes_and_the_metrics_are_in_the_openapi_document(app: &TestApp) {
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/livez", "/readyz", "/health", "/metrics"] {
        assert!(
            spec["paths"][path]["get"].is_object(),
            "spec lacks GET {path}"
        );
    }
}

crate::api_tests!(
    the_openapi_document_and_the_docs_page_are_served,
    the_probes_and_the_metrics_are_in_the_openapi_document,
);

/// A 405 lists in `Allow` exactly the methods the document gives its path (and HEAD
/// with GET): both come from the operations' declarations.
#[tokio::test]
async fn a_405_allows_exactly_the_documented_methods_of_its_path() {
    let app = spawn_sqlite().await;
    let task = app.create_task(json!({"title": "t"})).await;
    let doc = document(&app).await;
    let mut by_path = std::collections::BTreeMap::<String, Vec<Method>>::new();
    for (method, path, _) in operations(&doc) {
        by_path.entry(path).or_default().push(method);
    }
    for (path, methods) in by_path {
        let concrete = path.replace("{id}", &task["id"].to_string());
        let wrong = [Method::PUT, Method::POST, Method::DELETE]
            .into_iter()
            .find(|m| !methods.contains(m))
            .unwrap_or_else(|| panic!("{path} documents every method tried"));
        let response = app
            .client
            .request(wrong.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_problem(response, 405, &format!("{wrong} {concrete}")).await;
        let mut allowed: Vec<&str> = allow.split(", ").collect();
        let mut documented: Vec<&str> = methods.iter().map(Method::as_str).collect();
        if methods.contains(&Method::GET) {
            documented.push("HEAD");
        }
        allowed.sort_unstable();
        documented.sort_unstable();
        assert_eq!(allowed, documented, "Allow of {path} ({allow:?})");
    }
    app.stop().await;
}

/// `tasks-backend healthcheck` asks a documented probe, which answers without the
/// database: liveness.
#[tokio::test]
async fn the_healthcheck_asks_a_documented_liveness_probe() {
    let app = spawn_sqlite().await;
    let path = tasks_backend::routes::LIVENESS_PATH;
    let doc = document(&app).await;
    assert!(
        operations(&doc)
            .iter()
            .any(|(method, documented, tags)| *method == Method::GET
                && documented == path
                && tags.iter().any(|t| t == "Health")),
        "GET {path} is not a documented Health operation"
    );
    let body: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(body, json!({"status": "alive"}), "{path}");
    app.stop().await;
}
