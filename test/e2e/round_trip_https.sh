#!/usr/bin/env bash
# The agent's full round trip over HTTPS: sdp-agent (libcurl, SDP_CA_BUNDLE, X-API-Key) -> real
# Caddy with TLS (docker/caddy/Caddyfile) -> the test-only PostgREST double -> PostgreSQL with sdp.
# Merged output checked cell by cell against the same round trip over libpq; 401 without a key,
# 403/404 with another client's key, 404 on the dev path under sdp.env=prod, and a clear TLS
# error with a wrong CA bundle. The API key never appears in any output.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
e2e_database sdp_e2e_rt_https
w=$e2e_work
key_a=sdp_e2e_rt_key_bank_demo_0123456789abcdef
key_b=sdp_e2e_rt_key_other_bank_0123456789abcd
https_client bank_demo "$key_a"
https_client other_bank "$key_b"
psql -XAtq -c "ALTER DATABASE sdp_e2e_rt_https SET sdp.env = 'dev'"
https_start sdp_e2e_rt_https
cfg="$repo/configs/customers_tokenization.yml"
python3 "$repo/bench/gen_customers.py" 2000 "$w/raw.csv" --seed 11

export SDP_API_KEY=$key_a
"$agent" process-batch --raw-input "$w/raw.csv" --output "$w/merged_https.csv" --config "$cfg" \
  --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring --use-dev-processor \
  --chunk-kb 64 >"$w/summary.json" 2>"$w/err" || fail "process-batch over HTTPS: $(cat "$w/err")"
grep -q '"status":"PROCESSED"' "$w/summary.json" || fail "not processed: $(cat "$w/summary.json")"
batch=$(jq -r .batch_id "$w/summary.json")
pass "process-batch over HTTPS (chunked upload, dev processing, results, integrate)"

# The same tokenized file uploaded over libpq (as the trusted owner) lands in the same batch:
# the idempotency key depends on the content and client, not on the transport.
SDP_API_KEY= "$agent" upload-batch --file "$w/merged_https.csv.tokenized.csv" --client-id bank_demo \
  --processing-type risk_scoring --chunk-kb 64 \
  --server-url "postgresql://postgres@127.0.0.1:$PGPORT/sdp_e2e_rt_https" >"$w/upload_pg.json"
[[ $(jq -r .batch_id "$w/upload_pg.json") == "$batch" ]] || fail "libpq upload opened another batch"
SDP_API_KEY= "$agent" integrate-results --batch-id "$batch" --raw-input "$w/raw.csv" \
  --output "$w/merged_pg.csv" --config "$cfg" \
  --server-url "postgresql://postgres@127.0.0.1:$PGPORT/sdp_e2e_rt_https" >/dev/null
cmp -s "$w/merged_https.csv" "$w/merged_pg.csv" || fail "HTTPS and libpq merged outputs differ"
[[ $(grep -c ',demo_v1$' "$w/merged_https.csv") == 2000 ]] || fail "results missing"
pass "same batch and byte-identical merged output over HTTPS and libpq"

# 401 without a key, another client's key: its batch does not exist for them.
SDP_API_KEY= expect_exit 5 status --batch-id "$batch" --client-id bank_demo
expect_one_error_line "401"
SDP_API_KEY=$key_b expect_exit 5 status --batch-id "$batch" --client-id other_bank
expect_one_error_line "404"
SDP_API_KEY=$key_b expect_exit 5 status --batch-id "$batch" --client-id bank_demo
expect_one_error_line "403"
pass "401 without key, 404 for another client's batch, 403 for a key of another client"

# Dev entry point under prod: 404 (restart the gateway so its session sees the new setting).
https_stop
psql -XAtq -c "ALTER DATABASE sdp_e2e_rt_https SET sdp.env = 'prod'"
https_start sdp_e2e_rt_https
python3 "$repo/bench/gen_customers.py" 50 "$w/raw2.csv" --seed 12
expect_exit 5 process-batch --raw-input "$w/raw2.csv" --output "$w/m2.csv" --config "$cfg" \
  --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring --use-dev-processor
expect_error_line "404"
[[ ! -e "$w/m2.csv" ]] || fail "merged output written after a 404"
pass "dev processing answers 404 when sdp.env = prod"

# A CA bundle that did not sign the server certificate: clear TLS error, exit non-zero.
SDP_CA_BUNDLE=$SDP_HTTPS_WRONG_CA expect_exit 1 status --batch-id "$batch" --client-id bank_demo
expect_one_error_line "TLS"
pass "wrong SDP_CA_BUNDLE: one-line TLS error"

# Plain http:// to a non-loopback host is refused before any connection.
expect_exit 3 status --batch-id "$batch" --client-id bank_demo --server-url http://sdp.example.invalid
expect_one_error_line "insecure"
pass "plain http:// to a non-loopback host refused"

for f in "$w"/*.json "$w"/err "$w"/*.csv; do
  grep -qF "$key_a" "$f" && fail "API key leaked into $f"
done
pass "the API key appears in no output"
echo "$checks checks passed"
