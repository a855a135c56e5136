#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, with a client whose BuildKit
# works. Installs Debian's docker.io when its client (/usr/bin/docker) or dockerd
# is missing (unless $DOCKER names another client), starts dockerd in the
# background when no engine answers (pid file and log under $DOCKER_STATE_DIR,
# default ${TMPDIR:-/tmp}/tasks-backend-dockerd) and waits until it answers.
# Idempotent. scripts/setup/stop-docker.sh stops only an engine this script started.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
state_dir="${DOCKER_STATE_DIR:-${TMPDIR:-/tmp}/tasks-backend-dockerd}"
pid_file="$state_dir/dockerd.pid"
log_file="$state_dir/dockerd.log"
wait_seconds="${DOCKER_WAIT_SECONDS:-60}"
mkdir -p "$state_dir"

# Installed before the engine is asked: an engine may answer the newer client on
# PATH while Debian's client, the one builds need, is still missing.
if [[ -z "$tb_docker_override" && ! -x /usr/bin/docker ]] || ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing Debian's docker.io"
  apt_install docker.io
fi
# Chosen only now, after the install.
docker_client

if "$DOCKER" info >/dev/null 2>&1; then
  echo "ensure-docker: engine answers ($DOCKER)"
  exit 0
fi

ours_running() { [[ -f "$pid_file" && "$(cat "/proc/$(cat "$pid_file")/comm" 2>/dev/null)" == dockerd ]]; }

if ours_running; then
  echo "ensure-docker: dockerd $(cat "$pid_file") already started, waiting for it"
else
  # setsid: the engine outlives this shell and gets no terminal signals.
  setsid "$(command -v dockerd)" >"$log_file" 2>&1 </dev/null &
  echo "$!" >"$pid_file"
  echo "ensure-docker: started dockerd pid $(cat "$pid_file"), log $log_file"
fi

for ((i = 0; i < wait_seconds; i++)); do
  if "$DOCKER" info >/dev/null 2>&1; then
    echo "ensure-docker: engine answers ($DOCKER; pid file $pid_file)"
    exit 0
  fi
  if ! ours_running; then
    echo "ensure-docker: dockerd exited; last lines of $log_file:" >&2
    tail -n 20 "$log_file" >&2
    exit 1
  fi
  sleep 1
done
echo "ensure-docker: engine did not answer within ${wait_seconds}s; see $log_file" >&2
exit 1
