#!/usr/bin/env bash
# Every libFuzzer target for 20 s under ASan+UBSan (make fuzz runs them longer).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
make --no-print-directory -j2 fuzz-build >build-fuzz.log 2>&1 || { tail -20 build-fuzz.log; exit 1; }
bash test/run_fuzzers.sh "${SDP_FUZZ_SECONDS:-20}"
