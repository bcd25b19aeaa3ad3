#!/usr/bin/env bash
# The measuring half of `make bench`: runs every stage, ours and its peers, on the same data in the
# same run, and appends one line per timed run to $BENCH_OUT/measurements.tsv:
#
#   stage  contender  rep  wall_s  cpu_s  max_rss_kb  rows  server_cpu_s
#
# cpu_s is all the CPU time of the run: the client process and its children (GNU time) plus the
# server's (server_cpu_s, read from /proc around the run); max_rss_kb is the client's peak RSS.
# "-" where a figure cannot be measured (a statement timed inside the server has no client RSS;
# a server on another machine has no CPU figure). Also the load average before each stage
# ($BENCH_OUT/load.tsv), plus
# correctness checks to $BENCH_OUT/checks.tsv (name ok|FAIL detail). bench/report.py turns both
# into the table, latest.json and the chart. Called by bench/run.sh inside a PostgreSQL cluster
# (test/with_pg.sh, or the one of `make check`); it works in a database of its own, dropped at
# the end.
#
# Environment (set by bench/run.sh): BENCH_RAW (raw customers CSV), BENCH_RAW_BIG (the same rows
# repeated, for the RSS check), BENCH_ROWS, BENCH_BIG_ROWS, BENCH_REPS, BENCH_OUT, SDP_AGENT,
# BENCH_PYTHON, BENCH_VERIFY_ROWS, BENCH_INTEGRATE_LOCAL (bench/tools/integrate_local.cc), PG* and SDP_PG_URL, SDP_PG_DATA.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
: "${BENCH_RAW:?}" "${BENCH_ROWS:?}" "${BENCH_OUT:?}" "${SDP_AGENT:?}" "${BENCH_INTEGRATE_LOCAL:?}" "${PGPORT:?}"
reps=${BENCH_REPS:-3}
py=${BENCH_PYTHON:-/usr/bin/python3}
verify_rows=${BENCH_VERIFY_ROWS:-50000}
export SDP_CRYPTO_KEY=${SDP_CRYPTO_KEY:-Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=}
# The agent must not pick up a developer's .env for anything else.
unset SDP_SERVER_URL SDP_API_KEY || true

meas="$BENCH_OUT/measurements.tsv"
checks="$BENCH_OUT/checks.tsv"
logs="$BENCH_OUT/logs"
mkdir -p "$logs"
: >"$meas"
: >"$checks"
: >"$BENCH_OUT/load.tsv"
work=$(mktemp -d "${TMPDIR:-/tmp}/sdp-bench.XXXXXX")

# The server reads files (COPY FROM file, pg_read_file) as its own OS user: give it a directory
# inside its data directory.
srvdir="$SDP_PG_DATA/bench_files"
mkdir -p "$srvdir"
owner=$(stat -c %U "$SDP_PG_DATA")
chown "$owner" "$srvdir" 2>/dev/null || true

db="sdp_bench_$$"
dbquoted="\"$db\""
cleanup() {
  local rc=$?
  if [[ -z "${BENCH_KEEP_DB:-}" ]]; then
    PGDATABASE=postgres psql -X -q -c "DROP DATABASE IF EXISTS $dbquoted WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work" "$srvdir"
  exit "$rc"
}
trap cleanup EXIT

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
check() {  # name ok|FAIL detail
  printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$checks"
  [[ "$2" == ok ]] || say "CHECK FAILED: $1: ${3:-}"
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
record() {  # stage contender rep wall cpu rss rows server_cpu
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$meas"
}

# Every contender, ours and the peers alike, runs BENCH_REPS times, interleaved inside each
# repetition so that a burst of load from other jobs hits all of them.

# CPU time spent by the server: the postmaster, its live children (backends, checkpointer, WAL
# writer, ...) and the children it has reaped (a backend whose session ended), from /proc.
# The difference around a run is the server's share of that run's work. "-" when the cluster is
# not on this machine.
pm_pid=$(head -n 1 "$SDP_PG_DATA/postmaster.pid" 2>/dev/null || true)
clk_tck=$(getconf CLK_TCK)
server_cpu() {
  if [[ -z "$pm_pid" || ! -r "/proc/$pm_pid/stat" ]]; then
    echo -
    return
  fi
  local pids reaped before after total try
  # Fields after "pid (comm) ": $12 utime, $13 stime, $14 cutime, $15 cstime, in clock ticks.
  reaped() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pm_pid/stat"; }
  for try in 1 2 3 4 5; do
    before=$(reaped)
    pids=$(ps -o pid= --ppid "$pm_pid" 2>/dev/null | tr -d ' ' | tr '\n' ' ')
    total=$( (cd /proc && cat $(for p in $pids; do echo "$p/stat"; done) 2>/dev/null) |
      awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }')
    after=$(reaped)
    # A child reaped while we read would be counted twice or not at all: read again.
    [[ "$before" == "$after" ]] && break
  done
  # A service the contender talks to (svc_pid: the JSON stage's `sdp-agent serve`) is server
  # CPU too: its work is the contender's, though no PostgreSQL backend does it.
  local svc=0
  [[ -n "$svc_pid" && -r "/proc/$svc_pid/stat" ]] &&
    svc=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$svc_pid/stat")
  awk -v a="$after" -v t="$total" -v s="$svc" -v clk="$clk_tck" 'BEGIN { printf "%.3f", (a + t + s) / clk }'
}
svc_pid=""
cpu_sum() {  # client_s server_before server_after -> client + server delta ("-" if unknown)
  awk -v c="$1" -v a="$2" -v b="$3" 'BEGIN {
    if (a == "-" || b == "-") { if (c == "-") print "-"; else printf "%.3f", c; exit }
    printf "%.3f", (c == "-" ? 0 : c) + (b - a) }'
}
server_delta() {  # server_before server_after
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.3f", b - a }'
}

