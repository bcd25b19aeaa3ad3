#!/usr/bin/env bash
# JSON pseudonymization end to end (docs/json_pseudonymization.md): the CLI on a document and on
# NDJSON, then `sdp-agent serve` as a user scripts it: pseudonymize -> process -> repersonalize ->
# cleanup, bulk with failures, wrong and missing keys, TTL expiry and purge, legal hold, a
# tampered document, and a leak scan of every response (but the restored documents), the logs
# and the vault files for the plaintext values and the API keys. Needs no database.
source "$(dirname "$0")/lib.sh"
cd "$e2e_work"

export SDP_PSEUDONYMIZE_API_KEY=pk-e2e-$RANDOM$RANDOM
export SDP_REPERSONALIZE_API_KEY=rk-e2e-$RANDOM$RANDOM
pkey=$SDP_PSEUDONYMIZE_API_KEY
rkey=$SDP_REPERSONALIZE_API_KEY
responses=$e2e_work/responses
mkdir -p "$responses"
n=0

cat >rules.yml <<'EOF'
version: 1
ttl: 1d
rules:
  - { path: "$.customer_id", token_type: HASH, domain: customer_id }
  - { path: "$.transactions[*].iban", token_type: FPE, alphabet: digits }
  - { path: "/contact/email", token_type: HASH, normalize: lowercase_trim, domain: email }
  - { path: "$.contact.name", token_type: RANDOM }
  - { path: "$..card_number", token_type: FPE, alphabet: digits }
EOF
# The plaintext values the scan looks for (each at a rule path of doc.json or the NDJSON lines).
cat >plain.txt <<'EOF'
CUST-7781-SECRET
Ann.Lee@Example.org
DE89370400440532013000
Annabel Leeworth
4111 1111 1111 1111
GB29NWBK60161331926819
Bartholomew Quill
EOF
cat >doc.json <<'EOF'
{"customer_id": "CUST-7781-SECRET", "contact": {"email": " Ann.Lee@Example.org ", "name": "Annabel Leeworth"},
 "transactions": [{"iban": "DE89370400440532013000", "amount": 12.50}, {"iban": "GB29NWBK60161331926819", "amount": 1e3}],
 "payment": {"card_number": "4111 1111 1111 1111"}, "note": "caf\u00e9 \ud83d\ude00", "big": 123456789012345678901234567890}
EOF

# --- CLI ------------------------------------------------------------------------------------------
expect_exit 0 pseudonymize --rules rules.yml --input doc.json --output p.json --vault cli.db --ids ids.txt
grep -qF "CUST-7781" p.json && fail "pseudonymized file holds the customer id"
expect_exit 0 repersonalize --rules rules.yml --input p.json --output r.json --vault cli.db
cmp -s doc.json r.json || fail "CLI round trip is not byte-identical"
pass "CLI: one document pseudonymized and restored byte for byte"

python3 - <<'EOF' >docs.ndjson
import json
for i in range(200):
    d = {"customer_id": f"C-{i:05d}", "contact": {"email": f"user{i}@example.org", "name": "Bartholomew Quill"},
         "transactions": [{"iban": "GB29NWBK60161331926819", "amount": i}] * (i % 3)}
    print(json.dumps(d, ensure_ascii=False))
    if i == 100:
        print("")
EOF
expect_exit 0 pseudonymize --rules rules.yml --input docs.ndjson --output p.ndjson --vault cli.db
[[ $(wc -l <p.ndjson) == 201 ]] || fail "NDJSON line count changed"
expect_exit 0 repersonalize --rules rules.yml --input p.ndjson --output r.ndjson --vault cli.db
cmp -s docs.ndjson r.ndjson || fail "NDJSON round trip is not byte-identical"
pass "CLI: 200 NDJSON documents (and a blank line) round trip byte for byte"

sed '3s/"amount": 2/"amount": 3/' p.ndjson >t.ndjson
expect_exit 1 repersonalize --rules rules.yml --input t.ndjson --output rt.ndjson --vault cli.db
expect_one_error_line "t.ndjson:3: no pseudonym record for this document"
[[ -e rt.ndjson ]] && fail "an output was left after a refused document"
pass "CLI: a changed line is refused naming its line, no output"

printf 'version: 1\nrules:\n  - { path: "$.a", token_type: HASH, normalise: trim }\n' >bad.yml
expect_exit 3 pseudonymize --rules bad.yml --input doc.json --output x.json --vault cli.db
expect_one_error_line "bad.yml:3: rule 1 ('\$.a'): unknown key 'normalise'"
printf '{"customer_id": "x",}' >broken.json
expect_exit 1 pseudonymize --rules rules.yml --input broken.json --output x.json --vault cli.db
expect_one_error_line "broken.json:1: byte 21: expected a member name"
[[ -e x.json ]] && fail "output left after an error"
pass "CLI: unknown rule key (exit 3) and malformed JSON (exit 1) are one error line each"

