#!/usr/bin/env bash
# Concurrency over libpq: 8 agents each running process-batch (upload, process, integrate) on a
# different file at the same time, plus 2 agents running process-batch on one and the same file
# (so both open, append to, seal and process the same batch at once), plus 2 SQL sessions calling
# sdp_process_batch on one RECEIVED batch at once. Checked against a serial run of the same
# tokenized files in another database:
#   - every agent and session ends in time (no deadlock, no hang) and exits 0;
#   - every batch is PROCESSED, one batch per distinct file (no duplicate batch), one result per
#     row (no duplicate result), the two agents on the same file got the same batch id;
#   - the merged files are byte-identical to the serial run's, and the server-side batches and
#     results (content hash, counts, row_no, record_key, score, band) are identical too;
#   - the server log has no "deadlock detected".
# 1 round of 2,000-row files; SDP_STRESS=1: 3 rounds of 10,000-row files.
source "$(dirname "$0")/lib.sh"
rows=2000 rounds=1
[[ "${SDP_STRESS:-0}" == 1 ]] && rows=10000 rounds=3
w=$e2e_work
cfg="$repo/configs/customers_tokenization.yml"
deadline=300  # seconds any single agent or session may take before it counts as hung

e2e_database sdp_e2e_conc_ser
ser_url=$SDP_SERVER_URL
e2e_database sdp_e2e_conc  # the one lib.sh drops at exit; the serial one is dropped below
conc_url=$SDP_SERVER_URL
conc_cleanup() {
  PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres \
    -c "DROP DATABASE IF EXISTS sdp_e2e_conc_ser WITH (FORCE)" >/dev/null 2>&1 || true
}
e2e_at_exit conc_cleanup
for db in sdp_e2e_conc_ser sdp_e2e_conc; do
  psql -XAtq -d "$db" -c "ALTER DATABASE $db SET sdp.env = 'dev'" \
    -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
done
log_start=0
[[ -n "${SDP_PG_LOG:-}" && -f "$SDP_PG_LOG" ]] && log_start=$(stat -c %s "$SDP_PG_LOG")

agent_pb() {  # url raw output vault log: one process-batch run, bounded in time
  SDP_SERVER_URL=$1 timeout "$deadline" "$agent" process-batch --raw-input "$2" --output "$3" \
    --config "$cfg" --vault "$4" --client-id bank_demo --processing-type risk_scoring \
    --use-dev-processor --chunk-kb 64 >"$3.json" 2>"$5"
}
# The concurrent run uploads exactly the serial run's tokenized bytes (RANDOM tokens differ on
# every tokenization): process-batch reuses OUTPUT.tokenized.csv stamped with the same raw file
# and config.
reuse_tokens() {  # from_output to_output
  cp "$1.tokenized.csv" "$2.tokenized.csv"
  cp "$1.tokenized.csv.source" "$2.tokenized.csv.source"
}
sql_process() {  # db batch_id out
  timeout "$deadline" psql -XAtq -d "$1" -v ON_ERROR_STOP=1 \
    -c "SELECT status, processed_records FROM sdp.sdp_process_batch('$2')" >"$3" 2>&1
}
batch_id_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$1"; }

