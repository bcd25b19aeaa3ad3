#!/usr/bin/env bash
# Key rotation (issue 21) end to end over libpq: three batches uploaded under key 1, rotated to
# key 2 by `sdp-agent rotate-tokens` with kill -9 of the agent at four points (after begin,
# during the pairs upload, during apply, before the vault re-key), a fourth batch under key 2.
# Then: a SQL join on the customer token between every old batch and the new one finds exactly
# the customers the raw files share; at every stop no stored token is from neither key;
# sdp_verify_integrity and sdp_audit_verify are clean; nothing the server received (pairs table,
# server log with log_statement = 'all' and bind parameters) holds a key or a raw value. And the
# refusals: wrong old key, missing vault entries, a RANDOM domain; a legal hold does not stop it.
source "$(dirname "$0")/lib.sh"
e2e_database sdp_e2e_rekey
psql -XAtq -c "ALTER DATABASE sdp_e2e_rekey SET sdp.env = 'dev'" \
  -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
cd "$w"
cfg="$repo/configs/customers_tokenization.yml"
scan="$repo/test/e2e/pii_scan.py"
KEY1=$SDP_CRYPTO_KEY
export KEY1

# ---- key ring: the key in use becomes version 1, a new one version 2 -----------------------------
export SDP_KEY_RING="$w/ring.json"
"$agent" keygen --ring "$SDP_KEY_RING" >"$w/key2" 2>"$w/keygen.err" || fail "keygen --ring: $(cat "$w/keygen.err")"
KEY2=$(cat "$w/key2")
export KEY2
[[ $(stat -c %a "$SDP_KEY_RING") == 600 ]] || fail "ring mode $(stat -c %a "$SDP_KEY_RING")"
python3 - "$SDP_KEY_RING" <<'PY' || fail "ring content"
import json, os, sys
ring = json.load(open(sys.argv[1]))
keys = {k["version"]: k for k in ring["keys"]}
assert sorted(keys) == [1, 2], keys.keys()
assert keys[1]["key"].rstrip("=") == os.environ["KEY1"].rstrip("="), "version 1 is not the old key"
assert keys[2]["key"].rstrip("=") == os.environ["KEY2"].rstrip("="), "version 2 is not the new key"
assert keys[1]["retired"] is None and keys[2]["retired"] is None
PY
grep -qF "$KEY2" "$w/keygen.err" && fail "keygen printed the key on stderr"
pass "keygen --ring: SDP_CRYPTO_KEY is version 1, the new key (stdout only) version 2, ring 0600"

# ---- data: four files of one population with known overlaps -----------------------------------
python3 "$repo/bench/gen_customers.py" 2400 "$w/all.csv" --seed 2121 >/dev/null
python3 - "$w" <<'PY'
import csv, sys
w = sys.argv[1]
rows = list(csv.reader(open(f"{w}/all.csv", newline="", encoding="utf-8")))
header, data = rows[0], rows[1:]
parts = {1: data[0:900], 2: data[600:1500], 3: data[1200:2100],
         4: data[700:800] + data[1400:1460] + data[2050:2400],
         5: data[100:200] + data[2050:2100]}  # the stale agent's batch, after the rotation
