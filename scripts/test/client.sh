#!/usr/bin/env bash
# A Python client generated from the running service's /openapi.json by
# openapi-python-client (PyPI, pinned) drives the API: create, list with a filter
# and paging, get, patch with null clears, delete, and problem+json errors, with
# tokens on (API_TOKENS_FILE; the client sends a bearer token, and a 401 without
# it is a documented problem). Proves
# the document is usable by a common generator and says what the API does.
# The generator and the client's runtime live in a venv (CLIENT_VENV, default
# under ~/.cache) made on first use; the generated code lives in a temporary
# directory and is never committed. Ends with "N passed, M failed, K skipped".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh

generator=openapi-python-client==0.29.1
# The generated client imports these at run time (dates are parsed with dateutil).
runtime=(httpx==0.28.1 attrs==26.1.0 python-dateutil==2.9.0.post0)
venv="${CLIENT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tasks-backend/client-venv}"

pins="$generator ${runtime[*]}"
if [[ "$(cat "$venv/pins" 2>/dev/null)" != "$pins" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q "$generator" "${runtime[@]}"
  echo "$pins" >"$venv/pins"
fi
bin=$(service_binary)

work=$(mktemp -d)
# With tokens on (a write token, issued by the binary itself), as a guarded
# deployment runs.
token=$("$bin" token add ci write --file "$work/tokens" 2>/dev/null)
API_TOKENS_FILE="$work/tokens" start_service_until_exit "$bin" "$work"


# --fail-on-warning: a warning means a schema or an operation was left out (as
# POST /api/tasks once was), which is a broken document, not a detail. The venv's
# bin on PATH lets the generator run its ruff formatting hook.
generate() {
  (cd "$work" && NO_PROXY='*' PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" \
    generate --url "$service_url/openapi.json" --meta none --output-path tasks_client \
    --fail-on-warning >"$work/generate.out" 2>&1) || {
    cat "$work/generate.out"
    return 1
  }
}
check "openapi-python-client generates every operation without a warning" "" generate

run_client_tests() {
  TASKS_BASE_URL="$service_url" TASKS_CLIENT_DIR="$work" TASKS_TOKEN="$token" \
    "$venv/bin/python" -m unittest -v tests/client/test_generated_client.py
}
if [[ -d "$work/tasks_client" ]]; then
  check "the generated client's scenarios pass against the service" "" run_client_tests
else
  result fail "the generated client's scenarios" "no client was generated"
fi
check "the service logged no 5xx and no panic" "" service_log_clean "$work"

summary
