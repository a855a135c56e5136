#!/usr/bin/env python3
"""Steady, bounded load on the tasks API, recorded request by request.

  loadgen.py run URL OUT [--workers N] [--pause S] [--max-seconds S] [--stop-file F]
      N threads, each on its own keep-alive connection, loop: POST /api/tasks,
      then GET the task it made. Each request is one line in OUT:
        <unix time at start> <status or ERR> <X-Replica-Id or -> <method> <task id or -> <problem 0/1>
      (status 201 lines carry the id: an acknowledged write). Stops after
      --max-seconds (the bound) or when the stop file exists.
  loadgen.py summary OUT [--since T] [--until T]
      One line of JSON: requests, ok (2xx), failed (everything else, connection
      errors included), by status, by replica, non-2xx that were not problem+json.
  loadgen.py verify URL OUT
      GETs every acknowledged write; prints JSON {"acknowledged": N, "missing": [...]}.
Only the given URL is ever contacted (the tests give a 127.0.0.1 address).
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from collections import Counter


def connect(url):
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=5)


def request(conn, method, path, body=None):
    """(status, replica, problem, json body) or raises on a transport error."""
    headers = {"content-type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    ctype = resp.getheader("content-type", "")
    replica = resp.getheader("x-replica-id") or "-"
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return resp.status, replica, int(ctype.startswith("application/problem+json")), doc


def run(args):
    deadline = time.time() + args.max_seconds
    lock = threading.Lock()
    out = open(args.out, "a", buffering=1)

    def log(t, status, replica, method, task_id, problem):
        with lock:
            out.write(f"{t:.3f} {status} {replica} {method} {task_id} {problem}\n")

    def stopped():
        return time.time() > deadline or (args.stop_file and os.path.exists(args.stop_file))

    def worker(n):
        conn = connect(args.url)
        i = 0
        while not stopped():
            i += 1
            t = time.time()
            task_id = "-"
            try:
                body = json.dumps({"title": f"load {n}-{i}"})
                status, replica, problem, doc = request(conn, "POST", "/api/tasks", body)
                if status == 201 and isinstance(doc, dict) and "id" in doc:
                    task_id = doc["id"]
                log(t, status, replica, "POST", task_id, problem)
                if task_id != "-":
                    t = time.time()
                    status, replica, problem, _ = request(conn, "GET", f"/api/tasks/{task_id}")
                    log(t, status, replica, "GET", task_id, problem)
            except (OSError, http.client.HTTPException):
                log(t, "ERR", "-", "POST", "-", 0)
                conn.close()
                conn = connect(args.url)
            time.sleep(args.pause)
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out.close()


def lines(path):
    with open(path) as f:
        for line in f:
            t, status, replica, method, task_id, problem = line.split()
            yield float(t), status, replica, method, task_id, int(problem)


def summary(args):
    by_status, by_replica, not_problem = Counter(), Counter(), 0
    n = ok = 0
    for t, status, replica, _, _, problem in lines(args.out):
        if t < args.since or t > args.until:
            continue
        n += 1
        by_status[status] += 1
        if replica != "-":
            by_replica[replica] += 1
        if status.startswith("2"):
            ok += 1
        elif status != "ERR" and not problem:
            not_problem += 1
    print(json.dumps({
        "requests": n, "ok": ok, "failed": n - ok, "by_status": by_status,
        "by_replica": by_replica, "non_2xx_not_problem_json": not_problem,
    }, sort_keys=True))


def verify(args):
    ids = [task_id for _, status, _, method, task_id, _ in lines(args.out)
           if method == "POST" and status == "201"]
    missing = []

    def check(chunk):
        conn = connect(args.url)
        for task_id in chunk:
            status = "ERR"
            for _ in range(3):
                try:
                    status, _, _, _ = request(conn, "GET", f"/api/tasks/{task_id}")
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = connect(args.url)
                    time.sleep(0.2)
            if status != 200:
                with lock:
                    missing.append(f"{task_id}:{status}")
        conn.close()

    # Four connections at once: tens of thousands of ids read back in seconds.
    lock = threading.Lock()
    threads = [threading.Thread(target=check, args=(ids[n::4],)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps({"acknowledged": len(ids), "missing": sorted(missing)}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("url")
    r.add_argument("out")
    r.add_argument("--workers", type=int, default=4)
    r.add_argument("--pause", type=float, default=0.02)
    r.add_argument("--max-seconds", type=float, default=300)
    r.add_argument("--stop-file")
    s = sub.add_parser("summary")
    s.add_argument("out")
    s.add_argument("--since", type=float, default=0)
    s.add_argument("--until", type=float, default=float("inf"))
    v = sub.add_parser("verify")
    v.add_argument("url")
    v.add_argument("out")
    args = p.parse_args()
    {"run": run, "summary": summary, "verify": verify}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