expect_exit 0 pseudonymize --rules rules.yml --input doc.json --output pt.json --vault ttl.db --ttl 1s --ids ttl_ids.txt
sleep 2
expect_exit 1 repersonalize --rules rules.yml --input pt.json --output rt.json --vault ttl.db
expect_one_error_line "expired"
expect_exit 0 pseudonyms purge --vault ttl.db
grep -q "purged 1 expired records" "$e2e_work/out" || fail "purge: $(cat "$e2e_work/out")"
pass "CLI: a record past its TTL is not found and purge crypto-shreds it"

# --- service --------------------------------------------------------------------------------------
# start_service VAULT PORT-FILE LOG-PREFIX [serve flags]: sets $started_pid.
start_service() {
  local vault=$1 ports=$2 log=$3
  shift 3
  "$agent" --log-format text serve --rules rules.yml --vault "$vault" --pseudonymize-port 0 \
    --repersonalize-port 0 --port-file "$ports" "$@" >"$log.out" 2>"$log.err" &
  started_pid=$!
  e2e_at_exit "e2e_stop_pid $started_pid"
  for _ in $(seq 100); do [[ -s $ports ]] && break; sleep 0.1; done
  [[ -s $ports ]] || fail "serve did not start: $(cat "$log.err")"
}
start_service svc.db ports.txt svc
svc_pid=$started_pid
P=http://127.0.0.1:$(sed -n 's/^pseudonymize=//p' ports.txt)
R=http://127.0.0.1:$(sed -n 's/^repersonalize=//p' ports.txt)

# call NAME METHOD URL KEY [BODY-FILE]: the response body in $responses/NAME, the status echoed.
call() {
  local name=$1 method=$2 url=$3 key=$4 body=${5:-}
  local args=(-s -o "$responses/$name" -w '%{http_code}' -X "$method")
  [[ -n $key ]] && args+=(-H "X-API-Key: $key")
  if [[ -n $body ]]; then
    args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  elif [[ $method == POST ]]; then
    args+=(--data-binary '')  # Content-Length: 0 (the HTTP layer refuses a POST without one)
  fi
  curl "${args[@]}" "$url"
}

[[ $(call health GET "$P/health" "") == 200 ]] || fail "health"
jq -e '.status == "healthy"' "$responses/health" >/dev/null || fail "health body"
[[ $(call rhealth GET "$R/health" "") == 200 ]] || fail "repersonalization health"
jq -e '.pseudonymization_service_status == "healthy"' "$responses/rhealth" >/dev/null ||
  fail "repersonalization health does not report the other service"
[[ $(call docs GET "$P/docs" "") == 200 ]] && jq -e '.openapi | startswith("3.")' "$responses/docs" >/dev/null ||
  fail "/docs is not an OpenAPI 3 document"
pass "service: health on both listeners, OpenAPI 3 on /docs"

# The workflow: pseudonymize -> process (count per customer token) -> repersonalize -> cleanup.
[[ $(call p1 POST "$P/pseudonymize" "$pkey" doc.json) == 200 ]] || fail "pseudonymize: $(cat "$responses/p1")"
id=$(jq -r .pseudonym_id "$responses/p1")
jq -e '.fields_pseudonymized == 6 and (.processing_time_ms | type == "number")' "$responses/p1" >/dev/null ||
  fail "pseudonymize shape: $(cat "$responses/p1")"
jq -c .pseudonymized_data "$responses/p1" >processed_input.json
jq -r '.transactions | length' processed_input.json >processed_count.txt  # the "processing"
jq -c --arg id "$id" '{pseudonym_id: $id, pseudonymized_data: .pseudonymized_data, verify: true}' \
  "$responses/p1" >rep.json
[[ $(call r1 POST "$R/repersonalize" "$rkey" rep.json) == 200 ]] || fail "repersonalize: $(cat "$responses/r1")"
# Compared as RFC 8785 sees JSON (numbers are doubles): jq, the "processing" client here, reads
# numbers as doubles too, so the untouched 30-digit number comes back as the double it wrote.
python3 - "$responses/r1" doc.json <<'EOF' || fail "restored document differs from the original"
import json, sys
got = json.load(open(sys.argv[1]), parse_int=float)
assert got["verified"] is True, got
assert got["original_data"] == json.load(open(sys.argv[2]), parse_int=float), got
EOF
[[ $(call c1 DELETE "$R/cleanup/$id" "$rkey") == 200 ]] || fail "cleanup: $(cat "$responses/c1")"
[[ $(call r1b POST "$R/repersonalize" "$rkey" rep.json) == 404 ]] || fail "restored after cleanup"
jq -e '.status == 404 and .title == "Not Found"' "$responses/r1b" >/dev/null || fail "not a problem document"
pass "service: pseudonymize -> process -> repersonalize (verified, equal) -> cleanup -> 404"

