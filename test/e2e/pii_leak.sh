#!/usr/bin/env bash
# The product's core promise: after a full round trip over libpq (process-batch, then
# upload-batch / status / integrate-results by hand) and the same over HTTPS (agent -> Caddy with
# TLS -> the PostgREST test double -> PostgreSQL, lib_https.sh) of realistic customers tokenized
# with configs/customers_tokenization.yml, none of the raw values of the input's PII columns
# (every distinct value of length >= 5), no API key and no SDP_CRYPTO_KEY appear in
#   - a pg_dump of the server database,
#   - the PostgreSQL server log written meanwhile with log_statement = 'all' (and bind parameters
#     logged in full, also on error),
#   - the agent's own logs (stderr, JSON events at debug level),
#   - the tokenized file the agent sent,
#   - Caddy's log (at debug level, so every proxied request is logged with its headers; an
#     oversize upload makes it log an error with the request too) and the gateway's log.
# Prints "leaked 0 of N values". A token equal to its own row's raw value counts as a leak; a raw
# value that happens to be another row's token (an FPE'd SSN is a 9-digit number: ~rows^2/10^9
# of them are someone else's real SSN) is reported and left out of N. The scanner (test/e2e/pii_scan.py) first proves it can fail:
# on the raw input it must find all N values, and every secret in a file holding them. Secrets:
# the API key (used by the superuser and by a non-admin login role), a wrong key that is refused,
# the login role's password, the HTTPS client's API key, the authenticator's password (the
# gateway's login) and SDP_CRYPTO_KEY.
# 10,000 rows; SDP_STRESS=1: 100,000.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
rows=10000
[[ "${SDP_STRESS:-0}" == 1 ]] && rows=100000
[[ -n "${SDP_PG_LOG:-}" && -f "$SDP_PG_LOG" ]] || fail "SDP_PG_LOG not set: run inside test/with_pg.sh"
w=$e2e_work
cfg="$repo/configs/customers_tokenization.yml"
scan="$repo/test/e2e/pii_scan.py"

