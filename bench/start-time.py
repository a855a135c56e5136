#!/usr/bin/env python3
"""Start time of the image: `docker run -d` -> first 200 from /health; optionally -> `healthy`.

Usage: bench/start-time.py IMAGE published|host STARTS [--healthy]
Prints one JSON object. Each start is a fresh container (empty database) that is
removed afterwards. "after_run" is measured from the moment `docker run -d` returns
(the target's definition); "from_run" includes `docker run` itself. --healthy also
waits for the engine's health status `healthy` and takes its time from the engine's
event stream (nanosecond timestamps), relative to `docker run` returning.
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time

DOCKER = os.environ.get("DOCKER", "docker")
LABEL = os.environ.get("BENCH_LABEL", "tasks-backend-bench=start-time")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_status(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def docker(*args):
    return subprocess.run([DOCKER, *args], check=True, capture_output=True, text=True).stdout.strip()


def one_start(image, network, want_healthy):
    port = free_port()
    if network == "host":
        net = ["--network", "host", "-e", "HOST=127.0.0.1", "-e", f"PORT={port}"]
    else:
        net = ["-p", f"127.0.0.1:{port}:8000"]
    t0 = time.time()
    cid = docker("run", "-d", "--label", LABEL, *net, image)
    t1 = time.time()
    try:
        deadline = t1 + 30
        while get_status(port) != 200:
            if time.time() > deadline:
                raise RuntimeError(f"no 200 from {image} on port {port} within 30 s")
            time.sleep(0.001)
        t2 = time.time()
        sample = {"run_s": t1 - t0, "first_200_after_run_s": t2 - t1, "first_200_from_run_s": t2 - t0}
        if want_healthy:
            while docker("inspect", "-f", "{{.State.Health.Status}}", cid) != "healthy":
                if time.time() > deadline:
                    raise RuntimeError("container not healthy within 30 s")
                time.sleep(0.1)
            events = docker("events", "--since", f"{t0 - 1:.3f}", "--until", f"{time.time():.3f}",
                            "--filter", f"container={cid}", "--filter", "event=health_status",
                            "--format", "{{.TimeNano}} {{.Action}}")
            nanos = [int(line.split()[0]) for line in events.splitlines() if line.endswith(": healthy")]
            sample["healthy_after_run_s"] = nanos[0] / 1e9 - t1
        return sample
    finally:
        subprocess.run([DOCKER, "rm", "-f", cid], capture_output=True, check=False)


def main():
    image, network, starts = sys.argv[1], sys.argv[2], int(sys.argv[3])
    want_healthy = "--healthy" in sys.argv[4:]
    samples = [one_start(image, network, want_healthy) for _ in range(starts)]
    result = {"network": network, "starts": starts, "samples": samples}
    for key in samples[0]:
        values = [s[key] for s in samples]
        result[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
