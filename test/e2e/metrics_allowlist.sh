#!/usr/bin/env bash
# /metrics behind an allow-list (docker/caddy/Caddyfile, SDP_METRICS_ALLOW): the real Caddy in
# front of the test gateway, as in https_surface.sh. From 127.0.0.1, with the default allow-list
# (loopback) the exposition is served; with an allow-list that does not hold 127.0.0.1, /metrics,
# /rpc/metrics (PostgREST's own path to the same function) and a percent-encoded spelling of it
# are refused with 403, while the rest of the surface still answers.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_https.sh"
e2e_database sdp_e2e_metrics_allow
w=$e2e_work
req() {  # METHOD PATH -> HTTP status; body in $w/body
  local how=(-X "$1")
  [[ $1 == HEAD ]] && how=(--head)
  curl -sS --max-time 30 --cacert "$SDP_CA_BUNDLE" "${how[@]}" -o "$w/body" -w '%{http_code}' \
    --path-as-is "$SDP_SERVER_URL$2"
}

https_start sdp_e2e_metrics_allow >/dev/null
for path in /metrics /rpc/metrics; do
  st=$(req GET "$path")
  [[ $st == 200 ]] || fail "default allow-list, GET $path from 127.0.0.1: HTTP $st"
  grep -q '^# TYPE sdp_batches_total counter' "$w/body" || fail "GET $path body: $(head -c 300 "$w/body")"
done
pass "default allow-list (loopback): GET /metrics and /rpc/metrics from 127.0.0.1 -> 200"
https_stop

SDP_HTTPS_METRICS_ALLOW="192.0.2.0/24 2001:db8::/32" https_start sdp_e2e_metrics_allow >/dev/null
for path in /metrics /rpc/metrics /rpc/metric%73 /RPC/METRICS; do
  for method in GET HEAD; do
    st=$(req "$method" "$path")
    [[ $st == 403 || ($st == 404 && $path == /RPC/METRICS) ]] ||
      fail "allow-list without 127.0.0.1: $method $path -> HTTP $st, expected 403"
    grep -q 'sdp_batches_total' "$w/body" && fail "$method $path served metrics"
  done
done
st=$(req GET /metrics)
[[ $(jq -r .code "$w/body") == SDP403 ]] || fail "403 body: $(cat "$w/body")"
pass "allow-list without 127.0.0.1: /metrics, /rpc/metrics (also percent-encoded, upper case) -> 403, no exposition"
st=$(req GET /health)
[[ $st == 200 ]] || fail "GET /health with the allow-list: HTTP $st"
pass "the rest of the surface is unaffected (GET /health -> 200)"
echo "$checks checks passed"
