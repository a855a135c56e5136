//! tasks-backend: a small task-tracking HTTP API.
//!
//! The modules, top down; each imports only from modules below it:
//!
//! - `cli`: the command line (`serve`, `healthcheck`, `migrate`), exit statuses;
//!   `main` calls it;
//! - `startup`: storage, database, bind, then the app and the server put together;
//! - `healthcheck`: the container probe, a small HTTP client of `/livez`;
//! - `maintenance`: the operator's one-shot commands on the database (`migrate`);
//! - `routes`: the HTTP application: operations, their bounds, problem+json;
//! - `server`: the transport under it: connections, their cap and deadlines,
//!   hyper, shutdown, the readiness flag, the metrics registry and what it
//!   measures of every request. It runs an endpoint and never imports
//!   `routes` (`routes` reads its readiness flag);
//! - `access`: the tokens file: read at start-up, reloaded while serving, changed by
//!   `token add | list | remove`;
//! - `db`: the database layer: connection, migrations, the task store; it imports
//!   `domain` and `configuration` only;
//! - `telemetry`: the logs;
//! - `domain`: the rules for task values; it imports nothing of ours;
//! - `configuration`: the settings, and [`configuration::SettingsError`], the one
//!   error for a bad setting, whichever layer finds it.

pub mod access;
pub mod cli;
pub mod configuration;
pub mod db;
pub mod domain;
pub mod healthcheck;
pub mod maintenance;
pub mod routes;
pub mod server;
pub mod startup;
pub mod telemetry;
