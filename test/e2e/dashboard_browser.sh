#!/usr/bin/env bash
# The web dashboard (issue 22, docs/dashboard.md) in a real browser: Debian's chromium, headless,
# driven by playwright-core (test/browser/dashboard.mjs; no browser is downloaded), against real
# Caddy (docker/caddy/Caddyfile, /app/ served from build/dashboard) + the test gateway (a
# PostgREST double, test/gateway/) + PostgreSQL with the sdp extension + a real Prometheus,
# seeded with the demo's kind of data: synthetic customers tokenized by sdp-agent, uploaded and
# scored, one staff user per role, a DP dataset with grants.
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

# ---- seed ------------------------------------------------------------------------------------
e2e_database sdp_e2e_dashboard
rows=${SDP_DASH_ROWS:-300}
python3 "$repo/bench/gen_customers.py" "$rows" "$w/raw.csv"
"$agent" tokenize-config --config "$repo/configs/customers_tokenization.yml" \
  --input "$w/raw.csv" --output "$w/tokenized.csv" --vault "$w/vault.db" >/dev/null 2>&1 ||
  fail "tokenize-config of the seed failed"
# The raw PII values the leak crawl looks for: every cell of the columns the config tokenizes.
python3 - "$w/raw.csv" "$repo/configs/customers_tokenization.yml" >"$w/raw_values.txt" <<'PY'
import csv, re, sys
cols = [m.group(1) for m in re.finditer(r'^  ([a-z_]+):\s*\{', open(sys.argv[2]).read(), re.M)]
seen = set()
for row in csv.DictReader(open(sys.argv[1], newline='')):
    for c in cols:
        v = row[c].strip()
        if v and v not in seen:
            seen.add(v)
            print(v)
PY
[[ $(wc -l <"$w/raw_values.txt") -gt $rows ]] || fail "too few raw values extracted"
# A small raw file for the upload page: the PII firewall must refuse it.
head -n 6 "$w/raw.csv" >"$w/raw_small.csv"
head -n 21 "$w/tokenized.csv" >"$w/tokenized_small.csv"

key=sdp_e2e_key_dashboard_0123456789abcdef0
https_client bank_demo "$key"
export SDP_SERVER_URL="postgresql://postgres@127.0.0.1:$PGPORT/sdp_e2e_dashboard"
upload=$("$agent" upload-batch --file "$w/tokenized.csv" --client-id bank_demo \
  --processing-type risk_scoring --config "$repo/configs/customers_tokenization.yml" 2>/dev/null) ||
  fail "seed upload failed"
batch=$(jq -r .batch_id <<<"$upload")
psql -XAtq -v ON_ERROR_STOP=1 -v b="$batch" -c "SELECT status FROM sdp.sdp_process_batch(:'b')" >/dev/null ||
  fail "seed processing failed"

# One staff user per role (passwords random, in a 0600 file, given to psql on stdin, never argv),
# and one more that the test locks out.
drop_roles() { psql -XAtq -d postgres -c "DROP ROLE IF EXISTS e2e_dash_dp" >/dev/null 2>&1; }
drop_roles
e2e_at_exit drop_roles
(umask 077 && python3 - >"$w/users.json" <<'PY'
import json, secrets
print(json.dumps({u: secrets.token_hex(12) for u in
                  ["admin", "engineer", "analyst", "auditor", "viewer", "dp_analyst", "lockme"]}))
PY
)
python3 - "$w/users.json" <<'PY' | psql -XAtq -v ON_ERROR_STOP=1 >/dev/null || fail "seeding staff failed"
import json, sys
users = json.load(open(sys.argv[1]))
roles = {"admin": "sdp_admin", "engineer": "sdp_engineer", "analyst": "sdp_analyst",
         "auditor": "sdp_auditor", "viewer": "sdp_viewer", "dp_analyst": "e2e_dash_dp",
         "lockme": "sdp_viewer"}
q = lambda s: "'" + s.replace("'", "''") + "'"
print("CREATE TABLE public.dash_people AS SELECT 'p' || i AS person, (i % 7) * 10 AS amount"
      " FROM generate_series(1, 400) i;")
print("SELECT (sdp.sdp_dp_register('dash_people', 'public.dash_people', 'person', 1, 10)).name;")
print("CREATE ROLE e2e_dash_dp NOLOGIN IN ROLE sdp_dp_analyst;")
print("SELECT grantee FROM sdp.sdp_dp_grant('e2e_dash_dp', 'dash_people', 2);")
print("SELECT sdp.sdp_api_enable_analyst('e2e_dash_dp');")
for u, pw in users.items():
    print("SELECT sdp.sdp_staff_create(%s, %s, %s);" % (q(u), q(roles[u]), q(pw)))
PY
pass "seeded: $rows synthetic customers tokenized, uploaded and scored (batch $batch), 7 staff users, DP dataset dash_people"

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

# ---- Caddy + gateway, then the browser -------------------------------------------------------
export SDP_DASHBOARD_ROOT="$dash"
export SDP_PROMETHEUS_UPSTREAM="127.0.0.1:$prom_port"
https_start sdp_e2e_dashboard
# Sign-in signs its tokens with PostgREST's jwt-secret (here the gateway's), given on stdin.
python3 - "$SDP_HTTPS_JWT_SECRET_FILE" <<'PY' | psql -XAtq -v ON_ERROR_STOP=1 >/dev/null || fail "setting the JWT secret failed"
import sys
secret = open(sys.argv[1]).read().rstrip("\n")
print("SELECT sdp.sdp_set_jwt_secret('%s');" % secret.replace("'", "''"))
PY

rm -rf "$shots"
SDP_DASH_URL="$SDP_SERVER_URL" SDP_DASH_USERS="$w/users.json" SDP_DASH_RAW_VALUES="$w/raw_values.txt" \
  SDP_DASH_SHOTS="$shots" SDP_DASH_TOKENIZED_CSV="$w/tokenized_small.csv" \
  SDP_DASH_RAW_CSV="$w/raw_small.csv" SDP_DASH_LOCK_USER=lockme \
  timeout 300 node "$repo/test/browser/dashboard.mjs" || fail "browser checks failed (above)"
pass "browser checks passed; screenshots in $shots"
echo "dashboard_browser: $checks checks passed"
