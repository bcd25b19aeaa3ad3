#!/usr/bin/env bash
# Faults on the agent side (issue 10): kill -9 of the agent in the middle of tokenize, upload and
# integrate, and a full disk under its output. After each: no output file (not even a stale
# temporary one once the next run has started), the vault opens and verifies, the input is
# untouched, and re-running the same command completes with exactly one batch on the server.
#
# SDP_STRESS=1: a bigger file and several kill points per step.
source "$(dirname "$0")/lib.sh"
e2e_database sdp_e2e_faults_agent
psql -XAtq -c "ALTER DATABASE sdp_e2e_faults_agent SET sdp.env = 'dev'" \
  -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
cfg="$repo/configs/customers_tokenization.yml"
if [[ "${SDP_STRESS:-0}" == 1 ]]; then
  rows=500000 kill_at_mb=(8 50 100) upload_kill_rows=(0 100000 300000)
else
  rows=150000 kill_at_mb=(12) upload_kill_rows=(0)
fi
python3 "$repo/bench/gen_customers.py" "$rows" "$w/raw.csv"
raw_sha=$(sha256sum <"$w/raw.csv")

# Polls (every 20 ms) until the shell condition "$2" holds; fails after $1 seconds.
wait_for() {
  local deadline=$((SECONDS + $1))
  until eval "$2"; do
    ((SECONDS < deadline)) || fail "timed out after $1 s waiting for: $2"
    sleep 0.02
  done
}
# Size in bytes of the first file matching glob $1 (0 if none).
size_of() {
  local f
  for f in $1; do [[ -f "$f" ]] && { stat -c %s "$f"; return; }; done
  echo 0
}
# kill -9 of $1, which must still be running: a kill that lands after the end tests nothing.
kill9() {
  kill -0 "$1" 2>/dev/null || fail "the agent finished before the kill ($2); use a bigger file"
  kill -KILL "$1"
  wait "$1" 2>/dev/null || true
}
# pass, with the seconds since the script started (the budget in `make check` is 60 s).
pass_timed() { pass "$* [${SECONDS} s]"; }
input_untouched() {
  [[ $(sha256sum <"$w/raw.csv") == "$raw_sha" ]] || fail "input changed: $1"
}

# --- kill -9 during tokenize -------------------------------------------------------------------
tok_args=(tokenize-config --config "$cfg" --input "$w/raw.csv" --output "$w/tok.csv" --vault "$w/vault.db")
for mb in "${kill_at_mb[@]}"; do
  "$agent" "${tok_args[@]}" 2>/dev/null &
  pid=$!
  wait_for 300 "(( \$(size_of '$w/tok.csv.tmp.*') > $mb * 1048576 ))"
  kill9 "$pid" "tokenize, ${mb} MB written"
  [[ ! -e "$w/tok.csv" ]] || fail "output exists after kill -9 during tokenize"
  expect_exit 0 vault verify --vault "$w/vault.db"
  grep -q ' 0 failed$' "$w/out" || fail "vault verify after kill -9: $(cat "$w/out")"
  input_untouched "kill -9 during tokenize"
done
pass_timed "kill -9 during tokenize (at ${kill_at_mb[*]} MB): no output file, vault verifies"

