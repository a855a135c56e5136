#!/usr/bin/env bash
# compose.yaml, brought up for real with Compose (`docker compose` when the client
# has it, else Debian's docker-compose 1.29, installed when missing):
#   1. the file states the hardened profile for every app service (read_only,
#      cap_drop ALL, no-new-privileges, user 10001:10001, no tmpfs, ports on
#      127.0.0.1 only, the image's own health check) plus rotated json-file logs
#      and memory/pids limits; the postgres profile has a health check, a
#      depends_on condition service_healthy, a named volume and secrets.
#   2. default (SQLite) profile: healthy by the image's check; the process is
#      confined (uid 10001, no capability, NoNewPrivs, read-only root); create,
#      read, update, delete; a task survives `down` + `up` on the named volume.
#   3. postgres profile with 2 replicas (--scale tasks-pg=2): PostgreSQL healthy
#      before the app starts, both replicas healthy, a task written through one
#      is read through the other; the password appears in no container's
#      environment (`docker inspect`) and in no log.
# Everything is torn down (`down -v`) even on failure.
# Usage: scripts/test/compose.sh IMAGE. Takes about a minute.
# Ends with "N passed, M failed, K skipped".
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 IMAGE" >&2
  exit 64
fi
export TASKS_IMAGE="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker
apt_tool jq jq
python3 -c 'import yaml' 2>/dev/null || pip_install pyyaml==6.0.3

if "$DOCKER" compose version >/dev/null 2>&1; then
  compose=("$DOCKER" compose)
else
  apt_tool docker-compose docker-compose
  compose=(docker-compose)
fi
# docker-compose 1.29 talks to the engine itself; it needs no client binary.
project="tbcompose$$"
work="$(mktemp -d)"
export TASKS_SECRETS_DIR="$work/secrets"
TASKS_PORT=$(free_port)
export TASKS_PORT
"$here/../setup/postgres-image.sh" >/dev/null
POSTGRES_IMAGE="postgres:$("$DOCKER" image ls --format '{{.Tag}}' tasks-backend-postgres | grep -E '^[0-9]+$' | head -n 1)"
export POSTGRES_IMAGE
dc() { "${compose[@]}" -p "$project" -f "$repo/compose.yaml" --profile postgres "$@"; }

