//! Reading the tokens file, and changing it for the operator.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::configuration::SettingsError;
use crate::domain::{
    Scope, TokenEntry, TokenFileError, TokenHash, TokenName, TokenSet, generate_token,
};

const SETTING: &str = "API_TOKENS_FILE";

/// The file named by `API_TOKENS_FILE`, parsed, and the fingerprint of what was
/// read (for the reload to tell a change); a missing, unreadable or malformed one
/// is a bad setting, named with the line, never its content.
pub fn read_at_startup(path: &Path) -> Result<(TokenSet, Fingerprint), SettingsError> {
    let shown = path.display().to_string();
    let text = fs::read(path).map_err(|e| {
        SettingsError::new(
            SETTING,
            &shown,
            format!("cannot read the file: {}", e.kind()),
        )
    })?;
    let set = parse(&text).map_err(|e| SettingsError::new(SETTING, &shown, malformed(&e)))?;
    Ok((set, Fingerprint::of(&text)))
}

/// What tells one content of the file from another without keeping it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

impl Fingerprint {
    pub(super) fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<TokenSet, TokenFileError> {
    // A byte that is not UTF-8 becomes U+FFFD, which no field accepts: the line
    // is refused by number like any other bad line.
    TokenSet::parse(&String::from_utf8_lossy(bytes))
}

pub(super) fn malformed(err: &TokenFileError) -> String {
    format!("the file is malformed at {err}")
}

/// Why a `token` command failed: `Refused` is the operator's to fix (exit 2),
/// `Io` the machine's (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum TokenCommandError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
}

fn io_error(path: &Path, what: &str, err: &io::Error) -> TokenCommandError {
    TokenCommandError::Io(format!("cannot {what} {}: {err}", path.display()))
}

/// The file's entries and its raw text; a missing file is an empty one when
/// `missing_is_empty`.
fn load(path: &Path, missing_is_empty: bool) -> Result<(TokenSet, String), TokenCommandError> {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if missing_is_empty && e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_error(path, "read", &e)),
    };
    let set = parse(&text).map_err(|e| {
        TokenCommandError::Refused(format!("{}: {}", path.display(), malformed(&e)))
    })?;
    Ok((set, String::from_utf8_lossy(&text).into_owned()))
}

fn name_of(raw: &str) -> Result<TokenName, TokenCommandError> {
    TokenName::parse(raw).ok_or_else(|| {
        TokenCommandError::Refused(format!(
            "invalid token name {raw:?}: expected 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'"
        ))
    })
}

/// Issues a token: a new random one, whose line (name, scope, hash) is appended to
/// the file (created with mode 0600 when missing). Returns the token, which is
/// shown once and stored nowhere.
pub fn add(path: &Path, name: &str, scope: &str) -> Result<String, TokenCommandError> {
    let name = name_of(name)?;
    let scope = Scope::parse(scope).ok_or_else(|| {
        TokenCommandError::Refused(format!("invalid scope {scope:?}: expected read or write"))
    })?;
    let (set, text) = load(path, true)?;
    if set.named(&name).is_some() {
        return Err(TokenCommandError::Refused(format!(
            "a token named {name} is already in {}; remove it first to replace it",
            path.display()
        )));
    }
    let token = generate_token()
        .map_err(|e| TokenCommandError::Io(format!("cannot read random bytes from the OS: {e}")))?;
    let entry = TokenEntry {
        name,
        scope,
        hash: TokenHash::of(&token),
    };
    let separator = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    // One append of the whole line: a server reloading meanwhile sees the file
    // before or after it, never half a line.
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_error(path, "open", &e))?;
    file.write_all(format!("{separator}{}\n", entry.to_line()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, "write", &e))?;
    Ok(token)
}

/// `NAME SCOPE`, one line each: never a hash.
pub fn list(path: &Path) -> Result<Vec<String>, TokenCommandError> {
    let (set, _) = load(path, false)?;
    Ok(set
        .entries()
        .iter()
        .map(|e| format!("{} {}", e.name, e.scope))
        .collect())
}

/// Removes the named token's line, keeping every other line as it was. The new
/// file replaces the old one by a rename, with the old one's permissions, so a
/// server reloading meanwhile reads one whole file or the other.
pub fn remove(path: &Path, name: &str) -> Result<(), TokenCommandError> {
    let name = name_of(name)?;
    let (set, text) = load(path, false)?;
    if set.named(&name).is_none() {
        return Err(TokenCommandError::Refused(format!(
            "no token named {name} in {}",
            path.display()
        )));
    }
    let kept: String = text
        .lines()
        .filter(|line| line.split_whitespace().next() != Some(name.as_str()))
        .map(|line| format!("{line}\n"))
        .collect();
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.new"));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(kept.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        io_error(path, "rewrite", &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_list_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        let ci = add(&path, "ci", "write").expect("added");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a new file is for its owner only");
        let dash = add(&path, "dash", "read").expect("added");
        assert_ne!(ci, dash);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&ci) && !text.contains(&dash),
            "the file holds hashes only: {text}"
        );
        assert_eq!(list(&path).unwrap(), ["ci write", "dash read"]);
        let (set, _) = read_at_startup(&path).unwrap();
        assert_eq!(set.find(&ci).map(|e| e.scope), Some(Scope::Write));
        assert_eq!(set.find(&dash).map(|e| e.scope), Some(Scope::Read));

        let dup = add(&path, "ci", "read").expect_err("duplicate");
        assert!(matches!(dup, TokenCommandError::Refused(_)), "{dup}");
        assert!(matches!(
            add(&path, "x", "admin"),
            Err(TokenCommandError::Refused(_))
        ));
        assert!(matches!(
            add(&path, "bad name", "read"),
            Err(TokenCommandError::Refused(_))
        ));

        remove(&path, "ci").expect("removed");
        assert_eq!(list(&path).unwrap(), ["dash read"]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the rewritten file keeps its mode");
        assert!(read_at_startup(&path).unwrap().0.find(&ci).is_none());
        assert!(matches!(
            remove(&path, "ci"),
            Err(TokenCommandError::Refused(_))
        ));
    }

    #[test]
    fn remove_keeps_comments_and_add_ends_a_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        let hash = TokenHash::of("t").to_hex();
        fs::write(&path, format!("# keep me\na read {hash}")).unwrap();
        add(&path, "b", "write").unwrap();
        assert_eq!(list(&path).unwrap(), ["a read", "b write"]);
        remove(&path, "a").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# keep me\nb write "), "{text}");
    }

    #[test]
    fn startup_errors_name_the_setting_and_line_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_at_startup(&dir.path().join("none")).unwrap_err();
        assert_eq!(missing.setting, SETTING);
        assert!(missing.problem.contains("cannot read"), "{missing}");
        let path = dir.path().join("tokens");
        fs::write(&path, "# x\nci write the-token-itself\n").unwrap();
        let bad = read_at_startup(&path).unwrap_err().to_string();
        assert!(bad.contains("line 2"), "{bad}");
        assert!(bad.contains(SETTING), "{bad}");
        assert!(!bad.contains("the-token-itself"), "{bad}");
    }
}
