#!/usr/bin/env bash
# The cluster tests (docs/scale.md), run by test/run_checks.sh inside test/scale/cluster.sh:
#
#   test/scale/cluster.sh bash test/scale/run.sh RESULTS_DIR
#   test/scale/run.sh --list          the names of the tests, one a line
#
# Each test prints "ok NAME (N s)" or "FAIL NAME (N s, log: ...)" and the last line is
# "scale P F" (passed, failed). The same e2e scripts and regress files as on one node run here
# against a database made by test/scale/database.sh (Citus in it, sdp distributed).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

# e2e:<test/e2e script>, scale:<test/scale script>, regress:<regress files, '+'-joined>
tests=(
  e2e:round_trip_libpq
  e2e:privacy_budget
  e2e:pii_leak
  scale:tenancy
)
# Known to differ on Citus today (docs/scale.md, "What does not run on Citus yet"): direct table
# reads by a client role need the tenant on the workers, and sdp_verify_integrity and the record
# versions use queries Citus cannot plan. Run them with SDP_SCALE_KNOWN_GAPS=1.
if [[ "${SDP_SCALE_KNOWN_GAPS:-0}" == 1 ]]; then
  tests+=(regress:rls+governance_roles+governance_attacks)
fi
if [[ "${1:-}" == --list ]]; then
  printf '%s\n' "${tests[@]}"
  exit 0
fi
results=${1:?usage: test/scale/run.sh RESULTS_DIR}
mkdir -p "$results"
export SDP_E2E_DATABASE_SETUP="$repo/test/scale/database.sh"

run_regress() {  # files: pg_regress on a distributed database, the single node's expected output
  local db=sdp_scale_regress out="$results/regress"
  bash test/scale/database.sh "$db" || return 1
  rm -rf "$out" && mkdir -p "$out"
  "$("${PG_CONFIG:-pg_config}" --pkglibdir)/pgxs/src/test/regress/pg_regress" --inputdir=. \
    --outputdir="$out" --use-existing --dbname="$db" --host="$PGHOST" --port="$PGPORT" \
    setup "$@"
  local rc=$?
  [[ -f "$out/regression.diffs" ]] && head -n 100 "$out/regression.diffs"
  return "$rc"
}

passed=0 failed=0
for t in "${tests[@]}"; do
  kind=${t%%:*} name=${t#*:}
  log="$results/scale-${name//+/_}.log"
  t0=$SECONDS
  case "$kind" in
    e2e) bash "test/e2e/$name.sh" >"$log" 2>&1 ;;
    scale) bash "test/scale/$name.sh" >"$log" 2>&1 ;;
    regress) IFS=+ read -ra files <<<"$name"; run_regress "${files[@]}" >"$log" 2>&1 ;;
  esac
  if (($? == 0)); then
    echo "ok   $name ($((SECONDS - t0)) s)"
    passed=$((passed + 1))
  else
    echo "FAIL $name ($((SECONDS - t0)) s, log: $log)"
    tail -n 30 "$log"
    failed=$((failed + 1))
  fi
done
echo "scale $passed $failed"
