//! What orchestrators ask of a running replica: the liveness, readiness and health
//! probes, and which replica answered. (How a stop goes is `shutdown`'s.)

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_problem, spawn_postgres, spawn_with};

async fn health_answers_200_healthy_when_the_database_answers(app: &TestApp) {
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "healthy"}));
}

async fn livez_and_readyz_answer_200_with_a_small_body(app: &TestApp) {
    for (path, status) in [("/livez", "alive"), ("/readyz", "ready")] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"status": status}), "{path}");
    }
}

async fn every_response_says_which_replica_answered(app: &TestApp) {
    for path in [
        "/health",
        "/livez",
        "/api/tasks",
        "/api/tasks/999999",
        "/nowhere",
    ] {
        let response = app.get(path).await;
        let id = response
            .headers()
            .get("x-replica-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(!id.is_empty(), "{path}: no X-Replica-Id");
    }
}

crate::api_tests!(
    health_answers_200_healthy_when_the_database_answers,
    livez_and_readyz_answer_200_with_a_small_body,
    every_response_says_which_replica_answered,
);

/// PostgreSQL only: a database that disappears under a running service.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn health_answers_503_when_the_database_is_gone() {
    let app = spawn_postgres().await;
    crate::harness::drop_postgres_database(&app.database_url).await;
    // A hang would show as this request timing out, not as a slow pass.
    let response = app
        .client
        .get(app.url("/health"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("health answers instead of hanging");
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy", "{body}");
    assert!(body["reason"].as_str().is_some(), "{body}");
    let create = app.post_json("/api/tasks", &json!({"title": "x"})).await;
    assert_problem(create, 503, "create while the database is gone").await;
    app.stop().await;
}

/// A saturated request pool is a busy replica, not a broken one: `/health` and
/// `/readyz` use a pool of their own and keep answering 200.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn health_stays_200_while_every_request_connection_is_busy() {
    let url = crate::harness::fresh_postgres_database().await;
    let app = spawn_with(&url, &[("DATABASE_MAX_CONNECTIONS", "2")]).await;
    app.create_task(json!({"title": "x"})).await;
    // Every request that reads tasks now waits on this lock, holding its connection.
    let admin = Database::connect(&url).await.unwrap();
    let txn = admin.begin().await.unwrap();
    txn.execute_unprepared("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let blocked: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url("/api/tasks"));
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for path in ["/health", "/readyz"] {
        let response = app
            .client
            .get(app.url(path))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{path} with the request pool exhausted"
        );
    }
    txn.rollback().await.unwrap();
    for request in blocked {
        let status = request.await.unwrap().unwrap();
        assert!(
            status == 200 || status == 503,
            "a blocked request answered {status}"
        );
    }
    admin.close().await.unwrap();
    app.stop().await;
    crate::harness::drop_postgres_database(&url).await;
}
