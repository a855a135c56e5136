//! Versioned schema migrations, applied at start-up or by `tasks-backend migrate up`.
//! sea-orm records applied versions in `seaql_migrations`, so a restart on an
//! existing database is a no-op.
//!
//! The rule every migration after the first follows (README, "Schema versions"):
//! it is backward compatible with the code of the release before it (expand now,
//! contract a release later), and its `up` ends with [`record_compatibility`],
//! naming the oldest migration a binary must know to use a database holding it.
//! `tests::every_migration_after_the_first_is_compatible_with_the_code_before_it`
//! holds each one to it.

use sea_orm_migration::prelude::*;

mod m20261126_000001_create_tasks;
mod m20261202_000001_task_counts;

/// Where each migration records the oldest migration its readers must know.
pub const COMPATIBILITY_TABLE: &str = "schema_compatibility";

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_tasks::Migration),
            Box::new(m20261202_000001_task_counts::Migration),
        ]
    }
}

/// Records that a binary which knows `compatible_from` (a migration released
/// before `version`) works on a database holding `version`. Created by the first
/// migration that needs it; binaries before the rule never read it.
pub async fn record_compatibility(
    manager: &SchemaManager<'_>,
    version: &str,
    compatible_from: &str,
) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Alias::new(COMPATIBILITY_TABLE))
                .if_not_exists()
                .col(
                    ColumnDef::new(Alias::new("version"))
                        .string_len(255)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("compatible_from"))
                        .string_len(255)
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    let insert = Query::insert()
        .into_table(Alias::new(COMPATIBILITY_TABLE))
        .columns([Alias::new("version"), Alias::new("compatible_from")])
        .values([version.into(), compatible_from.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    manager.exec_stmt(insert).await
}

/// The `down` of [`record_compatibility`].
pub async fn forget_compatibility(manager: &SchemaManager<'_>, version: &str) -> Result<(), DbErr> {
    let delete = Query::delete()
        .from_table(Alias::new(COMPATIBILITY_TABLE))
        .and_where(Expr::col(Alias::new("version")).eq(version))
        .to_owned();
    manager.exec_stmt(delete).await
}
