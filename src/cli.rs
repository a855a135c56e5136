//! The command line: parse arguments and settings, then serve, probe or run a
//! maintenance command, or change a tokens file. Exit status: 0 on success, 1 on a runtime failure, 2 on a
//! bad argument or setting, or a database schema this binary may not use.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::configuration::Settings;
use crate::server::Metrics;
use crate::server::ShutdownSignal;
use crate::startup::{Application, StartupError};
use crate::{access, healthcheck, maintenance, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "tasks-backend",
    version,
    about = "A small task-tracking HTTP API",
    after_help = "Settings come from environment variables (DATABASE_URL, HOST, PORT, LOG_FORMAT, ...) \
                  or a TOML file named by CONFIG_FILE; see README.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Ask the local server's /livez; exit 0 on 200, 1 otherwise. For container health checks.
    Healthcheck,
    /// Copy the live SQLite database to DEST (a new file), consistently, while the
    /// server serves; then check the copy.
    Backup { dest: PathBuf },
    /// Show or apply the database's schema migrations, then exit.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Issue, list or remove API tokens in a tokens file (API_TOKENS_FILE's format).
    /// Needs no other setting and no database.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Clone, Subcommand)]
enum TokenAction {
    /// Create a random token (256 bits from the OS), append its name, scope and
    /// SHA-256 to the file (created with mode 0600 when missing) and print the
    /// token, once, alone on stdout.
    Add {
        name: String,
        /// read, or write (which implies read).
        scope: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Show each token's name and scope (never a hash or a token).
    List {
        #[arg(long)]
        file: PathBuf,
    },
    /// Remove the named token; servers reading the file drop it on their next reload.
    Remove {
        name: String,
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum MigrateAction {
    /// List the applied, pending and unknown-to-this-binary migrations; exit 0.
    Status,
    /// Apply the pending migrations (as start-up does), then exit.
    Up,
}

const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_SETTINGS: u8 = 2;

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // Before the settings: an operator issues tokens wherever the file is, with no
    // service settings around.
    if let Command::Token { action } = command {
        return token(action);
    }
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("tasks-backend: {err}");
            // Docker reads exit status 2 from a health check as reserved: a probe says 1.
            let code = match command {
                Command::Healthcheck => EXIT_FAILURE,
                _ => EXIT_BAD_SETTINGS,
            };
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tasks-backend: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let code = match command {
        Command::Healthcheck => runtime.block_on(healthcheck::run(&settings)),
        Command::Backup { dest } => {
            runtime.block_on(maintenance::backup(&settings.database, &dest))
        }
        Command::Migrate {
            action: MigrateAction::Status,
        } => runtime.block_on(maintenance::migrate_status(&settings.database)),
        Command::Migrate {
            action: MigrateAction::Up,
        } => runtime.block_on(maintenance::migrate_up(&settings.database)),
        Command::Token { .. } => unreachable!("handled before the settings"),
        Command::Serve => {
            // Held until the end of `run`, so buffered log lines are flushed at exit.
            let telemetry = telemetry::init(settings.log_format, &settings.log_level);
            runtime.block_on(async {
                let reporter = telemetry.as_ref().map(|t| t.spawn_drop_reporter());
                let code = serve(settings, telemetry.as_ref()).await;
                if let Some(reporter) = reporter {
                    reporter.abort();
                }
                if let Some(telemetry) = &telemetry {
                    telemetry.report_total();
                }
                code
            })
        }
    };
    // Once the work is done, nothing the runtime still holds may keep the process
    // alive: a plain drop waits without bound for blocking tasks, which cannot be
    // cancelled (a stopped server was seen to log "stopped" and not exit).
    runtime.shutdown_timeout(RUNTIME_EXIT_GRACE);
    code
}

/// How long the runtime's leftover work gets at exit.
const RUNTIME_EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

async fn serve(settings: Settings, telemetry: Option<&telemetry::Telemetry>) -> ExitCode {
    let mut shutdown = match ShutdownSignal::install() {
        Ok(shutdown) => shutdown,
        Err(err) => {
            eprintln!("tasks-backend: cannot install signal handlers: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let built = tokio::select! {
        built = Application::build(&settings) => built,
        () = shutdown.recv() => return ExitCode::SUCCESS,
    };
    let app = match built {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "start-up failed");
            eprintln!("tasks-backend: {err}");
            let code = match err {
                StartupError::BadSetting(_) | StartupError::IncompatibleSchema(_) => {
                    EXIT_BAD_SETTINGS
                }
                StartupError::Database(_) | StartupError::Signals(_) => EXIT_FAILURE,
            };
            return ExitCode::from(code);
        }
    };
    if let Some(telemetry) = telemetry {
        observe_dropped_lines(app.metrics(), telemetry);
    }
    match app
        .run_until_stopped(async move { shutdown.recv().await })
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            eprintln!("tasks-backend: server failed: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `token add | list | remove`: what is asked for on stdout (the token, the list),
/// everything else on stderr.
fn token(action: TokenAction) -> ExitCode {
    let done = match &action {
        TokenAction::Add { name, scope, file } => access::add(file, name, scope).map(|token| {
            eprintln!(
                "tasks-backend: added token {name} ({scope}) to {}; it is shown once, below",
                file.display()
            );
            println!("{token}");
        }),
        TokenAction::List { file } => access::list(file).map(|lines| {
            for line in lines {
                println!("{line}");
            }
        }),
        TokenAction::Remove { name, file } => access::remove(file, name).map(|()| {
            eprintln!(
                "tasks-backend: removed token {name} from {}",
                file.display()
            );
        }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tasks-backend: {err}");
            ExitCode::from(match err {
                access::TokenCommandError::Refused(_) => EXIT_BAD_SETTINGS,
                access::TokenCommandError::Io(_) => EXIT_FAILURE,
            })
        }
    }
}

/// The log lines dropped, as a counter read at each scrape.
fn observe_dropped_lines(metrics: &Metrics, telemetry: &telemetry::Telemetry) {
    const DROPPED: &str = "tasks_backend_log_lines_dropped_total";
    let dropped = telemetry.dropped_lines();
    metrics.record(|| {
        metrics::describe_counter!(
            DROPPED,
            "Log lines dropped because stdout was not keeping up"
        );
    });
    metrics.on_scrape(move || metrics::counter!(DROPPED).absolute(dropped() as u64));
}
