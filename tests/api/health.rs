use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn health_answers_200_healthy_when_the_database_answers(app: &TestApp) {
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "healthy"}));
}

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

crate::api_tests!(
    health_answers_200_healthy_when_the_database_answers,
    the_openapi_document_and_the_docs_page_are_served,
);

/// PostgreSQL only: a database that disappears under a running service.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn health_answers_503_when_the_database_is_gone() {
    let app = crate::helpers::spawn_postgres().await;
    crate::helpers::drop_postgres_database(&app.database_url).await;
    // A hang would show as this request timing out, not as a slow pass.
    let response = app
        .client
        .get(app.url("/health"))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .expect("health answers instead of hanging");
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy", "{body}");
    assert!(body["reason"].as_str().is_some(), "{body}");
    let create = app.post_json("/api/tasks", &json!({"title": "x"})).await;
    crate::helpers::assert_problem(create, 503, "create while the database is gone").await;
    app.stop().await;
}
