#!/usr/bin/env bash
# Full round trip over libpq (the embedded default): tokenize -> upload -> process -> integrate,
# checked cell by cell against an independent computation of demo_v1 on the raw file, plus the
# integration rules (row order kept, duplicate keys all updated, rows without a result
# unchanged) and upload idempotency (a re-run resumes the same batch, never a second one).
source "$(dirname "$0")/lib.sh"
e2e_database sdp_e2e_rt
psql -XAtq -c "ALTER DATABASE sdp_e2e_rt SET sdp.env = 'dev'" -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
python3 "$repo/bench/gen_customers.py" 3000 "$w/raw.csv"
# Duplicate keys: the last two rows repeat the first two customers with other features.
python3 - "$w/raw.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
header, data = rows[0], rows[1:]
for src in data[:2]:
    dup = list(src)
    dup[header.index("age")] = "77"
    data.append(dup)
with open(sys.argv[1], "w", newline="", encoding="utf-8") as f:
    csv.writer(f, lineterminator="\n").writerows([header] + data)
PY
cfg="$repo/configs/customers_tokenization.yml"
"$agent" process-batch --raw-input "$w/raw.csv" --output "$w/merged.csv" --config "$cfg" \
  --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring --use-dev-processor \
  --chunk-kb 128 >"$w/summary.json"
pass "process-batch over libpq"
grep -q '"status":"PROCESSED"' "$w/summary.json" || fail "not processed: $(cat "$w/summary.json")"

