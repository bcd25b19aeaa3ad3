#!/usr/bin/env bash
# One join rule on every path, through a real server (libpq): when a key has several results,
# the LAST one in batch order wins, and every raw row with that key gets it. integrate-results
# has two ways to find a row's result: a cursor that follows the results in batch order (a raw
# file in batch order) and a key index (any other order). Both must give the same answer, so the
# raw file is joined (a) in batch order, (b) shuffled, (c) with unknown keys inserted and rows
# deleted, by integrate-results and by process-batch (and (a) by watch); the expected result of each raw row is
# computed here in Python from the results CSV fetched from the server, not by the agent.
source "$(dirname "$0")/lib.sh"
e2e_database sdp_e2e_order
psql -XAtq -c "ALTER DATABASE sdp_e2e_order SET sdp.env = 'dev'" -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
rows=4000
[[ "${SDP_STRESS:-0}" == 1 ]] && rows=40000
cfg="$repo/configs/customers_tokenization.yml"
python3 "$repo/bench/gen_customers.py" "$rows" "$w/base.csv"

# About 1% of the rows repeat an earlier customer id, anywhere in the file (some ids three
# times). Half of the repeats carry other features (age, income, balance), so demo_v1 scores
# them differently from the original; the other half are identical copies (same score).
python3 - "$w/base.csv" "$w/raw.csv" <<'PY'
import csv, random, sys
rng = random.Random(15)
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
header, data = rows[0], rows[1:]
col = {name: i for i, name in enumerate(header)}
repeats = max(len(data) // 100, 20)
sources = rng.sample(range(len(data)), repeats * 2 // 3)
sources += rng.sample(sources, repeats - len(sources))  # some ids three times in all
for n, dup in enumerate([list(data[i]) for i in sources]):
    if n % 2 == 0:  # differing features: another score
        dup[col["age"]] = str(18 + (int(dup[col["age"]]) + 37) % 60)
        dup[col["income"]] = str(int(float(dup[col["income"]])) // 3 + 150000)
        dup[col["balance"]] = str(rng.randint(0, 90000))
    data.insert(rng.randint(0, len(data)), dup)
with open(sys.argv[2], "w", newline="", encoding="utf-8") as f:
    csv.writer(f, lineterminator="\n").writerows([header] + data)
PY

# (a) through process-batch: tokenize, upload, process, integrate onto the file in batch order.
"$agent" process-batch --raw-input "$w/raw.csv" --output "$w/pb_batch_order.csv" --config "$cfg" \
  --vault "$w/vault.db" --client-id bank_demo --processing-type risk_scoring --use-dev-processor \
  --chunk-kb 128 >"$w/pb.json" 2>"$w/pb.err" || fail "process-batch: $(cat "$w/pb.err")"
grep -q '"status":"PROCESSED"' "$w/pb.json" || fail "not processed: $(cat "$w/pb.json")"
batch=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$w/pb.json")
tok="$w/pb_batch_order.csv.tokenized.csv"
[[ -s "$tok" ]] || fail "no tokenized file kept at $tok"
pass "process-batch over libpq: batch $batch processed"

# The results as the server returns them, with their position in the batch.
psql -XAtq -c "COPY (SELECT row_no, record_key, score, risk_band, model_version
  FROM sdp.sdp_results('$batch'::uuid) ORDER BY row_no) TO STDOUT WITH (FORMAT csv, HEADER)" \
  >"$w/results.csv"

# The other raw files: (b) the rows shuffled; (c) shuffled, 3% of the rows deleted (repeated ids
# among them) and 40 rows with keys the batch never saw inserted.
python3 - "$w/raw.csv" "$w/shuffled.csv" "$w/edited.csv" <<'PY'
import csv, random, sys
rng = random.Random(1501)
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
header, data = rows[0], rows[1:]
# The first data row stays first: process-batch --tokenized-file checks that the raw file is the
# one the tokenized file was made from by its first data row.
shuffled = data[1:]
rng.shuffle(shuffled)
shuffled.insert(0, data[0])
with open(sys.argv[2], "w", newline="", encoding="utf-8") as f:
    csv.writer(f, lineterminator="\n").writerows([header] + shuffled)
edited = list(shuffled)
for i in sorted(rng.sample(range(1, len(edited)), len(edited) * 3 // 100), reverse=True):
    del edited[i]
for n in range(40):
    unknown = list(rng.choice(data))
    unknown[header.index("customer_id")] = "X%08d" % n
    edited.insert(rng.randint(1, len(edited)), unknown)
with open(sys.argv[3], "w", newline="", encoding="utf-8") as f:
    csv.writer(f, lineterminator="\n").writerows([header] + edited)
PY

# integrate-results onto (a), (b), (c); process-batch --tokenized-file (the same batch, uploaded
# again as it is) onto (b) and (c).
for case in batch_order shuffled edited; do
  raw="$w/raw.csv"
  [[ $case != batch_order ]] && raw="$w/$case.csv"
  "$agent" integrate-results --batch-id "$batch" --raw-input "$raw" --output "$w/ir_$case.csv" \
    --config "$cfg" >"$w/ir_$case.json" 2>"$w/ir_$case.err" ||
    fail "integrate-results ($case): $(cat "$w/ir_$case.err")"
  [[ $case == batch_order ]] && continue
  "$agent" process-batch --raw-input "$raw" --tokenized-file "$tok" --config "$cfg" \
    --output "$w/pb_$case.csv" --client-id bank_demo --processing-type risk_scoring \
    --use-dev-processor --chunk-kb 128 >"$w/pb_$case.json" 2>"$w/pb_$case.err" ||
    fail "process-batch --tokenized-file ($case): $(cat "$w/pb_$case.err")"
  grep -q "\"batch_id\":\"$batch\"" "$w/pb_$case.json" || fail "process-batch ($case) used another batch: $(cat "$w/pb_$case.json")"
done
# watch: the raw file renamed into the outbox is a batch of its own (RANDOM tokens differ from
# one tokenize to the next, so the content differs), in the same order as the first one, joined
# onto the file in batch order. Its results are fetched and checked on their own.
mkdir -p "$w/outbox" "$w/inbox"
cp "$w/raw.csv" "$w/watch.tmp"
mv "$w/watch.tmp" "$w/outbox/customers.csv"
"$agent" watch --outbox "$w/outbox" --inbox "$w/inbox" --config "$cfg" --vault "$w/vault.db" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor --chunk-kb 128 --once \
  2>"$w/watch.jsonl" || fail "watch --once: $(tail -n 3 "$w/watch.jsonl")"
[[ -f "$w/inbox/customers.csv" ]] || fail "watch wrote no merged file: $(tail -n 3 "$w/watch.jsonl")"
cp "$w/inbox/customers.csv" "$w/watch_batch_order.csv"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch") == 2 ]] || fail "not one batch per upload"
watch_batch=$(psql -XAtc "SELECT batch_id FROM sdp.processing_batch WHERE batch_id <> '$batch'")
psql -XAtq -c "COPY (SELECT row_no, record_key, score, risk_band, model_version
  FROM sdp.sdp_results('$watch_batch'::uuid) ORDER BY row_no) TO STDOUT WITH (FORMAT csv, HEADER)" \
  >"$w/results_watch.csv"
pass "joined by integrate-results (batch order, shuffled, edited), process-batch (the three) and watch"

# The expectation, from the raw file, the tokenized file it was uploaded as (row for row: raw
# customer id -> the token the server saw) and the results in row_no order (a later row of a key
# replaces an earlier one). Every merged file: raw columns byte for byte, and every row of a key
# carries the key's last result; a key the batch never saw has empty result columns.
python3 - "$w" <<'PY' >"$w/check.out" || fail "join rule: $(cat "$w/check.out")"
import csv, json, sys
w = sys.argv[1]
def read(name):
    with open(f"{w}/{name}", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
raw, tok = read("raw.csv"), read("pb_batch_order.csv.tokenized.csv")
assert len(raw) == len(tok), (len(raw), len(tok))
token_of = {}
for r, t in zip(raw, tok):
    assert token_of.setdefault(r["customer_id"], t["customer_id"]) == t["customer_id"]

def last_results(name):
    """record_key -> its last result in batch order; the keys with several, those disagreeing."""
    results = read(name)
    assert len(results) == len(raw), (name, len(results), len(raw))
    row_nos = [int(r["row_no"]) for r in results]
    assert row_nos == sorted(row_nos), f"{name} is not in row_no order"
    last, values, counts = {}, {}, {}
    for r in results:
        key = r["record_key"]
        last[key] = (r["score"], r["risk_band"], r["model_version"])  # a later row replaces
        values.setdefault(key, set()).add(last[key])
        counts[key] = counts.get(key, 0) + 1
    several = [k for k, n in counts.items() if n > 1]
    disagree = [k for k in several if len(values[k]) > 1]
    assert len(several) >= len(raw) // 200, f"{name}: only {len(several)} keys with several results"
    assert len(disagree) >= len(several) // 3, f"{name}: only {len(disagree)} of {len(several)} disagree"
    print(f"{name}: keys with several results: {len(several)}, of which disagree: {len(disagree)}")
    return last, set(disagree), len(several)

last, disagree, several = last_results("results.csv")
last_watch, disagree_watch, several_watch = last_results("results_watch.csv")

def summary(out):
    """The summary the agent printed for this output: its JSON on stdout, watch's file_done."""
    if out.startswith("watch"):
        with open(f"{w}/watch.jsonl", encoding="utf-8") as f:
            events = [json.loads(line) for line in f if line.startswith("{")]
        done = [e for e in events if e.get("event") == "file_done"]
        assert len(done) == 1, f"watch: {len(done)} file_done events"
        return done[0]
    name = "pb.json" if out == "pb_batch_order" else out + ".json"
    with open(f"{w}/{name}", encoding="utf-8") as f:
        return json.load(f)

outputs = {"ir_batch_order": "raw.csv", "pb_batch_order": "raw.csv", "watch_batch_order": "raw.csv",
           "ir_shuffled": "shuffled.csv", "pb_shuffled": "shuffled.csv",
           "ir_edited": "edited.csv", "pb_edited": "edited.csv"}
per_key, bad, wrong_rows = {}, [], {}
for out, src in outputs.items():
    batch_last = last_watch if out.startswith("watch") else last
    src_rows, merged = read(src), read(out + ".csv")
    assert len(src_rows) == len(merged), (out, len(src_rows), len(merged))
    for i, (r, m) in enumerate(zip(src_rows, merged)):
        for col in r:
            assert r[col] == m[col], f"{out} row {i + 1}: raw column {col} changed"
        key = r["customer_id"]
        got = (m["score"], m["risk_band"], m["model_version"])
        token = token_of.get(key)
        want = batch_last[token] if token is not None else ("", "", "")
        if got != want:
            wrong_rows[out] = wrong_rows.get(out, 0) + 1
            if len(bad) < 6:
                kind = "a key with several results" if token in disagree else "a key"
                bad.append(f"{out} row {i + 1} ({kind}): got {got}, its last result is {want}")
        per_key.setdefault(key, set()).add(got)
    unknown = sum(1 for r in src_rows if r["customer_id"] not in token_of)
    print(f"{out}: {len(merged)} rows, {unknown} with an unknown key, "
          f"{wrong_rows.get(out, 0)} without their key's last result")
    # The summary names how many keys had several results and how many of those disagreed.
    got = summary(out)
    want = {"keys_with_several_results": several_watch if out.startswith("watch") else several,
            "disagreeing_keys": len(disagree_watch if out.startswith("watch") else disagree),
            "matched_rows": len(src_rows) - unknown}
    for field, value in want.items():
        if got.get(field) != value:
            bad.append(f"{out}: summary {field} = {got.get(field)}, expected {value}")
assert not bad, "\n".join(bad)
split = [k for k, v in per_key.items() if len(v) > 1]
assert not split, f"{len(split)} keys got different results on different paths, e.g. {split[:3]}"
print(f"every row of every key has its last result in batch order on all {len(outputs)} paths")
PY
cat "$w/check.out"
pass "every raw row of a key gets that key's last result in batch order; all paths agree; summaries count the keys with several and disagreeing results"

echo "$checks checks passed"
