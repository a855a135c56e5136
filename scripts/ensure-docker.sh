#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
# If `$DOCKER info` fails: install Debian's docker.io when it is missing, start
# dockerd in the background (pid file and log under $DOCKER_STATE_DIR, default
# ${TMPDIR:-/tmp}/tasks-backend-dockerd) and wait until it answers.
# Idempotent. scripts/stop-docker.sh stops only an engine this script started.
set -euo pipefail

# shellcheck source=scripts/docker-client.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-client.sh"
state_dir="${DOCKER_STATE_DIR:-${TMPDIR:-/tmp}/tasks-backend-dockerd}"
pid_file="$state_dir/dockerd.pid"
log_file="$state_dir/dockerd.log"
wait_seconds="${DOCKER_WAIT_SECONDS:-60}"

if "$DOCKER" info >/dev/null 2>&1; then
  echo "ensure-docker: engine answers"
  exit 0
fi
mkdir -p "$state_dir"

if ! command -v dockerd >/dev/null 2>&1 || [[ ! -x /usr/bin/docker ]]; then
  echo "ensure-docker: installing Debian's docker.io (log $state_dir/apt.log)"
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; } \
    >"$state_dir/apt.log" 2>&1; then
    tail -n 20 "$state_dir/apt.log" >&2
    exit 1
  fi
  [[ "$DOCKER" != docker ]] || DOCKER=/usr/bin/docker
fi

ours_running() { [[ -f "$pid_file" && "$(cat "/proc/$(cat "$pid_file")/comm" 2>/dev/null)" == dockerd ]]; }

if ours_running; then
  echo "ensure-docker: dockerd $(cat "$pid_file") already started, waiting for it"
else
  # setsid: the engine outlives this shell and gets no terminal signals.
  setsid dockerd >"$log_file" 2>&1 </dev/null &
  echo "$!" >"$pid_file"
  echo "ensure-docker: started dockerd pid $(cat "$pid_file"), log $log_file"
fi

for ((i = 0; i < wait_seconds; i++)); do
  if "$DOCKER" info >/dev/null 2>&1; then
    echo "ensure-docker: engine answers (pid file $pid_file)"
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
