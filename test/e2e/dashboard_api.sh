#!/usr/bin/env bash
# The dashboard's server side over HTTPS (issue 22, docs/dashboard.md "Server side: sign-in,
# roles and endpoints"): real Caddy (docker/caddy/Caddyfile) in front of the PostgREST double
# (test/gateway/, verifying JWTs as PostgREST v12 with jwt-aud "sdp-dashboard") in front of
# PostgreSQL with the demo data of test/e2e/dashboard_seed.sh.
#   - sign-in (POST /rpc/login) for each of the six staff users, and one call per role with its
#     JWT: what the role may read answers 200, what it may not 403 from the database;
#   - refused tokens: another secret, expired, alg none, another audience, a role claim naming no
#     role, a governance role without a staff user behind it, a dashboard token on the API-key
#     surface (through Caddy and straight at the gateway);
#   - lockout over HTTP: 5 failures, then 429 with Retry-After even for the right password, audited;
#   - the seeds' REST paths (/healthz, /api/v1/jobs..., /api/v1/records..., PUT, /api/v1/audit);
#   - /prometheus/api/v1/query only with a valid dashboard JWT, which never reaches Prometheus;
#   - no raw PII value of the demo in any response body.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
e2e_database sdp_e2e_dash_api
w=$e2e_work
bodies="$w/bodies"
mkdir -p "$bodies"

# A stand-in for Prometheus's HTTP API: answers /api/v1/query[_range] and records the
# Authorization header of each request it gets (none may carry one).
cat >"$w/fake_prom.py" <<'PY'
import http.server, json, sys
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.write("%s auth=%s\n" % (self.path, self.headers.get("Authorization") or "-")); log.flush()
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "job": "sdp"}, "value": [0, "1"]}]}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
/usr/bin/python3 "$w/fake_prom.py" "$w/prom.port" "$w/prom.log" &
prom_pid=$!
e2e_at_exit "e2e_stop_pid $prom_pid"
for _ in $(seq 50); do [[ -s "$w/prom.port" ]] && break; sleep 0.1; done
export SDP_PROMETHEUS="127.0.0.1:$(cat "$w/prom.port")"

SDP_HTTPS_JWT_AUD=sdp-dashboard https_start sdp_e2e_dash_api
pw=$(SDP_JWT_SECRET_FILE=$SDP_HTTPS_JWT_SECRET_FILE SDP_DASH_SEED_DIR="$w/seed" SDP_DASH_SEED_ROWS=40 \
  bash "$repo/test/e2e/dashboard_seed.sh" 2>"$w/seed.log") || fail "dashboard_seed.sh: $(tail -n 5 "$w/seed.log")"
[[ $(stat -c %a "$pw") == 600 ]] || fail "the password file is not 0600"
batch=$(jq -r '.batches[1]' "$w/seed/seed.json")
record=$(jq -r '.edited_record' "$w/seed/seed.json")
pass "demo data seeded (2 scored batches, 6 staff users, DP grant, hold, retention, firewall refusal, record edit)"

