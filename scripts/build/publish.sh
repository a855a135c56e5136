#!/usr/bin/env bash
# Publishes local images of the service, one per architecture, under one tag: a
# multi-arch tag (a manifest list, the Docker form of an OCI image index) whose
# entries are the images as built, byte for byte (same config and layers).
# Usage: REGISTRY=HOST[:PORT] scripts/build/publish.sh TAG IMAGE...
#   e.g. REGISTRY=registry.example:5000 scripts/build/publish.sh 0.1.0 \
#          tasks-backend:compat tasks-backend:compat-arm64
# Each IMAGE goes to $REGISTRY/$REPOSITORY:TAG-ARCH (ARCH from the image's own
# config, so two images of one architecture are refused), then the list of them
# to $REGISTRY/$REPOSITORY:TAG. Prints one line per pushed manifest,
#   digest REFERENCE sha256:...   (the image's manifest, or the list's for TAG)
# the list's last: pin it as $REGISTRY/$REPOSITORY@sha256:...
# Env:
#   REGISTRY           the registry (required); log in to it first (docker login)
#                      where it asks for credentials: none is read here
#   REPOSITORY         the repository in it (default tasks-backend)
#   REGISTRY_INSECURE  1: the registry speaks plain HTTP (docker manifest
#                      --insecure; the engine itself allows it for 127.0.0.0/8
#                      and for its configured insecure-registries only)
#   DOCKER             client (default: Debian's /usr/bin/docker)
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
if [[ $# -lt 2 || -z "${REGISTRY:-}" ]]; then
  echo "usage: REGISTRY=HOST[:PORT] scripts/build/publish.sh TAG IMAGE..." >&2
  exit 2
fi
tag="$1"
shift
ensure_docker
repo="${REGISTRY%/}/${REPOSITORY:-tasks-backend}"
insecure=()
[[ "${REGISTRY_INSECURE:-0}" != 1 ]] || insecure=(--insecure)

entries=() seen=" "
for image in "$@"; do
  arch="$(dk image inspect -f '{{.Architecture}}' "$image")"
  if [[ "$seen" == *" $arch "* ]]; then
    echo "publish: two images for $arch ($image is the second)" >&2
    exit 2
  fi
  seen+="$arch "
  ref="$repo:$tag-$arch"
  dk tag "$image" "$ref"
  # `docker push` ends with "TAG: digest: sha256:... size: N".
  out="$(DK_TIMEOUT=600 dk push "$ref")"
  digest="$(sed -n 's/^.*digest: \(sha256:[0-9a-f]\{64\}\) .*$/\1/p' <<<"$out" | tail -n 1)"
  [[ -n "$digest" ]] || {
    printf 'publish: no digest in the output of docker push %s:\n%s\n' "$ref" "$out" >&2
    exit 1
  }
  dk rmi "$ref" >/dev/null
  echo "digest $ref $digest"
  entries+=("$repo@$digest")
done

# The list names each image by digest, so it holds exactly what was pushed above.
# --amend replaces a list of the same name left in the client's local store.
dk manifest create "${insecure[@]}" --amend "$repo:$tag" "${entries[@]}" >/dev/null
digest="$(DK_TIMEOUT=300 dk manifest push "${insecure[@]}" --purge "$repo:$tag" | grep -o 'sha256:[0-9a-f]\{64\}' | tail -n 1)"
[[ -n "$digest" ]] || {
  echo "publish: docker manifest push $repo:$tag printed no digest" >&2
  exit 1
}
echo "digest $repo:$tag $digest"