# The machine's load before each stage (1, 5 and 15-minute load averages): a reader can tell a
# change in our figures from a busy machine.
stage_load() {  # stage
  printf '%s\t%s\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_OUT/load.tsv"
}

# run_cmd STAGE CONTENDER REP ROWS CMD...: wall by the clock; CPU (user+sys of the process and
# the children it waited for) and peak RSS by GNU time, plus the server's CPU over the run.
run_cmd() {
  local stage=$1 contender=$2 rep=$3 rows=$4
  shift 4
  local tf="$work/time.$$" log="$logs/$stage.$contender.$rep.log" t0 t1 s0 s1
  s0=$(server_cpu)
  t0=$(date +%s.%N)
  if ! /usr/bin/time -f '%U %S %M' -o "$tf" "$@" >"$log" 2>&1; then
    say "$stage/$contender failed: $* (log: $log)"
    tail -n 20 "$log" >&2
    return 1
  fi
  t1=$(date +%s.%N)
  s1=$(server_cpu)
  local u s m
  read -r u s m < <(tail -n 1 "$tf")
  local client
  client=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
  record "$stage" "$contender" "$rep" "$(elapsed "$t0" "$t1")" "$(cpu_sum "$client" "$s0" "$s1")" "$m" "$rows" \
    "$(server_delta "$s0" "$s1")"
}

psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# sql_time STAGE CONTENDER REP ROWS STATEMENT: times one statement inside the server
# (clock_timestamp around it, in the same session), so connection set-up is not counted; its CPU
# is the session's backend's (utime + stime from /proc/<backend>/stat, read by the backend
# itself before and after the statement), for the same reason.
backend_cpu_sql="SELECT a[12]::bigint + a[13]::bigint AS ticks FROM (SELECT pg_catalog.string_to_array(
  pg_catalog.split_part(pg_catalog.pg_read_file('/proc/' || pg_catalog.pg_backend_pid() || '/stat'), ') ', 2), ' ') AS a) x"
sql_time() {
  local stage=$1 contender=$2 rep=$3 rows=$4 stmt=$5 out secs ticks cpu
  out=$(psqlq -At <<SQL 2>"$logs/$stage.$contender.$rep.log"
SET client_min_messages = warning;
$backend_cpu_sql \gset c0_
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
\o /dev/null
$stmt;
\o
SELECT extract(epoch FROM clock_timestamp()) - :t0;
SELECT ($backend_cpu_sql) - :c0_ticks;
SQL
  ) || { say "$stage/$contender failed (log: $logs/$stage.$contender.$rep.log)"; cat "$logs/$stage.$contender.$rep.log" >&2; return 1; }
  secs=$(sed -n 1p <<<"$out")
  ticks=$(sed -n 2p <<<"$out")
  cpu=$(awk -v t="$ticks" -v clk="$clk_tck" 'BEGIN { printf "%.3f", t / clk }')
  # SQL_TIME_CPU=unknown: a statement that may run in parallel workers, whose CPU the session
  # backend does not see.
  [[ "${SQL_TIME_CPU:-}" == unknown ]] && cpu=-
  record "$stage" "$contender" "$rep" "$secs" "$cpu" - "$rows" "$cpu"
}

# csv_same A B N NAME: the first N data rows of two CSV files hold the same cells (quoting may
# differ: the agent keeps the raw file's quoting, Python's and pandas' writers quote minimally).
# Cells that are both numbers may differ by 1e-9 (a score computed in SQL by another formula
# can differ from sdp_process_batch's in the last digit).
csv_same() {
  local detail
  if detail=$("$py" - "$1" "$2" "$3" <<'PY'
import csv, itertools, sys
a, b, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(a, newline="", encoding="utf-8") as fa, open(b, newline="", encoding="utf-8") as fb:
    ra, rb = csv.reader(fa), csv.reader(fb)
    for i, (x, y) in enumerate(itertools.islice(zip(ra, rb), n + 1)):
        if x != y:
            def close(u, v):
                try:
                    return abs(float(u) - float(v)) <= 1e-9
                except ValueError:
                    return False
            if len(x) != len(y) or not all(u == v or close(u, v) for u, v in zip(x, y)):
                print(f"row {i}: {x}... != {y}...")
                sys.exit(1)
    print(f"{min(i, n)} data rows identical")
PY
  ); then check "$4" ok "$detail"; else check "$4" FAIL "$detail"; fi
}

