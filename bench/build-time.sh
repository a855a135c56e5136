#!/usr/bin/env bash
# Build times of the compat image; one JSON object.
# Usage: bench/build-time.sh cold|rebuild
#   cold:    `docker build --no-cache` of Dockerfile.compat (every step runs, crates are
#            downloaded again); the builder base image itself stays local.
#   rebuild: in a temporary copy of the repository (the work tree is never touched):
#            build it once (cached), change one line of one .rs file, time the build
#            again, and check from BuildKit's log that the dependency layers were CACHED.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-bench-build.XXXXXX")"
tag="tasks-backend:bench-$mode-$$"
cleanup() {
  "$DOCKER" image rm "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# The step numbers of the dependency steps (`cargo fetch`, and the build of the
# dependencies with a stub src/) in BuildKit's plain log $1; prints true when all are CACHED.
deps_cached() {
  python3 - "$1" <<'EOF'
import re, sys
log = open(sys.argv[1], errors="replace").read().splitlines()
steps = {m.group(1) for line in log if (m := re.match(r"#(\d+) \[builder .*\] RUN .*", line))
         and ("cargo fetch" in line or "rm -rf src" in line)}
cached = {m.group(1) for line in log if (m := re.match(r"#(\d+) CACHED$", line))}
print("true" if steps and steps <= cached else "false")
EOF
}

case "$mode" in
  cold)
    rust_image=rust:1.95-slim-bookworm # the choice scripts/build/compat-image.sh makes
    "$DOCKER" image inspect "$rust_image" >/dev/null 2>&1 || rust_image=tasks-backend-builder:trixie-rust
    args=(build --no-cache --progress=plain -f "$repo_dir/Dockerfile.compat" --build-arg "RUST_IMAGE=$rust_image" -t "$tag")
    ca="${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"
    if [[ -n "$ca" && -f "$ca" ]]; then args+=(--secret "id=cacert,src=$ca"); fi
    start="$(now)"
    DOCKER_BUILDKIT=1 "$DOCKER" "${args[@]}" "$repo_dir" >"$work/build.log" 2>&1 \
      || { tail -n 30 "$work/build.log" >&2 && exit 1; }
    printf '{"mode":"cold","seconds":%.2f,"rust_image":"%s","how":"docker build --no-cache"}\n' \
      "$(since "$start")" "$rust_image"
    ;;
  rebuild)
    mkdir "$work/ctx"
    tar -C "$repo_dir" --exclude=./target --exclude=./.git -cf - . | tar -C "$work/ctx" -xf -
    BUILD_CONTEXT="$work/ctx" "$repo_dir/scripts/build/compat-image.sh" "$tag" >"$work/warm.log" 2>&1 \
      || { tail -n 30 "$work/warm.log" >&2 && exit 1; }
    file=src/lib.rs
    echo "const _BENCH_REBUILD_PROBE: u64 = $(date +%s);" >>"$work/ctx/$file"
    start="$(now)"
    BUILD_CONTEXT="$work/ctx" "$repo_dir/scripts/build/compat-image.sh" "$tag" >"$work/build.log" 2>&1 \
      || { tail -n 30 "$work/build.log" >&2 && exit 1; }
    printf '{"mode":"rebuild","seconds":%.2f,"changed":"one line appended to %s","dependency_layers_cached":%s}\n' \
      "$(since "$start")" "$file" "$(deps_cached "$work/build.log")"
    ;;
  *) log "usage: build-time.sh cold|rebuild" && exit 2 ;;
esac
