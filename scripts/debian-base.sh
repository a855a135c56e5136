# Sourced by the scripts that build local stand-ins for official images
# (builder, PostgreSQL, HAProxy): one Debian trixie minbase image, made with
# debootstrap and `docker import`, shared by all of them.
#   debian_base TAG   makes TAG unless it exists (needs root for debootstrap)
# The Debian archive is the one this machine's apt uses, so no mirror's host name
# lives in the repository; $DEBIAN_MIRROR overrides it.
# shellcheck shell=bash

# The first Debian archive URI in apt's configuration (deb822 or one-line form).
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' ') || true
  if [[ -z "$uri" ]]; then
    echo "debian-base: no Debian archive in /etc/apt; set DEBIAN_MIRROR" >&2
    return 1
  fi
  echo "${uri%/}"
}

debian_base() {
  local tag="$1" mirror rootfs log
  if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
    return 0
  fi
  mirror=$(debian_mirror) || return 1
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "debian-base: installing debootstrap"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-rootfs.XXXXXX")"
  log="${TMPDIR:-/tmp}/tasks-backend-debootstrap.log"
  echo "debian-base: debootstrap trixie into $rootfs (log $log)"
  if ! debootstrap --variant=minbase trixie "$rootfs" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$rootfs"
    return 1
  fi
  # The image's apt must use the same archive the rootfs came from.
  echo "deb $mirror trixie main" >"$rootfs/etc/apt/sources.list"
  tar -C "$rootfs" -c . | "$DOCKER" import - "$tag" >/dev/null
  rm -rf "$rootfs"
}
