#!/usr/bin/env bash
# docker/postgres/initdb/10-sdp.sh for real, against this test cluster (no Docker engine here):
# run as the cluster's OS user, as the image's entrypoint does, on a fresh database. Then:
#  - the extension is installed, sdp_authenticator can log in;
#  - sdp_monitor is a member of pg_monitor and nothing more: it reads the sdp metric views but no
#    tenant table, is no superuser;
#  - sdp_monitor without TLS is rejected by pg_hba; with sslmode=verify-full against the published
#    certificate (host name `db`) it connects over TLS; a certificate from elsewhere is refused;
#  - the server key is mode 0600.
# Cluster-wide changes (pg_hba.conf, ssl, the roles' passwords, sdp_monitor) are undone at exit.
source "$(dirname "$0")/lib.sh"
[[ -n "${SDP_PG_DATA:-}" ]] || fail "SDP_PG_DATA not set: run inside test/with_pg.sh"
data=$(cd "$SDP_PG_DATA" && pwd -P)
db=sdp_e2e_initdb
if [[ $(id -u) == 0 ]]; then
  os_owner=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  os_owner=$(id -un)
  as_owner() { "$@"; }
fi
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

cp "$data/pg_hba.conf" "$e2e_work/pg_hba.conf.orig"
undo() {
  cat "$e2e_work/pg_hba.conf.orig" >"$data/pg_hba.conf"
  rm -f "$data/server.key" "$data/server.crt"
  PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
    -c "DROP ROLE IF EXISTS sdp_monitor" -c "ALTER SYSTEM RESET ssl" -c "ALTER SYSTEM RESET ssl_min_protocol_version" \
    -c "SELECT pg_reload_conf()" >/dev/null 2>&1
  return 0
}
e2e_at_exit undo
[[ -z $(q -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'sdp_monitor'") ]] ||
  fail "role sdp_monitor exists already in this cluster"
PGOPTIONS="-c client_min_messages=warning" q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
e2e_db=$db

# The script's environment as in the image: PGDATA, POSTGRES_USER/DB, the two passwords. A
# private directory the cluster's OS user can use (pgpass copy, the published certificate).
chmod 0711 "$e2e_work"
own=$e2e_work/owner
install -d -o "$os_owner" -m 0700 "$own" "$own/tls"
install -o "$os_owner" -m 0600 "$PGPASSFILE" "$own/pgpass"
monitor_pw=$(openssl rand -hex 24)
auth_pw=$(openssl rand -hex 24)
as_owner env PGDATA="$data" POSTGRES_USER=postgres POSTGRES_DB="$db" PGHOST="$PGHOST" PGPORT="$PGPORT" \
  PGPASSFILE="$own/pgpass" SDP_AUTHENTICATOR_PASSWORD="$auth_pw" SDP_MONITOR_PASSWORD="$monitor_pw" \
  SDP_TLS_PUBLISH_DIR="$own/tls" sh "$repo/docker/postgres/initdb/10-sdp.sh" >"$e2e_work/initdb.log" 2>&1 ||
  fail "10-sdp.sh: $(tail -n 5 "$e2e_work/initdb.log")"
q -d postgres -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
[[ $(q -d "$db" -c "SELECT extversion IS NOT NULL FROM pg_extension WHERE extname = 'sdp'") == t ]] || fail "extension not installed"
[[ $(stat -c %a "$data/server.key") == 600 ]] || fail "server key mode $(stat -c %a "$data/server.key")"
pass "10-sdp.sh ran: extension installed, TLS key (0600) and certificate made, ssl = $(q -c 'SHOW ssl')"

cp "$own/tls/server.crt" "$e2e_work/published.crt"
printf '*:*:*:sdp_monitor:%s\n*:*:*:sdp_authenticator:%s\n' "$monitor_pw" "$auth_pw" >"$e2e_work/pgpass"
chmod 0600 "$e2e_work/pgpass"
conn() {  # user sslmode [extra conninfo] -> psql with that connection; stderr kept
  echo "hostaddr=127.0.0.1 host=db port=$PGPORT dbname=$db user=$1 sslmode=$2 ${3:-}"
}
as_client() { PGPASSFILE="$e2e_work/pgpass" psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

if as_client "$(conn sdp_monitor disable)" -c "SELECT 1" >/dev/null 2>"$e2e_work/nossl.err"; then
  fail "sdp_monitor connected without TLS"
fi
grep -q 'no encryption' "$e2e_work/nossl.err" || fail "no-TLS refusal: $(cat "$e2e_work/nossl.err")"
pass "sdp_monitor without TLS: rejected by pg_hba (no encryption)"

tls=$(conn sdp_monitor verify-full "sslrootcert=$e2e_work/published.crt")
[[ $(as_client "$tls" -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == t ]] ||
  fail "sdp_monitor session is not over TLS"
[[ $(as_client "$tls" -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == f ]] || fail "sdp_monitor is a superuser"
[[ $(as_client "$tls" -c "SELECT pg_has_role('pg_monitor', 'MEMBER')") == t ]] || fail "sdp_monitor not in pg_monitor"
as_client "$tls" -c "SELECT count(*) FROM sdp.metrics_pipeline" >/dev/null || fail "sdp_monitor cannot read sdp.metrics_pipeline"
if as_client "$tls" -c "SELECT count(*) FROM sdp.processing_batch" >/dev/null 2>"$e2e_work/denied.err"; then
  fail "sdp_monitor can read sdp.processing_batch"
fi
grep -q 'permission denied' "$e2e_work/denied.err" || fail "processing_batch: $(cat "$e2e_work/denied.err")"
pass "sdp_monitor over TLS (verify-full, host db): pg_monitor member, reads the metric views, not the tenant tables"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=db \
  -addext subjectAltName=DNS:db -keyout "$e2e_work/other.key" -out "$e2e_work/other.crt" 2>/dev/null
if as_client "$(conn sdp_monitor verify-full "sslrootcert=$e2e_work/other.crt")" -c "SELECT 1" >/dev/null 2>"$e2e_work/wrongca.err"; then
  fail "verify-full accepted a certificate the server does not have"
fi
grep -qi 'certificate verify failed' "$e2e_work/wrongca.err" || fail "wrong root: $(cat "$e2e_work/wrongca.err")"
pass "verify-full against another certificate for db: refused"

[[ $(as_client "$(conn sdp_authenticator require)" -c "SELECT current_user") == sdp_authenticator ]] ||
  fail "sdp_authenticator cannot log in"
pass "sdp_authenticator logs in with its password"
echo "$checks checks passed"
