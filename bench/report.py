#!/usr/bin/env python3
"""Assemble the parts bench/run.sh wrote into OUT/latest.json and OUT/latest.md.

Usage: bench/report.py PARTS_DIR OUT_DIR
"""

import json
import sys
from pathlib import Path

MB = 1_000_000  # the engine's "MB" (docker image ls) is decimal
MIB = 1024 * 1024
SCENARIOS = {"health": "GET /health", "get-task": "GET /api/tasks/{id}",
             "list": "GET /api/tasks?limit=100", "post": "POST /api/tasks"}
TARGET_NAMES = {
    "native": "native binary",
    "host": "container, host network",
    "published": "container, published port (docker-proxy)",
    "host-warn": "container, host network, LOG_LEVEL=warn",
    "native-warn": "native binary, LOG_LEVEL=warn",
    "host-pinned": "container, host network, server on CPU 1, wrk (1 thread) on CPU 0",
    "native-pinned": "native binary on CPU 1, wrk (1 thread) on CPU 0",
}


def load(parts, name):
    path = parts / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def assemble(parts):
    machine = load(parts, "machine")
    targets = {}
    for path in sorted(parts.glob("target-*.json")):
        t = json.loads(path.read_text())
        for result in t["load"].values():
            result["non2xx"] = result["wrk"].get("non2xx_exact", result["wrk"]["status_errors"])
            result["socket_errors_total"] = sum(result["wrk"]["socket_errors"].values())
        t["memory_peak_under_load"] = {
            key: max(r["memory_peak"].get(key, 0) for r in t["load"].values())
            for key in t["memory_idle"]}
        targets[t["name"]] = t
    order = [n for n in TARGET_NAMES if n in targets] + [n for n in targets if n not in TARGET_NAMES]
    data = {
        "schema": 1,
        "mode": machine.pop("mode"),
        "commit": machine.pop("commit"),
        "settings": {k: machine.pop(k) for k in ("seconds", "warmup_s", "starts")}
        | {"connections": 32, "tasks_in_db": machine.pop("tasks"), "load_generator": machine["wrk"]},
        "machine": machine,
        "image": load(parts, "image"),
        "build": {"cold": load(parts, "build-cold"), "rebuild": load(parts, "build-rebuild")},
        "start": {"published": load(parts, "start-published"), "host": load(parts, "start-host"),
                  "machine": load(parts, "start-machine")},
        "targets": {n: targets[n] for n in order},
        "run_seconds": load(parts, "duration")["seconds"],
    }
    data["checks"] = checks(data)
    data["notes"] = notes(data)
    return data


def notes(d):
    t = d["targets"]
    out = [
        "wrk runs on the same machine: unless pinned, it and the server share all cores, "
        "so every req/s figure is also bounded by wrk's own CPU use.",
        "The engine starts the first health probe one --interval (5 s) after the container "
        "starts (Docker 20.10 has no --start-interval), so `healthy` comes at about 5 s by "
        "construction, although /health answers 200 within milliseconds.",
        "Memory: the cgroup figure is what the engine charges the container; the binary's "
        "page cache is charged to whichever cgroup first read it (usually an earlier "
        "container), so RSS, which counts those shared, clean file pages, is higher.",
        "POST /api/tasks: every 201 is fsynced (SQLite WAL, synchronous=FULL) and writes "
        "take turns, so its req/s is bounded by fsync latency, not by CPU.",
    ]
    for base, quiet in (("host", "host-warn"), ("native", "native-warn")):
        if base in t and quiet in t:
            parts = []
            for scenario in ("health", "get-task"):
                a, b = t[base]["load"][scenario]["wrk"]["rps"], t[quiet]["load"][scenario]["wrk"]["rps"]
                parts.append(f"{SCENARIOS[scenario]} {a:.0f} vs {b:.0f} req/s ({(a / b - 1) * 100:+.0f}%)")
            where = "the engine's log pipeline (containerd-shim, dockerd json-file)" if base == "host" \
                else "a file"
            out.append(f"Logging cost, {TARGET_NAMES[base]} (one info line per request to {where}), "
                       f"LOG_LEVEL=info vs warn: " + "; ".join(parts) + ".")
    return out


def checks(d):
    host = d["targets"].get("host")
    out = []

    def check(what, value, limit, unit, ok):
        out.append({"target": what, "value": value, "limit": limit, "unit": unit, "met": bool(ok)})

    size = d["image"]["size_bytes"]
    check("compat image size", round(size / MB, 2), 15, "MB", size <= 15 * MB)
    first = d["start"]["published"]["first_200_after_run_s"]["median"]
    check("first 200 after docker run (published port, median)", round(first, 4), 0.05, "s", first < 0.05)
    if host:
        idle = host["memory_idle"]["cgroup_usage"]
        check("idle memory (container cgroup)", round(idle / MB, 2), 10, "MB", idle < 10 * MB)
        peak = host["memory_peak_under_load"]["cgroup_usage"]
        check("memory under load (container cgroup, peak)", round(peak / MB, 2), 32, "MB", peak < 32 * MB)
    rebuild = d["build"]["rebuild"]
    check("source-only rebuild (dependency layers cached)", rebuild["seconds"], 30, "s",
          rebuild["seconds"] < 30 and rebuild["dependency_layers_cached"])
    if host:
        for scenario, rps_min in (("health", 20000), ("get-task", 15000)):
            r = host["load"][scenario]
            check(f"{SCENARIOS[scenario]} req/s (host network, 32 conns)", round(r["wrk"]["rps"]), rps_min,
                  "req/s", r["wrk"]["rps"] > rps_min)
            check(f"{SCENARIOS[scenario]} p99 (host network)", r["wrk"]["p99_ms"], 10, "ms", r["wrk"]["p99_ms"] < 10)
            check(f"{SCENARIOS[scenario]} non-2xx + socket errors", r["non2xx"] + r["socket_errors_total"], 0,
                  "", r["non2xx"] + r["socket_errors_total"] == 0)
    return out


