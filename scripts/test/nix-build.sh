#!/usr/bin/env bash
# The Nix build, for real and offline: ../shared/nix-eval/build.sh runs
# `nix-build` of the flake's outputs through nixpkgs' real stdenv phases and
# crane's real library and hooks (buildDepsOnly, vendoring with every crate
# fetched from crates.io and checked against Cargo.lock, installFromCargoBuildLog,
# reference removal, disallowedReferences), with Debian's toolchain as the leaf
# packages. Then the binary crane built goes through the same smoke test as the
# compat image's (scripts/test/smoke-binary.sh) and its cargo-auditable section is
# checked. The binary is copied to OUT (default target/nix/tasks-backend) and the
# image archive `nix build .#image` makes beside it (image.tar.gz), which the nix
# image stage loads into Docker.
# Usage: scripts/test/nix-build.sh [--compat IMAGE] [--out FILE]
#   --compat IMAGE  also require the same dependency list as IMAGE's binary
# Builds, in this order (each must succeed):
#   packages.x86_64-linux.default      the service (release, static glibc, auditable)
#   packages.x86_64-linux.image        the image: dockerTools.buildLayeredImage
#                                      around that same package
#   checks.x86_64-linux.tests          the test suite (`cargo test`, dev profile)
#   checks.x86_64-linux.closure        the runtime-closure guard on the package
# Not built here, each with its reason (printed): clippy and fmt (Debian has no
# clippy or rustfmt at the leaves' 1.96), audit and deny (the offline nixpkgs has
# no cargo-audit or cargo-deny, nor the advisory-db input), aarch64-linux (no
# arm64 leaves).
# Where ../shared/nix-eval is absent, a real nix builds the same attributes
# (scripts/lib/nix-eval.sh); exit 77 when neither is there, outside CI.
# Env: NIX_EVAL_ROOT (the chroot build.sh uses; default /var/cache/nix-eval/trixie)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
root="$(cd "$here/../.." && pwd)"

compat=""
out="$root/target/nix/tasks-backend"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --compat) compat="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: scripts/test/nix-build.sh [--compat IMAGE] [--out FILE]" >&2; exit 2 ;;
  esac
done
logs="$root/target/nix/logs"
mkdir -p "$logs" "$(dirname "$out")"

# build ATTR: nix-build ATTR with build.sh; sets `built` to its store path.
# Exit 77 passes through (no nix-eval outside CI).
build() {
  local attr="$1" log="$logs/${1//[^A-Za-z0-9_.-]/_}.log" start=$SECONDS status=0 last
  "$here/../lib/nix-eval.sh" build.sh . --attr "$attr" --log "$log" >"$log.out" 2>&1 || status=$?
  last="$(tail -n 1 "$log.out")"
  if ((status == 77)); then
    echo "test-nix-build: $last"
    exit 77
  fi
  if ((status != 0)) || [[ "$last" != "built $attr "* ]]; then
    result fail "nix-build $attr" "$((SECONDS - start)) s: $last"
    echo "    build.sh's output (last 30 lines; full log $log):"
    tail -n 30 "$log.out" | sed 's/^/    /'
    return 1
  fi
  built="${last##* }"
  result ok "nix-build $attr" "$((SECONDS - start)) s: $built"
}

built=""
if ! build packages.x86_64-linux.default; then
  summary || true
  exit 1
fi
bin="$(nix_store_file "$built/bin/tasks-backend")"
install -m 0755 "$bin" "$out"
echo "test-nix-build: the crane-built binary: $(stat -c %s "$out") bytes, copied to $out"

# The same smoke test as the compat image's binary.
smoke=0
"$here/smoke-binary.sh" "$out" | sed 's/^/    /' || smoke=$?
check "smoke test of the crane-built binary" "scripts/test/smoke-binary.sh" test "$smoke" = 0

# Auditable: the dependency list, every entry at its Cargo.lock version.
deps="$logs/dep-v0.txt"
if python3 "$here/auditable-deps.py" "$out" >"$deps"; then
  awk -F'"' '/^name = / { n = $2 } /^version = / { print n " " $2 }' "$root/Cargo.lock" | sort -u >"$logs/lock.txt"
  unknown="$(comm -23 "$deps" "$logs/lock.txt" | tr '\n' ' ')"
  count="$(wc -l <"$deps")"
  self="tasks-backend $(awk -F'"' '/^version = / { print $2; exit }' "$root/Cargo.toml")"
  # The service links some 210 crates (scripts/test/sbom.sh); cargo-auditable
  # records more. 100 is a floor that only an empty or truncated list misses.
  lists_enough() { ((count >= 100)) && grep -qx "$self" "$deps"; }
  check ".dep-v0 lists the dependencies" "$count packages (at least 100), $self among them" lists_enough
  check ".dep-v0 entries are Cargo.lock's" "${unknown:-none unknown}" test -z "$unknown"
  if [[ -n "$compat" ]]; then
    ensure_docker
    container="nix-build-compat-$$"
    "$DOCKER" create --name "$container" "$compat" >/dev/null
    "$DOCKER" cp -L "$container:/bin/tasks-backend" "$logs/compat-tasks-backend"
    "$DOCKER" rm "$container" >/dev/null
    python3 "$here/auditable-deps.py" "$logs/compat-tasks-backend" >"$logs/compat-dep-v0.txt" || true
    differ="$(diff "$logs/compat-dep-v0.txt" "$deps" | grep -c '^[<>]' || true)"
    check ".dep-v0 equals the compat binary's" "$differ lines differ from $compat" test "$differ" = 0
  fi
else
  result fail ".dep-v0 section" "scripts/test/auditable-deps.py found none in $out"
fi

# The image, around the same package (nix-build reuses it: nothing is compiled).
if build packages.x86_64-linux.image; then
  install -m 0644 "$(nix_store_file "$built")" "$(dirname "$out")/image.tar.gz"
  echo "test-nix-build: the image archive: $(stat -c %s "$(dirname "$out")/image.tar.gz") bytes, copied to $(dirname "$out")/image.tar.gz"
fi

# No store path survives in the binary but the ones crane's hooks blanked out
# (their hash replaced by e's): nothing of the toolchain is in its closure.
refs="$(grep -aoE '/nix/store/[0-9a-df-np-sv-z]{32}-[^/"[:space:]]*' "$out" | grep -v '/nix/store/e\{32\}-' | sort -u | tr '\n' ' ' || true)"
check "no store path in the binary" "${refs:-none}" test -z "$refs"

build checks.x86_64-linux.tests || true
build checks.x86_64-linux.closure || true

if [[ -x "${NIX_EVAL_DIR:-$root/../shared/nix-eval}/build.sh" ]]; then
  for not_built in \
    "checks.x86_64-linux.clippy, checks.x86_64-linux.fmt: Debian has no clippy or rustfmt for the offline leaves' rustc 1.96 (the rust lints stage runs both)" \
    "checks.x86_64-linux.audit, checks.x86_64-linux.deny: the offline nixpkgs has no cargo-audit or cargo-deny, and no advisory-db input (scripts/check/deny.sh runs cargo-deny)" \
    "aarch64-linux: no arm64 leaf packages offline (evaluated by the nix checks stage)"; do
    echo "NOT BUILT $not_built"
  done
else
  # A real nix has all of nixpkgs: the lints and the audit are built too.
  for attr in clippy fmt audit deny; do
    build "checks.x86_64-linux.$attr" || true
  done
fi
summary
