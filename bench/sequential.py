"""Sequential requests on one keep-alive connection, for bench/instructions.sh.

Usage: sequential.py PORT KIND N TASKS [PATH]
KIND get: GET /api/tasks/{id} over ids 1..TASKS; post: POST /api/tasks;
path: GET PATH (a probe: the HTTP layers without the database).
Exits 1 at the first answer that is not 2xx.
"""

import http.client
import json
import sys


def main() -> int:
    port, kind, count, tasks = (
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    path = sys.argv[5] if len(sys.argv) > 5 else None
    if kind == "path" and path is None:
        print("kind path needs PATH", file=sys.stderr)
        return 2
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    for i in range(count):
        if kind == "get":
            conn.request("GET", f"/api/tasks/{i % tasks + 1}")
        elif kind == "post":
            body = json.dumps({"title": f"task {i}"})
            conn.request(
                "POST",
                "/api/tasks",
                body=body,
                headers={"Content-Type": "application/json"},
            )
        elif kind == "path":
            conn.request("GET", path)
        else:
            print(f"unknown kind {kind}", file=sys.stderr)
            return 2
        response = conn.getresponse()
        response.read()
        if not 200 <= response.status < 300:
            print(f"{kind} #{i}: {response.status}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
