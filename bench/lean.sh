#!/usr/bin/env bash
# What the service's own layers cost per request: the service at its DEFAULT
# settings (and, as a second row, with LOG_LEVEL=warn) against bench/lean/, a lean
# axum + sqlx implementation of the same routes on the same SQLite settings, in the
# same run, interleaved A B (C) A B (C) so that a machine getting busier or quieter
# touches each alike. Each run gets a fresh copy of one seeded database (TASKS
# tasks), a fresh server, 1 s of warm-up, then wrk (THREADS x CONNS, 2 x 16) for S
# seconds, not pinned. Scenarios: GET /api/tasks/{id} (random ids, all present),
# POST /api/tasks, and the service's /livez against the reference's static /health
# (the HTTP layer alone). Only 2xx answers count in a rate. Writes OUT/lean.json and
# OUT/lean.md with each rate and the same-run ratio service / reference, and prints
# the ratios against the targets (GET >= 0.9x, POST >= 1.0x); it asserts only that
# every answer was 2xx.
# Usage: bench/lean.sh [--rounds N] [--seconds S] [--out DIR]
#   defaults: 2 rounds of 5 s per server and scenario, OUT bench/results
# Env: PROFILE (release; `profiling` keeps symbols for perf), TASKS (10000),
#      THREADS (2), CONNS (16), WARN_ROW (1; 0 leaves out the LOG_LEVEL=warn row),
#      SERVICE_BIN (a service binary already built: not built here)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=2 seconds=5 out="$bench_dir/results"
bench_args 2,18 "$@"
profile="${PROFILE:-release}"
export TASKS="${TASKS:-10000}" THREADS="${THREADS:-2}" CONNS="${CONNS:-16}"
apt_tool wrk wrk
service_and_lean "$profile"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-lean.XXXXXX")"
trap 'stop_server; rm -rf "$work"' EXIT
# The service migrates and seeds it; the reference opens a copy of the same file.
"$bench_dir/seed.sh" "$service" "$work/seed" "$TASKS"

# measure SERVER SCENARIO ROUND: one wrk run, its JSON line to $work/runs.
# SERVER: service | service-warn | lean; SCENARIO: get-task | post | http.
measure() {
  local server="$1" scenario="$2" round="$3" port url result path
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  rm -rf "$work/db" && mkdir -p "$work/db" && cp "$work/seed/tasks.db" "$work/db/"
  local env=(HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/db/tasks.db")
  case "$server" in
    service) env "${env[@]}" "$service" serve >"$work/server.log" 2>&1 & ;;
    service-warn) env "${env[@]}" LOG_LEVEL=warn "$service" serve >"$work/server.log" 2>&1 & ;;
    lean) env "${env[@]}" "$lean" >"$work/server.log" 2>&1 & ;;
  esac
  server_pid=$!
  wait_http "$url/health" 30 || { log "no 200 from $server at $url/health within 30 s" && exit 1; }
  # The HTTP layer alone: the service's /livez (no database) against a static body.
  if [[ $server == lean ]]; then path=/health; else path=/livez; fi
  local load=("$bench_dir/load.sh" "$url")
  case "$scenario" in
    http) load=(env BENCH_PATH="$path" "${load[@]}" get) ;;
    *) load+=("$scenario") ;;
  esac
  # Warm-up: the pool's connections open and SQLite's page cache fills.
  "${load[@]}" 1 >/dev/null
  result="$("${load[@]}" "$seconds")"
  stop_server
  # The machine is shared: its load is kept beside each figure.
  printf '{"server":"%s","scenario":"%s","round":%d,"loadavg_after":"%s","result":%s}\n' \
    "$server" "$scenario" "$round" "$(cut -d' ' -f1-3 /proc/loadavg)" "$result" >>"$work/runs"
}

servers=(service lean)
if [[ "${WARN_ROW:-1}" != 0 ]]; then servers=(service lean service-warn); fi
for ((round = 1; round <= rounds; round++)); do
  for scenario in get-task post http; do
    for server in "${servers[@]}"; do
      log "round $round of $rounds: $scenario on $server ($seconds s)"
      measure "$server" "$scenario" "$round"
    done
  done
done

