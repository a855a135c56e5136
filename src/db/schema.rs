//! Which schema version a database is at, and whether this binary may use it.
//!
//! The rule (README, "Schema versions"): every migration is backward compatible
//! with the code of the release before it (expand now, contract a release later),
//! and records in `schema_compatibility` the oldest migration a binary must know
//! to work on a database that holds it. So a binary that meets migrations it does
//! not know (a rollback, or an old replica during a rolling update) serves when
//! each of them names one it knows, and otherwise stops before changing anything.

use std::path::{Path, PathBuf};

use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryOrder};
use sea_orm_migration::{MigratorTrait, SchemaManager, seaql_migrations};

use super::copy;
use super::migrations::{COMPATIBILITY_TABLE, Migrator};

/// Why a binary will not use a database.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database's schema version is {database}, this binary's is {binary}: {reason}; \
         nothing was changed (run a release that knows {database}, or restore the copy \
         taken before the upgrade)"
    )]
    Incompatible {
        database: String,
        binary: String,
        reason: String,
    },
    #[error("reading the database's schema version failed: {0}")]
    Read(#[source] DbErr),
    #[error("database migration failed: {0}")]
    Apply(#[source] DbErr),
    #[error(
        "copying the database to {copy} before migrating it failed (nothing was migrated): {err}"
    )]
    Copy {
        copy: String,
        #[source]
        err: DbErr,
    },
}

/// A migration the database holds and this binary does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub version: String,
    /// The oldest migration a binary must know to use a database holding this one;
    /// `None` when the database records none (then no older binary may use it).
    pub compatible_from: Option<String>,
    /// Whether this binary knows `compatible_from`.
    pub compatible: bool,
}

/// The database's migrations against this binary's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// This binary's migrations the database holds, oldest first.
    pub applied: Vec<String>,
    /// This binary's migrations the database lacks, oldest first.
    pub pending: Vec<String>,
    /// The database's migrations this binary does not know, oldest first.
    pub unknown: Vec<Unknown>,
}

impl SchemaStatus {
    /// The newest migration the database holds; `none` for an empty database.
    /// Versions are named by date (`mYYYYMMDD_NNNNNN_what`), so they sort in order.
    pub fn database_version(&self) -> String {
        let newest_known = self.applied.iter().max();
        let newest_unknown = self.unknown.iter().map(|u| &u.version).max();
        newest_known
            .max(newest_unknown)
            .cloned()
            .unwrap_or_else(|| "none".to_owned())
    }

    /// Whether this binary may serve on the database (after applying what is
    /// pending), and if not, why.
    pub fn check(&self) -> Result<(), SchemaError> {
        let incompatible = |reason: String| SchemaError::Incompatible {
            database: self.database_version(),
            binary: binary_version(),
            reason,
        };
        if let Some(unknown) = self.unknown.iter().find(|u| !u.compatible) {
            return Err(incompatible(match &unknown.compatible_from {
                Some(from) => format!(
                    "its migration {} needs a binary that knows {from}",
                    unknown.version
                ),
                None => format!(
                    "its migration {} records no compatible older version",
                    unknown.version
                ),
            }));
        }
        if !self.unknown.is_empty() && !self.pending.is_empty() {
            return Err(incompatible(format!(
                "it holds migrations this binary does not know and lacks {} that it does",
                self.pending.join(", ")
            )));
        }
        Ok(())
    }
}

/// The newest migration this binary knows.
pub fn binary_version() -> String {
    Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

/// Brings the schema up to date under the rule: refuses a database this binary may
/// not use before touching it; serves a newer compatible one as it is (applying
/// nothing: sea-orm's `up` refuses a database holding migrations it does not know);
/// otherwise applies what is pending. Returns the migrations applied.
///
/// Before it migrates a SQLite file that holds data, it keeps a copy of the file as
/// it was, `<file>.before-<database version>` (one per version: an existing copy,
/// from an attempt that failed, is the older state and is kept).
pub async fn upgrade(
    db: &DatabaseConnection,
    sqlite_file: Option<&Path>,
) -> Result<Vec<String>, SchemaError> {
    let status = status(db).await?;
    status.check()?;
    if !status.unknown.is_empty() {
        tracing::info!(
            database_version = %status.database_version(),
            binary_version = %binary_version(),
            "the database holds newer migrations that declare this binary compatible; serving without migrating"
        );
        return Ok(Vec::new());
    }
    if status.pending.is_empty() {
        return Ok(Vec::new());
    }
    if let (Some(file), false) = (sqlite_file, status.applied.is_empty()) {
        keep_copy(db, file, &status.database_version()).await?;
    }
    Migrator::up(db, None).await.map_err(SchemaError::Apply)?;
    tracing::info!(applied = ?status.pending, "schema migrated");
    Ok(status.pending)
}

async fn keep_copy(db: &DatabaseConnection, file: &Path, version: &str) -> Result<(), SchemaError> {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".before-{version}"));
    let copy = PathBuf::from(name);
    if copy.exists() {
        tracing::info!(copy = %copy.display(), "a copy from before this upgrade exists; kept");
        return Ok(());
    }
    copy::vacuum_into(db, &copy)
        .await
        .map_err(|err| SchemaError::Copy {
            copy: copy.display().to_string(),
            err,
        })?;
    tracing::info!(copy = %copy.display(), "copied the database before migrating it");
    Ok(())
}

