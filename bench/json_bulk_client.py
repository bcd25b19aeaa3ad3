#!/usr/bin/env python3
"""Client of the service-bulk contender of make bench's JSON stage: sends an NDJSON file to
`sdp-agent serve` as POST /pseudonymize/bulk requests of BATCH documents over one keep-alive
connection, and checks every document succeeded.

    bench/json_bulk_client.py INPUT PORT [BATCH]     (key from SDP_PSEUDONYMIZE_API_KEY)

The request bodies are built from the lines as they are (no parsing), so the client costs little
next to the service; it prints "documents=N successful=N".
"""
import http.client
import json
import os
import sys


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    key = os.environ["SDP_PSEUDONYMIZE_API_KEY"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    total = ok = 0

    def send(lines):
        nonlocal ok
        body = ('{"batch_id":"bench","datasets":[' + ",".join(lines) + "]}").encode()
        conn.request("POST", "/pseudonymize/bulk", body,
                     {"X-API-Key": key, "Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"json_bulk_client: HTTP {resp.status}: {data[:200]!r}")
        ok += json.loads(data)["successful"]

    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            lines.append(line.rstrip("\n"))
            total += 1
            if len(lines) == batch:
                send(lines)
                lines = []
    if lines:
        send(lines)
    print(f"documents={total} successful={ok}")
    if ok != total:
        sys.exit(1)


if __name__ == "__main__":
    main()
