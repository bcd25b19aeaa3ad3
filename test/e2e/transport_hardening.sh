#!/usr/bin/env bash
# The agent's transports against a hostile network setup, no network beyond loopback:
#   - proxies: with http_proxy, HTTPS_PROXY, ALL_PROXY (and lowercase forms) pointing at a
#     recording proxy, requests to a loopback server go straight to it and the proxy receives
#     nothing (libcurl used to send them, X-API-Key included, through the proxy); the same for a
#     non-loopback URL without SDP_PROXY; SDP_PROXY is used for a non-loopback server only;
#   - postgresql:// to a non-loopback host without verified TLS is refused before connecting,
#     in one line with a fix, the URL's password never shown;
#   - an upload started with one chunk size (two chunks stored by hand, as a cut-off run would
#     leave them) resumes with another --chunk-kb against the real server (it used to stop at
#     PT409) and seals the batch with every row exactly once;
#   - libpq over TLS: the test cluster serves TLS with a certificate of a local CA for a while;
#     sslmode=verify-full with SDP_CA_BUNDLE naming that CA works (the key handed over inside
#     TLS), SDP_CA_BUNDLE naming another CA is refused (the bundle really is the trust anchor).
source "$(dirname "$0")/lib.sh"
w=$e2e_work
key="sdp_E2EPROXYKEY_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
batch=0b9c3a62-7d0e-4f43-9a55-1f2e3d4c5b6a

# One Python process: a recording proxy and a recording fake PostgREST on free loopback ports.
# Every byte each one receives is appended to its log; the proxy answers 502 and closes, the
# server answers 404 in PostgREST's error format.
cat >"$w/endpoints.py" <<'PY'
import socket, sys, threading
work = sys.argv[1]

def serve(name, reply):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    with open(f"{work}/{name}.port", "w") as f:
        f.write(str(s.getsockname()[1]))
    def handle(c):
        c.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        with open(f"{work}/{name}.log", "ab") as f:
            f.write(data)
        try:
            c.sendall(reply)
        except OSError:
            pass
        c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

