use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sqlite_path(url: &DatabaseUrl) -> Option<&Path> {
    match url {
        DatabaseUrl::Sqlite { path, .. } => path.as_deref(),
        DatabaseUrl::Postgres { .. } => None,
    }
}

#[test]
fn with_nothing_set_the_defaults_apply() {
    let s = Settings::from_env(env(&[])).unwrap();
    assert_eq!(s.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(s.port, 8000);
    assert_eq!(s.database.url.expose(), "sqlite://data/tasks.db");
    assert_eq!(
        sqlite_path(&s.database.url),
        Some(Path::new("data/tasks.db"))
    );
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.shutdown.drain, Duration::ZERO);
    assert!(s.metrics_enabled, "metrics are on by default");
    assert!(s.access.tokens_file.is_none(), "tokens are off by default");
    assert!(!s.access.docs_require_token);
    assert!(s.cors.allowed_origins.is_empty(), "no CORS by default");
    assert_eq!(s.cors.max_age, Duration::from_secs(600));
}

#[test]
fn tokens_and_cors_are_read_from_the_environment_and_an_empty_file_setting_is_unset() {
    let s = Settings::from_env(env(&[
        ("API_TOKENS_FILE", "/run/secrets/tokens"),
        ("DOCS_REQUIRE_TOKEN", "true"),
        (
            "CORS_ALLOWED_ORIGINS",
            "https://a.example, http://127.0.0.1:5173",
        ),
        ("CORS_MAX_AGE_SECS", "60"),
    ]))
    .unwrap();
    assert_eq!(
        s.access.tokens_file.as_deref(),
        Some(Path::new("/run/secrets/tokens"))
    );
    assert!(s.access.docs_require_token);
    assert_eq!(
        s.cors.allowed_origins,
        ["https://a.example", "http://127.0.0.1:5173"]
    );
    assert_eq!(s.cors.max_age, Duration::from_secs(60));
    let s = Settings::from_env(env(&[("API_TOKENS_FILE", "")])).unwrap();
    assert!(s.access.tokens_file.is_none(), "empty counts as not set");
}

#[test]
fn environment_variables_override_defaults() {
    let s = Settings::from_env(env(&[
        ("HOST", "0.0.0.0"),
        ("PORT", "9000"),
        ("DATABASE_URL", "sqlite:///app/data/tasks.db"),
        ("LOG_FORMAT", "json"),
        ("SHUTDOWN_DRAIN_SECS", "5"),
        ("REPLICA_ID", "web-1"),
    ]))
    .unwrap();
    assert_eq!(s.host.to_string(), "0.0.0.0");
    assert_eq!(s.port, 9000);
    assert_eq!(
        sqlite_path(&s.database.url),
        Some(Path::new("/app/data/tasks.db"))
    );
    assert_eq!(s.log_format, LogFormat::Json);
    assert_eq!(s.shutdown.drain, Duration::from_secs(5));
    assert_eq!(s.replica_id, "web-1");
}

#[test]
fn bad_values_name_their_setting() {
    let cases = [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("HOST", "not-an-ip"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "sqlite://"),
        ("DATABASE_URL", "postgres://"),
        ("DATABASE_URL", "postgres://u:p@db:70000/t"),
        ("DATABASE_URL_FILE", "/does/not/exist"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "info,[bad"),
        ("LOG_LEVEL", "warning"),
        ("LOG_LEVEL", "info,verbose"),
        ("LOG_LEVEL", ""),
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("DATABASE_STARTUP_TIMEOUT_SECS", "soon"),
        ("SHUTDOWN_TIMEOUT_SECS", "9999"),
        ("SHUTDOWN_DRAIN_SECS", "-5"),
        ("REPLICA_ID", "has space"),
        ("CONFIG_FILE", "/does/not/exist.toml"),
        ("MAX_IN_FLIGHT_REQUESTS", "0"),
        ("MAX_IN_FLIGHT_LISTS", "0"),
        ("MAX_CONNECTIONS", "many"),
        ("HEADER_READ_TIMEOUT_SECS", "0"),
        ("BODY_READ_TIMEOUT_SECS", "-5"),
        ("REQUEST_TIMEOUT_SECS", "0"),
        ("REQUEST_TIMEOUT_SECS", "3601"),
        ("IDLE_TIMEOUT_SECS", "3601"),
        ("MAX_LIST_OFFSET", "-1"),
        ("MAX_LIST_OFFSET", "1000001"),
        ("MAX_LIST_OFFSET", "ten"),
        ("METRICS_ENABLED", "yes"),
    ];
    for (setting, value) in cases {
        let err = Settings::from_env(env(&[(setting, value)]))
            .expect_err(&format!("{setting}={value} should be refused"));
        assert_eq!(err.setting, setting, "{setting}={value}: {err}");
    }
}

