#!/usr/bin/env bash
# The PII firewall end to end (docs/pii_firewall.md):
#  - the demo's customers file tokenized with configs/customers_tokenization.yml and the bench's
#    ingest file (bench/configs/ingest.yml), uploaded by sdp-agent with their manifests: 0
#    refused, every row stored;
#  - a file with a column forgotten in the config (the bench's HASH-only config leaves
#    card_number and iban in clear): refused (exit 5, PT422 naming the column), the batch aborted,
#    no row of it stored;
#  - generated uploads with raw PII in every format and obfuscation, through SQL in one session:
#    0 accepted, each refusal audited (firewall.refused) and counted
#    (sdp_pii_firewall_rejections_total), no batch stored;
#  - a config proposed by `sdp-agent scan` (with its classes): the batch's classification holds
#    the scan's classes;
#  - the same refusal through Caddy and the gateway: HTTP 422 with code PT422, for the agent
#    (chunked upload, then aborted) and for curl on /api/v1/process-file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
e2e_database sdp_e2e_firewall
w=$e2e_work
rows=2000
redteam=300
[[ "${SDP_STRESS:-0}" == 1 ]] && rows=20000 redteam=2000
cfg="$repo/configs/customers_tokenization.yml"
cfg_ingest="$repo/bench/configs/ingest.yml"
cfg_hash="$repo/bench/configs/hash_novault.yml"
key=sdp_e2e_fw_key_bank_fw_0123456789abcdef0
https_client bank_fw "$key"
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
rejections() {
  sql -c "SELECT coalesce(sum(value), 0)::bigint FROM sdp.sdp_metrics_samples() WHERE name = 'sdp_pii_firewall_rejections_total'"
}
audited() { sql -c "SELECT count(*) FROM sdp.audit_log WHERE event = 'firewall.refused'"; }

python3 "$repo/bench/gen_customers.py" "$rows" "$w/raw.csv" --seed 19
"$agent" tokenize-config --config "$cfg" --input "$w/raw.csv" --output "$w/demo.tok.csv" \
  --vault "$w/vault.db" 2>/dev/null
"$agent" tokenize-config --config "$cfg_ingest" --input "$w/raw.csv" --output "$w/bench.tok.csv" \
  --vault "$w/unused.db" 2>/dev/null
"$agent" tokenize-config --config "$cfg_hash" --input "$w/raw.csv" --output "$w/forgotten.tok.csv" \
  --vault "$w/unused.db" 2>/dev/null