for i, part in parts.items():
    with open(f"{w}/b{i}.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([header] + part)
PY

# Server log from here on: every statement with its bind parameters (reset on any exit).
log_settings() {
  psql -XAtq -d postgres -c "ALTER SYSTEM $1 log_statement$2" \
    -c "ALTER SYSTEM $1 log_parameter_max_length$3" -c "SELECT pg_reload_conf()" >/dev/null
}
e2e_at_exit 'log_settings RESET "" ""'
log_start=$(stat -c %s "$SDP_PG_LOG")
log_settings SET " = 'all'" " = -1"

upload() {  # $1: batch number; under whatever SDP_CRYPTO_KEY is
  "$agent" process-batch --raw-input "$w/b$1.csv" --output "$w/m$1.csv" --config "$cfg" \
    --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring \
    --use-dev-processor --chunk-kb 64 >"$w/s$1.json" 2>"$w/s$1.err" ||
    fail "process-batch b$1: $(tail -2 "$w/s$1.err")"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$w/s$1.json"
}
b1=$(upload 1)
b2=$(upload 2)
b3=$(upload 3)
[[ $(psql -XAtc "SELECT count(*) FROM sdp.tokenized_record WHERE length(record_key) <> 25") == 0 ]] ||
  fail "key 1 tokens are not version 1 tokens (h + 24)"
[[ $(psql -XAtc "SELECT count(DISTINCT key_version) || ':' || min(key_version) FROM sdp.batch_column_key") == "1:1" ]] ||
  fail "the manifest's key_version was not stored as 1"
pass "3 batches uploaded under key 1: version 1 tokens, key_version 1 in each batch's manifest"

# Tokens of every customer under each key (tokenize-config of the whole population, scratch vault).
"$agent" tokenize-config --input "$w/all.csv" --output "$w/all1.csv" --config "$cfg" \
  --vault "$w/scratch1.db" >/dev/null 2>&1 || fail "tokenize under key 1"
SDP_CRYPTO_KEY=$KEY2 "$agent" tokenize-config --input "$w/all.csv" --output "$w/all2.csv" \
  --config "$cfg" --vault "$w/scratch2.db" >/dev/null 2>&1 || fail "tokenize under key 2"
python3 - "$w" <<'PY'
import csv, sys
w = sys.argv[1]
with open(f"{w}/known_tokens.txt", "w") as out:
    for name in ("all1.csv", "all2.csv"):
        for r in csv.DictReader(open(f"{w}/{name}", newline="", encoding="utf-8")):
            for col in ("customer_id", "email", "ssn", "card_number", "iban"):
                out.write(r[col] + "\n")
PY
psql -XAtq -c "CREATE TABLE public.known_token (t text)" \
  -c "\\copy public.known_token FROM '$w/known_tokens.txt' WITH (FORMAT text)" \
  -c "CREATE INDEX ON public.known_token (t)" >/dev/null
# Every stored token of the rotated columns is one of key 1 or key 2, and within a row the record
# key and the customer_id field are the same token (a row is rewritten whole).
no_foreign_tokens() {
  local bad
  bad=$(psql -XAtq <<'SQL'
SELECT count(*) FROM sdp.tokenized_record t
  JOIN sdp.processing_batch b USING (batch_id)
 CROSS JOIN LATERAL unnest(ARRAY['customer_id', 'email', 'ssn', 'card_number', 'iban']) AS c(name)
 WHERE NOT EXISTS (SELECT 1 FROM public.known_token k
                    WHERE k.t = t.fields[array_position(b.columns, c.name)])
    OR t.record_key <> t.fields[array_position(b.columns, 'customer_id')]
    OR NOT EXISTS (SELECT 1 FROM public.known_token k WHERE k.t = t.record_key);
SQL
)
  local bad_results
  bad_results=$(psql -XAtc "SELECT count(*) FROM sdp.processed_result r WHERE NOT EXISTS (SELECT 1 FROM public.known_token k WHERE k.t = r.record_key)")
  [[ $bad == 0 && $bad_results == 0 ]] || fail "$1: $bad stored rows and $bad_results results hold a token of neither key"
}
no_foreign_tokens "before the rotation"

rotate_args=(rotate-tokens --config "$cfg" --client-id bank_demo --from-key-env KEY1 --vault "$w/vault.db"
  --page-tokens 400 --apply-rows 300)

# ---- refusals first (nothing changes on the server) ---------------------------------------------
export SDP_CRYPTO_KEY=$KEY2
expect_exit 2 "${rotate_args[@]}" --domain customers.last_name
expect_one_error_line "not deterministic"
code=$(psql -XAtq -v ON_ERROR_STOP=0 -c "\\set VERBOSITY sqlstate" \
  -c "SELECT sdp.sdp_rekey_begin('bank_demo', 'customers.last_name', 1, 2, '0123abcd')" 2>&1 | tail -1 || true)
[[ $code == *22023* ]] || fail "server accepted a RANDOM domain's rotation: $code"
pass "a RANDOM domain is refused: by the agent (exit 2, not deterministic) and by sdp_rekey_begin (22023)"

KEYX=$("$agent" keygen)
export KEYX
expect_exit 3 rotate-tokens --config "$cfg" --client-id bank_demo --from-key-env KEYX --vault "$w/vault.db"
expect_one_error_line "is not in key ring"
SDP_CRYPTO_KEY=$KEYX "$agent" keygen --ring "$w/ring_wrong.json" --import 2>/dev/null
SDP_CRYPTO_KEY=$KEY2 "$agent" keygen --ring "$w/ring_wrong.json" --import 2>/dev/null
SDP_KEY_RING="$w/ring_wrong.json" expect_exit 3 rotate-tokens --config "$cfg" --client-id bank_demo \
  --from-key-env KEYX --vault "$w/vault.db" --journal "$w/wrong.journal"
expect_one_error_line "wrong old key"
grep -qF "$KEYX" "$w/err" && fail "the wrong key is in the error"
pass "wrong old key: not in the ring (exit 3), or in a ring but not the vault's key (exit 3, names both key ids)"

# A vault without the batches' entries: counted, the domain named, the fix given.
SDP_CRYPTO_KEY=$KEY1 "$agent" tokenize-config --input "$w/b4.csv" --output "$w/other.csv" \
  --config "$cfg" --vault "$w/empty.db" >/dev/null 2>&1
sqlite3 "$w/empty.db" "DELETE FROM vault_entry" 2>/dev/null || fail "cannot empty the scratch vault"
SDP_KEY_RING="$w/ring.json" expect_exit 1 rotate-tokens --config "$cfg" --client-id bank_demo \
  --from-key-env KEY1 --vault "$w/empty.db" --journal "$w/missing.journal"
expect_error_line "of domain 'customer_id' stored on the server are not in vault"
expect_error_line "fix: pass --vault"
no_foreign_tokens "after the missing-vault refusal"
pass "missing vault entries: $(grep -o '[0-9]* token(s) of domain [^ ]*' "$w/err"), nothing rewritten"

# ---- the rotation, under a legal hold, killed four times -----------------------------------------
psql -XAtq -c "SELECT sdp.sdp_legal_hold('bank_demo', NULL::uuid, 'e2e: rotation under hold')" >/dev/null ||
  fail "cannot set a legal hold"
# Runs the rotation until its stderr shows event $1, then kill -9.
run_until() {
  local event=$1 deadline=$((SECONDS + 60))
  "$agent" --log-level debug "${rotate_args[@]}" >"$w/rot.out" 2>"$w/rot.err" &
  local pid=$!
  until grep -q "\"event\":\"$event\"" "$w/rot.err" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || fail "rotate-tokens ended before $event: $(tail -3 "$w/rot.err")"
    ((SECONDS < deadline)) || { kill -9 "$pid"; fail "no $event within 60 s"; }
    sleep 0.01
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  no_foreign_tokens "after kill -9 at $event"
}
run_until rotate_begin
run_until rotate_pairs
run_until rotate_apply
run_until rotate_vault_rekey
"$agent" "${rotate_args[@]}" >"$w/rot.out" 2>"$w/rot.err" || fail "the re-run did not complete: $(tail -3 "$w/rot.err")"
no_foreign_tokens "after the rotation"
python3 - "$w/rot.out" "$SDP_KEY_RING" <<'PY' || fail "rotation report or ring: $(cat "$w/rot.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["from_version"] == 1 and r["to_version"] == 2, r
assert r["old_key_retired"] is True, r
ring = {k["version"]: k for k in json.load(open(sys.argv[2]))["keys"]}
assert ring[1]["retired"] is not None and ring[2]["retired"] is None, ring
PY
[[ $(psql -XAtc "SELECT count(*) FROM sdp.tokenized_record WHERE length(record_key) <> 26 OR substr(record_key, 2, 1) <> '2'") == 0 ]] ||
  fail "rows still hold version 1 customer tokens"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processed_result WHERE substr(record_key, 2, 1) <> '2'") == 0 ]] ||
  fail "results still hold version 1 keys"
[[ $(psql -XAtc "SELECT string_agg(domain || '=' || key_version, ',' ORDER BY domain) FROM sdp.domain_key_version") == \
   "customer_id=2,customers.card_number=2,customers.iban=2,customers.ssn=2,email=2" ]] ||
  fail "domain key versions: $(psql -XAtc "SELECT string_agg(domain || '=' || key_version, ',') FROM sdp.domain_key_version")"
[[ ! -e "$w/sdp-rotate-bank_demo.journal" ]] || fail "the journal is left after completion"
pass "rotation under legal hold, killed after begin, during pairs, during apply and before the vault re-key: the re-run completed, every row and result on key 2, old key retired in the ring"

# The vault is under key 2 and knows both tokens of a customer; key 1 no longer opens it.
SDP_CRYPTO_KEY=$KEY1 expect_exit 1 vault stats --vault "$w/vault.db"
"$agent" vault verify --vault "$w/vault.db" >"$w/verify.json" 2>&1 || fail "vault verify: $(cat "$w/verify.json")"
pass "vault re-keyed to key 2 (key 1 refused, verify clean)"

# ---- a batch under key 2, and the joins -----------------------------------------------------------
b4=$(upload 4)
psql -XAtq -c "SELECT sdp.sdp_release_hold('bank_demo')" >/dev/null
python3 - "$w" "$b1" "$b2" "$b3" "$b4" <<'PY' >"$w/expected_joins.txt"
import csv, sys
w = sys.argv[1]
ids = {i: {r["customer_id"] for r in csv.DictReader(open(f"{w}/b{i}.csv", newline="", encoding="utf-8"))}
       for i in (1, 2, 3, 4)}
for i, batch in zip((1, 2, 3), sys.argv[2:5]):
    print(f"{batch}|{len(ids[i] & ids[4])}")
PY
psql -XAt -c "
SELECT o.batch_id, count(DISTINCT o.record_key)
  FROM sdp.tokenized_record o JOIN sdp.tokenized_record n ON n.record_key = o.record_key
 WHERE o.batch_id IN ('$b1', '$b2', '$b3') AND n.batch_id = '$b4'
 GROUP BY o.batch_id ORDER BY array_position(ARRAY['$b1', '$b2', '$b3']::uuid[], o.batch_id)" >"$w/joins.txt"
diff "$w/expected_joins.txt" "$w/joins.txt" >/dev/null ||
  fail "joins differ from the raw files: expected $(tr '\n' ' ' <"$w/expected_joins.txt"), got $(tr '\n' ' ' <"$w/joins.txt")"
[[ $(awk -F'|' '{s += $2} END {print s}' "$w/joins.txt") -gt 0 ]] || fail "no shared customers at all"
pass "join on the customer token, every old batch x the new one: $(tr '\n' ' ' <"$w/joins.txt"| sed 's/[0-9a-f-]\{36\}|//g') shared customers, as in the raw files"

# ---- a stale agent: a batch under the retired key after the rotation finished ----------------------
# An agent that never got key 2 (its own vault, no ring) uploads under key 1. Its rows are stored
# under key version 1 again; a re-run of rotate-tokens sees them (stored_versions) and rotates
# them in a new rotation, so they join with the key 2 batch like every other old batch.
b5=$(SDP_CRYPTO_KEY=$KEY1 env -u SDP_KEY_RING "$agent" process-batch --raw-input "$w/b5.csv" \
  --output "$w/m5.csv" --config "$cfg" --vault "$w/stale_vault.db" --client-id bank_demo \
  --processing-type risk_scoring --use-dev-processor --chunk-kb 64 2>"$w/s5.err" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["batch_id"])') ||
  fail "stale agent's process-batch: $(tail -2 "$w/s5.err")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.tokenized_record WHERE batch_id = '$b5' AND length(record_key) = 25") == 150 ]] ||
  fail "the stale agent's batch is not 150 rows of version 1 tokens"
