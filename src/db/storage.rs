//! The SQLite data directory: created when missing and proven writable before the
//! process binds, so a bad volume is a settings error (exit 2), not a crash later.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use crate::configuration::{DatabaseUrl, SettingsError};

/// For a SQLite file: create its directory when missing and check that the
/// directory and the file can be written. Nothing to do for other databases.
/// A failure names `DATABASE_URL`: the fix is in that setting or in the volume
/// behind it.
pub fn prepare(url: &DatabaseUrl) -> Result<(), SettingsError> {
    let DatabaseUrl::Sqlite {
        path: Some(path), ..
    } = url
    else {
        return Ok(());
    };
    let fail = |problem: String| url.refused(problem);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| {
        fail(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })?;
    // SQLite's WAL needs to create files beside the database, so the directory
    // itself must be writable, not just the database file.
    let probe = dir.join(format!(".tasks-backend-write-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|e| {
            fail(format!(
                "data directory {} is not writable: {e}",
                dir.display()
            ))
        })?;
    if Path::new(path).exists() {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                fail(format!(
                    "database file {} is not writable: {e}",
                    path.display()
                ))
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_storage_is_created_when_missing() {
        let dir = std::env::temp_dir().join(format!("tasks-store-{}", std::process::id()));
        let db = dir.join("nested/tasks.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", db.display())).unwrap();
        prepare(&url).unwrap();
        assert!(db.parent().unwrap().is_dir());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_reported_with_the_setting() {
        let dir = std::env::temp_dir().join(format!("tasks-store-file-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let a_file = dir.join("file");
        fs::write(&a_file, "").unwrap();
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}/data/tasks.db", a_file.display())).unwrap();
        let err = prepare(&url).unwrap_err().to_string();
        fs::remove_dir_all(&dir).unwrap();
        assert!(err.starts_with("invalid setting DATABASE_URL="), "{err}");
        assert!(err.contains("cannot create data directory"), "{err}");
    }
}
