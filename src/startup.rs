//! Start-up: prepare storage, connect and migrate the database, bind the socket.
//! Tests and the process both go through [`Application`], so a test on port 0 runs
//! exactly what production runs.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::configuration::{LimitSettings, Settings, SettingsError};
use crate::connections::LimitedAcceptor;
use crate::db::{self, ConnectError, TaskStore};
use crate::routes;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("invalid setting HOST/PORT: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] ConnectError),
}

pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    store: TaskStore,
    shutdown_timeout: Duration,
    limits: LimitSettings,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        settings.database.url.prepare_storage()?;
        let db = db::connect(&settings.database).await?;
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
        tracing::info!(%addr, database = %settings.database.url.redacted(), "listening");
        Ok(Self {
            acceptor,
            addr,
            store: TaskStore::new(db),
            shutdown_timeout: settings.shutdown_timeout,
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

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests
    /// finish (up to the shutdown timeout) and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let acceptor = LimitedAcceptor::new(self.acceptor, &self.limits);
        let served = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                routes::app(self.store.clone(), &self.limits),
                shutdown,
                Some(self.shutdown_timeout),
            )
            .await;
        if let Err(err) = self.store.close().await {
            tracing::warn!(error = %err, "closing the database failed");
        }
        tracing::info!("stopped");
        served
    }
}