# ---- tokenized files with their manifests: nothing refused -----------------------------------
before=$(rejections)
for f in demo:"$cfg" bench:"$cfg_ingest"; do
  name=${f%%:*} config=${f#*:}
  expect_exit 0 upload-batch --file "$w/$name.tok.csv" --config "$config" --client-id bank_fw \
    --processing-type risk_scoring --chunk-kb 256
  [[ $(jq -r .accepted_records "$w/out") == "$rows" ]] || fail "$name file: $(cat "$w/out")"
done
[[ $(rejections) == "$before" ]] || fail "a tokenized file was refused"
classes=$(sql -c "SELECT string_agg(column_name || ':' || transform, ',' ORDER BY column_name)
                    FROM sdp.column_classification c JOIN sdp.processing_batch b USING (batch_id)
                   WHERE b.accepted_records = $rows AND c.transform <> 'CLEAR'
                     AND b.created_at = (SELECT min(created_at) FROM sdp.processing_batch)")
[[ $classes == "address:RANDOM,birth_date:RANDOM,card_number:FF1,customer_id:HASH,email:HASH,first_name:MASKED,iban:FF1,last_name:RANDOM,phone:MASKED,ssn:FF1" ]] ||
  fail "classification of the demo batch: $classes"
pass "demo and bench tokenized files ($rows rows each) uploaded with their manifests: 0 refused; the manifest is the batch's classification"

# ---- the scan's classes travel with the upload (classes only, never values) -----------------
expect_exit 0 scan --input "$w/raw.csv" --config-out "$w/scanned.yml"
"$agent" tokenize-config --config "$w/scanned.yml" --input "$w/raw.csv" --output "$w/scanned.tok.csv" \
  --vault "$w/scanned.db" 2>/dev/null
expect_exit 0 upload-batch --file "$w/scanned.tok.csv" --config "$w/scanned.yml" --client-id bank_fw \
  --processing-type risk_scoring
scanned_batch=$(jq -r .batch_id "$w/out")
proposed=$(grep -o '^  "[a-z_]*": { token_type: [A-Z]*, class: [a-z_0-9]*' "$w/scanned.yml" |
  sed -E 's/^  "([a-z_]*)": \{ token_type: [A-Z]*, class: ([a-z_0-9]*)/\1:\2/' | sort | paste -sd, -)
stored=$(sql -c "SELECT string_agg(column_name || ':' || class, ',' ORDER BY column_name)
                   FROM sdp.column_classification
                  WHERE batch_id = '$scanned_batch' AND transform <> 'CLEAR' AND source = 'scan'")
[[ -n "$proposed" && "$stored" == "$proposed" ]] || fail "scan classes: proposed $proposed, stored $stored"
pass "the scan's proposed classes are the uploaded batch's classification ($stored)"

# ---- a column forgotten in the config: refused, aborted, nothing stored ----------------------
before_batches=$(sql -c "SELECT count(*) FROM sdp.processing_batch WHERE accepted_records > 0")
expect_exit 5 upload-batch --file "$w/forgotten.tok.csv" --config "$cfg_hash" --client-id bank_fw \
  --processing-type risk_scoring --chunk-kb 64
expect_one_error_line 'PT422: PII firewall: chunk 0, row 1 (line 2), column "card_number" holds raw PII (class payment_card, declared CLEAR)'
grep -q 'aborted: FAILED, its rows deleted' "$w/err" || fail "not aborted: $(cat "$w/err")"
[[ $(sql -c "SELECT count(*) FROM sdp.processing_batch WHERE accepted_records > 0") == "$before_batches" ]] ||
  fail "rows of the refused upload stayed"
[[ $(sql -c "SELECT count(*) FROM sdp.tokenized_record r JOIN sdp.processing_batch b USING (batch_id) WHERE b.status = 'FAILED'") == 0 ]] ||
  fail "tokenized rows of a failed batch remain"
grep -qF "$(sed -n 2p "$w/raw.csv" | cut -d, -f7)" "$w/err" && fail "the card number was echoed"
pass "a file with card_number and iban left in clear: exit 5, PT422 naming the column, batch aborted, nothing stored"

# ---- red team through SQL: one session, $redteam uploads -------------------------------------
before=$(rejections) before_audit=$(audited)
before_batches=$(sql -c "SELECT count(*) FROM sdp.processing_batch")
python3 "$repo/test/e2e/pii_firewall_redteam.py" "$redteam" bank_fw 20261207 >"$w/redteam.sql"
psql -XAq -v ON_ERROR_STOP=1 -f "$w/redteam.sql" >"$w/redteam.out" 2>&1 || fail "red team: $(tail -5 "$w/redteam.out")"
summary=$(grep -o 'accepted=[0-9]* refused=[0-9]* other=[0-9]*' "$w/redteam.out")
[[ $summary == "accepted=0 refused=$redteam other=0" ]] ||
  fail "red team: $summary; $(grep -m 5 'WARNING' "$w/redteam.out")"
[[ $(sql -c "SELECT count(*) FROM sdp.processing_batch") == "$before_batches" ]] || fail "red team stored a batch"
[[ $(($(rejections) - before)) == "$redteam" ]] || fail "counter: $(($(rejections) - before)) of $redteam"
[[ $(($(audited) - before_audit)) == "$redteam" ]] || fail "audit entries: $(($(audited) - before_audit)) of $redteam"
[[ -z $(sql -c "SELECT * FROM sdp.sdp_audit_verify()") ]] || fail "audit chain broken"
pass "red team: $redteam uploads with raw PII through SQL in one session: 0 accepted, $redteam audited and counted, chain intact"

# ---- through Caddy and the gateway: 422 ------------------------------------------------------
https_start sdp_e2e_firewall
export SDP_API_KEY=$key
expect_exit 5 upload-batch --file "$w/forgotten.tok.csv" --config "$cfg_hash" --client-id bank_fw \
  --processing-type risk_scoring --chunk-kb 64
expect_one_error_line 'HTTP 422 PT422: PII firewall: chunk 0, row 1 (line 2), column "card_number"'
printf 'customer_id,note\nc1,call +44 20 7946 0958\n' >"$w/one.csv"
st=$(curl -sS --max-time 30 --cacert "$SDP_CA_BUNDLE" -o "$w/body" -w '%{http_code}' \
  -H "X-API-Key: $key" -H 'Content-Type: text/plain' -H 'X-Processing-Type: risk_scoring' \
  --data-binary "@$w/one.csv" "$SDP_SERVER_URL/api/v1/process-file")
[[ $st == 422 && $(jq -r .code "$w/body") == PT422 ]] || fail "process-file: HTTP $st $(cat "$w/body")"
grep -q '7946' "$w/body" && fail "the phone number was echoed: $(cat "$w/body")"
st=$(curl -sS --max-time 30 --cacert "$SDP_CA_BUNDLE" -o "$w/body" -w '%{http_code}' \
  -H "X-API-Key: $key" -H 'Content-Type: text/plain' -H 'X-Processing-Type: risk_scoring' \
  -H 'X-Sdp-Manifest: {"note": {"transform": "MASKED", "class": "phone"}}' \
  --data-binary $'customer_id,note\nc1,***-***-0958\n' "$SDP_SERVER_URL/api/v1/process-file")
[[ $st == 201 ]] || fail "process-file with a manifest: HTTP $st $(cat "$w/body")"
pass "over HTTPS: the agent's chunked upload and /api/v1/process-file get 422 PT422 (no value echoed); a declared mask passes (201)"
echo "pii_firewall: $checks checks passed"
