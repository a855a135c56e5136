#!/usr/bin/env bash
# Stop the dockerd that scripts/setup/ensure-docker.sh started, and no other.
set -euo pipefail

state_dir="${DOCKER_STATE_DIR:-${TMPDIR:-/tmp}/tasks-backend-dockerd}"
pid_file="$state_dir/dockerd.pid"

if [[ ! -f "$pid_file" ]]; then
  echo "stop-docker: no $pid_file; no engine of ours to stop"
  exit 0
fi
pid="$(cat "$pid_file")"
if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]]; then
  echo "stop-docker: dockerd $pid is not running"
  rm -f "$pid_file"
  exit 0
fi
kill -TERM "$pid"
for ((i = 0; i < 30; i++)); do
  if [[ ! -e "/proc/$pid" ]]; then
    rm -f "$pid_file"
    echo "stop-docker: stopped dockerd $pid"
    exit 0
  fi
  sleep 1
done
echo "stop-docker: dockerd $pid still running after 30s" >&2
exit 1
