#!/usr/bin/env bash
# Assemble the Nix image offline around the binary crane built, and run the
# container contract on it.
# Usage: scripts/test/nix-image.sh [BINARY [NIX_TAG]]
#        (defaults target/nix/tasks-backend, from scripts/test/nix-build.sh, and
#        tasks-backend:nix)
# ../shared/nix-eval/assemble.sh (through scripts/lib/nix-eval.sh) builds
# nix/image.nix around BINARY with nixpkgs' real dockerTools, fakeNss and
# layering code, loads it as NIX_TAG, and scripts/test/image.sh checks it like
# the compat image. BINARY is the output of crane's real build phases
# (scripts/test/nix-build.sh), so the image holds what `nix build .#image` puts
# there, linked by Debian's toolchain instead of nixpkgs' (README, "Nix").
# Where ../shared/nix-eval is absent, a real nix (scripts/lib/nix-eval.sh)
# builds `nix build .#image` instead (its own binary) and `docker load`s it; where
# neither is, it prints SKIP and exits 77; under CI=true that is a failure.
# Env: DOCKER (client), NIX_EVAL_DIR (see scripts/lib/nix-eval.sh)
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="${1:-$here/../../target/nix/tasks-backend}"
tag="${2:-tasks-backend:nix}"
if [[ ! -x "$binary" ]]; then
  echo "test-nix-image: no binary at $binary (scripts/test/nix-build.sh makes it)"
  exit 1
fi
ensure_docker
work="$(mktemp -d "${TMPDIR:-/tmp}/nix-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

start=$SECONDS
status=0
"$here/../lib/nix-eval.sh" assemble.sh . --binary "$binary" --tag "$tag" \
  --out "$work/image.tar.gz" >"$work/assemble.log" 2>&1 || status=$?
last="$(tail -n 1 "$work/assemble.log")"
if ((status == 77)); then
  echo "test-nix-image: $last"
  exit 77
fi
if ((status != 0)); then
  echo "test-nix-image: assemble failed (exit $status):"
  tail -n 20 "$work/assemble.log"
  exit 1
fi
echo "test-nix-image: $last ($((SECONDS - start)) s, around $binary)"
"$here/image.sh" --built-without-git "$tag"
