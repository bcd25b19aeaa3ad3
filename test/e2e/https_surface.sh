#!/usr/bin/env bash
# The HTTPS surface with curl: real Caddy (docker/caddy/Caddyfile, TLS from a local CA) in front
# of the test-only PostgREST double (test/gateway/) in front of PostgreSQL with the sdp extension.
# Checks the seeds' paths and statuses: /health body, 401 without key, 403 with another client's
# key, 404 on /dev/* when sdp.env=prod, TLS failure with a wrong CA bundle, CSV upload via
# /api/v1/process-file, processing and results via the mapped paths, the chunked-upload paths,
# PostgREST's content-type rules (text/csv is not a text function's body), the body limit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
e2e_database sdp_e2e_https
w=$e2e_work
key_a=sdp_e2e_key_bank_demo_0123456789abcdef
key_b=sdp_e2e_key_other_bank_0123456789abcdef
https_client bank_demo "$key_a"
https_client other_bank "$key_b"
https_start sdp_e2e_https

# req METHOD PATH [curl args...] -> prints the HTTP status; body in $w/body, headers in $w/headers
req() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 30 --cacert "$SDP_CA_BUNDLE" -X "$method" -o "$w/body" -D "$w/headers" \
    -w '%{http_code}' "$@" "$SDP_SERVER_URL$path"
}
expect_status() {  # want got what
  [[ "$2" == "$1" ]] || fail "$3: HTTP $2, expected $1; body: $(head -c 400 "$w/body")"
}
json_field() { jq -r "$1" "$w/body"; }

# ---- health, no key --------------------------------------------------------------------------
st=$(req GET /health)
expect_status 200 "$st" "GET /health"
[[ $(jq -cS . "$w/body") == '{"service":"ingestion_api","status":"ok"}' ]] ||
  fail "health body: $(cat "$w/body")"
grep -qi '^content-type: application/json' "$w/headers" || fail "health content type"
grep -qi '^strict-transport-security:' "$w/headers" || fail "no HSTS header from Caddy"
pass "GET /health -> 200 {\"status\":\"ok\",\"service\":\"ingestion_api\"} over TLS"

st=$(req GET /metrics)
expect_status 200 "$st" "GET /metrics"
grep -q '^# TYPE sdp_batches_total counter' "$w/body" || fail "metrics body: $(head -c 300 "$w/body")"
pass "GET /metrics -> Prometheus text exposition through Caddy"

st=$(req GET /readyz)
[[ "$st" == 200 || "$st" == 503 ]] || fail "readyz: HTTP $st"
jq -e 'has("status")' "$w/body" >/dev/null || fail "readyz body: $(cat "$w/body")"
pass "GET /readyz -> $st $(jq -c . "$w/body")"

# ---- TLS -------------------------------------------------------------------------------------
set +e
curl -sS --max-time 10 --cacert "$SDP_HTTPS_WRONG_CA" "$SDP_SERVER_URL/health" >/dev/null 2>"$w/tls_err"
rc=$?
set -e
[[ $rc == 60 ]] || fail "wrong CA bundle: curl exit $rc, expected 60 (peer certificate not trusted): $(cat "$w/tls_err")"
pass "wrong CA bundle -> TLS verification failure (curl 60)"
set +e
curl -sS --max-time 10 "http://127.0.0.1:$SDP_HTTPS_PORT/health" >/dev/null 2>&1
rc=$?
set -e
st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SDP_HTTPS_PORT/health" || true)
[[ "$st" != 200 ]] || fail "plain HTTP on the TLS port answered 200"
pass "plain http:// on the TLS port is refused (HTTP $st)"

