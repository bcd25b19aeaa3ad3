#!/usr/bin/env bash
# Differentially private analysts over HTTPS (issue 18, docs/privacy_analytics.md "Over HTTP"):
# real Caddy (docker/caddy/Caddyfile) in front of the PostgREST double (test/gateway/, verifying
# JWTs as PostgREST v12 does) in front of PostgreSQL with the sdp extension.
#   - an analyst role an admin enabled (sdp_api_enable_analyst) calls /rpc/dp_count and
#     /rpc/dp_budget with `Authorization: Bearer <HS256 JWT>`, is charged, and is refused with
#     PT403 (HTTP 403) past its grant;
#   - attacks that fail, each leaving the budget and the ledger as they were: an expired token,
#     a forged signature, alg none, a role claim of sdp_admin, postgres, the sdp_dp_analyst group,
#     sdp_client or a role never enabled, an enabled role later made a member of sdp_admin, an API key on a
#     dp path, the analyst's JWT on an upload path (through Caddy, and straight at the gateway
#     with a valid API key as well), and a disabled analyst.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
e2e_database sdp_e2e_dp_http
w=$e2e_work
key=sdp_e2e_key_dp_http_client_0123456789abcdef
https_client dp_http_client "$key"

# Roles are cluster-wide: unique names, dropped at exit.
drop_roles() {
  psql -XAtq -d postgres -c "DROP ROLE IF EXISTS e2e_dp_alice, e2e_dp_mallory" >/dev/null 2>&1
}
drop_roles
e2e_at_exit drop_roles
psql -XAtq -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
CREATE TABLE public.dp_http_people AS
  SELECT 'u' || i AS person, (i % 3)::text AS band FROM generate_series(1, 500) i;
SELECT (sdp.sdp_dp_register('http_people', 'public.dp_http_people', 'person', 1, 10)).name;
CREATE ROLE e2e_dp_alice NOLOGIN IN ROLE sdp_dp_analyst;
CREATE ROLE e2e_dp_mallory NOLOGIN IN ROLE sdp_dp_analyst, sdp_client;
SELECT grantee FROM sdp.sdp_dp_grant('e2e_dp_alice', 'http_people', 1);
SELECT grantee FROM sdp.sdp_dp_grant('e2e_dp_mallory', 'http_people', 1);
SELECT sdp.sdp_api_enable_analyst('e2e_dp_alice');
SQL
https_start sdp_e2e_dp_http

# req METHOD PATH [curl args...] -> the HTTP status; body in $w/body, headers in $w/headers
req() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 60 --cacert "$SDP_CA_BUNDLE" -X "$method" -o "$w/body" -D "$w/headers" \
    -w '%{http_code}' "$@" "$SDP_SERVER_URL$path"
}
# The same, straight at the gateway (what a request gets if a proxy forwarded everything).
req_gateway() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 60 -X "$method" -o "$w/body" -D "$w/headers" -w '%{http_code}' "$@" \
    "$SDP_GATEWAY_URL$path"
}
expect() {  # status code what
  [[ "$st" == "$1" ]] || fail "$3: HTTP $st, expected $1; body: $(head -c 400 "$w/body")"
  [[ $(jq -r .code "$w/body") == "$2" ]] || fail "$3: code $(jq -r .code "$w/body"), expected $2"
}
count() {  # [curl args...]: POST /rpc/dp_count of 0.5 through Caddy
  req POST /rpc/dp_count -H 'Content-Type: application/json' \
    -d '{"dataset": "http_people", "epsilon": 0.5}' "$@"
}
spent() {  # epsilon spent by alice | ledger rows | dataset spent
  psql -XAtq -c "SELECT g.epsilon_spent, (SELECT count(*) FROM sdp.dp_ledger l WHERE l.dataset = 'http_people'),
                        d.epsilon_spent
                   FROM sdp.dp_grant g JOIN sdp.dp_dataset d ON d.name = g.dataset
                  WHERE g.grantee = 'e2e_dp_alice'"
}
now=$(date +%s)
alice=$(https_jwt "{\"role\": \"e2e_dp_alice\", \"exp\": $((now + 600))}")

# ---- the analyst: charged, then refused past the grant ---------------------------------------
st=$(count -H "Authorization: Bearer $alice")
[[ "$st" == 200 ]] || fail "dp_count with the analyst's JWT: HTTP $st: $(head -c 400 "$w/body")"
jq -e 'length == 1 and .[0].epsilon_charged == 0.5 and (.[0].value | type == "number")
       and .[0].ci_low <= .[0].ci_high' "$w/body" >/dev/null || fail "dp_count body: $(cat "$w/body")"
