#!/usr/bin/env python3
"""The Python half of scripts/check/manifests.sh, on rendered manifests.

  check-manifests.py pods DIR [COMPOSE_FILE...]
      DIR holds one rendered file per variant (postgres.yaml, sqlite.yaml,
      openshift-postgres.yaml, openshift-sqlite.yaml). Checks each variant's
      objects, Kubernetes' restricted Pod Security level on every pod template
      (the rules as published, since neither kubernetes-validate nor checkov
      applies them as a whole), and what the service needs from its pod spec
      (probes on /livez and /readyz, a grace period longer than drain + shutdown
      timeout, replicas and update strategy, the URL file and its Secret, the
      data volume). A memory limit in a compose file must equal the pods' one.
      Prints the number of objects; exits 1 listing every problem.

  check-manifests.py monitoring FILE
      FILE is an overlay rendered with components/monitoring. Checks that its
      ServiceMonitor selects the Service by its labels, scrapes a port the
      Service names, on /metrics, and that the pod template carries the
      prometheus.io scrape annotations on the container's port.

  check-manifests.py checkov --require FRAMEWORKS --allow-skips IDS JSON...
      Sums checkov's JSON reports: exits 1 if any check failed, a file did not
      parse, a skip has no reason or is not one of IDS (the reviewed list, so a
      new skip is a visible change of the caller), or one of FRAMEWORKS
      covered no resource or passed no check: a path that matched nothing must
      not pass as clean. (The secrets scan reports only findings, so it has
      nothing to count when clean.)
"""

import argparse
import json
import re
import sys

import yaml

EXPECTED_KINDS = {
    "postgres": ["Namespace", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy"],
    "sqlite": ["Namespace", "Service", "PersistentVolumeClaim", "Deployment",
               "PodDisruptionBudget", "NetworkPolicy"],
}
NAMESPACE = "tasks-backend"
APP_UID = 10001
DATA_DIR = "/app/data"

# Restricted Pod Security: the volume types it allows, and the capability a
# container may add back.
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                           "persistentVolumeClaim", "projected", "secret"}
RESTRICTED_ADD_CAPS = {"NET_BIND_SERVICE"}


class Problems(list):
    def check(self, ok, where, message):
        if not ok:
            self.append(f"{where}: {message}")
        return ok


def restricted_pod_security(pod, where, problems):
    """Kubernetes' restricted level (baseline included), from its published rules."""
    sc = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        problems.check(not pod.get(field), where, f"{field} is set")
    for vol in pod.get("volumes") or []:
        kinds = set(vol) - {"name"}
        problems.check(kinds <= RESTRICTED_VOLUME_TYPES, where,
                       f"volume {vol.get('name')} of type {sorted(kinds)} is not allowed")
    problems.check(not sc.get("sysctls"), where, "sysctls are set")
    problems.check(sc.get("runAsUser") != 0, where, "pod runAsUser is 0")
    containers = [c for key in ("initContainers", "containers", "ephemeralContainers")
                  for c in pod.get(key) or []]
    problems.check(containers, where, "no containers")
    for c in containers:
        csc = c.get("securityContext") or {}
        at = f"{where} container {c.get('name')}"
        problems.check(csc.get("privileged") is not True, at, "privileged")
        problems.check(csc.get("allowPrivilegeEscalation") is False, at,
                       "allowPrivilegeEscalation is not false")
        caps = csc.get("capabilities") or {}
        problems.check("ALL" in (caps.get("drop") or []), at, "capabilities do not drop ALL")
        problems.check(set(caps.get("add") or []) <= RESTRICTED_ADD_CAPS, at,
                       f"adds capabilities {caps.get('add')}")
        problems.check(csc.get("runAsNonRoot", sc.get("runAsNonRoot")) is True, at,
                       "runAsNonRoot is not true")
        problems.check(csc.get("runAsUser", sc.get("runAsUser")) != 0, at, "runAsUser is 0")
        seccomp = (csc.get("seccompProfile") or sc.get("seccompProfile") or {}).get("type")
        problems.check(seccomp in ("RuntimeDefault", "Localhost"), at,
                       f"seccompProfile is {seccomp}, not RuntimeDefault or Localhost")
        problems.check(csc.get("procMount", "Default") == "Default", at, "procMount is set")
        problems.check(all(not p.get("hostPort") for p in c.get("ports") or []), at,
                       "uses a hostPort")
        for level in (sc, csc):
            selinux_type = (level.get("seLinuxOptions") or {}).get("type", "")
            problems.check(selinux_type in ("", "container_t", "container_init_t",
                                            "container_kvm_t", "container_engine_t"),
                           at, f"SELinux type {selinux_type}")
            apparmor = (level.get("appArmorProfile") or {}).get("type", "RuntimeDefault")
            problems.check(apparmor in ("RuntimeDefault", "Localhost"), at,
                           f"appArmorProfile is {apparmor}")


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def memory_mib(quantity):
    """128Mi, 128m (Docker: MiB), 134217728 -> MiB; None if not understood."""
    m = re.fullmatch(r"(\d+)\s*(Mi|M|m|MB|Gi|G|g|GB)?", str(quantity).strip())
    if not m:
        return None
    number, unit = int(m.group(1)), m.group(2)
    if unit is None:
        return number / 2**20
    return number * (1024 if unit in ("Gi", "G", "g", "GB") else 1)


