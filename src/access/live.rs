//! The tokens in force, replaced whole when the file changes: a request sees the
//! old set or the new one, never a mix, and never waits on a reload.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

use super::file::{Fingerprint, malformed, parse};
use crate::domain::TokenSet;

/// How often the file is read for a change. Kubernetes updates a mounted secret
/// by swapping a symlink (`..data`) over a new directory, which inotify on the
/// file's path does not report reliably, and other orchestrators copy files in
/// place; reading a small file every two seconds sees both, at a negligible cost.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// The set in force, shared by every request.
#[derive(Clone)]
pub struct Tokens {
    current: Arc<RwLock<Arc<TokenSet>>>,
}

impl Tokens {
    pub fn new(set: TokenSet) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(set))),
        }
    }

    /// The set in force now. The lock is held only to clone an `Arc`.
    pub fn current(&self) -> Arc<TokenSet> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, set: TokenSet) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
    }
}

/// Reloads `tokens` from `path` on every `SIGHUP`, and whenever the file's content
/// changes (polled). A file that cannot be read or does not parse keeps the set in
/// force and logs one line, once per change (not once per poll). The handler for
/// `SIGHUP` is installed before this returns, so a `SIGHUP` no longer ends the
/// process. `read` is what the set in force was read from.
pub fn watch(tokens: Tokens, path: PathBuf, read: Fingerprint) -> std::io::Result<JoinHandle<()>> {
    let mut hangup = signal(SignalKind::hangup())?;
    let mut last = Some(read);
    Ok(tokio::spawn(async move {
        loop {
            let asked = tokio::select! {
                _ = hangup.recv() => true,
                () = tokio::time::sleep(POLL_EVERY) => false,
            };
            let seen = match tokio::fs::read(&path).await {
                Ok(bytes) => Ok(bytes),
                Err(e) => Err(e.kind()),
            };
            let now = seen.as_ref().ok().map(|b| Fingerprint::of(b));
            if !asked && now == last {
                continue;
            }
            last = now;
            let why = if asked { "SIGHUP" } else { "file changed" };
            match seen {
                Err(kind) => tracing::warn!(
                    setting = "API_TOKENS_FILE",
                    reason = why,
                    "cannot read the tokens file ({kind}); keeping the last good tokens"
                ),
                Ok(bytes) => match parse(&bytes) {
                    Ok(set) => {
                        let count = set.len();
                        tokens.replace(set);
                        tracing::info!(
                            setting = "API_TOKENS_FILE",
                            reason = why,
                            tokens = count,
                            "API tokens reloaded"
                        );
                    }
                    Err(err) => tracing::warn!(
                        setting = "API_TOKENS_FILE",
                        reason = why,
                        "{}; keeping the last good tokens",
                        malformed(&err)
                    ),
                },
            }
        }
    }))
}
