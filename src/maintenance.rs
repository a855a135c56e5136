//! The one-shot commands an operator runs against the database, with the image
//! alone (it has no shell): `migrate status`, `migrate up`, `backup DEST`. Each
//! prints what it found or did on stdout and returns the exit status (0 done, 1 a
//! failure that may pass, 2 a bad setting or argument, or a database this binary
//! may not use).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use crate::configuration::{DatabaseSettings, DatabaseUrl};
use crate::db::{self, ConnectError, SchemaError, SchemaStatus};

const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_SETTINGS: u8 = 2;

/// `migrate status`: the database's migrations against this binary's; exit 0
/// whatever they are, so scripts can read it.
pub async fn migrate_status(settings: &DatabaseSettings) -> ExitCode {
    let found = async {
        db::prepare_storage(&settings.url).map_err(ConnectError::Refused)?;
        let conn = db::open(settings).await?;
        let status = db::schema_status(&conn).await.map_err(ConnectError::Schema);
        conn.close().await.ok();
        status
    }
    .await;
    match found {
        Ok(status) => {
            print!("{}", report(&settings.url.redacted(), &status));
            ExitCode::SUCCESS
        }
        Err(err) => failed(&err),
    }
}

/// `migrate up`: what start-up does to the schema (the same checks, lock and
/// copy), then exit.
pub async fn migrate_up(settings: &DatabaseSettings) -> ExitCode {
    let done = async {
        db::prepare_storage(&settings.url).map_err(ConnectError::Refused)?;
        db::migrate_only(settings).await
    }
    .await;
    match done {
        Ok(applied) if applied.is_empty() => {
            println!("nothing to apply: the schema is up to date for this binary");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            for version in applied {
                println!("applied  {version}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => failed(&err),
    }
}

/// `backup DEST`: a consistent copy of the live SQLite database, taken while the
/// server serves (see `db::copy`), then checked (`PRAGMA integrity_check`).
pub async fn backup(settings: &DatabaseSettings, dest: &Path) -> ExitCode {
    let source = match backup_paths(&settings.url, dest) {
        Ok(source) => source,
        Err(problem) => {
            eprintln!("tasks-backend: backup {}: {problem}", dest.display());
            return ExitCode::from(EXIT_BAD_SETTINGS);
        }
    };
    let started = Instant::now();
    let conn = match db::open(settings).await {
        Ok(conn) => conn,
        Err(err) => return failed(&err),
    };
    let copied = db::vacuum_into(&conn, dest).await;
    conn.close().await.ok();
    if let Err(err) = copied {
        eprintln!(
            "tasks-backend: backup to {} failed, nothing written, {} untouched: {err}",
            dest.display(),
            source.display()
        );
        return ExitCode::from(EXIT_FAILURE);
    }
    let took = started.elapsed();
    match db::check_copy(dest).await {
        Ok(tasks) => {
            let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
            println!(
                "backup: {} written from {} in {} ms: {bytes} bytes, {tasks} tasks, integrity ok",
                dest.display(),
                source.display(),
                took.as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "tasks-backend: backup {} was written but fails its check: {err}",
                dest.display()
            );
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The live SQLite file to copy, or why this backup cannot be made (exit 2).
fn backup_paths<'a>(url: &'a DatabaseUrl, dest: &Path) -> Result<&'a Path, String> {
    let source = match url {
        DatabaseUrl::Postgres { .. } => {
            return Err(
                "DATABASE_URL names PostgreSQL; this command copies a SQLite file: \
                 back PostgreSQL up with pg_dump (README, Backups)"
                    .to_owned(),
            );
        }
        DatabaseUrl::Sqlite { path: None, .. } => {
            return Err(
                "DATABASE_URL names an in-memory SQLite database: nothing to copy".to_owned(),
            );
        }
        DatabaseUrl::Sqlite {
            path: Some(path), ..
        } => path.as_path(),
    };
    if !source.is_file() {
        return Err(format!("no database file at {}", source.display()));
    }
    if dest.exists() {
        return Err("exists; a backup never overwrites a file".to_owned());
    }
    match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => Err(format!("{} is not a directory", dir.display())),
        _ if dest.to_str().is_none() => Err("the path is not valid UTF-8".to_owned()),
        _ => Ok(source),
    }
}

fn failed(err: &ConnectError) -> ExitCode {
    eprintln!("tasks-backend: {err}");
    let code = match err {
        ConnectError::Refused(_) | ConnectError::Schema(SchemaError::Incompatible { .. }) => {
            EXIT_BAD_SETTINGS
        }
        _ => EXIT_FAILURE,
    };
    ExitCode::from(code)
}

/// One line per migration, then whether this binary may serve on the database.
fn report(database: &str, status: &SchemaStatus) -> String {
    let mut out = format!(
        "database: {database}\nschema version: database {}, binary {}\n",
        status.database_version(),
        db::binary_version()
    );
    for version in &status.applied {
        out.push_str(&format!("applied  {version}\n"));
    }
    for version in &status.pending {
        out.push_str(&format!("pending  {version}\n"));
    }
    for unknown in &status.unknown {
        let verdict = match (&unknown.compatible_from, unknown.compatible) {
            (Some(from), true) => format!("compatible: needs {from}, which this binary knows"),
            (Some(from), false) => format!("incompatible: needs {from}"),
            (None, _) => "incompatible: records no compatible older version".to_owned(),
        };
        out.push_str(&format!("unknown  {} ({verdict})\n", unknown.version));
    }
    out.push_str(&match status.check() {
        Ok(()) => "this binary can serve on this database\n".to_owned(),
        Err(err) => format!("this binary cannot serve on this database: {err}\n"),
    });
    out
}