# req METHOD PATH [curl args...] -> HTTP status; body in $w/body, and a copy in $bodies for the
# leak scan (req runs in a command substitution: a counter would not survive it, a file does).
req() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 60 --cacert "$SDP_CA_BUNDLE" -X "$method" -o "$w/body" -D "$w/headers" \
    -w '%{http_code}' "$@" "$SDP_SERVER_URL$path"
  cp "$w/body" "$(mktemp "$bodies/body.XXXXXX")"
}
req_gateway() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 60 -X "$method" -o "$w/body" -D "$w/headers" -w '%{http_code}' "$@" \
    "$SDP_GATEWAY_URL$path"
}
expect() {  # status code what
  [[ "$st" == "$1" ]] || fail "$3: HTTP $st, expected $1; body: $(head -c 400 "$w/body")"
  if [[ -n "$2" ]]; then
    [[ $(jq -r .code "$w/body") == "$2" ]] || fail "$3: code $(jq -r .code "$w/body"), expected $2"
  fi
}
# login USER [PASSWORD-OVERRIDE]: the body is built from the 0600 file on stdin, never argv.
login() {
  if [[ $# -eq 1 ]]; then
    jq -c --arg u "$1" '{username: $u, password: .[$u]}' "$pw" |
      req POST /rpc/login -H 'Content-Type: application/json' --data-binary @-
  else
    jq -nc --arg u "$1" --arg p "$2" '{username: $u, password: $p}' |
      req POST /rpc/login -H 'Content-Type: application/json' --data-binary @-
  fi
}
declare -A tok
for u in admin engineer analyst auditor viewer dp_analyst; do
  st=$(login "$u")
  expect 200 "" "login $u"
  jq -e --arg u "$u" '.username == $u and (.token | split(".") | length == 3) and (.capabilities | length > 0)
                      and (.expires_at | test("Z$"))' "$w/body" >/dev/null || fail "login $u body: $(cat "$w/body")"
  tok[$u]=$(jq -r .token "$w/body")
done
claims=$(/usr/bin/python3 -c 'import base64, sys; p = sys.argv[1].split(".")[1]
print(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode())' "${tok[engineer]}")
jq -e '.role == "sdp_engineer" and .sub == "engineer" and .aud == "sdp-dashboard" and .exp - .iat == 900' \
  <<<"$claims" >/dev/null || fail "engineer's claims: $claims"
pass "POST /rpc/login over HTTPS for the six staff users -> 200, HS256 token (role, sub, aud, 15 min)"

bearer() { echo "Authorization: Bearer ${tok[$1]}"; }
# One call per role: allowed 200, refused 403 (42501 from the function).
check_call() {  # user method path expected-status
  st=$(req "$2" "$3" -H "$(bearer "$1")")
  [[ "$st" == "$4" ]] || fail "$1 $2 $3: HTTP $st, expected $4; body: $(head -c 300 "$w/body")"
}
check_call viewer GET /rpc/dash_overview 200
jq -e '.batches_by_status.PROCESSED == 2 and (.audit_head.entry_hash | length == 64)' "$w/body" >/dev/null ||
  fail "overview: $(cat "$w/body")"
check_call viewer GET "/rpc/dash_batches?status=PROCESSED&row_limit=1" 200
jq -e '.total == 2 and (.items | length == 1)' "$w/body" >/dev/null || fail "batches: $(cat "$w/body")"
check_call viewer GET "/rpc/dash_records?batch_id=$batch" 403
check_call viewer GET /rpc/dash_audit 403
check_call analyst GET "/rpc/dash_records?batch_id=$batch&row_limit=5&sort=-score" 200
jq -e '.total == 40 and (.items | length == 5) and all(.items[]; .integrity == "ok")' "$w/body" >/dev/null ||
  fail "records: $(head -c 400 "$w/body")"
check_call analyst GET "/rpc/dash_record_history?record_id=$record" 403
check_call engineer GET "/rpc/dash_record_history?record_id=$record" 200
jq -e '.items | length == 2' "$w/body" >/dev/null || fail "history: $(cat "$w/body")"
check_call engineer GET /rpc/dash_compliance 403
check_call auditor GET /rpc/dash_compliance 200
jq -e '(.holds | length == 1) and (.retention | length == 1) and .audit_head.verified' "$w/body" >/dev/null ||
  fail "compliance: $(head -c 400 "$w/body")"
check_call auditor GET "/rpc/dash_access_log?row_limit=5" 200
check_call admin GET /rpc/dash_classification 200
jq -e '.firewall_rejections | length >= 1' "$w/body" >/dev/null || fail "classification: $(head -c 400 "$w/body")"
check_call dp_analyst GET /rpc/dash_privacy 200
jq -e '.grants[0].dataset == "demo_customers" and .grants[0].remaining_epsilon == 5' "$w/body" >/dev/null ||
  fail "privacy: $(cat "$w/body")"
check_call dp_analyst GET /rpc/dash_overview 403
st=$(req POST /rpc/dp_count -H "$(bearer dp_analyst)" -H 'Content-Type: application/json' \
  -d '{"dataset": "demo_customers", "epsilon": 0.5}')
expect 200 "" "dp_count with the dashboard token"
# GET /api/v1/analytics/aggregate (sdp_api.dp_aggregate): a DP series, released and charged once;
# the repeat is the same answer and free; no budget is refused; other roles are refused.
spent() { psql -XAtq -c "SELECT epsilon_spent FROM sdp.dp_grant WHERE grantee = 'sdp_demo_dp_analyst'"; }
before=$(spent)
agg="/api/v1/analytics/aggregate?metric=records&period=day&periods=3&epsilon=1"
st=$(req GET "$agg" -H "$(bearer dp_analyst)"); expect 200 "" "aggregate (first GET)"
jq -e '.charged == true and (.buckets | length) == 3 and .metric == "records"' "$w/body" >/dev/null ||
  fail "aggregate: $(cat "$w/body")"
first=$(jq -c .buckets "$w/body")
st=$(req GET "$agg" -H "$(bearer dp_analyst)"); expect 200 "" "aggregate (second GET)"
[[ $(jq -r .charged "$w/body") == false && $(jq -c .buckets "$w/body") == "$first" ]] ||
  fail "the second GET is not the first release: $(cat "$w/body") vs $first"
[[ $(psql -XAtq -c "SELECT count(*) FROM sdp.dp_ledger WHERE actor = 'sdp_demo_dp_analyst' AND parameters ? 'aggregate'") == 1 ]] ||
  fail "the ledger does not show exactly one aggregate charge"
[[ $(psql -XAtq -c "SELECT $(spent) - $before = 1") == t ]] || fail "charged $(spent) - $before, expected epsilon 1 once"
st=$(req GET "/api/v1/analytics/aggregate?metric=records&period=week&epsilon=100" -H "$(bearer dp_analyst)")
expect 403 PT403 "aggregate beyond the budget"
jq -e '.status == 403 and (.detail | test("privacy budget exceeded"))' "$w/body" >/dev/null ||
  fail "no-budget refusal: $(cat "$w/body")"
st=$(req GET "/api/v1/analytics/aggregate?metric=salaries&period=day" -H "$(bearer dp_analyst)")
expect 400 22023 "aggregate of an unknown metric"
jq -e '.type == "about:blank" and .status == 400 and (.detail | test("metric"))' "$w/body" >/dev/null ||
  fail "not an RFC 7807 problem: $(cat "$w/headers" "$w/body")"
for u in viewer auditor; do
  st=$(req GET "$agg" -H "$(bearer $u)"); expect 403 "" "aggregate as $u"
done
pass "GET /api/v1/analytics/aggregate: first GET charged epsilon 1 once, the repeat the same values uncharged (one ledger row), beyond the budget PT403, unknown metric an RFC 7807 400, viewer and auditor refused (403)"
st=$(login engineer); expect 200 "" "second sign-in of the engineer"
second=$(jq -r .token "$w/body")
st=$(req POST /rpc/dash_logout -H "Authorization: Bearer $second"); expect 200 "" "sign out"
jq -e '.signed_out' "$w/body" >/dev/null || fail "logout: $(cat "$w/body")"
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $second"); expect 401 PT401 "a signed-out token"
check_call engineer GET /rpc/dash_me 200
pass "one JWT call per role through Caddy: allowed readers 200, refused ones 403 (viewer, analyst, engineer, dp_analyst), the DP form's dp_count 200; a signed-out token 401, the user's other session still valid"

# ---- refused tokens -----------------------------------------------------------------------------
now=$(date +%s)
(umask 077 && openssl rand -hex 32 >"$w/other.secret")
forged=$(https_jwt "{\"role\": \"sdp_admin\", \"sub\": \"admin\", \"aud\": \"sdp-dashboard\", \"exp\": $((now + 600))}" HS256 "$w/other.secret")
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $forged"); expect 401 PGRST301 "token signed with another secret"
expired=$(https_jwt "{\"role\": \"sdp_admin\", \"sub\": \"admin\", \"aud\": \"sdp-dashboard\", \"exp\": $((now - 120))}")
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $expired"); expect 401 PGRST301 "expired token"
none=$(https_jwt "{\"role\": \"sdp_admin\", \"sub\": \"admin\", \"aud\": \"sdp-dashboard\", \"exp\": $((now + 600))}" none)
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $none"); expect 401 PGRST301 "alg none"
other_aud=$(https_jwt "{\"role\": \"sdp_admin\", \"sub\": \"admin\", \"aud\": \"elsewhere\", \"exp\": $((now + 600))}")
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $other_aud"); expect 401 PGRST301 "another audience"
[[ $(jq -r .message "$w/body") == JWTNotInAudience ]] || fail "aud message: $(cat "$w/body")"
no_role=$(https_jwt "{\"role\": \"no_such_role_xyz\", \"sub\": \"admin\", \"aud\": \"sdp-dashboard\", \"exp\": $((now + 600))}")
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $no_role"); expect 400 22023 "role claim naming no role"
no_user=$(https_jwt "{\"role\": \"sdp_admin\", \"aud\": \"sdp-dashboard\", \"exp\": $((now + 600))}")
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $no_user"); expect 401 PT401 "governance role without a staff user (secret known, no sign-in)"
# The secret alone is not enough: a well-formed token for a real user, but with a jti that no
# sign-in issued (what a leaked secret allows), is refused by the database.
guessed=$(https_jwt "{\"role\": \"sdp_admin\", \"sub\": \"admin\", \"aud\": \"sdp-dashboard\", \"exp\": $((now + 600)), \"jti\": \"$(openssl rand -hex 16)\"}")
st=$(req GET /rpc/dash_me -H "Authorization: Bearer $guessed"); expect 401 PT401 "a token forged with the secret (no session)"
st=$(req GET /rpc/dash_me); expect 401 PT401 "dash_me without a token"
st=$(req POST /api/v1/process -H "$(bearer admin)" -H 'Content-Type: application/json' \
  -d '{"processing_type": "risk_scoring", "records": [{"customer_id": "x"}]}')
expect 401 PT401 "a dashboard token on the API-key surface through Caddy (Authorization removed: no key)"
st=$(req_gateway POST /rpc/process -H "$(bearer admin)" -H 'Content-Type: application/json' \
  -d '{"processing_type": "risk_scoring", "records": [{"customer_id": "x"}]}')
expect 403 PT403 "a dashboard token on /rpc/process straight at the gateway"
[[ $(psql -XAtq -c "SELECT count(*) FROM sdp.processing_batch WHERE accepted_records = 1") == 0 ]] ||
  fail "a refused request stored a batch"
pass "refused: another secret, expired, alg none, another aud (401 PGRST301), a role claim naming no role (400 22023, PostgREST v12), forged governance-role tokens without a sign-in, even with a real user's sub (401 PT401), no token (401), a dashboard token on the API-key surface (401 via Caddy, 403 at the gateway); nothing stored"

# ---- lockout over HTTP -----------------------------------------------------------------------------
for i in 1 2 3 4 5; do
  st=$(login viewer "wrong password $i"); expect 401 PT401 "wrong password $i"
done
st=$(login viewer); expect 429 PT429 "the right password during the lockout"
grep -qi '^retry-after: [0-9]' "$w/headers" || fail "no Retry-After: $(cat "$w/headers")"
st=$(login nobody_here "x"); expect 401 PT401 "unknown user"
[[ $(psql -XAtq -c "SELECT count(*) FILTER (WHERE event = 'staff.login_failed' AND target = 'viewer'),
                           count(*) FILTER (WHERE event = 'staff.lockout' AND target = 'viewer'),
                           count(*) FILTER (WHERE event = 'staff.login_locked' AND target = 'viewer'),
                           count(*) FILTER (WHERE event = 'staff.login_failed' AND target IS NULL)
                      FROM sdp.audit_log") == "5|1|1|1" ]] || fail "lockout audit: $(psql -XAtq -c "SELECT event, target FROM sdp.audit_log WHERE event LIKE 'staff.%'")"
psql -XAtq -c "SELECT sdp.sdp_staff_unlock('viewer')" >/dev/null
st=$(login viewer); expect 200 "" "login after the unlock"
tok[viewer]=$(jq -r .token "$w/body")
pass "lockout over HTTPS: 5 failures -> 429 + Retry-After even for the right password; failures, lockout and locked attempt audited; unlocked by an admin"

# ---- the seeds' REST paths -------------------------------------------------------------------------
st=$(req GET /healthz); expect 200 "" "GET /healthz"
st=$(req GET "/api/v1/jobs?status=PROCESSED" -H "$(bearer viewer)"); expect 200 "" "GET /api/v1/jobs"
jq -e '.total == 2' "$w/body" >/dev/null || fail "jobs: $(head -c 300 "$w/body")"
st=$(req GET "/api/v1/jobs/$batch/records?row_limit=3" -H "$(bearer analyst)"); expect 200 "" "GET /api/v1/jobs/{id}/records"
jq -e '.items | length == 3' "$w/body" >/dev/null || fail "job records: $(head -c 300 "$w/body")"
st=$(req GET "/api/v1/records/$record" -H "$(bearer analyst)"); expect 200 "" "GET /api/v1/records/{id}"
jq -e '.version == 2 and .fields.age == "44"' "$w/body" >/dev/null || fail "record: $(cat "$w/body")"
st=$(req PUT "/api/v1/records/$record" -H "$(bearer engineer)" -H 'Content-Type: application/json' \
  -d '{"patch": {"age": "45"}}'); expect 200 "" "PUT /api/v1/records/{id}"
jq -e '.status == "current" and .version_no == 3' "$w/body" >/dev/null || fail "put: $(cat "$w/body")"
[[ $(psql -XAtq -c "SELECT actor || '|' || login FROM sdp.audit_log WHERE event = 'record.update'
                     ORDER BY seq DESC LIMIT 1") == "sdp_engineer|sdp_authenticator:engineer" ]] ||
  fail "the edit's audit entry does not name the signed-in user"
st=$(req GET "/api/v1/records/$record/history" -H "$(bearer auditor)"); expect 200 "" "GET /api/v1/records/{id}/history"
jq -e '(.items | length == 3) and .items[1].fields.age == "44" and .items[2].fields.age == "45"' "$w/body" >/dev/null ||
  fail "history: $(cat "$w/body")"
st=$(req GET "/api/v1/audit?user_id=sdp_engineer&action=record&limit=1" -H "$(bearer auditor)"); expect 200 "" "GET /api/v1/audit"
jq -e '(.items | length == 1) and .items[0].action == "record.update" and .verify.ok' "$w/body" >/dev/null ||
  fail "audit: $(cat "$w/body")"
st=$(req GET "/api/v1/audit" -H "$(bearer viewer)"); expect 403 42501 "GET /api/v1/audit as viewer"
printf 'customer_id,age,income,balance,num_transactions\nc_up_1,30,50000,1000,10\n' >"$w/upload.csv"
key=$(psql -XAtq -c "SELECT sdp.sdp_rotate_key('bank_demo')")
st=$(req POST /api/v1/jobs/upload -H "X-API-Key: $key" -H 'X-Processing-Type: risk_scoring' \
  -H 'Content-Type: text/plain' -H "$(bearer admin)" --data-binary @"$w/upload.csv")
expect 201 "" "POST /api/v1/jobs/upload with the client's API key"
jq -e '.status == "RECEIVED" and .accepted_records == 1' "$w/body" >/dev/null || fail "upload: $(cat "$w/body")"
pass "seeds' REST paths: /healthz, GET /api/v1/jobs, /jobs/{id}/records, /records/{id}, PUT /records/{id} (new version, audited with the signed-in user), /records/{id}/history, /api/v1/audit (limit -> row_limit; viewer 403), POST /api/v1/jobs/upload (API key, 201)"

# ---- Prometheus through Caddy ------------------------------------------------------------------------
st=$(req GET "/prometheus/api/v1/query?query=up"); expect 401 PT401 "/prometheus without a JWT"
st=$(req GET "/prometheus/api/v1/query?query=up" -H "Authorization: Bearer $forged"); expect 401 PGRST301 "/prometheus with a forged JWT"
st=$(req GET "/prometheus/api/v1/query?query=up" -H "$(bearer viewer)"); expect 200 "" "/prometheus with the viewer's JWT"
jq -e '.status == "success"' "$w/body" >/dev/null || fail "prometheus: $(cat "$w/body")"
st=$(req GET "/prometheus/api/v1/query_range?query=up&start=0&end=60&step=15" -H "$(bearer admin)"); expect 200 "" "query_range"
st=$(req POST "/prometheus/api/v1/query" -H "$(bearer admin)" -d 'query=up'); expect 404 SDP404 "POST to Prometheus"
st=$(req GET "/prometheus/api/v1/admin/tsdb/snapshot" -H "$(bearer admin)"); expect 404 SDP404 "another Prometheus path"
[[ $(grep -c 'auth=-' "$w/prom.log") == 2 && $(grep -vc 'auth=-' "$w/prom.log") == 0 ]] ||
  fail "Prometheus saw: $(cat "$w/prom.log")"
pass "/prometheus/api/v1/query[_range]: 401 without or with a forged JWT, 200 with a dashboard JWT (never forwarded to Prometheus), other paths and POST 404"

# ---- no raw PII in any answer -------------------------------------------------------------------------
n=$(find "$bodies" -type f | wc -l)
((n > 40)) || fail "only $n response bodies kept for the leak scan"
long=$(awk 'length($0) >= 6' "$w/seed/pii_values.txt" | wc -l)
if grep -F -l -f <(awk 'length($0) >= 6' "$w/seed/pii_values.txt") "$bodies"/* >"$w/leaks" 2>/dev/null; then
  fail "raw PII in responses: $(head -n 3 "$w/leaks")"
fi
pass "no raw PII value of the demo ($long values of 6+ characters) in any of the $n response bodies"
echo "dashboard_api: $checks checks passed"