expect_exit 0 "${tok_args[@]}"
[[ $(wc -l <"$w/tok.csv") == $((rows + 1)) ]] || fail "re-run after kill: $(wc -l <"$w/tok.csv") lines"
leftover=$(find "$w" -maxdepth 1 -name 'tok.csv.tmp.*' | wc -l)
[[ $leftover == 0 ]] || fail "stale temporary output of the killed run left behind: $(ls "$w")"
expect_exit 0 vault verify --vault "$w/vault.db"
# Consistent vault: the reversible columns of the first and last rows come back exactly.
{ head -n 2001 "$w/tok.csv"; tail -n 2000 "$w/tok.csv"; } >"$w/tok_part.csv"
expect_exit 0 detokenize --config "$cfg" --input "$w/tok_part.csv" --output "$w/back.csv" --vault "$w/vault.db"
python3 - "$w/raw.csv" "$w/back.csv" <<'PY'
import csv, sys
raw = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
back = list(csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8")))
want = raw[:2000] + raw[-2000:]
assert len(back) == len(want), (len(back), len(want))
masked = {"first_name", "phone"}  # irreversible by design
for i, (r, b) in enumerate(zip(want, back)):
    for col in r:
        if col not in masked:
            assert r[col] == b[col], f"row {i} column {col}: {b[col]!r} != {r[col]!r}"
PY
pass_timed "re-run after kill -9: complete output, temporary of the killed run removed, vault reverses it"
rm -f "$w/tok.csv" "$w/tok_part.csv" "$w/back.csv"

# --- kill -9 during upload ---------------------------------------------------------------------
pb_args=(process-batch --raw-input "$w/raw.csv" --output "$w/merged.csv" --config "$cfg"
  --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring --use-dev-processor
  --chunk-kb 256)
# Killed once mid-upload (in stress, again and again further on), each time resumed.
partials=()
for at in "${upload_kill_rows[@]}"; do
  "$agent" "${pb_args[@]}" >/dev/null 2>"$w/pb1.err" &
  pid=$!
  # (the first process-batch tokenizes first: minutes for a big file on a loaded machine)
  wait_for 600 "[[ \$(psql -XAtc \"SELECT count(*) FROM sdp.processing_batch WHERE status = 'UPLOADING' AND accepted_records > $at\") == 1 ]]"
  kill9 "$pid" "upload"
  [[ ! -e "$w/merged.csv" ]] || fail "merged output exists after kill -9 during upload"
  [[ $(psql -XAtc "SELECT count(*) || ' ' || min(status::text) FROM sdp.processing_batch") == "1 UPLOADING" ]] ||
    fail "not one batch left UPLOADING: $(psql -XAtc 'SELECT batch_id, status FROM sdp.processing_batch')"
  partial=$(psql -XAtc "SELECT accepted_records FROM sdp.processing_batch")
  ((partial > at && partial < rows)) || fail "kill did not land mid-upload: $partial of $rows rows"
  partials+=("$partial")
done
input_untouched "kill -9 during upload"
"$agent" "${pb_args[@]}" >"$w/pb2.json" 2>"$w/pb2.err" || fail "re-run after kill -9: $(cat "$w/pb2.err")"
grep -q "reusing" "$w/pb2.err" || fail "tokenized file not reused, so not the same batch: $(cat "$w/pb2.err")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch") == 1 ]] || fail "a second batch after kill -9"
[[ $(psql -XAtc "SELECT status || ' ' || accepted_records || ' ' || processed_records FROM sdp.processing_batch") == "PROCESSED $rows $rows" ]] ||
  fail "batch after resume: $(psql -XAtc 'SELECT status, accepted_records, processed_records FROM sdp.processing_batch')"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.tokenized_record") == "$rows" ]] || fail "duplicate or missing records"
[[ $(grep -c ',demo_v1$' "$w/merged.csv") == "$rows" ]] || fail "merged results after resume"
pass_timed "kill -9 during upload (at ${partials[*]} of $rows rows): re-run resumes the same batch, exactly one batch"
batch_id=$(psql -XAtc "SELECT batch_id FROM sdp.processing_batch")

# --- kill -9 during integrate ------------------------------------------------------------------
ig_args=(integrate-results --batch-id "$batch_id" --raw-input "$w/raw.csv" --output "$w/merged2.csv"
  --config "$cfg")
"$agent" "${ig_args[@]}" >/dev/null 2>&1 &
pid=$!
wait_for 300 "(( \$(size_of '$w/merged2.csv.tmp.*') > 0 ))"
kill9 "$pid" "integrate"
[[ ! -e "$w/merged2.csv" ]] || fail "output exists after kill -9 during integrate"
input_untouched "kill -9 during integrate"
expect_exit 0 "${ig_args[@]}"
cmp -s "$w/merged.csv" "$w/merged2.csv" || fail "integrate re-run differs from the first merge"
[[ -z $(find "$w" -maxdepth 1 -name 'merged2.csv.tmp.*') ]] || fail "stale temporary left: $(ls "$w")"
pass_timed "kill -9 during integrate: no output; re-run writes the complete merge"

