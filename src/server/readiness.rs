use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a stop was asked for: from then on `/readyz` turns traffic away. The
/// server flips it (see `shutdown`); the app reads it.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
}

impl Readiness {
    pub(super) fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
