#!/usr/bin/env bash
# The watch daemon: three files at once, a malformed file, a symlink, kill -9 in the middle of
# an upload then restart (exactly one batch per file, every output correct), SIGTERM exits 0.
source "$(dirname "$0")/lib.sh"
e2e_database sdp_e2e_watch
psql -XAtq -c "ALTER DATABASE sdp_e2e_watch SET sdp.env = 'dev'" -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
out=$w/outbox in=$w/inbox
mkdir -p "$out" "$in"
cfg="$repo/configs/customers_tokenization.yml"
watch_args=(watch --outbox "$out" --inbox "$in" --config "$cfg" --vault "$w/vault.db"
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor --poll-interval 0.2)

for i in 1 2 3; do python3 "$repo/bench/gen_customers.py" 500 "$w/f$i.tmp" --seed $i; done
{ head -n 1 "$w/f1.tmp"; printf 'C1,"unterminated\n'; } >"$w/bad.tmp"
ln -s /etc/passwd "$out/link.csv"
for f in f1 f2 f3 bad; do mv "$w/$f.tmp" "$out/$f.csv"; done   # renamed in: complete
"$agent" "${watch_args[@]}" --once 2>"$w/log1.jsonl" || fail "watch --once: $(tail -3 "$w/log1.jsonl")"
for f in f1 f2 f3; do
  [[ -f "$out/done/$f.csv" && -f "$in/$f.csv" ]] || fail "$f not done"
  [[ $(wc -l <"$in/$f.csv") == 501 ]] || fail "$f merged rows"
  [[ $(grep -c ',demo_v1$' "$in/$f.csv") == 500 ]] || fail "$f results"
done
[[ -f "$out/failed/bad.csv" && -s "$out/failed/bad.csv.error" ]] || fail "malformed file not in failed/"
grep -q 'bad.csv:2' "$out/failed/bad.csv.error" || fail "reason: $(cat "$out/failed/bad.csv.error")"
[[ -L "$out/link.csv" ]] || fail "symlink was touched"
grep -q '"event":"skipped_not_a_regular_file","file":"link.csv"' "$w/log1.jsonl" || fail "symlink not reported"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$w/log1.jsonl" || fail "log is not JSON lines"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch") == 3 ]] || fail "batches"
pass "three files at once, a malformed one to failed/ with its reason, symlink skipped, JSON logs"
rm -f "$out/link.csv"

# kill -9 in the middle of an upload, then restart: one batch, correct output.
python3 "$repo/bench/gen_customers.py" 20000 "$w/big.tmp" --seed 7
mv "$w/big.tmp" "$out/big.csv"
"$agent" "${watch_args[@]}" --chunk-kb 64 2>"$w/log2.jsonl" &
pid=$!
for _ in $(seq 1 300); do
  n=$(psql -XAtc "SELECT accepted_records FROM sdp.processing_batch WHERE status = 'UPLOADING'" | head -1)
  [[ -n "$n" && "$n" -gt 0 ]] && break
  sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[[ -f "$out/.sdp-agent/processing/big.csv" ]] || fail "killed file not in processing/"
[[ ! -e "$in/big.csv" ]] || fail "output exists after kill -9"
# The same command line as before the kill (systemd restarts it unchanged).
"$agent" "${watch_args[@]}" --chunk-kb 64 --once 2>"$w/log3.jsonl" || fail "restart: $(tail -3 "$w/log3.jsonl")"
grep -q '"event":"resumed","file":"big.csv"' "$w/log3.jsonl" || fail "not resumed: $(cat "$w/log3.jsonl")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch") == 4 ]] || fail "duplicate batch after kill -9"
[[ $(grep -c ",demo_v1$" "$in/big.csv") == 20000 ]] || fail "big results: $(cat "$w/log3.jsonl")"
[[ -f "$out/done/big.csv" ]] || fail "big not done"
pass "kill -9 during upload, restart: exactly one batch, complete output"

# SIGTERM: the daemon stops cleanly with exit 0.
"$agent" "${watch_args[@]}" 2>"$w/log4.jsonl" &
pid=$!
sleep 0.5
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM exit code $?"
grep -q '"event":"watch_stopped"' "$w/log4.jsonl" || fail "no clean stop"
pass "SIGTERM: clean stop, exit 0"

echo "$checks checks passed"
