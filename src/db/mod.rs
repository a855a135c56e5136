//! Database layer: connection, schema migrations and versions, and the task store.

mod connect;
mod copy;
mod direct_read;
pub mod entity;
mod error;
mod group_commit;
mod hot_path;
pub mod migrations;
mod pools;
mod schema;
mod storage;
mod tasks;

pub use connect::{ACQUIRE_TIMEOUT, ConnectError, Connections, connect, migrate_only, open};
pub use copy::{check_copy, vacuum_into};
pub use error::StoreError;
pub use pools::PoolStats;
pub use schema::{SchemaError, SchemaStatus, Unknown, binary_version, status as schema_status};
pub use storage::prepare as prepare_storage;
pub use tasks::{TaskPage, TaskQuery, TaskStore, list_statement};