e2e_database sdp_e2e_pii
psql -XAtq -c "ALTER DATABASE sdp_e2e_pii SET sdp.env = 'dev'"
SDP_API_KEY=$(psql -XAtc "SELECT sdp.sdp_create_client('bank_pii')")
export SDP_API_KEY
[[ ${#SDP_API_KEY} -ge 16 ]] || fail "no API key created"

# Server logging: every statement with its parameters, for this test only (reset on any exit).
log_settings() {  # ALTER SYSTEM is not allowed in a transaction block: one -c per command
  psql -XAtq -d postgres -c "ALTER SYSTEM $1 log_statement$2" \
    -c "ALTER SYSTEM $1 log_parameter_max_length$3" \
    -c "ALTER SYSTEM $1 log_parameter_max_length_on_error$3" -c "SELECT pg_reload_conf()" >/dev/null
}
login=sdp_e2e_pii_login
pii_cleanup() {
  log_settings RESET "" "" || true
  PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres \
    -c "DROP DATABASE IF EXISTS $e2e_db WITH (FORCE)" >/dev/null 2>&1 || true
  psql -XAtq -d postgres -c "DROP ROLE IF EXISTS $login" >/dev/null 2>&1 || true
}
e2e_at_exit pii_cleanup
# A non-admin login role (a member of sdp_client, as a bank's libpq user would be).
SDP_LOGIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
SDP_WRONG_KEY=$(head -c 24 /dev/urandom | base64 | tr '/+' '_-' | tr -d '=')
export SDP_LOGIN_PASSWORD SDP_WRONG_KEY
psql -XAtq -d postgres -v pw="$SDP_LOGIN_PASSWORD" >/dev/null <<SQL
DROP ROLE IF EXISTS $login;
CREATE ROLE $login LOGIN IN ROLE sdp_client;
ALTER ROLE $login PASSWORD :'pw';
SQL
# The HTTPS client and the HTTPS stack (its setup sets the authenticator's password) are made
# before statement logging starts: the test's own setup is not what is scanned. Caddy logs at
# debug level (every proxied request with its headers) and refuses bodies over 2 MB (the oversize
# upload below makes it log an error with the request).
SDP_HTTPS_API_KEY=$(psql -XAtc "SELECT sdp.sdp_create_client('bank_pii_https')")
export SDP_HTTPS_API_KEY
[[ ${#SDP_HTTPS_API_KEY} -ge 16 ]] || fail "no API key created for the HTTPS client"
libpq_url=$SDP_SERVER_URL
SDP_CADDY_LOG_LEVEL=DEBUG SDP_HTTPS_MAX_BODY=2MB https_start sdp_e2e_pii || fail "HTTPS stack did not start"
https_url=$SDP_SERVER_URL
export SDP_SERVER_URL=$libpq_url
SDP_AUTHENTICATOR_PASSWORD=$(cat "$SDP_HTTPS_DIR/authenticator.pw")
export SDP_AUTHENTICATOR_PASSWORD
log_start=$(stat -c %s "$SDP_PG_LOG")
log_settings SET " = 'all'" " = -1"
for _ in $(seq 50); do
  [[ $(psql -XAtc "SHOW log_statement") == all ]] && break
  sleep 0.1
done
[[ $(psql -XAtc "SHOW log_statement") == all ]] || fail "log_statement = 'all' did not take effect"

python3 "$repo/bench/gen_customers.py" "$rows" "$w/raw.csv" --seed 4242
n=$(python3 "$scan" extract "$w/raw.csv" "$cfg" "$w/scan")
echo "$rows rows, $n distinct raw PII values of length >= 5"

# The round trip, as a client would run it; the agent logs at debug level, JSON on stderr.
export SDP_LOG_LEVEL=debug SDP_LOG_FORMAT=json
start=$(date +%s.%N)
"$agent" process-batch --raw-input "$w/raw.csv" --output "$w/merged.csv" --config "$cfg" \
  --vault "$w/vault.db" --client-id bank_pii --processing-type risk_scoring --use-dev-processor \
  --chunk-kb 1024 >"$w/summary.json" 2>"$w/agent-process.log"
grep -q '"status":"PROCESSED"' "$w/summary.json" || fail "not processed: $(cat "$w/summary.json")"
sent="$w/merged.csv.tokenized.csv"
[[ -f "$sent" ]] || fail "the tokenized file process-batch sent is not at $sent"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$w/summary.json")
"$agent" upload-batch --file "$sent" --client-id bank_pii --processing-type risk_scoring \
  --chunk-kb 1024 >"$w/upload.json" 2>"$w/agent-upload.log"
grep -q "\"batch_id\":\"$id\"" "$w/upload.json" || fail "upload-batch: another batch: $(cat "$w/upload.json")"
"$agent" status --batch-id "$id" >"$w/status.json" 2>"$w/agent-status.log"
"$agent" integrate-results --batch-id "$id" --raw-input "$w/raw.csv" --output "$w/merged2.csv" \
  --config "$cfg" >"$w/integrate.json" 2>"$w/agent-integrate.log"
cmp -s "$w/merged.csv" "$w/merged2.csv" || fail "integrate-results differs from process-batch"
# The same batch as the non-admin role (its password from a pgpass file), then a wrong key.
printf '127.0.0.1:%s:*:%s:%s\n' "$PGPORT" "$login" "$SDP_LOGIN_PASSWORD" >"$w/pgpass"
chmod 600 "$w/pgpass"
login_url="postgresql://$login@127.0.0.1:$PGPORT/sdp_e2e_pii"
PGPASSFILE="$w/pgpass" "$agent" upload-batch --file "$sent" --client-id bank_pii \
  --processing-type risk_scoring --chunk-kb 1024 --server-url "$login_url" \
  >"$w/upload-login.json" 2>"$w/agent-upload-login.log"
grep -q "\"batch_id\":\"$id\"" "$w/upload-login.json" || fail "upload-batch as $login: $(cat "$w/upload-login.json")"
PGPASSFILE="$w/pgpass" "$agent" status --batch-id "$id" --server-url "$login_url" \
  >"$w/status-login.json" 2>"$w/agent-status-login.log"
grep -q '"status":"PROCESSED"' "$w/status-login.json" || fail "status as $login"
set +e
PGPASSFILE="$w/pgpass" SDP_API_KEY=$SDP_WRONG_KEY "$agent" status --batch-id "$id" \
  --server-url "$login_url" >/dev/null 2>"$w/agent-wrong-key.log"
rc=$?
set -e
[[ $rc == 5 ]] && grep -q 'PT401' "$w/agent-wrong-key.log" || fail "wrong key: exit $rc, $(cat "$w/agent-wrong-key.log")"
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "round trip of %d rows: %.1f s\n", '"$rows"', b - a }'
[[ $(wc -l <"$w/merged.csv") == $((rows + 1)) ]] || fail "merged rows"
pass "round trip of $rows rows over libpq with an API key, as superuser and as a non-admin role; a wrong key is refused"

# The same round trip over HTTPS, as another client: an upload over Caddy's body limit first
# (413, the batch aborted), then process-batch, upload-batch, status, integrate-results and a
# wrong key (401).
start=$(date +%s.%N)
set +e
SDP_API_KEY=$SDP_HTTPS_API_KEY "$agent" upload-batch --file "$sent" --client-id bank_pii_https \
  --processing-type risk_scoring --chunk-kb 4096 --server-url "$https_url" \
  >"$w/https-oversize.json" 2>"$w/agent-https-oversize.log"
rc=$?
set -e
[[ $rc == 5 ]] && grep -q '413' "$w/agent-https-oversize.log" || fail "oversize upload over HTTPS: exit $rc, $(cat "$w/agent-https-oversize.log")"
libpq_key=$SDP_API_KEY
export SDP_API_KEY=$SDP_HTTPS_API_KEY SDP_SERVER_URL=$https_url
"$agent" process-batch --raw-input "$w/raw.csv" --output "$w/merged-https.csv" --config "$cfg" \
  --vault "$w/vault.db" --client-id bank_pii_https --processing-type risk_scoring \
  --use-dev-processor --chunk-kb 1024 >"$w/https-summary.json" 2>"$w/agent-https-process.log" ||
  fail "process-batch over HTTPS: $(tail -n 3 "$w/agent-https-process.log")"
grep -q '"status":"PROCESSED"' "$w/https-summary.json" || fail "not processed over HTTPS: $(cat "$w/https-summary.json")"
https_sent="$w/merged-https.csv.tokenized.csv"
https_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$w/https-summary.json")
[[ $https_id != "$id" ]] || fail "the HTTPS client got the libpq client's batch"
"$agent" upload-batch --file "$https_sent" --client-id bank_pii_https --processing-type risk_scoring \
  --chunk-kb 1024 >"$w/https-upload.json" 2>"$w/agent-https-upload.log"
grep -q "\"batch_id\":\"$https_id\"" "$w/https-upload.json" || fail "upload-batch over HTTPS: another batch: $(cat "$w/https-upload.json")"
"$agent" status --batch-id "$https_id" --client-id bank_pii_https >"$w/https-status.json" 2>"$w/agent-https-status.log"
grep -q '"status":"PROCESSED"' "$w/https-status.json" || fail "status over HTTPS: $(cat "$w/https-status.json")"
"$agent" integrate-results --batch-id "$https_id" --raw-input "$w/raw.csv" --output "$w/merged-https2.csv" \
  --config "$cfg" --client-id bank_pii_https >"$w/https-integrate.json" 2>"$w/agent-https-integrate.log"
cmp -s "$w/merged.csv" "$w/merged-https.csv" || fail "HTTPS merged output differs from libpq's"
cmp -s "$w/merged.csv" "$w/merged-https2.csv" || fail "HTTPS integrate-results differs from libpq's"
set +e
SDP_API_KEY=$SDP_WRONG_KEY "$agent" status --batch-id "$https_id" --client-id bank_pii_https \
  >/dev/null 2>"$w/agent-https-wrong-key.log"
rc=$?
set -e
[[ $rc == 5 ]] && grep -q '401' "$w/agent-https-wrong-key.log" || fail "wrong key over HTTPS: exit $rc, $(cat "$w/agent-https-wrong-key.log")"
export SDP_API_KEY=$libpq_key SDP_SERVER_URL=$libpq_url
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "round trip of %d rows over HTTPS: %.1f s\n", '"$rows"', b - a }'
# Caddy and the gateway stopped (their logs complete), the logs kept for the scan.
https_kill "$https_caddy_pid"
https_kill "$https_gateway_pid"
cp "$SDP_HTTPS_DIR/caddy.log" "$w/caddy.log"
cp "$SDP_HTTPS_DIR/gateway.log" "$w/gateway.log"
https_stop
# The logs really hold the requests (else their scan proves nothing): Caddy every proxied request
# with its headers and the 413 with the request, the gateway one line per request.
grep -q '"X-Client-Id":\["bank_pii_https"\]' "$w/caddy.log" || fail "Caddy's log has no request headers"
grep '"logger":"http.log.error"' "$w/caddy.log" | grep 'request body too large' |
  grep -q '"X-Client-Id":\["bank_pii_https"\]' || fail "Caddy's log has no error entry with the request for the 413"
grep -q 'POST /rpc/batch_append -> 200' "$w/gateway.log" || fail "the gateway's log has no request"
pass "round trip of $rows rows over HTTPS (Caddy, gateway): same merged output; 413 over the body limit; a wrong key is refused"

log_settings RESET "" ""
tail -c +"$((log_start + 1))" "$SDP_PG_LOG" >"$w/server.log"
# The server log really holds the statements and their parameters (else the scan proves nothing).
grep -q 'sdp_batch_append' "$w/server.log" || fail "server log has no logged statement"
grep -q 'DETAIL:  parameters: \$1 = ' "$w/server.log" || fail "server log has no bind parameters"
# ... and the HTTPS requests' statements: the settings with the request headers, as PostgREST
# sends them (bind parameters; sdp_authenticator's log_parameter_max_length = 0 keeps them out).
grep -q "set_config('request.headers', \$6, true)" "$w/server.log" || fail "server log has no HTTPS request"
pg_dump --no-owner sdp_e2e_pii >"$w/server_dump.sql"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.tokenized_record") == "$((rows * 2))" ]] || fail "rows on the server (a batch per client)"
first_token=$(sed -n '2p' "$sent" | cut -d, -f1)
grep -qF -- "$first_token" "$w/server_dump.sql" || fail "the dump does not hold the tokenized rows"
cat "$w"/agent-*.log "$w"/summary.json "$w"/upload*.json "$w"/status*.json "$w"/integrate.json \
  "$w"/https-*.json >"$w/agent.log"
echo "server log slice $(wc -l <"$w/server.log") lines, dump $(du -h "$w/server_dump.sql" | cut -f1)"

secret_vars="SDP_API_KEY SDP_CRYPTO_KEY SDP_WRONG_KEY SDP_LOGIN_PASSWORD SDP_HTTPS_API_KEY SDP_AUTHENTICATOR_PASSWORD"
secrets=""
for v in $secret_vars; do
  secrets+=" --secret-env $v"
  printf '%s=%s\n' "$v" "${!v}"
done >"$w/secrets.env"
# The scanner can fail: on the raw input it finds every value, and every secret in a file of them.
python3 "$scan" scan "$w/scan" $secrets --expect-all \
  "raw=$w/raw.csv" "secrets=$w/secrets.env" || fail "the scanner misses values it must find"
pass "scanner finds all $n values in the raw input and all 6 secrets"

python3 "$scan" scan "$w/scan" $secrets --tokens "$w/raw.csv" "$sent" --tokens "$w/raw.csv" "$https_sent" \
  "pg_dump=$w/server_dump.sql" "server_log=$w/server.log" "agent_logs=$w/agent.log" \
  "sent_file=$sent" "https_sent_file=$https_sent" "caddy_log=$w/caddy.log" "gateway_log=$w/gateway.log" ||
  fail "raw PII or a secret left the client (columns above)"
pass "no raw PII value, API key, password or SDP_CRYPTO_KEY in the dump, server log, agent logs, sent file, Caddy's or the gateway's log"
echo "$checks checks passed"
