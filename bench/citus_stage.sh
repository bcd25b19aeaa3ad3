#!/usr/bin/env bash
# make bench, Citus stage (docs/scale.md): the server half of the round trip — upload (ingest),
# scoring, and reading the results back — of the same tokenized file on a single node and on a
# Citus coordinator with 2 workers (test/scale/cluster.sh), same machine, same run.
#
#   bench/citus_stage.sh RAW_CSV CONFIG OUT_DIR
#
# The raw customers file is tokenized once with CONFIG (synthetic data; a throwaway key unless
# SDP_CRYPTO_KEY is set), then the same tokenized file goes to both deployments.
# Prints one line per deployment and the cluster/single ratio of the total (target: at most 1.5),
# and writes OUT_DIR/citus.tsv. The batch is one client's, so its rows live in one shard on one
# worker: the cluster's rows per second are that worker's ingest and scoring rates (scoring itself
# runs on the coordinator today, reading the worker's shard: docs/scale.md, "Where scoring runs"). Skipped with a line when Citus is not installed. Run by bench/run.sh;
# `bash bench/citus_stage.sh` on a small file checks that it works.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
raw=$(realpath "$1")
cfg=$(realpath "$2")
out=$(realpath -m "$3")
mkdir -p "$out"
pkglib=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pkglibdir)
if [[ ! -f "$pkglib/citus.so" ]]; then
  echo "citus stage: skipped: citus not installed (make citus CITUS_SRC=...)"
  exit 0
fi
export SDP_AGENT=${SDP_AGENT:-$repo/${BUILDDIR:-build}/sdp-agent}
export SDP_CRYPTO_KEY=${SDP_CRYPTO_KEY:-$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')}
tok="$out/citus_tokenized.csv"
rm -f "$out/citus_vault.db" "$tok"
"$SDP_AGENT" tokenize-config --input "$raw" --output "$tok" --config "$cfg" --vault "$out/citus_vault.db" 2>/dev/null

# One deployment: upload, process, read back; "<t0> <t1> <t2> <t3> <rows>" on stdout (times
# before and after the upload, the scoring and the read).
cat >"$out/citus_one.sh" <<'EOF'
set -euo pipefail
tok=$1 cfg=$2 db=sdp_bench_citus
if [[ -n "${SDP_WORKER1_PORT:-}" ]]; then
  bash "$REPO/test/scale/database.sh" "$db"
else
  PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  psql -XAtq -d "$db" -c "CREATE EXTENSION sdp"
fi
export PGDATABASE=$db SDP_SERVER_URL="postgresql://postgres@127.0.0.1:$PGPORT/$db"
psql -XAtq -c "SELECT sdp.sdp_create_client('bench') IS NOT NULL" -c "ALTER DATABASE $db SET sdp.env = 'dev'" >/dev/null
now() { date +%s.%N; }
t0=$(now)
"$SDP_AGENT" upload-batch --file "$tok" --config "$cfg" --client-id bench --processing-type risk_scoring \
  >"$OUT/citus_upload.json" 2>"$OUT/citus_upload.err"
t1=$(now)
batch=$(psql -XAtq -c "SELECT batch_id FROM sdp.processing_batch WHERE client_id = 'bench'")
psql -XAtq -c "SELECT status FROM sdp.sdp_process_batch('$batch')" >/dev/null
t2=$(now)
rows=$(psql -XAtq -c "SELECT count(*) FROM sdp.sdp_results('$batch')")
t3=$(now)
PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
echo "$t0 $t1 $t2 $t3 $rows"
EOF
export REPO=$repo OUT=$out
single=$(bash test/with_pg.sh bash "$out/citus_one.sh" "$tok" "$cfg" | tail -n 1)
cluster=$(bash test/scale/cluster.sh bash "$out/citus_one.sh" "$tok" "$cfg" | tail -n 1)
workers=1  # the worker that holds the client's shard
python3 - "$single" "$cluster" "$workers" "$out/citus.tsv" <<'PY'
import sys
def phases(line):
    t0, t1, t2, t3, n = line.split()
    return [float(t1) - float(t0), float(t2) - float(t1), float(t3) - float(t2), int(n)]
single, cluster = (phases(s) for s in sys.argv[1:3])
workers, tsv = int(sys.argv[3]), sys.argv[4]
rows = int(single[3])
assert int(cluster[3]) == rows, f"cluster answered {int(cluster[3])} results, single node {rows}"
lines = ["deployment\tingest_s\tscoring_s\tread_s\ttotal_s\trows"]
for name, r in (("single", single), ("citus_2_workers", cluster)):
    total = r[0] + r[1] + r[2]
    lines.append(f"{name}\t{r[0]:.2f}\t{r[1]:.2f}\t{r[2]:.2f}\t{total:.2f}\t{rows}")
    print(f"citus stage: {name:16s} ingest {r[0]:7.2f} s  scoring {r[1]:7.2f} s  read {r[2]:7.2f} s  "
          f"total {total:7.2f} s  ({rows} rows)")
ratio = sum(cluster[:3]) / sum(single[:3])
print(f"citus stage: cluster/single total {ratio:.2f}x (target <= 1.5x); per worker: ingest "
      f"{rows / cluster[0] / workers:,.0f} rows/s, scoring {rows / cluster[1] / workers:,.0f} rows/s "
      f"(one client: its shard is on one worker)")
open(tsv, "w").write("\n".join(lines) + f"\nratio\t{ratio:.3f}\n")
PY
