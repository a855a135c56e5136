//! Versioned schema migrations, applied at start-up. sea-orm records applied
//! versions in `seaql_migrations`, so a restart on an existing database is a no-op.

use sea_orm_migration::prelude::*;

mod m20261126_000001_create_tasks;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261126_000001_create_tasks::Migration)]
    }
}