say "database $db, $BENCH_ROWS rows, $reps repetitions, agent $SDP_AGENT"
PGDATABASE=postgres psqlq -c "CREATE DATABASE $dbquoted" >/dev/null
export PGDATABASE=$db
export SDP_PG_URL="postgresql://${PGUSER:-postgres}@${PGHOST:-127.0.0.1}:$PGPORT/$db"
psqlq >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION sdp;
SELECT sdp.sdp_create_client('bench');
ALTER DATABASE $dbquoted SET sdp.env = 'dev';
ALTER DATABASE $dbquoted SET sdp.max_batch_bytes = '1GB';
CREATE TABLE bench_copy (
  customer_id text PRIMARY KEY, first_name text, last_name text, email text, phone text,
  ssn text, card_number text, iban text, birth_date text, address text, city text,
  country text, age text, income text, balance text, num_transactions text, segment text);
CREATE TABLE bench_sql_result (LIKE sdp.processed_result INCLUDING ALL);
CREATE TABLE bench_cast_result (LIKE sdp.processed_result INCLUDING ALL);
SQL

# Which server code was measured: the installed library may be newer than the checkout.
so="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pkglibdir)/sdp.so"
echo "sdp_extension=$(psqlq -At -c "SELECT extversion FROM pg_extension WHERE extname = 'sdp'") ($so built $(date -u -r "$so" +%Y-%m-%dT%H:%M:%SZ))" >>"$BENCH_OUT/meta.txt"

raw=$BENCH_RAW
rows=$BENCH_ROWS
agent=$SDP_AGENT
cfg_hash="$repo/bench/configs/hash_novault.yml"
cfg_full="$repo/configs/customers_tokenization.yml"
cfg_fpe="$repo/bench/configs/fpe_card.yml"
cfg_ingest="$repo/bench/configs/ingest.yml"
# The upload manifest of cfg_ingest (what sdp-agent sends for it, UploadManifestJson), for the
# SQL contenders of the ingest stage.
manifest_ingest='{"first_name":{"transform":"HASH"},"last_name":{"transform":"HASH"},"email":{"transform":"HASH"},"phone":{"transform":"HASH"},"ssn":{"transform":"HASH"},"card_number":{"transform":"FF1"},"iban":{"transform":"FF1"},"address":{"transform":"HASH"}}'

# ---- 1-3. tokenize ----------------------------------------------------------------------------
say "tokenize: HASH no vault, full config with vault, FPE FF1; Python csv+hmac (with and without writing)"
stage_load tokenize
for rep in $(seq 1 "$reps"); do
  run_cmd tokenize_hash sdp-agent "$rep" "$rows" \
    "$agent" tokenize-config --config "$cfg_hash" --input "$raw" --output "$work/tok_hash.csv" --vault "$work/unused.db"
  run_cmd tokenize_hash python_hmac "$rep" "$rows" "$py" "$repo/bench/py_hmac_tokenize.py" "$raw" "$work/py_hash.csv"
  run_cmd tokenize_hash python_hmac_nowrite "$rep" "$rows" "$py" "$repo/bench/py_hmac_tokenize.py" "$raw" --no-write
  rm -f "$work"/vault.db*
  run_cmd tokenize_vault sdp-agent "$rep" "$rows" \
    "$agent" tokenize-config --config "$cfg_full" --input "$raw" --output "$work/tok_full.csv" --vault "$work/vault.db"
  run_cmd tokenize_fpe sdp-agent "$rep" "$rows" \
    "$agent" tokenize-config --config "$cfg_fpe" --input "$raw" --output "$work/tok_fpe.csv" --vault "$work/unused.db"
done
csv_same "$work/tok_hash.csv" "$work/py_hash.csv" "$verify_rows" "tokenize_hash: sdp-agent and Python give the same tokens"
vault_rows=$(sqlite3 "$work/vault.db" 'SELECT count(*) FROM vault_entry' 2>/dev/null || echo 0)
check "tokenize_vault: vault written" "$(((vault_rows > 0)) && echo ok || echo FAIL)" "$vault_rows entries, $(du -h "$work/vault.db" | cut -f1)"
rm -f "$work/py_hash.csv" "$work/tok_fpe.csv" "$work/tok_full.csv" "$work"/vault.db*

