#!/usr/bin/env bash
# Measures whether the compat binary is reproducible: two clean builds of the
# same commit in the builder image must give byte-identical binaries. Not part
# of scripts/test.sh: it takes two cold builds (about 10 minutes each on a
# 2-core machine). Run it under the shared lock on a shared machine.
# Usage: scripts/build/reproducibility.sh [COMMIT]      (default HEAD)
# Env:
#   DOCKER      client (see lib.sh)
#   RUST_IMAGE  builder image; default rust:1.95-slim-bookworm when present,
#               else the local stand-in that scripts/build/builder-image.sh makes
#   CA_BUNDLE   CA bundle passed as BuildKit secret `cacert` (default
#               /etc/ssl/certs/ca-certificates.crt when it exists)
# Each build starts from `git archive COMMIT` in its own directory, with
# --no-cache (BuildKit cache mounts, used only for the cargo-auditable tool,
# stay warm). Prints each build's time and the binary's size and sha256; exits
# 0 only when both binaries (and both runtime file trees) are identical.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
ensure_docker
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
commit="$(git -C "$root" rev-parse --verify "${1:-HEAD}^{commit}")" || {
  echo "reproducibility: ${1:-HEAD} is not a commit of $root" >&2
  exit 2
}

if [[ -z "${RUST_IMAGE:-}" ]]; then
  if "$DOCKER" image inspect rust:1.95-slim-bookworm >/dev/null 2>&1; then
    RUST_IMAGE=rust:1.95-slim-bookworm
  else
    "$root/scripts/build/builder-image.sh" >&2
    RUST_IMAGE=tasks-backend-builder:trixie-rust
  fi
fi
ca="${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"

work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-repro.XXXXXX")"
trap 'rm -rf "$work"' EXIT

build() {
  local n="$1" start
  mkdir -p "$work/src$n" "$work/out$n"
  git -C "$root" archive "$commit" | tar -x -C "$work/src$n"
  local args=(build --no-cache -q -f "$work/src$n/Dockerfile.compat" --target runtime
    --build-arg "RUST_IMAGE=$RUST_IMAGE" -o "type=local,dest=$work/out$n")
  if [[ -n "$ca" && -f "$ca" ]]; then
    args+=(--secret "id=cacert,src=$ca")
  fi
  start=$SECONDS
  DOCKER_BUILDKIT=1 "$DOCKER" "${args[@]}" "$work/src$n" >"$work/build$n.log" 2>&1 || {
    tail -n 30 "$work/build$n.log" >&2
    echo "reproducibility: build $n failed" >&2
    exit 1
  }
  local secs=$((SECONDS - start)) bin="$work/out$n/bin/tasks-backend"
  echo "reproducibility: build $n of ${commit:0:12} with $RUST_IMAGE: ${secs} s," \
    "binary $(stat -c %s "$bin") bytes, sha256 $(sha256sum "$bin" | cut -d' ' -f1)"
}

build 1
build 2

sum1="$(sha256sum <"$work/out1/bin/tasks-backend")"
sum2="$(sha256sum <"$work/out2/bin/tasks-backend")"
# The whole runtime tree too (CA bundle, passwd, group, directories): names,
# modes and contents.
tree() { (cd "$1" && find . -printf '%p %m %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
if [[ "$sum1" == "$sum2" ]] && diff <(tree "$work/out1") <(tree "$work/out2") >/dev/null; then
  echo "reproducibility: identical: both builds gave the same binary and the same runtime file tree"
else
  [[ "$sum1" == "$sum2" ]] || echo "reproducibility: FAIL the two binaries differ" >&2
  diff <(tree "$work/out1") <(tree "$work/out2") >&2 || true
  exit 1
fi
