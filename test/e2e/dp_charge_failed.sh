#!/usr/bin/env bash
# The 'failed' outcome of sdp_dp_queries_total (issue 18, privacy_charge.cc): a differentially
# private query whose charge does not complete. Each case checks that the counter moves by
# exactly one (released and refused by none), that nothing is charged (grant, dataset, ledger,
# audit log) and that the caller gets PT409 and no row:
#   1. the charge's background worker does not commit: another session holds the grant row
#      longer than the worker's lock_timeout (5 s), so the worker's transaction fails;
#   2. the worker is killed (pg_terminate_backend) while it waits for that lock, before it
#      commits: the caller sees the worker gone without an answer;
#   3. the worker cannot start: a cluster of its own with max_worker_processes = 1, the one slot
#      held by sdp's launcher, so registering the charge's worker fails for the caller's 30 s.
source "$(dirname "$0")/lib.sh"
w=$e2e_work
e2e_database sdp_e2e_dp_failed

psql -XAtq -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
CREATE TABLE public.fail_people AS SELECT 'u' || i AS person FROM generate_series(1, 200) i;
SELECT (sdp.sdp_dp_register('fail_people', 'public.fail_people', 'person', 1, 10)).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'fail_people', 5);
SQL

# released|refused|failed, from the shared-memory counters.
outcomes() {
  psql -XAtq -c "SELECT string_agg(coalesce(s.value, 0)::bigint::text, '|' ORDER BY o.n)
                   FROM unnest(ARRAY['released', 'refused', 'failed']) WITH ORDINALITY o(outcome, n)
                   LEFT JOIN sdp.sdp_metrics_samples() s
                     ON s.name = 'sdp_dp_queries_total' AND s.labels ->> 'outcome' = o.outcome"
}
# grant spent|dataset spent|ledger rows|dp.release audit entries
charged() {
  psql -XAtq -c "SELECT g.epsilon_spent, d.epsilon_spent,
                        (SELECT count(*) FROM sdp.dp_ledger l WHERE l.dataset = 'fail_people'),
                        (SELECT count(*) FROM sdp.audit_log a WHERE a.event = 'dp.release' AND a.target = 'fail_people')
                   FROM sdp.dp_grant g JOIN sdp.dp_dataset d ON d.name = g.dataset
                  WHERE g.dataset = 'fail_people'"
}
# expect_failed BEFORE WHAT: the counters moved by exactly one 'failed' since BEFORE.
expect_failed() {
  local r0 x0 f0 r1 x1 f1
  IFS='|' read -r r0 x0 f0 <<<"$1"
  IFS='|' read -r r1 x1 f1 <<<"$(outcomes)"
  [[ $r1 == "$r0" && $x1 == "$x0" && $f1 == $((f0 + 1)) ]] ||
    fail "$2: released|refused|failed went from $1 to $r1|$x1|$f1 (want failed +1 only)"
}
query() {  # the caller: one count of ε 0.5, SQLSTATE in the error text
  psql -XAtq -c '\set VERBOSITY verbose' -c "SELECT count(*) FROM sdp.sdp_dp_count('fail_people', 0.5)"
}
[[ $(charged) == "0|0|0|0" ]] || fail "setup charged something: $(charged)"

# ---- 3. the worker cannot start (no free worker slot), in a cluster of its own -------------------
cat >"$w/no_slot.sh" <<'EOF'
set -euo pipefail
psql -XAtq -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
CREATE EXTENSION sdp;
CREATE TABLE public.fail_people AS SELECT 'u' || i AS person FROM generate_series(1, 200) i;
SELECT (sdp.sdp_dp_register('fail_people', 'public.fail_people', 'person', 1, 10)).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'fail_people', 5);
SQL
outcomes() {
  psql -XAtq -c "SELECT string_agg(coalesce(s.value, 0)::bigint::text, '|' ORDER BY o.n)
                   FROM unnest(ARRAY['released', 'refused', 'failed']) WITH ORDINALITY o(outcome, n)
                   LEFT JOIN sdp.sdp_metrics_samples() s
                     ON s.name = 'sdp_dp_queries_total' AND s.labels ->> 'outcome' = o.outcome"
}
echo "before $(outcomes)"
if psql -XAtq -c '\set VERBOSITY verbose' -c "SELECT count(*) FROM sdp.sdp_dp_count('fail_people', 0.5)" \
  >"$1/3.out" 2>"$1/3.err"; then
  echo "returned"
fi
echo "after $(outcomes)"
echo "charged $(psql -XAtq -c "SELECT g.epsilon_spent || '|' || d.epsilon_spent || '|' ||
                                     (SELECT count(*) FROM sdp.dp_ledger)
                                FROM sdp.dp_grant g JOIN sdp.dp_dataset d ON d.name = g.dataset")"