"$agent" "${rotate_args[@]}" >"$w/rot5.out" 2>"$w/rot5.err" || fail "re-run after the stale upload: $(tail -3 "$w/rot5.err")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.tokenized_record WHERE substr(record_key, 2, 1) <> '2' OR length(record_key) <> 26") == 0 ]] ||
  fail "the stale agent's rows were not rotated: $(psql -XAtc "SELECT batch_id, count(*) FROM sdp.tokenized_record WHERE length(record_key) <> 26 GROUP BY 1")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.key_rotation WHERE domain = 'customer_id' AND state = 'finished'") == 2 ]] ||
  fail "expected a second finished rotation of customer_id"
shared=$(psql -XAtc "SELECT count(DISTINCT o.record_key) FROM sdp.tokenized_record o
  JOIN sdp.tokenized_record n ON n.record_key = o.record_key WHERE o.batch_id = '$b5' AND n.batch_id = '$b4'")
[[ $shared == 50 ]] || fail "stale batch x key 2 batch: $shared shared customers, expected 50 (raw files)"
no_foreign_tokens "after the stale agent's batch was rotated"
pass "a batch uploaded under the retired key after the rotation: the re-run rotates it in a new rotation; it joins with the key 2 batch (50 shared, as in the raw files)"

# ---- integrity, audit chain, leak scan ------------------------------------------------------------
[[ $(psql -XAtc "SELECT count(*) FROM sdp.sdp_verify_integrity()") == 0 ]] ||
  fail "integrity: $(psql -XAtc "SELECT * FROM sdp.sdp_verify_integrity() LIMIT 5")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.sdp_audit_verify()") == 0 ]] ||
  fail "audit chain: $(psql -XAtc "SELECT * FROM sdp.sdp_audit_verify() LIMIT 5")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.audit_log WHERE event LIKE 'rekey.%'") -gt 0 ]] ||
  fail "no rekey step audited"
