#!/usr/bin/env bash
# Reads that try to leave no trace (issue 16, item 7), checked in the server log:
#   - a staff login behind SET ROLE sdp_admin reads records and results in a transaction it then
#     rolls back: no access_log row survives, but each read left a server-log line naming the
#     role, the login, the action and the batch;
#   - the same under READ ONLY (PostgREST GET), where no row can be written at all;
#   - reading the record/result tables directly (skipping the functions) is refused, for staff and
#     for an authenticated client, and the refusal is in the server log too;
#   - sdp_batch_abort under a legal hold is refused and logged, and the staged rows stay.
# Needs test/with_pg.sh (SDP_PG_LOG: the cluster's log file).
source "$(dirname "$0")/lib.sh"
[[ -n "${SDP_PG_LOG:-}" && -f "$SDP_PG_LOG" ]] || fail "SDP_PG_LOG not set: run inside test/with_pg.sh"

e2e_database sdp_e2e_read_trace
person=sdp_e2e_trace_alice
client_login=sdp_e2e_trace_client
key=e2e-read-trace-key-0123456789abcdef0123456789
drop_roles() {
  PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres \
    -c "DROP DATABASE IF EXISTS sdp_e2e_read_trace WITH (FORCE)" \
    -c "DROP ROLE IF EXISTS $person, $client_login" >/dev/null 2>&1 || true
}
e2e_at_exit drop_roles
psql -XAtq -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE $person LOGIN IN ROLE sdp_admin" \
  -c "CREATE ROLE $client_login LOGIN IN ROLE sdp_client" \
  -c "SELECT sdp.sdp_create_client('trace_bank', '$key')" >/dev/null
csv=$'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,50,80000,20000,40\nc3,41,61000,3000,12\n'
batch=$(psql -XAtq -v ON_ERROR_STOP=1 -v csv="$csv" \
  <<<"SELECT (sdp.sdp_ingest_csv('trace_bank', 'risk_scoring', :'csv')).batch_id")
[[ $batch =~ ^[0-9a-f-]{36}$ ]] || fail "upload: no batch id ($batch)"
psql -XAtq -v ON_ERROR_STOP=1 -c "SELECT sdp.sdp_process_batch('$batch')" >/dev/null

log_from=$(stat -c %s "$SDP_PG_LOG")
new_log() { tail -c +"$((log_from + 1))" "$SDP_PG_LOG"; }
# The server writes its log as it goes; give a line a moment to reach the file.
log_has() {
  local i
  for ((i = 0; i < 50; i++)); do
    new_log | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  return 1
}

# 1. Read, then roll back: the access_log row goes with the transaction, the log line does not.
out=$(psql -XAtq -v ON_ERROR_STOP=1 <<SQL
SET SESSION AUTHORIZATION $person;
SET ROLE sdp_admin;
BEGIN;
SELECT count(*) FROM sdp.sdp_records('$batch');
SELECT count(*) FROM sdp.sdp_results('$batch');
SELECT length(sdp.sdp_results_csv('$batch')) > 0;
ROLLBACK;
SQL
)
[[ $out == $'3\n3\nt' ]] || fail "rolled-back reads did not answer: $out"
[[ $(psql -XAtq -c "SELECT count(*) FROM sdp.access_log WHERE target = '$batch'") == 0 ]] ||
  fail "an access_log row survived the rollback (the test assumes it cannot)"
for action in records results results_csv; do
  log_has "sdp access: role=sdp_admin login=$person client=- action=$action target=$batch outcome=allowed rows=3" ||
    fail "no server-log line for the rolled-back $action read: $(new_log | grep 'sdp access' | tail -n 5)"
done
pass "rolled-back reads (records, results, results_csv) each left a server-log line naming role and login"

# 2. READ ONLY, as PostgREST runs a GET: no row can be written; the line is still there.
log_from=$(stat -c %s "$SDP_PG_LOG")
out=$(psql -XAtq -v ON_ERROR_STOP=1 <<SQL
SET SESSION AUTHORIZATION $client_login;
BEGIN READ ONLY;
SELECT sdp.sdp_authenticate('$key');
SELECT count(*) FROM sdp.sdp_results('$batch');
COMMIT;
SQL
)
[[ $out == $'trace_bank\n3' ]] || fail "READ ONLY read did not answer: $out"
log_has "sdp access: role=$client_login login=$client_login client=trace_bank action=results target=$batch outcome=allowed rows=3" ||
  fail "no server-log line for the READ ONLY read: $(new_log | tail -n 5)"
