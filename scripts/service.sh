# Sourced by the scripts that test a running service from outside (schemathesis, the
# generated client): starts the executable on a temporary SQLite file and a free
# loopback port, and stops it again.
# shellcheck shell=bash

# The executable under test: TASKS_BIN, or the debug build (built when missing).
service_binary() {
  if [[ -n "${TASKS_BIN:-}" ]]; then
    echo "$TASKS_BIN"
    return
  fi
  cargo build --locked -q >&2 || return 1
  echo "${CARGO_TARGET_DIR:-target}/debug/tasks-backend"
}

# start_service BIN DIR: runs BIN on DIR/tasks.db, logging to DIR/server.log. Sets
# service_pid and service_url; fails when /health does not answer within 10 s.
start_service() {
  local bin="$1" dir="$2" port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  service_url="http://127.0.0.1:$port"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$dir/tasks.db" LOG_FORMAT=json \
    "$bin" >"$dir/server.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 50); do
    curl -sf --noproxy '*' -o /dev/null "$service_url/health" && return 0
    sleep 0.2
  done
  echo "the service did not answer /health within 10 s; its log:" >&2
  tail -20 "$dir/server.log" >&2
  return 1
}

stop_service() {
  if [[ -n "${service_pid:-}" ]]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
    service_pid=""
  fi
}
