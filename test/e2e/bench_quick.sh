#!/usr/bin/env bash
# make bench QUICK=1 inside make check, so the benchmark cannot rot: on 20k rows every stage of
# bench/run.sh (tokenize x3 with the Python peer, ingest vs COPY, score vs SQL, integrate vs
# pandas and Miller, round trip, peak RSS) must run, give numbers and pass its correctness
# checks. Ratios are printed but never fail here (20k rows on a shared 2-core machine say nothing
# about throughput); the full `make bench` enforces them. Results go to $BUILDDIR/bench-quick/,
# never to bench/results/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=1 bash "$repo/bench/run.sh"
