//! Database layer: connection, schema migrations, and the task store.

mod connect;
pub mod entity;
mod error;
pub mod migrations;
mod tasks;

pub use connect::{ConnectError, connect};
pub use error::StoreError;
pub use tasks::{TaskPage, TaskQuery, TaskStore};
