#!/usr/bin/env python3
"""Client of the service-bulk contender of make bench's JSON stage: sends an NDJSON file to
`sdp-agent serve` as POST /pseudonymize/bulk requests of BATCH documents over one keep-alive
connection, and checks every document succeeded.

    bench/json_bulk_client.py INPUT PORT [BATCH]     (key from SDP_PSEUDONYMIZE_API_KEY)

The request bodies are built from the lines as they are (no parsing), and of each answer only the
counts before "results" are parsed (the service puts them first) while the whole answer is
written to OUTPUT, as the CLI writes its output file: the client costs little next to the service
and the contender measures the service. Prints "documents=N successful=N".

    bench/json_bulk_client.py INPUT PORT [BATCH [OUTPUT]]
"""
import http.client
import json
import os
import sys


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    out = open(sys.argv[4] if len(sys.argv) > 4 else os.devnull, "wb")
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
        cut = data.find(b',"results":[')
        if cut < 0:
            sys.exit(f"json_bulk_client: an answer without results: {data[:200]!r}")
        ok += json.loads(data[:cut] + b"}")["successful"]
        out.write(data)
        out.write(b"\n")

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
    out.close()
    print(f"documents={total} successful={ok}")
    if ok != total:
        sys.exit(1)


if __name__ == "__main__":
    main()
