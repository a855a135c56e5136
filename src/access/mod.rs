//! The tokens file (`API_TOKENS_FILE`) as the service and the operator use it.
//!
//! - `live`: the set in force, and its reload on `SIGHUP` and whenever the file
//!   changes, keeping the last good set when a new file is bad;
//! - `file`: the file read at start-up (a bad one is a [`SettingsError`]), and the
//!   operator's `token add | list | remove`.
//!
//! What a line holds and how a token is checked is `domain::TokenSet`'s.

mod file;
mod live;

pub use file::{Fingerprint, TokenCommandError, add, list, read_at_startup, remove};
pub use live::{Tokens, watch};

#[cfg(doc)]
use crate::configuration::SettingsError;
