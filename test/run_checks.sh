#!/usr/bin/env bash
# The test half of `make check` (the build half is in the Makefile): GoogleTest, then pg_regress
# and the end-to-end scripts against one temporary PostgreSQL cluster (test/with_pg.sh), then one
# closing line "N passed, N failed" over all suites. Exit status is non-zero on any failure.
#
#   test/run_checks.sh [--only gtest|regress|e2e|scale]
#
# The scale suite (docs/scale.md) runs the cluster tests of test/scale/run.sh on a Citus
# coordinator and two workers (test/scale/cluster.sh) when Citus is installed in $PG_CONFIG's
# PostgreSQL (make citus CITUS_SRC=...); without it each of them is counted as skipped, on a line
# of its own, never as passed.
#
# SDP_STRESS=1 (make stress) runs the same suites in their long forms: every e2e script reads
# SDP_STRESS for bigger inputs and more rounds, and the fuzzers run SDP_FUZZ_SECONDS each
# (75 unless set) instead of 20.
set -uo pipefail
if [[ "${SDP_STRESS:-0}" == 1 ]]; then
  export SDP_STRESS SDP_FUZZ_SECONDS=${SDP_FUZZ_SECONDS:-75}
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
only=${2:-}
[[ "${1:-}" == "--only" ]] || only=""
BUILDDIR=${BUILDDIR:-build}
builddir=$BUILDDIR
[[ $builddir == /* ]] || builddir="$repo/$builddir"
results="$builddir/check"
[[ "${SDP_STRESS:-0}" == 1 ]] && results="$builddir/stress"
mkdir -p "$results"
: >"$results/summary"
rm -f "$results/skipped"

record() {  # suite passed failed
  echo "$1 $2 $3" >>"$results/summary"
  printf '== %-8s %d passed, %d failed\n' "$1" "$2" "$3"
}

run_gtest() {
  echo "== GoogleTest: $builddir/sdp-tests"
  local log="$results/gtest.log"
  "$builddir/sdp-tests" --gtest_color=no 2>&1 | tee "$log" | grep -E '^\[  (FAILED|PASSED) |^\[==========\]'
  # The binary's own status, not the summary lines: LeakSanitizer reports after the last test and
  # makes the process exit non-zero while every test printed PASSED (so does a crash in a static
  # destructor, or a sanitizer report outside any test).
  local status=${PIPESTATUS[0]}
  local passed failed
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' "$log" | tail -n 1)
  failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?, listed below:.*/\1/p' "$log" | tail -n 1)
  if [[ -z "$passed" ]]; then  # crashed before the summary
    echo "GoogleTest did not finish (exit status $status); see $log" >&2
    record gtest 0 1
    return
  fi
  if ((status != 0)) && ((${failed:-0} == 0)); then
    echo "GoogleTest exited with status $status although no test failed" \
      "(a sanitizer report after the tests, e.g. LeakSanitizer); see $log" >&2
    grep -E '^(==[0-9]+==|SUMMARY: )' "$log" | head -n 20 >&2
    failed=1
  fi
  record gtest "${passed:-0}" "${failed:-0}"
}

run_regress() {
  echo "== pg_regress (schedule: test/regress_schedule)"
  local log="$results/regress.log" unlisted=0
  for f in sql/*.sql; do
    name=$(basename "$f" .sql)
    if ! grep -qx "$name" test/regress_schedule; then
      echo "sql/$name.sql is not listed in test/regress_schedule" >&2
      unlisted=$((unlisted + 1))
    fi
  done
  make --no-print-directory installcheck >"$log" 2>&1
  grep -E '^(test |ok |not ok )| tests? (passed|failed)' "$log" || true
  local total failed
  total=$(grep -cE '^test |^(ok|not ok) ' "$log")
  failed=$(grep -cE '^test .*FAILED|^not ok ' "$log")
  if ((total == 0)); then
    echo "pg_regress ran no test; see $log" >&2
    tail -n 20 "$log" >&2
    failed=1
  fi
  if ((failed > 0)) && [[ -f build/regress/regression.diffs ]]; then
    head -n 200 build/regress/regression.diffs
  fi
  record regress $((total - failed)) $((failed + unlisted))
}

run_e2e() {
  echo "== end-to-end: test/e2e/*.sh${SDP_STRESS:+ (SDP_STRESS=$SDP_STRESS)}"
  local passed=0 failed=0
  shopt -s nullglob
  for script in test/e2e/*.sh; do
    [[ $(basename "$script") == lib* ]] && continue  # sourced helpers, not tests
    # Data generators other tests run (dashboard_seed.sh, for dashboard_api.sh and the browser
    # tests), not tests themselves.
    [[ $(basename "$script") == *_seed.sh ]] && continue
    local name log
    name=$(basename "$script" .sh)
    log="$results/e2e-$name.log"
    local t0=$SECONDS
    if bash "$script" >"$log" 2>&1; then
      echo "ok   $name ($((SECONDS - t0)) s)"
      passed=$((passed + 1))
    else
      echo "FAIL $name ($((SECONDS - t0)) s, log: $log)"
      tail -n 30 "$log"
      failed=$((failed + 1))
    fi
  done
  record e2e "$passed" "$failed"
}

run_scale() {
  echo "== scale-out on Citus: test/scale/run.sh (coordinator + 2 workers)"
  local citus
  citus="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pkglibdir)/citus.so"
  if [[ ! -f "$citus" ]]; then
    local n=0 t
    while read -r t; do
      echo "skip ${t#*:} (skipped: citus not installed)"
      n=$((n + 1))
    done < <(bash test/scale/run.sh --list)
    echo "$n" >"$results/skipped"
    record scale 0 0
    return
  fi
  local log="$results/scale.log"
  bash test/scale/cluster.sh bash test/scale/run.sh "$results" 2>&1 | tee "$log" | grep -v '^scale [0-9]'
  local line
  line=$(grep '^scale [0-9]* [0-9]*$' "$log" | tail -n 1)
  if [[ -z "$line" ]]; then
    echo "the cluster tests did not finish; see $log" >&2
    tail -n 20 "$log" >&2
    record scale 0 1
    return
  fi
  record scale "$(echo "$line" | cut -d' ' -f2)" "$(echo "$line" | cut -d' ' -f3)"
}

if [[ -z "${PGPORT:-}" && "$only" != "gtest" && "$only" != "scale" ]]; then
  # Everything that needs a server runs inside one temporary cluster.
  exec bash test/with_pg.sh bash "$0" "$@"
fi

case "$only" in
  gtest) run_gtest ;;
  regress) run_regress ;;
  e2e) run_e2e ;;
  scale) run_scale ;;
  *) run_gtest; run_regress; run_e2e; run_scale ;;
esac

[[ "${SDP_STRESS:-0}" == 1 ]] && echo "stress run: $SECONDS s"
total_passed=$(awk '{p += $2} END {print p + 0}' "$results/summary")
total_failed=$(awk '{f += $3} END {print f + 0}' "$results/summary")
if [[ -s "$results/skipped" ]]; then
  echo "$(cat "$results/skipped") skipped: citus not installed (make check CITUS_SRC=<citus source tarball>, docs/scale.md)"
fi
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