cleanup() {
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -m 0700 "$TASKS_SECRETS_DIR"
password=$(random_password)
printf '%s' "$password" >"$TASKS_SECRETS_DIR/postgres-password"
printf 'postgres://tasks:%s@postgres:5432/tasks\n' "$password" >"$TASKS_SECRETS_DIR/database-url"
# Bind-mounted as they are: readable by uid 10001 and by postgres in the containers.
chmod 0644 "$TASKS_SECRETS_DIR"/*
echo "running: ${compose[*]} ($("${compose[@]}" version --short 2>/dev/null || true))"

# 1. What the file states, as Compose itself reads it.
dc config >"$work/config.yaml"
if python3 - "$work/config.yaml" "$repo/compose.yaml" >"$work/why" 2>&1 <<'EOF'; then
import sys, yaml

doc = yaml.safe_load(open(sys.argv[1]))
raw = yaml.safe_load(open(sys.argv[2]))
problems = []
def want(ok, what):
    if not ok:
        problems.append(what)
want("version" not in raw, "no top-level version (Compose spec)")
svcs = doc["services"]
for name in ("tasks-backend", "tasks-pg"):
    svc = svcs.get(name, {})
    want(svc.get("read_only") is True, f"{name}: read_only: true")
    want(svc.get("cap_drop") == ["ALL"], f"{name}: cap_drop: [ALL]")
    want("no-new-privileges:true" in svc.get("security_opt", []), f"{name}: no-new-privileges")
    want(str(svc.get("user")) == "10001:10001", f"{name}: user 10001:10001")
    for key in ("tmpfs", "privileged", "cap_add", "healthcheck", "network_mode", "pid", "ipc", "devices"):
        want(key not in svc, f"{name}: no {key}")
    ports = [p if isinstance(p, str) else f"{p.get('host_ip', '')}:{p.get('published', '')}" for p in svc.get("ports", [])]
    want(ports and all(str(p).startswith("127.0.0.1:") for p in ports), f"{name}: ports on 127.0.0.1 only")
    log = svc.get("logging", {})
    want(log.get("driver") == "json-file" and {"max-size", "max-file"} <= set(log.get("options", {})),
         f"{name}: json-file logs with max-size and max-file")
    want("mem_limit" in svc and "pids_limit" in svc, f"{name}: mem_limit and pids_limit")
want([v.split(":")[1] for v in svcs["tasks-backend"].get("volumes", [])] == ["/app/data"],
     "tasks-backend: one volume, at /app/data")
pg, app = svcs.get("postgres", {}), svcs.get("tasks-pg", {})
want(pg.get("profiles") == ["postgres"] and app.get("profiles") == ["postgres"], "postgres profile")
want("healthcheck" in pg, "postgres: a health check")
want(app.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
     "tasks-pg: depends_on postgres condition service_healthy")
want(any(v.startswith("postgres-data:") for v in pg.get("volumes", [])), "postgres: a named volume")
want(app.get("environment", {}).get("DATABASE_URL") == "" and
     app.get("environment", {}).get("DATABASE_URL_FILE", "").startswith("/run/secrets/"),
     "tasks-pg: the URL as a secret file (DATABASE_URL_FILE), the image's DATABASE_URL emptied")
want("POSTGRES_PASSWORD" not in pg.get("environment", {}), "postgres: password as a secret file")
if problems:
    sys.exit("compose.yaml lacks: " + "; ".join(problems))
EOF
  result ok "compose.yaml states the hardened profile, log rotation, limits and the postgres profile"
else
  result fail "compose.yaml states the hardened profile, log rotation, limits and the postgres profile" "$(cat "$work/why")"
fi

container_health() { "$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1"; }
all_healthy() {
  local c
  for c in "$@"; do [[ "$(container_health "$c")" == healthy ]] || return 1; done
}

# 2. The default profile: SQLite, one replica.
"${compose[@]}" -p "$project" -f "$repo/compose.yaml" up -d >"$work/up.log" 2>&1 || cat "$work/up.log" >&2
container=$(dc ps -q tasks-backend)
base="http://127.0.0.1:$TASKS_PORT"
wait_for 30 all_healthy "$container" || true
check "SQLite profile: up, healthy by the image's own check" "health: $(container_health "$container")" \
  all_healthy "$container"

pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$container")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pid/status")
rootfs=$("$DOCKER" inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$container")
mem=$("$DOCKER" inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}}' "$container")
confined() { [[ "$uid" == 10001 && "$capeff" == 0000000000000000 && "$nnp" == 1 && "$rootfs" == true && "$mem" == "134217728 128 json-file 10m" ]]; }
check "SQLite profile: the process is confined and limited" \
  "uid $uid, CapEff $capeff, NoNewPrivs $nnp, read-only rootfs $rootfs; memory, pids, log: $mem" confined

curl_json() { curl -s --noproxy '*' --max-time 5 -H 'content-type: application/json' "$@"; }
id=$(curl_json --data '{"title":"compose"}' "$base/api/tasks" | jq -r '.id // empty' 2>/dev/null || true)
patched=$(curl_json -X PATCH --data '{"title":"compose, renamed"}' "$base/api/tasks/${id:-0}" | jq -r '.title // empty' 2>/dev/null || true)
read_title=$(curl_json "$base/api/tasks/${id:-0}" | jq -r '.title // empty' 2>/dev/null || true)
id2=$(curl_json --data '{"title":"to delete"}' "$base/api/tasks" | jq -r '.id // empty' 2>/dev/null || true)
deleted=$(http_code "$base/api/tasks/${id2:-0}" -X DELETE)
gone=$(http_code "$base/api/tasks/${id2:-0}")
crud_ok() { [[ -n "$id" && "$patched" == "compose, renamed" && "$read_title" == "$patched" && "$deleted" == 204 && "$gone" == 404 ]]; }
check "SQLite profile: create, read, update, delete" \
  "task ${id:-none} patched to '$patched', read '$read_title'; delete $deleted, then GET $gone" crud_ok

"${compose[@]}" -p "$project" -f "$repo/compose.yaml" down >/dev/null 2>&1
"${compose[@]}" -p "$project" -f "$repo/compose.yaml" up -d >/dev/null 2>&1
container=$(dc ps -q tasks-backend)
wait_for 30 all_healthy "$container" || true
after=$(curl_json "$base/api/tasks/${id:-0}" | jq -r '.title // empty' 2>/dev/null || true)
check "SQLite profile: the task survives down + up on the named volume" "read back: '$after'" \
  test "$after" == "compose, renamed"
"${compose[@]}" -p "$project" -f "$repo/compose.yaml" down >/dev/null 2>&1

# 3. The postgres profile with two replicas.
t0=$SECONDS
dc up -d --scale tasks-pg=2 postgres tasks-pg >"$work/up-pg.log" 2>&1 || cat "$work/up-pg.log" >&2
pg=$(dc ps -q postgres)
mapfile -t apps < <(dc ps -q tasks-pg)
wait_for 60 all_healthy "$pg" "${apps[@]}" || true
# Compose started the app only once PostgreSQL was healthy: after the real
# server's (the last) "ready to accept connections" line; initdb before it takes
# seconds, so an app started without the condition would start before it.
pg_ready_at=$("$DOCKER" logs --timestamps "$pg" 2>&1 | awk '/ready to accept connections/ { t = $1 } END { print t }')
app_started_at=$("$DOCKER" inspect -f '{{.State.StartedAt}}' "${apps[0]:-none}" 2>/dev/null || echo none)
before() {
  python3 -c 'import re, sys
norm = lambda s: re.sub(r"\.(\d+)Z$", lambda m: "." + m[1].ljust(9, "0") + "Z", s)
sys.exit(0 if norm(sys.argv[1]) <= norm(sys.argv[2]) else 1)' "$1" "$2"
}
order_ok() {
  [[ ${#apps[@]} -eq 2 && -n "$pg_ready_at" ]] && all_healthy "$pg" "${apps[@]}" && before "$pg_ready_at" "$app_started_at"
}
check "postgres profile: PostgreSQL healthy first, then 2 app replicas healthy" \
  "${#apps[@]} replicas in $((SECONDS - t0)) s; PostgreSQL ready ${pg_ready_at:-never}, app started $app_started_at" order_ok

port1=$(dc port --index=1 tasks-pg 8000 2>/dev/null | sed "s/.*://" || true)
port2=$(dc port --index=2 tasks-pg 8000 2>/dev/null | sed "s/.*://" || true)
written=$(curl_json -D "$work/h1" --data '{"title":"shared"}' "http://127.0.0.1:${port1:-0}/api/tasks" | jq -r '.id // empty' 2>/dev/null || true)
read_other=$(curl_json -D "$work/h2" "http://127.0.0.1:${port2:-0}/api/tasks/${written:-0}" | jq -r '.title // empty' 2>/dev/null || true)
r1=$(awk 'tolower($1) == "x-replica-id:" { print $2 }' "$work/h1" 2>/dev/null | tr -d '\r')
r2=$(awk 'tolower($1) == "x-replica-id:" { print $2 }' "$work/h2" 2>/dev/null | tr -d '\r')
shared_ok() { [[ -n "$written" && "$read_other" == shared && -n "$r1" && "$r1" != "$r2" ]]; }
check "postgres profile: a task written through one replica is read through the other" \
  "task ${written:-none} via ports $port1 -> $port2, replicas '${r1:-no X-Replica-Id}' -> '${r2:-no X-Replica-Id}'" shared_ok

leaks=0
for c in "$pg" "${apps[@]}"; do
  if "$DOCKER" inspect "$c" | grep -qF "$password" || "$DOCKER" logs "$c" 2>&1 | grep -qF "$password"; then
    leaks=$((leaks + 1))
  fi
done
mounts=$("$DOCKER" inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' "${apps[0]:-none}" 2>/dev/null || true)
secret_ok() { [[ "$leaks" -eq 0 && "$mounts" == */run/secrets/database-url* ]]; }
check "postgres profile: the URL is a file under /run/secrets; the password is in no inspect output or log" \
  "mounts: ${mounts:-none}; $leaks of $((1 + ${#apps[@]})) containers leak it" secret_ok

summary
