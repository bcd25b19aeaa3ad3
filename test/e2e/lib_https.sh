# HTTPS helpers for test/e2e/*.sh (sourced, after lib.sh, inside test/with_pg.sh).
#
#   https_start DB   local CA + server certificate for 127.0.0.1/localhost (openssl, temp dir),
#                    a random password for the sdp_authenticator role, the test-only PostgREST
#                    double (test/gateway/pgrst_gateway.py) on a free loopback port, and the real
#                    Caddy (Debian `caddy run`) with docker/caddy/Caddyfile, TLS from that CA, on
#                    another free loopback port. Exports:
#                      SDP_SERVER_URL=https://127.0.0.1:<port>  SDP_CA_BUNDLE=<ca.crt>
#                      SDP_HTTPS_WRONG_CA=<a CA that did not sign the server certificate>
#                      SDP_HTTPS_DIR  SDP_HTTPS_PORT  SDP_GATEWAY_URL=http://127.0.0.1:<port>
#                      SDP_HTTPS_JWT_SECRET_FILE=<the gateway's JWT secret, 0600> (PostgREST's
#                      jwt-secret: sign an analyst's HS256 token with it, https_jwt)
#                    Reads SDP_HTTPS_JWT_AUD (the gateway's --jwt-aud, PostgREST's jwt-aud; unset:
#                    no aud check).
#                    Reads SDP_HTTPS_MAX_BODY (Caddy's body limit, 16MB) and SDP_CADDY_LOG_LEVEL
#                    (INFO; DEBUG logs every proxied request). Logs: $SDP_HTTPS_DIR/{caddy,gateway}.log.
#   https_stop       stops Caddy and the gateway by PID (also run at exit: https_start
#                    registers it with lib.sh's e2e_at_exit).
#   https_client ID KEY   registers a client with a known API key in $PGDATABASE.
#   https_jwt CLAIMS_JSON [ALG] [SECRET_FILE]   prints a compact JWT of those claims, HS256 with
#                    the gateway's secret by default; ALG none gives an unsigned token.
#
# The gateway is a TEST DOUBLE of PostgREST (see test/gateway/README.md); docker/ runs the real
# PostgREST. Everything binds 127.0.0.1 only; every wait is bounded.

https_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
https_gateway_pid=""
https_caddy_pid=""

https_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Stops one process by PID: TERM, up to 5 s, then KILL.
https_kill() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

https_stop() {
  local rc=$?
  if ((rc != 0)) && [[ -n "${SDP_HTTPS_DIR:-}" && -d "$SDP_HTTPS_DIR" ]]; then
    for log in gateway caddy; do
      [[ -s "$SDP_HTTPS_DIR/$log.log" ]] || continue
      echo "--- last lines of the $log log:" >&2
      tail -n 15 "$SDP_HTTPS_DIR/$log.log" >&2
    done
  fi
  https_kill "$https_caddy_pid"
  https_caddy_pid=""
  https_kill "$https_gateway_pid"
  https_gateway_pid=""
  [[ -n "${SDP_HTTPS_DIR:-}" && -d "$SDP_HTTPS_DIR" ]] && rm -rf "$SDP_HTTPS_DIR"
  return 0
}

