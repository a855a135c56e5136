//! The number of tasks per status, kept exact by the database itself, so a list's
//! `total` is one row read instead of a count over the table (issue 20).
//!
//! Compatible with the release before it: that code never reads the table, and
//! its writes keep it exact too, since triggers, not the code, maintain it. So old
//! and new replicas can share the database, and a rollback keeps the counts right.

use sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::prelude::*;

use super::{forget_compatibility, record_compatibility};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The release before this one knows no later migration.
const COMPATIBLE_FROM: &str = "m20261126_000001_create_tasks";

/// Seeds the counts from the rows there are (an upgrade of a database in use).
const SEED: &[&str] = &[
    "INSERT INTO task_counts (status, total) VALUES ('todo', 0), ('in_progress', 0), ('done', 0)",
    "UPDATE task_counts SET total = (SELECT count(*) FROM tasks WHERE tasks.status = task_counts.status)",
];

/// SQLite runs one writer at a time, so a trigger per change is enough.
const SQLITE_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN \
       UPDATE task_counts SET total = total + 1 WHERE status = NEW.status; END",
    "CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN \
       UPDATE task_counts SET total = total - 1 WHERE status = OLD.status; END",
    "CREATE TRIGGER task_counts_status AFTER UPDATE OF status ON tasks \
       WHEN OLD.status <> NEW.status BEGIN \
       UPDATE task_counts SET total = total - 1 WHERE status = OLD.status; \
       UPDATE task_counts SET total = total + 1 WHERE status = NEW.status; END",
];

/// On PostgreSQL a status change moves both counts in one UPDATE: two statements
/// would lock the two rows in the order of the change, and two opposite changes
/// at once could deadlock.
const POSTGRES_TRIGGERS: &[&str] = &[
    "CREATE FUNCTION task_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'INSERT' THEN \
         UPDATE task_counts SET total = total + 1 WHERE status = NEW.status; \
       ELSIF TG_OP = 'DELETE' THEN \
         UPDATE task_counts SET total = total - 1 WHERE status = OLD.status; \
       ELSE \
         UPDATE task_counts \
           SET total = total + CASE WHEN status = NEW.status THEN 1 ELSE -1 END \
           WHERE status IN (OLD.status, NEW.status); \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER task_counts_insert_delete AFTER INSERT OR DELETE ON tasks \
       FOR EACH ROW EXECUTE FUNCTION task_counts_follow()",
    "CREATE TRIGGER task_counts_status AFTER UPDATE OF status ON tasks \
       FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) \
       EXECUTE FUNCTION task_counts_follow()",
];

#[derive(DeriveIden)]
enum TaskCounts {
    Table,
    Status,
    Total,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on both backends (SQLite's DDL is transactional too), so
    /// no write can fall between the seed and the triggers.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DatabaseBackend::Postgres {
            // Older replicas keep writing during a rolling update: a write committed
            // between the seed and the triggers would be counted by neither. Held
            // to the commit; SQLite's first write below takes its one writer lock.
            db.execute_unprepared("LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE")
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(TaskCounts::Table)
                    .col(
                        ColumnDef::new(TaskCounts::Status)
                            .string_len(16)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TaskCounts::Total).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let triggers = match db.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_TRIGGERS,
            _ => SQLITE_TRIGGERS,
        };
        for sql in SEED.iter().chain(triggers) {
            db.execute_unprepared(sql).await?;
        }
        record_compatibility(manager, self.name(), COMPATIBLE_FROM).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let drops: &[&str] = match db.get_database_backend() {
            DatabaseBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS task_counts_insert_delete ON tasks",
                "DROP TRIGGER IF EXISTS task_counts_status ON tasks",
                "DROP FUNCTION IF EXISTS task_counts_follow()",
            ],
            _ => &[
                "DROP TRIGGER IF EXISTS task_counts_insert",
                "DROP TRIGGER IF EXISTS task_counts_delete",
                "DROP TRIGGER IF EXISTS task_counts_status",
            ],
        };
        for sql in drops {
            db.execute_unprepared(sql).await?;
        }
        manager
            .drop_table(Table::drop().table(TaskCounts::Table).to_owned())
            .await?;
        forget_compatibility(manager, self.name()).await
    }
}