EOF
# Runs meanwhile (it mostly waits): its own cluster, started in the background.
SDP_PG_SETTINGS="max_worker_processes = 1" bash "$repo/test/with_pg.sh" bash "$w/no_slot.sh" "$w" \
  >"$w/3.log" 2>&1 &
no_slot=$!
e2e_at_exit "e2e_stop_pid $no_slot 10"

# ---- 1. the worker does not commit (lock_timeout) ------------------------------------------------
before=$(outcomes)
psql -XAtq -c "BEGIN; SELECT 1 FROM sdp.dp_grant WHERE dataset = 'fail_people' FOR UPDATE; SELECT pg_sleep(8); COMMIT;" \
  >/dev/null 2>&1 &
holder=$!
e2e_at_exit "e2e_stop_pid $holder 2"
sleep 0.5
query >"$w/1.out" 2>"$w/1.err" && fail "the query returned although its charge failed: $(cat "$w/1.out")"
grep -q 'PT409' "$w/1.err" || fail "case 1: expected PT409, got: $(cat "$w/1.err")"
[[ ! -s "$w/1.out" ]] || fail "case 1 printed a result: $(cat "$w/1.out")"
expect_failed "$before" "worker that could not commit"
[[ $(charged) == "0|0|0|0" ]] || fail "case 1 charged something: $(charged)"
wait "$holder" || true
pass "charge worker that does not commit (grant row locked past lock_timeout) -> PT409, no row, nothing charged, sdp_dp_queries_total{outcome=\"failed\"} +1"

# ---- 2. the worker is killed before it commits ---------------------------------------------------
before=$(outcomes)
psql -XAtq -c "BEGIN; SELECT 1 FROM sdp.dp_grant WHERE dataset = 'fail_people' FOR UPDATE; SELECT pg_sleep(30); COMMIT;" \
  >/dev/null 2>&1 &
holder=$!
e2e_at_exit "e2e_stop_pid $holder 2"
sleep 0.5
query >"$w/2.out" 2>"$w/2.err" &
victim=$!
worker=""
for _ in $(seq 1 200); do
  worker=$(psql -XAtq -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sdp privacy charge'
                            AND wait_event_type = 'Lock'")
  [[ -n "$worker" ]] && break
  sleep 0.05
done
[[ -n "$worker" ]] || fail "case 2: the charge worker never waited for the grant row"
psql -XAtq -c "SELECT pg_terminate_backend($worker)" >/dev/null
wait "$victim" && fail "case 2: the query returned although its worker was killed: $(cat "$w/2.out")"
grep -q 'PT409' "$w/2.err" && grep -q 'did not complete; nothing was charged' "$w/2.err" ||
  fail "case 2: expected PT409 'did not complete', got: $(cat "$w/2.err")"
[[ ! -s "$w/2.out" ]] || fail "case 2 printed a result: $(cat "$w/2.out")"
psql -XAtq -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE query LIKE 'BEGIN; SELECT 1 FROM sdp.dp_grant%' AND pid <> pg_backend_pid()" >/dev/null
wait "$holder" || true
expect_failed "$before" "worker killed before its commit"
[[ $(charged) == "0|0|0|0" ]] || fail "case 2 charged something: $(charged)"
pass "charge worker killed before its commit -> PT409 'did not complete', no row, nothing charged, failed +1"

# ---- 3. the worker cannot start: the result ----------------------------------------------------
wait "$no_slot" || fail "case 3: the cluster run failed: $(tail -n 5 "$w/3.log")"
grep -q '^returned' "$w/3.log" && fail "case 3: the query returned without a worker: $(cat "$w/3.out")"
grep -q 'PT409' "$w/3.err" && grep -q 'no free background worker slot' "$w/3.err" ||
  fail "case 3: expected PT409 'no free background worker slot', got: $(cat "$w/3.err")"
b=$(sed -n 's/^before //p' "$w/3.log")
a=$(sed -n 's/^after //p' "$w/3.log")
IFS='|' read -r r0 x0 f0 <<<"$b"
IFS='|' read -r r1 x1 f1 <<<"$a"
[[ $r1 == "$r0" && $x1 == "$x0" && $f1 == $((f0 + 1)) ]] ||
  fail "case 3: released|refused|failed went from $b to $a (want failed +1 only)"
[[ $(sed -n 's/^charged //p' "$w/3.log") == "0|0|0" ]] ||
  fail "case 3 charged something: $(grep '^charged' "$w/3.log")"
pass "charge worker that cannot start (max_worker_processes = 1, held by sdp's launcher) -> PT409 after the 30 s wait, nothing charged, failed +1"

echo "dp_charge_failed: $checks checks passed"
