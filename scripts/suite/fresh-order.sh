#!/usr/bin/env bash
# Issue 9, kept proven on every run: on a fresh machine Debian's docker client
# (/usr/bin/docker) does not exist when scripts/test.sh starts; ensure-docker.sh
# installs it later. This replays that order without touching the machine: in a
# private mount namespace an overlay hides /usr/bin/docker, and a stand-in
# apt-get first on PATH "installs" docker.io by putting the client back (in the
# overlay only). Then, as test.sh does, scripts/lib/lib.sh is sourced at the start and
# the build stage runs ensure_docker:
#   1. docker.io is installed although an engine answers (the newer client on
#      PATH, if any, cannot build with BuildKit);
#   2. the client chosen after that is /usr/bin/docker, and a script started later
#      chooses it too;
#   3. a BuildKit build with that client works;
#   4. DOCKER given by the caller still wins.
# Needs root (unshare, mount) and a running engine. Ends with "N passed, M failed, K skipped".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The real client, to be "installed" into the namespace.
cp /usr/bin/docker "$work/docker-debian"
mkdir -p "$work/bin" "$work/upper" "$work/overlay-work" "$work/ctx"
echo x >"$work/ctx/f"
cat >"$work/bin/apt-get" <<EOF
#!/usr/bin/env bash
# Stand-in for apt-get: records the call; installing docker.io puts Debian's
# client back at /usr/bin/docker (inside the overlay of this namespace only).
echo "apt-get \$*" >>"$work/apt-calls"
if [[ " \$* " == *" install "* && " \$* " == *" docker.io "* ]]; then
  cp "$work/docker-debian" /usr/bin/docker
fi
EOF
chmod +x "$work/bin/apt-get"
: >"$work/apt-calls"

# What test.sh's build stage does, from a shell that sourced lib.sh at its start.
cat >"$work/stage.sh" <<'EOF'
source "$1/lib/lib.sh"
echo "at start: /usr/bin/docker $([[ -x /usr/bin/docker ]] && echo present || echo absent), DOCKER=${DOCKER:-unset}"
ensure_docker
echo "chosen: $DOCKER"
tag="tbfresh-$$:x"
if printf 'FROM scratch\nCOPY f /f\n' | DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$tag" -f - "$2" >/dev/null 2>"$3/build.err"; then
  echo "buildkit: ok"
  "$DOCKER" rmi "$tag" >/dev/null
else
  echo "buildkit: failed: $(head -n 1 "$3/build.err")"
fi
echo "child: $(bash -c 'source "$1/lib/lib.sh"; docker_client; echo "$DOCKER"' _ "$1")"
EOF

# replay ENV...: the stage in a namespace where /usr/bin/docker is not yet there.
replay() {
  # shellcheck disable=SC2016 # expanded by the inner shell, from its environment
  unshare -m --propagation private env -u DOCKER "$@" bash -c '
    set -euo pipefail
    mknod "$W/upper/docker" c 0 0   # an overlay whiteout: /usr/bin/docker is gone
    mount -t overlay overlay -o "lowerdir=/usr/bin,upperdir=$W/upper,workdir=$W/overlay-work" /usr/bin
    PATH="$W/bin:$PATH" bash "$W/stage.sh" "$S" "$W/ctx" "$W"
  ' 2>&1
}

out="$(replay W="$work" S="$TB_SCRIPTS")" || true
printf '%s\n' "$out" | sed 's/^/  /'
if grep -q '^at start: /usr/bin/docker absent' <<<"$out"; then r=ok; else r=fail; fi
result "$r" "the replay starts without /usr/bin/docker"
if grep -q 'install .*docker\.io' "$work/apt-calls"; then r=ok; else r=fail; fi
result "$r" "ensure_docker installs docker.io when Debian's client is missing" "$(grep -c . "$work/apt-calls") apt-get calls"
if grep -qx 'chosen: /usr/bin/docker' <<<"$out" && grep -qx 'child: /usr/bin/docker' <<<"$out"; then r=ok; else r=fail; fi
result "$r" "the client is chosen after the install: /usr/bin/docker, in later scripts too"
if grep -qx 'buildkit: ok' <<<"$out"; then r=ok; else r=fail; fi
result "$r" "a BuildKit build works with the chosen client"

rm -rf "$work/upper" "$work/overlay-work"
mkdir -p "$work/upper" "$work/overlay-work"
: >"$work/apt-calls"
out="$(replay W="$work" S="$TB_SCRIPTS" DOCKER="$work/docker-debian")" || true
if grep -qx "chosen: $work/docker-debian" <<<"$out"; then r=ok; else r=fail; fi
result "$r" "DOCKER given by the caller wins" "$(grep '^chosen' <<<"$out")"

summary
