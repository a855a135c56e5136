//! `tasks-backend healthcheck`: the container images' health check. It speaks just
//! enough HTTP/1.1 to read one status line, so the images need no shell or curl.
//!
//! It asks `/livez`, not `/health`: Docker and Swarm restart a container whose
//! health check fails, and a database outage must not get every replica restarted
//! in a loop (they recover by themselves when the database is back).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::configuration::Settings;
use crate::routes::LIVENESS_PATH as PATH;

/// Docker's health-check timeout in both images is 3 s; answer before it.
const BUDGET: Duration = Duration::from_millis(2500);

pub async fn run(settings: &Settings) -> ExitCode {
    let addr = SocketAddr::new(probe_ip(settings.host), settings.port);
    match tokio::time::timeout(BUDGET, status_of(addr)).await {
        Ok(Ok(200)) => ExitCode::SUCCESS,
        Ok(Ok(status)) => {
            eprintln!("unhealthy: GET http://{addr}{PATH} answered {status}");
            ExitCode::FAILURE
        }
        Ok(Err(err)) => {
            eprintln!("unhealthy: GET http://{addr}{PATH} failed: {err}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("unhealthy: GET http://{addr}{PATH} took over {BUDGET:?}");
            ExitCode::FAILURE
        }
    }
}

/// The address to probe: loopback when the server listens on all interfaces.
fn probe_ip(host: IpAddr) -> IpAddr {
    match host {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

async fn status_of(addr: SocketAddr) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {PATH} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status_line(&head).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no HTTP status line in the answer",
        )
    })
}

fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_or_refused() {
        let cases: [(&[u8], Option<u16>); 5] = [
            (b"HTTP/1.1 200 OK\r\n", Some(200)),
            (
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: x\r\n",
                Some(503),
            ),
            (b"HTTP/1.0 404\r\n", Some(404)),
            (b"SSH-2.0-OpenSSH\r\n", None),
            (b"", None),
        ];
        for (head, want) in cases {
            assert_eq!(
                parse_status_line(head),
                want,
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn an_all_interfaces_host_is_probed_on_loopback() {
        assert_eq!(
            probe_ip("0.0.0.0".parse().unwrap()).to_string(),
            "127.0.0.1"
        );
        assert_eq!(probe_ip("::".parse().unwrap()).to_string(), "::1");
        assert_eq!(
            probe_ip("127.0.0.2".parse().unwrap()).to_string(),
            "127.0.0.2"
        );
    }
}
