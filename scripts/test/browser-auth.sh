#!/usr/bin/env bash
# Tokens and CORS in a real browser: headless Chromium (Debian's chromium, driven
# by npm's playwright-core, pinned) loads a page served from two loopback origins,
# A (in CORS_ALLOWED_ORIGINS) and B (not), that calls the API with fetch and a
# bearer token. From A the calls (POST, GET, and the preflighted PATCH and
# DELETE) succeed and a call without a token reads its 401; from B the browser
# blocks every call. Then Swagger UI: "Try it out" on list_tasks answers 401, and
# 200 once "Authorize" has the token. What counts is the page's own result (its
# #result element, Swagger UI's response), never the service's log.
# The service runs with tokens issued by its own `token add`.
# Usage: scripts/test/browser-auth.sh [BINARY | --image IMAGE]
#   BINARY  default TASKS_BIN, or the debug build (built when missing)
#   IMAGE   the image's /bin/tasks-backend, copied out of it (as smoke-binary.sh does)
# playwright-core lives in BROWSER_NODE_DIR (default under ~/.cache), installed on
# first use. Ends with "N passed, M failed, K skipped".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh

playwright="playwright-core@1.65.1"
node_dir="${BROWSER_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tasks-backend/browser-node}"
driver_dir="$TB_ROOT/scripts/test/browser"

work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-browser.XXXXXX")"
container="browser-auth-$$"
page_pids=()
cleanup() {
  stop_service
  local pid
  for pid in "${page_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -z "${DOCKER:-}" ]] || "$DOCKER" rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

case "${1:-}" in
  --image)
    [[ $# -eq 2 ]] || {
      echo "usage: $0 [BINARY | --image IMAGE]" >&2
      exit 2
    }
    ensure_docker
    # The image has no shell: the binary is copied out of a created container.
    "$DOCKER" create --name "$container" "$2" >/dev/null
    "$DOCKER" cp -L "$container:/bin/tasks-backend" "$work/tasks-backend"
    bin="$work/tasks-backend"
    ;;
  '') bin=$(service_binary) ;;
  *) bin="$1" ;;
esac

apt_tool chromium chromium
apt_tool node nodejs
apt_tool npm npm
if [[ "$(cat "$node_dir/pins" 2>/dev/null)" != "$playwright" ]]; then
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  # The registry is the machine's npm configuration's; playwright-core downloads no browser.
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "$playwright" >&2
  echo "$playwright" >"$node_dir/pins"
fi

# Two tokens issued as an operator would; only the write one goes to the browser.
write_token="$("$bin" token add browser write --file "$work/tokens" 2>/dev/null)"
"$bin" token add dashboard read --file "$work/tokens" >/dev/null 2>&1

port_a=$(free_port)
port_b=$(free_port)
origin_a="http://127.0.0.1:$port_a"
origin_b="http://127.0.0.1:$port_b"
mkdir "$work/page"
cp "$driver_dir/page.html" "$work/page/"
for port in "$port_a" "$port_b"; do
  python3 -m http.server --bind 127.0.0.1 --directory "$work/page" "$port" >"$work/page-$port.log" 2>&1 &
  page_pids+=("$!")
done

API_TOKENS_FILE="$work/tokens" CORS_ALLOWED_ORIGINS="$origin_a" start_service "$bin" "$work"
for origin in "$origin_a" "$origin_b"; do
  wait_http "$origin/page.html" 10 || {
    echo "the page server at $origin did not answer" >&2
    exit 1
  }
done

start=$SECONDS
# ES modules ignore NODE_PATH: the driver runs beside a link to the modules.
cp "$driver_dir/driver.mjs" "$work/driver.mjs"
ln -s "$node_dir/node_modules" "$work/node_modules"
out="$(NO_PROXY='*' node "$work/driver.mjs" "$service_url" "$origin_a" "$origin_b" "$write_token" 2>&1)" || true
echo "headless Chromium: $((SECONDS - start)) s"
seen=0
while IFS='|' read -r outcome name detail; do
  case "$outcome" in
    ok | fail)
      seen=$((seen + 1))
      # The token never shows in a check's line.
      result "$outcome" "$name" "${detail//$write_token/TOKEN}"
      ;;
    *) [[ -z "$outcome" ]] || echo "  $outcome${name:+|$name}${detail:+|$detail}" ;;
  esac
done <<<"$out"
check "the driver reported every check (10)" "$seen" test "$seen" -eq 10
check "the service logged no 5xx and no panic" "" service_log_clean "$work"
no_token_logged() { ! grep -qF -- "$write_token" "$work/server.log"; }
check "the service logged no token" "" no_token_logged

summary
