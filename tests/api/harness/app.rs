//! The real application in this process, on port 0: what most tests run against;
//! or, through the same handle, the image in a container (`container`).

use std::collections::HashMap;

use reqwest::{Client, Response};
use serde_json::Value;
use tasks_backend::configuration::Settings;
use tasks_backend::startup::Application;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client;
use super::container::Container;
use super::postgres::{drop_postgres_database, fresh_postgres_database};

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub client: Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// Drop the database when the app stops (a PostgreSQL database of this test's own).
    owns_postgres_database: bool,
    /// Keeps the SQLite directory alive as long as the app.
    _dir: Option<TempDir>,
    /// The image's container, when the app is one (removed with the app).
    _container: Option<Container>,
}

/// The settings a test app runs with: port 0 on loopback, plus `overrides`.
pub fn test_settings(overrides: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> =
        [("HOST", "127.0.0.1"), ("PORT", "0"), ("LOG_LEVEL", "warn")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Settings::from_env(env).expect("test settings are valid")
}

pub async fn spawn_sqlite() -> TestApp {
    spawn_sqlite_with(&[]).await
}

/// A SQLite app with settings of the test's own on top of [`test_settings`].
pub async fn spawn_sqlite_with(overrides: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("tasks.db").display());
    let mut app = spawn_with(&url, overrides).await;
    app._dir = Some(dir);
    app
}

/// A fresh database on the server named by `TASKS_TEST_POSTGRES_URL`, one per test,
/// dropped again when the app stops.
pub async fn spawn_postgres() -> TestApp {
    spawn_postgres_with(&[]).await
}

/// [`spawn_postgres`] with settings of the test's own.
pub async fn spawn_postgres_with(overrides: &[(&str, &str)]) -> TestApp {
    let url = fresh_postgres_database().await;
    let mut app = spawn_with(&url, overrides).await;
    app.owns_postgres_database = true;
    app
}

/// Starts the real application on `database_url`, as `main` would.
pub async fn spawn(database_url: &str) -> TestApp {
    spawn_with(database_url, &[]).await
}

/// Like [`spawn`], with more settings.
pub async fn spawn_with(database_url: &str, settings: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("DATABASE_URL", database_url)];
    all.extend_from_slice(settings);
    let settings = test_settings(&all);
    let app = Application::build(&settings).await.expect("app starts");
    let port = app.port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        database_url: database_url.to_owned(),
        client: client::http(),
        stop: Some(stop),
        server: Some(server),
        owns_postgres_database: false,
        _dir: None,
        _container: None,
    }
}

impl TestApp {
    /// The app a container serves at `address` (its database is the container's own).
    pub fn in_container(address: String, container: Container) -> Self {
        Self {
            address,
            database_url: String::new(),
            client: client::http(),
            stop: None,
            server: None,
            owns_postgres_database: false,
            _dir: None,
            _container: Some(container),
        }
    }

    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the address ends with its port")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .json(body)
            .send()
            .await
            .expect("PATCH")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE")
    }

    /// Creates a task and returns its JSON, failing the test unless it got 201.
    pub async fn create_task(&self, body: Value) -> Value {
        let response = self.post_json("/api/tasks", &body).await;
        assert_eq!(response.status(), 201, "creating {body}");
        response.json().await.expect("task JSON")
    }

    pub async fn task_count(&self) -> u64 {
        let list: Value = self
            .get("/api/tasks?limit=1")
            .await
            .json()
            .await
            .expect("list JSON");
        list["total"].as_u64().expect("total")
    }

    /// Stops the server the way a signal does and waits for it to finish.
    pub async fn stop(mut self) {
        self.shut_down().await;
        if self.owns_postgres_database {
            drop_postgres_database(&self.database_url).await;
        }
    }

    /// Asks the server to stop (as SIGTERM does) without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server but keeps its data directory, for restart tests.
    pub async fn stop_keeping_data(mut self) -> Option<TempDir> {
        self.shut_down().await;
        self._dir.take()
    }

    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }
}
