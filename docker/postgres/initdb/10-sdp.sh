#!/bin/sh
# Runs once, when the data volume is first initialised (docker-entrypoint-initdb.d), as the OS user
# postgres: installs the extension in database sdp, lets PostgREST's authenticator log in,
# creates the exporter's login sdp_monitor (pg_monitor only, TLS only) and the server's TLS key
# and certificate. Passwords come from the environment (docker/.env) and travel as psql
# variables, never on a command line.
set -eu
: "${SDP_AUTHENTICATOR_PASSWORD:?SDP_AUTHENTICATOR_PASSWORD is not set}"
: "${SDP_MONITOR_PASSWORD:?SDP_MONITOR_PASSWORD is not set}"

# TLS for connections over the network. A key made here, for this installation only (never one
# baked into the image); the certificate is self-signed for the service name `db` and copied to
# /var/lib/postgresql/tls (volume db_tls), where clients read it to verify the server
# (sslmode=verify-full). To renew: the same openssl command, then SELECT pg_reload_conf().
tls_dir=${SDP_TLS_PUBLISH_DIR:-/var/lib/postgresql/tls}  # another directory only in tests
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=db" -addext "subjectAltName=DNS:db" \
  -keyout "$PGDATA/server.key" -out "$PGDATA/server.crt" 2>/dev/null
umask 022
cp "$PGDATA/server.crt" "$tls_dir/server.crt"
chmod 0644 "$tls_dir/server.crt"

# sdp_monitor may connect only over TLS: first matching pg_hba line wins.
{ echo "hostnossl all sdp_monitor all reject"; cat "$PGDATA/pg_hba.conf"; } >"$PGDATA/pg_hba.conf.new"
mv "$PGDATA/pg_hba.conf.new" "$PGDATA/pg_hba.conf"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$SDP_AUTHENTICATOR_PASSWORD" -v monitor_pw="$SDP_MONITOR_PASSWORD" <<'SQL'
CREATE EXTENSION IF NOT EXISTS sdp;
ALTER ROLE sdp_authenticator LOGIN PASSWORD :'pw';
-- postgres_exporter: reads the sdp metric views through pg_monitor, nothing else; a few
-- connections at most.
CREATE ROLE sdp_monitor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS CONNECTION LIMIT 5
  PASSWORD :'monitor_pw' IN ROLE pg_monitor;
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2';
SQL