# Bulk with failures.
jq -n --slurpfile d doc.json '{batch_id: "batch-1", datasets: [$d[0], {"payment": {"card_number": "12"}}, {"contact": {"name": "Bartholomew Quill"}}]}' >bulk.json
[[ $(call b1 POST "$P/pseudonymize/bulk" "$pkey" bulk.json) == 200 ]] || fail "bulk: $(cat "$responses/b1")"
jq -e '.successful == 2 and .failed == 1 and .batch_id == "batch-1" and .results[1].success == false' \
  "$responses/b1" >/dev/null || fail "bulk counts: $(cat "$responses/b1")"
jq '{batch_id: "r-1", continue_on_error: true, items: [(.results[] | select(.success) | {pseudonym_id, pseudonymized_data}), {pseudonym_id: "00000000-0000-4000-8000-000000000000", pseudonymized_data: {}}]}' \
  "$responses/b1" >rbulk.json
[[ $(call rb1 POST "$R/repersonalize/bulk" "$rkey" rbulk.json) == 200 ]] || fail "repersonalize bulk"
jq -e '.successful == 2 and .failed == 1 and .results[2].status == 404' "$responses/rb1" >/dev/null ||
  fail "repersonalize bulk counts: $(jq -c '{successful, failed}' "$responses/rb1")"
pass "service: bulk pseudonymize and repersonalize report each failure and carry on"

# Wrong and missing keys, and the other listener's key.
[[ $(call k1 POST "$P/pseudonymize" "" doc.json) == 401 ]] || fail "missing key accepted"
[[ $(call k2 POST "$P/pseudonymize" "wrong-key" doc.json) == 401 ]] || fail "wrong key accepted"
[[ $(call k3 POST "$P/pseudonymize" "$rkey" doc.json) == 401 ]] || fail "the repersonalization key pseudonymizes"
[[ $(call k4 POST "$R/repersonalize" "$pkey" rep.json) == 401 ]] || fail "the pseudonymization key restores"
[[ $(call k5 GET "$R/stats" "") == 401 ]] || fail "stats without a key"
jq -e '.status == 401 and (.detail | contains("missing"))' "$responses/k1" >/dev/null || fail "401 problem"
pass "service: missing, wrong and cross-listener keys get 401 problem documents"

# Legal hold blocks cleanup.
[[ $(call p2 POST "$P/pseudonymize" "$pkey" doc.json) == 200 ]] || fail "pseudonymize 2"
id2=$(jq -r .pseudonym_id "$responses/p2")
[[ $(call h1 POST "$R/hold/$id2" "$rkey") == 200 ]] || fail "hold: $(cat "$responses/h1")"
[[ $(call c2 DELETE "$R/cleanup/$id2" "$rkey") == 409 ]] || fail "cleanup under hold: $(cat "$responses/c2")"
[[ $(call h2 DELETE "$R/hold/$id2" "$rkey") == 200 ]] || fail "release"
[[ $(call c3 DELETE "$R/cleanup/$id2" "$rkey") == 200 ]] || fail "cleanup after release"
pass "service: a legal hold refuses cleanup (409) until released"

# A tampered document: refused when verifying, and /verify says why.
[[ $(call p3 POST "$P/pseudonymize" "$pkey" doc.json) == 200 ]] || fail "pseudonymize 3"
jq -c '{pseudonym_id, pseudonymized_data: (.pseudonymized_data | .transactions[0].amount = 99)}' \
  "$responses/p3" >tampered.json
[[ $(call t1 POST "$R/repersonalize" "$rkey" tampered.json) == 409 ]] || fail "tampered document restored"
[[ $(call t2 POST "$R/verify" "$rkey" tampered.json) == 200 ]] || fail "verify"
jq -e '.verified == false and .mac_valid == false' "$responses/t2" >/dev/null || fail "verify: $(cat "$responses/t2")"
jq -c '{pseudonym_id, pseudonymized_data: (.pseudonymized_data | .contact.name = "Annabel Leeworth")}' \
  "$responses/p3" >leaky.json
call t3 POST "$R/verify" "$rkey" leaky.json >/dev/null
jq -e '.plaintext_paths == ["/contact/name"]' "$responses/t3" >/dev/null || fail "plaintext not found: $(cat "$responses/t3")"
rm "$responses/t3"  # it echoes nothing but the path; the request held the plaintext, not the answer
pass "service: a tampered document is refused (409); verify names the MAC and a plaintext path"

