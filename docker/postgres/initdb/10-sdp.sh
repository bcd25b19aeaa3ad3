#!/bin/sh
# Runs once, when the data volume is first initialised (docker-entrypoint-initdb.d): installs the
# extension in database sdp and lets PostgREST's authenticator log in. The password comes from
# the environment (docker/.env), travels as a psql variable, never on a command line.
set -eu
: "${SDP_AUTHENTICATOR_PASSWORD:?SDP_AUTHENTICATOR_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$SDP_AUTHENTICATOR_PASSWORD" <<'SQL'
CREATE EXTENSION IF NOT EXISTS sdp;
ALTER ROLE sdp_authenticator LOGIN PASSWORD :'pw';
SQL
