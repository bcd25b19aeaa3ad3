#!/usr/bin/env bash
# make bench, round-trip peer "standard tools": the job of `sdp-agent process-batch` done with
# what Debian ships, as one process tree so GNU time sees all of its CPU:
#
#   1. bench/py_vault_tokenize.py: Python csv + hmac, originals sealed with AES-GCM
#      (python3-cryptography) into a SQLite vault;
#   2. psql \copy of the tokenized file into std_in (logged, PRIMARY KEY (customer_id));
#   3. demo_v1 as a plain-cast INSERT ... SELECT into std_result (PRIMARY KEY (record_key));
#   4. psql \copy of the results out;
#   5. bench/pandas_merge.py --hash-key: pandas left merge onto the raw rows (token re-derived).
#
#   bench/std_round_trip.sh RAW WORKDIR OUTPUT
#
# Expects PG* of the bench database, SDP_CRYPTO_KEY, BENCH_STD_SCORE_SQL (step 3, written by
# bench/stages.sh from the same expression as the score stage's peer) and empty std_in and
# std_result tables (bench/stages.sh truncates them, untimed, before each run).
set -euo pipefail
raw=$1 work=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
py=${BENCH_PYTHON:-/usr/bin/python3}
: "${BENCH_STD_SCORE_SQL:?}"
"$py" "$here/py_vault_tokenize.py" "$raw" "$work/std_tokenized.csv" "$work/std_vault.db" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 \
  -c "\\copy std_in FROM '$work/std_tokenized.csv' WITH (FORMAT csv, HEADER)" \
  -c "$BENCH_STD_SCORE_SQL" \
  -c "\\copy std_result TO '$work/std_results.csv' WITH (FORMAT csv, HEADER)"
"$py" "$here/pandas_merge.py" "$raw" "$work/std_results.csv" "$out" --hash-key customer_id >/dev/null
