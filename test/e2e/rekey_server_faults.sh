#!/usr/bin/env bash
# Key rotation on the server under faults (issue 21, 84_rekey.sql): pg_terminate_backend of a
# running sdp_rekey_apply at several points (its backend found active in pg_stat_activity, then
# terminated once it has written: no pg_sleep), two apply calls at once for one rotation, and
# re-runs to done. Afterwards every stored token is exactly its original token mapped once:
#   - FPE domain whose pairs form a cycle (each new token is another value's old token): a row
#     rewritten twice would hold its token mapped twice, which the check sees;
#   - HASH key column (records, results): no row holds a token from neither key;
# and the integrity MACs and the audit chain are clean.
#
# SDP_STRESS=1: more rows and more terminations.
source "$(dirname "$0")/lib.sh"
db=sdp_e2e_rekey_faults
e2e_database $db
if [[ "${SDP_STRESS:-0}" == 1 ]]; then
  rows=1000000 kills=6 slice=100000
else
  rows=48000 kills=2 slice=12000
fi
q() { psql -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

# ---- data under key 1: a HASH key column (domain customer_id) and an FPE column (domain acct) ---
q "SELECT sdp.sdp_create_client('rk_faults')" >/dev/null
q "SET client_min_messages = warning;
   SELECT accepted_records FROM sdp.sdp_ingest_csv('rk_faults', 'risk_scoring',
     (SELECT 'customer_id,age,income,balance,num_transactions,acct' || chr(10) ||
             string_agg('h' || translate(left(encode(sha256(convert_to('c' || (i % ($rows / 3)), 'UTF8')), 'base64'), 24), '+/', '-_')
                        || ',' || (20 + i % 60) || ',' || (i % 90000) || ',' || (i % 7000) || ',' || (i % 30)
                        || ',' || lpad((1000000000 + i % ($rows / 2))::text, 10, '0'), chr(10) ORDER BY i) || chr(10)
        FROM generate_series(1, $rows) i),
     'customer_id', NULL,
     '{\"customer_id\": {\"transform\": \"HASH\", \"domain\": \"customer_id\", \"key_version\": 1},
       \"acct\": {\"transform\": \"FPE\", \"domain\": \"acct\", \"key_version\": 1}}')" >/dev/null
batch=$(q "SELECT batch_id FROM sdp.processing_batch WHERE client_id = 'rk_faults'")
q "SELECT status FROM sdp.sdp_process_batch('$batch')" >/dev/null
# The rows as uploaded, to check the outcome against.
q "CREATE TABLE e2e_orig AS SELECT t.row_no, t.record_key, t.fields[6] AS acct,
          (SELECT r.record_key FROM sdp.processed_result r WHERE r.batch_id = t.batch_id AND r.row_no = t.row_no) AS result_key
     FROM sdp.tokenized_record t WHERE t.batch_id = '$batch'"
pass "$rows rows uploaded and scored under key 1"

# ---- one rotation: begin, every listed token paired, then apply under terminations ---------------
# $1 domain, $2 the SQL of the new token of old token `t` (for the pairs).
rid=""
begin_and_pair() {
  rid=$(q "SELECT sdp.sdp_rekey_begin('rk_faults', '$1', 1, 2, '0000beef') ->> 'rotation_id'")
  [[ $rid =~ ^[0-9a-f-]{36}$ ]] || fail "begin $1: $rid"
  # Every listed token, page by page (keyset: each page after the last token of the one before).
  q "CREATE TABLE e2e_tok_$1 (t text COLLATE \"C\" PRIMARY KEY)"
  q "DO \$\$ DECLARE a text; n int; BEGIN
       LOOP
         INSERT INTO e2e_tok_$1 SELECT x FROM sdp.sdp_rekey_tokens('$rid', a, 20000) x;
         GET DIAGNOSTICS n = ROW_COUNT;
         EXIT WHEN n = 0;
         SELECT max(t) INTO a FROM e2e_tok_$1;
       END LOOP; END \$\$"
  q "CREATE TABLE e2e_pairs_$1 AS
       SELECT t AS old_token, $2 AS new_token
         FROM (SELECT t, lead(t) OVER (ORDER BY t) AS next_t, first_value(t) OVER (ORDER BY t) AS first_t
                 FROM e2e_tok_$1) tok"
  local listed
  listed=$(q "SELECT count(*) FROM e2e_pairs_$1")
  (( listed > 0 )) || fail "no tokens listed for $1"
  q "SELECT sum((sdp.sdp_rekey_pairs('$rid', 'old_token,new_token' || chr(10) || c) ->> 'accepted')::bigint)
       FROM (SELECT string_agg(old_token || ',' || new_token, chr(10)) AS c
               FROM (SELECT p.*, row_number() OVER () AS n FROM e2e_pairs_$1 p) x GROUP BY (n - 1) / 40000) y" >/dev/null
  [[ $(q "SELECT pairs FROM sdp.key_rotation WHERE rotation_id = '$rid'") == "$listed" ]] || fail "$1: pairs not all stored"
  pass "$1: rotation begun, $listed tokens listed and paired"
}

# Starts an apply call and terminates it mid-way: a second session polls pg_stat_activity every
# 2 ms (inside the server: a psql per poll is slower than a slice on an idle machine) for the
# backend running sdp_rekey_apply once it has written (backend_xid set), lets it run $1 more
# polls, and terminates it. True when the kill landed (the call ended with the termination).
apply_killed() {
  local extra=$1 landed
  psql -XAtq -c "SELECT sdp.sdp_rekey_apply('$rid', $slice)" >"$e2e_work/apply.out" 2>"$e2e_work/apply.err" &
  local client=$!
  landed=$(q "SET client_min_messages = error;
    DO \$\$ DECLARE p int; i int; BEGIN
      FOR i IN 1 .. 15000 LOOP
        PERFORM pg_stat_clear_snapshot();  -- else the first read is kept for the transaction
        SELECT pid INTO p FROM pg_stat_activity WHERE datname = current_database()
           AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%sdp_rekey_apply%'
           AND backend_xid IS NOT NULL LIMIT 1;
        EXIT WHEN p IS NOT NULL;
        PERFORM pg_sleep(0.002);
      END LOOP;
      IF p IS NOT NULL THEN
        PERFORM pg_sleep(0.002 * $extra);
        PERFORM set_config('e2e.landed', pg_terminate_backend(p)::text, false);
      END IF;
    END \$\$;
    SELECT current_setting('e2e.landed', true)")
  wait $client || true
  [[ $landed == true ]] && grep -q 'terminat' "$e2e_work/apply.err"
}
apply_under_faults() {
  local killed=0 tries=0
  while ((killed < kills && tries < kills * 4)); do
    tries=$((tries + 1))
    if apply_killed $(((killed * 7) % 20)); then killed=$((killed + 1)); fi
    [[ $(q "SELECT state FROM sdp.key_rotation WHERE rotation_id = '$rid'") == applied ]] && break
  done
  ((killed > 0)) || fail "no apply call was terminated mid-way ($tries tries)"
  # Two calls at once for the same rotation: the rotation row lock runs them one after the other.
  psql -XAtq -c "SELECT sdp.sdp_rekey_apply('$rid', $slice)" >/dev/null &
  local other=$!
  q "SELECT sdp.sdp_rekey_apply('$rid', $slice)" >/dev/null
  wait $other || fail "concurrent apply failed"
  local out i
  for ((i = 0; i < 100; i++)); do
    out=$(q "SELECT sdp.sdp_rekey_apply('$rid', $slice)")
    [[ $out == *'"done" : true'* ]] && break
  done
  [[ $out == *'"unmapped" : 0'* && $out == *'"held" : 0'* ]] || fail "apply ended with $out"
  [[ $(q "SELECT sdp.sdp_rekey_finish('$rid') ->> 'state'") == finished ]] || fail "finish refused"
  pass "$1: $killed apply call(s) terminated mid-slice, two at once, re-run to done, finished"
}

# FPE: the pairs form a cycle over the listed tokens (each to the next, the last to the first), so
# every new token is also an old token.
begin_and_pair acct "coalesce(next_t, first_t)"
apply_under_faults acct
bad=$(q "SELECT count(*) FROM e2e_orig o JOIN sdp.tokenized_record t ON t.batch_id = '$batch' AND t.row_no = o.row_no
           LEFT JOIN e2e_pairs_acct p ON p.old_token = o.acct
          WHERE t.fields[6] IS DISTINCT FROM coalesce(p.new_token, o.acct)")
[[ $bad == 0 ]] || fail "acct: $bad row(s) not holding their token mapped exactly once"
pass "acct: every row holds its token mapped exactly once (none twice, none left)"

# HASH key column: version 2 tokens.
begin_and_pair customer_id "'h2' || substr(translate(encode(sha256(convert_to(t, 'UTF8')), 'base64'), '+/', '-_'), 1, 24)"
apply_under_faults customer_id
bad=$(q "SELECT count(*) FROM e2e_orig o JOIN sdp.tokenized_record t ON t.batch_id = '$batch' AND t.row_no = o.row_no
           LEFT JOIN e2e_pairs_customer_id p ON p.old_token = o.record_key
          WHERE t.record_key IS DISTINCT FROM p.new_token OR t.fields[1] IS DISTINCT FROM p.new_token")
[[ $bad == 0 ]] || fail "customer_id: $bad record(s) not holding the new token of their old one"
neither=$(q "SELECT count(*) FROM sdp.tokenized_record t WHERE t.batch_id = '$batch'
               AND NOT EXISTS (SELECT 1 FROM e2e_pairs_customer_id p WHERE t.record_key IN (p.old_token, p.new_token))")
[[ $neither == 0 ]] || fail "customer_id: $neither record(s) hold a token from neither key"
bad=$(q "SELECT count(*) FROM e2e_orig o JOIN sdp.processed_result r ON r.batch_id = '$batch' AND r.row_no = o.row_no
           LEFT JOIN e2e_pairs_customer_id p ON p.old_token = o.result_key
          WHERE r.record_key IS DISTINCT FROM p.new_token")
[[ $bad == 0 ]] || fail "customer_id: $bad result(s) not holding the new token of their old one"
pass "customer_id: every record and result holds the new token of its old one, none from neither key"

[[ $(q "SELECT count(*) FROM sdp.sdp_verify_integrity()") == 0 ]] || fail "integrity failures after the rotations"
[[ $(q "SELECT count(*) FROM sdp.sdp_audit_verify()") == 0 ]] || fail "audit chain broken"
[[ $(q "SELECT count(*) FROM sdp.domain_key_version WHERE client_id = 'rk_faults' AND key_version = 2") == 2 ]] ||
  fail "domain key versions not recorded"
pass "integrity MACs and audit chain clean; both domains at key version 2"
echo "rekey_server_faults: $checks checks passed"