# ---- authentication --------------------------------------------------------------------------
printf 'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,70,20000,40000,90\nc3,45,60000,15000,40\n' >"$w/t.csv"
upload() {  # extra curl args...
  req POST /api/v1/process-file -H 'Content-Type: text/plain' -H 'X-Processing-Type: risk_scoring' \
    --data-binary "@$w/t.csv" "$@"
}
st=$(upload)
expect_status 401 "$st" "upload without key"
[[ $(json_field .code) == PT401 ]] || fail "401 body: $(cat "$w/body")"
jq -e 'has("code") and has("message") and has("details") and has("hint")' "$w/body" >/dev/null ||
  fail "error body shape: $(cat "$w/body")"
pass "no X-API-Key -> 401 {code:PT401,message,details,hint}"

st=$(upload -H "X-API-Key: sdp_e2e_not_a_registered_key_0000000000")
expect_status 401 "$st" "upload with an unknown key"
grep -q 'sdp_e2e_not_a_registered_key' "$w/body" && fail "the key was echoed in the error body"
pass "unknown key -> 401 (key not echoed)"

st=$(upload -H "X-API-Key: $key_b" -H 'X-Client-Id: bank_demo')
expect_status 403 "$st" "upload for bank_demo with other_bank's key"
[[ $(json_field .code) == PT403 ]] || fail "403 body: $(cat "$w/body")"
pass "another client's key -> 403 PT403"

# ---- CSV upload via the seeds' path ----------------------------------------------------------
st=$(upload -H "X-API-Key: $key_a" -H 'X-Client-Id: bank_demo' -H 'Idempotency-Key: e2e-https-1')
expect_status 201 "$st" "process-file upload"
[[ $(jq -c 'keys_unsorted' "$w/body") == '["batch_id","accepted_records","status"]' ]] ||
  fail "upload body keys: $(cat "$w/body")"
[[ $(json_field .accepted_records) == 3 && $(json_field .status) == RECEIVED ]] ||
  fail "upload body: $(cat "$w/body")"
batch=$(json_field .batch_id)
pass "POST /api/v1/process-file -> 201 {batch_id, accepted_records:3, status:RECEIVED}"

st=$(upload -H "X-API-Key: $key_a" -H 'X-Client-Id: bank_demo' -H 'Idempotency-Key: e2e-https-1')
expect_status 200 "$st" "idempotent replay"
[[ $(json_field .batch_id) == "$batch" ]] || fail "replay gave another batch: $(cat "$w/body")"
pass "same Idempotency-Key -> 200, same batch"

# text/csv is not the body of a text function in PostgREST (docs/postgrest.md §3): 404 PGRST202.
st=$(req POST /api/v1/process-file -H "X-API-Key: $key_a" -H 'Content-Type: text/csv' \
  -H 'X-Processing-Type: risk_scoring' --data-binary "@$w/t.csv")
expect_status 404 "$st" "text/csv body"
[[ $(json_field .code) == PGRST202 ]] || fail "text/csv body: $(cat "$w/body")"
pass "Content-Type text/csv -> 404 PGRST202 (as PostgREST)"

st=$(req POST /api/v1/process-file -H "X-API-Key: $key_a" -H 'Content-Type: text/plain' \
  -H 'X-Processing-Type: risk_scoring' --data-binary $'customer_id,age\n"c1,30\n')
expect_status 400 "$st" "malformed CSV"
pass "malformed CSV -> 400 $(json_field .code)"

# ---- dev path outside dev, processing, results ---------------------------------------------
st=$(req POST "/dev/process-batch/$batch" -H "X-API-Key: $key_a")
expect_status 404 "$st" "dev path with sdp.env=prod"
pass "POST /dev/process-batch/{id} with sdp.env=prod -> 404"

st=$(req GET "/api/v1/results/$batch" -H "X-API-Key: $key_b")
expect_status 404 "$st" "another client's results"
pass "another client's batch -> 404 (same as unknown)"

st=$(req POST "/api/v1/process-batch/$batch" -H "X-API-Key: $key_a")
expect_status 200 "$st" "process-batch"
[[ $(jq -c 'keys_unsorted' "$w/body") == '["batch_id","processed_records","model_version","status"]' &&
  $(json_field .status) == PROCESSED && $(json_field .processed_records) == 3 ]] ||
  fail "process body: $(cat "$w/body")"
