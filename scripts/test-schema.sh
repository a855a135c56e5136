#!/usr/bin/env bash
# Property-based check of the whole API against its own OpenAPI document, with
# schemathesis (PyPI, pinned): no 5xx, every status, content type, header and body
# as the document says, schema-invalid input refused, 405s that name what is allowed.
# Starts the service (TASKS_BIN, or the debug build, built when missing) on a
# temporary SQLite file on 127.0.0.1 and a free port, runs a bounded number of
# examples (SCHEMA_MAX_EXAMPLES per operation and phase, 100 by default) under a hard
# time limit (SCHEMA_TIME_LIMIT seconds, 300 by default), stops the service.
# Ends with "N passed, M failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

version=4.32.5
examples="${SCHEMA_MAX_EXAMPLES:-100}"
time_limit="${SCHEMA_TIME_LIMIT:-300}"

if ! python3 -m schemathesis.cli --version 2>/dev/null | grep -qF "$version"; then
  pip_install "schemathesis==$version"
fi
bin="${TASKS_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --locked -q
  bin=target/debug/tasks-backend
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
base="http://127.0.0.1:$port"
HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/tasks.db" LOG_FORMAT=json \
  "$bin" >"$work/server.log" 2>&1 &
server=$!
if ! wait_http "$base/health" 10; then
  echo "the service did not answer /health within 10 s: $(tail -n 3 "$work/server.log")" >&2
  exit 1
fi
# Every operation of the document gets examples: the run must generate at least
# one test case per operation, or it proved nothing.
operations=$(curl -sf --noproxy '*' "$base/openapi.json" |
  python3 -c 'import json, sys; print(sum(len([m for m in p if m in ("get", "put", "post", "delete", "patch")]) for p in json.load(sys.stdin)["paths"].values()))')

# 413 and 415 refuse schema-invalid bodies too (a generated description past 64 KiB
# gets 413, as documented). positive_data_acceptance is off: the document states
# some rules in prose only (a title is 1 to 200 characters *after trimming*, a due
# date is a real calendar date), so schema-valid input that breaks them gets the
# documented 400.
cat >"$work/schemathesis.toml" <<'EOF'
[checks.negative_data_rejection]
expected-statuses = ["400", "404", "405", "413", "415"]
EOF

check() {
  local name="$1"
  shift
  if "$@"; then result ok "$name"; else result fail "$name"; fi
}

start=$SECONDS
# From the work directory: schemathesis keeps a cache of crashes in its current one.
(cd "$work" && NO_PROXY='*' timeout "$time_limit" python3 -m schemathesis.cli \
  --config-file "$work/schemathesis.toml" --no-color \
  run "$base/openapi.json" --checks all \
  --exclude-checks positive_data_acceptance --max-examples "$examples" \
  --request-timeout 10 --generation-database none >"$work/schemathesis.out" 2>&1) &&
  st_status=0 || st_status=$?
took=$((SECONDS - start))
cases=$(grep -Eo '[0-9]+ generated' "$work/schemathesis.out" | head -1 || true)
ncases=${cases%% *}
sed -n '/= FAILURES =\|= SUMMARY =/,$p' "$work/schemathesis.out" | head -150
echo "schemathesis $version: ${cases:-no} test cases in ${took} s, exit status $st_status"

check "schemathesis finds no failure (${cases:-no} test cases)" test "$st_status" -eq 0
check "at least one test case per operation (${ncases:-0} for $operations operations)" \
  test "${ncases:-0}" -ge "$operations" -a "$operations" -gt 0
check "the service still answers /health with 200 afterwards" \
  curl -sf --noproxy '*' -o /dev/null "$base/health"
no_server_errors() { ! grep -E '"status":5[0-9][0-9]|panicked' "$work/server.log"; }
check "the service logged no 5xx and no panic" no_server_errors

summary
