//! The documented paths: the probes and the API are there.

use serde_json::Value;

use crate::harness::TestApp;

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

async fn the_probes_are_in_the_openapi_document(app: &TestApp) {
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/livez", "/readyz", "/health"] {
        assert!(
            spec["paths"][path]["get"].is_object(),
            "spec lacks GET {path}"
        );
    }
}

crate::api_tests!(
    the_openapi_document_and_the_docs_page_are_served,
    the_probes_are_in_the_openapi_document,
);
