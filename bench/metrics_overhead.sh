#!/usr/bin/env bash
# A/B cost of the shared-memory metrics on ingestion (docs/observability.md).
# Runs inside test/with_pg.sh (sdp preloaded). B = the metric triggers disabled on
# sdp.processing_batch, which removes every metric update from the ingest path (the per-row code
# has none); A = as shipped. Alternates A and B to cancel drift, and reports medians for
#   big:   one sdp_ingest_csv of ROWS rows (default 200000), REPS times (default 7)
#   small: SMALL_CALLS ingests of 20 rows each in one session (per-batch overhead), REPS times
#   bash test/with_pg.sh bash bench/metrics_overhead.sh
set -euo pipefail
rows=${ROWS:-200000}
reps=${REPS:-7}
small_calls=${SMALL_CALLS:-500}
db=sdp_bench_metrics
work=$(mktemp -d /tmp/sdp-metrics-bench.XXXXXX)
trap 'rm -rf "$work"; psql -XAtq -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
psql -XAtq -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
export PGDATABASE=$db
psql -XAtq -c "SET client_min_messages = warning" -c "CREATE EXTENSION sdp" -c "INSERT INTO sdp.api_client (client_id) VALUES ('bench')"
python3 - "$rows" >"$work/big.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("customer_id,age,income,balance,num_transactions")
for i in range(n):
    print(f"c{i},{20 + i % 60},{30000 + i * 7 % 90000},{i * 3 % 10000},{i % 40}")
PY
chmod 0644 "$work/big.csv"
chmod 0755 "$work"

set_mode() {  # A: metrics on, B: metric triggers off
  local action=ENABLE
  [[ $1 == B ]] && action=DISABLE
  psql -XAtq -c "ALTER TABLE sdp.processing_batch $action TRIGGER sdp_metrics_batch_insert" \
    -c "ALTER TABLE sdp.processing_batch $action TRIGGER sdp_metrics_batch_status"
}
# Backend CPU time of the statement in file $1, in ms, from /proc/<backend>/schedstat (on-CPU
# nanoseconds): unlike wall time it does not move when other processes load the machine.
cpu_ms() {
  {
    echo 'SELECT pg_backend_pid() AS pid \gset'
    echo '\setenv BACKEND_PID :pid'
    echo '\! awk '"'"'{print "before", $1}'"'"' /proc/$BACKEND_PID/schedstat'
    cat "$1"
    echo '\! awk '"'"'{print "after", $1}'"'"' /proc/$BACKEND_PID/schedstat'
  } | psql -XAq -v ON_ERROR_STOP=1 | awk '/^before /{b=$2} /^after /{a=$2} END {printf "%.3f\n", (a-b)/1e6}'
}
cat >"$work/big.sql" <<SQL
SELECT count(*) FROM sdp.sdp_ingest_csv('bench', 'risk_scoring', pg_read_file('$work/big.csv'), 'customer_id', NULL) \g /dev/null
SQL
cat >"$work/small.sql" <<SQL
DO \$\$ BEGIN FOR i IN 1 .. $small_calls LOOP
  PERFORM sdp.sdp_ingest_csv('bench', 'risk_scoring', pg_catalog.repeat('customer_id,age' || chr(10), 1) ||
                             (SELECT string_agg('k' || g || ',' || g, chr(10)) FROM generate_series(1, 20) g));
END LOOP; END \$\$;
SQL
big() {
  psql -XAq -c "TRUNCATE sdp.tokenized_record" >/dev/null 2>&1 || true
  cpu_ms "$work/big.sql"
}
small() { cpu_ms "$work/small.sql"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$work/A.big"; : >"$work/B.big"; : >"$work/A.small"; : >"$work/B.small"
big >/dev/null; small >/dev/null  # warm up
for ((r = 1; r <= reps; r++)); do
  for mode in A B; do
    set_mode "$mode"
    big >>"$work/$mode.big"
    small >>"$work/$mode.small"
  done
done
set_mode A
for kind in big small; do
  a=$(median <"$work/A.$kind")
  b=$(median <"$work/B.$kind")
  python3 -c "
a, b = $a, $b
print(f'$kind: metrics on {a:.1f} ms, off {b:.1f} ms backend CPU (median of $reps) -> overhead {100 * (a - b) / b:+.2f}%')"
done
echo "big = one ${rows}-row sdp_ingest_csv; small = $small_calls sdp_ingest_csv calls of 20 rows"
