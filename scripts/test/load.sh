#!/usr/bin/env bash
# Bounded memory under load (issue 13), for any image of the service:
#   1. Worst-case lists: the container under README's documented memory limit
#      (MEMORY, --memory = --memory-swap, --restart on-failure:3) holds 500 tasks of
#      10 000-character descriptions; 4 x MAX_IN_FLIGHT_REQUESTS clients ask for all of
#      them at once (GET /api/tasks?limit=500) for LOAD_SECONDS. Pass: never
#      OOM-killed, never restarted, every answer 200 or 503 problem+json with
#      Retry-After, and the liveness probe answers 200 every time it is asked.
#   2. Idle and stalled connections: more than MAX_CONNECTIONS connections that send
#      nothing, half a header, or half a body. Pass: memory stays under the limit, the
#      excess is refused with 503, every stalled one is cut within its timeout plus a
#      margin, and the probe answers again once they are.
# Usage: scripts/test/load.sh IMAGE. Ends with "N passed, M failed, K skipped". Needs wrk,
# curl, jq, python3 (apt-get installs wrk when missing). About 90 s.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 IMAGE" >&2
  exit 64
fi
image="$1"
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker
# README's documented limit and the defaults it is computed from: keep in step.
memory="${MEMORY:-128m}"
in_flight=64
seconds="${LOAD_SECONDS:-20}"
# The liveness probe, never shed.
probe=/livez
run_id="tbload-$$-$RANDOM"
work="$(mktemp -d)"

apt_tool wrk wrk
apt_tool jq jq

trap 'end_run "$run_id" "$work"' EXIT

base() { echo "http://$(container_addr "$run_id-$1" 8000)"; }
state() { dk inspect -f "$2" "$run_id-$1"; }
wait_up() {
  wait_container_http "$run_id-$1" 8000 20 && return 0
  echo "container $1 not up: $(dk logs "$run_id-$1" 2>&1 | tail -n 3)" >&2
  return 1
}
# start NAME [ENV...]: the limited, hardened container on the shared data volume
start() {
  local name="$1" env=() e
  shift
  for e in "$@"; do env+=(-e "$e"); done
  dk run -d --name "$run_id-$name" "${HARDENED_RUN[@]}" --memory "$memory" --memory-swap "$memory" \
    --restart on-failure:3 -e LOG_LEVEL=warn "${env[@]}" -v "$run_id-data:/app/data" \
    -p 127.0.0.1::8000 "$image" >/dev/null
}
# peak_memory NAME SECONDS: "USAGE ANON", the cgroup's peak charge (page cache
# included) and its peak anonymous memory (the process's own), bytes.
peak_memory() { "$here/../../bench/mem.sh" container "$run_id-$1" "$2" | jq -r '"\(.cgroup_usage // 0) \(.cgroup_anon // 0)"'; }
mib() { echo "$(($1 / 1048576)) MiB"; }
# The margin README's budget leaves under the limit (page cache, kernel).
margin_bytes=$((10 << 20))
budget_bytes() { echo $(($(limit_bytes "$memory") - margin_bytes)); }
limit_bytes() { python3 -c 'import sys; v=sys.argv[1].lower(); print(int(float(v[:-1]) * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[v[-1]]))' "$1"; }

# probe_loop URL SECONDS: one probe every 0.25 s; one line per probe: its status
probe_loop() {
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}\n' "$1" || true
    sleep 0.25
  done
}

seed() {
  local url="$1" i description
  description="$(head -c 10000 /dev/zero | tr '\0' 'd')"
  for i in $(seq 500); do
    printf '{"title":"task %d","description":"%s"}' "$i" "$description" >"$work/task.json"
    curl -sf --noproxy '*' --max-time 10 -o /dev/null -H 'content-type: application/json' \
      --data-binary "@$work/task.json" "$url/api/tasks"
  done
}

worst_case_lists() {
  local url peak anon restarts oom clients=$((4 * in_flight)) summary
  start lists
  wait_up lists || return 1
  url="$(base lists)"
  seed "$url"
  [[ "$(curl -sf --noproxy '*' "$url/api/tasks?limit=1" | jq .total)" == 500 ]] || {
    echo "seeding failed" >&2
    return 1
  }
  probe_loop "$url$probe" "$seconds" >"$work/probes" &
  local prober=$!
  peak_memory lists "$seconds" >"$work/peak" &
  local sampler=$!
  wrk -t2 -c"$clients" -d"${seconds}s" --timeout 10s -s "$here/load-check.lua" \
    "$url/api/tasks?limit=500" >"$work/wrk.out" 2>&1 || true
  wait "$prober" "$sampler"
  read -r peak anon <"$work/peak"
  restarts="$(state lists '{{.RestartCount}}')"
  oom="$(state lists '{{.State.OOMKilled}}')"
  summary="$(grep '^checked' "$work/wrk.out" || echo 'checked: none')"
  local probes_ok probes_total
  probes_total="$(wc -l <"$work/probes")"
  probes_ok="$(grep -c '^200$' "$work/probes" || true)"
  echo "lists: $clients clients x ${seconds} s under --memory $memory: $summary;" \
    "peak $(mib "$peak") (anonymous $(mib "$anon"), budget $(mib "$(budget_bytes)")); OOMKilled=$oom, restarts=$restarts; $probe $probes_ok/$probes_total 200"
  [[ "$oom" == false && "$restarts" == 0 && "$(state lists '{{.State.Running}}')" == true ]] || return 1
  ((probes_total > 0 && probes_ok == probes_total)) || return 1
  # README's budget, not just the limit: the process's own memory stays within
  # the limit less the margin README leaves for page cache and the kernel.
  ((anon <= $(budget_bytes))) || return 1
  # The lua script's own verdict: some 200s, no answer other than 200 or a 503 problem.
  grep -q '^checked: ok=[1-9][0-9]* shed=[0-9]* bad=0 ' "$work/wrk.out" || return 1
}

stalled_connections() {
  local url peak anon max_connections=64 timeout=3 margin=5 verdict
  # A smaller cap and timeouts than the defaults, so the test takes seconds; the
  # mechanism is the same.
  start stalled MAX_CONNECTIONS="$max_connections" HEADER_READ_TIMEOUT_SECS="$timeout" \
    BODY_READ_TIMEOUT_SECS="$timeout" IDLE_TIMEOUT_SECS="$timeout"
  wait_up stalled || return 1
  url="$(base stalled)"
  peak_memory stalled $((timeout + margin + 2)) >"$work/peak2" &
  local sampler=$!
  verdict="$(python3 "$here/stall-connections.py" "${url#http://}" $((3 * max_connections)) \
    "$timeout" "$margin" "$probe")" || {
    echo "$verdict"
    return 1
  }
  wait "$sampler"
  read -r peak anon <"$work/peak2"
  echo "stalled: $verdict; peak $(mib "$peak") (anonymous $(mib "$anon")); restarts=$(state stalled '{{.RestartCount}}')"
  ((anon <= $(budget_bytes))) || return 1
  [[ "$(state stalled '{{.RestartCount}}')" == 0 ]] || return 1
}

dk volume create "$run_id-data" >/dev/null
check "worst-case lists under --memory $memory" "$((4 * in_flight)) clients" worst_case_lists
dk rm -f "$run_id-lists" >/dev/null
check "idle and stalled connections" "3 x MAX_CONNECTIONS" stalled_connections
summary
