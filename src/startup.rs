//! Start-up: prepare storage, connect and migrate the database, bind the socket.
//! Tests and the process both go through [`Application`], so a test on port 0 runs
//! exactly what production runs.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::configuration::{LimitSettings, Settings, SettingsError};
use crate::connections::LimitedAcceptor;
use crate::db::{self, ConnectError, StorageError, TaskStore};
use crate::routes::{self, AppState, Readiness};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("invalid setting HOST/PORT: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] ConnectError),
}

impl StartupError {
    /// A setting the user must change (exit status 2), as opposed to a failure that
    /// may pass (exit status 1: the orchestrator's restart may well succeed).
    pub fn is_bad_setting(&self) -> bool {
        matches!(
            self,
            Self::Settings(_)
                | Self::Storage(_)
                | Self::Bind { .. }
                | Self::Database(ConnectError::Refused { .. })
        )
    }
}

pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    store: TaskStore,
    state: AppState,
    shutdown_timeout: Duration,
    shutdown_drain: Duration,
    limits: LimitSettings,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        db::prepare_storage(&settings.database.url)?;
        let connections = db::connect(&settings.database).await?;
        let wanted = SocketAddr::new(settings.host, settings.port);
        let acceptor = TcpListener::bind(wanted)
            .into_acceptor()
            .await
            .map_err(|source| StartupError::Bind {
                addr: wanted,
                source,
            })?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(wanted);
        tracing::info!(%addr, database = %settings.database.url.redacted(), replica = %settings.replica_id, "listening");
        Ok(Self {
            acceptor,
            addr,
            store: TaskStore::new(connections),
            state: AppState {
                readiness: Arc::new(Readiness::default()),
                replica_id: settings.replica_id.clone(),
            },
            shutdown_timeout: settings.shutdown_timeout,
            shutdown_drain: settings.shutdown_drain,
            limits: settings.limits.clone(),
        })
    }

    /// The bound port: the real one when the settings asked for port 0.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves; then `/readyz` answers 503 while the server
    /// keeps serving for the drain delay (load balancers notice and move traffic
    /// away), then it stops accepting, lets in-flight requests finish (up to the
    /// shutdown timeout) and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let readiness = self.state.readiness.clone();
        let drain = self.shutdown_drain;
        let drained = async move {
            shutdown.await;
            readiness.start_draining();
            if !drain.is_zero() {
                tracing::info!(
                    drain_secs = drain.as_secs(),
                    "draining: /readyz answers 503, still serving"
                );
                tokio::time::sleep(drain).await;
            }
        };
        let acceptor = LimitedAcceptor::new(self.acceptor, &self.limits);
        let served = crate::server::serve(
            acceptor,
            routes::app(self.store.clone(), self.state, &self.limits),
            drained,
            self.shutdown_timeout,
        )
        .await;
        if let Err(err) = self.store.close().await {
            tracing::warn!(error = %err, "closing the database failed");
        }
        tracing::info!("stopped");
        served
    }
}
