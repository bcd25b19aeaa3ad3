# Shared helpers for test/e2e/*.sh (sourced). Each script runs inside test/with_pg.sh, creates
# its own database and work directory, and cleans both up.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
agent="${SDP_AGENT:-$repo/${BUILDDIR:-build}/sdp-agent}"
export SDP_CRYPTO_KEY=Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=
unset SDP_API_KEY SDP_SERVER_URL
e2e_work=$(mktemp -d /tmp/sdp-e2e.XXXXXX)
e2e_db=""
checks=0

e2e_cleanup() {
  [[ -n "$e2e_db" ]] && PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres \
    -c "DROP DATABASE IF EXISTS $e2e_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$e2e_work"
}

# Cleanup at exit. A script registers its own steps with `e2e_at_exit 'command'` (never with
# `trap ... EXIT`, which would replace these); they run last registered first, then e2e_cleanup.
# Every step runs without errexit and whatever the others did (stopping a process that already
# ended is not an error), each sees $? = the script's exit status (to print logs on a failure),
# and the script exits with that status: a cleanup step can neither fail a passing run nor make
# a failed check pass.
e2e_exit_steps=()
e2e_at_exit() { e2e_exit_steps+=("$1"); }
e2e_status_is() { return "$1"; }
e2e_on_exit() {
  local e2e_rc=$? i
  set +e
  trap - EXIT
  for ((i = ${#e2e_exit_steps[@]} - 1; i >= 0; i--)); do
    e2e_status_is "$e2e_rc"
    eval "${e2e_exit_steps[i]}"
  done
  e2e_cleanup
  exit "$e2e_rc"
}
trap e2e_on_exit EXIT

# Stops background process $1 (if it still runs): SIGTERM, up to $2 seconds (default 10), then
# SIGKILL; reaps it. Never fails, so it can be an exit step.
e2e_stop_pid() {
  local pid=$1 wait_s=${2:-10} i
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { checks=$((checks + 1)); echo "ok: $*"; }

# Creates database $1 with the extension and exports SDP_SERVER_URL for it.
e2e_database() {
  e2e_db=$1
  if [[ -n "${SDP_E2E_DATABASE_SETUP:-}" ]]; then
    # Another kind of server, e.g. a Citus cluster (test/scale/database.sh): its own set-up.
    bash "$SDP_E2E_DATABASE_SETUP" "$e2e_db"
  else
    PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d postgres \
      -c "DROP DATABASE IF EXISTS $e2e_db WITH (FORCE)" -c "CREATE DATABASE $e2e_db"
    psql -XAtq -d "$e2e_db" -c "CREATE EXTENSION sdp"
  fi
  export PGDATABASE=$e2e_db
  export SDP_SERVER_URL="postgresql://postgres@127.0.0.1:$PGPORT/$e2e_db"
}

# Runs the agent expecting exit code $1; stdout to $e2e_work/out, stderr to $e2e_work/err.
expect_exit() {
  local want=$1
  shift
  set +e
  "$agent" "$@" >"$e2e_work/out" 2>"$e2e_work/err"
  local got=$?
  set -e
  [[ $got == "$want" ]] || fail "sdp-agent $* exited $got, expected $want; stderr: $(cat "$e2e_work/err")"
}

# stderr must be exactly one line in the agent's format and contain $1.
expect_one_error_line() {
  [[ $(wc -l <"$e2e_work/err") == 1 ]] || fail "expected one stderr line, got: $(cat "$e2e_work/err")"
  grep -q '^sdp-agent: error: ' "$e2e_work/err" || fail "bad error format: $(cat "$e2e_work/err")"
  grep -qF -- "$1" "$e2e_work/err" || fail "error does not mention '$1': $(cat "$e2e_work/err")"
}

# Like expect_one_error_line, for commands that also print progress lines on stderr: exactly one
# error line, in the agent's format, containing $1.
expect_error_line() {
  [[ $(grep -c '^sdp-agent: error: ' "$e2e_work/err") == 1 ]] || fail "expected one error line, got: $(cat "$e2e_work/err")"
  grep '^sdp-agent: error: ' "$e2e_work/err" | grep -qF -- "$1" || fail "error does not mention '$1': $(cat "$e2e_work/err")"
}
