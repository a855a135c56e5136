"""Summarises bench/cost.sh's runs: FEATURE-cost.json and FEATURE-cost.md in OUT.

Usage: cost-report.py FEATURE RUNS OUT COMMIT SECONDS CORES
Exits non-zero when any request failed or answered other than 2xx.
"""

import json
import statistics
import sys
from datetime import datetime, timezone

# What each feature is, for the report: its setting, the on/off values shown, and
# what the run did besides.
FEATURES = {
    "metrics": {
        "title": "What metrics cost",
        "setting": "METRICS_ENABLED",
        "labels": {"on": "true", "off": "false"},
        "while_on": "/metrics scraped every second while on",
    },
    "tokens": {
        "title": "What bearer tokens cost",
        "setting": "API_TOKENS_FILE",
        "labels": {"on": "set", "off": "unset"},
        "while_on": "`Authorization: Bearer ...` on every request; "
        "100 tokens in the file while on",
    },
}
TARGET_PERCENT = 5


def main() -> None:
    feature, runs_path, out, commit, seconds, cores = sys.argv[1:]
    about = FEATURES[feature]
    with open(runs_path) as f:
        runs = [json.loads(line) for line in f]

    def per_state(key: str) -> dict[str, list[float]]:
        return {
            s: [r["result"]["wrk"][key] for r in runs if r["state"] == s]
            for s in ("on", "off")
        }

    rps, p99 = per_state("rps"), per_state("p99_ms")
    errors = sum(
        r["result"]["wrk"]["status_errors"]
        + sum(r["result"]["wrk"]["socket_errors"].values())
        for r in runs
    )
    on, off = statistics.median(rps["on"]), statistics.median(rps["off"])
    cost = (off - on) / off * 100
    summary = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "commit": commit,
        "feature": feature,
        "scenario": "GET /api/tasks/{id}",
        "seconds": int(seconds),
        "cores": int(cores),
        "rps": rps,
        "p99_ms": p99,
        "median_rps_on": on,
        "median_rps_off": off,
        "cost_percent": round(cost, 2),
        "target_percent": TARGET_PERCENT,
        "errors": errors,
        "runs": runs,
    }
    with open(f"{out}/{feature}-cost.json", "w") as f:
        json.dump(summary, f, indent=1)
    verdict = "within" if cost <= TARGET_PERCENT else "OVER"
    lines = [
        f"# {about['title']} ({summary['date']}, commit {commit}, {cores} cores)",
        "",
        f"GET /api/tasks/{{id}}, {len(rps['on'])} interleaved rounds of {seconds} s per "
        f"setting; server on CPU 1, wrk on CPU 0; {about['while_on']}.",
        "",
        f"| {about['setting']} | req/s per round | median | p99 ms per round |",
        "| --- | --- | --- | --- |",
    ]
    for state in ("on", "off"):
        lines.append(
            f"| {about['labels'][state]} | {', '.join(f'{v:.0f}' for v in rps[state])} | "
            f"{statistics.median(rps[state]):.0f} | {', '.join(f'{v:.2f}' for v in p99[state])} |"
        )
    lines += [
        "",
        f"Cost: {cost:.1f} % of the median throughput ({verdict} the {TARGET_PERCENT} % "
        f"target); {errors} errors or non-2xx answers. Load average after each run: "
        f"{'; '.join(r['loadavg_after'] for r in runs)}.",
    ]
    report = "\n".join(lines) + "\n"
    with open(f"{out}/{feature}-cost.md", "w") as f:
        f.write(report)
    print(report)
    if errors:
        sys.exit("errors or non-2xx answers during the runs")


if __name__ == "__main__":
    main()
