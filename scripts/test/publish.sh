#!/usr/bin/env bash
# scripts/build/publish.sh against a real registry: Debian's docker-registry
# (distribution 2.8), started on a free loopback port with its storage and log
# (registry.log) in a work directory, and stopped at the end. Checks:
#   the multi-arch tag lists exactly the platforms of the given images
#     (skopeo inspect --raw), and its digest is the one publish.sh printed;
#   per platform, the registry's manifest names the built image's config
#     (digest = the local image ID) and that config the built layers (diff_ids);
#   per platform, pulled back by digest: the same image ID and layers, and it
#     runs and answers GET /health (arm64 through qemu-user-static).
# Usage: scripts/test/publish.sh IMAGE...     (one per architecture)
# The registry comes from the Debian package, unpacked into a cache directory
# rather than installed: installing it would also start its system service on
# port 5000 (the package's init script), which nothing here should leave behind.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
if [[ $# -lt 1 ]]; then
  echo "usage: scripts/test/publish.sh IMAGE..." >&2
  exit 2
fi
ensure_docker
apt_tool jq jq
apt_tool skopeo skopeo
run_id="tbpublish-$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/$run_id.XXXXXX")"
# Ends the registry (a job of this script), its containers, the pulled references.
cleanup() {
  local ref
  while read -r ref; do "$DOCKER" rmi "$ref" >/dev/null 2>&1 || true; done < <(cat "$work/pulled" 2>/dev/null)
  end_run "$run_id" "$work"
}
trap cleanup EXIT

# registry_binary: Debian's docker-registry, unpacked once into the cache.
registry_binary() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/tasks-backend/docker-registry"
  if [[ ! -x "$dir/usr/bin/docker-registry" ]]; then
    mkdir -p "$dir"
    (cd "$work" && { apt-get download -q docker-registry >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get download -q docker-registry >/dev/null; }; }) || return 1
    dpkg-deb -x "$work"/docker-registry_*.deb "$dir"
  fi
  printf '%s\n' "$dir/usr/bin/docker-registry"
}

registry="$(registry_binary)"
port="$(free_port)"
cat >"$work/config.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: 127.0.0.1:$port
YAML
"$registry" serve "$work/config.yml" >"$work/registry.log" 2>&1 &
if ! wait_http "http://127.0.0.1:$port/v2/" 10; then
  echo "FAIL registry: docker-registry did not answer on 127.0.0.1:$port; its log:"
  tail -n 20 "$work/registry.log"
  exit 1
fi
echo "publish-test: $("$registry" --version | head -n 1) on 127.0.0.1:$port (log $work/registry.log)"

tag="test-$$"
repo="127.0.0.1:$port/tasks-backend"
start=$SECONDS
if ! REGISTRY="127.0.0.1:$port" REGISTRY_INSECURE=1 "$TB_SCRIPTS/build/publish.sh" "$tag" "$@" >"$work/publish.out" 2>&1; then
  result fail "publish.sh pushes the images and the list" "$(tail -n 3 "$work/publish.out" | tr '\n' ' ')"
  summary
  exit 1
fi
cat "$work/publish.out"
result ok "publish.sh pushes the images and the list" "$((SECONDS - start)) s"

skopeo_raw() { skopeo inspect --tls-verify=false --raw "docker://$1"; }
skopeo_raw "$repo:$tag" >"$work/index.json"
expected="$(for image in "$@"; do dk image inspect -f '{{.Os}}/{{.Architecture}}' "$image"; done | sort | tr '\n' ' ')"
listed="$(jq -r '.manifests[] | "\(.platform.os)/\(.platform.architecture)"' "$work/index.json" | sort | tr '\n' ' ')"
check "the tag is a list of every platform" "$(jq -r .mediaType "$work/index.json"): $listed" \
  test "$listed" = "$expected"
index_digest="sha256:$(sha256sum <"$work/index.json" | cut -d' ' -f1)"
printed="$(awk -v r="$repo:$tag" '$1 == "digest" && $2 == r { print $3 }' "$work/publish.out")"
check "the list's digest is the one printed" "$index_digest" test "$index_digest" = "$printed"

# platform_checks IMAGE: the registry holds IMAGE as built, and it runs pulled back.
platform_checks() {
  local image="$1" platform id layers digest ref pulled_id pulled_layers addr body
  platform="$(dk image inspect -f '{{.Os}}/{{.Architecture}}' "$image")"
  id="$(dk image inspect -f '{{.Id}}' "$image")"
  layers="$(dk image inspect -f '{{json .RootFS.Layers}}' "$image" | jq -c .)"
  digest="$(jq -r --arg p "$platform" \
    '.manifests[] | select("\(.platform.os)/\(.platform.architecture)" == $p) | .digest' "$work/index.json")"
  [[ "$digest" == sha256:* ]] || fail "$platform: not in the list"
  ref="$repo@$digest"
  [[ "$(skopeo_raw "$ref" | jq -r .config.digest)" == "$id" ]] ||
    fail "$platform: the registry's config is not $id"
  [[ "$(skopeo inspect --tls-verify=false --config "docker://$ref" | jq -c .rootfs.diff_ids)" == "$layers" ]] ||
    fail "$platform: the registry's layers differ from the built ones"
  echo "$ref" >>"$work/pulled"
  DK_TIMEOUT=300 dk pull -q "$ref" >/dev/null
  pulled_id="$(dk image inspect -f '{{.Id}}' "$ref")"
  pulled_layers="$(dk image inspect -f '{{json .RootFS.Layers}}' "$ref" | jq -c .)"
  [[ "$pulled_id" == "$id" && "$pulled_layers" == "$layers" ]] ||
    fail "$platform: pulled $pulled_id, built $id"
  dk run -d --name "$run_id-${platform//\//-}" -p 127.0.0.1::8000 "$ref" >/dev/null
  # Emulated (arm64 here) the service starts in about 1 s; 30 s is the margin.
  wait_container_http "$run_id-${platform//\//-}" 8000 30 || fail "$platform: no 200 from /health within 30 s"
  addr="$(container_addr "$run_id-${platform//\//-}" 8000)"
  body="$(curl -s --noproxy '*' --max-time 5 "http://$addr/health")"
  [[ "$body" == '{"status":"healthy"}' ]] || fail "$platform: /health said $body"
  note "$digest: config ${id:7:12}, $(jq length <<<"$layers") layer(s) as built; pulled, runs, /health healthy"
}
for image in "$@"; do
  check --errexit "$(dk image inspect -f '{{.Os}}/{{.Architecture}}' "$image") pulled by digest is $image and runs" "" \
    platform_checks "$image"
done
if ((failed > 0)); then
  echo "publish-test: the registry's log, last 20 lines:"
  tail -n 20 "$work/registry.log"
fi
summary