pass "POST /api/v1/process-batch/{id} -> 200 {batch_id, processed_records:3, model_version, status:PROCESSED}"

st=$(req GET "/api/v1/results/$batch" -H "X-API-Key: $key_a")
expect_status 200 "$st" "results"
[[ $(jq -r '[.[].record_key] | join(",")' "$w/body") == c1,c2,c3 ]] || fail "results: $(cat "$w/body")"
pass "GET /api/v1/results/{id} -> 200, 3 rows in batch order"

st=$(req GET "/rpc/results_csv?batch_id=$batch" -H "X-API-Key: $key_a" -H 'Accept: text/csv')
expect_status 200 "$st" "results_csv"
grep -qi '^content-type: text/csv' "$w/headers" || fail "results_csv content type: $(cat "$w/headers")"
[[ $(head -n 1 "$w/body" | tr -d '\r') == record_key,score,risk_band,model_version ]] ||
  fail "results_csv header: $(head -n 1 "$w/body")"
[[ $(wc -l <"$w/body") == 4 ]] || fail "results_csv rows: $(cat "$w/body")"
pass "GET /rpc/results_csv (Accept: text/csv) -> media-type handler CSV"

st=$(req GET "/api/v1/results/not-a-uuid" -H "X-API-Key: $key_a")
[[ "$st" == 404 ]] || expect_status 400 "$st" "bad id"
pass "bad batch id in the path -> $st"

# ---- chunked upload via the mapped paths -----------------------------------------------------
st=$(req POST /api/v1/batches -H "X-API-Key: $key_a" -H 'Content-Type: application/json' \
  -d '{"processing_type":"risk_scoring","idempotency_key":"e2e-https-chunks"}')
expect_status 201 "$st" "batch open"
[[ $(json_field .status) == UPLOADING ]] || fail "open body: $(cat "$w/body")"
cb=$(json_field .batch_id)
c0=$'customer_id,age,income,balance,num_transactions\nk1,30,50000,1000,10\n'
c1=$'k2,70,20000,40000,90\n'
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
st=$(req POST "/api/v1/batches/$cb/chunks/0" -H "X-API-Key: $key_a" -H 'Content-Type: text/plain' \
  -H "X-Chunk-Sha256: $(sha "$c0")" --data-binary "$c0")
expect_status 200 "$st" "chunk 0"
st=$(req POST "/api/v1/batches/$cb/chunks/1" -H "X-API-Key: $key_a" -H 'Content-Type: text/plain' \
  -H "X-Chunk-Sha256: $(sha "$c1")" --data-binary "$c1")
expect_status 200 "$st" "chunk 1"
[[ $(json_field .accepted_records) == 2 && $(json_field .seq) == 1 ]] || fail "chunk 1 body: $(cat "$w/body")"
st=$(req POST "/api/v1/batches/$cb/chunks/1" -H "X-API-Key: $key_a" -H 'Content-Type: text/plain' \
  -H "X-Chunk-Sha256: $(sha "$c1")" --data-binary "$c1")
expect_status 200 "$st" "chunk 1 again (no-op)"
st=$(req POST "/api/v1/batches/$cb/seal" -H "X-API-Key: $key_a" -H 'Content-Type: application/json' \
  -d "{\"batch_id\":\"$cb\",\"chunks\":2,\"content_sha256\":\"$(sha "$c0$c1")\"}")
expect_status 200 "$st" "seal"
[[ $(json_field .status) == RECEIVED && $(json_field .accepted_records) == 2 ]] ||
  fail "seal body: $(cat "$w/body")"
st=$(req GET "/api/v1/batches/$cb" -H "X-API-Key: $key_a")
expect_status 200 "$st" "batch status"
[[ $(json_field .client_id) == bank_demo && $(json_field .content_sha256) == "$(sha "$c0$c1")" ]] ||
  fail "batch body: $(cat "$w/body")"
