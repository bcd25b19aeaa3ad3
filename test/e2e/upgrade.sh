#!/usr/bin/env bash
# Upgrade path (issue 15): a database created at the frozen release 0.1.0 and brought to the
# current version with ALTER EXTENSION sdp UPDATE has exactly the catalog of a fresh
# CREATE EXTENSION sdp (functions with bodies, settings and privileges, tables, columns, indexes,
# constraints, triggers, policies, types, comments, init privileges: test/upgrade/catalog.sql),
# and the data of 0.1.0 survives it: a batch ingested and scored then reads back the same and
# passes the integrity check, the audit chain verifies with new entries appended, stored key
# prefixes are cut to 0.2.0's length. Every C symbol 0.1.0 declares keeps its SQL signature (one
# sdp.so serves both). On a catalog difference the diff is printed: the upgrade script misses
# that change (SDP_UPGRADE_DIFF=file keeps all of it; docs/releases.md).
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
# A client with an API key: 0.1.0 kept 8 characters of the key as key_prefix (4 of them random),
# 0.2.0 keeps 6; the update must cut the stored ones too.
api_key=$(q "$db_updated" "SELECT sdp.sdp_create_client('upgrade_keyed')")
[[ $(q "$db_updated" "SELECT key_prefix FROM sdp.api_client WHERE client_id = 'upgrade_keyed'") == "${api_key:0:8}" ]] ||
  fail "key_prefix at $from_version is not the key's first 8 characters"
# Audit entries of 0.1.0 (client.create, batch.upload, ...): hashed without a login, which 0.2.0
# records; the chain must still verify after the update.
audit_before=$(q "$db_updated" "SELECT count(*) FROM sdp.audit_log")
((audit_before >= 2)) || fail "expected audit entries at $from_version, found $audit_before"
[[ $(q "$db_updated" "SELECT count(*) FROM sdp.sdp_audit_verify()") == 0 ]] || fail "audit chain broken at $from_version"
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

# One sdp.so serves every version: the C functions that $from_version declares call the same
# symbols in it. A symbol whose SQL signature changed would be called with arguments of the old
# shape (docs/style.md 11: a changed C signature gets a new symbol).
c_signatures="SELECT p.prosrc || ' (' || pg_catalog.array_to_string(p.proargtypes::pg_catalog.regtype[], ', ') || ') -> '
                || CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END || p.prorettype::pg_catalog.regtype::text
                FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
               WHERE l.lanname = 'c' AND p.pronamespace::pg_catalog.regnamespace::text IN ('sdp', 'sdp_api')
               ORDER BY 1"
q "$db_updated" "$c_signatures" | sed 's/sdp\.sdp_batch_status/sdp.batch_state/g' >"$w/c_before"

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

q "$db_fresh" "$c_signatures" >"$w/c_fresh"
# Symbols in both versions, with a different signature (the enum renamed in 0.2.0 is one type).
changed_c=$(awk 'NR == FNR { sig[$1] = $0; next } ($1 in sig) && sig[$1] != $0 { print sig[$1] "  =>  " $0 }' \
  "$w/c_before" "$w/c_fresh")
[[ -z "$changed_c" ]] || fail "C symbols whose SQL signature changed since $from_version (give them new symbols): $changed_c"
[[ $(wc -l <"$w/c_fresh") -ge 20 ]] || fail "expected the C functions of $to_version, found $(wc -l <"$w/c_fresh")"
pass "every C symbol of $from_version keeps its signature in $to_version"

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
[[ $(q "$db_updated" "SELECT key_prefix FROM sdp.api_client WHERE client_id = 'upgrade_keyed'") == "${api_key:0:6}" ]] ||
  fail "key_prefix stored at $from_version still shows more than 6 characters of the key after the update"
[[ $(q "$db_updated" "SELECT sdp.sdp_authenticate('$api_key', 'upgrade_keyed')") == upgrade_keyed ]] ||
  fail "the key of $from_version no longer authenticates after the update"
[[ $(q "$db_updated" "SELECT count(*) FROM sdp.sdp_verify_integrity()") == 0 ]] ||
  fail "integrity check of the $from_version data after the update: $(q "$db_updated" "SELECT * FROM sdp.sdp_verify_integrity()")"
pass "batch of $from_version readable after the update (same results; sdp_batch_status('<uuid>') works)"

# The audit chain of 0.1.0 verifies after the update; its entries have login '' (not recorded);
# an entry appended after the update names the login and the chain still verifies, also against
# an exported head.
[[ $(q "$db_updated" "SELECT count(*) FROM sdp.sdp_audit_verify()") == 0 ]] ||
  fail "audit chain broken after the update: $(q "$db_updated" "SELECT * FROM sdp.sdp_audit_verify()")"
[[ $(q "$db_updated" "SELECT count(*) FROM sdp.audit_log WHERE login = ''") == "$audit_before" ]] ||
  fail "entries of $from_version should have login ''"
q "$db_updated" "SELECT sdp.sdp_create_client('upgrade_client_2')" >/dev/null || fail "audited action after the update"
[[ $(q "$db_updated" "SELECT login FROM sdp.audit_log ORDER BY seq DESC LIMIT 1") == postgres ]] ||
  fail "entry after the update does not name its login"
[[ $(q "$db_updated" "SELECT count(*) FROM sdp.sdp_audit_head() h, LATERAL sdp.sdp_audit_verify_head(h.seq, h.entry_hash)") == 0 ]] ||
  fail "audit chain with old and new entries does not verify after the update"
pass "audit chain of $from_version verifies after the update, with new entries appended"


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
  # The whole diff, for writing the upgrade script: SDP_UPGRADE_DIFF=/path/file.
  [[ -n "${SDP_UPGRADE_DIFF:-}" ]] && cp "$w/catalog.diff" "$SDP_UPGRADE_DIFF"
  fail "the updated catalog differs from a fresh install ($(grep -c '^[-+][^-+]' "$w/catalog.diff") lines; - updated, + fresh): extend src/extension/sdp--$from_version--$to_version.sql"
fi
pass "updated catalog = fresh catalog ($lines lines)"

echo "upgrade: $checks checks passed"
