#!/usr/bin/env bash
# Runs a command against a private, temporary PostgreSQL 15 cluster, then stops it.
#
#   test/with_pg.sh COMMAND [ARGS...]
#
# The cluster lives in .sdp/pg of this checkout (in .sdp/pg.<pid> while another run holds .sdp/pg:
# the claim is an flock, below), listens on a free port on 127.0.0.1 only (its
# unix socket stays inside the data directory), has the sdp library preloaded, and uses
# scram-sha-256 with a random password kept in .sdp/pg.pgpass (mode 0600). COMMAND sees PGHOST,
# PGPORT, PGUSER, PGDATABASE, PGPASSFILE and SDP_PG_URL. The cluster is stopped by the PID in its
# postmaster.pid when COMMAND ends, fails, or this script is interrupted; no other PostgreSQL on
# the machine is touched. initdb refuses to run as root, so as root the cluster belongs to the OS
# user `postgres` (created by Debian's postgresql-common); otherwise to the calling user.
#
# Extra server settings: SDP_PG_SETTINGS="name=value;name=value".
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bindir=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
state="$repo/.sdp"
mkdir -p "$state"
chmod 0755 "$state"

if (($# == 0)); then
  echo "usage: test/with_pg.sh COMMAND [ARGS...]" >&2
  exit 2
fi

if [[ $(id -u) -eq 0 ]]; then
  owner=postgres
  id "$owner" >/dev/null 2>&1 || { echo "with_pg: error: OS user 'postgres' missing; fix: make deps (installs postgresql-15)" >&2; exit 3; }
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

# Stop a cluster left behind by an earlier run that was killed (kill -9, power loss): only ever
# the one whose data directory is ours.
stop_cluster() {
  local data=$1 mode=${2:-fast}
  [[ -f "$data/postmaster.pid" ]] || return 0
  local pid
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    as_owner "$bindir/pg_ctl" -D "$data" -m "$mode" -w -t 30 stop >/dev/null 2>&1 ||
      kill -KILL "$pid" 2>/dev/null || true
  fi
}

# Which directory: .sdp/pg, unless another with_pg.sh run is using it right now, in which case
# this run gets its own .sdp/pg.<pid> so the two never stop each other's cluster.
#
# The claim is a lock (flock) on <dir>.lock, taken before the directory is touched and held
# until this script exits: checking that .sdp/pg is free and claiming it are one step, so two
# runs started at the same moment never both take it. The kernel drops the lock when this
# process dies, even by kill -9, and the lock's descriptor is not passed to PostgreSQL or to
# COMMAND, so a server or a command left behind by a killed run never keeps a directory
# claimed. A directory whose lock is free belongs to a run that is gone: its cluster is stopped
# and it is removed (.sdp/pg when it is claimed next; a per-run .sdp/pg.<pid> by the next run
# that starts once that PID is gone). .sdp/pg.lock itself is never removed: a lock file that is
# unlinked and re-created would let two runs hold "the" lock on two different files.
# (<dir>.owner keeps the owner's PID for people, and for runs of the previous version of this
# script, which only looked at that file: a live PID there still means .sdp/pg is taken.)
command -v flock >/dev/null ||
  { echo "with_pg: error: flock missing; fix: apt-get install util-linux" >&2; exit 3; }
remove_run_dir() {  # .sdp/pg or .sdp/pg.<pid>: stop its cluster, remove it and its files
  local dir=$1
  if [[ -L "$dir" ]]; then
    local target
    target=$(readlink "$dir")
    stop_cluster "$target" immediate
    [[ "$target" == /tmp/sdp-pg.* ]] && rm -rf "$target"
    rm -f "$dir"
  elif [[ -d "$dir" ]]; then
    stop_cluster "$dir" immediate
    rm -rf "$dir"
  fi
}
pid_alive() {  # a zombie (killed, not yet reaped by its parent) is not alive
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$st" && "${st:0:1}" != Z ]]
}
legacy_owner_alive() {
  local pid
  pid=$(cat "$state/pg.owner" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ && "$pid" != "$$" ]] && pid_alive "$pid"
}
exec 9>>"$state/pg.lock"  # fd 9: this run's lock, closed for every child
if flock -n 9 && ! legacy_owner_alive; then
  link="$state/pg"
else
  exec 9>&-
  link="$state/pg.$$"
  exec 9>>"$link.lock"
  # Free unless a starting run is sweeping a stale directory of a dead run with this PID: a
  # moment's wait.
  flock -w 30 9 ||
    { echo "with_pg: error: cannot lock $link.lock; fix: remove it if no with_pg.sh runs" >&2; exit 1; }
fi
owner_file="$link.owner"
# Per-run directories of runs that are gone (their PID no longer exists and nobody holds their
# lock): stopped and removed. A run that is alive always holds its lock.
for stale in "$state"/pg.[0-9]*; do
  [[ -e "$stale" || -L "$stale" ]] || continue
  pid=${stale#"$state"/pg.}
  pid=${pid%%.*}
  [[ "$pid" =~ ^[0-9]+$ && "$pid" != "$$" ]] && ! pid_alive "$pid" || continue
  exec 8>>"$state/pg.$pid.lock"
  if flock -n 8; then
    remove_run_dir "$state/pg.$pid"
    rm -f "$state/pg.$pid".{owner,pgpass,log,initdb.log,lock}
  fi
  exec 8>&-
done
remove_run_dir "$link"
echo $$ >"$owner_file"
mkdir -p "$link"
chown "$owner" "$link" 2>/dev/null || true
# .sdp/pg when the cluster owner can reach it; otherwise (checkout under a directory the
# postgres user cannot traverse, such as /root) a private directory in /tmp that .sdp/pg
# points to.
if as_owner test -w "$link" 2>/dev/null; then
  data="$link"
else
  rmdir "$link"
  data=$(mktemp -d /tmp/sdp-pg.XXXXXX)
  chown "$owner" "$data"
  ln -s "$data" "$link"
fi
chmod 0700 "$data"

log="$link.log"
: >"$log"
chown "$owner" "$log" 2>/dev/null || true

password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
pwfile=$(mktemp "$state/pw.XXXXXX")
printf '%s\n' "$password" >"$pwfile"
chown "$owner" "$pwfile" 2>/dev/null || true
chmod 0600 "$pwfile"
as_owner "$bindir/initdb" 9>&- -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
  --encoding=UTF8 --locale=C.UTF-8 >"$link.initdb.log" 2>&1 ||
  { rm -f "$pwfile"; echo "with_pg: error: initdb failed; see $link.initdb.log" >&2; exit 1; }
rm -f "$pwfile"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cleanup() {
  local rc=$?
  stop_cluster "$data" fast
  rm -f "$owner_file" "$link.pgpass"
  # A per-run directory is removed with its run (its lock file last, still held); .sdp/pg is
  # kept for inspection until the next run.
  if [[ "$link" != "$state/pg" ]]; then
    [[ -L "$link" ]] && rm -rf "$(readlink "$link")"
    rm -rf "$link" "$link.log" "$link.initdb.log" "$link.lock"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=0
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$data'"
    echo "shared_preload_libraries = 'sdp'"
    echo "max_connections = 40"
    echo "logging_collector = off"
    echo "log_min_messages = warning"
    echo "max_wal_size = 4GB"
    echo "${SDP_PG_SETTINGS:-}" | tr ';' '\n'
  } >"$data/sdp.conf"
  grep -q "^include_if_exists = 'sdp.conf'" "$data/postgresql.conf" ||
    echo "include_if_exists = 'sdp.conf'" >>"$data/postgresql.conf"
  if as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1 9>&-; then
    started=1
    break
  fi
  grep -q "could not bind\|Address already in use" "$log" || break
done
if ((started == 0)); then
  echo "with_pg: error: PostgreSQL did not start; cause: $(tail -n 3 "$log" | tr '\n' ' '); fix: see $log" >&2
  exit 1
fi

umask 077
printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$password" >"$link.pgpass"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres PGPASSFILE="$link.pgpass"
export SDP_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
export SDP_PG_DATA="$data" SDP_PG_LOG="$log"
umask 022

set +e
"$@" 9>&-
rc=$?
set -e
exit "$rc"