[[ $(spent) == "0.5|1|0.5" ]] || fail "after one count: alice|ledger rows|dataset = $(spent)"
[[ $(psql -XAtq -c "SELECT actor || '|' || login FROM sdp.dp_ledger WHERE dataset = 'http_people'") \
  == "e2e_dp_alice|sdp_authenticator" ]] || fail "the ledger row does not name the analyst"
pass "POST /rpc/dp_count with the analyst's JWT through Caddy -> 200, one noisy count; 0.5 charged to e2e_dp_alice (ledger actor)"

st=$(req GET '/rpc/dp_budget?dataset=http_people' -H "Authorization: Bearer $alice")
[[ "$st" == 200 ]] || fail "dp_budget: HTTP $st: $(head -c 400 "$w/body")"
[[ $(jq -c '[.[] | {grantee, epsilon_spent, epsilon_left}]' "$w/body") == \
  '[{"grantee":"e2e_dp_alice","epsilon_spent":0.5,"epsilon_left":0.5}]' ]] ||
  fail "dp_budget body: $(cat "$w/body")"
pass "GET /rpc/dp_budget with the JWT -> 200, its own grant only: spent 0.5, left 0.5"

st=$(req POST /rpc/dp_count -H "Authorization: Bearer $alice" -H 'Content-Type: application/json' \
  -d '{"dataset": "http_people", "epsilon": 0.6}')
expect 403 PT403 "dp_count past the grant"
jq -r .message "$w/body" | grep -q 'privacy budget exceeded' || fail "403 message: $(cat "$w/body")"
[[ $(spent) == "0.5|1|0.5" ]] || fail "a refused query charged something: $(spent)"
pass "ε 0.6 with 0.5 left -> 403 PT403 (privacy budget exceeded), nothing charged"

# ---- attacks on the token ----------------------------------------------------------------------
# expect_jwt_refusal STATUS CODE WHAT TOKEN: through Caddy; nothing charged afterwards.
expect_jwt_refusal() {
  st=$(count -H "Authorization: Bearer $4")
  expect "$1" "$2" "$3"
  [[ $(spent) == "0.5|1|0.5" ]] || fail "$3 charged something: $(spent)"
}
expect_jwt_refusal 401 PGRST301 "expired JWT" \
  "$(https_jwt "{\"role\": \"e2e_dp_alice\", \"exp\": $((now - 120))}")"
[[ $(jq -r .message "$w/body") == "JWT expired" ]] || fail "expired: $(cat "$w/body")"
grep -qi '^www-authenticate: Bearer error="invalid_token", error_description="JWT expired"' "$w/headers" ||
  fail "expired: no WWW-Authenticate invalid_token header: $(cat "$w/headers")"
pass "expired JWT -> 401 PGRST301 'JWT expired' with WWW-Authenticate: Bearer error=\"invalid_token\""

(umask 077 && openssl rand -hex 32 >"$w/other.secret")
expect_jwt_refusal 401 PGRST301 "JWT signed with another secret" \
  "$(https_jwt "{\"role\": \"e2e_dp_alice\", \"exp\": $((now + 600))}" HS256 "$w/other.secret")"
expect_jwt_refusal 401 PGRST301 "JWT with a tampered payload" \
  "$(cut -d. -f1 <<<"$alice").$(https_jwt "{\"role\": \"sdp_admin\"}" | cut -d. -f2).$(cut -d. -f3 <<<"$alice")"
pass "forged signature (another secret; alice's signature on another payload) -> 401 PGRST301"

expect_jwt_refusal 401 PGRST301 "alg none" "$(https_jwt '{"role": "e2e_dp_alice"}' none)"
pass "alg none (unsigned) -> 401 PGRST301"

# A correctly signed token (a leaked secret, or a careless issuer) still cannot pick any role.
for role in postgres e2e_dp_mallory; do
  expect_jwt_refusal 403 42501 "role claim $role" "$(https_jwt "{\"role\": \"$role\"}")"
  jq -r .message "$w/body" | grep -q 'permission denied to set role' || fail "$role: $(cat "$w/body")"
done
# sdp_authenticator may switch to sdp_admin for the dashboard's sign-ins (docs/dashboard.md), so
# here pre_request refuses: a governance role opens the dash_* functions only, and only for a
# signed-in session.
expect_jwt_refusal 403 PT403 "role claim sdp_admin" "$(https_jwt '{"role": "sdp_admin"}')"
pass "role claims postgres and a role never enabled -> 403 42501 (sdp_authenticator is no member); sdp_admin -> 403 PT403 (pre_request)"