pass "a READ ONLY read by an authenticated client left a server-log line"

# 3. Direct reads of the tables, which would skip the access log and the integrity check.
log_from=$(stat -c %s "$SDP_PG_LOG")
for table in tokenized_record processed_result record_version; do
  if psql -XAtq -v ON_ERROR_STOP=1 -c "SET SESSION AUTHORIZATION $person" -c "SET ROLE sdp_admin" \
    -c "SELECT count(*) FROM sdp.$table" >"$e2e_work/out" 2>"$e2e_work/err"; then
    fail "sdp_admin read sdp.$table directly: $(cat "$e2e_work/out")"
  fi
  grep -qF "permission denied for table $table" "$e2e_work/err" || fail "direct read of $table: $(cat "$e2e_work/err")"
  log_has "permission denied for table $table" || fail "refused direct read of $table is not in the server log"
done
if psql -XAtq -v ON_ERROR_STOP=1 -c "SET SESSION AUTHORIZATION $client_login" \
  -c "BEGIN" -c "SELECT sdp.sdp_authenticate('$key')" -c "SELECT count(*) FROM sdp.processed_result" \
  >"$e2e_work/out" 2>"$e2e_work/err"; then
  fail "an authenticated client read sdp.processed_result directly: $(cat "$e2e_work/out")"
fi
grep -qF "permission denied for table processed_result" "$e2e_work/err" || fail "client direct read: $(cat "$e2e_work/err")"
pass "direct SELECT on record/result/version tables refused (staff and client) and logged"

# 4. A client under legal hold tries to delete its staged rows by aborting the upload.
staged=$(psql -XAtq -v ON_ERROR_STOP=1 -v csv="$csv" <<'SQL' | tail -n 1
SET SESSION AUTHORIZATION sdp_e2e_trace_client;
BEGIN;
SELECT sdp.sdp_authenticate('e2e-read-trace-key-0123456789abcdef0123456789') IS NOT NULL AS ok \gset
SELECT (sdp.sdp_batch_open('trace_bank', 'risk_scoring')).batch_id AS staged \gset
SELECT sdp.sdp_batch_append(:'staged', 0, :'csv', encode(sha256(convert_to(:'csv', 'UTF8')), 'hex')) AS rows \gset
COMMIT;
SELECT :'staged';
SQL
)
[[ $staged =~ ^[0-9a-f-]{36}$ ]] || fail "chunked upload: no batch id ($staged)"
psql -XAtq -v ON_ERROR_STOP=1 -c "SELECT sdp.sdp_legal_hold('trace_bank', NULL, 'e2e hold')" >/dev/null
log_from=$(stat -c %s "$SDP_PG_LOG")
if psql -XAtq -v ON_ERROR_STOP=1 -c "SET SESSION AUTHORIZATION $client_login" -c "BEGIN" \
  -c "SELECT sdp.sdp_authenticate('$key')" -c "SELECT sdp.sdp_batch_abort('$staged')" \
  >"$e2e_work/out" 2>"$e2e_work/err"; then
  fail "sdp_batch_abort under legal hold succeeded: $(cat "$e2e_work/out")"
fi
grep -qF "is under legal hold: its staged rows cannot be deleted" "$e2e_work/err" ||
  fail "abort under hold: $(cat "$e2e_work/err")"
[[ $(psql -XAtq -c "SELECT status || ' ' || accepted_records || ' ' || (SELECT count(*) FROM sdp.tokenized_record r WHERE r.batch_id = b.batch_id) FROM sdp.processing_batch b WHERE batch_id = '$staged'") == "UPLOADING 3 3" ]] ||
  fail "the held batch's staged rows changed"
log_has "sdp abort refused: batch $staged is under legal hold (role=$client_login login=$client_login)" ||
  fail "refused abort is not in the server log"
pass "sdp_batch_abort under legal hold refused, logged, rows kept"
psql -XAtq -c "SELECT sdp.sdp_release_hold('trace_bank')" >/dev/null

echo "read_trace: $checks checks passed"
