//! The service as its image runs it: a container of `TASKS_TEST_IMAGE` (as built by
//! `scripts/build/compat-image.sh` or the Nix build), on a loopback port Docker
//! picks, with the image's own user, defaults and SQLite volume. Tests that use it
//! are `#[ignore]`d and run by `scripts/test/image-api.sh`, which names the image;
//! without one they fail, saying so, rather than pass untested.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::app::TestApp;
use super::client;

/// Where the image listens (its `PORT` default), and how it is published.
const IMAGE_PORT: &str = "8000/tcp";
const PUBLISH: &str = "127.0.0.1::8000";

/// A running container, removed with its volumes when dropped; its log is shown
/// first when a test failed.
pub struct Container {
    docker: String,
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(logs) = Command::new(&self.docker)
                .args(["logs", "--tail", "40", &self.name])
                .output()
        {
            eprintln!(
                "--- last lines of {}'s log ---\n{}{}",
                self.name,
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        let _ = Command::new(&self.docker)
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

fn docker(docker: &str, args: &[&str]) -> Output {
    let output = Command::new(docker)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{docker} {args:?}: {e}"));
    assert!(
        output.status.success(),
        "{docker} {}: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `TASKS_TEST_IMAGE` with `env` and read-only bind `mounts` (host directory,
/// path in the container) and waits until `/livez` answers 200.
pub async fn spawn_image_with(env: &[(&str, &str)], mounts: &[(&Path, &str)]) -> TestApp {
    let image = std::env::var("TASKS_TEST_IMAGE")
        .expect("TASKS_TEST_IMAGE must name the image to test (scripts/test/image-api.sh sets it)");
    // The client the scripts chose (lib.sh's docker_client), else the one on PATH.
    let docker_bin = std::env::var("DOCKER").unwrap_or_else(|_| "docker".to_owned());
    let name = format!("tasks-image-test-{}-{}", std::process::id(), next_number());
    let mut args = vec![
        "run".to_owned(),
        "-d".to_owned(),
        "--name".to_owned(),
        name.clone(),
        "-p".to_owned(),
        PUBLISH.to_owned(),
    ];
    for (key, value) in env {
        args.extend(["-e".to_owned(), format!("{key}={value}")]);
    }
    for (host, inside) in mounts {
        args.extend(["-v".to_owned(), format!("{}:{inside}:ro", host.display())]);
    }
    args.push(image);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&docker_bin, &args);
    let container = Container {
        docker: docker_bin.clone(),
        name: name.clone(),
    };
    let port = docker(&docker_bin, &["port", &name, IMAGE_PORT]);
    let bound = String::from_utf8_lossy(&port.stdout);
    let address = bound
        .lines()
        .find(|l| l.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("docker port {name}: {bound}"))
        .to_owned();
    let app = TestApp::in_container(format!("http://{address}"), container);
    let client = client::http_within(Duration::from_secs(2));
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(app.url("/livez")).send().await
            && response.status() == 200
        {
            return app;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the container answers /livez within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Enough to keep the names of containers started in one test process apart.
fn next_number() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
