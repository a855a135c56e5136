#!/usr/bin/env bash
# Stops the PostgreSQL that scripts/ensure-postgres.sh started (and nothing else).
set -euo pipefail

state="${TASKS_PG_DIR:-${TMPDIR:-/tmp}/tasks-backend-pg}"
[[ -f "$state/started-by-us" ]] || exit 0
dirs=(/usr/lib/postgresql/*/bin)
if [[ $(id -u) -eq 0 ]]; then
  runuser -u postgres -- "${dirs[-1]}/pg_ctl" -D "$state/data" -m fast -w stop >/dev/null
else
  "${dirs[-1]}/pg_ctl" -D "$state/data" -m fast -w stop >/dev/null
fi
rm -f "$state/started-by-us"
