//! tasks-backend: a small task-tracking HTTP API.
//!
//! `configuration` reads settings, `startup` connects the database and binds the
//! socket, `server` drives hyper, `routes` is the HTTP layer, `domain` holds the
//! rules for task values, `db` the database layer, `telemetry` the logs, `cli` the
//! command line.

pub mod cli;
pub mod configuration;
pub mod connections;
pub mod db;
pub mod domain;
pub mod healthcheck;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
