#!/usr/bin/env bash
# Issue 20's scaling run: what a request costs as the table grows, on SQLite and on
# PostgreSQL, with 1 000, 100 000 and 1 000 000 tasks seeded by SQL (bench/seed.sh,
# bench/seed-postgres.sh). The release binary, natively, LOG_LEVEL=warn,
# MAX_IN_FLIGHT_LISTS=16; wrk 2 threads x 16 connections; only 2xx answers counted.
# Scenarios: the first page (limit=100), a late page by cursor (the last 100
# tasks), the same with status=done, a page by the deepest offset allowed by
# default (MAX_LIST_OFFSET, 10 000; less on a smaller table), one task, create.
# Every size of a backend is served at once and each scenario runs on the sizes
# back to back (in reverse order every other round), so the ratios between sizes
# come from one stretch of time. Asserts the target (a page at 1 000 000 tasks is
# served at >= 0.7x the rate at 1 000, first page and late page by cursor, on
# both backends), prints each margin, writes OUT/scale.json and OUT/scale.md.
# Usage: bench/scale.sh [--seconds S] [--rounds N] [--out DIR]
#   defaults: 5 s per wrk run, 2 rounds, OUT bench/results
# Env: BENCH_BIN (the release binary; default: cargo build --release), SIZES
#      ("1000 100000 1000000"; the target needs 1000 and 1000000), BACKENDS
#      ("sqlite postgres"), TASKS_PG_PORT and TASKS_PG_DIR (the PostgreSQL server
#      scripts/ensure-postgres.sh starts or finds).
# Exit status: 0 when every target is met, 1 when one is missed or a run fails.
# On a shared machine, run it niced (`nice -n 19 bench/scale.sh`): the servers,
# wrk and the SQLite databases started here inherit it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds=5 rounds=2 out="$bench_dir/results"
bench_args 2,22 "$@"
sizes="${SIZES:-1000 100000 1000000}"
backends="${BACKENDS:-sqlite postgres}"
# The default bound of `offset` (README, MAX_LIST_OFFSET).
max_offset=10000

apt_tool wrk wrk
apt_tool curl curl
apt_tool python3 python3
binary="$(release_binary "${BENCH_BIN:-}")"

work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-scale.XXXXXX")"
pids=()
# SIGTERM, then SIGKILL what is still running 10 s later: after a load on
# PostgreSQL a server was seen to close its listener and never exit (README,
# Scaling), and none may outlive the bench.
stop_servers() {
  local pid waited alive
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ((waited = 0; waited < 100; waited++)); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  if ((${#pids[@]})); then stop_servers; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# serve NAME URL [SETTING=VALUE...]: the binary on URL and a free port; sets
# `served` to its base URL and adds its pid to `pids`.
serve() {
  local name="$1" url="$2" port
  shift 2
  port="$(free_port)"
  env HOST=127.0.0.1 PORT="$port" DATABASE_URL="$url" LOG_LEVEL=warn MAX_IN_FLIGHT_LISTS=16 "$@" \
    "$binary" serve >"$work/$name.log" 2>&1 &
  pids+=("$!")
  served="http://127.0.0.1:$port"
  wait_http "$served/health" 60 || { log "$name: no 200 from /health within 60 s" && exit 1; }
}

# json_field URL FIELD: one field of the JSON at URL.
json_field() {
  curl -sf --noproxy '*' "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

results="$work/runs.jsonl"
: >"$results"
for backend in $backends; do
  declare -A base=() late=() late_done=() offset=()
  if [[ $backend == postgres ]]; then
    pg_server="$("$repo_dir/scripts/ensure-postgres.sh")"
  fi
  for size in $sizes; do
    log "$backend: seeding $size tasks"
    if [[ $backend == sqlite ]]; then
      "$bench_dir/seed.sh" "$binary" "$work/sqlite-$size" "$size"
      url="sqlite://$work/sqlite-$size/tasks.db"
    else
      "$bench_dir/seed-postgres.sh" "$binary" "$pg_server" "tasks_scale_$size" "$size"
      url="${pg_server%/*}/tasks_scale_$size"
    fi
    # The cursors of the last 100 tasks, from a server that allows any offset
    # (once, before the measured server starts).
    serve "cursors-$backend-$size" "$url" MAX_LIST_OFFSET=1000000
    late[$size]="$(json_field "$served/api/tasks?limit=1&offset=$((size - 101))" next)"
    done_total="$(json_field "$served/api/tasks?limit=1&status=done" total)"
    late_done[$size]="$(json_field "$served/api/tasks?limit=1&status=done&offset=$((done_total - 101))" next)"
    kill "${pids[-1]}"
    wait "${pids[-1]}" || true
    unset 'pids[-1]'
    offset[$size]=$((size - 100 < max_offset ? size - 100 : max_offset))
    serve "$backend-$size" "$url"
    base[$size]="$served"
  done
  for ((round = 1; round <= rounds; round++)); do
    order="$sizes"
    if ((round % 2 == 0)); then order="$(tr ' ' '\n' <<<"$sizes" | tac | paste -sd ' ')"; fi
    log "$backend: round $round of $rounds ($order), $seconds s per run, niced"
    for scenario in first late late-done offset get-task post; do
      for size in $order; do
        case "$scenario" in
          first) kind=get path="/api/tasks?limit=100" ;;
          late) kind=get path="/api/tasks?limit=100&after=${late[$size]}" ;;
          late-done) kind=get path="/api/tasks?limit=100&status=done&after=${late_done[$size]}" ;;
          offset) kind=get path="/api/tasks?limit=100&offset=${offset[$size]}" ;;
          get-task) kind=get-task path="/api/tasks/{id}" ;;
          post) kind=post path="/api/tasks" ;;
        esac
        result="$(BENCH_PATH="$path" TASKS="$size" CONNS=16 THREADS=2 \
          "$bench_dir/load.sh" "${base[$size]}" "$kind" "$seconds")"
        printf '{"backend":"%s","size":%d,"round":%d,"scenario":"%s","path":"%s","loadavg":"%s","result":%s}\n' \
          "$backend" "$size" "$round" "$scenario" "$path" "$(cut -d' ' -f1-3 /proc/loadavg)" "$result" >>"$results"
      done
    done
  done
  stop_servers
  unset base late late_done offset