# Independent check: demo_v1 recomputed in Python from its documented definition.
python3 - "$w/raw.csv" "$w/merged.csv" <<'PY'
import csv, math, sys
raw = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
merged = list(csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8")))
assert len(raw) == len(merged), (len(raw), len(merged))
feats = [("age", 45, 15, -0.35), ("income", 60000, 30000, -0.90),
         ("balance", 15000, 20000, -0.60), ("num_transactions", 40, 30, 0.55)]
def score(r):
    z = -0.9
    for name, c, s, w in feats:
        z += w * min(max((float(r[name]) - c) / s, -5), 5)
    return 1 / (1 + math.exp(-z))
# A key's result is the one the server computed for that key: with duplicate keys, the server
# scored each row, and the join by key hands every raw row with that key the same result.
by_key = {}
for r in raw:
    by_key.setdefault(r["customer_id"], []).append(score(r))
for i, (r, m) in enumerate(zip(raw, merged)):
    for col in r:
        assert r[col] == m[col], f"row {i}: raw column {col} changed"
    s = float(m["score"])
    assert any(abs(s - x) < 1e-9 for x in by_key[r["customer_id"]]), (i, s, by_key[r["customer_id"]])
    band = "high" if s >= 0.6 else "medium" if s >= 0.3 else "low"
    assert m["risk_band"] == band and m["model_version"] == "demo_v1", (i, m)
dups = [m for m in merged if m["customer_id"] in (raw[0]["customer_id"], raw[1]["customer_id"])]
assert len(dups) == 4 and all(d["score"] for d in dups), dups
print("cell-by-cell check of", len(merged), "rows ok")
PY
pass "merged output matches an independent computation of demo_v1, raw order kept"

# Re-running the same command resumes the same batch: still exactly one batch.
"$agent" process-batch --raw-input "$w/raw.csv" --output "$w/merged.csv" --config "$cfg" \
  --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring --use-dev-processor \
  --chunk-kb 128 >"$w/summary2.json" 2>"$w/err2"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch") == 1 ]] || fail "re-run created a second batch"
grep -q "reusing" "$w/err2" || fail "tokenized file was not reused: $(cat "$w/err2")"
pass "re-run is idempotent: one batch"

# upload-batch of the same tokenized file: same batch id again.
id1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$w/summary.json")
"$agent" upload-batch --file "$w/merged.csv.tokenized.csv" --client-id bank_demo \
  --processing-type risk_scoring --chunk-kb 128 >"$w/upload.json"
grep -q "\"batch_id\":\"$id1\"" "$w/upload.json" || fail "upload-batch opened another batch: $(cat "$w/upload.json")"
pass "upload-batch of the same content returns the same batch"

# process-batch --tokenized-file: the key column (customer_id, HASH) is tokenized in that file,
# so the join needs the config to re-derive the tokens. Without --config the run is refused
# before anything is sent (it could only write a merged file without a single result).
tok="$w/merged.csv.tokenized.csv"
expect_exit 2 process-batch --raw-input "$w/raw.csv" --tokenized-file "$tok" --output "$w/tf.csv" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor --chunk-kb 128
expect_one_error_line "of $tok is tokenized"
grep -qF -- "fix: also pass --config" "$e2e_work/err" || fail "no fix named: $(cat "$e2e_work/err")"
[[ ! -e "$w/tf.csv" ]] || fail "merged output written by a refused run"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch") == 1 ]] || fail "refused run opened a batch"
pass "process-batch --tokenized-file with a tokenized key and no --config: refused up front (exit 2)"
# With --config: the file is uploaded as it is (same content, same batch) and every row joins.
"$agent" process-batch --raw-input "$w/raw.csv" --tokenized-file "$tok" --config "$cfg" \
  --output "$w/tf.csv" --client-id bank_demo --processing-type risk_scoring --use-dev-processor \
  --chunk-kb 128 >"$w/tf.json" 2>"$w/tf.err" || fail "process-batch --tokenized-file --config: $(cat "$w/tf.err")"
grep -q "\"batch_id\":\"$id1\"" "$w/tf.json" || fail "another batch: $(cat "$w/tf.json")"
grep -q '"matched_rows":3002' "$w/tf.json" || fail "not every row joined: $(cat "$w/tf.json")"
cmp -s "$w/merged.csv" "$w/tf.csv" || fail "merged output differs from the tokenize-here run"
[[ -s "$tok" ]] || fail "the given tokenized file was removed"
pass "process-batch --tokenized-file --config: uploaded as it is, every row joined, same merged output"
# A config that does not match the file (another key) is refused up front, not a join of nothing.
SDP_CRYPTO_KEY=$("$agent" keygen) expect_exit 3 process-batch --raw-input "$w/raw.csv" \
  --tokenized-file "$tok" --config "$cfg" --output "$w/tf2.csv" --client-id bank_demo \
  --processing-type risk_scoring --use-dev-processor --chunk-kb 128
expect_one_error_line "does not match"
[[ ! -e "$w/tf2.csv" ]] || fail "merged output written by a refused run"
pass "process-batch --tokenized-file with a config or key it was not made with: refused (exit 3)"

# Rows without a result stay unchanged; integrate-results standalone.
sed -n '1,6p' "$w/raw.csv" >"$w/extra.csv"
echo 'C99999999,New,Person,new@example.com,+44 7000 000000,111-22-3333,4111111111111111,GB82WEST12345698765432,1990-01-01,"1 Nowhere, London",London,GB,30,1,2,3,retail' >>"$w/extra.csv"
"$agent" integrate-results --batch-id "$id1" --raw-input "$w/extra.csv" --output "$w/extra_out.csv" \
  --config "$cfg" >/dev/null
tail -n 1 "$w/extra_out.csv" | grep -q '^C99999999,.*,retail,,,$' || fail "row without result: $(tail -n 1 "$w/extra_out.csv")"
[[ $(grep -c ',demo_v1$' "$w/extra_out.csv") == 5 ]] || fail "matched rows"
pass "rows without a result keep empty result columns"

# status, and a batch that does not exist.
"$agent" status --batch-id "$id1" | grep -q '"status":"PROCESSED"' || fail "status"
expect_exit 5 status --batch-id 00000000-0000-0000-0000-000000000000
expect_one_error_line "PT404"
pass "status of an unknown batch: exit 5, one line"

echo "$checks checks passed"
