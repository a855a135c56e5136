//! The lean reference for bench/lean.sh: the service's benched routes done the
//! plainest way (axum + sqlx, no ORM), to tell what the service's own layers cost
//! per request. It answers what the service answers for
//!   GET /health               {"status":"healthy"} (static)
//!   GET /api/tasks/{id}       the task, or 404
//!   POST /api/tasks           201 + Location + the task
//!   GET /api/tasks?limit=N    {"items","total","limit","offset","next"}
//! on a database the service migrated (bench/seed.sh), with the service's SQLite
//! settings (src/db/connect.rs): WAL, synchronous FULL, busy timeout 5 s, foreign
//! keys on, a pool of DATABASE_MAX_CONNECTIONS (8) with a 2 s acquire timeout and no
//! ping before use; writes take turns behind one mutex as the service's do, and an
//! insert is stepped to its end so that its commit is seen (the same durability).
//!
//! Left out on purpose, as they are what is measured: logging, metrics, request
//! ids, access control, the request limits and deadlines, problem+json details,
//! OpenAPI, the domain re-check of every row read, `status`/`after`/`offset` on
//! the list and the cursor's checksum (`next` is a plain id here). It is a bench
//! tool, never a server to deploy.
//! Usage: HOST=127.0.0.1 PORT=8080 DATABASE_URL=sqlite://path tasks-lean

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tokio::sync::Mutex;

#[derive(Clone)]
struct App {
    db: SqlitePool,
    write_gate: Arc<Mutex<()>>,
}

#[derive(Serialize)]
struct TaskJson {
    id: i64,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_date: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTask {
    title: String,
    description: Option<String>,
    status: Option<String>,
    due_date: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
}

const COLUMNS: &str = "id, title, description, status, due_date, created_at, updated_at";
const SELECT_ONE: &str = "SELECT id, title, description, status, due_date, created_at, updated_at FROM tasks WHERE id = ?";

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn task(row: &sqlx::sqlite::SqliteRow) -> Result<TaskJson, sqlx::Error> {
    Ok(TaskJson {
        id: row.try_get(0)?,
        title: row.try_get(1)?,
        description: row.try_get(2)?,
        status: row.try_get(3)?,
        due_date: row
            .try_get::<Option<NaiveDate>, _>(4)?
            .map(|d| d.format("%Y-%m-%d").to_string()),
        created_at: stamp(row.try_get(5)?),
        updated_at: stamp(row.try_get(6)?),
    })
}

fn internal(_: sqlx::Error) -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"healthy"}"#,
    )
        .into_response()
}

async fn get_task(State(app): State<App>, Path(id): Path<i64>) -> Response {
    match sqlx::query(SELECT_ONE)
        .bind(id)
        .fetch_optional(&app.db)
        .await
    {
        Ok(Some(row)) => match task(&row) {
            Ok(t) => Json(t).into_response(),
            Err(e) => internal(e),
        },
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => internal(e),
    }
}

async fn create_task(State(app): State<App>, Json(new): Json<NewTask>) -> Response {
    let title = new.title.trim();
    let status = new.status.unwrap_or_else(|| "todo".to_owned());
    let due_date = match new
        .due_date
        .as_deref()
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d"))
    {
        Some(Err(_)) => return StatusCode::UNPROCESSABLE_ENTITY.into_response(),
        Some(Ok(d)) => Some(d),
        None => None,
    };
    if title.is_empty()
        || title.chars().count() > 200
        || !matches!(status.as_str(), "todo" | "in_progress" | "done")
    {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    let now = Utc::now().trunc_subsecs(3);
    let sql = format!(
        "INSERT INTO tasks (title, description, status, due_date, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
    );
    let _turn = app.write_gate.lock().await;
    // fetch_all steps the statement to its end, where SQLite commits.
    let rows = sqlx::query(&sql)
        .bind(title)
        .bind(new.description.as_deref())
        .bind(&status)
        .bind(due_date)
        .bind(now)
        .bind(now)
        .fetch_all(&app.db)
        .await;
    drop(_turn);
    match rows.map(|rows| rows.first().map(task)) {
        Ok(Some(Ok(t))) => (
            StatusCode::CREATED,
            [(header::LOCATION, format!("/api/tasks/{}", t.id))],
            Json(t),
        )
            .into_response(),
        Ok(Some(Err(e))) | Err(e) => internal(e),
        Ok(None) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn list_tasks(State(app): State<App>, Query(q): Query<ListQuery>) -> Response {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let page = async {
        let mut txn = app.db.begin().await?;
        let total: i64 =
            sqlx::query_scalar("SELECT CAST(coalesce(sum(total), 0) AS BIGINT) FROM task_counts")
                .fetch_one(&mut *txn)
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(i64::MIN)
        .bind(limit + 1)
        .fetch_all(&mut *txn)
        .await?;
        txn.commit().await?;
        let mut items = rows.iter().map(task).collect::<Result<Vec<_>, _>>()?;
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        Ok::<_, sqlx::Error>((items, total, more))
    };
    match page.await {
        Ok((items, total, more)) => {
            let next = more
                .then(|| items.last().map(|t| t.id.to_string()))
                .flatten();
            Json(serde_json::json!({
                "items": items, "total": total, "limit": limit, "offset": 0, "next": next,
            }))
            .into_response()
        }
        Err(e) => internal(e),
    }
}

#[tokio::main]
async fn main() {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let url = var("DATABASE_URL", "sqlite://tasks.db");
    let connections: u32 = var("DATABASE_MAX_CONNECTIONS", "8")
        .parse()
        .expect("DATABASE_MAX_CONNECTIONS");
    let options = url
        .parse::<SqliteConnectOptions>()
        .expect("DATABASE_URL")
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let db = SqlitePoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .expect("open the database");
    let app = App {
        db,
        write_gate: Arc::new(Mutex::new(())),
    };
    let router = Router::new()
        .route("/health", get(health))
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route("/api/tasks/{id}", get(get_task))
        .with_state(app);
    let addr = format!("{}:{}", var("HOST", "127.0.0.1"), var("PORT", "8080"));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, router).await.expect("serve");
}
