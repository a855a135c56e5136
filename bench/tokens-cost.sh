#!/usr/bin/env bash
# What bearer tokens cost: GET /api/tasks/{id} (bench/load.sh's get-task scenario)
# against the release binary with API_TOKENS_FILE set and unset, in the same run,
# interleaved (on, off, on, off, ...) so that a machine getting busier or quieter
# touches both alike. With tokens on the file holds 100 tokens and every request
# sends one (each request hashes its token and compares the hash with every
# entry); without, the same header is sent and ignored. The server runs on CPU 1
# and wrk on CPU 0 (one thread, 32 connections), LOG_LEVEL=warn. Writes
# OUT/tokens-cost.json and OUT/tokens-cost.md, and prints the cost: the median
# req/s with tokens against the median without (the target: at most 5 %).
# Usage: bench/tokens-cost.sh [--rounds N] [--seconds S] [--out DIR]
#   defaults: 3 rounds of 10 s per setting, OUT bench/results
# Env: TASKS (10000 seeded tasks), TASKS_BIN (a release binary; default: built here)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=3 seconds=10 out="$bench_dir/results"
while (($#)); do
  case "$1" in
    --rounds) rounds="$2" && shift ;;
    --seconds) seconds="$2" && shift ;;
    --out) out="$2" && shift ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" && exit 0 ;;
    *) log "unknown argument $1" && exit 2 ;;
  esac
  shift
done
export TASKS="${TASKS:-10000}"
apt_tool wrk wrk
apt_tool taskset util-linux
if [[ -n "${TASKS_BIN:-}" ]]; then
  binary="$TASKS_BIN"
else
  log "building the release binary"
  (cd "$repo_dir" && cargo build --release --locked)
  binary="${CARGO_TARGET_DIR:-$repo_dir/target}/release/tasks-backend"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-tokens-cost.XXXXXX")"
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
"$bench_dir/seed.sh" "$binary" "$work/seed" "$TASKS"
for ((i = 1; i < 100; i++)); do
  "$binary" token add "other-$i" read --file "$work/tokens" >/dev/null 2>&1
done
token="$("$binary" token add bench read --file "$work/tokens" 2>/dev/null)"

# measure on|off ROUND: one wrk run, its JSON line to $work/runs.
measure() {
  local tokens="$1" round="$2" port url result file=""
  if [[ $tokens == on ]]; then file="$work/tokens"; fi
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  rm -rf "$work/db" && mkdir -p "$work/db" && cp "$work/seed/tasks.db" "$work/db/"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/db/tasks.db" LOG_LEVEL=warn \
    API_TOKENS_FILE="$file" \
    taskset -c 1 "$binary" serve >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_http "$url/health" 30 || { log "no 200 from $url/health within 30 s" && exit 1; }
  # Warm-up: the first requests open connections and fill SQLite's page cache.
  WRK_HEADER="Authorization: Bearer $token" THREADS=1 WRK_CPUS=0 \
    "$bench_dir/load.sh" "$url" get-task 2 >/dev/null
  result="$(WRK_HEADER="Authorization: Bearer $token" THREADS=1 WRK_CPUS=0 \
    "$bench_dir/load.sh" "$url" get-task "$seconds")"
  stop_server
  # The machine is shared: its load is kept beside each figure.
  printf '{"tokens":"%s","round":%d,"loadavg_after":"%s","result":%s}\n' \
    "$tokens" "$round" "$(cut -d' ' -f1-3 /proc/loadavg)" "$result" >>"$work/runs"
}

for ((round = 1; round <= rounds; round++)); do
  log "round $round of $rounds: tokens on, then off ($seconds s each)"
  measure on "$round"
  measure off "$round"
done

mkdir -p "$out"
commit="$(git -C "$repo_dir" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
python3 - "$work/runs" "$out" "$commit" "$seconds" "$(nproc)" <<'EOF'
import json
import statistics
import sys
from datetime import datetime, timezone

runs_path, out, commit, seconds, cores = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
rps = {t: [r["result"]["wrk"]["rps"] for r in runs if r["tokens"] == t] for t in ("on", "off")}
p99 = {t: [r["result"]["wrk"]["p99_ms"] for r in runs if r["tokens"] == t] for t in ("on", "off")}
errors = sum(r["result"]["wrk"]["status_errors"] + sum(r["result"]["wrk"]["socket_errors"].values())
             for r in runs)
on, off = statistics.median(rps["on"]), statistics.median(rps["off"])
cost = (off - on) / off * 100
summary = {
    "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"), "commit": commit,
    "scenario": "GET /api/tasks/{id}", "seconds": int(seconds), "cores": int(cores),
    "tokens_in_file": 100, "rps": rps, "p99_ms": p99, "median_rps_on": on,
    "median_rps_off": off, "cost_percent": round(cost, 2), "target_percent": 5,
    "errors": errors, "runs": runs,
}
json.dump(summary, open(f"{out}/tokens-cost.json", "w"), indent=1)
with open(f"{out}/tokens-cost.md", "w") as md:
    md.write(f"# What bearer tokens cost ({summary['date']}, commit {commit}, {cores} cores)\n\n")
    md.write(f"GET /api/tasks/{{id}} with `Authorization: Bearer ...`, {len(rps['on'])} "
             f"interleaved rounds of {seconds} s per setting; server on CPU 1, wrk on CPU 0; "
             "100 tokens in the file while on.\n\n"
             "| API_TOKENS_FILE | req/s per round | median | p99 ms per round |\n"
             "| --- | --- | --- | --- |\n")
    for t, label in (("on", "set"), ("off", "unset")):
        md.write(f"| {label} | {', '.join(f'{v:.0f}' for v in rps[t])} | "
                 f"{statistics.median(rps[t]):.0f} | {', '.join(f'{v:.2f}' for v in p99[t])} |\n")
    verdict = "within" if cost <= 5 else "OVER"
    md.write(f"\nCost: {cost:.1f} % of the median throughput ({verdict} the 5 % target); "
             f"{errors} errors or non-2xx answers. Load average after each run: "
             f"{'; '.join(r['loadavg_after'] for r in runs)}.\n")
print(open(f"{out}/tokens-cost.md").read())
if errors:
    sys.exit("errors or non-2xx answers during the runs")
EOF
