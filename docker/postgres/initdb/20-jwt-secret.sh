#!/bin/sh
# Runs once, when the data volume is first initialised, after 10-sdp.sh: gives the database
# PostgREST's jwt-secret, which staff sign-in (sdp_api.login, docs/dashboard.md) signs its tokens
# with. The same compose secret file PostgREST reads (pgrst_jwt_secret); psql reads it itself
# (backquote \set), so the secret is on no command line. To change the secret later: update the
# file, restart PostgREST, and run SELECT sdp.sdp_set_jwt_secret('<the new secret>') as an admin.
set -eu
secret_file=${SDP_JWT_SECRET_PATH:-/run/secrets/pgrst_jwt_secret}
if [ ! -r "$secret_file" ]; then
  echo "20-jwt-secret.sh: $secret_file is not readable: staff sign-in stays off until an admin runs sdp.sdp_set_jwt_secret" >&2
  exit 0
fi
SDP_JWT_SECRET_FILE_READ=$secret_file
export SDP_JWT_SECRET_FILE_READ
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL' >/dev/null
\set jwt_secret `cat "$SDP_JWT_SECRET_FILE_READ"`
SELECT sdp.sdp_set_jwt_secret(:'jwt_secret');
SQL