# sdp_authenticator reaches sdp_dp_analyst through e2e_dp_alice: pre_request refuses it.
expect_jwt_refusal 403 PT403 "role claim sdp_dp_analyst" "$(https_jwt '{"role": "sdp_dp_analyst"}')"
jq -r .message "$w/body" | grep -q 'is not enabled for the API' || fail "sdp_dp_analyst: $(cat "$w/body")"
# sdp_client is granted to the authenticator (for API keys), but under a JWT pre_request asks
# for no key: it must not let sdp_client through. It may not even run the analysts' admission.
expect_jwt_refusal 403 42501 "role claim sdp_client" "$(https_jwt '{"role": "sdp_client"}')"
jq -r .message "$w/body" | grep -q 'permission denied for function _api_admit_' ||
  fail "sdp_client: $(cat "$w/body")"
st=$(req_gateway POST /rpc/process_file -H 'Content-Type: text/plain' -H 'X-Processing-Type: risk_scoring' \
  -H "Authorization: Bearer $(https_jwt '{"role": "sdp_client"}')" --data-binary 'customer_id\nc1\n')
expect 403 42501 "sdp_client JWT on /rpc/process_file at the gateway"
pass "role claim sdp_dp_analyst (reachable through the enabled analyst) -> 403 PT403; sdp_client (the API-key role) -> 403 42501, on dp and upload paths"

# Enabling refuses a role holding more; an enabled role that gains more is refused per request.
psql -XAtq -c "SELECT sdp.sdp_api_enable_analyst('e2e_dp_mallory')" >/dev/null 2>"$w/enable.err" &&
  fail "a member of sdp_client was enabled for the API"
grep -q 'is a member of sdp_client' "$w/enable.err" || fail "enable mallory: $(cat "$w/enable.err")"
psql -XAtq -c "GRANT sdp_admin TO e2e_dp_alice" >/dev/null
expect_jwt_refusal 403 PT403 "enabled analyst made a member of sdp_admin" "$alice"
jq -r .message "$w/body" | grep -q 'is a member of sdp_admin' || fail "alice in sdp_admin: $(cat "$w/body")"
psql -XAtq -c "REVOKE sdp_admin FROM e2e_dp_alice" >/dev/null
pass "sdp_api_enable_analyst refuses a member of sdp_client; an enabled analyst later granted sdp_admin -> 403 PT403"

# ---- API keys and JWTs stay on their own paths -------------------------------------------------
st=$(count -H "X-API-Key: $key")
expect 401 PT401 "API key on /rpc/dp_count"
jq -r .message "$w/body" | grep -q "need an analyst's JWT" || fail "API key on dp: $(cat "$w/body")"
[[ $(spent) == "0.5|1|0.5" ]] || fail "API key on dp charged something: $(spent)"
pass "a client's API key on /rpc/dp_count -> 401 PT401 (the dp_* functions need an analyst's JWT)"

printf 'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\n' >"$w/t.csv"
st=$(req POST /api/v1/process-file -H 'Content-Type: text/plain' -H 'X-Processing-Type: risk_scoring' \
  -H "Authorization: Bearer $alice" --data-binary "@$w/t.csv")
expect 401 PT401 "analyst's JWT on the upload path through Caddy"
st=$(req_gateway POST /rpc/process_file -H 'Content-Type: text/plain' -H 'X-Processing-Type: risk_scoring' \
  -H "Authorization: Bearer $alice" --data-binary "@$w/t.csv")
expect 403 PT403 "analyst's JWT on /rpc/process_file at the gateway"
jq -r .message "$w/body" | grep -q 'opens the dp_\* functions only' || fail "JWT upload: $(cat "$w/body")"
st=$(req_gateway POST /rpc/process_file -H 'Content-Type: text/plain' -H 'X-Processing-Type: risk_scoring' \
  -H "Authorization: Bearer $alice" -H "X-API-Key: $key" --data-binary "@$w/t.csv")
expect 403 PT403 "analyst's JWT plus a valid API key at the gateway"
[[ $(psql -XAtq -c "SELECT count(*) FROM sdp.processing_batch WHERE client_id = 'dp_http_client'") == 0 ]] ||
  fail "an upload with the analyst's JWT stored a batch"
pass "the analyst's JWT on the upload path: Caddy drops it (401 PT401); at the gateway 403 PT403, even with a valid X-API-Key; no batch stored"

# ---- disabled ----------------------------------------------------------------------------------
psql -XAtq -c "SELECT sdp.sdp_api_disable_analyst('e2e_dp_alice')" >/dev/null
expect_jwt_refusal 403 42501 "disabled analyst" "$alice"
pass "after sdp_api_disable_analyst the analyst's valid JWT -> 403 42501"

[[ $(psql -XAtq -c "SELECT count(*) FROM sdp.audit_log WHERE event IN ('api.enable_analyst', 'api.disable_analyst')") == 2 ]] ||
  fail "enable/disable not audited"
pass "every attack left the budget at 0.5 spent with one ledger row; enable and disable are audited"
echo "dp_http: $checks checks passed"