# ---- 3b. JSON pseudonymization ----------------------------------------------------------------
# ~2 KB order events with 10 HASH paths (bench/configs/json_hash10.yml), one document per NDJSON
# line: the CLI (records sealed into a fresh vault per run), the Python peer (json + hmac, same
# tokens, no records) and the service's bulk endpoint fed by bench/json_bulk_client.py (500
# documents per request over one connection; the client's and the service's time both count).
json_docs=${BENCH_JSON_DOCS:-$((rows / 10))}
json_cfg="$repo/bench/configs/json_hash10.yml"
say "json: pseudonymize $json_docs documents (~2 KB, 10 HASH paths): CLI, Python json+hmac, service bulk"
"$py" "$repo/bench/gen_json_docs.py" "$json_docs" "$work/docs.ndjson"
export SDP_PSEUDONYMIZE_API_KEY=bench-pk-$$ SDP_REPERSONALIZE_API_KEY=bench-rk-$$
stage_load json
for rep in $(seq 1 "$reps"); do
  rm -f "$work"/json_vault.db*
  run_cmd json sdp-agent "$rep" "$json_docs" \
    "$agent" pseudonymize --rules "$json_cfg" --input "$work/docs.ndjson" --output "$work/docs.p.ndjson" --vault "$work/json_vault.db"
  run_cmd json python_json "$rep" "$json_docs" "$py" "$repo/bench/py_json_pseudonymize.py" "$work/docs.ndjson" "$work/docs.py.ndjson"
  rm -f "$work"/json_svc.db* "$work/json_ports"
  "$agent" serve --rules "$json_cfg" --vault "$work/json_svc.db" --pseudonymize-port 0 --repersonalize-port 0 \
    --port-file "$work/json_ports" --max-body-bytes 67108864 2>"$logs/json.serve.$rep.log" &
  json_pid=$!
  for _ in $(seq 100); do [[ -s "$work/json_ports" ]] && break; sleep 0.1; done
  svc_pid=$json_pid
  run_cmd json service_bulk "$rep" "$json_docs" \
    "$py" "$repo/bench/json_bulk_client.py" "$work/docs.ndjson" "$(sed -n 's/^pseudonymize=//p' "$work/json_ports")" 500 "$work/docs.bulk.json"
  svc_pid=""
  kill "$json_pid" 2>/dev/null || true
  wait "$json_pid" 2>/dev/null || true
done
check "json: sdp-agent and Python give the same bytes" "$(cmp -s "$work/docs.p.ndjson" "$work/docs.py.ndjson" && echo ok || echo FAIL)" "$json_docs documents"
"$agent" repersonalize --rules "$json_cfg" --input "$work/docs.p.ndjson" --output "$work/docs.r.ndjson" \
  --vault "$work/json_vault.db" 2>>"$logs/json.repersonalize.log" || true
check "json: repersonalize restores every document byte for byte" "$(cmp -s "$work/docs.ndjson" "$work/docs.r.ndjson" && echo ok || echo FAIL)" "$json_docs documents"
unset SDP_PSEUDONYMIZE_API_KEY SDP_REPERSONALIZE_API_KEY
rm -f "$work"/docs*.ndjson "$work/docs.bulk.json" "$work"/json_vault.db* "$work"/json_svc.db* "$work/json_ports"

# ---- 4. ingest --------------------------------------------------------------------------------
# The file has no column of raw PII (cfg_ingest), as the PII firewall requires; made once, untimed.
tok="$srvdir/tokenized.csv"
"$agent" tokenize-config --config "$cfg_ingest" --input "$raw" --output "$tok" --vault "$work/unused.db" \
  >/dev/null 2>"$logs/ingest.tokenize.log" || { say "ingest: tokenizing the ingest file failed"; cat "$logs/ingest.tokenize.log" >&2; exit 1; }
chown "$owner" "$tok" 2>/dev/null || true
chmod 0644 "$tok"
reset_server() {
  psqlq >/dev/null <<SQL
SET client_min_messages = warning;
TRUNCATE bench_copy, bench_sql_result, bench_cast_result;
TRUNCATE sdp.processing_batch CASCADE;
CHECKPOINT;
SQL
}
say "ingest: COPY FROM file vs sdp_ingest_csv (with and without the PII firewall); psql \\copy vs sdp-agent upload-batch (libpq, 8 MiB chunks)"
stage_load ingest
for rep in $(seq 1 "$reps"); do
  reset_server
  sql_time ingest copy_file "$rep" "$rows" "COPY bench_copy FROM '$tok' WITH (FORMAT csv, HEADER)"
  reset_server
  sql_time ingest sdp_ingest_csv "$rep" "$rows" \
    "SELECT sdp.sdp_ingest_csv('bench', 'risk_scoring', pg_read_file('$tok'), 'customer_id', NULL, '$manifest_ingest')"
  # The same with the firewall off (superuser only): what checking every cell costs.
  reset_server
  sql_time ingest sdp_ingest_csv_nofw "$rep" "$rows" \
    "SET sdp.pii_firewall = off; SELECT sdp.sdp_ingest_csv('bench', 'risk_scoring', pg_read_file('$tok'), 'customer_id', NULL, '$manifest_ingest')"
  reset_server
  run_cmd ingest psql_copy_stdin "$rep" "$rows" \
    psql -X -q -v ON_ERROR_STOP=1 -c "\\copy bench_copy FROM '$tok' WITH (FORMAT csv, HEADER)"
  # The last contender leaves its batch in place: the score and integrate stages use it.
  reset_server
  run_cmd ingest upload_batch "$rep" "$rows" \
    "$agent" upload-batch --file "$tok" --config "$cfg_ingest" --client-id bench --processing-type risk_scoring --server-url "$SDP_PG_URL"
done
batch=$(psqlq -At -c "SELECT batch_id FROM sdp.processing_batch")
accepted=$(psqlq -At -c "SELECT accepted_records FROM sdp.processing_batch")
check "ingest: upload-batch accepted every row" "$([[ "$accepted" == "$rows" ]] && echo ok || echo FAIL)" "$accepted of $rows"

