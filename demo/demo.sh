#!/usr/bin/env bash
# `make demo`, run inside test/with_pg.sh (a private cluster on loopback, stopped afterwards).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }

step "PostgreSQL $(psql -XAtc 'show server_version') on 127.0.0.1:$PGPORT (data: .sdp/pg)"
psql -XAtq -c "DROP DATABASE IF EXISTS sdp_demo" -c "CREATE DATABASE sdp_demo"
export PGDATABASE=sdp_demo
step "CREATE EXTENSION sdp"
psql -XAtq -c "CREATE EXTENSION sdp"
echo "sdp extension $(psql -XAtc "SELECT extversion FROM pg_extension WHERE extname = 'sdp'") loaded, library $(psql -XAtc 'SELECT sdp.sdp_version()')"
step "sdp-agent"
"$repo/build/sdp-agent" --version