# Local CA, a second unrelated CA, and a server certificate for localhost/127.0.0.1 signed by
# the first. EC P-256 keys: fast to generate.
https_make_certs() {
  local d=$1
  local subj_ca="/CN=SDP e2e test CA" ext="$d/server.ext"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
    -keyout "$d/ca.key" -out "$d/ca.crt" -subj "$subj_ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
    -keyout "$d/wrong-ca.key" -out "$d/wrong-ca.crt" -subj "/CN=SDP e2e WRONG CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$ext" -out "$d/server.crt" 2>/dev/null
  chmod 0600 "$d"/*.key
}

https_jwt() {
  /usr/bin/python3 - "$1" "${2:-HS256}" "${3:-$SDP_HTTPS_JWT_SECRET_FILE}" <<'PY'
import base64, hashlib, hmac, json, sys
claims, alg, secret_file = sys.argv[1], sys.argv[2], sys.argv[3]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
json.loads(claims)  # a typo in a test's claims fails here, not as a bad token
head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(claims.encode())
secret = open(secret_file, "rb").read().rstrip(b"\n")
sig = "" if alg == "none" else b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())
print(head + "." + sig)
PY
}

https_client() {
  psql -XAtq -v ON_ERROR_STOP=1 -v id="$1" -v key="$2" >/dev/null <<'SQL'
SELECT sdp.sdp_create_client(:'id', :'key');
SQL
}

https_start() {
  local db=$1
  [[ -n "${PGPORT:-}" ]] || { echo "lib_https: run inside test/with_pg.sh" >&2; return 1; }
  command -v caddy >/dev/null || { echo "lib_https: caddy missing; fix: make deps" >&2; return 1; }
  /usr/bin/python3 -c 'import psycopg2' 2>/dev/null ||
    { echo "lib_https: python3-psycopg2 missing; fix: make deps" >&2; return 1; }

  SDP_HTTPS_DIR=$(mktemp -d /tmp/sdp-https.XXXXXX)
  export SDP_HTTPS_DIR
  local d=$SDP_HTTPS_DIR
  # Stopped at exit before lib.sh's cleanup (and before the steps the caller registered earlier).
  if [[ -z "${https_exit_registered:-}" ]]; then
    e2e_at_exit https_stop
    https_exit_registered=1
  fi
  trap 'exit 130' INT TERM

  https_make_certs "$d"

  # The authenticator logs in with a password only this run knows (hex: no quoting issues).
  local pw
  pw=$(openssl rand -hex 24)
  (umask 077 && printf '%s\n' "$pw" >"$d/authenticator.pw")
  psql -XAtq -d "$db" -v ON_ERROR_STOP=1 -v pw="$pw" >/dev/null <<'SQL'
ALTER ROLE sdp_authenticator LOGIN PASSWORD :'pw';
SQL

  # PostgREST's jwt-secret for the analysts' tokens (docker/: a compose secret file).
  (umask 077 && openssl rand -hex 32 >"$d/jwt.secret")
  export SDP_HTTPS_JWT_SECRET_FILE="$d/jwt.secret"

  # Gateway: port 0 = the kernel picks a free one, written to a file (no race).
  /usr/bin/python3 "$https_repo/test/gateway/pgrst_gateway.py" \
    --dsn "host=127.0.0.1 port=$PGPORT dbname=$db user=sdp_authenticator" \
    --password-file "$d/authenticator.pw" --port 0 --port-file "$d/gateway.port" \
    --jwt-secret-file "$d/jwt.secret" ${SDP_HTTPS_JWT_AUD:+--jwt-aud "$SDP_HTTPS_JWT_AUD"} \
    >"$d/gateway.log" 2>&1 &
  https_gateway_pid=$!
  for _ in $(seq 100); do
    [[ -s "$d/gateway.port" ]] && break
    kill -0 "$https_gateway_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -s "$d/gateway.port" ]] ||
    { echo "lib_https: gateway did not start: $(tail -n 5 "$d/gateway.log")" >&2; return 1; }
  local gport
  gport=$(cat "$d/gateway.port")
  export SDP_GATEWAY_URL="http://127.0.0.1:$gport"
  curl -fsS --max-time 5 "$SDP_GATEWAY_URL/rpc/health" >/dev/null ||
    { echo "lib_https: gateway does not answer: $(tail -n 5 "$d/gateway.log")" >&2; return 1; }

  # Caddy: same Caddyfile as docker/, different upstream and certificate. A free port can be
  # taken between the probe and the bind: try a few.
  local attempt port ok=0
  # SDP_HTTPS_METRICS_ALLOW, when set, becomes Caddy's SDP_METRICS_ALLOW; unset, the Caddyfile's
  # default (loopback) applies.
  local metrics_env=()
  [[ -n "${SDP_HTTPS_METRICS_ALLOW:-}" ]] && metrics_env=("SDP_METRICS_ALLOW=$SDP_HTTPS_METRICS_ALLOW")
  for attempt in 1 2 3; do
    port=$(https_free_port)
    env "${metrics_env[@]}" SDP_SITE_ADDRESS="https://127.0.0.1:$port" SDP_UPSTREAM="127.0.0.1:$gport" \
      SDP_TLS_CERT="$d/server.crt" SDP_TLS_KEY="$d/server.key" SDP_CADDY_ADMIN=off SDP_BIND=127.0.0.1 \
      SDP_MAX_BODY="${SDP_HTTPS_MAX_BODY:-16MB}" SDP_CADDY_LOG_LEVEL="${SDP_CADDY_LOG_LEVEL:-INFO}" \
      XDG_DATA_HOME="$d/caddy-data" XDG_CONFIG_HOME="$d/caddy-config" HOME="$d" \
      caddy run --config "$https_repo/docker/caddy/Caddyfile" --adapter caddyfile \
      >"$d/caddy.log" 2>&1 &
    https_caddy_pid=$!
    for _ in $(seq 100); do
      if curl -fsS --max-time 2 --cacert "$d/ca.crt" "https://127.0.0.1:$port/health" \
        >/dev/null 2>&1; then
        ok=1
        break
      fi
      kill -0 "$https_caddy_pid" 2>/dev/null || break
      sleep 0.1
    done
    ((ok)) && break
    https_kill "$https_caddy_pid"
    https_caddy_pid=""
  done
  ((ok)) || { echo "lib_https: caddy did not start: $(tail -n 5 "$d/caddy.log")" >&2; return 1; }

  export SDP_HTTPS_PORT=$port
  export SDP_SERVER_URL="https://127.0.0.1:$port"
  export SDP_CA_BUNDLE="$d/ca.crt"
  export SDP_HTTPS_WRONG_CA="$d/wrong-ca.crt"
  echo "lib_https: Caddy https://127.0.0.1:$port (pid $https_caddy_pid) -> test gateway" \
    "127.0.0.1:$gport (pid $https_gateway_pid) -> database $db"
}
