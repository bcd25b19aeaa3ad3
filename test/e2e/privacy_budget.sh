#!/usr/bin/env bash
# Privacy budget under concurrency (issue 18, 80_privacy.sql):
#   - 64 sessions each spend ε = 0.1 against a grant of 1.0 at the same moment: exactly 10
#     succeed, the other 54 are refused with PT403 (never 40001, PT409 or a deadlock), and the
#     grant, the dataset and the ledger all say 1.0 / 10 releases, exactly;
#   - a backend killed (pg_terminate_backend) while the release is being computed, before the
#     charge, leaves no charge, no ledger row, no audit entry and no result;
#   - a backend killed while its charge waits (a lock held elsewhere), after the worker has taken
#     the charge over: the charge commits, no result is returned (conservative: privacy_charge.cc
#     commits in a background worker of its own, docs/privacy_analytics.md).
source "$(dirname "$0")/lib.sh"
w=$e2e_work
e2e_database sdp_e2e_privacy

psql -XAtq -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
CREATE TABLE public.conc AS SELECT 'u' || i AS person FROM generate_series(1, 1000) i;
SELECT (sdp.sdp_dp_register('conc', 'public.conc', 'person', 1, 100)).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'conc', 1);
-- A slow dataset: every row sleeps, so a query is still scanning when it is killed.
CREATE TABLE public.slow_base AS SELECT 'u' || i AS person FROM generate_series(1, 2000) i;
CREATE VIEW public.slow AS
  SELECT b.person, row_number() OVER ()::bigint AS rid
    FROM public.slow_base b, LATERAL (SELECT pg_sleep(0.01 * length(b.person) / length(b.person))) s;
SELECT (sdp.sdp_dp_register('slow', 'public.slow', 'person', 1, 100, row_identity => 'rid')).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'slow', 1);
SELECT (sdp.sdp_dp_register('conc2', 'public.conc', 'person', 1, 100)).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'conc2', 1);
SQL

# ---- 64 sessions at once: all wait on an advisory lock the controller holds, then go ----
psql -XAtq -c "SELECT pg_advisory_lock(1818), pg_sleep(3)" >/dev/null &
gate=$!
sleep 0.5
pids=()
for i in $(seq 1 64); do
  psql -XAtq -v ON_ERROR_STOP=1 \
    -c "SELECT pg_advisory_lock_shared(1818); SELECT pg_advisory_unlock_shared(1818)" \
    -c "SELECT count(*) FROM sdp.sdp_dp_count('conc', 0.1)" >"$w/s$i.out" 2>"$w/s$i.err" &
  pids+=($!)
done
wait "$gate"
ok=0 refused=0 other=0
for i in $(seq 1 64); do
  if wait "${pids[$((i - 1))]}"; then
    ok=$((ok + 1))
  elif grep -q "privacy budget exceeded" "$w/s$i.err"; then
    refused=$((refused + 1))
  else
    other=$((other + 1))
    cat "$w/s$i.err" >&2
  fi
done
[[ $ok == 10 && $refused == 54 && $other == 0 ]] ||
  fail "64 sessions of 0.1 against 1.0: $ok succeeded, $refused refused, $other other errors (want 10/54/0)"
pass "64 concurrent sessions of ε 0.1 against 1.0: exactly 10 released, 54 refused with PT403"

state=$(psql -XAtq -c "SELECT g.epsilon_spent, d.epsilon_spent,
                              (SELECT count(*) FROM sdp.dp_ledger l WHERE l.dataset = 'conc'),
                              (SELECT sum(l.epsilon) FROM sdp.dp_ledger l WHERE l.dataset = 'conc')
                         FROM sdp.dp_grant g JOIN sdp.dp_dataset d ON d.name = g.dataset
                        WHERE g.dataset = 'conc'")
[[ "$state" == "1.0|1.0|10|1.0" ]] || fail "after the race: grant|dataset|ledger rows|ledger sum = $state"
pass "grant, dataset cap and ledger agree exactly: spent 1.0, 10 ledger rows"

# ---- a backend killed while computing, before the charge ----
psql -XAtq -c "SET application_name = 'dp_kill'" \
  -c "SELECT count(*) FROM sdp.sdp_dp_count('slow', 0.5)" >"$w/kill.out" 2>"$w/kill.err" &
victim=$!
scanning=""
for _ in $(seq 1 100); do
  # The scan of the slow view takes 20 s and comes before the charge.
  scanning=$(psql -XAtq -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dp_kill'
                              AND state = 'active' AND query_start < clock_timestamp() - interval '1 second'")
  [[ "$scanning" -ge 1 ]] && break
  sleep 0.1
done
[[ "$scanning" -ge 1 ]] || fail "the victim never started scanning: $(cat "$w/kill.err")"
psql -XAtq -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dp_kill'" >/dev/null
wait "$victim" && fail "the killed query returned a result" || true
[[ ! -s "$w/kill.out" ]] || fail "the killed query printed a result: $(cat "$w/kill.out")"
state=$(psql -XAtq -c "SELECT g.epsilon_spent, d.epsilon_spent,
                              (SELECT count(*) FROM sdp.dp_ledger l WHERE l.dataset = 'slow'),
                              (SELECT count(*) FROM sdp.audit_log a WHERE a.event = 'dp.release' AND a.target = 'slow')
                         FROM sdp.dp_grant g JOIN sdp.dp_dataset d ON d.name = g.dataset
                        WHERE g.dataset = 'slow'")
[[ "$state" == "0|0|0|0" ]] || fail "after the kill: grant|dataset|ledger rows|audit rows = $state"
pass "a backend killed while computing (before its charge) leaves no charge, no ledger row, no audit entry and no result"

# ---- a backend killed after its charge was handed to the worker ----
# Another session holds the grant row for 3 s (under the 5 s lock_timeout): the worker waits
# for it, the caller waits for the worker and is killed; the worker then commits the charge.
psql -XAtq -c "BEGIN; SELECT 1 FROM sdp.dp_grant WHERE dataset = 'conc2' FOR UPDATE; SELECT pg_sleep(3); COMMIT;" \
  >/dev/null 2>&1 &
holder=$!
sleep 0.5
psql -XAtq -c "SET application_name = 'dp_kill2'" \
  -c "SELECT count(*) FROM sdp.sdp_dp_count('conc2', 0.5)" >"$w/kill2.out" 2>"$w/kill2.err" &
victim=$!
waiting=""
for _ in $(seq 1 50); do
  waiting=$(psql -XAtq -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sdp privacy charge'
                             AND wait_event_type = 'Lock'")
  [[ "$waiting" -ge 1 ]] && break
  sleep 0.05
done
[[ "$waiting" -ge 1 ]] || fail "the charge worker never waited for the grant row: $(cat "$w/kill2.err")"
psql -XAtq -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dp_kill2'" >/dev/null
wait "$victim" && fail "the killed query returned a result" || true
[[ ! -s "$w/kill2.out" ]] || fail "the killed query printed a result: $(cat "$w/kill2.out")"
wait "$holder"
sleep 0.5
state=$(psql -XAtq -c "SELECT g.epsilon_spent, (SELECT count(*) FROM sdp.dp_ledger l WHERE l.dataset = 'conc2')
                         FROM sdp.dp_grant g WHERE g.dataset = 'conc2'")
[[ "$state" == "0.5|1" ]] || fail "after the kill past the charge: grant spent|ledger rows = $state (want 0.5|1)"
pass "a backend killed after its charge was handed over: charged 0.5 with its ledger row, no result"

echo "privacy_budget: $checks checks passed"
