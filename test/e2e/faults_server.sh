#!/usr/bin/env bash
# Faults on the server side (issue 10):
#  - pg_terminate_backend of a session in the middle of sdp_process_batch (psql, and the agent's
#    own connection, which must retry), and of the background worker (sdp.auto_process): the
#    batch ends FAILED or is processed again, never half-PROCESSED, and no partial result is
#    ever visible;
#  - PostgreSQL restarted while `sdp-agent watch` runs: the daemon backs off, retries and
#    completes every file, with exactly one batch per file.
#
# SDP_STRESS=1: bigger batches, several terminations and restarts.
source "$(dirname "$0")/lib.sh"
db=sdp_e2e_faults_server
e2e_database $db
psql -XAtq -c "ALTER DATABASE $db SET sdp.env = 'dev'" -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
if [[ "${SDP_STRESS:-0}" == 1 ]]; then
  rows=1000000 kills=3 watch_files=8 watch_rows=40000 restarts=3
else
  rows=400000 kills=1 watch_files=3 watch_rows=15000 restarts=1
fi

wait_for() {  # seconds, shell condition; polls every 20 ms
  local deadline=$((SECONDS + $1))
  until eval "$2"; do
    ((SECONDS < deadline)) || fail "timed out after $1 s waiting for: $2"
    sleep 0.02
  done
}
q() { psql -XAtq -c "$1"; }
pass_timed() { pass "$* [${SECONDS} s]"; }
# A features-only batch file (the server never needs the PII columns): distinct per seed.
features() {  # rows, seed, path
  python3 - "$@" <<'PY'
import random, sys
n, seed, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = random.Random(seed)
with open(path, "w") as f:
    f.write("customer_id,age,income,balance,num_transactions\n")
    for i in range(n):
        f.write(f"S{seed}_{i:08d},{r.randint(18, 90)},{r.randint(0, 250000)},"
                f"{r.randint(-5000, 200000)},{r.randint(0, 300)}\n")
PY
}
# The kills below aim at a scoring that lasts a fraction of a second: on a fast (or a very
# loaded) machine it can end before the kill lands. Such a miss tests nothing, so the step starts
# again on a fresh batch; only max_misses misses in a row fail the test.
max_misses=4
terminated() {  # pid -> true if the backend was still there to be terminated
  [[ -n "$1" && $(q "SELECT pg_terminate_backend($1)" 2>/dev/null) == t ]]
}
next_seed=10
fresh_batch_file() {  # -> path of a new features file (distinct content, so a distinct batch)
  next_seed=$((next_seed + 1))
  features "$rows" "$next_seed" "$w/fresh$next_seed.csv"
  echo "$w/fresh$next_seed.csv"
}
upload() {  # file -> prints the batch id (sealed, RECEIVED)
  "$agent" upload-batch --file "$1" --client-id bank_demo --processing-type risk_scoring \
    --chunk-kb 1024 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["batch_id"])'
}
# Never half-PROCESSED: either PROCESSED with every row scored, or no result row at all.
consistent() {  # batch id -> "STATUS results"
  local s
  s=$(q "SELECT b.status || ' ' || b.processed_records || ' ' || (SELECT count(*) FROM sdp.processed_result r WHERE r.batch_id = b.batch_id)
         FROM sdp.processing_batch b WHERE b.batch_id = '$1'")
  read -r status processed results <<<"$s"
  case $status in
    PROCESSED) [[ $processed == "$2" && $results == "$2" ]] || fail "half-PROCESSED: $s of $2" ;;
    RECEIVED | FAILED) [[ $results == 0 ]] || fail "$status batch with $results visible results" ;;
    *) fail "batch left $status ($s)" ;;
  esac
  echo "$status"
}
# The backend (pid) whose query matches $1 once it has written (backend_xid set: the batch row
# is PROCESSING in its transaction, so it is scoring), plus 0.2 s to be well into the scoring.
# Prints nothing when the shell condition $2 (the work is still going on) turns false first: the
# scoring came and went between two polls (a miss).
scoring_backend() {
  local pid=""
  local deadline=$((SECONDS + 60))
  while [[ -z "$pid" ]]; do
    ((SECONDS < deadline)) || fail "no backend started scoring ($1)"
    eval "$2" || return 0
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE $1 AND state = 'active' AND backend_xid IS NOT NULL LIMIT 1")
    [[ -n "$pid" ]] || sleep 0.02
  done
  sleep 0.2
  echo "$pid"
}

features "$rows" 1 "$w/b1.csv"
features "$rows" 2 "$w/b2.csv"
features "$rows" 3 "$w/b3.csv"