body = b'{"code":"PT404","message":"batch not found","details":null,"hint":null}'
server_reply = (b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
proxy_reply = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
threading.Thread(target=serve, args=("proxy", proxy_reply), daemon=True).start()
serve("server", server_reply)
PY
: >"$w/proxy.log"
: >"$w/server.log"
python3 "$w/endpoints.py" "$w" &
endpoints_pid=$!
e2e_at_exit 'e2e_stop_pid "$endpoints_pid" 2'
for _ in $(seq 50); do
  [[ -s "$w/proxy.port" && -s "$w/server.port" ]] && break
  sleep 0.1
done
[[ -s "$w/proxy.port" && -s "$w/server.port" ]] || fail "fake proxy and server did not start"
proxy="http://127.0.0.1:$(cat "$w/proxy.port")"
server="http://127.0.0.1:$(cat "$w/server.port")"

# The recording proxy works: a request sent through it explicitly is logged (else "the proxy saw
# nothing" below would prove nothing).
python3 -c 'import socket,sys; c=socket.create_connection(("127.0.0.1",int(sys.argv[1])),5); c.sendall(b"GET http://sdp.example.invalid/probe HTTP/1.1\r\nHost: sdp.example.invalid\r\n\r\n"); c.recv(100)' "$(cat "$w/proxy.port")"
grep -q 'sdp.example.invalid/probe' "$w/proxy.log" || fail "the recording proxy does not record"
: >"$w/proxy.log"

proxy_env=(http_proxy="$proxy" HTTP_PROXY="$proxy" https_proxy="$proxy" HTTPS_PROXY="$proxy"
  all_proxy="$proxy" ALL_PROXY="$proxy" no_proxy= NO_PROXY=)

# 1. Loopback server, every proxy variable set: straight to the server, nothing to the proxy.
set +e
env "${proxy_env[@]}" SDP_API_KEY="$key" "$agent" status --batch-id "$batch" --client-id bank_demo \
  --server-url "$server" >"$w/out" 2>"$w/err"
rc=$?
set -e
[[ $rc == 5 ]] || fail "status via the fake server: exit $rc, $(cat "$w/err")"
grep -q "PT404" "$w/err" || fail "the server's 404 was not reported: $(cat "$w/err")"
grep -qF "X-API-Key: $key" "$w/server.log" || fail "the request did not reach the server directly"
[[ ! -s "$w/proxy.log" ]] || fail "the proxy received: $(head -c 300 "$w/proxy.log")"
pass "proxy variables set: a loopback server is reached directly, the proxy sees nothing"

# 2. SDP_PROXY (the explicit setting) is not used for loopback either.
set +e
env "${proxy_env[@]}" SDP_PROXY="$proxy" SDP_API_KEY="$key" "$agent" status --batch-id "$batch" \
  --client-id bank_demo --server-url "$server" >"$w/out" 2>"$w/err"
rc=$?
set -e
[[ $rc == 5 ]] || fail "status with SDP_PROXY to loopback: exit $rc, $(cat "$w/err")"
[[ ! -s "$w/proxy.log" ]] || fail "the proxy received: $(head -c 300 "$w/proxy.log")"
pass "SDP_PROXY is never used for a loopback server"

# 3. A non-loopback server with only the proxy variables: not proxied (the name is resolved
#    here and fails), so the proxy sees nothing.
set +e
env "${proxy_env[@]}" SDP_API_KEY="$key" timeout 120 "$agent" status --batch-id "$batch" \
  --client-id bank_demo --server-url https://sdp.example.invalid >"$w/out" 2>"$w/err"
rc=$?
set -e
[[ $rc == 4 ]] || fail "status to an unresolvable host: exit $rc, $(cat "$w/err")"
[[ ! -s "$w/proxy.log" ]] || fail "the proxy received: $(head -c 300 "$w/proxy.log")"
pass "proxy variables are ignored for a non-loopback server"

# 4. ...and with SDP_PROXY it goes through that proxy (CONNECT: the key stays inside TLS).
set +e
env SDP_PROXY="$proxy" SDP_API_KEY="$key" timeout 120 "$agent" status --batch-id "$batch" \
  --client-id bank_demo --server-url https://sdp.example.invalid >"$w/out" 2>"$w/err"
rc=$?
set -e
[[ $rc == 4 ]] || fail "status through SDP_PROXY: exit $rc, $(cat "$w/err")"
grep -q '^CONNECT sdp.example.invalid:443 ' "$w/proxy.log" || fail "SDP_PROXY not used: $(cat "$w/proxy.log")"
if grep -qF "$key" "$w/proxy.log"; then fail "the API key reached the proxy"; fi
pass "SDP_PROXY is used for a non-loopback server, through CONNECT (the key never reaches it)"

# 5. postgresql:// to a remote host without verified TLS: refused before any connection.
export SDP_API_KEY=$key
expect_exit 3 status --batch-id "$batch" --server-url "postgresql://bank:hunter2pw@192.0.2.10:5432/sdp"
expect_one_error_line "refusing postgresql:// to 192.0.2.10 with sslmode=prefer:"
grep -qF "fix: add sslmode=verify-full" "$e2e_work/err" || fail "no fix: $(cat "$e2e_work/err")"
expect_exit 3 status --batch-id "$batch" \
  --server-url "postgresql://bank@192.0.2.10/sdp?sslmode=require&password=hunter2pw"
expect_one_error_line "with sslmode=require"
expect_exit 3 status --batch-id "$batch" \
  --server-url "postgresql://bank@192.0.2.10/sdp?sslmode=verify-full"
expect_one_error_line "without a CA to verify the server against"
if grep -q hunter2pw "$e2e_work/err"; then fail "password shown"; fi
pass "postgresql:// to a non-loopback host without verify-full and a CA: exit 3, one line with a fix"

# 6. Resume with another --chunk-kb, against the real extension.
unset SDP_API_KEY
e2e_database sdp_e2e_transport
python3 - "$w/tok.csv" "$w/stored.sql" <<'PY'
import hashlib, sys
rows = [f"tok{i:05d},{20 + i % 50},{i * 7 % 1000}\n" for i in range(400)]
data = "customer_id,age,balance\n" + "".join(rows)
open(sys.argv[1], "w").write(data)
sha = hashlib.sha256(data.encode()).hexdigest()
# The agent's idempotency key (uploader.cc): same file, client, type and key column.
key = "sdp-agent:v1:" + hashlib.sha256(
    "\0".join(["bank_demo", "risk_scoring", "customer_id", sha]).encode()).hexdigest()
chunks = ["customer_id,age,balance\n" + "".join(rows[:10]), "".join(rows[10:25])]
with open(sys.argv[2], "w") as f:
    f.write("SELECT batch_id FROM sdp.sdp_batch_open('bank_demo', 'risk_scoring', 'customer_id', "
            f"'{key}') \\gset\n")
    for seq, c in enumerate(chunks):
        f.write(f"SELECT sdp.sdp_batch_append(:'batch_id', {seq}, '{c}', "
                f"'{hashlib.sha256(c.encode()).hexdigest()}');\n")
    f.write("SELECT :'batch_id';\n")
PY
psql -XAtq -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
batch_id=$(psql -XAtq -v ON_ERROR_STOP=1 -f "$w/stored.sql" | tail -n 1)
[[ $(psql -XAtc "SELECT accepted_records FROM sdp.processing_batch WHERE batch_id = '$batch_id'") == 25 ]] ||
  fail "the cut-off upload was not staged"
expect_exit 0 upload-batch --file "$w/tok.csv" --client-id bank_demo --processing-type risk_scoring \
  --chunk-kb 1
grep -q "\"batch_id\":\"$batch_id\"" "$e2e_work/out" || fail "another batch: $(cat "$e2e_work/out")"
grep -q '"status":"RECEIVED"' "$e2e_work/out" || fail "not sealed: $(cat "$e2e_work/out")"
[[ $(psql -XAtc "SELECT count(*), count(DISTINCT record_key) FROM sdp.tokenized_record WHERE batch_id = '$batch_id'") == "400|400" ]] ||
  fail "rows on the server: $(psql -XAtc "SELECT count(*) FROM sdp.tokenized_record WHERE batch_id = '$batch_id'")"
pass "an upload started with other chunk bounds resumes with --chunk-kb 1 and seals, every row once"

# 7. libpq with sslmode=verify-full, SDP_CA_BUNDLE as the CA (loopback: the URL names 127.0.0.1,
#    an address the certificate is for).
tls="$w/tls"
mkdir -p "$tls"
chmod 0755 "$w" "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sdp-e2e-ca -keyout "$tls/ca.key" \
  -out "$tls/ca.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sdp-e2e-other-ca \
  -keyout "$tls/other.key" -out "$tls/other.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$tls/server.key" \
  -out "$tls/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$tls/san.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
  -days 2 -extfile "$tls/san.ext" -out "$tls/server.pem" 2>/dev/null
chmod 0600 "$tls/server.key"
chmod 0644 "$tls/server.pem"
cluster_owner=$(stat -c %U "$(psql -XAtc "SHOW data_directory")")
[[ $(id -un) == "$cluster_owner" ]] || chown "$cluster_owner" "$tls/server.key" "$tls/server.pem"
tls_reset() {
  psql -XAtq -d postgres -c "ALTER SYSTEM RESET ssl" -c "ALTER SYSTEM RESET ssl_cert_file" \
    -c "ALTER SYSTEM RESET ssl_key_file" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
}
e2e_at_exit tls_reset
psql -XAtq -d postgres -c "ALTER SYSTEM SET ssl_cert_file = '$tls/server.pem'" \
  -c "ALTER SYSTEM SET ssl_key_file = '$tls/server.key'" -c "ALTER SYSTEM SET ssl = on" \
  -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
  [[ $(psql -XAtc "SHOW ssl") == on ]] && break
  sleep 0.1
done
[[ $(psql -XAtc "SHOW ssl") == on ]] || fail "the test cluster did not turn TLS on"
key=$(psql -XAtc "SELECT sdp.sdp_create_client('bank_tls')")
tls_url="postgresql://postgres@127.0.0.1:$PGPORT/$e2e_db?sslmode=verify-full"
set +e
SDP_API_KEY=$key SDP_CA_BUNDLE="$tls/ca.pem" "$agent" upload-batch --file "$w/tok.csv" \
  --client-id bank_tls --processing-type risk_scoring --server-url "$tls_url" >"$w/out" 2>"$w/err"
rc=$?
set -e
[[ $rc == 0 ]] || fail "upload over verify-full with SDP_CA_BUNDLE: exit $rc, $(cat "$w/err")"
grep -q '"status":"RECEIVED"' "$w/out" || fail "not received: $(cat "$w/out")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch WHERE client_id = 'bank_tls'") == 1 ]] ||
  fail "the batch is not bank_tls's: the key was not used"
set +e
SDP_API_KEY=$key SDP_CA_BUNDLE="$tls/other.pem" "$agent" status --batch-id "$batch" \
  --client-id bank_tls --server-url "$tls_url" >"$w/out" 2>"$w/err"
rc=$?
set -e
[[ $rc == 4 && $(wc -l <"$w/err") == 1 ]] || fail "a CA that did not sign the server's certificate: exit $rc, $(cat "$w/err")"
grep -q "certificate verify failed" "$w/err" || fail "not a certificate failure: $(cat "$w/err")"
if grep -qF "$key" "$w/err"; then fail "key printed"; fi
pass "libpq over TLS: verify-full with SDP_CA_BUNDLE as the CA works, another CA is refused"

echo "$checks checks passed"
