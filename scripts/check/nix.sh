#!/usr/bin/env bash
# The Nix checks that run without a Nix store.
#
# No Nix store, binary cache or GitHub is reachable from the project's
# machines, so the flake cannot be built or `nix flake check`ed here. This
# checks everything that can be checked offline:
#   parse        every .nix file (flake.nix included) parses: nix-instantiate --parse
#   deadnix      no unused bindings or arguments: deadnix --fail
#   statix       no statix lints: statix check (skipped where no genuine statix
#                is installed; see below)
#   format       the files are as nixpkgs-fmt formats them: nixpkgs-fmt --check
#   flake.lock   valid, version 7, every input locked with a narHash, pins agree
#                with flake.nix's input URLs (scripts/check-flake-lock.py)
#   image        nix/image.nix evaluates, with stand-ins for nixpkgs, to the
#                config contract.json asks for (scripts/check-image-config.py)
#   nix-eval     every packages/checks/devShells output of the flake, for both
#                systems, evaluates and instantiates against the real crane,
#                nixpkgs lib and dockerTools (../shared/nix-eval/run.sh, through
#                scripts/nix-eval.sh: skipped where that folder is absent, a
#                failure when it is absent under CI=true)
#
# Missing tools are installed first (so it works on a fresh machine): Debian's
# nix-bin (for nix-instantiate) with apt-get, deadnix and nixpkgs-fmt with
# `cargo install --locked` into ~/.cargo/bin, one compile job at a time.
#
# statix, the Nix linter, is not published on crates.io or any other registry
# these machines reach (the crates.io crate named `statix` is an unrelated HTTP
# file server: never `cargo install statix`). So the statix check runs when a
# genuine statix is on PATH (e.g. `nix shell nixpkgs#statix` on a machine with
# Nix) and is reported as skipped otherwise; CHECK_NIX_REQUIRE_STATIX=1 turns
# that skip into a failure.
#
# Prints one line per check and ends with "N passed, M failed[, K skipped]";
# exits non-zero if any check failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# Crate versions installed when the tool is missing (pinned for repeatable CI).
DEADNIX_VERSION=1.3.1
NIXPKGS_FMT_VERSION=1.3.0

passed=0
failed=0
skipped=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pass() {
  passed=$((passed + 1))
  printf 'PASS %s\n' "$1"
}
fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$1"
  if [[ -s "$work/out" ]]; then
    sed 's/^/     /' "$work/out"
  fi
}
skip() {
  skipped=$((skipped + 1))
  printf 'SKIP %s\n' "$1"
}

# Run a check: its output goes to $work/out, shown only when it fails.
check() {
  local name=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    pass "$name"
  else
    fail "$name"
  fi
}

# ---- setup: install what is missing ---------------------------------------

apt_updated=
apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  if [[ -z $apt_updated ]]; then
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 \
    install -y -qq --no-install-recommends "$@" >/dev/null
}

cargo_install() {
  local crate=$1 version=$2
  if ! command -v cargo >/dev/null; then
    echo "setup: cargo is needed to install $crate" >&2
    return 1
  fi
  # One job: the machine's two cores are shared with the project's builds.
  cargo install --locked --jobs 1 --quiet --version "$version" "$crate"
}

# ensure COMMAND HOW ARGS...: install with HOW (apt_install or cargo_install)
# when COMMAND is missing, and say how long it took.
ensure() {
  local command=$1
  shift
  if command -v "$command" >/dev/null; then
    return 0
  fi
  local start=$SECONDS
  echo "setup: installing $command ($*)"
  if "$@"; then
    echo "setup: $command installed in $((SECONDS - start))s"
  else
    echo "setup: could not install $command" >&2
  fi
}

ensure nix-instantiate apt_install nix-bin
ensure deadnix cargo_install deadnix "$DEADNIX_VERSION"
ensure nixpkgs-fmt cargo_install nixpkgs-fmt "$NIXPKGS_FMT_VERSION"

# ---- the checks ---------------------------------------------------------

mapfile -t nix_files < <(
  find . \( -name .git -o -name target -o -name 'result*' -o -name node_modules \) -prune \
    -o -type f -name '*.nix' -print | sed 's|^\./||' | LC_ALL=C sort
)
if [[ ! -f flake.nix ]]; then
  echo "no flake.nix at the repository root" >"$work/out"
  fail "flake.nix present"
fi

parse_all() {
  local file status=0
  if ! command -v nix-instantiate >/dev/null; then
    echo "nix-instantiate is not installed"
    return 1
  fi
  for file in "${nix_files[@]}"; do
    if ! nix-instantiate --parse "$file" >/dev/null; then
      echo "does not parse: $file"
      status=1
    fi
  done
  return "$status"
}
check "parse: ${#nix_files[@]} files (${nix_files[*]})" parse_all

NO_COLOR=1 check "deadnix --fail" deadnix --fail -- "${nix_files[@]}"

# A genuine statix lists its lints; the unrelated crates.io `statix` does not.
if command -v statix >/dev/null && statix list 2>/dev/null | grep -q bool_comparison; then
  check "statix check" statix check .
elif [[ ${CHECK_NIX_REQUIRE_STATIX:-0} == 1 ]]; then
  echo "statix (the Nix linter) is not installed" >"$work/out"
  fail "statix check"
else
  skip "statix check: statix (the Nix linter) is not installed and no reachable registry has it"
fi

check "format: nixpkgs-fmt --check" nixpkgs-fmt --check "${nix_files[@]}"

lock_args=()
reference=../shared/reference/flake-inputs.json
if [[ -f $reference ]]; then
  lock_args=(--reference "$reference")
fi
check "flake.lock: version 7, all inputs locked with narHash, pins agree with flake.nix${lock_args[*]:+, hashes as published}" \
  python3 scripts/check-flake-lock.py "${lock_args[@]}"

check "image: nix/image.nix evaluates to the config nix/contract.json asks for" \
  python3 scripts/check-image-config.py

# Its output is one line per flake output and a summary, kept for the report.
nix_eval=0
scripts/nix-eval.sh run.sh . >"$work/out" 2>&1 || nix_eval=$?
case $nix_eval in
  0) pass "nix-eval: every flake output instantiates against real crane and dockerTools ($(tail -n 1 "$work/out"))" ;;
  77) skip "$(tail -n 1 "$work/out" | sed 's/^SKIP //')" ;;
  *) fail "nix-eval: run.sh . (exit $nix_eval)" ;;
esac

summary="$passed passed, $failed failed"
if [[ $skipped -gt 0 ]]; then
  summary+=", $skipped skipped"
fi
echo "$summary"
[[ $failed -eq 0 ]]
