#!/usr/bin/env bash
# Upgrade path (issue 15): a database created at the frozen release 0.1.0 and brought to the
# current version with ALTER EXTENSION sdp UPDATE has exactly the catalog of a fresh
# CREATE EXTENSION sdp (functions with bodies, settings and privileges, tables, columns, indexes,
# constraints, triggers, policies, types, comments, init privileges: test/upgrade/catalog.sql),
# and a batch ingested and scored at 0.1.0 is still readable after the update. On a difference
# the diff of the two catalogs is printed: the upgrade script misses that change.
source "$(dirname "$0")/lib.sh"
w=$e2e_work
from_version=0.1.0
to_version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$repo/sdp.control")
db_updated=e2e_upgrade_updated
db_fresh=e2e_upgrade_fresh
drop_db() {
  PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
    >/dev/null 2>&1
}
e2e_at_exit "drop_db $db_updated; drop_db $db_fresh"
for db in "$db_updated" "$db_fresh"; do
  drop_db "$db"
  psql -XAtq -d postgres -c "CREATE DATABASE $db" || fail "CREATE DATABASE $db"
done
q() {  # q DB SQL: one value per line, errors fail the script
  psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# --- at 0.1.0: install the frozen release, ingest and score a batch -----------------------------
q "$db_updated" "SET client_min_messages = warning; CREATE EXTENSION sdp VERSION '$from_version'" ||
  fail "CREATE EXTENSION sdp VERSION '$from_version'"
[[ $(q "$db_updated" "SELECT extversion FROM pg_extension WHERE extname = 'sdp'") == "$from_version" ]] ||
  fail "installed version is not $from_version"
batch=$(q "$db_updated" "INSERT INTO sdp.api_client (client_id) VALUES ('upgrade_client');
  SELECT batch_id FROM sdp.sdp_ingest_csv('upgrade_client', 'risk_scoring',
    E'customer_id,age,income,balance,num_transactions\nC1,30,50000,1000,10\nC2,80,300000,90000,1\nC3,25,20000,100,200\n')" |
  tail -n 1)
[[ $batch =~ ^[0-9a-f-]{36}$ ]] || fail "ingest at $from_version returned no batch id: $batch"
q "$db_updated" "SELECT status FROM sdp.sdp_process_batch('$batch')" >/dev/null || fail "process at $from_version"
results_query="SELECT row_no, record_key, round(score::numeric, 9), risk_band, model_version
                 FROM sdp.sdp_results('$batch'::uuid) ORDER BY row_no"
q "$db_updated" "$results_query" >"$w/results_before"
[[ $(wc -l <"$w/results_before") == 3 ]] || fail "expected 3 results at $from_version: $(cat "$w/results_before")"
# The bug that made this release: at 0.1.0 the call with an untyped literal is read as a cast to
# the enum of the same name.
set +e
psql -XAtq -v ON_ERROR_STOP=1 -d "$db_updated" -c "SELECT * FROM sdp.sdp_batch_status('$batch')" \
  >/dev/null 2>"$w/err_010"
rc=$?
set -e
if ((rc == 0)) || ! grep -q 'invalid input value for enum' "$w/err_010"; then
  fail "at $from_version sdp_batch_status('<uuid>') was expected to hit the cast bug: $(cat "$w/err_010")"
fi
pass "$from_version installed from the frozen script; batch ingested and scored; the cast bug is there"

# --- update, and a fresh install of the current version ----------------------------------------
q "$db_updated" "SELECT 1 FROM pg_extension_update_paths('sdp')
                 WHERE source = '$from_version' AND target = '$to_version' AND path IS NOT NULL" |
  grep -qx 1 || fail "no update path $from_version -> $to_version"
q "$db_updated" "SET client_min_messages = warning; ALTER EXTENSION sdp UPDATE" >"$w/update.log" 2>&1 ||
  fail "ALTER EXTENSION sdp UPDATE: $(cat "$w/update.log")"
[[ $(q "$db_updated" "SELECT extversion FROM pg_extension WHERE extname = 'sdp'") == "$to_version" ]] ||
  fail "version after ALTER EXTENSION sdp UPDATE is not $to_version"
q "$db_fresh" "SET client_min_messages = warning; CREATE EXTENSION sdp" >/dev/null || fail "CREATE EXTENSION sdp"
pass "ALTER EXTENSION sdp UPDATE $from_version -> $to_version; fresh $to_version installed"

# --- the two catalogs are the same --------------------------------------------------------------
for db in "$db_updated" "$db_fresh"; do
  psql -X -q -d "$db" -f "$repo/test/upgrade/catalog.sql" >"$w/catalog.$db" 2>"$w/catalog.$db.err" ||
    fail "catalog of $db: $(cat "$w/catalog.$db.err")"
done
lines=$(wc -l <"$w/catalog.$db_fresh")
((lines > 1000)) || fail "catalog of the fresh install has only $lines lines"
grep -q '^sdp.processing_batch | column' "$w/catalog.$db_fresh" || fail "catalog lists no columns"
if ! diff -u --label "ALTER EXTENSION sdp UPDATE from $from_version" --label "CREATE EXTENSION sdp ($to_version)" \
  "$w/catalog.$db_updated" "$w/catalog.$db_fresh" >"$w/catalog.diff"; then
  head -n 300 "$w/catalog.diff"
  fail "the updated catalog differs from a fresh install ($(grep -c '^[-+][^-+]' "$w/catalog.diff") lines; - updated, + fresh): extend src/extension/sdp--$from_version--$to_version.sql"
fi
pass "updated catalog = fresh catalog ($lines lines)"

# --- the data of 0.1.0 after the update -----------------------------------------------------------
q "$db_updated" "$results_query" >"$w/results_after"
cmp -s "$w/results_before" "$w/results_after" ||
  fail "results changed across the update: $(diff "$w/results_before" "$w/results_after")"
[[ $(q "$db_updated" "SELECT status || ' ' || accepted_records FROM sdp.sdp_batch_status('$batch')") == "PROCESSED 3" ]] ||
  fail "sdp_batch_status('<uuid>') after the update"
[[ $(q "$db_updated" "SELECT pg_typeof(status) FROM sdp.processing_batch WHERE batch_id = '$batch'") == sdp.batch_state ]] ||
  fail "processing_batch.status is not sdp.batch_state after the update"
[[ $(q "$db_updated" "SELECT sdp.sdp_ready() ->> 'schema_version' = sdp.sdp_ready() ->> 'library_version'") == t ]] ||
  fail "schema and library versions differ after the update"
pass "batch of $from_version readable after the update (same results; sdp_batch_status('<uuid>') works)"

echo "upgrade: $checks checks passed"
