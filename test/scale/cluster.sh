#!/usr/bin/env bash
# Runs a command against a private, temporary Citus cluster (a coordinator and two workers, all
# PostgreSQL 15 on free loopback ports), then stops it. test/with_pg.sh's sibling for the scale-out
# tests (docs/scale.md).
#
#   test/scale/cluster.sh COMMAND [ARGS...]
#
# Each node has shared_preload_libraries = 'citus,sdp' (Citus must come first) and scram-sha-256
# with one random password for the `postgres` role, kept in a 0600 pgpass file that COMMAND and
# the servers themselves use (Citus's connections between the nodes go through libpq and read
# PGPASSFILE from the server's environment); other roles log in over loopback without a
# password (below). The coordinator is registered with
# citus_set_coordinator_host, the workers with citus_add_node, and `CREATE EXTENSION citus` then
# `CREATE EXTENSION sdp` run on the coordinator (Citus creates sdp on the workers too).
#
# COMMAND sees PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSFILE and SDP_PG_URL of the coordinator,
# SDP_WORKER1_PORT and SDP_WORKER2_PORT, SDP_CITUS_DATA (the directory holding the three data
# directories coordinator/, worker1/, worker2/) and SDP_CITUS_LOGS. The three servers are stopped
# by the PIDs in their postmaster.pid files when COMMAND ends, fails or this script is
# interrupted; no other PostgreSQL on the machine is touched. As root the clusters belong to the
# OS user `postgres`, as with test/with_pg.sh. The data is thrown away; the server logs stay in
# .sdp/citus.<node>.log until the next run.
#
# Speed: no fsync, no full-page writes, asynchronous commit (the cluster holds test data only).
# wal_level = logical so that Citus moves shards online (rebalance, tenant isolation).
# Extra settings on every node: SDP_PG_SETTINGS="name=value;name=value".
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bindir=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
pkglibdir=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pkglibdir)
state="$repo/.sdp"
mkdir -p "$state"
chmod 0755 "$state"

if (($# == 0)); then
  echo "usage: test/scale/cluster.sh COMMAND [ARGS...]" >&2
  exit 2
fi
if [[ ! -f "$pkglibdir/citus.so" ]]; then
  echo "cluster: error: Citus is not installed in $pkglibdir; fix: make citus CITUS_SRC=<citus source tarball> (docs/scale.md)" >&2
  exit 3
fi

if [[ $(id -u) -eq 0 ]]; then
  owner=postgres
  id "$owner" >/dev/null 2>&1 || { echo "cluster: error: OS user 'postgres' missing; fix: make deps (installs postgresql-15)" >&2; exit 3; }
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

nodes=(coordinator worker1 worker2)
root=$(mktemp -d /tmp/sdp-citus.XXXXXX)
chown "$owner" "$root"
chmod 0700 "$root"
pgpass="$root/pgpass"

stop_node() {
  local data=$1
  [[ -f "$data/postmaster.pid" ]] || return 0
  local pid
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      kill -KILL "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  local rc=$?
  for n in "${nodes[@]}"; do stop_node "$root/$n"; done
  rm -rf "$root"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
pwfile="$root/pw"
printf '%s\n' "$password" >"$pwfile"
chown "$owner" "$pwfile"
chmod 0600 "$pwfile"
# The three initdb runs in parallel: they are most of the start-up time.
pids=()
for n in "${nodes[@]}"; do
  as_owner "$bindir/initdb" -D "$root/$n" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$state/citus.$n.initdb.log" 2>&1 &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" ||
    { echo "cluster: error: initdb of ${nodes[$i]} failed; see $state/citus.${nodes[$i]}.initdb.log" >&2; exit 1; }
done
rm -f "$pwfile"
# Citus connects to the other nodes as the role that runs a query. `postgres` authenticates with
# the password (pgpass); the roles the tests create have none, so other loopback logins are
# trusted on these throwaway nodes. A deployment gives Citus credentials instead (certificates
# through citus.node_conninfo, or pg_dist_authinfo; docs/scale.md).
for n in "${nodes[@]}"; do
  {
    echo "local all all scram-sha-256"
    echo "host all postgres 127.0.0.1/32 scram-sha-256"
    echo "host all all 127.0.0.1/32 trust"
  } >"$root/$n/pg_hba.conf"
done

# One pgpass for the servers (owned by the cluster owner) and the same lines for COMMAND.
umask 077
printf '127.0.0.1:*:*:postgres:%s\n' "$password" >"$pgpass"
chown "$owner" "$pgpass"
umask 022

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

declare -A port
start_node() {
  local n=$1 data="$root/$1" log="$state/citus.$1.log" attempt
  : >"$log"
  chown "$owner" "$log" 2>/dev/null || true
  for attempt in 1 2 3 4 5; do
    port[$n]=$(free_port)
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = ${port[$n]}"
      echo "unix_socket_directories = '$data'"
      echo "shared_preload_libraries = 'citus,sdp'"
      echo "max_connections = 100"
      echo "logging_collector = off"
      echo "log_min_messages = warning"
      echo "fsync = off"
      echo "full_page_writes = off"
      echo "synchronous_commit = off"
      echo "wal_level = logical"
      echo "max_wal_size = 4GB"
      echo "max_prepared_transactions = 100"
      echo "max_worker_processes = 32"  # Citus runs a maintenance daemon per database
      echo "citus.local_hostname = '127.0.0.1'"  # its own address in shard moves (pgpass, pg_hba)
      echo "${SDP_PG_SETTINGS:-}" | tr ';' '\n'
    } >"$data/sdp.conf"
    grep -q "^include_if_exists = 'sdp.conf'" "$data/postgresql.conf" ||
      echo "include_if_exists = 'sdp.conf'" >>"$data/postgresql.conf"
    if as_owner env PGPASSFILE="$pgpass" "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1; then
      return 0
    fi
    grep -q "could not bind\|Address already in use" "$log" || break
  done
  echo "cluster: error: $n did not start; cause: $(tail -n 3 "$log" | tr '\n' ' '); fix: see $log" >&2
  return 1
}
for n in "${nodes[@]}"; do start_node "$n"; done

export PGHOST=127.0.0.1 PGPORT=${port[coordinator]} PGUSER=postgres PGDATABASE=postgres PGPASSFILE="$pgpass"
export SDP_PG_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
export SDP_WORKER1_PORT=${port[worker1]} SDP_WORKER2_PORT=${port[worker2]}
export SDP_CITUS_DATA="$root" SDP_CITUS_LOGS="$state/citus"
export SDP_PG_DATA="$root/coordinator" SDP_PG_LOG="$state/citus.coordinator.log"

psql_on() {  # port SQL
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -p "$1" -c "$2" >/dev/null
}
# Citus on every node; the coordinator knows itself and the workers, then sdp, which Citus
# creates on the workers as well.
for n in "${nodes[@]}"; do psql_on "${port[$n]}" "CREATE EXTENSION citus"; done
psql_on "$PGPORT" "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)"
psql_on "$PGPORT" "SELECT citus_add_node('127.0.0.1', $SDP_WORKER1_PORT)"
psql_on "$PGPORT" "SELECT citus_add_node('127.0.0.1', $SDP_WORKER2_PORT)"
psql_on "$PGPORT" "CREATE EXTENSION sdp"

# COMMAND runs in the background so that a TERM or INT to this script is handled at once (bash
# runs a trap only after the foreground command returns): COMMAND is stopped, then the cluster.
set +e
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 130' INT TERM
wait "$child"
rc=$?
set -e
exit "$rc"