# --- a psql session terminated inside sdp_process_batch ----------------------------------------
b1=$(upload "$w/b1.csv")
done_kills=0 misses=0
while ((done_kills < kills)); do
  PGAPPNAME=sdp_fault_victim psql -XAtq -c "SELECT status FROM sdp.sdp_process_batch('$b1')" \
    >"$w/victim.out" 2>"$w/victim.err" &
  victim=$!
  pid=$(scoring_backend "application_name = 'sdp_fault_victim'" "kill -0 $victim 2>/dev/null")
  # While it scores, another session sees the batch RECEIVED and no result.
  mid=$(consistent "$b1" "$rows")
  if [[ $mid != RECEIVED ]] || ! terminated "$pid"; then
    wait "$victim" || fail "the session failed without being terminated: $(cat "$w/victim.err")"
    [[ $(consistent "$b1" "$rows") == PROCESSED ]] || fail "missed kill left b1 unprocessed"
    misses=$((misses + 1))
    ((misses <= max_misses)) || fail "the scoring ended before every kill ($misses misses)"
    b1=$(upload "$(fresh_batch_file)")
    continue
  fi
  done_kills=$((done_kills + 1)) misses=0
  if wait "$victim"; then fail "the terminated session succeeded: $(cat "$w/victim.out")"; fi
  grep -q "terminating connection due to administrator command" "$w/victim.err" ||
    fail "not terminated mid-call: $(cat "$w/victim.err")"
  grep -q "_score_batch" "$w/victim.err" || fail "terminated outside the scoring: $(cat "$w/victim.err")"
  wait_for 10 "[[ -z \$(q \"SELECT 1 FROM pg_stat_activity WHERE pid = $pid\") ]]"
  st=$(consistent "$b1" "$rows")
  [[ $st == RECEIVED || $st == FAILED ]] || fail "after termination: $st"
done
[[ $(q "SELECT status FROM sdp.sdp_process_batch('$b1')") == PROCESSED ]] || fail "re-processing after termination"
[[ $(consistent "$b1" "$rows") == PROCESSED ]] || fail "b1 not complete"
pass_timed "pg_terminate_backend inside sdp_process_batch ($kills x): no partial result, then processed completely"

# --- the agent's own connection terminated while it processes: it retries and completes -------
b2_file=$w/b2.csv misses=0
for (( ; ; )); do
  PGAPPNAME=sdp_fault_agent "$agent" process-batch --raw-input "$b2_file" --tokenized-file "$b2_file" \
    --output "$w/merged2.csv" --client-id bank_demo --processing-type risk_scoring \
    --use-dev-processor --chunk-kb 1024 >"$w/agent2.json" 2>"$w/agent2.err" &
  agent_pid=$!
  pid=$(scoring_backend "application_name = 'sdp_fault_agent' AND query LIKE '%sdp_dev_process_batch%'" \
    "kill -0 $agent_pid 2>/dev/null")
  terminated "$pid" && break
  wait "$agent_pid" || fail "agent failed without a terminated session: $(cat "$w/agent2.err")"
  misses=$((misses + 1))
  ((misses <= max_misses)) || fail "the agent's scoring ended before every kill ($misses misses)"
  b2_file=$(fresh_batch_file)
done
wait "$agent_pid" || fail "agent did not recover from a terminated session: $(cat "$w/agent2.err")"
b2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$w/agent2.json")
[[ $(consistent "$b2" "$rows") == PROCESSED ]] || fail "b2 not complete"
# b1 (and its fresh replacements) plus this file's batches (one per file the agent processed).
expected_batches=$((1 + next_seed - 10 + 1))
[[ $(q "SELECT count(*) FROM sdp.processing_batch") == "$expected_batches" ]] || fail "a duplicate batch after the retry"
[[ $(grep -c ',demo_v1$' "$w/merged2.csv") == "$rows" ]] || fail "merged results after the retry"
pass_timed "agent's session terminated mid-processing: the agent retries, one batch, complete output"