pass "sdp_verify_integrity clean, sdp_audit_verify clean, rotation steps audited"

log_settings RESET "" ""
tail -c +"$((log_start + 1))" "$SDP_PG_LOG" >"$w/server.log"
psql -XAtc "COPY (SELECT * FROM sdp.key_rotation_pair) TO STDOUT" >"$w/pairs.txt" 2>/dev/null ||
  psql -XAtc "SELECT * FROM sdp.sdp_token_versions('bank_demo', 'customer_id')" >"$w/pairs.txt"
[[ -s "$w/pairs.txt" ]] || fail "no pairs stored"
grep -q "sdp_rekey_pairs" "$w/server.log" || fail "the server log did not record the rotation"
python3 "$scan" extract "$w/all.csv" "$cfg" "$w/scan" >/dev/null
tok=()
for i in 1 2 3 4 5; do tok+=(--tokens "$w/b$i.csv" "$w/m$i.csv.tokenized.csv"); done
python3 "$scan" scan "$w/scan" --secret-env KEY1 --secret-env KEY2 "${tok[@]}" \
  "server_log=$w/server.log" "pairs=$w/pairs.txt" "agent_log=$w/rot.err" "agent_log_stale=$w/rot5.err" >"$w/scan.txt" ||
  fail "a key or a raw value reached the server: $(cat "$w/scan.txt")"
pass "leak scan of the server log (log_statement = all, parameters) and the pairs table: no key, no raw value"
echo "$checks checks passed"
