//! Database layer: connection, schema migrations, and the task store.

mod connect;
pub mod entity;
mod error;
pub mod migrations;
mod storage;
mod tasks;

pub use connect::{ACQUIRE_TIMEOUT, ConnectError, Connections, connect};
pub use error::StoreError;
pub use storage::prepare as prepare_storage;
pub use tasks::{TaskPage, TaskQuery, TaskStore};
