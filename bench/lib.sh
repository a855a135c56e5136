# Shared by the bench scripts (sourced, not run).
# shellcheck shell=bash

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this
repo_dir="$(dirname "$bench_dir")"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# shellcheck source=/dev/null
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
# The client is chosen now for the bench scripts run after ensure-docker.sh;
# run.sh, which runs ensure-docker.sh itself, chooses again after it.
docker_client

log() { echo "bench: $*" >&2; }

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait (up to $2 seconds, default 30) until URL $1 answers 200.
wait_200() {
  local url="$1" limit="${2:-30}" i
  for ((i = 0; i < limit * 20; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]] && return 0
    sleep 0.05
  done
  log "no 200 from $url within ${limit}s"
  return 1
}

# Install Debian package $2 when command $1 is missing.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
