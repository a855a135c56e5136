//! One integration-test binary: every test starts the real application (or the real
//! executable) on an ephemeral port and talks HTTP to it. `harness` is how.
//!
//! By concern:
//! - the API: `tasks` (operations), `errors` (the error rule), `persistence`,
//!   `totals` (exact under concurrent writes), `pages` (cursors, the offset bound,
//!   the query plans);
//! - data across versions: `fixtures` (every release's database opens),
//!   `schema_versions` (`migrate`, and migrations this binary does not know),
//!   `backup` (a consistent copy while writers write);
//! - `openapi/`: every check of the OpenAPI document;
//! - `hostile/`: hostile input, one table per thing it attacks;
//! - `probes`, `shutdown`, `limits`: what orchestrators and load rely on;
//! - `metrics`: `/metrics`, its counts after a known load, its series bounded;
//! - `request_id`: `X-Request-Id` kept or replaced, and where it shows;
//! - `tokens`: bearer tokens, each operation x each credential, reloads, secrets
//!   kept out of logs; `cors`: preflights and origins;
//! - the executable: `cli` (exit statuses, messages, logs), `faults` (a database
//!   outage), `load`;
//! - `in_image`: checks that must hold in the image too, against a container
//!   (`scripts/test/image-api.sh` runs them; `rust_tests` skips them).
//!
//! API tests run twice, on SQLite and on PostgreSQL. The PostgreSQL copies are
//! `#[ignore]`d unless asked for: `scripts/test.sh` starts a server, sets
//! `TASKS_TEST_POSTGRES_URL` and passes `--include-ignored`. The load tests (`load`,
//! 2 x 20 s) and the database-outage test (`faults`) are `#[ignore]`d as well, so a
//! plain `cargo test` stays quick; `--include-ignored` runs them.

mod harness;

mod backup;
mod cli;
mod cors;
mod errors;
mod faults;
mod fixtures;
mod hostile;
mod in_image;
mod limits;
mod load;
mod metrics;
mod openapi;
mod pages;
mod persistence;
mod probes;
mod request_id;
mod schema_versions;
mod shutdown;
mod tasks;
mod tokens;
mod totals;

/// Declares each listed `async fn(&TestApp)` as a test on SQLite and one on PostgreSQL.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::harness::spawn_sqlite().await;
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
                async fn $name() {
                    let app = $crate::harness::spawn_postgres().await;
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}
