#!/usr/bin/env bash
# The Prometheus alerting rules (deploy/prometheus/alerts.yaml), with Debian's
# promtool: `promtool check rules` (syntax, PromQL, templates), then `promtool
# test rules` on the unit-test series in deploy/prometheus/alerts.test.yaml
# (each alert fires when it should, with its labels and annotations, and stays
# quiet on healthy series), and `promtool check config` on the Prometheus
# configuration of compose.yaml's monitoring profile. First proves the tests can fail: a copy of the rules
# with the error-ratio threshold raised tenfold must fail them.
# Usage: scripts/check/alerts.sh. Ends with "N passed, M failed, K skipped".
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
rules="$TB_ROOT/deploy/prometheus"
# promtool comes with Debian's prometheus package (without its recommends).
command -v promtool >/dev/null 2>&1 || apt_install --no-install-recommends prometheus
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-alerts.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cp "$rules/alerts.yaml" "$rules/alerts.test.yaml" "$work/"
sed -i 's/^            > 0\.05$/            > 0.5/' "$work/alerts.yaml"
mutated() {
  ! cmp -s "$rules/alerts.yaml" "$work/alerts.yaml" || fail "the threshold was not found to change"
  ! promtool test rules "$work/alerts.test.yaml" >/dev/null 2>&1 || fail "the tests passed on a broken rule"
}
check --errexit "the unit tests catch a wrong threshold" "error ratio 5 % -> 50 % fails them" mutated
check --quiet "promtool check rules" "$(grep -c '^      - alert:' "$rules/alerts.yaml") alerts" \
  promtool check rules "$rules/alerts.yaml"
check --quiet "promtool test rules" "deploy/prometheus/alerts.test.yaml" \
  promtool test rules "$rules/alerts.test.yaml"
check --quiet "promtool check config" "deploy/prometheus/prometheus.yml (compose's monitoring profile) and its rules" \
  promtool check config "$rules/prometheus.yml"
summary