done

commit="$(git -C "$repo_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)"
mkdir -p "$out"
python3 - "$results" "$out" "$commit" "$seconds" "$rounds" <<'EOF'
import json, os, sys
from collections import defaultdict
from statistics import mean

runs_path, out, commit, seconds, rounds = sys.argv[1:]
runs = [json.loads(line) for line in open(runs_path)]
TARGET = 0.7
SCENARIOS = {
    "first": "first page (`limit=100`)",
    "late": "late page by cursor",
    "late-done": "late page by cursor, `status=done`",
    "offset": "page by bounded offset",
    "get-task": "`GET /api/tasks/{id}`",
    "post": "`POST /api/tasks`",
}

def ok_rps(result):
    wrk = result["wrk"]
    bad = wrk.get("non2xx_exact", wrk["status_errors"])
    return (wrk["requests"] - bad) / wrk["duration_s"]

rates = defaultdict(list)
for run in runs:
    rates[(run["backend"], run["size"], run["scenario"])].append(ok_rps(run["result"]))
rate = {key: mean(values) for key, values in rates.items()}
backends = sorted({r["backend"] for r in runs}, key=lambda b: b != "sqlite")
sizes = sorted({r["size"] for r in runs})
checks, failed = [], False
for backend in backends:
    for scenario in ("first", "late"):
        small, large = rate.get((backend, 1000, scenario)), rate.get((backend, 1000000, scenario))
        if small is None or large is None:
            continue
        ratio = large / small
        met = ratio >= TARGET
        failed |= not met
        checks.append({"backend": backend, "scenario": scenario, "rps_1000": round(small, 1),
                       "rps_1000000": round(large, 1), "ratio": round(ratio, 3), "target": TARGET,
                       "margin": round(ratio - TARGET, 3), "met": met})
summary = {
    "commit": commit, "seconds": int(seconds), "rounds": int(rounds), "cores": os.cpu_count(),
    "wrk": "2 threads x 16 connections, niced", "server": "release binary, LOG_LEVEL=warn, MAX_IN_FLIGHT_LISTS=16",
    "rates": [{"backend": b, "size": s, "scenario": sc, "ok_rps": round(v, 1)} for (b, s, sc), v in sorted(rate.items())],
    "checks": checks, "runs": runs,
}
with open(os.path.join(out, "scale.json"), "w") as f:
    json.dump(summary, f, indent=1)

lines = [
    "# Scaling: requests per second as the table grows (`bench/scale.sh`)",
    "",
    f"Commit {commit}; {rounds} rounds of {seconds} s per run, the mean of the rounds; "
    "2xx answers only; release binary natively, `LOG_LEVEL=warn`, `MAX_IN_FLIGHT_LISTS=16`; "
    f"wrk 2 threads x 16 connections, niced, on the same {os.cpu_count()} cores, which a CI run "
    "was also using: read the ratios between sizes (measured back to back), not the absolute "
    "figures. PostgreSQL: the test server of `scripts/ensure-postgres.sh` (fsync off), on the "
    "same machine. Tasks seeded by SQL.",
    "",
]
for backend in backends:
    lines += [f"## {backend}", "", "| | " + " | ".join(f"{s:,} tasks".replace(",", " ") for s in sizes) + " |",
              "| --- |" + " --- |" * len(sizes)]
    for scenario, label in SCENARIOS.items():
        cells = [rate.get((backend, s, scenario)) for s in sizes]
        lines.append(f"| {label} | " + " | ".join("" if c is None else f"{c:,.0f}".replace(",", " ") for c in cells) + " |")
    lines.append("")
lines += ["## Target: a page at 1 000 000 tasks at >= 0.7x the rate at 1 000", "",
          "| backend | page | at 1 000 | at 1 000 000 | ratio | margin | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
for c in checks:
    lines.append(f"| {c['backend']} | {SCENARIOS[c['scenario']]} | {c['rps_1000']:.0f} | {c['rps_1000000']:.0f} | "
                 f"{c['ratio']:.2f}x | {c['margin']:+.2f} | {'yes' if c['met'] else 'NO'} |")
with open(os.path.join(out, "scale.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
for c in checks:
    print(f"scale: {c['backend']} {c['scenario']}: {c['rps_1000000']:.0f} req/s at 1 000 000 vs "
          f"{c['rps_1000']:.0f} at 1 000 = {c['ratio']:.2f}x (target >= {TARGET}x, margin {c['margin']:+.2f}): "
          f"{'met' if c['met'] else 'MISSED'}", file=sys.stderr)
if not checks:
    print("scale: no target checked (SIZES needs 1000 and 1000000)", file=sys.stderr)
sys.exit(1 if failed or not checks else 0)
EOF