def mb(n):
    return f"{n / MB:.1f}"


def markdown(d):
    m, s = d["machine"], d["settings"]
    lines = [
        f"# Benchmarks ({d['mode']} run)",
        "",
        f"Commit `{d['commit']}`, {d['run_seconds']} s. Machine: {m['cores']} cores ({m['cpu']}), "
        f"{m['memory_bytes'] / 2**30:.0f} GiB, {m['os']}, kernel {m['kernel']}; Docker engine {m['engine']} "
        f"(cgroup {m['cgroup']}, logging driver {m.get('logging_driver', '?')}); {m['rustc']}; "
        f"{s['load_generator']}.",
        f"Load: wrk, {s['connections']} connections, {s['seconds']} s per run after a {s['warmup_s']} s warm-up, "
        f"loopback only; database of {s['tasks_in_db']} tasks. wrk and the server share the "
        f"{m['cores']} cores unless pinned.",
        "",
        "## Targets",
        "",
        "| target | limit | measured | met |",
        "|---|---|---|---|",
    ]
    for c in d["checks"]:
        sign = "<=" if c["unit"] in ("MB",) and "image" in c["target"] else ("=" if c["unit"] == "" else
                                                                             (">" if c["unit"] == "req/s" else "<"))
        lines.append(f"| {c['target']} | {sign} {c['limit']} {c['unit']} | {c['value']} {c['unit']} | "
                     f"{'yes' if c['met'] else '**no**'} |")
    lines += ["", "## Load", "",
              "| server | request | req/s | p50 ms | p99 ms | non-2xx | socket errors |",
              "|---|---|---|---|---|---|---|"]
    for name, t in d["targets"].items():
        for scenario, r in t["load"].items():
            w = r["wrk"]
            lines.append(f"| {TARGET_NAMES.get(name, name)} | {SCENARIOS[scenario]} | {w['rps']:.0f} | "
                         f"{w['p50_ms']:.2f} | {w['p99_ms']:.2f} | {r['non2xx']} | {r['socket_errors_total']} |")
    lines += ["", "## Memory (MB)", "",
              "cgroup = everything charged to the container's memory cgroup (page cache included); "
              "anon = its anonymous memory (heap, stacks); RSS = the process's resident set "
              "(anonymous + mapped file pages, i.e. the binary and libraries), from /proc.",
              "",
              "| server | idle: cgroup / anon / RSS | under load, peak: cgroup / anon / RSS | log written |",
              "|---|---|---|---|"]
    for name, t in d["targets"].items():
        def trio(mem):
            return " / ".join(mb(mem[k]) if k in mem else "-" for k in ("cgroup_usage", "cgroup_anon", "vm_rss"))
        lines.append(f"| {TARGET_NAMES.get(name, name)} | {trio(t['memory_idle'])} | "
                     f"{trio(t['memory_peak_under_load'])} | {mb(t['log_bytes'])} MB |")
    st = d["start"]
    lines += ["", "## Start (fresh container, empty database)", "",
              "| network | starts | docker run -d (median) | first 200 after run returns: median (min-max) | healthy |",
              "|---|---|---|---|---|"]
    for net in ("published", "host"):
        x = st[net]
        f = x["first_200_after_run_s"]
        healthy = f"{x['healthy_after_run_s']['median']:.2f} s" if "healthy_after_run_s" in x else "-"
        lines.append(f"| {net} | {x['starts']} | {x['run_s']['median']:.3f} s | {f['median'] * 1000:.1f} ms "
                     f"({f['min'] * 1000:.1f}-{f['max'] * 1000:.1f}) | {healthy} |")
    img = d["image"]
    lines += ["", "## Image and build", "",
              f"`{img['image']}`: {img['size_bytes']} bytes ({img['size_bytes'] / MB:.2f} MB, "
              f"{img['size_bytes'] / MIB:.2f} MiB), {img['rootfs_layers']} layers:", "",
              "| layer | bytes |", "|---|---|"]
    for layer in img["layers"]:
        lines.append(f"| `{layer['created_by'][:80]}` | {layer['size_bytes']} |")
    b = d["build"]
    cold = f"{b['cold']['seconds']:.0f} s ({b['cold']['how']}, builder {b['cold']['rust_image']})" \
        if b["cold"] else "not measured in this run"
    rb = b["rebuild"]
    lines += ["", f"Cold build: {cold}. Rebuild after {rb['changed']}: {rb['seconds']:.1f} s "
              f"(dependency layers cached: {'yes' if rb['dependency_layers_cached'] else 'NO'}).", ""]
    lines += ["## Machine load during the run", ""]
    phases = [("build cold", (b["cold"] or {}).get("machine")), ("build rebuild", rb.get("machine")),
              ("start", st.get("machine"))] + [(n, t["machine"]) for n, t in d["targets"].items()]
    for phase, q in phases:
        if q:
            lines.append(f"- {phase}: loadavg {q['loadavg']}; compilers: {q['compilers'] or 'none'}; "
                         f"top CPU: {q['top_cpu'] or '-'}")
    lines += ["", "## Notes", ""] + [f"- {n}" for n in d["notes"]]
    return "\n".join(lines) + "\n"


def main():
    parts, out = Path(sys.argv[1]), Path(sys.argv[2])
    data = assemble(parts)
    text = json.dumps(data, indent=2) + "\n"
    json.loads(text)
    (out / "latest.json").write_text(text)
    (out / "latest.md").write_text(markdown(data))


if __name__ == "__main__":
    main()
