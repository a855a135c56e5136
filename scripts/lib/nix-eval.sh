#!/usr/bin/env bash
# Run one of the shared offline Nix tools on this repository, or say why not.
# Usage: scripts/nix-eval.sh TOOL [ARGS...]   e.g. `run.sh .`, `assemble.sh . --binary FILE`
#   run.sh       evaluates and instantiates every packages/checks/devShells output of
#                the flake against the real crane, nixpkgs lib and dockerTools code
#   assemble.sh  builds nix/image.nix with nixpkgs' own dockerTools around a given
#                static binary and loads it into Docker
# They come with this project's CI machines, not with the repository: they live in
# $NIX_EVAL_DIR, default <repository>/../shared/nix-eval (see its README: what they
# prove and what they cannot). Run from anywhere; TOOL runs in the repository root.
# Where the folder is absent (a clone outside the project's CI) this prints one
# `SKIP ...` line and exits 77; under CI=true its absence is a failure (exit 1).
# The tools need root (chroot, mount namespaces): sudo is used when not root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${NIX_EVAL_DIR:-$repo/../shared/nix-eval}"

if [[ $# -lt 1 ]]; then
  echo "usage: $0 TOOL [ARGS...]" >&2
  exit 2
fi
tool="$1"
shift

if [[ ! -x "$dir/$tool" ]]; then
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL nix-eval: $dir/$tool not found; CI=true machines must provide it (NIX_EVAL_DIR)"
    exit 1
  fi
  echo "SKIP nix-eval: $dir/$tool not found (a clone outside the project's CI; set NIX_EVAL_DIR to run it)"
  exit 77
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
  sudo=(sudo -E)
fi
cd "$repo"
exec "${sudo[@]}" "$dir/$tool" "$@"
