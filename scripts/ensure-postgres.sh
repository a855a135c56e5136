#!/usr/bin/env bash
# Makes sure a throwaway PostgreSQL answers on 127.0.0.1 for the tests, and prints
# its URL. Installs Debian's postgresql when no server binaries are found. The
# server's output goes to a log file in its state directory, never to ours.
# scripts/stop-postgres.sh stops it again (only if this script started it).
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
port="${TASKS_PG_PORT:-55432}"
state="${TASKS_PG_DIR:-${TMPDIR:-/tmp}/tasks-backend-pg}"
url="postgres://postgres@127.0.0.1:${port}/postgres"

find_bin() {
  local dirs=(/usr/lib/postgresql/*/bin)
  [[ -x "${dirs[-1]}/pg_ctl" ]] && printf '%s\n' "${dirs[-1]}"
}

bin=$(find_bin || true)
if [[ -z "$bin" ]]; then
  echo "ensure-postgres: installing Debian's postgresql" >&2
  apt_install postgresql
  # Looked up only now: on a fresh machine there was nothing to find before.
  bin=$(find_bin)
fi

if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  printf '%s\n' "$url"
  exit 0
fi

# PostgreSQL refuses to run as root.
run_as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home postgres
fi

mkdir -p "$state"
[[ $(id -u) -ne 0 ]] || chown postgres "$state"
if [[ ! -f "$state/data/PG_VERSION" ]]; then
  run_as_pg "$bin/initdb" -D "$state/data" -U postgres --auth=trust >"$state/initdb.log" 2>&1
fi
# fsync off: a test database need not survive a power cut, and it halves test time.
run_as_pg "$bin/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 30 \
  -o "-h 127.0.0.1 -p $port -k $state -c fsync=off" start >/dev/null
touch "$state/started-by-us"
printf '%s\n' "$url"
