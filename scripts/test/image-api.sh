#!/usr/bin/env bash
# The integration tests that must hold in the image too (tests/api/in_image.rs:
# every tasks operation x every credential, and a secret rotated under load, with
# the tokens file mounted read-only as a secret), run against containers of IMAGE.
# Fails unless every test the module lists ran and passed: a filter that matches
# nothing is not a pass.
# Usage: scripts/test/image-api.sh IMAGE
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh

[[ $# -eq 1 ]] || {
  echo "usage: $0 IMAGE" >&2
  exit 2
}
ensure_docker
filter="in_image::"
listed=$(cargo test --locked --test api -- --ignored --list "$filter" 2>/dev/null | grep -c ': test$' || true)
((listed > 0)) || {
  echo "no test matches $filter" >&2
  exit 1
}
log="$(mktemp "${TMPDIR:-/tmp}/tasks-image-api.XXXXXX")"
trap 'rm -f "$log"' EXIT
status=0
TASKS_TEST_IMAGE="$1" DOCKER="$DOCKER" cargo test --locked --test api -- --ignored "$filter" 2>&1 |
  tee "$log" || status=${PIPESTATUS[0]}
passed=$(grep -oE 'test result: ok\. [0-9]+ passed' "$log" | grep -oE '[0-9]+' | head -n 1 || true)
((status == 0)) || exit 1
[[ "$passed" == "$listed" ]] || {
  echo "expected $listed tests to pass against $1, ${passed:-none} did" >&2
  exit 1
}
echo "$passed of $listed tests passed against $1"
