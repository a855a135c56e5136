#!/usr/bin/env bash
# The hardened run profile of compose.yaml, checked on a running container:
#   1. compose.yaml states the profile: read_only, cap_drop ALL, no-new-privileges,
#      user 10001:10001, a named volume at /app/data, ports on 127.0.0.1 only, no
#      tmpfs, no privileges added, no health check override (the image's applies).
#   2. the service runs under exactly that profile: with `docker compose` when the
#      client has it, otherwise with the same settings translated to `docker run`
#      flags (printed); Docker reports it healthy by the image's own health check.
#   3. the process really is confined: uid 10001, no effective capability,
#      NoNewPrivs set, read-only root filesystem (from /proc and docker inspect).
#   4. it serves, and its data survives a restart on the named volume.
# (No setuid files, no world-writable paths, no secrets in layers: checks 14-16 of
# scripts/test-image.sh.) Usage: scripts/test-compose.sh IMAGE.
# Ends with "N passed, M failed".
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 IMAGE" >&2
  exit 64
fi
export TASKS_IMAGE="$1"
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_docker
apt_tool jq jq
repo="$(dirname "$TB_SCRIPTS")"
python3 -c 'import yaml' 2>/dev/null || pip_install pyyaml==6.0.3
project="tbcompose-$$-$RANDOM"
TASKS_PORT=$(free_port)
export TASKS_PORT
work="$(mktemp -d)"
container="" use_compose=0

cleanup() {
  if ((use_compose)); then
    "$DOCKER" compose -p "$project" -f "$repo/compose.yaml" down -v >/dev/null 2>&1 || true
  else
    remove_prefixed "$project"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Read the profile from compose.yaml; print it as `docker run` flags, one a line.
if python3 - "$repo/compose.yaml" "$project" >"$work/flags" 2>"$work/why" <<'EOF'; then
import os, re, sys, yaml

def expand(text):
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m[1], m[2]), str(text))

doc = yaml.safe_load(open(sys.argv[1]))
project = sys.argv[2]
(name, svc), = doc["services"].items()
problems = []
def want(ok, what):
    if not ok:
        problems.append(what)
want(svc.get("read_only") is True, "read_only: true")
want(svc.get("cap_drop") == ["ALL"], "cap_drop: [ALL]")
want("no-new-privileges:true" in svc.get("security_opt", []), "security_opt no-new-privileges:true")
want(str(svc.get("user")) == "10001:10001", "user: 10001:10001")
for key in ("tmpfs", "privileged", "cap_add", "healthcheck", "network_mode", "pid", "ipc", "devices"):
    want(key not in svc, f"no {key}")
volumes = [v.split(":") for v in svc.get("volumes", [])]
want([v[1:] for v in volumes] == [["/app/data"]], "exactly one volume, at /app/data, read-write")
want(all(v[0] in (doc.get("volumes") or {}) for v in volumes), "the volume is a declared named volume")
ports = [expand(p) for p in svc.get("ports", [])]
want(ports and all(p.startswith("127.0.0.1:") for p in ports), "ports published on 127.0.0.1 only")
if problems:
    sys.exit("compose.yaml lacks: " + "; ".join(problems))
print("--read-only")
print("--cap-drop=ALL")
for opt in svc["security_opt"]:
    print(f"--security-opt={opt}")
print(f"--user={svc['user']}")
for source, target in volumes:
    print(f"--volume={project}-{source}:{target}")
for port in ports:
    print(f"--publish={port}")
print(f"--restart={svc.get('restart', 'no')}")
print(expand(svc["image"]))
EOF
  result ok "compose.yaml states the hardened profile" "$(head -n -1 "$work/flags" | tr '\n' ' ')"
else
  result fail "compose.yaml states the hardened profile" "$(cat "$work/why")"
  summary
  exit 1
fi

# 2. Run it.
if "$DOCKER" compose version >/dev/null 2>&1; then
  use_compose=1
  how="docker compose up"
  "$DOCKER" compose -p "$project" -f "$repo/compose.yaml" up -d >/dev/null
  container=$("$DOCKER" compose -p "$project" -f "$repo/compose.yaml" ps -q tasks-backend)
else
  how="docker run with the same settings (this Docker client has no compose)"
  mapfile -t flags <"$work/flags"
  container="$project-tasks-backend"
  "$DOCKER" run -d --name "$container" "${flags[@]}" >/dev/null
fi
echo "running: $how"
base="http://127.0.0.1:$TASKS_PORT"
wait_container_health "$container" 20 || true
health=$(dk inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$container")
if [[ "$health" == healthy ]]; then r=ok; else r=fail; fi
result "$r" "the service runs under the profile and the image's health check says healthy" "$how; health: ${health:-none}"

# 3. The process as the kernel sees it.
pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$container")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pid/status")
rootfs=$("$DOCKER" inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$container")
detail="uid $uid, CapEff $capeff, NoNewPrivs $nnp, read-only rootfs $rootfs"
if [[ "$uid" == 10001 && "$capeff" == 0000000000000000 && "$nnp" == 1 && "$rootfs" == true ]]; then r=ok; else r=fail; fi
result "$r" "the process is confined" "$detail"

# 4. It serves, and keeps its data across a restart.
created=$(curl -sf --noproxy '*' --max-time 5 -H 'content-type: application/json' \
  --data '{"title":"hardened"}' "$base/api/tasks" || true)
id=$(jq -r '.id // empty' <<<"$created" 2>/dev/null || true)
"$DOCKER" restart -t 10 "$container" >/dev/null
read_back=""
for _ in $(seq 50); do
  read_back=$(curl -sf --noproxy '*' --max-time 2 "$base/api/tasks/${id:-0}" || true)
  [[ -z "$read_back" ]] || break
  sleep 0.2
done
if [[ -n "$id" && "$(jq -r .title <<<"$read_back" 2>/dev/null)" == hardened ]]; then r=ok; else r=fail; fi
result "$r" "it serves and its data survives a restart on the named volume" "task ${id:-none}"

summary
