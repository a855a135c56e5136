#!/usr/bin/env bash
# What the metrics cost: GET /api/tasks/{id} (bench/load.sh's get-task scenario)
# against the release binary with METRICS_ENABLED=true and =false, in the same run,
# interleaved (on, off, on, off, ...) so that a machine getting busier or quieter
# touches both alike. While metrics are on, /metrics is scraped every second
# (Prometheus' usual pace is 5 to 15 s). The server runs on CPU 1 and wrk on CPU 0
# (one thread, 32 connections), LOG_LEVEL=warn so that per-request log lines do not
# drown the difference. Writes OUT/metrics-cost.json and OUT/metrics-cost.md, and
# prints the cost: the median req/s with metrics against the median without (the
# target: at most 5 %).
# Usage: bench/metrics-cost.sh [--rounds N] [--seconds S] [--out DIR]
#   defaults: 3 rounds of 10 s per setting, OUT bench/results
# Env: TASKS (10000 seeded tasks)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=3 seconds=10 out="$bench_dir/results"
bench_args 2,13 "$@"
export TASKS="${TASKS:-10000}"
apt_tool wrk wrk
apt_tool taskset util-linux
log "building the release binary"
(cd "$repo_dir" && cargo build --release --locked)
binary="$repo_dir/target/release/tasks-backend"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-metrics-cost.XXXXXX")"
server_pid="" scraper_pid=""
stop_server() {
  if [[ -n "$scraper_pid" ]]; then kill "$scraper_pid" 2>/dev/null || true; fi
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid="" scraper_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
"$bench_dir/seed.sh" "$binary" "$work/seed" "$TASKS"

# measure on|off ROUND: one wrk run, its JSON line to $work/runs.
measure() {
  local metrics="$1" round="$2" port url result scrapes=0
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  rm -rf "$work/db" && mkdir -p "$work/db" && cp "$work/seed/tasks.db" "$work/db/"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/db/tasks.db" LOG_LEVEL=warn \
    METRICS_ENABLED="$([[ $metrics == on ]] && echo true || echo false)" \
    taskset -c 1 "$binary" serve >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_http "$url/health" 30 || { log "no 200 from $url/health within 30 s" && exit 1; }
  # Warm-up: the first requests open connections and fill SQLite's page cache.
  THREADS=1 WRK_CPUS=0 "$bench_dir/load.sh" "$url" get-task 2 >/dev/null
  if [[ $metrics == on ]]; then
    (while curl -s --noproxy '*' -o /dev/null "$url/metrics"; do sleep 1; done) &
    scraper_pid=$!
  fi
  result="$(THREADS=1 WRK_CPUS=0 "$bench_dir/load.sh" "$url" get-task "$seconds")"
  if [[ $metrics == on ]]; then
    scrapes=$(curl -s --noproxy '*' "$url/metrics" |
      awk -F'[{} ]' '$1 == "http_server_request_duration_seconds_count" && /http_route="\/metrics"/ { print $NF }')
  fi
  stop_server
  # The machine is shared: its load is kept beside each figure.
  printf '{"metrics":"%s","round":%d,"scrapes":%s,"loadavg_after":"%s","result":%s}\n' \
    "$metrics" "$round" "${scrapes:-0}" "$(cut -d' ' -f1-3 /proc/loadavg)" "$result" >>"$work/runs"
}

for ((round = 1; round <= rounds; round++)); do
  log "round $round of $rounds: metrics on, then off ($seconds s each)"
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
rps = {m: [r["result"]["wrk"]["rps"] for r in runs if r["metrics"] == m] for m in ("on", "off")}
p99 = {m: [r["result"]["wrk"]["p99_ms"] for r in runs if r["metrics"] == m] for m in ("on", "off")}
errors = sum(r["result"]["wrk"]["status_errors"] + sum(r["result"]["wrk"]["socket_errors"].values())
             for r in runs)
on, off = statistics.median(rps["on"]), statistics.median(rps["off"])
cost = (off - on) / off * 100
summary = {
    "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"), "commit": commit,
    "scenario": "GET /api/tasks/{id}", "seconds": int(seconds), "cores": int(cores),
    "rps": rps, "p99_ms": p99, "median_rps_on": on, "median_rps_off": off,
    "cost_percent": round(cost, 2), "target_percent": 5, "errors": errors, "runs": runs,
}
json.dump(summary, open(f"{out}/metrics-cost.json", "w"), indent=1)
with open(f"{out}/metrics-cost.md", "w") as md:
    md.write(f"# What metrics cost ({summary['date']}, commit {commit}, {cores} cores)\n\n")
    md.write(f"GET /api/tasks/{{id}}, {len(rps['on'])} interleaved rounds of {seconds} s "
             "per setting; server on CPU 1, wrk on CPU 0; /metrics scraped every second "
             "while on.\n\n| METRICS_ENABLED | req/s per round | median | p99 ms per round |\n"
             "| --- | --- | --- | --- |\n")
    for m, label in (("on", "true"), ("off", "false")):
        md.write(f"| {label} | {', '.join(f'{v:.0f}' for v in rps[m])} | "
                 f"{statistics.median(rps[m]):.0f} | {', '.join(f'{v:.2f}' for v in p99[m])} |\n")
    verdict = "within" if cost <= 5 else "OVER"
    md.write(f"\nCost: {cost:.1f} % of the median throughput ({verdict} the 5 % target); "
             f"{errors} errors or non-2xx answers. Load average after each run: "
             f"{'; '.join(r['loadavg_after'] for r in runs)}.\n")
print(open(f"{out}/metrics-cost.md").read())
if errors:
    sys.exit("errors or non-2xx answers during the runs")
EOF