# ---- 5. score ---------------------------------------------------------------------------------
# demo_v1 (docs/model_demo_v1.md) written in SQL, on the stored rows, two ways:
# - plain cast (the peer the target is judged on): each feature cast with ::float8, as anyone
#   with clean data writes it; it would stop on a non-numeric cell, which sdp_process_batch
#   defaults and counts instead (the bench data has none);
# - regex (reported): a feature is a number when it matches the model's decimal syntax, else it
#   takes its default and is counted: what sdp_process_batch does, in SQL.
read -r i_age i_income i_balance i_ntx < <(psqlq -At -F ' ' -c "
  SELECT array_position(columns, 'age'), array_position(columns, 'income'),
         array_position(columns, 'balance'), array_position(columns, 'num_transactions')
    FROM sdp.processing_batch WHERE batch_id = '$batch'")
num_re='^[ \t]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[ \t]*$'
regex_feature() { echo "CASE WHEN t.fields[$1] ~ '$num_re' THEN t.fields[$1]::float8 END"; }
# demo_v1_score AGE INCOME BALANCE NTX: the score as one SQL expression of four float8 expressions.
demo_v1_score() {
  echo "1 / (1 + exp(-(-0.9
         + -0.35 * least(greatest((coalesce($1, 45) - 45) / 15, -5), 5)
         + -0.90 * least(greatest((coalesce($2, 60000) - 60000) / 30000, -5), 5)
         + -0.60 * least(greatest((coalesce($3, 15000) - 15000) / 20000, -5), 5)
         +  0.55 * least(greatest((coalesce($4, 40) - 40) / 30, -5), 5))))"
}
band_of() { echo "CASE WHEN $1 >= 0.6 THEN 'high' WHEN $1 >= 0.3 THEN 'medium' ELSE 'low' END"; }
regex_sql="INSERT INTO bench_sql_result (batch_id, row_no, client_id, record_key, score, risk_band, model_version, defaulted_features)
  SELECT t.batch_id, t.row_no, t.client_id, t.record_key, s.score, $(band_of s.score),
         'demo_v1', (x.age IS NULL)::int + (x.income IS NULL)::int + (x.balance IS NULL)::int + (x.ntx IS NULL)::int
    FROM sdp.tokenized_record t,
    LATERAL (SELECT $(regex_feature "$i_age") AS age, $(regex_feature "$i_income") AS income,
                    $(regex_feature "$i_balance") AS balance, $(regex_feature "$i_ntx") AS ntx) x,
    LATERAL (SELECT $(demo_v1_score x.age x.income x.balance x.ntx) AS score) s
   WHERE t.batch_id = '$batch'"
cast_sql="INSERT INTO bench_cast_result (batch_id, row_no, client_id, record_key, score, risk_band, model_version)
  SELECT t.batch_id, t.row_no, t.client_id, t.record_key, s.score, $(band_of s.score), 'demo_v1'
    FROM sdp.tokenized_record t,
    LATERAL (SELECT $(demo_v1_score "t.fields[$i_age]::float8" "t.fields[$i_income]::float8" \
                                    "t.fields[$i_balance]::float8" "t.fields[$i_ntx]::float8") AS score) s
   WHERE t.batch_id = '$batch'"
psqlq -c "VACUUM ANALYZE sdp.tokenized_record" >/dev/null
say "score: sdp_process_batch vs demo_v1 in SQL (plain cast; regex) in INSERT ... SELECT"
stage_load score
for rep in $(seq 1 "$reps"); do
  psqlq -c "TRUNCATE bench_cast_result" -c "CHECKPOINT" >/dev/null
  sql_time score sql_plain_cast "$rep" "$rows" "$cast_sql"
  psqlq -c "TRUNCATE bench_sql_result" -c "CHECKPOINT" >/dev/null
  sql_time score sql_regex "$rep" "$rows" "$regex_sql"
  psqlq >/dev/null <<SQL
SET client_min_messages = warning;
TRUNCATE sdp.processed_result;
UPDATE sdp.processing_batch SET status = 'RECEIVED', processed_records = 0, processed_at = NULL,
       model_version = NULL, error = NULL WHERE batch_id = '$batch';
CHECKPOINT;
SQL
  sql_time score sdp_process_batch "$rep" "$rows" "SELECT sdp.sdp_process_batch('$batch')"
