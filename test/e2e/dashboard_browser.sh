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
pass "seeded: the demo's data (dashboard_seed.sh), a lockout user, an upload client ($((SECONDS - t0)) s)"

rm -rf "$shots"
SDP_DASH_URL="$SDP_SERVER_URL" SDP_DASH_USERS="$users" SDP_DASH_RAW_VALUES="$w/seed/pii_values.txt" \
  SDP_DASH_SHOTS="$shots" SDP_DASH_TOKENIZED_CSV="$w/tokenized_small.csv" \
  SDP_DASH_RAW_CSV="$w/raw_small.csv" SDP_DASH_LOCK_USER=lockme SDP_DASH_CLIENT_KEY="$upload_key" \
  timeout 300 node "$repo/test/browser/dashboard.mjs" || fail "browser checks failed (above)"
pass "browser checks passed; screenshots in $shots"
echo "dashboard_browser: $checks checks passed"