# --- the background worker terminated while it scores: the batch is processed again -----------
reset_worker() {
  psql -XAtq -c "ALTER SYSTEM RESET sdp.auto_process" -c "ALTER SYSTEM RESET sdp.worker_naptime" \
    -c "ALTER SYSTEM RESET sdp.worker_databases" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
e2e_at_exit reset_worker
b3=$(upload "$w/b3.csv")
psql -XAtq -c "ALTER SYSTEM SET sdp.worker_databases = '$db'" -c "ALTER SYSTEM SET sdp.worker_naptime = '200ms'" \
  -c "ALTER SYSTEM SET sdp.auto_process = on" -c "SELECT pg_reload_conf()" >/dev/null
worker_pids=()
misses=0
while ((${#worker_pids[@]} < kills)); do
  pid=$(scoring_backend "backend_type = 'sdp worker' AND query = 'sdp worker: processing a batch'" \
    "[[ \$(q \"SELECT status FROM sdp.processing_batch WHERE batch_id = '$b3'\") == RECEIVED ]]")
  mid=$(consistent "$b3" "$rows")
  if [[ $mid != RECEIVED ]] || ! terminated "$pid"; then
    # The worker finished this batch before the kill landed: wait for it, then a fresh batch.
    wait_for 60 "[[ \$(q \"SELECT status FROM sdp.processing_batch WHERE batch_id = '$b3'\") == PROCESSED ]]"
    misses=$((misses + 1))
    ((misses <= max_misses)) || fail "the worker's scoring ended before every kill ($misses misses)"
    b3=$(upload "$(fresh_batch_file)")
    continue
  fi
  misses=0
  wait_for 10 "[[ -z \$(q \"SELECT 1 FROM pg_stat_activity WHERE pid = $pid\") ]]"
  st=$(consistent "$b3" "$rows")
  [[ $st == RECEIVED || $st == FAILED ]] || fail "after terminating the worker: $st"
  [[ $st == RECEIVED ]] || break  # FAILED is final: nothing retries it
  worker_pids+=("$pid")
done
wait_for 90 "[[ \$(q \"SELECT status FROM sdp.processing_batch WHERE batch_id = '$b3'\") != RECEIVED ]]"
st=$(consistent "$b3" "$rows")
reset_worker
[[ $st == PROCESSED ]] || fail "worker left the batch $st after ${#worker_pids[@]} terminations"
pass_timed "pg_terminate_backend of the worker ($kills x): rolled back, then processed by the next worker"

# --- PostgreSQL restarted while the watch daemon runs -------------------------------------------
bindir=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
[[ -n "${SDP_PG_DATA:-}" && -n "${SDP_PG_LOG:-}" ]] || fail "SDP_PG_DATA/SDP_PG_LOG not set: run inside test/with_pg.sh"
pg_owner() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
out=$w/outbox in=$w/inbox
mkdir -p "$out" "$in"
for i in $(seq 1 "$watch_files"); do
  python3 "$repo/bench/gen_customers.py" "$watch_rows" "$w/w$i.tmp" --seed $((100 + i))
done
cfg="$repo/configs/customers_tokenization.yml"
"$agent" watch --outbox "$out" --inbox "$in" --config "$cfg" --vault "$w/vault.db" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor --poll-interval 0.2 \
  --chunk-kb 64 2>"$w/watch.jsonl" &
watch_pid=$!
# On a failure with the server down, start it again: the scripts after this one need it.
ensure_pg_running() {
  pg_owner "$bindir/pg_ctl" -D "$SDP_PG_DATA" status >/dev/null 2>&1 ||
    pg_owner "$bindir/pg_ctl" -D "$SDP_PG_DATA" -l "$SDP_PG_LOG" -w -t 60 start >/dev/null 2>&1 || true
}
# (Exit steps run last registered first: the daemon stops, the server is up, then reset_worker.)
e2e_at_exit 'ensure_pg_running'
e2e_at_exit 'e2e_stop_pid "$watch_pid"'
for i in $(seq 1 "$watch_files"); do mv "$w/w$i.tmp" "$out/w$i.csv"; done
batches_before=$(q "SELECT count(*) FROM sdp.processing_batch")
for r in $(seq 1 "$restarts"); do
  # Mid-upload of some file: a batch of the watch is UPLOADING with rows in it.
  wait_for 120 "[[ \$(q \"SELECT count(*) FROM sdp.processing_batch WHERE status = 'UPLOADING' AND accepted_records > 0\" 2>/dev/null) -ge 1 ]]"
  retries=$(grep -c '"event":"retry_later"' "$w/watch.jsonl" || true)
  pg_owner "$bindir/pg_ctl" -D "$SDP_PG_DATA" -m fast -w -t 60 stop >/dev/null
  # Down until the daemon has given up on its transport's own retries and backs off.
  wait_for 60 "(( \$(grep -c '\"event\":\"retry_later\"' '$w/watch.jsonl') > $retries )) || ! kill -0 $watch_pid 2>/dev/null"
  kill -0 "$watch_pid" 2>/dev/null || fail "watch exited while PostgreSQL was down: $(tail -3 "$w/watch.jsonl")"
  pg_owner "$bindir/pg_ctl" -D "$SDP_PG_DATA" -l "$SDP_PG_LOG" -w -t 60 start >/dev/null
done
wait_for 180 "[[ \$(find '$in' -name 'w*.csv' | wc -l) == $watch_files ]]"
kill -TERM "$watch_pid"
watch_rc=0
wait "$watch_pid" || watch_rc=$?
watch_pid=""  # reaped: its PID may be reused, the exit step must not signal it
((watch_rc == 0)) || fail "watch exit code $watch_rc after SIGTERM"
grep -q '"event":"retry_later"' "$w/watch.jsonl" || fail "no retry logged while PostgreSQL was down"
[[ -z $(find "$out" -maxdepth 1 -name 'w*.csv') && -z $(ls -A "$out/failed") ]] ||
  fail "files not done: $(ls -R "$out") $(cat "$out"/failed/*.error 2>/dev/null)"
for i in $(seq 1 "$watch_files"); do
  [[ $(grep -c ',demo_v1$' "$in/w$i.csv") == "$watch_rows" ]] || fail "w$i.csv results incomplete"
done
[[ $(q "SELECT count(*) FROM sdp.processing_batch") == $((batches_before + watch_files)) ]] ||
  fail "duplicate batches after the restart: $(q "SELECT count(*) FROM sdp.processing_batch") for $watch_files files"
[[ $(q "SELECT count(*) FROM sdp.processing_batch WHERE status <> 'PROCESSED'") == 0 ]] || fail "unprocessed batches"
pass_timed "PostgreSQL restarted ($restarts x) under watch: backoff, every file done once, complete output"

echo "$checks checks passed"
