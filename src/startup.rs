//! Start-up: prepare storage, connect and migrate the database, bind the socket, and
//! put the server together. Tests and the process both go through [`Application`],
//! so a test on port 0 runs exactly what production runs.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use crate::configuration::{Settings, SettingsError};
use crate::db::{self, ConnectError, TaskStore};
use crate::routes::{self, AppState};
use crate::server::{Listener, Readiness, Refusal, Server};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting the user must change (exit status 2), whichever layer found it.
    #[error(transparent)]
    BadSetting(#[from] SettingsError),
    /// A failure that may pass (exit status 1): the orchestrator's restart may well
    /// succeed.
    #[error(transparent)]
    Database(ConnectError),
}

impl From<ConnectError> for StartupError {
    fn from(err: ConnectError) -> Self {
        match err {
            ConnectError::Refused(bad) => Self::BadSetting(bad),
            other => Self::Database(other),
        }
    }
}

/// The service, built and bound: [`Application::run_until_stopped`] only runs it.
pub struct Application {
    server: Server,
    /// Closed once the server has stopped.
    store: TaskStore,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        db::prepare_storage(&settings.database.url)?;
        let store = TaskStore::new(db::connect(&settings.database).await?);
        let wanted = SocketAddr::new(settings.host, settings.port);
        let listener = Listener::bind(wanted)
            .await
            .map_err(|err| cannot_listen(wanted, &err))?;
        let readiness = Readiness::default();
        let app = routes::app(
            store.clone(),
            AppState {
                readiness: readiness.clone(),
                replica_id: settings.replica_id.clone(),
            },
            &settings.requests,
        );
        let server = Server::new(
            listener,
            app,
            settings.connections,
            Refusal::render(routes::render),
            readiness,
            settings.shutdown,
        );
        tracing::info!(addr = %server.addr(), database = %settings.database.url.redacted(), replica = %settings.replica_id, "listening");
        Ok(Self { server, store })
    }

    /// The bound port: the real one when the settings asked for port 0.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Serves until `shutdown` resolves and the server has stopped (see
    /// [`Server::run`]), then closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let served = self.server.run(shutdown).await;
        if let Err(err) = self.store.close().await {
            tracing::warn!(error = %err, "closing the database failed");
        }
        tracing::info!("stopped");
        served
    }
}

/// The kernel's answer says which setting is wrong: an address this host does not
/// have is `HOST`'s; a port in use or reserved is `PORT`'s.
fn cannot_listen(addr: SocketAddr, err: &io::Error) -> SettingsError {
    let problem = format!("cannot listen on {addr}: {err}");
    match err.kind() {
        io::ErrorKind::AddrNotAvailable => {
            SettingsError::new("HOST", &addr.ip().to_string(), problem)
        }
        _ => SettingsError::new("PORT", &addr.port().to_string(), problem),
    }
}
