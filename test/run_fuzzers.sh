#!/usr/bin/env bash
# Runs every libFuzzer target in build-fuzz/fuzz for N seconds (default 20) on a scratch copy of
# its seed corpus in test/fuzz/corpus/<name>. A crash leaves its input in build-fuzz/crashes/ and
# fails the run; keep such inputs in the corpus as regression cases once fixed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
dir="$repo/build-fuzz"
mkdir -p "$dir/crashes"
failed=0 ran=0
for bin in "$dir"/fuzz/*_fuzzer; do
  [[ -x "$bin" ]] || continue
  name=$(basename "$bin" _fuzzer)
  scratch=$(mktemp -d /tmp/sdp-fuzz.XXXXXX)
  seeds="$repo/test/fuzz/corpus/$name"
  [[ -d "$seeds" ]] || seeds=""
  if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$dir/crashes/$name-" "$scratch" $seeds >"$dir/$name.log" 2>&1; then
    echo "ok   $name ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$dir/$name.log" | grep -o '[0-9]*$') runs)"
  else
    echo "FAIL $name (log: $dir/$name.log)"
    grep -E 'ERROR|SUMMARY|Test unit written' "$dir/$name.log" | head -5
    failed=$((failed + 1))
  fi
  ran=$((ran + 1))
  rm -rf "$scratch"
done
((ran > 0)) || { echo "no fuzzers built; run make fuzz-build" >&2; exit 1; }
exit $((failed > 0))