#[test]
fn log_levels_and_real_directives_are_accepted() {
    for value in [
        "error",
        "WARN",
        "info",
        "debug",
        "trace",
        "off",
        "info,sqlx=warn",
        "tasks_backend=debug",
        "warn,poem=info,tasks_backend=trace",
    ] {
        let s = Settings::from_env(env(&[("LOG_LEVEL", value)]))
            .unwrap_or_else(|e| panic!("LOG_LEVEL={value} should be accepted: {e}"));
        assert_eq!(s.log_level.as_str(), value);
    }
}

#[test]
fn passwords_never_reach_an_error_or_debug_output() {
    let secret = "s3cret";
    let cases = [
        "postgres://u:s3cret@db:70000/t",
        "postgres://u:s3cret@/t",
        "mysql://user:s3cret@db/tasks",
        "postgres://u:s3cret/x@db:70000/t",
        "u:s3cret@db/tasks",
        "postgres://db/t?password=s3cret",
        "postgresql://u:s3cret@db:5432/t?sslmode=bogus&password=s3cret",
    ];
    for raw in cases {
        match DatabaseUrl::parse(raw) {
            Err(err) => assert!(!err.to_string().contains(secret), "{raw}: {err}"),
            Ok(url) => {
                assert!(!format!("{url:?}").contains(secret), "{raw}: {url:?}");
                assert!(!url.redacted().contains(secret), "{raw}");
            }
        }
    }
    let s = Settings::from_env(env(&[("DATABASE_URL", "postgres://u:s3cret@db:5432/t")])).unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains(secret), "Debug of the settings: {debug}");
    assert!(
        debug.contains("db:5432"),
        "still says which database: {debug}"
    );
}

#[test]
fn redact_masks_user_information_and_secret_parameters() {
    let cases = [
        ("postgres://u:p@db/t", "postgres://***@db/t"),
        ("postgres://db/t", "postgres://db/t"),
        ("sqlite://data/tasks.db", "sqlite://data/tasks.db"),
        ("postgres://u:p@db:70000/t", "postgres://***@db:70000/t"),
        (
            "postgres://db/t?sslmode=require&password=x",
            "postgres://db/t?sslmode=require&password=***",
        ),
        ("abc", "abc"),
    ];
    for (raw, want) in cases {
        assert_eq!(redact(raw), want, "redact({raw:?})");
    }
}

#[test]
fn the_url_can_come_from_a_file_but_not_from_both() {
    let dir = tempfile_dir("url-file");
    let file = dir.join("url");
    fs_write(&file, "postgres://u:s3cret@db:5432/tasks\n");
    let path = file.to_string_lossy().into_owned();
    let s = Settings::from_env(env(&[("DATABASE_URL_FILE", &path)])).unwrap();
    assert_eq!(s.database.url.expose(), "postgres://u:s3cret@db:5432/tasks");

    let err = Settings::from_env(env(&[
        ("DATABASE_URL_FILE", &path),
        ("DATABASE_URL", "postgres://u:other@db/t"),
    ]))
    .unwrap_err();
    assert_eq!(err.setting, "DATABASE_URL", "{err}");
    assert!(err.problem.contains("DATABASE_URL_FILE"), "{err}");
    assert!(!err.to_string().contains("other"), "{err}");

    // An empty DATABASE_URL is how a pod overrides an image's value: not set.
    let s = Settings::from_env(env(&[("DATABASE_URL_FILE", &path), ("DATABASE_URL", "")])).unwrap();
    assert!(s.database.url.expose().starts_with("postgres://"));

    fs_write(&file, "postgres://u:s3cret@db:70000/tasks\n");
    let err = Settings::from_env(env(&[("DATABASE_URL_FILE", &path)])).unwrap_err();
    assert_eq!(err.setting, "DATABASE_URL_FILE", "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_replica_id_defaults_to_the_host_name() {
    let s = Settings::from_env(env(&[("HOSTNAME", "0123abcd")])).unwrap();
    assert_eq!(s.replica_id, "0123abcd");
    let s = Settings::from_env(env(&[("HOSTNAME", "0123abcd"), ("REPLICA_ID", "r2")])).unwrap();
    assert_eq!(s.replica_id, "r2");
}

#[test]
fn a_config_file_sets_values_that_the_environment_overrides() {
    let dir = tempfile_dir("cfg");
    let file = dir.join("settings.toml");
    fs_write(&file, "port = 7000\nhost = \"0.0.0.0\"\n");
    let path = file.to_string_lossy().into_owned();
    let s = Settings::from_env(env(&[("CONFIG_FILE", &path), ("PORT", "7001")])).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((s.host.to_string().as_str(), s.port), ("0.0.0.0", 7001));
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tasks-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fs_write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
}
