#!/usr/bin/env bash
# Memory and throughput under the worst case of issue 13: 500 tasks of 10 000-character
# descriptions, CONNS clients (256) all asking for every one of them
# (GET /api/tasks?limit=500) for SECONDS (20), on the compat container, with and
# without a memory limit. Writes OUT/worst-case.json (one object per run) and prints
# a Markdown table.
# Usage: bench/worst-case.sh OUT IMAGE:LABEL:MEMORY:ENV... (MEMORY "none" = no limit;
#   ENV is comma-separated NAME=VALUE, may be empty). Example:
#   bench/worst-case.sh bench/results tasks-backend:compat:before:none: \
#     tasks-backend:compat-h6:limits:128m:
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="$1"
shift
seconds="${SECONDS_PER_RUN:-20}" conns="${CONNS:-256}"
run_id="tasks-backend-worst=$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-worst.XXXXXX")"
cleanup() {
  local ids
  ids="$("$DOCKER" ps -aq --filter "label=$run_id" 2>/dev/null || true)"
  # shellcheck disable=SC2086 # one id per word
  if [[ -n "$ids" ]]; then "$DOCKER" rm -f $ids >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"
: >"$work/all.json"

description="$(head -c 10000 /dev/zero | tr '\0' 'd')"
for spec in "$@"; do
  IFS=: read -r image tag label memory env <<<"$spec"
  image="$image:$tag"
  args=(run -d --label "$run_id" -p 127.0.0.1::8000 -e LOG_LEVEL=warn)
  if [[ "$memory" != none ]]; then args+=(--memory "$memory" --memory-swap "$memory"); fi
  IFS=, read -ra envs <<<"$env"
  for e in "${envs[@]}"; do args+=(-e "$e"); done
  cid="$("$DOCKER" "${args[@]}" "$image")"
  url="http://$("$DOCKER" port "$cid" 8000/tcp | grep '^127\.0\.0\.1:' | head -n 1)"
  wait_http "$url/health" 30 || { log "no 200 from $url/health within 30 s"; exit 1; }
  for i in $(seq 500); do
    printf '{"title":"task %d","description":"%s"}' "$i" "$description" >"$work/task.json"
    curl -sf --noproxy '*' -o /dev/null -H 'content-type: application/json' \
      --data-binary "@$work/task.json" "$url/api/tasks"
  done
  idle="$("$bench_dir/mem.sh" container "$cid" | jq .cgroup_usage)"
  "$bench_dir/mem.sh" container "$cid" "$seconds" >"$work/peak.json" &
  sampler=$!
  wrk_out="$(wrk -t2 -c"$conns" -d"${seconds}s" --timeout 10s -s "$bench_dir/../scripts/test/load-check.lua" \
    "$url/api/tasks?limit=500" 2>&1 || true)"
  wait "$sampler" || true
  oom="$("$DOCKER" inspect -f '{{.State.OOMKilled}}' "$cid")"
  running="$("$DOCKER" inspect -f '{{.State.Running}}' "$cid")"
  read -r ok shed bad sockerr rps < <(sed -n 's/^checked: ok=\([0-9]*\) shed=\([0-9]*\) bad=\([0-9]*\) socket_errors=\([0-9]*\) requests_per_s=\([0-9.]*\)$/\1 \2 \3 \4 \5/p' <<<"$wrk_out")
  jq -nc --arg name "$label" --arg image "$image" --arg memory "$memory" --arg env "$env" \
    --argjson idle "$idle" --slurpfile peak "$work/peak.json" --arg oom "$oom" --arg running "$running" \
    --argjson ok "${ok:-0}" --argjson shed "${shed:-0}" --argjson bad "${bad:-0}" \
    --argjson socket_errors "${sockerr:-0}" --argjson rps "${rps:-0}" --argjson conns "$conns" \
    --argjson seconds "$seconds" \
    '{"label":$name, image:$image, memory_limit:$memory, env:$env, connections:$conns, seconds:$seconds,
      idle_bytes:$idle, peak:$peak[0], oom_killed:($oom=="true"), running_after:($running=="true"),
      ok_200:$ok, shed_503:$shed, other:$bad, socket_errors:$socket_errors, rps:$rps,
      ok_per_s:($ok / $seconds)}' >>"$work/all.json"
  log "$label: $(tail -n 1 "$work/all.json")"
  "$DOCKER" rm -f "$cid" >/dev/null
done
jq -s '.' "$work/all.json" >"$out/worst-case.json"
echo "| run | memory limit | 200/s | 503 | other / socket errors | peak cgroup memory | OOM-killed |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
jq -r '.[] | "| \(.label) | \(.memory_limit) | \(.ok_per_s | floor) | \(.shed_503) | \(.other) / \(.socket_errors) | \((.peak.cgroup_usage // 0) / 1048576 | floor) MiB | \(.oom_killed) |"' "$out/worst-case.json"