done
for peer in bench_sql_result bench_cast_result; do
  read -r processed mismatches < <(psqlq -At -F ' ' -c "
    SELECT (SELECT count(*) FROM sdp.processed_result WHERE batch_id = '$batch'),
           (SELECT count(*) FROM sdp.processed_result r FULL JOIN $peer s USING (batch_id, row_no)
             WHERE r.row_no IS NULL OR s.row_no IS NULL OR abs(r.score - s.score) > 1e-9
                OR r.risk_band <> s.risk_band OR r.defaulted_features <> s.defaulted_features)")
  check "score: sdp_process_batch and $peer agree on every row" \
    "$([[ "$processed" == "$rows" && "$mismatches" == 0 ]] && echo ok || echo FAIL)" "$processed rows scored, $mismatches differ"
done

# ---- 5b. privacy analytics ------------------------------------------------------------------
# sdp_dp_sum and sdp_dp_count ... group_by over 5x the bench rows (each scored customer five
# times: five rows per privacy unit, the bound) against the plain SQL a user would run on the same
# table: sum(income) and count(*) GROUP BY segment, with PostgreSQL's defaults (parallel query
# allowed: its workers' CPU is not in the session backend's figure, so the peer's CPU is
# recorded as unknown) and, for the record, serial. Ours includes everything a release costs:
# validation, the unlocked budget check, the scan with contribution bounding, the noise, the
# charge committed by its background worker and the audit entry.
read -r i_segment < <(psqlq -At -c "SELECT array_position(columns, 'segment') FROM sdp.processing_batch WHERE batch_id = '$batch'")
dp_rows=$((rows * 5))
psqlq >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE bench_dp AS
SELECT t.record_key AS customer, t.fields[$i_segment] AS segment, r.risk_band,
       t.fields[$i_income]::numeric(12,2) AS income
  FROM sdp.tokenized_record t JOIN sdp.processed_result r USING (batch_id, row_no), generate_series(1, 5) k
 WHERE t.batch_id = '$batch';
VACUUM ANALYZE bench_dp;
SELECT sdp.sdp_dp_register('bench_dp', 'bench_dp', 'customer', 5, 1000000, 0.001);
SELECT sdp.sdp_dp_grant(current_user, 'bench_dp', 1000000, 0.001);
SELECT sdp.sdp_dp_public_values('bench_dp', 'segment', ARRAY(SELECT DISTINCT segment FROM bench_dp ORDER BY 1));
SQL
say "privacy: sdp_dp_sum / sdp_dp_count group_by vs plain SQL sum / count GROUP BY on $dp_rows rows"
stage_load privacy
for rep in $(seq 1 "$reps"); do
  psqlq -c "CHECKPOINT" >/dev/null
  SQL_TIME_CPU=unknown sql_time privacy sql_sum "$rep" "$dp_rows" "SELECT sum(income) FROM bench_dp"
  sql_time privacy sql_sum_serial "$rep" "$dp_rows" "SET max_parallel_workers_per_gather = 0; SELECT sum(income) FROM bench_dp"
  sql_time privacy sdp_dp_sum "$rep" "$dp_rows" "SELECT * FROM sdp.sdp_dp_sum('bench_dp', 'income', 0, 500000, 1)"
  SQL_TIME_CPU=unknown sql_time privacy sql_count_group "$rep" "$dp_rows" "SELECT segment, count(*) FROM bench_dp GROUP BY segment"
  sql_time privacy sql_count_group_serial "$rep" "$dp_rows" "SET max_parallel_workers_per_gather = 0; SELECT segment, count(*) FROM bench_dp GROUP BY segment"
  sql_time privacy sdp_dp_count "$rep" "$dp_rows" "SELECT * FROM sdp.sdp_dp_count('bench_dp', 1, 'segment')"
done
charged=$(psqlq -At -c "SELECT count(*) FROM sdp.dp_ledger WHERE dataset = 'bench_dp'")
read -r groups released < <(psqlq -At -F ' ' -c "
  SELECT (SELECT count(DISTINCT segment) FROM bench_dp), (SELECT count(*) FROM sdp.sdp_dp_count('bench_dp', 1, 'segment'))")
check "privacy: every public segment released, every release charged" \
  "$([[ "$groups" == "$released" && "$charged" == $((reps * 2)) ]] && echo ok || echo FAIL)" "$released of $groups groups, $charged ledger rows after $((reps * 2)) releases"
psqlq -c "DROP TABLE bench_dp" >/dev/null 2>&1 || true

# ---- 6. integrate -----------------------------------------------------------------------------
results="$work/results.csv"
psqlq -c "\\copy (SELECT record_key, score, risk_band, model_version FROM sdp.sdp_results('$batch') ORDER BY row_no) TO '$results' WITH (FORMAT csv, HEADER)" >/dev/null
say "integrate: sdp-agent integrate-results (whole command, and its local join alone) vs pandas merge and Miller join"
stage_load integrate
for rep in $(seq 1 "$reps"); do
  run_cmd integrate sdp-agent "$rep" "$rows" \
    "$agent" integrate-results --batch-id "$batch" --raw-input "$raw" --output "$work/merged_ours.csv" \
    --key-column customer_id --server-url "$SDP_PG_URL"
  run_cmd integrate local_join "$rep" "$rows" \
    "$BENCH_INTEGRATE_LOCAL" "$raw" "$results" "$work/merged_local.csv" customer_id
  run_cmd integrate pandas_merge "$rep" "$rows" "$py" "$repo/bench/pandas_merge.py" "$raw" "$results" "$work/merged_pandas.csv"
  run_cmd integrate miller_join "$rep" "$rows" \
    bash -c "mlr --csv join --ur -j customer_id -l record_key -r customer_id -f '$results' '$raw' >'$work/merged_mlr.csv'"
done
csv_same "$work/merged_ours.csv" "$work/merged_pandas.csv" "$verify_rows" "integrate: sdp-agent and pandas give the same merged rows"
cmp -s "$work/merged_ours.csv" "$work/merged_local.csv" && check "integrate: local join = whole command, byte for byte" ok ||
  check "integrate: local join = whole command, byte for byte" FAIL "outputs differ"
mlr_rows=$(($(wc -l <"$work/merged_mlr.csv") - 1))
check "integrate: Miller join kept every raw row" "$([[ "$mlr_rows" == "$rows" ]] && echo ok || echo FAIL)" "$mlr_rows rows"
rm -f "$work"/merged_*.csv "$results"

# ---- 7. full round trip -----------------------------------------------------------------------
# Ours (process-batch: tokenize with vault, upload, process, fetch, integrate) against
# - the standard-tools pipeline doing the same job (bench/std_round_trip.sh: Python csv + hmac +
#   AES-GCM SQLite vault, psql \copy in, plain-cast INSERT ... SELECT, psql \copy out, pandas);
# - the same SDP pipeline without tokenization and vault (bench/plain_round_trip.sh): the price
#   of privacy.
export BENCH_STD_SCORE_SQL="INSERT INTO std_result (record_key, score, risk_band, model_version)
  SELECT i.customer_id, s.score, $(band_of s.score), 'demo_v1'
    FROM std_in i,
    LATERAL (SELECT $(demo_v1_score i.age::float8 i.income::float8 i.balance::float8 i.num_transactions::float8) AS score) s"
psqlq >/dev/null <<SQL
CREATE TABLE std_in (LIKE bench_copy INCLUDING ALL);
CREATE TABLE std_result (record_key text PRIMARY KEY, score float8 NOT NULL, risk_band text NOT NULL,
                         model_version text NOT NULL);
SQL
export SDP_AGENT BENCH_INTEGRATE_LOCAL
say "round trip: sdp-agent process-batch vs standard tools (Python+vault, psql, SQL, pandas) vs SDP without privacy"
stage_load round_trip
for rep in $(seq 1 "$reps"); do
  rm -rf "$work/rt" && mkdir -p "$work/rt"
  reset_server
  run_cmd round_trip sdp-agent "$rep" "$rows" \
    "$agent" process-batch --raw-input "$raw" --output "$work/rt/merged.csv" --config "$cfg_full" \
    --vault "$work/rt/vault.db" --client-id bench --processing-type risk_scoring --use-dev-processor \
    --server-url "$SDP_PG_URL"
  reset_server
  psqlq -c "TRUNCATE std_in, std_result" -c "CHECKPOINT" >/dev/null
  run_cmd round_trip std_tools "$rep" "$rows" bash "$repo/bench/std_round_trip.sh" "$raw" "$work/rt" "$work/rt/std_merged.csv"
  reset_server
  run_cmd round_trip no_privacy "$rep" "$rows" bash "$repo/bench/plain_round_trip.sh" "$raw" "$work/rt" "$work/rt/plain_merged.csv"
done
rt_rows=$(($(wc -l <"$work/rt/merged.csv") - 1))
rt_scored=$(awk -F, 'NR > 1 && $NF == "demo_v1"' "$work/rt/merged.csv" | wc -l)
check "round_trip: every raw row came back scored" "$([[ "$rt_rows" -ge "$rows" && "$rt_scored" -ge "$rows" ]] && echo ok || echo FAIL)" "$rt_scored scored lines"
csv_same "$work/rt/merged.csv" "$work/rt/std_merged.csv" "$verify_rows" "round_trip: the standard-tools pipeline gives the same merged rows"
csv_same "$work/rt/merged.csv" "$work/rt/plain_merged.csv" "$verify_rows" "round_trip: the no-privacy pipeline gives the same merged rows"
std_vault=$(sqlite3 "$work/rt/std_vault.db" 'SELECT count(*) FROM vault' 2>/dev/null || echo 0)
sdp_vault=$(sqlite3 "$work/rt/vault.db" 'SELECT count(*) FROM vault_entry' 2>/dev/null || echo 0)
check "round_trip: the standard-tools vault holds as many entries as the agent's" \
  "$([[ "$std_vault" -gt 0 && "$std_vault" == "$sdp_vault" ]] && echo ok || echo FAIL)" "$std_vault and $sdp_vault entries"
rm -rf "$work/rt"
reset_server

# ---- 7b. key rotation ---------------------------------------------------------------------------
# rotate-tokens (docs/key_rotation.md) of the two vaulted HASH domains of the uploaded batch
# (customer_id and email: 2 pairs per row), timed as a whole: listing, mapping through the vault,
# pairs upload, apply, finish, vault re-key. rows = pairs. Peer: a plain SQL UPDATE ... FROM of the
# same pairs on a copy of the stored rows (record_key only, no MAC, no audit, no resumability).
cfg_rekey="$repo/bench/configs/rekey.yml"
# BENCH_REKEY_ROWS: the first N rows only (QUICK: 2,000, so that make check stays short).
rk_rows=${BENCH_REKEY_ROWS:-$rows}
rk_raw="$work/rekey_raw.csv"
head -n "$((rk_rows + 1))" "$raw" >"$rk_raw"
rk_rows=$(($(wc -l <"$rk_raw") - 1))
say "rekey: sdp-agent rotate-tokens (customer_id, email; $rk_rows rows) vs SQL UPDATE ... FROM pairs"
stage_load rekey
for rep in $(seq 1 "$reps"); do
  rm -rf "$work/rk" && mkdir -p "$work/rk"
  reset_server
  # Each repetition rotates from scratch: a finished rotation of the same client, domain and
  # versions would otherwise be found by begin, and the next repetition would time a no-op.
  psqlq -c "TRUNCATE sdp.key_rotation, sdp.key_rotation_pair, sdp.key_rotation_batch, sdp.key_rotation_held, sdp.key_rotation_token, sdp.domain_key_version CASCADE" >/dev/null
  key1=$SDP_CRYPTO_KEY
  key2=$(SDP_CRYPTO_KEY=$key1 "$agent" keygen --ring "$work/rk/ring" 2>/dev/null)
  SDP_KEY_RING="$work/rk/ring" "$agent" tokenize-config --config "$cfg_rekey" --input "$rk_raw" \
    --output "$work/rk/tok.csv" --vault "$work/rk/vault.db" >/dev/null 2>"$logs/rekey.setup.$rep.log"
  SDP_KEY_RING="$work/rk/ring" "$agent" upload-batch --file "$work/rk/tok.csv" --config "$cfg_rekey" \
    --client-id bench --processing-type risk_scoring --server-url "$SDP_PG_URL" >/dev/null 2>>"$logs/rekey.setup.$rep.log" ||
    { say "rekey: setup upload failed"; cat "$logs/rekey.setup.$rep.log" >&2; exit 1; }
  psqlq -c "DROP TABLE IF EXISTS bench_rekey_rows" \
    -c "CREATE TABLE bench_rekey_rows AS SELECT batch_id, row_no, record_key, fields FROM sdp.tokenized_record" \
    -c "CHECKPOINT" >/dev/null
  pairs=$((2 * rk_rows))
  OLD_KEY=$key1 SDP_CRYPTO_KEY=$key2 SDP_KEY_RING="$work/rk/ring" run_cmd rekey sdp-agent "$rep" "$pairs" \
    "$agent" rotate-tokens --config "$cfg_rekey" --client-id bench --from-key-env OLD_KEY \
    --vault "$work/rk/vault.db" --domain customer_id --domain email --server-url "$SDP_PG_URL" \
    --journal "$work/rk/journal"
  # The server's rewrite alone (sdp_rekey_apply calls, timed by the agent: apply_seconds of its
  # report), as its own line: the end-to-end figure above includes listing, vault and pairs.
  rk_apply=$("$py" -c 'import json, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if line.startswith("{") and "\"from_version\"" in line:
        print("%.4f" % sum(d["apply_seconds"] for d in json.loads(line)["domains"]))' \
    "$logs/rekey.sdp-agent.$rep.log")
  [[ -n "$rk_apply" ]] && record rekey sdp_apply "$rep" "$rk_apply" - - "$pairs" -
  psqlq -c "DROP TABLE IF EXISTS bench_rekey_pairs" \
    -c "CREATE TABLE bench_rekey_pairs AS SELECT old_token, new_token FROM sdp.key_rotation_pair" \
    -c "CREATE UNIQUE INDEX ON bench_rekey_pairs (old_token)" -c "ANALYZE bench_rekey_pairs" -c "CHECKPOINT" >/dev/null
  sql_time rekey sql_update "$rep" "$pairs" \
    "UPDATE bench_rekey_rows r SET record_key = p.new_token FROM bench_rekey_pairs p WHERE r.record_key = p.old_token"
done
rk_old=$(psqlq -At -c "SELECT count(*) FROM sdp.tokenized_record WHERE length(record_key) <> 26")
rk_pairs=$(psqlq -At -c "SELECT count(*) FROM bench_rekey_pairs")
check "rekey: every stored customer token is a key 2 token" "$([[ "$rk_old" == 0 ]] && echo ok || echo FAIL)" "$rk_old rows left"
check "rekey: one pair per customer and per e-mail" "$([[ "$rk_pairs" == "$((2 * rk_rows))" ]] && echo ok || echo FAIL)" "$rk_pairs pairs"
psqlq -c "DROP TABLE bench_rekey_rows, bench_rekey_pairs" >/dev/null
rm -rf "$work/rk" "$rk_raw"
reset_server

# ---- 8. PII scan (no server): bench/scan_stage.sh -------------------------------------------
BENCH_REPS=$reps BENCH_PYTHON=$py bash "$repo/bench/scan_stage.sh"

# ---- 9. peak RSS, N vs 5N rows ----------------------------------------------------------------
if [[ -n "${BENCH_RAW_BIG:-}" ]]; then
  say "memory: peak RSS of tokenize-config (HASH, no vault) on $rows and ${BENCH_BIG_ROWS} rows"
  stage_load memory
  run_cmd memory rows_1x 1 "$rows" \
    "$agent" tokenize-config --config "$cfg_hash" --input "$raw" --output "$work/rss.csv" --vault "$work/unused.db"
  run_cmd memory rows_5x 1 "$BENCH_BIG_ROWS" \
    "$agent" tokenize-config --config "$cfg_hash" --input "$BENCH_RAW_BIG" --output "$work/rss.csv" --vault "$work/unused.db"
  rm -f "$work/rss.csv"
fi
rm -f "$work/tok_hash.csv"
say "done"
