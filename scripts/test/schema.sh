#!/usr/bin/env bash
# Property-based check of the whole API against its own OpenAPI document, with
# schemathesis (PyPI, pinned): no 5xx, every status, content type, header and body
# as the document says, schema-invalid input refused and schema-valid input taken,
# 405s that name what is allowed; with tokens on (API_TOKENS_FILE), the token sent
# on every request and its absence refused (schemathesis' ignored_auth check).
# Starts the service (TASKS_BIN, or the debug build,
# built when missing; scripts/lib/lib.sh) on a temporary SQLite file and a free
# loopback port, runs a bounded number of examples (SCHEMA_MAX_EXAMPLES per
# operation and phase, 100 by default) under a hard time limit (SCHEMA_TIME_LIMIT
# seconds, 300 by default), stops the service.
# Ends with "N passed, M failed, K skipped".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh

version=4.32.5
examples="${SCHEMA_MAX_EXAMPLES:-100}"
time_limit="${SCHEMA_TIME_LIMIT:-300}"

if ! python3 -m schemathesis.cli --version 2>/dev/null | grep -qF "$version"; then
  pip_install "schemathesis==$version"
fi
bin=$(service_binary)

work=$(mktemp -d)
# With tokens on (a write token, issued by the binary itself), as a guarded
# deployment runs.
token=$("$bin" token add ci write --file "$work/tokens" 2>/dev/null)
API_TOKENS_FILE="$work/tokens" start_service_until_exit "$bin" "$work"
base="$service_url"
# Every operation of the document gets examples: the run must generate at least
# one test case per operation, or it proved nothing.
operations=$(curl -sf --noproxy '*' "$base/openapi.json" |
  python3 -c 'import json, sys; print(sum(len([m for m in p if m in ("get", "put", "post", "delete", "patch")]) for p in json.load(sys.stdin)["paths"].values()))')

# 413 and 415 refuse schema-invalid bodies too (a generated description past 64 KiB
# gets 413, as documented). positive_data_acceptance is on: the document states
# every rule the API applies to a field (a title's pattern carries "1 to 200
# characters after trimming", a due date is `format: date`), so schema-valid input
# must be taken. 413 stays acceptable there: JSON escapes can take a valid
# 10 000-character description past the documented 64 KiB body limit.
cat >"$work/schemathesis.toml" <<'TOML'
[checks.negative_data_rejection]
expected-statuses = ["400", "404", "405", "413", "415"]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "404", "413"]

# A list's `after` of the documented shape that this server never issued (its
# checksum or its status filter does not match), and an `offset` past the
# server's MAX_LIST_OFFSET, are refused with 400: a schema can state neither.
[[operations]]
include-operation-id = "list_tasks"
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "400"]
TOML


start=$SECONDS
# From the work directory: schemathesis keeps a cache of crashes in its current one.
(cd "$work" && NO_PROXY='*' timeout "$time_limit" python3 -m schemathesis.cli \
  --config-file "$work/schemathesis.toml" --no-color \
  run "$base/openapi.json" --checks all --max-examples "$examples" \
  --header "Authorization: Bearer $token" \
  --request-timeout 10 --generation-database none >"$work/schemathesis.out" 2>&1) &&
  st_status=0 || st_status=$?
took=$((SECONDS - start))
cases=$(grep -Eo '[0-9]+ generated' "$work/schemathesis.out" | head -1 || true)
ncases=${cases%% *}
sed -n '/= FAILURES =\|= SUMMARY =/,$p' "$work/schemathesis.out" | head -150
echo "schemathesis $version: ${cases:-no} test cases in ${took} s, exit status $st_status"

check "schemathesis finds no failure (${cases:-no} test cases)" "" test "$st_status" -eq 0
check "at least one test case per operation (${ncases:-0} for $operations operations)" "" \
  test "${ncases:-0}" -ge "$operations" -a "$operations" -gt 0
check "the service still answers /health with 200 afterwards" "" \
  curl -sf --noproxy '*' -o /dev/null "$base/health"
check "the service logged no 5xx and no panic" "" service_log_clean "$work"

summary
