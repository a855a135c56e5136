//! Start-up: prepare storage, connect and migrate the database, bind the socket, and
//! put the server together. Tests and the process both go through [`Application`],
//! so a test on port 0 runs exactly what production runs.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use crate::access::{self, Tokens};
use crate::configuration::{Settings, SettingsError};
use crate::db::{self, ConnectError, SchemaError, TaskStore};
use crate::routes::{self, AppState};
use crate::server::{Listener, Metrics, Observe, Readiness, Refusal, Server};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting the user must change (exit status 2), whichever layer found it.
    #[error(transparent)]
    BadSetting(#[from] SettingsError),
    /// A failure that may pass (exit status 1): the orchestrator's restart may well
    /// succeed.
    #[error(transparent)]
    Database(ConnectError),
    /// The database holds migrations this binary may not use (exit status 2): no
    /// restart will change that; an operator picks another release.
    #[error(transparent)]
    IncompatibleSchema(SchemaError),
    /// The `SIGHUP` handler that reloads the tokens could not be installed (exit 1).
    #[error("cannot install the SIGHUP handler for API_TOKENS_FILE: {0}")]
    Signals(io::Error),
}

impl From<ConnectError> for StartupError {
    fn from(err: ConnectError) -> Self {
        match err {
            ConnectError::Refused(bad) => Self::BadSetting(bad),
            ConnectError::Schema(err @ SchemaError::Incompatible { .. }) => {
                Self::IncompatibleSchema(err)
            }
            other => Self::Database(other),
        }
    }
}

/// The service, built and bound: [`Application::run_until_stopped`] only runs it.
pub struct Application {
    server: Server,
    /// Closed once the server has stopped.
    store: TaskStore,
    metrics: Metrics,
    /// Reloads the tokens; stopped with the server.
    token_watch: Option<tokio::task::JoinHandle<()>>,
    /// How long closing the database may take once the server has stopped.
    close_within: std::time::Duration,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        // First: a bad tokens file is a bad setting, found before any other work.
        let tokens = match &settings.access.tokens_file {
            Some(path) => {
                let (set, read) = access::read_at_startup(path)?;
                tracing::info!(tokens = set.len(), "API tokens on (API_TOKENS_FILE)");
                Some((Tokens::new(set), path.clone(), read))
            }
            None => None,
        };
        db::prepare_storage(&settings.database.url)?;
        let store = TaskStore::new(db::connect(&settings.database).await?);
        let wanted = SocketAddr::new(settings.host, settings.port);
        let listener = Listener::bind(wanted)
            .await
            .map_err(|err| cannot_listen(wanted, &err))?;
        let readiness = Readiness::default();
        let metrics = Metrics::new(settings.metrics_enabled);
        observe_store(&metrics, &store);
        let token_watch = match &tokens {
            Some((tokens, path, read)) => Some(
                access::watch(tokens.clone(), path.clone(), *read)
                    .map_err(StartupError::Signals)?,
            ),
            None => None,
        };
        let app = routes::app(
            store.clone(),
            AppState {
                readiness: readiness.clone(),
                replica_id: settings.replica_id.clone(),
                metrics: metrics.clone(),
            },
            &settings.requests,
            routes::Access {
                tokens: tokens.map(|(tokens, _, _)| tokens),
                docs_require_token: settings.access.docs_require_token,
            },
            &settings.cors,
        );
        let server = Server::new(
            listener,
            app,
            settings.connections,
            Refusal::render(routes::render),
            readiness,
            settings.shutdown,
            Observe {
                metrics: metrics.clone(),
                route_of: routes::route_of(),
            },
        );
        tracing::info!(addr = %server.addr(), database = %settings.database.url.redacted(), replica = %settings.replica_id, "listening");
        Ok(Self {
            server,
            store,
            metrics,
            token_watch,
            // The shutdown timeout again, at least a second (SQLite checkpoints its
            // WAL as it closes).
            close_within: settings
                .shutdown
                .timeout
                .max(std::time::Duration::from_secs(1)),
        })
    }

    /// The registry `/metrics` renders, for the process to add what it alone knows
    /// (the log lines dropped).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The bound port: the real one when the settings asked for port 0.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Serves until `shutdown` resolves and the server has stopped (see
    /// [`Server::run`]), then closes the database, within `close_within`.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let served = self.server.run(shutdown).await;
        if let Some(watch) = self.token_watch {
            watch.abort();
        }
        // The pool's close waits for every connection to come back; one a cut
        // request left waiting in the database (behind a lock) comes back only when
        // the database answers it, so the close is bounded: past it the process
        // exits and the database ends those sessions when their sockets close.
        match tokio::time::timeout(self.close_within, self.store.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "closing the database failed"),
            Err(_) => tracing::warn!(
                timeout_secs = self.close_within.as_secs(),
                "database connections still in use after the timeout; exiting without them"
            ),
        }
        tracing::info!("stopped");
        served
    }
}

/// The two pools' figures, read at each scrape, under OpenTelemetry's names for
/// database client connection pools; and how many creates each commit carried.
fn observe_store(metrics: &Metrics, store: &TaskStore) {
    use ::metrics::{counter, describe_counter, describe_gauge, gauge};
    const COMMITS: &str = "tasks_backend_create_commits_total";
    const CREATED: &str = "tasks_backend_tasks_created_total";
    const COUNT: &str = "db_client_connection_count";
    const MAX: &str = "db_client_connection_max";
    const PENDING: &str = "db_client_connection_pending_requests";
    const TIMEOUTS: &str = "db_client_connection_timeouts_total";
    const POOL: &str = "db_client_connection_pool_name";
    const STATE: &str = "db_client_connection_state";
    metrics.record(|| {
        describe_gauge!(
            COUNT,
            "Open database connections, by pool and state (idle, used)"
        );
        describe_gauge!(MAX, "The bound on a pool's connections");
        describe_gauge!(
            PENDING,
            "Store operations waiting for a connection (on SQLite, or for their turn to write)"
        );
        describe_counter!(
            TIMEOUTS,
            "Store operations that gave up waiting for a connection"
        );
        describe_counter!(
            COMMITS,
            "Commits that created tasks (on SQLite, creates that wait share one)"
        );
        describe_counter!(CREATED, "Tasks created");
    });
    let store = store.clone();
    metrics.on_scrape(move || {
        for pool in store.pool_stats() {
            gauge!(COUNT, POOL => pool.name, STATE => "idle").set(pool.idle);
            gauge!(COUNT, POOL => pool.name, STATE => "used")
                .set(pool.open.saturating_sub(pool.idle));
            gauge!(MAX, POOL => pool.name).set(pool.max);
            gauge!(PENDING, POOL => pool.name).set(pool.pending);
            counter!(TIMEOUTS, POOL => pool.name).absolute(pool.timeouts);
        }
        let (commits, created) = store.create_counts();
        counter!(COMMITS).absolute(commits);
        counter!(CREATED).absolute(created);
    });
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
