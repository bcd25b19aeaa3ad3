#!/usr/bin/env bash
# The watch daemon against a hostile outbox and a curious local user: invalid UTF-8 in a file
# name or a CSV header (the JSON logger used to throw, the daemon exited 1 and resumed the same
# file first on every start), unsafe state directories, keys in /proc/<pid>/environ, a dumpable
# process.
source "$(dirname "$0")/lib.sh"
e2e_database sdp_e2e_watch_hardening
psql -XAtq -c "ALTER DATABASE sdp_e2e_watch_hardening SET sdp.env = 'dev'" \
  -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
out=$w/outbox in=$w/inbox
mkdir -p "$out" "$in"
cfg="$repo/configs/customers_tokenization.yml"
watch_args=(watch --outbox "$out" --inbox "$in" --config "$cfg" --vault "$w/vault.db"
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor --poll-interval 0.2)
json_lines() { python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$1"; }

# Poison pills: a name that is not UTF-8, a header that is not UTF-8 (resumed from processing/,
# as after the crash it used to cause), then good files that must still be processed.
for i in 1 2 3; do python3 "$repo/bench/gen_customers.py" 50 "$w/g$i.tmp" --seed $i; done
bad_name=$'bad\xff\xfename.csv'
cp "$w/g1.tmp" "$out/$bad_name"
{ printf 'customer_id,em\xffail\xc3(\n'; tail -n +2 "$w/g1.tmp"; } >"$w/badhdr.tmp"
"$agent" "${watch_args[@]}" --once 2>"$w/log0.jsonl" || fail "first start: $(tail -3 "$w/log0.jsonl")"
[[ -f "$out/failed/$bad_name" && -s "$out/failed/$bad_name.error" ]] || fail "invalid UTF-8 name not in failed/: $(ls "$out" "$out/failed")"
grep -q "not valid UTF-8" "$out/failed/$bad_name.error" || fail "reason: $(cat "$out/failed/$bad_name.error")"
mv "$w/badhdr.tmp" "$out/.sdp-agent/processing/badhdr.csv"   # left there by a crash
mv "$w/g1.tmp" "$out/g1.csv"
mv "$w/g2.tmp" "$out/g2.csv"
"$agent" "${watch_args[@]}" --once 2>"$w/log1.jsonl" || fail "watch exited $?: $(tail -3 "$w/log1.jsonl")"
[[ -f "$out/failed/badhdr.csv" && -s "$out/failed/badhdr.csv.error" ]] || fail "invalid UTF-8 header not in failed/: $(cat "$w/log1.jsonl")"
# The claimed file is read through one descriptor; the reason still names the file.
grep -q "processing/badhdr.csv: .*is not in the CSV header" "$out/failed/badhdr.csv.error" ||
  fail "reason: $(cat "$out/failed/badhdr.csv.error")"
grep -q "/proc/self/fd" "$out/failed/badhdr.csv.error" && fail "reason names the descriptor"
for f in g1 g2; do
  [[ -f "$out/done/$f.csv" && $(grep -c ',demo_v1$' "$in/$f.csv") == 50 ]] || fail "$f not processed after the poison pills: $(cat "$w/log1.jsonl")"
done
json_lines "$w/log0.jsonl" || fail "log is not JSON lines"
json_lines "$w/log1.jsonl" || fail "log is not JSON lines"
grep -q '"event":"file_failed","file":"bad\\ufffd\\ufffdname.csv"\|"event":"file_failed","file":"bad��name.csv"' "$w/log0.jsonl" ||
  fail "invalid name not logged with replacement characters: $(cat "$w/log0.jsonl")"
grep -q '"event":"resumed","file":"badhdr.csv"' "$w/log1.jsonl" || fail "header file not resumed first"
pass "invalid UTF-8 file name and header: moved to failed/, logged as valid JSON, next files processed"

# The same with the daemon running (not --once): it keeps going after the poison pill.
"$agent" "${watch_args[@]}" 2>"$w/log2.jsonl" &
pid=$!
e2e_at_exit 'e2e_stop_pid "$pid"'
{ printf 'customer_id,\xff\n'; tail -n +2 "$w/g3.tmp"; } >"$w/badhdr2.tmp"
mv "$w/badhdr2.tmp" "$out/a_badhdr2.csv"
mv "$w/g3.tmp" "$out/g3.csv"
for _ in $(seq 1 300); do [[ -f "$out/done/g3.csv" ]] && break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null || fail "daemon died: $(tail -3 "$w/log2.jsonl")"
[[ -f "$out/failed/a_badhdr2.csv" && -f "$out/done/g3.csv" ]] || fail "running daemon: $(cat "$w/log2.jsonl")"
json_lines "$w/log2.jsonl" || fail "log is not JSON lines"
pass "running daemon: a header with invalid UTF-8 goes to failed/, the daemon keeps going"

# Keys: neither value is in /proc/<pid>/environ of the running daemon; no core file possible.
api_key=sdp-e2e-api-key-that-must-not-leak-0123456789
e2e_stop_pid "$pid" || true
SDP_API_KEY=$api_key "$agent" "${watch_args[@]}" 2>"$w/log3.jsonl" &
pid=$!
for _ in $(seq 1 100); do grep -q watch_started "$w/log3.jsonl" 2>/dev/null && break; sleep 0.05; done
tr '\0' '\n' <"/proc/$pid/environ" >"$w/environ"
grep -q '^PATH=' "$w/environ" || fail "could not read the daemon's environ"
grep -qF "$SDP_CRYPTO_KEY" "$w/environ" && fail "SDP_CRYPTO_KEY value in /proc/$pid/environ"
grep -qF "$api_key" "$w/environ" && fail "SDP_API_KEY value in /proc/$pid/environ"
grep -qE '^Max core file size +0 +0 ' "/proc/$pid/limits" || fail "core dumps allowed: $(grep core "/proc/$pid/limits")"
e2e_stop_pid "$pid" || true
pass "running daemon: keys not in /proc/<pid>/environ, core size limit 0"

# Non-dumpable: another process of the same (unprivileged) user can read neither the environ
# nor the memory. As root, run the agent as nobody and try as nobody.
if [[ $(id -u) == 0 ]]; then
  nb=$(mktemp -d /tmp/sdp-e2e-nobody.XXXXXX)
  e2e_at_exit "rm -rf '$nb'"
  chmod 755 "$nb"
  mkdir -p "$nb/outbox" "$nb/inbox"
  # Copies: the checkout may be in a directory nobody cannot enter.
  cp "$agent" "$nb/sdp-agent"
  cp "$cfg" "$nb/config.yml"
  chown -R nobody:nogroup "$nb"
  SDP_API_KEY=$api_key setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$nb/sdp-agent" watch \
    --outbox "$nb/outbox" --inbox "$nb/inbox" --config "$nb/config.yml" --vault "$nb/vault.db" \
    --client-id bank_demo --processing-type risk_scoring --poll-interval 0.2 2>"$w/log4.jsonl" &
  pid=$!
  for _ in $(seq 1 100); do grep -q watch_started "$w/log4.jsonl" 2>/dev/null && break; sleep 0.05; done
  grep -q watch_started "$w/log4.jsonl" || fail "agent as nobody did not start: $(cat "$w/log4.jsonl")"
  [[ $(stat -c %u "/proc/$pid/environ") == 0 ]] || fail "daemon is dumpable (/proc/$pid owned by $(stat -c %u "/proc/$pid/environ"))"
  setpriv --reuid=nobody --regid=nogroup --clear-groups -- cat "/proc/$pid/environ" >/dev/null 2>&1 &&
    fail "the same user can read /proc/$pid/environ"
  e2e_stop_pid "$pid" || true
  pass "non-dumpable: the same user cannot read /proc/<pid>/environ"
fi

# Unsafe state directories: refuse to start (exit 3, one line), whatever was tampered with.
expect_state_refused() {
  expect_exit 3 "${watch_args[@]}" --once
  expect_one_error_line "$1"
}
chmod 777 "$out/failed"
expect_state_refused "unsafe state directory $out/failed: writable by group or others (mode 0777)"
chmod 700 "$out/failed"
chmod 770 "$out/.sdp-agent/work"
expect_state_refused "unsafe state directory $out/.sdp-agent/work: writable by group or others"
chmod 700 "$out/.sdp-agent/work"
if [[ $(id -u) == 0 ]]; then
  chown nobody "$out/.sdp-agent/processing"
  expect_state_refused "unsafe state directory $out/.sdp-agent/processing: owned by uid $(id -u nobody)"
  chown 0 "$out/.sdp-agent/processing"
  chown nobody "$out/done"
  expect_state_refused "unsafe state directory $out/done: owned by uid $(id -u nobody)"
  chown 0 "$out/done"
fi
mv "$out/.sdp-agent/processing" "$w/elsewhere"
ln -s "$w/elsewhere" "$out/.sdp-agent/processing"
expect_state_refused "$out/.sdp-agent/processing exists and is not a directory"
rm "$out/.sdp-agent/processing"
mv "$w/elsewhere" "$out/.sdp-agent/processing"
"$agent" "${watch_args[@]}" --once 2>"$w/log5.jsonl" || fail "repaired state directories: $(tail -3 "$w/log5.jsonl")"
pass "state directory other-writable, foreign-owned or a symlink: watch refuses to start (exit 3)"

echo "$checks checks passed"
