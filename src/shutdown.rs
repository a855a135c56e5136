//! SIGTERM (what `docker stop` sends) and SIGINT (Ctrl-C) both ask for a graceful stop.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The handlers are installed when this is created, not when it is first awaited:
/// a signal that arrives during start-up must not kill the process uncleanly.
pub struct ShutdownSignal {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignal {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the next SIGTERM or SIGINT.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = self.interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
        }
    }
}
