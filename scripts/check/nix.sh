#!/usr/bin/env bash
# The Nix checks that run without a Nix store.
#
# No Nix store, binary cache or GitHub is reachable from the project's
# machines, so the flake cannot be built or `nix flake check`ed here. This
# checks everything that can be checked offline:
#   parse        every .nix file (flake.nix included) parses: nix-instantiate --parse
#   deadnix      no unused bindings or arguments: deadnix --fail
#   statix       no statix lints: statix check (n/a where no genuine statix is
#                installed; see below)
#   format       the files are as nixpkgs-fmt formats them: nixpkgs-fmt --check
#   flake.lock   valid, version 7, every input locked with a narHash, pins agree
#                with flake.nix's input URLs (scripts/check/flake-lock.py)
#   image        nix/image.nix evaluates, with stand-ins for nixpkgs, to the
#                config contract.json asks for (scripts/check/image-config.py)
#   nix-eval     every packages/checks/devShells output of the flake, for both
#                systems, evaluates and instantiates against the real crane,
#                nixpkgs lib and dockerTools (../shared/nix-eval/run.sh, through
#                scripts/lib/nix-eval.sh; where that folder is absent, a real
#                nix's `nix flake check --no-build`; SKIP where neither is, a
#                failure when the folder is absent under CI=true)
#
# Missing tools are installed first (so it works on a fresh machine): Debian's
# nix-bin (for nix-instantiate) with apt-get, deadnix and nixpkgs-fmt with
# `cargo install --locked` into ~/.cargo/bin, one compile job at a time.
#
# statix, the Nix linter, is not published on crates.io or any other registry
# these machines reach (the crates.io crate named `statix` is an unrelated HTTP
# file server: never `cargo install statix`). So the statix check runs when a
# genuine statix is on PATH (e.g. `nix shell nixpkgs#statix` on a machine with
# Nix) and is reported n/a otherwise (no machine of this project can have it, so
# it is not a skip of work this run should have done); CHECK_NIX_REQUIRE_STATIX=1
# turns that into a failure.
#
# Prints one line per check (lib.sh's PASS/FAIL/SKIP/n/a) and ends with
# "N passed, M failed, K skipped[, L not applicable]". Exit status: 1 if any
# check failed, else 77 if nix-eval was skipped (the stage is then a SKIP), else 0.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh

# Crate versions installed when the tool is missing (pinned for repeatable CI).
DEADNIX_VERSION=1.3.1
NIXPKGS_FMT_VERSION=1.3.0

# ---- setup: install what is missing ---------------------------------------

# ensure COMMAND INSTALLER ARGS...: run the installer (lib.sh's apt_install or
# cargo_install) when COMMAND is missing, and say how long it took. A failed
# install is said here and fails the checks that need the tool.
ensure() {
  local command=$1 start=$SECONDS
  shift
  command -v "$command" >/dev/null && return 0
  echo "setup: installing $command ($*)"
  if "$@"; then
    echo "setup: $command installed in $((SECONDS - start))s"
  else
    echo "setup: could not install $command" >&2
  fi
}

ensure nix-instantiate apt_install --no-install-recommends nix-bin
ensure deadnix cargo_install deadnix "$DEADNIX_VERSION"
ensure nixpkgs-fmt cargo_install nixpkgs-fmt "$NIXPKGS_FMT_VERSION"

# ---- the checks ---------------------------------------------------------

mapfile -t nix_files < <(
  find . \( -name .git -o -name target -o -name 'result*' -o -name node_modules \) -prune \
    -o -type f -name '*.nix' -print | sed 's|^\./||' | LC_ALL=C sort
)
if [[ ! -f flake.nix ]]; then
  result fail "flake.nix present" "no flake.nix at the repository root"
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
check --quiet "parse: ${#nix_files[@]} files (${nix_files[*]})" "" parse_all

NO_COLOR=1 check --quiet "deadnix --fail" "" deadnix --fail -- "${nix_files[@]}"

# A genuine statix lists its lints; the unrelated crates.io `statix` does not.
if command -v statix >/dev/null && statix list 2>/dev/null | grep -q bool_comparison; then
  check --quiet "statix check" "" statix check .
elif [[ ${CHECK_NIX_REQUIRE_STATIX:-0} == 1 ]]; then
  result fail "statix check" "statix (the Nix linter) is not installed"
else
  # Not a SKIP: no machine of this project can have it (README, "Nix"); said on
  # every run and counted apart, never as passed.
  result na "statix check" "statix (the Nix linter) is not installed, and no registry these machines reach publishes it; CHECK_NIX_REQUIRE_STATIX=1 makes that a failure"
fi

check --quiet "format: nixpkgs-fmt --check" "" nixpkgs-fmt --check "${nix_files[@]}"

lock_args=()
reference="${TASKS_SHARED_DIR:-../shared}/reference/flake-inputs.json"
if [[ -f $reference ]]; then
  lock_args=(--reference "$reference")
fi
check --quiet "flake.lock: version 7, all inputs locked with narHash, pins agree with flake.nix${lock_args[*]:+, hashes as published}" "" \
  python3 scripts/check/flake-lock.py "${lock_args[@]}"

check --quiet "image: nix/image.nix evaluates to the config nix/contract.json asks for" "" \
  python3 scripts/check/image-config.py

# Its output is one line per flake output and a summary, kept for the report.
# scripts/lib/nix-eval.sh runs ../shared/nix-eval's run.sh, or where that is
# absent a real nix's `nix flake check --no-build`, or says SKIP (exit 77).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
nix_eval=0
scripts/lib/nix-eval.sh run.sh . >"$work/out" 2>&1 || nix_eval=$?
case $nix_eval in
  0) result ok "nix-eval: every flake output evaluates and instantiates" "$(tail -n 1 "$work/out")" ;;
  77) result skip "nix-eval" "$(grep -m 1 '^SKIP ' "$work/out" | sed 's/^SKIP //')" ;;
  *)
    result fail "nix-eval: run.sh . (exit $nix_eval)"
    tail -n 30 "$work/out" | sed 's/^/     /'
    ;;
esac

# 1 when a check failed; 77 (the stage is a SKIP) when nix-eval could not run.
summary