# --- disk full under the output ----------------------------------------------------------------
head -n 20001 "$w/raw.csv" >"$w/small.csv"
small_sha=$(sha256sum <"$w/small.csv")
check_disk_full() {  # label, output path, the agent's stderr file, exit code
  [[ $4 == 1 ]] || fail "$1: exit $4, expected 1; stderr: $(cat "$3")"
  [[ $(wc -l <"$3") == 1 ]] || fail "$1: expected one stderr line, got: $(cat "$3")"
  grep -q '^sdp-agent: error: .*; fix: ' "$3" || fail "$1: bad error format: $(cat "$3")"
  grep -qF "$(basename "$2")" "$3" || fail "$1: error does not name the output: $(cat "$3")"
  grep -qiE 'no space left|file too large' "$3" || fail "$1: error does not say why: $(cat "$3")"
  [[ -z $(find "$(dirname "$2")" -maxdepth 1 -name "$(basename "$2")*") ]] ||
    fail "$1: half-written output left: $(ls -la "$(dirname "$2")")"
  [[ $(sha256sum <"$w/small.csv") == "$small_sha" ]] || fail "$1: input changed"
}
# ulimit -f (works unprivileged): writes past 1 MiB fail with EFBIG instead of killing the agent.
set +e
(ulimit -f 1024; exec "$agent" tokenize-config --config "$cfg" --input "$w/small.csv" \
  --output "$w/full.csv" --vault "$w/vault.db" >/dev/null 2>"$w/full.err")
rc=$?
set -e
check_disk_full "ulimit -f, tokenize" "$w/full.csv" "$w/full.err" "$rc"
set +e
(ulimit -f 1024; exec "$agent" integrate-results --batch-id "$batch_id" --raw-input "$w/raw.csv" \
  --output "$w/full2.csv" --config "$cfg" >/dev/null 2>"$w/full2.err")
rc=$?
set -e
check_disk_full "ulimit -f, integrate" "$w/full2.csv" "$w/full2.err" "$rc"
pass_timed "ulimit -f: one error line naming the output and the cause, no output, input untouched"
# A really full file system: a 1 MiB tmpfs, where mount is allowed (root, not in every container).
mnt=$w/tiny
mkdir -p "$mnt"
if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=1m,mode=0755 tmpfs "$mnt" 2>/dev/null; then
  set +e
  "$agent" tokenize-config --config "$cfg" --input "$w/small.csv" --output "$mnt/tok.csv" \
    --vault "$w/vault.db" >/dev/null 2>"$w/tiny.err"
  rc=$?
  set -e
  leftover=$(ls -A "$mnt")
  # The round trip: its tokenized intermediate does not fit either; nothing is sent.
  batches=$(psql -XAtc "SELECT count(*) FROM sdp.processing_batch")
  set +e
  "$agent" process-batch --raw-input "$w/small.csv" --output "$mnt/merged.csv" --config "$cfg" \
    --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring \
    --use-dev-processor >/dev/null 2>"$w/tiny_pb.err"
  rc_pb=$?
  set -e
  leftover+=$(ls -A "$mnt")
  umount "$mnt"
  [[ -z "$leftover" ]] || fail "full tmpfs: left behind: $leftover"
  check_disk_full "full tmpfs, tokenize" "$mnt/tok.csv" "$w/tiny.err" "$rc"
  # Progress lines may precede it on stderr: exactly one error line, checked like the others.
  [[ $(grep -c '^sdp-agent: error: ' "$w/tiny_pb.err") == 1 ]] || fail "process-batch on a full disk: $(cat "$w/tiny_pb.err")"
  grep '^sdp-agent: error: ' "$w/tiny_pb.err" >"$w/tiny_pb.err1"
  check_disk_full "full tmpfs, process-batch" "$mnt/merged.csv" "$w/tiny_pb.err1" "$rc_pb"
  [[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch") == "$batches" ]] || fail "full tmpfs: a batch was opened"
  pass_timed "full file system (1 MiB tmpfs): one error line, nothing left on it, input untouched, nothing sent"
else
  echo "skip: cannot mount a tmpfs here (not root or not permitted); ulimit -f covered it"
fi

echo "$checks checks passed"