/// Reads the database's migrations and their compatibility records, changing
/// nothing (not even creating sea-orm's table, as `Migrator::status` would).
pub async fn status(db: &DatabaseConnection) -> Result<SchemaStatus, SchemaError> {
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let manager = SchemaManager::new(db);
    let in_database: Vec<String> = if manager
        .has_table("seaql_migrations")
        .await
        .map_err(SchemaError::Read)?
    {
        seaql_migrations::Entity::find()
            .order_by_asc(seaql_migrations::Column::Version)
            .all(db)
            .await
            .map_err(SchemaError::Read)?
            .into_iter()
            .map(|m| m.version)
            .collect()
    } else {
        Vec::new()
    };
    let floors = compatibility_records(db, &manager).await?;
    let unknown = in_database
        .iter()
        .filter(|v| !known.contains(v))
        .map(|version| {
            let compatible_from = floors
                .iter()
                .find(|(v, _)| v == version)
                .map(|(_, from)| from.clone());
            Unknown {
                version: version.clone(),
                compatible: compatible_from.as_ref().is_some_and(|f| known.contains(f)),
                compatible_from,
            }
        })
        .collect();
    let (applied, pending) = known.into_iter().partition(|v| in_database.contains(v));
    Ok(SchemaStatus {
        applied,
        pending,
        unknown,
    })
}

/// `(version, compatible_from)` for each migration that recorded one.
async fn compatibility_records(
    db: &DatabaseConnection,
    manager: &SchemaManager<'_>,
) -> Result<Vec<(String, String)>, SchemaError> {
    if !manager
        .has_table(COMPATIBILITY_TABLE)
        .await
        .map_err(SchemaError::Read)?
    {
        return Ok(Vec::new());
    }
    let query = Query::select()
        .columns([Alias::new("version"), Alias::new("compatible_from")])
        .from(Alias::new(COMPATIBILITY_TABLE))
        .to_owned();
    db.query_all(&query)
        .await
        .map_err(SchemaError::Read)?
        .into_iter()
        .map(|row| {
            Ok((
                row.try_get::<String>("", "version")?,
                row.try_get::<String>("", "compatible_from")?,
            ))
        })
        .collect::<Result<_, DbErr>>()
        .map_err(SchemaError::Read)
}

#[cfg(test)]
mod tests {
    use sea_orm::Database;

    use super::*;

    fn unknown(version: &str, compatible_from: Option<&str>, compatible: bool) -> Unknown {
        Unknown {
            version: version.to_owned(),
            compatible_from: compatible_from.map(str::to_owned),
            compatible,
        }
    }

    #[test]
    fn a_binary_serves_only_on_a_schema_that_says_it_may() {
        let ours = binary_version();
        let cases = [
            (
                vec![],
                vec![ours.clone()],
                vec![],
                true,
                "fresh database: apply",
            ),
            (vec![ours.clone()], vec![], vec![], true, "up to date"),
            (
                vec![ours.clone()],
                vec![],
                vec![unknown("m29990101_000001_next", Some(&ours), true)],
                true,
                "newer, compatible with this binary",
            ),
            (
                vec![ours.clone()],
                vec![],
                vec![unknown(
                    "m29990101_000001_next",
                    Some("m29990101_000000_x"),
                    false,
                )],
                false,
                "newer, needs a newer binary",
            ),
            (
                vec![ours.clone()],
                vec![],
                vec![unknown("m29990101_000001_next", None, false)],
                false,
                "newer, records no floor",
            ),
            (
                vec![],
                vec![ours.clone()],
                vec![unknown("m29990101_000001_next", Some(&ours), true)],
                false,
                "newer and missing one of ours: not a history this binary knows",
            ),
        ];
        for (applied, pending, unknown, serves, why) in cases {
            let status = SchemaStatus {
                applied,
                pending,
                unknown,
            };
            match status.check() {
                Ok(()) => assert!(serves, "{why}: should refuse"),
                Err(err) => {
                    assert!(!serves, "{why}: refused: {err}");
                    let line = err.to_string();
                    assert!(line.contains("m29990101_000001_next"), "{why}: {line}");
                    assert!(line.contains(&ours), "{why}: names its own: {line}");
                }
            }
        }
    }

    /// The rule, held: each migration after the first records a floor, and that
    /// floor is an earlier migration, so the release before it runs on the new schema.
    #[tokio::test]
    async fn every_migration_after_the_first_is_compatible_with_the_code_before_it() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        assert_eq!(
            upgrade(&db, None).await.unwrap().len(),
            Migrator::migrations().len()
        );
        let manager = SchemaManager::new(&db);
        let floors = compatibility_records(&db, &manager).await.unwrap();
        let names: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        for (i, name) in names.iter().enumerate().skip(1) {
            let floor = floors
                .iter()
                .find(|(v, _)| v == name)
                .map(|(_, f)| f)
                .unwrap_or_else(|| panic!("{name} records no compatibility floor"));
            assert!(
                names[..i].contains(floor),
                "{name}: floor {floor} is not a migration released before it"
            );
        }
        let again = status(&db).await.unwrap();
        assert!(
            again.pending.is_empty() && again.unknown.is_empty(),
            "{again:?}"
        );
        assert_eq!(again.database_version(), binary_version());
    }
}
