#!/usr/bin/env bash
# IMAGE reaches PostgreSQL by a host name, the two ways containers get one:
#   1. Docker's embedded DNS: on a user-defined network, by a network alias;
#   2. /etc/hosts: on the default bridge (no embedded DNS there), by a name given
#      with --add-host under the reserved .invalid domain, which no DNS server
#      answers, so only the hosts file can resolve it.
# Each time the service must start on PostgreSQL, report healthy, write a task
# and read it back. A change of libc, base image or static linking that breaks
# name resolution fails here. The server is the local stand-in
# (scripts/setup/postgres-image.sh). Usage: scripts/test/postgres-dns.sh IMAGE
# Ends with "N passed, M failed, K skipped".
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 IMAGE" >&2
  exit 64
fi
image="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker

name="tbdns-$$"
net="$name-net"
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do
    "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true
  done
  "$DOCKER" network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$here/../setup/postgres-image.sh" >/dev/null
major=$("$DOCKER" image ls --format '{{.Tag}}' tasks-backend-postgres | grep -E '^[0-9]+$' | head -n 1)
password=$(random_password)

"$DOCKER" network create "$name-net" >/dev/null
# On the default bridge first (for the --add-host case), then on the user network
# under the alias the first case resolves.
containers+=("$name-pg")
"$DOCKER" run -d --name "$name-pg" -e POSTGRES_USER=tasks -e POSTGRES_DB=tasks \
  -e POSTGRES_PASSWORD="$password" "tasks-backend-postgres:$major" >/dev/null
"$DOCKER" network connect --alias pg-by-dns "$net" "$name-pg"
pg_ready() { "$DOCKER" exec "$name-pg" pg_isready -q -h 127.0.0.1 -U tasks -d tasks; }
if ! wait_for 60 pg_ready; then
  result fail "PostgreSQL stand-in starts" "$("$DOCKER" logs --tail 5 "$name-pg" 2>&1 | tr '\n' ' ')"
  summary
  exit 1
fi
bridge_ip=$("$DOCKER" inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' "$name-pg")

# run_case LABEL HOSTNAME DOCKER-RUN-FLAGS...
run_case() {
  local label="$1" host="$2" port c code created id got logs
  shift 2
  port=$(free_port)
  c="$name-$label"
  containers+=("$c")
  "$DOCKER" run -d --name "$c" -p "127.0.0.1:$port:8000" "$@" \
    -e "DATABASE_URL=postgres://tasks:$password@$host:5432/tasks" "$image" >/dev/null
  healthy() { [[ "$(http_code "http://127.0.0.1:$port/health")" == 200 ]]; }
  wait_for 60 healthy || true
  code=$(http_code "http://127.0.0.1:$port/health")
  created=$(curl -sf --noproxy '*' --max-time 5 -H 'content-type: application/json' \
    --data "{\"title\":\"via $label\"}" "http://127.0.0.1:$port/api/tasks" || true)
  id=$(jq -r '.id // empty' <<<"$created" 2>/dev/null || true)
  got=$(curl -sf --noproxy '*' --max-time 5 "http://127.0.0.1:$port/api/tasks/${id:-0}" | jq -r .title 2>/dev/null || true)
  if [[ "$code" == 200 && "$got" == "via $label" ]]; then
    result ok "$image reaches PostgreSQL as '$host' ($label)" "/health 200, task $id written and read back"
  else
    logs=$("$DOCKER" logs --tail 3 "$c" 2>&1 | sed "s/$password/<redacted>/g" | tr '\n' ' ')
    result fail "$image reaches PostgreSQL as '$host' ($label)" "/health $code, task '${id:-none}'; logs: $logs"
  fi
}

run_case dns pg-by-dns --network "$net"
run_case hosts pg-by-hosts.invalid --add-host "pg-by-hosts.invalid:$bridge_ip"
summary