# Limits: size (413), depth (422), rate (429 with Retry-After).
head -c 11000000 /dev/zero | tr '\0' ' ' >big.json
[[ $(call l1 POST "$P/pseudonymize" "$pkey" big.json) == 413 ]] || fail "11 MB body accepted"
python3 -c 'print("[" * 100 + "]" * 100)' >deep.json
[[ $(call l2 POST "$P/pseudonymize" "$pkey" deep.json) == 422 ]] || fail "depth 100 accepted"
jq -e '.detail | contains("nesting deeper than 64")' "$responses/l2" >/dev/null || fail "depth problem"
pass "service: 413 past the body limit, 422 past the depth limit"

start_service ttl_svc.db ttl_ports.txt ttl --ttl 1s --rate-limit 0.2 --rate-burst 3
ttl_pid=$started_pid
TP=http://127.0.0.1:$(sed -n 's/^pseudonymize=//p' ttl_ports.txt)
TR=http://127.0.0.1:$(sed -n 's/^repersonalize=//p' ttl_ports.txt)
[[ $(call e1 POST "$TP/pseudonymize" "$pkey" doc.json) == 200 ]] || fail "ttl service"
jq -c '{pseudonym_id, pseudonymized_data}' "$responses/e1" >ttl_rep.json
sleep 2
[[ $(call e2 POST "$TR/repersonalize" "$rkey" ttl_rep.json) == 404 ]] || fail "expired record restored"
codes=""
for i in 1 2 3 4 5; do codes+=$(curl -s -o /dev/null -w '%{http_code} ' "$TP/health"); done
[[ $codes == *429* ]] || fail "no 429 past the rate: $codes"
retry=$(curl -s -D - -o /dev/null "$TP/health" | tr -d '\r' | sed -n 's/^Retry-After: //Ip')
[[ $retry -ge 1 ]] || fail "429 without Retry-After"
pass "service: a record past its TTL is gone (404); 429 with Retry-After past the rate"

[[ $(call s1 GET "$P/stats" "$pkey") == 200 ]] || fail "stats"
jq -e '.statistics.total_pseudonymized >= 5' "$responses/s1" >/dev/null || fail "stats: $(cat "$responses/s1")"
[[ $(call s2 GET "$R/stats" "$rkey") == 200 ]] || fail "repersonalization stats"
jq -e '.statistics | has("total_repersonalized") and has("success_rate")' "$responses/s2" >/dev/null ||
  fail "repersonalization stats: $(cat "$responses/s2")"
[[ $(call m1 GET "$P/metrics" "") == 200 ]] || fail "metrics"
grep -q '^sdp_json_documents_total{operation="pseudonymize"} ' "$responses/m1" || fail "metrics body"
if command -v promtool >/dev/null; then
  promtool check metrics <"$responses/m1" >/dev/null 2>&1 || fail "promtool rejects /metrics"
fi
pass "service: /stats on both listeners, Prometheus /metrics"

# --- leak scan ------------------------------------------------------------------------------------
e2e_stop_pid "$svc_pid" || true
e2e_stop_pid "$ttl_pid" || true
grep -q json_service_stopped svc.err || fail "serve did not stop cleanly on SIGTERM: $(cat svc.err)"
# Every response but the restored documents (r1, rb1: they are the plaintext by design), both
# services' logs, the pseudonymized files and every vault file.
rm -f "$responses/r1" "$responses/rb1"
scan=("$responses"/* svc.out svc.err ttl.out ttl.err p.json p.ndjson pt.json ./*.db ./*.db-wal)
leaks=0
# The scan must be able to see what it looks for: every value is in the raw inputs.
while IFS= read -r value; do
  grep -qaF -- "$value" doc.json docs.ndjson || fail "scan self-test: '$value' not in the inputs"
done <plain.txt
while IFS= read -r value; do
  [[ -z $value ]] && continue
  for f in "${scan[@]}"; do
    [[ -f $f ]] || continue
    if grep -qaF -- "$value" "$f"; then
      echo "LEAK: '$value' in $f" >&2
      leaks=$((leaks + 1))
    fi
  done
done < <(cat plain.txt; echo "$pkey"; echo "$rkey"; echo "$SDP_CRYPTO_KEY")
((leaks == 0)) || fail "$leaks plaintext values or keys found"
pass "leak scan: $(wc -l <plain.txt) plaintext values and 3 keys in none of ${#scan[@]} responses, logs and vault files"

echo "json_service: $checks checks passed"