def service_needs(variant, objects, problems):
    """What this service needs from its pod spec, beyond Pod Security."""
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    deployment = by_kind["Deployment"][0]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    (c,) = pod["containers"]
    env = env_of(c)
    sc = pod.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    at = f"{variant} Deployment"
    openshift = variant.startswith("openshift-")
    sqlite = variant.endswith("sqlite")

    for obj in objects:
        if obj["kind"] != "Namespace":
            problems.check(obj["metadata"].get("namespace") == NAMESPACE, variant,
                           f"{obj['kind']} {obj['metadata']['name']} is not in {NAMESPACE}")
    problems.check(spec["selector"]["matchLabels"].items() <= labels.items(), at,
                   "selector does not match the pod labels")
    for kind, selector in (("Service", lambda o: o["spec"]["selector"]),
                           ("PodDisruptionBudget", lambda o: o["spec"]["selector"]["matchLabels"]),
                           ("NetworkPolicy", lambda o: o["spec"]["podSelector"]["matchLabels"])):
        problems.check(selector(by_kind[kind][0]).items() <= labels.items(), variant,
                       f"the {kind} does not select the pods")
    port_names = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    problems.check(by_kind["Service"][0]["spec"]["ports"][0]["targetPort"] in port_names,
                   variant, "the Service's targetPort is no port of the container")
    problems.check(port_names.get("http") == int(env.get("PORT", 0)), at,
                   "container port http is not PORT")

    image = c["image"]
    problems.check(re.search(r":[^/:]+$", image) and not image.endswith(":latest"), at,
                   f"image {image} has no pinned tag")
    problems.check(pod.get("automountServiceAccountToken") is False, at,
                   "automountServiceAccountToken is not false")
    problems.check(csc.get("readOnlyRootFilesystem") is True, at,
                   "readOnlyRootFilesystem is not true")
    if openshift:
        for field in ("runAsUser", "runAsGroup", "fsGroup"):
            problems.check(field not in sc and field not in csc, at,
                           f"{field} is fixed (OpenShift's SCC assigns it)")
    else:
        problems.check(sc.get("runAsUser") == APP_UID and sc.get("runAsGroup") == APP_UID, at,
                       f"runAsUser/runAsGroup are not {APP_UID}")
        problems.check(sc.get("fsGroup") == APP_UID, at, f"fsGroup is not {APP_UID}")

    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"),
                        ("readinessProbe", "/readyz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        problems.check(get.get("path") == path and get.get("port") in ("http", 8000), at,
                       f"{probe} is not an HTTP GET of {path} on the service port")
    drain = int(env.get("SHUTDOWN_DRAIN_SECS", 0))
    timeout = int(env.get("SHUTDOWN_TIMEOUT_SECS", 8))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    problems.check(drain > 0, at, "SHUTDOWN_DRAIN_SECS is not set above 0")
    problems.check(grace > drain + timeout, at,
                   f"terminationGracePeriodSeconds {grace} is not above drain {drain} + "
                   f"shutdown timeout {timeout}")

    res = c.get("resources") or {}
    for kind in ("requests", "limits"):
        for name in ("cpu", "memory"):
            problems.check(name in (res.get(kind) or {}), at, f"no {name} {kind}")
    mem_limit = memory_mib((res.get("limits") or {}).get("memory"))

    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    if sqlite:
        problems.check(spec.get("replicas") == 1, at, "replicas is not 1")
        problems.check(spec.get("strategy", {}).get("type") == "Recreate", at,
                       "strategy is not Recreate")
        problems.check("DATABASE_URL" not in env and "DATABASE_URL_FILE" not in env, at,
                       "sets a database URL (the image's SQLite default must apply)")
        data = [n for n, p in mounts.items() if p == DATA_DIR]
        claim = data and volumes[data[0]].get("persistentVolumeClaim", {}).get("claimName")
        claims = [o["metadata"]["name"] for o in by_kind.get("PersistentVolumeClaim", [])]
        problems.check(claim and claim in claims, at,
                       f"{DATA_DIR} is not a PersistentVolumeClaim of this overlay")
        problems.check(not by_kind["NetworkPolicy"][0]["spec"].get("egress"), variant,
                       "the NetworkPolicy allows egress, which SQLite never needs")
    else:
        problems.check(spec.get("replicas") == 3, at, "replicas is not 3")
        strategy = spec.get("strategy") or {}
        problems.check(strategy.get("type") == "RollingUpdate"
                       and strategy.get("rollingUpdate", {}).get("maxUnavailable") == 0,
                       at, "strategy is not RollingUpdate with maxUnavailable 0")
        # The images set DATABASE_URL; only an empty value lets _FILE apply.
        problems.check(env.get("DATABASE_URL") == "", at, "DATABASE_URL is not cleared")
        url_file = env.get("DATABASE_URL_FILE") or ""
        found = False
        for name, path in mounts.items():
            secret = volumes.get(name, {}).get("secret")
            if secret and url_file.startswith(path.rstrip("/") + "/"):
                rel = url_file[len(path.rstrip("/")) + 1:]
                items = {i["path"]: i["key"] for i in secret.get("items") or []}
                found = rel in items or (not items and rel)
        problems.check(found, at, f"DATABASE_URL_FILE {url_file!r} is not a key of a "
                       "mounted Secret")
        egress_ports = {p.get("port") for rule in
                        by_kind["NetworkPolicy"][0]["spec"].get("egress") or []
                        for p in rule.get("ports") or []}
        problems.check({53, 5432} <= egress_ports, variant,
                       "the NetworkPolicy does not let DNS and PostgreSQL out")
    return mem_limit


