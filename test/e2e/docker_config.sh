#!/usr/bin/env bash
# Validates the docker/ configuration files. It does NOT start the stack: there is no Docker
# engine on the test machines. What is checked:
#   1. docker-compose config -q on docker/docker-compose.yml with docker/.env.example (syntax,
#      interpolation, depends_on conditions), and that it refuses to start without the secrets;
#      the same for the Citus variant docker/docker-compose.citus.yml;
#   2. caddy validate on docker/caddy/Caddyfile (the same file the HTTPS e2e runs for real) with
#      the docker environment and a throwaway certificate;
#   3. systemd-analyze verify on docker/systemd/sdp-agent-watch.service, when available;
#   4. no secret-looking value in the shipped example files.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
work=$(mktemp -d /tmp/sdp-docker-config.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- 1. compose ----------------------------------------------------------------------------
command -v docker-compose >/dev/null || fail "docker-compose missing; fix: make deps"
docker-compose -f docker/docker-compose.yml --env-file docker/.env.example config -q ||
  fail "docker-compose config rejected docker/docker-compose.yml"
docker-compose -f docker/docker-compose.yml --env-file docker/.env.example config >"$work/compose.yml"
grep -q 'image: postgrest/postgrest:v12.2.12' "$work/compose.yml" || fail "PostgREST image not v12.2.12"
for v in 'PGRST_DB_SCHEMAS: sdp_api' 'PGRST_DB_ANON_ROLE: sdp_anon' \
  'PGRST_DB_PRE_REQUEST: sdp_api.pre_request' 'condition: service_healthy' 'SDP_METRICS_ALLOW: ' \
  "PGRST_JWT_SECRET: '@/run/secrets/pgrst_jwt_secret'" 'source: pgrst_jwt_secret'; do
  grep -qF "$v" "$work/compose.yml" || fail "compose: missing '$v'"
done
# The JWT secret comes from a file (a compose secret), never as a value in the compose file.
[[ $(grep -c 'PGRST_JWT_SECRET' docker/docker-compose.yml) == 1 ]] ||
  fail "compose: PGRST_JWT_SECRET set more than once"
grep -qE '^\s+file: \$\{SDP_JWT_SECRET_FILE:\?' docker/docker-compose.yml ||
  fail "compose: the JWT secret is not read from SDP_JWT_SECRET_FILE"
: >"$work/empty.env"
if docker-compose -f docker/docker-compose.yml --env-file "$work/empty.env" config -q 2>/dev/null; then
  fail "compose accepted a missing POSTGRES_PASSWORD / SDP_AUTHENTICATOR_PASSWORD"
fi
# The Citus variant (docs/scale.md): coordinator + 2 workers, citus before sdp, sdp distributed.
docker-compose -f docker/docker-compose.citus.yml --env-file docker/.env.example config >"$work/citus.yml" ||
  fail "docker-compose config rejected docker/docker-compose.citus.yml"
for v in 'coordinator:' 'worker1:' 'worker2:' 'shared_preload_libraries=citus,sdp' 'wal_level=logical' \
  "citus_add_node('worker2', 5432)" 'SELECT * FROM sdp.sdp_distribute()'; do
  grep -qF "$v" "$work/citus.yml" || fail "citus compose: missing '$v'"
done
if docker-compose -f docker/docker-compose.citus.yml --env-file "$work/empty.env" config -q 2>/dev/null; then
  fail "citus compose accepted a missing POSTGRES_PASSWORD"
fi
grep -v '^SDP_JWT_SECRET_FILE=' docker/.env.example >"$work/no-jwt.env"
if docker-compose -f docker/docker-compose.yml --env-file "$work/no-jwt.env" config -q 2>/dev/null; then
  fail "compose accepted a missing SDP_JWT_SECRET_FILE"
fi
echo "ok: docker-compose config -q (docker-compose $(docker-compose version --short 2>/dev/null)); refuses to run without the secrets (JWT secret file included)"

# ---- 2. Caddyfile ----------------------------------------------------------------------------
command -v caddy >/dev/null || fail "caddy missing; fix: make deps"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$work/server.key" -out "$work/server.crt" -subj /CN=sdp.example.org \
  -addext subjectAltName=DNS:sdp.example.org 2>/dev/null
SDP_SITE_ADDRESS=https://sdp.example.org SDP_UPSTREAM=postgrest:3000 \
  SDP_TLS_CERT="$work/server.crt" SDP_TLS_KEY="$work/server.key" SDP_CADDY_ADMIN=off \
  XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" HOME="$work" \
  caddy validate --config docker/caddy/Caddyfile --adapter caddyfile >"$work/caddy.log" 2>&1 ||
  { tail -n 5 "$work/caddy.log" >&2; fail "caddy validate rejected docker/caddy/Caddyfile"; }
echo "ok: caddy validate docker/caddy/Caddyfile ($(caddy version | cut -d' ' -f1))"

# ---- 3. systemd units ------------------------------------------------------------------------
for unit in docker/systemd/sdp-agent-watch.service docker/systemd/sdp-json-service.service; do
  if command -v systemd-analyze >/dev/null; then
    # The agent is not installed at /usr/local/bin here: that one complaint is expected.
    systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || true
    if grep -v 'Command /usr/local/bin/sdp-agent is not executable' "$work/verify.log" | grep -q .; then
      cat "$work/verify.log" >&2
      fail "systemd-analyze verify $unit"
    fi
    echo "ok: systemd-analyze verify $unit"
  else
    echo "note: systemd-analyze not available; $unit not verified"
  fi
  for opt in NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths= EnvironmentFile=; do
    grep -q "^$opt" "$unit" || fail "$unit lacks $opt"
  done
  grep '^ExecStart=' "$unit" | grep -qi 'SDP_CRYPTO_KEY\|SDP_API_KEY\|_API_KEY' && fail "a secret on the ExecStart line"
done

# ---- 4. no secrets shipped ---------------------------------------------------------------------
if grep -vE '^\s*(#|$)' docker/.env.example | grep -iE '(PASSWORD|KEY|SECRET)=' | grep -viq 'change-me'; then
  fail "docker/.env.example holds a value that is not a change-me placeholder"
fi
[[ ! -e docker/.env ]] || git -C "$repo" check-ignore -q docker/.env || fail "docker/.env exists and is not git-ignored"
echo "ok: docker/.env.example holds placeholders only"

echo "docker_config: configs validated (compose, Caddyfile, systemd unit); the stack itself was NOT started (no Docker engine here)"