mkdir -p "$out"
commit="$(git -C "$repo_dir" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$repo_dir" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock | wc -l)"
python3 - "$work/runs" "$out" "$commit" "$dirty" "$seconds" "$(nproc)" "$profile" <<'PY'
import json
import sys
from datetime import datetime, timezone

runs_path, out, commit, dirty, seconds, cores, profile = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]


def ok_rate(wrk):
    # Only 2xx: POST counts every non-2xx itself; wrk counts status > 399.
    bad = wrk.get("non2xx_exact", wrk["status_errors"])
    return (wrk["requests"] - bad) / wrk["duration_s"]


def bad(wrk):
    return wrk.get("non2xx_exact", wrk["status_errors"]) + sum(wrk["socket_errors"].values())


scenarios = {"get-task": "GET /api/tasks/{id}", "post": "POST /api/tasks",
             "http": "GET /livez (service) vs static GET /health (reference)"}
targets = {"get-task": 0.9, "post": 1.0}
servers = sorted({r["server"] for r in runs}, key=["service", "lean", "service-warn"].index)
rates = {s: {srv: [ok_rate(r["result"]["wrk"]) for r in runs
                   if r["scenario"] == s and r["server"] == srv] for srv in servers}
         for s in scenarios}
p99 = {s: {srv: [r["result"]["wrk"]["p99_ms"] for r in runs
                 if r["scenario"] == s and r["server"] == srv] for srv in servers}
       for s in scenarios}
mean = {s: {srv: sum(v) / len(v) for srv, v in by.items()} for s, by in rates.items()}
ratios = {s: {srv: round(mean[s][srv] / mean[s]["lean"], 3) for srv in servers if srv != "lean"}
          for s in scenarios}
errors = sum(bad(r["result"]["wrk"]) for r in runs)
summary = {
    "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
    "commit": commit + ("+uncommitted" if int(dirty) else ""), "profile": profile,
    "cores": int(cores), "seconds": int(seconds), "rounds": len(rates["post"]["lean"]),
    "wrk": {"threads": runs[0]["result"]["threads"], "connections": runs[0]["result"]["connections"]},
    "rate_2xx": rates, "mean_rate_2xx": mean, "p99_ms": p99, "ratio_to_lean": ratios,
    "targets": targets, "errors": errors, "runs": runs,
}
json.dump(summary, open(f"{out}/lean.json", "w"), indent=1)
label = {"service": "service, default settings", "service-warn": "service, LOG_LEVEL=warn",
         "lean": "lean reference (bench/lean/)"}
with open(f"{out}/lean.md", "w") as md:
    md.write(f"# The service against the lean reference ({summary['date']}, commit "
             f"{summary['commit']}, {profile} build, {cores} cores)\n\n"
             f"wrk {summary['wrk']['threads']} threads x {summary['wrk']['connections']} "
             f"connections, {seconds} s per run, {summary['rounds']} interleaved rounds, "
             "not pinned; a fresh copy of the seeded SQLite database and a fresh server per "
             "run. Rates count 2xx answers only; the ratio is of the mean rates.\n\n"
             "| scenario | server | 2xx/s per round | mean | ratio to lean | target | p99 ms per round |\n"
             "| --- | --- | --- | --- | --- | --- | --- |\n")
    for s, title in scenarios.items():
        for srv in servers:
            ratio = "1" if srv == "lean" else f"{ratios[s][srv]:.2f}x"
            target = ""
            if srv != "lean" and s in targets:
                met = "met" if ratios[s][srv] >= targets[s] else "NOT met"
                target = f">= {targets[s]}x: {met}"
            md.write(f"| {title} | {label[srv]} | {', '.join(f'{v:.0f}' for v in rates[s][srv])} | "
                     f"{mean[s][srv]:.0f} | {ratio} | {target} | "
                     f"{', '.join(f'{v:.2f}' for v in p99[s][srv])} |\n")
    md.write(f"\n{errors} non-2xx answers or socket errors. Load average after each run: "
             f"{'; '.join(r['loadavg_after'] for r in runs)}.\n")
print(open(f"{out}/lean.md").read())
if errors:
    sys.exit("non-2xx answers or socket errors during the runs")
PY