expected_batches=0
for round in $(seq "$rounds"); do
  r="$w/r$round"
  mkdir -p "$r"
  # Ten files: 1-8 one agent each, 9 two agents at once, 10 two SQL sessions at once.
  for i in $(seq 10); do
    python3 "$repo/bench/gen_customers.py" "$rows" "$r/raw$i.csv" --seed $((7000 + 100 * round + i))
  done
  "$agent" tokenize-config --config "$cfg" --input "$r/raw10.csv" --output "$r/tok10.csv" \
    --vault "$r/vault10.db" 2>/dev/null

  # Serial reference run (which also tokenizes files 1-9).
  start=$(date +%s.%N)
  for i in $(seq 9); do
    agent_pb "$ser_url" "$r/raw$i.csv" "$r/ser$i.csv" "$r/vault$i.db" "$r/ser$i.log" ||
      fail "serial process-batch of file $i: $(cat "$r/ser$i.log")"
    grep -q "\"matched_rows\":$rows," "$r/ser$i.csv.json" || fail "serial run, file $i: $(cat "$r/ser$i.csv.json")"
  done
  SDP_SERVER_URL=$ser_url "$agent" upload-batch --file "$r/tok10.csv" --client-id bank_demo \
    --processing-type risk_scoring --chunk-kb 64 --config "$cfg" >"$r/ser10.json"
  sql_process sdp_e2e_conc_ser "$(batch_id_of "$r/ser10.json")" "$r/ser10.out" ||
    fail "serial sdp_process_batch: $(cat "$r/ser10.out")"
  serial_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

  # Concurrent run: file 10 is uploaded (RECEIVED) first, then everything starts at once.
  SDP_SERVER_URL=$conc_url "$agent" upload-batch --file "$r/tok10.csv" --client-id bank_demo \
    --processing-type risk_scoring --chunk-kb 64 --config "$cfg" >"$r/conc10.json"
  id10=$(batch_id_of "$r/conc10.json")
  pids=() names=()
  for i in $(seq 8); do reuse_tokens "$r/ser$i.csv" "$r/conc$i.csv"; done
  for x in a b; do reuse_tokens "$r/ser9.csv" "$r/conc9$x.csv"; done
  start=$(date +%s.%N)
  for i in $(seq 8); do
    agent_pb "$conc_url" "$r/raw$i.csv" "$r/conc$i.csv" "$r/vault$i.db" "$r/conc$i.log" &
    pids+=($!) names+=("agent on file $i")
  done
  for x in a b; do
    agent_pb "$conc_url" "$r/raw9.csv" "$r/conc9$x.csv" "$r/vault9.db" "$r/conc9$x.log" &
    pids+=($!) names+=("agent $x on file 9")
  done
  for x in a b; do
    sql_process sdp_e2e_conc "$id10" "$r/conc10$x.out" &
    pids+=($!) names+=("SQL session $x on batch $id10")
  done
  for k in "${!pids[@]}"; do
    rc=0
    wait "${pids[$k]}" || rc=$?
    ((rc == 124)) && fail "round $round: ${names[$k]} still running after ${deadline} s (deadlock or hang)"
    ((rc == 0)) || fail "round $round: ${names[$k]} exited $rc: $(cat "$r"/conc*.log "$r"/conc10?.out 2>/dev/null | grep -v '^{' | head -5)"
  done
  grep -L 'reusing the tokenized file' "$r"/conc[0-9]*.log | grep -q . &&
    fail "round $round: an agent tokenized again instead of uploading the serial run's tokens"
  conc_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  pass "round $round: 12 concurrent clients on 10 files of $rows rows ended, all exit 0 (serial ${serial_s} s, concurrent ${conc_s} s)"

  # Same results as the serial run, file by file.
  for i in $(seq 8); do
    cmp -s "$r/ser$i.csv" "$r/conc$i.csv" || fail "round $round: merged file $i differs from the serial run"
  done
  cmp -s "$r/ser9.csv" "$r/conc9a.csv" && cmp -s "$r/ser9.csv" "$r/conc9b.csv" ||
    fail "round $round: a merged file of the two agents on one file differs from the serial run"
  [[ $(batch_id_of "$r/conc9a.csv.json") == $(batch_id_of "$r/conc9b.csv.json") ]] ||
    fail "round $round: the two agents on one file used two batches"
  for x in a b; do
    [[ $(cat "$r/conc10$x.out") == "PROCESSED|$rows" ]] || fail "round $round: SQL session $x: $(cat "$r/conc10$x.out")"
  done
  [[ $(cat "$r/ser10.out") == "PROCESSED|$rows" ]] || fail "serial sdp_process_batch: $(cat "$r/ser10.out")"
  pass "round $round: merged files identical to the serial run; one batch for the two agents on one file"
  expected_batches=$((expected_batches + 10))
done

# Server side: no duplicate batch or result, everything processed, identical to the serial run.
for db in sdp_e2e_conc_ser sdp_e2e_conc; do
  got=$(psql -XAtq -d "$db" -F ' ' <<SQL
SELECT count(*),
       count(DISTINCT content_sha256),
       count(*) FILTER (WHERE status = 'PROCESSED' AND accepted_records = $rows AND processed_records = $rows),
       (SELECT count(*) FROM sdp.tokenized_record),
       (SELECT count(*) FROM sdp.processed_result),
       (SELECT count(*) FROM (SELECT DISTINCT batch_id, row_no FROM sdp.processed_result) d)
  FROM sdp.processing_batch
SQL
  )
  n=$((expected_batches * rows))
  [[ "$got" == "$expected_batches $expected_batches $expected_batches $n $n $n" ]] ||
    fail "$db: batches, distinct contents, processed, rows, results, distinct results = $got; expected $expected_batches x3, $n x3"
  psql -XAtq -d "$db" -c "COPY (SELECT b.content_sha256, b.client_id, b.status, b.accepted_records,
      b.processed_records, b.model_version, r.row_no, r.record_key, r.score, r.risk_band, r.model_version
    FROM sdp.processing_batch b JOIN sdp.processed_result r USING (batch_id)
    ORDER BY b.content_sha256, r.row_no) TO STDOUT" >"$w/$db.results"
done
[[ -s "$w/sdp_e2e_conc.results" ]] || fail "no results listed"
cmp -s "$w/sdp_e2e_conc_ser.results" "$w/sdp_e2e_conc.results" ||
  fail "server-side batches and results differ between the serial and the concurrent run"
pass "$expected_batches batches, $((expected_batches * rows)) results, no duplicate; server side identical to the serial run"

if [[ -n "${SDP_PG_LOG:-}" && -f "$SDP_PG_LOG" ]]; then
  if tail -c +"$((log_start + 1))" "$SDP_PG_LOG" | grep -q 'deadlock detected'; then
    fail "the server log reports a deadlock"
  fi
  pass "no deadlock in the server log"
fi
echo "$checks checks passed"