def compose_memory_limits(path):
    """The memory limits of a compose file's services that run this image."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    limits = []
    for name, svc in (doc.get("services") or {}).items():
        if "tasks-backend" not in str(svc.get("image", "")):
            continue
        for value in (svc.get("mem_limit"),
                      (((svc.get("deploy") or {}).get("resources") or {}).get("limits")
                       or {}).get("memory")):
            if value is not None:
                limits.append((f"{path} services.{name}", value))
    return limits


def pods(directory, compose_files):
    problems = Problems()
    counts = {}
    mem_limits = set()
    for variant in ("postgres", "sqlite", "openshift-postgres", "openshift-sqlite"):
        with open(f"{directory}/{variant}.yaml", encoding="utf-8") as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        counts[variant] = len(objects)
        kinds = sorted(o["kind"] for o in objects)
        expected = sorted(EXPECTED_KINDS[variant.removeprefix("openshift-")])
        if not problems.check(kinds == expected, variant,
                              f"objects are {kinds}, expected {expected}"):
            continue
        for obj in objects:
            template = (obj.get("spec") or {}).get("template")
            if template:
                restricted_pod_security(template["spec"], f"{variant} {obj['kind']}", problems)
        mem_limits.add(service_needs(variant, objects, problems))
    problems.check(len(mem_limits) == 1, "memory limits", f"differ between variants: {mem_limits}")
    pod_limit = next(iter(mem_limits))
    compared = 0
    for path in compose_files:
        for where, value in compose_memory_limits(path):
            compared += 1
            problems.check(memory_mib(value) == pod_limit, where,
                           f"memory limit {value} is not the pods' {pod_limit:g} MiB")
    for p in problems:
        print(f"FAIL {p}")
    total = sum(counts.values())
    print(f"pod spec: {total} objects in {len(counts)} variants "
          f"({', '.join(f'{k} {v}' for k, v in counts.items())}); restricted Pod Security "
          f"and service needs: {len(problems)} problems; memory limit {pod_limit:g} MiB, "
          f"compared with {compared} compose services")
    return 1 if problems else 0


def monitoring(path):
    with open(path, encoding="utf-8") as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    by_kind = {o["kind"]: o for o in objects}
    problems = Problems()
    monitor, service, deployment = (by_kind.get(k) for k in
                                    ("ServiceMonitor", "Service", "Deployment"))
    if not (monitor and service and deployment):
        print(f"FAIL {path}: expected a ServiceMonitor, a Service and a Deployment: "
              f"{sorted(by_kind)}")
        return 1
    selector = monitor["spec"]["selector"]["matchLabels"]
    labels = service["metadata"].get("labels", {})
    problems.check(selector.items() <= labels.items(), "ServiceMonitor",
                   f"selects {selector}, the Service has {labels}")
    problems.check(monitor["metadata"].get("namespace") == NAMESPACE, "ServiceMonitor",
                   f"not in namespace {NAMESPACE}")
    port_names = {p.get("name") for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        problems.check(endpoint.get("port") in port_names, "ServiceMonitor",
                       f"port {endpoint.get('port')} is not one of the Service's {port_names}")
        problems.check(endpoint.get("path") == "/metrics", "ServiceMonitor",
                       f"path {endpoint.get('path')}")
    template = deployment["spec"]["template"]
    annotations = template["metadata"].get("annotations", {})
    container_ports = {str(p["containerPort"]) for c in template["spec"]["containers"]
                       for p in c.get("ports", [])}
    problems.check(annotations.get("prometheus.io/scrape") == "true", "pod template",
                   "no prometheus.io/scrape: true")
    problems.check(annotations.get("prometheus.io/port") in container_ports, "pod template",
                   f"prometheus.io/port is not one of the container's ports {container_ports}")
    problems.check(annotations.get("prometheus.io/path") == "/metrics", "pod template",
                   "prometheus.io/path is not /metrics")
    for p in problems:
        print(f"FAIL {p}")
    print(f"monitoring: ServiceMonitor and scrape annotations: {len(problems)} problems")
    return 1 if problems else 0


def checkov(required, allowed_skips, reports):
    status = 0
    covered = set()
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for path in reports:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for report in data if isinstance(data, list) else [data]:
            # With nothing at all to report, checkov prints a bare summary.
            kind = report.get("check_type", "no findings")
            summary = report.get("summary", report)
            results = report.get("results") or {}
            for failed in results.get("failed_checks") or []:
                print(f"FAIL checkov {failed['check_id']} {failed['check_name']}: "
                      f"{failed['resource']} in {failed['file_path']}")
            for skipped in results.get("skipped_checks") or []:
                check_id = skipped["check_id"]
                reason = (skipped.get("check_result") or {}).get("suppress_comment", "").strip()
                if reason == "No comment provided":  # checkov's filler for a bare skip
                    reason = ""
                print(f"  skipped {check_id} in {skipped['file_path']}: "
                      f"{reason or 'NO REASON GIVEN'}")
                if not reason:
                    print(f"FAIL checkov: {check_id} is skipped without a reason")
                    status = 1
                if check_id not in allowed_skips:
                    print(f"FAIL checkov: {check_id} is skipped but not in the reviewed list")
                    status = 1
            print(f"checkov {kind} ({path.rsplit('/', 1)[-1]}): {summary['passed']} passed, "
                  f"{summary['failed']} failed, {summary['skipped']} skipped, "
                  f"{summary['parsing_errors']} parsing errors, "
                  f"{summary['resource_count']} resources")
            for key in totals:
                totals[key] += summary[key]
            if summary["failed"] or summary["parsing_errors"]:
                status = 1
            if summary["resource_count"] and summary["passed"]:
                covered.add(kind)
    for kind in set(required) - covered:
        print(f"FAIL checkov: the {kind} scan covered no resource or passed no check")
        status = 1
    print(f"checkov total: {totals['passed']} passed, {totals['failed']} failed, "
          f"{totals['skipped']} skipped")
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pods")
    p.add_argument("directory")
    p.add_argument("compose_files", nargs="*")
    m = sub.add_parser("monitoring")
    m.add_argument("file")
    c = sub.add_parser("checkov")
    c.add_argument("--require", default="", help="comma-separated frameworks")
    c.add_argument("--allow-skips", default="", help="comma-separated check ids")
    c.add_argument("reports", nargs="+")
    args = parser.parse_args()
    if args.command == "pods":
        return pods(args.directory, args.compose_files)
    if args.command == "monitoring":
        return monitoring(args.file)
    return checkov([f for f in args.require.split(",") if f],
                   {i for i in args.allow_skips.split(",") if i}, args.reports)


if __name__ == "__main__":
    sys.exit(main())
