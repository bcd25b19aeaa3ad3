#!/usr/bin/env bash
# A/B cost of the row integrity MACs (docs/governance.md, "Integrity") on ingestion and scoring.
#
#   bash bench/integrity_overhead.sh [BASE_REV]
#
# B (base) = sdp.so and install script built from BASE_REV (default: the commit before the
# governance work), A = this checkout as built by `make`. Each is installed into its own
# relocated copy of the PostgreSQL 15 tree under /tmp (the system installation is not touched),
# and run in its own temporary cluster by test/with_pg.sh (PG_CONFIG pointing at that copy); the
# two clusters run side by side and the repetitions alternate between them. Reports the
# median backend CPU time (from /proc/<pid>/schedstat, insensitive to other load) of
#   ingest:  one sdp_ingest_csv of ROWS rows (default 200000), REPS times (default 7)
#   process: sdp_process_batch of that batch (scores + bulk-inserts ROWS results)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
base_rev=${1:-$(git -C "$repo" log --format=%H -1 --grep='^governance: roles' | xargs -r -I{} git -C "$repo" rev-parse {}^)}
[[ -n "$base_rev" ]] || { echo "integrity_overhead: no base revision" >&2; exit 2; }
rows=${ROWS:-200000}
reps=${REPS:-7}

if [[ ${1:-} != --inner ]]; then
  work=$(mktemp -d /tmp/sdp-integrity-bench.XXXXXX)
  chmod 0755 "$work"
  trap 'git -C "$repo" worktree remove --force "$work/base-src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
  base_src=${BASE_SRC:-}  # an already built checkout of the base, to skip its build
  if [[ -z $base_src ]]; then
    base_src=$work/base-src
    git -C "$repo" worktree add -f --detach "$base_src" "$base_rev" >/dev/null 2>&1
    make -C "$base_src" -j2 >/dev/null
  fi
  make -C "$repo" >/dev/null
  for side in A B; do
    src=$repo
    [[ $side == B ]] && src=$base_src
    tree=$work/pg$side
    mkdir -p "$tree/usr/lib/postgresql" "$tree/usr/share/postgresql"
    cp -a /usr/lib/postgresql/15 "$tree/usr/lib/postgresql/15"
    cp -a /usr/share/postgresql/15 "$tree/usr/share/postgresql/15"
    cp "$src/sdp.so" "$tree/usr/lib/postgresql/15/lib/sdp.so"
    cp "$src/sdp.control" "$src"/src/extension/sdp--*.sql "$tree/usr/share/postgresql/15/extension/"
    chmod -R a+rX "$tree"
  done
  # Both clusters run at once and the reps alternate A, B, A, B ... so a change in machine load
  # hits both sides alike: A's connection settings are kept in A_* before B's cluster starts.
  PG_CONFIG=$work/pgA/usr/lib/postgresql/15/bin/pg_config bash "$repo/test/with_pg.sh" bash -c '
    export A_PGHOST=$PGHOST A_PGPORT=$PGPORT A_PGUSER=$PGUSER A_PGPASSFILE=$PGPASSFILE
    PG_CONFIG='"$work"'/pgB/usr/lib/postgresql/15/bin/pg_config ROWS='"$rows"' REPS='"$reps"' \
      bash '"$repo"'/test/with_pg.sh bash '"$0"' --inner' >"$work/result.txt"
  read -r a_ing a_proc b_ing b_proc <"$work/result.txt"
  python3 -c "
a_ing, a_proc, b_ing, b_proc = $a_ing, $a_proc, $b_ing, $b_proc
print(f'ingest  {$rows} rows: with MACs {a_ing:.1f} ms, base {b_ing:.1f} ms backend CPU (median of $reps) -> {100 * (a_ing - b_ing) / b_ing:+.1f}%  ({$rows / a_ing * 1000:,.0f} vs {$rows / b_ing * 1000:,.0f} rows/s)')
print(f'process {$rows} rows: with MACs {a_proc:.1f} ms, base {b_proc:.1f} ms backend CPU (median of $reps) -> {100 * (a_proc - b_proc) / b_proc:+.1f}%')"
  echo "base = $(git -C "$base_src" log --oneline -1)"
  exit 0
fi

# ---- inner: B's cluster in PG*, A's in A_PG*; prints "<A ingest> <A process> <B ingest> <B process>" (ms)
db=sdp_bench_integrity
work=$(mktemp -d /tmp/sdp-integrity-inner.XXXXXX)
chmod 0755 "$work"
B_PGHOST=$PGHOST B_PGPORT=$PGPORT B_PGUSER=$PGUSER B_PGPASSFILE=$PGPASSFILE
use() {  # use A|B: point libpq at that side's cluster
  local v
  for v in PGHOST PGPORT PGUSER PGPASSFILE; do
    local src="$1_$v"
    export "$v=${!src}"
  done
}
cleanup() {
  rm -rf "$work"
  for side in A B; do
    use $side
    psql -XAtq -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
python3 - "$rows" >"$work/big.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("customer_id,age,income,balance,num_transactions")
for i in range(n):
    print(f"c{i},{20 + i % 60},{30000 + i * 7 % 90000},{i * 3 % 10000},{i % 40}")
PY
chmod 0644 "$work/big.csv"
export PGDATABASE=$db
for side in A B; do
  use $side
  psql -XAtq -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
    -c "CREATE DATABASE $db" >/dev/null
  psql -XAtq -c "SET client_min_messages = warning" -c "CREATE EXTENSION sdp" \
    -c "SELECT sdp.sdp_create_client('bench')" >/dev/null
done
cpu_ms() {  # backend CPU of the SQL in $1, ms
  {
    echo 'SELECT pg_backend_pid() AS pid \gset'
    echo '\setenv BACKEND_PID :pid'
    echo '\! awk '"'"'{print "before", $1}'"'"' /proc/$BACKEND_PID/schedstat'
    cat "$1"
    echo '\! awk '"'"'{print "after", $1}'"'"' /proc/$BACKEND_PID/schedstat'
  } | psql -XAq -v ON_ERROR_STOP=1 | awk '/^before /{b=$2} /^after /{a=$2} END {printf "%.3f\n", (a-b)/1e6}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
cat >"$work/ingest.sql" <<SQL
\pset tuples_only on
\o $work/batch
SELECT (sdp.sdp_ingest_csv('bench', 'risk_scoring', pg_read_file('$work/big.csv'))).batch_id;
\o
SQL
: >"$work/A.ing"; : >"$work/A.proc"; : >"$work/B.ing"; : >"$work/B.proc"
for ((r = 0; r <= reps; r++)); do
  for side in A B; do
    use $side
    ing=$(cpu_ms "$work/ingest.sql")
    batch=$(tr -d ' \n' <"$work/batch")
    echo "SELECT status FROM sdp.sdp_process_batch('$batch') \\g /dev/null" >"$work/process.sql"
    proc=$(cpu_ms "$work/process.sql")
    if ((r > 0)); then echo "$ing" >>"$work/$side.ing"; echo "$proc" >>"$work/$side.proc"; fi  # r = 0 warms up
    psql -XAtq -c "DELETE FROM sdp.processing_batch" >/dev/null
  done
done
echo "$(median <"$work/A.ing") $(median <"$work/A.proc") $(median <"$work/B.ing") $(median <"$work/B.proc")"
