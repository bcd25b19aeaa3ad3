#!/usr/bin/env bash
# The web dashboard (issue 22, docs/dashboard.md) in a real browser: Debian's chromium, headless,
# driven by playwright-core (test/browser/dashboard.mjs; no browser is downloaded), against real
# Caddy (docker/caddy/Caddyfile, /app/ served from build/dashboard) + the test gateway (a
# PostgREST double, test/gateway/) + PostgreSQL with the sdp extension + a real Prometheus,
# seeded with the demo's data by test/e2e/dashboard_seed.sh (synthetic customers tokenized by
# sdp-agent, uploaded and scored; one staff user per role; a DP dataset and grant; a hold, a
# retention policy, a firewall refusal, an edited record).
# Checked here: the build (no inline <script> in index.html, at most 250 KB of gzipped JS);
# checked in the browser: see test/browser/dashboard.mjs. Screenshots: build/dashboard-screenshots/.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
w=$e2e_work
dash="$repo/${BUILDDIR:-build}/dashboard"
shots="$repo/${BUILDDIR:-build}/dashboard-screenshots"

for tool in node npm prometheus; do
  command -v "$tool" >/dev/null || fail "$tool missing; fix: make deps"
done
[[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium missing; fix: make deps"
[[ -f "$dash/index.html" ]] || fail "$dash/index.html missing; fix: make dashboard"

# ---- the build: CSP-clean and small ---------------------------------------------------------
# Every <script> of index.html loads a file (src=...): an inline one would need 'unsafe-inline'.
if grep -o '<script[^>]*>' "$dash/index.html" | grep -qv 'src='; then
  fail "index.html has an inline <script>: $(grep -o '<script[^>]*>' "$dash/index.html")"
fi
grep -qi '<style' "$dash/index.html" && fail "index.html has an inline <style>"
grep -qi ' style=' "$dash/index.html" && fail "index.html has a style attribute"
gz=0
for f in "$dash"/assets/*.js; do gz=$((gz + $(gzip -9c "$f" | wc -c))); done
((gz > 0 && gz <= 250 * 1024)) || fail "gzipped JavaScript is $gz bytes (limit 256000)"
pass "build/dashboard: no inline script or style in index.html; $gz bytes of gzipped JS (limit 250 KB)"

# ---- the browser test's own dependencies, exactly as its lockfile pins them ------------------
(cd "$repo/test/browser" &&
  if ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null
  fi) || fail "npm ci in test/browser failed"

# ---- Prometheus (the monitoring page's status chips), scraping itself -----------------------
prom_port=$(https_free_port)
cat >"$w/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$prom_port"]
YAML
prometheus --config.file="$w/prometheus.yml" --storage.tsdb.path="$w/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$w/prometheus.log" 2>&1 &
prom_pid=$!
e2e_at_exit "e2e_stop_pid $prom_pid"
for _ in $(seq 150); do
  curl -fsS --max-time 2 "http://127.0.0.1:$prom_port/api/v1/query?query=up" 2>/dev/null | grep -q '"value"' && break
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus died: $(tail -n 5 "$w/prometheus.log")"
  sleep 0.2
done

# ---- Caddy + gateway (checking the dashboard audience, as PostgREST's jwt-aud) ---------------
t0=$SECONDS
e2e_database sdp_e2e_dashboard
export SDP_DASHBOARD_ROOT="$dash"
# The local agent's upload service (below) on a port of its own; the CSP's connect-src names it.
agent_port=$(https_free_port)
# (8001 too: the default address the page probes first, which must not be a CSP violation.)
export SDP_AGENT_ORIGIN="http://127.0.0.1:8001 http://127.0.0.1:$agent_port"
export SDP_PROMETHEUS="127.0.0.1:$prom_port"
SDP_HTTPS_JWT_AUD=sdp-dashboard https_start sdp_e2e_dashboard

# ---- the demo's data (test/e2e/dashboard_seed.sh) ---------------------------------------------
users=$(SDP_JWT_SECRET_FILE=$SDP_HTTPS_JWT_SECRET_FILE SDP_DASH_SEED_DIR="$w/seed" \
  SDP_DASH_SEED_ROWS="${SDP_DASH_ROWS:-100}" bash "$repo/test/e2e/dashboard_seed.sh" 2>"$w/seed.log") ||
  fail "dashboard_seed.sh: $(tail -n 5 "$w/seed.log")"
# One more staff user, for the lockout (its password joins the 0600 file), and a client whose
# API key the upload page is given.
python3 - "$users" <<'PY' | psql -XAtq -v ON_ERROR_STOP=1 >/dev/null || fail "seeding the lockout user failed"
import json, secrets, sys
users = json.load(open(sys.argv[1]))
users["lockme"] = secrets.token_hex(12)
json.dump(users, open(sys.argv[1], "w"))
print("SELECT sdp.sdp_staff_create('lockme', 'sdp_viewer', '%s');" % users["lockme"])
PY
upload_key=sdp_e2e_key_dash_upload_0123456789abcdef
https_client dash_upload "$upload_key"
# The upload page's files: a few tokenized rows (tokens, no FPE digits, the model's columns) and
# a few raw rows (the PII firewall must refuse them).
python3 - "$w/seed/tokenized1.csv" "$w/tokenized_small.csv" <<'PY'
import csv, sys
keep = ["customer_id", "email", "age", "income", "balance", "num_transactions"]
rows = list(csv.DictReader(open(sys.argv[1], newline="")))[:20]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=keep, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
PY
head -n 6 "$w/seed/raw1.csv" >"$w/raw_small.csv"
# A finished key rotation on record, for the compliance report's key_rotations (sdp.key_rotation).
psql -XAtq -v ON_ERROR_STOP=1 -c "INSERT INTO sdp.key_rotation (client_id, domain, kind, from_version,
    to_version, to_key_id, state, pairs, rows_done, created_by, finished_at)
  VALUES ('bank_demo', 'customers.email', 'HASH', 1, 2, 'a1b2c3d4', 'finished', 200, 200, 'sdp_admin', now())" >/dev/null ||
  fail "recording a key rotation failed"
pass "seeded: the demo's data (dashboard_seed.sh), a lockout user, an upload client ($((SECONDS - t0)) s)"

# ---- the local agent: sdp-agent serve --upload-config (docs/dashboard.md, "Upload") -----------
# The page hands it raw CSVs; it tokenizes them with the demo's config and uploads the tokens
# through Caddy as client dash_upload. Each attack a web page could try is performed against it.
agent_key=$(python3 -c 'import secrets; print("agent-" + secrets.token_hex(16))')
agent_url="http://127.0.0.1:$agent_port"
SDP_CRYPTO_KEY=Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw= SDP_API_KEY="$upload_key" \
  SDP_PSEUDONYMIZE_API_KEY="$agent_key" SDP_REPERSONALIZE_API_KEY="r-$agent_key" \
  "$repo/${BUILDDIR:-build}/sdp-agent" serve --rules "$repo/configs/json_pseudonymization.yml" \
  --vault "$w/agent_vault.db" --pseudonymize-port "$agent_port" --repersonalize-port 0 \
  --port-file "$w/agent.ports" --upload-config "$repo/configs/customers_tokenization.yml" \
  --cors-origin "$SDP_SERVER_URL" --client-id dash_upload --upload-max-bytes 1000000 \
  >"$w/agent.log" 2>&1 &
agent_pid=$!
e2e_at_exit "e2e_stop_pid $agent_pid"
for _ in $(seq 100); do
  [[ -s "$w/agent.ports" ]] && break
  kill -0 "$agent_pid" 2>/dev/null || fail "sdp-agent serve died: $(tail -n 5 "$w/agent.log")"
  sleep 0.1
done
[[ -s "$w/agent.ports" ]] || fail "sdp-agent serve did not start"
# status [headers of the answer into $w/h] for a request to the agent
agent_req() { curl -sS -o "$w/agent_body" -D "$w/h" -w '%{http_code}' "$@"; }
probe=$(agent_req -H "Origin: $SDP_SERVER_URL" "$agent_url/upload")
[[ $probe == 200 ]] && grep -qi "^access-control-allow-origin: $SDP_SERVER_URL" "$w/h" ||
  fail "probe from the dashboard's origin: $probe $(cat "$w/agent_body")"
st=$(agent_req -X OPTIONS -H "Origin: $SDP_SERVER_URL" -H 'Access-Control-Request-Method: POST' \
  -H 'Access-Control-Request-Headers: x-api-key,content-type,x-processing-type' "$agent_url/upload")
[[ $st == 204 ]] && grep -qi '^access-control-allow-headers: .*X-API-Key' "$w/h" ||
  fail "preflight from the dashboard's origin: $st"
st=$(agent_req -X OPTIONS -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: POST' \
  -H 'Access-Control-Request-Headers: x-api-key' "$agent_url/upload")
[[ $st == 403 ]] && ! grep -qi '^access-control-allow' "$w/h" || fail "preflight from another origin: $st"
printf 'customer_id,email\nC-1,a@b.example\n' >"$w/two_rows.csv"
st=$(agent_req -H 'Origin: https://evil.example' -H "X-API-Key: $agent_key" --data-binary @"$w/two_rows.csv" "$agent_url/upload")
[[ $st == 403 ]] && ! grep -qi '^access-control-allow' "$w/h" || fail "POST from another origin with the key: $st"
st=$(agent_req -H "Host: rebound.example:$agent_port" -H "X-API-Key: $agent_key" --data-binary @"$w/two_rows.csv" "$agent_url/upload")
[[ $st == 403 ]] || fail "POST with a rebound Host: $st"
st=$(agent_req -H "Origin: $SDP_SERVER_URL" --data-binary @"$w/two_rows.csv" "$agent_url/upload")
[[ $st == 401 ]] || fail "POST without the key: $st"
st=$(agent_req -H "Origin: $SDP_SERVER_URL" -H 'X-API-Key: wrong' --data-binary @"$w/two_rows.csv" "$agent_url/upload")
[[ $st == 401 ]] || fail "POST with a wrong key: $st"
head -c 1000001 /dev/zero | tr '\0' 'a' >"$w/big.csv"
st=$(agent_req -H "X-API-Key: $agent_key" --data-binary @"$w/big.csv" "$agent_url/upload")
[[ $st == 413 ]] || fail "POST over --upload-max-bytes: $st"
# A malformed CSV: one line naming the line and the cause, and no batch on the server.
batches_before=$(psql -XAtq -c "SELECT count(*) FROM sdp.processing_batch WHERE client_id = 'dash_upload'")
# (the header and a row of the raw file, then a line with an unclosed quote)
{ head -n 2 "$w/raw_small.csv"; echo '"unclosed,1'; } >"$w/bad.csv"
st=$(agent_req -H "X-API-Key: $agent_key" -H 'Content-Type: text/csv' --data-binary @"$w/bad.csv" "$agent_url/upload")
[[ $st == 202 ]] || fail "POST of a malformed CSV: $st $(cat "$w/agent_body")"
bad_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["upload_id"])' "$w/agent_body")
for _ in $(seq 100); do
  agent_req -H "X-API-Key: $agent_key" "$agent_url/upload/$bad_id" >/dev/null
  grep -q '"state":"failed"' "$w/agent_body" && break
  sleep 0.1
done
grep -q '"error":"line 3: unterminated quoted field' "$w/agent_body" ||
  fail "malformed CSV: $(cat "$w/agent_body")"
[[ $(psql -XAtq -c "SELECT count(*) FROM sdp.processing_batch WHERE client_id = 'dash_upload'") == "$batches_before" ]] ||
  fail "a malformed CSV opened a batch on the server"
pass "local agent: CORS for the dashboard's origin only, foreign origin and rebound Host refused (403) even with the key, no key 401, over the limit 413, a malformed CSV fails with its line and opens no batch"

rm -rf "$shots"
SDP_DASH_URL="$SDP_SERVER_URL" SDP_DASH_USERS="$users" SDP_DASH_RAW_VALUES="$w/seed/pii_values.txt" \
  SDP_DASH_SHOTS="$shots" SDP_DASH_TOKENIZED_CSV="$w/tokenized_small.csv" \
  SDP_DASH_RAW_CSV="$w/raw_small.csv" SDP_DASH_LOCK_USER=lockme SDP_DASH_CLIENT_KEY="$upload_key" \
  SDP_DASH_AGENT_URL="$agent_url" SDP_DASH_AGENT_KEY="$agent_key" SDP_DASH_AGENT_BATCH="$w/agent_batch" \
  SDP_DASH_OTHER_ORIGIN="http://127.0.0.1:$prom_port/graph" \
  timeout 300 node "$repo/test/browser/dashboard.mjs" || fail "browser checks failed (above)"
pass "browser checks passed; screenshots in $shots"

# The batch the page uploaded through the agent holds tokens only: none of the raw file's PII
# values is in its stored rows, and every row of the raw file arrived.
agent_batch=$(cat "$w/agent_batch" 2>/dev/null)
[[ $agent_batch =~ ^[0-9a-f-]{36}$ ]] || fail "no batch id from the agent upload"
psql -XAtq -c "SELECT jsonb_build_array(record_key) || to_jsonb(fields)
                FROM sdp.tokenized_record WHERE batch_id = '$agent_batch'" >"$w/agent_rows.txt"
python3 - "$w/raw_small.csv" "$w/agent_rows.txt" <<'PY' || fail "agent batch check failed"
import csv, json, sys
pii = ["customer_id", "first_name", "last_name", "email", "phone", "ssn", "card_number", "iban",
       "birth_date", "address"]
raw_rows = list(csv.DictReader(open(sys.argv[1], newline="")))
values = {r[c] for r in raw_rows for c in pii if r.get(c)}
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
cells = {c for row in rows for c in row}
text = open(sys.argv[2]).read()
# A raw value as a whole stored cell, or (long ones: e-mails, addresses) anywhere in the rows.
found = [v for v in values if v in cells or (len(v) >= 8 and v in text)]
if len(rows) != len(raw_rows) or found:
    print(f"stored rows {len(rows)} (raw {len(raw_rows)}), raw values found: {len(found)}")
    sys.exit(1)
print(f"{len(rows)} rows stored, 0 of {len(values)} raw values in them")
PY
pass "the agent's batch $agent_batch: every raw row stored, as tokens only (no raw PII value in its rows)"
grep -qF "$agent_key" "$w/agent.log" && fail "the agent's key is in its log"
[[ $(grep -c '"event":"local_upload_received"' "$w/agent.log") == 2 ]] ||
  fail "the agent received $(grep -c '"event":"local_upload_received"' "$w/agent.log") uploads (expected 2: the malformed CSV and the page's; a foreign page's must never arrive)"
pass "the agent's log: no key, and no upload but the page's and the malformed one"
echo "dashboard_browser: $checks checks passed"