pass "chunked upload: open 201, append x2 (+1 replay), seal 200 RECEIVED, GET batch"

# ---- PostgREST rules the gateway must keep ---------------------------------------------------
# GET runs READ ONLY: a VOLATILE (writing) function called by GET fails with 25006 -> 405.
st=$(req GET "/rpc/process_batch?batch_id=$batch" -H "X-API-Key: $key_a")
[[ "$st" == 405 || "$st" == 200 ]] || fail "GET of a writing function: HTTP $st: $(cat "$w/body")"
pass "GET /rpc/process_batch -> $st (GET runs READ ONLY; a write fails 25006 -> 405)"
st=$(req GET /api/v1/process -H "X-API-Key: $key_a")
expect_status 404 "$st" "wrong method on a seeds' path"
[[ $(json_field .code) == SDP404 ]] || fail "catch-all body: $(cat "$w/body")"
st=$(req GET / -H "X-API-Key: $key_a")
expect_status 404 "$st" "OpenAPI root hidden"
pass "unknown paths and methods -> 404 JSON from Caddy; PostgREST's root not exposed"

# ---- body limit (Caddy request_body max_size) ------------------------------------------------
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$w/big.txt"
st=$(req POST /api/v1/process-file -H "X-API-Key: $key_a" -H 'Content-Type: text/plain' \
  -H 'X-Processing-Type: risk_scoring' --data-binary "@$w/big.txt" || true)
[[ "$st" == 413 ]] || fail "17 MiB body: HTTP $st, expected 413; body: $(head -c 300 "$w/body")"
pass "17 MiB body over the 16MB limit -> 413 from Caddy"

# ---- the agent's HTTPS transport (src/agent/transport/http_transport.cc) against the same stack ---
agent=${SDP_E2E_AGENT:-$agent}
if [[ -x "$agent" ]]; then
  export SDP_API_KEY=$key_a
  "$agent" status --batch-id "$cb" --client-id bank_demo >"$w/status.json" 2>"$w/err" ||
    fail "agent status over HTTPS: $(cat "$w/err")"
  [[ $(jq -r .status "$w/status.json") == RECEIVED ]] || fail "agent status: $(cat "$w/status.json")"
  pass "sdp-agent status over HTTPS (X-API-Key, SDP_CA_BUNDLE)"
  set +e
  SDP_CA_BUNDLE=$SDP_HTTPS_WRONG_CA "$agent" status --batch-id "$cb" >/dev/null 2>"$w/err"
  rc=$?
  set -e
  [[ $rc != 0 ]] || fail "agent accepted a server certificate its CA bundle does not trust"
  grep -qF "TLS: server certificate not trusted by SDP_CA_BUNDLE=$SDP_HTTPS_WRONG_CA" "$w/err" ||
    fail "agent TLS message: $(cat "$w/err")"
  grep -qF "fix:" "$w/err" || fail "agent TLS message without a fix: $(cat "$w/err")"
  [[ $(wc -l <"$w/err") == 1 ]] || fail "agent TLS failure: more than one stderr line: $(cat "$w/err")"
  pass "sdp-agent with a wrong SDP_CA_BUNDLE -> exit $rc, one line: TLS: server certificate not trusted by SDP_CA_BUNDLE=..."
  set +e
  SDP_API_KEY=$key_b "$agent" status --batch-id "$cb" >/dev/null 2>"$w/err"
  rc=$?
  set -e
  [[ $rc == 5 ]] || fail "agent with another client's key: exit $rc, expected 5: $(cat "$w/err")"
  grep -q "$key_b" "$w/err" && fail "the API key appeared in the agent's error"
  pass "sdp-agent: another client's batch -> exit 5 (rejected), key not printed"
  unset SDP_API_KEY
else
  echo "note: $agent not built; agent checks skipped"
fi

echo "https_surface: $checks checks passed (real Caddy + TLS, test-only PostgREST double, PostgreSQL)"
