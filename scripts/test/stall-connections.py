"""Holds many idle and stalled connections to the service; part of scripts/test/load.sh.

Usage: stall-connections.py HOST:PORT COUNT TIMEOUT MARGIN PROBE_PATH
Opens COUNT connections in three kinds (sends nothing; half a header; full headers and
half of a declared body), then checks that:
  - connections past the server's cap got a 503 problem+json and were closed,
  - every other connection was closed by the server within TIMEOUT + MARGIN seconds,
    stalled bodies with a 408,
  - PROBE_PATH answers 200 after that.
Prints one summary line; exits 1 when a check fails.
"""

import http.client
import selectors
import socket
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
count, timeout, margin = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
probe = sys.argv[5]

KINDS = [
    ("idle", b""),
    ("half-header", b"GET /api/tasks HTTP/1.1\r\nhost: x\r\n"),
    ("half-body", b"POST /api/tasks HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                  b"content-length: 100\r\n\r\n{\"title\":"),
]

sel = selectors.DefaultSelector()
conns = {}
started = time.monotonic()
for i in range(count):
    kind, payload = KINDS[i % len(KINDS)]
    s = socket.create_connection((host, int(port)))
    if payload:
        s.sendall(payload)
    s.setblocking(False)
    conns[s] = {"kind": kind, "data": b"", "closed_after": None}
    sel.register(s, selectors.EVENT_READ)

deadline = started + timeout + margin
while time.monotonic() < deadline and any(c["closed_after"] is None for c in conns.values()):
    for key, _ in sel.select(timeout=0.2):
        s, c = key.fileobj, conns[key.fileobj]
        try:
            chunk = s.recv(65536)
        except OSError:
            chunk = b""
        if chunk:
            c["data"] += chunk
        else:
            c["closed_after"] = time.monotonic() - started
            sel.unregister(s)
            s.close()

refused = [c for c in conns.values() if c["data"].startswith(b"HTTP/1.1 503")]
cut = [c for c in conns.values() if c["closed_after"] is not None and c not in refused]
open_left = [c for c in conns.values() if c["closed_after"] is None]
bad_refusals = [c for c in refused if b"application/problem+json" not in c["data"].lower()
                or b"retry-after: 1" not in c["data"].lower()]
bodies_408 = [c for c in cut if c["kind"] == "half-body" and c["data"].startswith(b"HTTP/1.1 408")]
bodies = [c for c in cut if c["kind"] == "half-body"]
slowest = max((c["closed_after"] for c in cut), default=0.0)
for s in list(conns):
    if conns[s]["closed_after"] is None:
        s.close()

probe_status = 0
try:
    h = http.client.HTTPConnection(host, int(port), timeout=5)
    h.request("GET", probe)
    probe_status = h.getresponse().status
except OSError:
    pass

print(f"{count} connections: {len(refused)} refused with 503 past the cap, {len(cut)} cut by the "
      f"server (slowest after {slowest:.1f} s, bound {timeout + margin:.0f} s = timeout {timeout:.0f} s "
      f"+ margin {margin:.0f} s), {len(bodies_408)}/{len(bodies)} stalled bodies answered 408, "
      f"{len(open_left)} still open; {probe} then {probe_status}")
ok = (refused and not bad_refusals and not open_left and bodies and len(bodies_408) == len(bodies)
      and probe_status == 200)
sys.exit(0 if ok else 1)
