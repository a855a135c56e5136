#!/usr/bin/env bash
# Run one of the offline Nix tools on this repository, the same step with a real
# nix, or say why neither can run.
# Usage: scripts/lib/nix-eval.sh TOOL [ARGS...]
#   run.sh .                              evaluate and instantiate every
#                                         packages/checks/devShells output
#   build.sh . --attr ATTR [--log FILE]   build ATTR; last line "built ATTR PATH"
#   assemble.sh . [--binary FILE] [--tag TAG] [--out FILE]
#                                         build the image and `docker load` it
#                                         as TAG; last line "assembled TAG ..."
# Used by scripts/check/nix.sh, scripts/test/nix-build.sh and
# scripts/test/nix-image.sh. Three ways, the first that exists:
#   1. ../shared/nix-eval ($NIX_EVAL_DIR): the tools that come with this
#      project's CI machines, not with the repository (see their README: what
#      they prove and what they cannot); TOOL runs from the repository root.
#      They need root (chroot, mount namespaces): sudo is used when not root.
#   2. a real nix (>= 2.18, which crane needs; flakes are turned on per command)
#      on PATH: run.sh is `nix flake check --no-build`, build.sh is
#      `nix build .#ATTR`, assemble.sh is `nix build .#image` then
#      `docker load < result`, tagged TAG (--binary is not used: nix builds the
#      binary itself). First the flake's inputs are fetched (`nix flake
#      archive`); when that fails for want of the network, this prints
#      `SKIP nix: cannot fetch the flake's inputs: ...` and exits 77; any other
#      failure is a failure.
#   3. neither: one `SKIP nix: ...` line naming what is missing, exit 77; under
#      CI=true the folder's absence is a failure (exit 1): CI machines have it.
# Env: NIX_EVAL_DIR (default <repository>/../shared/nix-eval), NIX (the nix
# command, default nix), DOCKER (client, for assemble.sh with a real nix).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${NIX_EVAL_DIR:-$repo/../shared/nix-eval}"
nix="${NIX:-nix}"
min_nix=2.18

if [[ $# -lt 2 ]]; then
  echo "usage: $0 TOOL . [ARGS...]" >&2
  exit 2
fi
tool="$1"
shift

# ---- 1. the shared offline tools ---------------------------------------------
if [[ -x "$dir/$tool" ]]; then
  sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo=(sudo -E)
  fi
  cd "$repo"
  exec "${sudo[@]}" "$dir/$tool" "$@"
fi

# ---- 2. a real nix -------------------------------------------------------------
nix_version="$("$nix" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n 1 || true)"
if [[ -z "$nix_version" ]]; then
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL nix-eval: $dir/$tool not found; CI=true machines must provide it (NIX_EVAL_DIR)"
    exit 1
  fi
  echo "SKIP nix: neither $dir/$tool (a clone outside the project's CI; NIX_EVAL_DIR points elsewhere) nor a nix on PATH"
  exit 77
fi
if [[ "$(printf '%s\n%s\n' "$min_nix" "$nix_version" | sort -V | head -n 1)" != "$min_nix" ]]; then
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL nix-eval: $dir/$tool not found, and nix $nix_version on PATH is older than $min_nix"
    exit 1
  fi
  echo "SKIP nix: no $dir/$tool, and the nix on PATH is $nix_version, older than $min_nix (crane needs $min_nix)"
  exit 77
fi

cd "$repo"
nixf() { "$nix" --extra-experimental-features 'nix-command flakes' "$@"; }
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-nix.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The flake's inputs (GitHub) and the binary cache: a failure to reach them is a
# SKIP, named; a failure of anything else (a bad flake.nix) is a failure.
if ! nixf flake archive . >"$work/archive.log" 2>&1; then
  error="$(grep -m 1 -iE 'error' "$work/archive.log" || tail -n 1 "$work/archive.log")"
  if grep -qiE 'unable to download|could not resolve|resolve host|failed to connect|connection (refused|timed out)|timed out|network is unreachable|unable to access|name or service not known|temporary failure in name resolution' "$work/archive.log"; then
    echo "SKIP nix: cannot fetch the flake's inputs with nix $nix_version: $error"
    exit 77
  fi
  echo "FAIL nix flake archive (nix $nix_version): $error"
  tail -n 20 "$work/archive.log" >&2
  exit 1
fi

case "$tool" in
  run.sh)
    # Every output of every system evaluates and its derivations instantiate.
    if ! nixf flake check --no-build --all-systems . >"$work/check.log" 2>&1; then
      tail -n 30 "$work/check.log"
      echo "FAIL nix flake check --no-build (nix $nix_version)"
      exit 1
    fi
    cat "$work/check.log"
    echo "nix flake check --no-build --all-systems: every output evaluates (nix $nix_version)"
    ;;
  build.sh)
    shift # .
    attr="packages.x86_64-linux.default" log="$work/build.log"
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --attr) attr="$2" && shift 2 ;;
        --log) log="$2" && shift 2 ;;
        *) echo "nix-eval.sh build.sh: unknown argument $1" >&2 && exit 2 ;;
      esac
    done
    if ! nixf build -L ".#$attr" --out-link "$work/result" >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "FAIL nix build .#$attr: $(grep -m 1 'error:' "$log" || tail -n 1 "$log")"
      exit 1
    fi
    echo "built $attr $(readlink -f "$work/result")"
    ;;
  assemble.sh)
    shift # .
    tag="tasks-backend:nix" out=""
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --binary) echo "nix-eval.sh: a real nix builds the binary itself; --binary $2 is not used" >&2 && shift 2 ;;
        --tag) tag="$2" && shift 2 ;;
        --out) out="$2" && shift 2 ;;
        *) echo "nix-eval.sh assemble.sh: unknown argument $1" >&2 && exit 2 ;;
      esac
    done
    if ! nixf build -L .#image --out-link "$work/result" >"$work/build.log" 2>&1; then
      tail -n 30 "$work/build.log" >&2
      echo "FAIL nix build .#image: $(grep -m 1 'error:' "$work/build.log" || tail -n 1 "$work/build.log")"
      exit 1
    fi
    if [[ -n "$out" ]]; then cp -L "$work/result" "$out"; fi
    # shellcheck source=scripts/lib/lib.sh
    source "$repo/scripts/lib/lib.sh"
    ensure_docker
    loaded="$("$DOCKER" load <"$work/result")"
    ref="$(sed -n 's/^Loaded image: //p; s/^Loaded image ID: //p' <<<"$loaded" | tail -n 1)"
    if [[ -z "$ref" ]]; then
      echo "FAIL docker load < result said: $loaded"
      exit 1
    fi
    if [[ "$ref" != "$tag" ]]; then "$DOCKER" tag "$ref" "$tag"; fi
    echo "assembled $tag $(stat -L -c %s "$work/result") bytes (nix build .#image: $(readlink -f "$work/result"), docker load < result)"
    ;;
  *)
    echo "nix-eval.sh: no real-nix equivalent of $tool" >&2
    exit 2
    ;;
esac
