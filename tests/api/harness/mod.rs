//! How the tests run the service and talk to it.
//!
//! - `app`: the real application in this process, on port 0 ([`spawn_sqlite`] ...);
//! - `postgres`: a PostgreSQL database of a test's own;
//! - `container`: the image as a container (`TASKS_TEST_IMAGE`), behind a [`TestApp`];
//! - `process`: the real executable, as a command or as a server (`ServerProcess`);
//! - `client`: the one way tests talk HTTP, to either;
//! - `sqlite`: a SQLite file read directly (copies, old releases' files).

mod app;
pub mod client;
mod container;
mod postgres;
pub mod process;
mod sqlite;

pub use app::{
    TestApp, spawn, spawn_postgres, spawn_postgres_with, spawn_sqlite, spawn_sqlite_with,
    spawn_with,
};
pub use client::{assert_problem, read_until, read_until_closed};
pub use container::spawn_image_with;
pub use postgres::{drop_postgres_database, fresh_postgres_database, restore_postgres_dump};
pub use sqlite::sqlite_rows;
