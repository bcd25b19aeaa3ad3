#!/usr/bin/env bash
# Runs every libFuzzer target in build-fuzz/fuzz for N seconds (default 20) on a scratch copy of
# its seed corpus in test/fuzz/corpus/<name>. A crash leaves its input in build-fuzz/crashes/ and
# fails the run; keep such inputs in the corpus as regression cases once fixed.
#
# The fuzzers run SDP_FUZZ_JOBS at a time (default: the number of cores): each one runs for a
# fixed wall time on one core, so running them side by side gives each the same time and the
# whole run takes 1/jobs of the wall time. Results are printed in target order.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
jobs=${SDP_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
((jobs >= 1)) || jobs=1
dir="$repo/build-fuzz"
mkdir -p "$dir/crashes"
results=$(mktemp -d /tmp/sdp-fuzz-results.XXXXXX)
trap 'rm -rf "$results"' EXIT

run_one() {  # $1: fuzzer binary; writes "ok"/"FAIL" lines to $results/<name>
  local bin=$1 name scratch seeds
  name=$(basename "$bin" _fuzzer)
  scratch=$(mktemp -d /tmp/sdp-fuzz.XXXXXX)
  seeds="$repo/test/fuzz/corpus/$name"
  [[ -d "$seeds" ]] || seeds=""
  if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$dir/crashes/$name-" "$scratch" $seeds >"$dir/$name.log" 2>&1; then
    echo "ok   $name ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$dir/$name.log" | grep -o '[0-9]*$') runs)" >"$results/$name"
  else
    { echo "FAIL $name (log: $dir/$name.log)"
      grep -E 'ERROR|SUMMARY|Test unit written' "$dir/$name.log" | head -5; } >"$results/$name"
  fi
  rm -rf "$scratch"
}

names=()
for bin in "$dir"/fuzz/*_fuzzer; do
  [[ -x "$bin" ]] || continue
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
  run_one "$bin" &
  names+=("$(basename "$bin" _fuzzer)")
done
wait
((${#names[@]} > 0)) || { echo "no fuzzers built; run make fuzz-build" >&2; exit 1; }
failed=0
for name in "${names[@]}"; do
  if [[ -s "$results/$name" ]]; then
    cat "$results/$name"
    grep -q '^FAIL' "$results/$name" && failed=$((failed + 1))
  else
    echo "FAIL $name (no result: the runner died)"
    failed=$((failed + 1))
  fi
done
exit $((failed > 0))
