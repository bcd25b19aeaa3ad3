#!/usr/bin/env bash
# Hostile inputs through the CLI (test/README.md, "Hostile inputs"): each refused input gives one
# stderr line naming the file, the line and the cause with a fix, a non-zero exit, no output file
# (not even a temp file), an unchanged vault and nothing stored on the server; each accepted
# hostile input comes back byte for byte. Big inputs are generated here, never committed.
source "$(dirname "$0")/lib.sh"
e2e_database sdp_e2e_hostile
psql -XAtq -c "ALTER DATABASE sdp_e2e_hostile SET sdp.env = 'dev'" -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
w=$e2e_work
cfg="$repo/configs/customers_tokenization.yml"
header=$(head -n 1 "$repo/test/data/hostile/quotes.csv")
row='C1,Ann,Lee,ann@example.com,+1 555 0100,123-45-6789,4111111111111111,DE89370400440532013000,1980-01-02,1 Main St,44,50000,10.5,3'
good="$w/good.csv"
printf '%s\n%s\n' "$header" "$row" >"$good"

vault="$w/vault.db"
"$agent" tokenize-config --config "$cfg" --input "$good" --output "$w/good.tok.csv" --vault "$vault" 2>/dev/null ||
  fail "tokenize a good file"
vault_digest() { sqlite3 "$vault" .dump | sha256sum; }
batches() { psql -XAtc "SELECT count(*) FROM sdp.processing_batch"; }
# No output file and no temp file next to it.
expect_no_output() {
  compgen -G "$1*" >/dev/null && fail "output left behind: $(ls "$1"*)"
  return 0
}
# tokenize-config on $1 must fail with exit 1, one error line containing $2, no output, vault unchanged.
expect_tokenize_refused() {
  local input=$1 want=$2 before
  before=$(vault_digest)
  expect_exit 1 tokenize-config --config "$cfg" --input "$input" --output "$w/out.csv" --vault "$vault"
  expect_one_error_line "$want"
  grep -q 'fix: ' "$e2e_work/err" || fail "no fix in: $(cat "$e2e_work/err")"
  expect_no_output "$w/out.csv"
  [[ $(vault_digest) == "$before" ]] || fail "vault changed after refusing $input"
}

# ---- a 100 MB single field: refused at the 64 MiB field limit, memory bounded -------------------
{
  echo "$header"
  printf 'C1,Ann,Lee,a@b.c,+1 555 0100,123-45-6789,4111111111111111,DE89370400440532013000,1980-01-02,"'
  head -c 100000000 /dev/zero | tr '\0' x
  printf '",44,50000,10.5,3\n'
} >"$w/big.csv"
expect_tokenize_refused "$w/big.csv" "big.csv:2: field 10 (quoted) is longer than the limit of 64 MiB (67108864 bytes); fix: check for an unbalanced quote"
rss=$(/usr/bin/time -f %M "$agent" tokenize-config --config "$cfg" --input "$w/big.csv" --output "$w/out.csv" \
  --vault "$vault" 2>&1 >/dev/null | tail -n 1 || true)
((rss < 400000)) || fail "100 MB field used $rss KB"
rm -f "$w/big.csv"
pass "100 MB field: one line naming file:line, field and the 64 MiB limit; no output; vault unchanged; RSS ${rss} KB"

# ---- 10,000 columns: the whole round trip works, every column kept ------------------------------
python3 - "$w/wide.csv" "$header" <<'EOF'
import sys
path, header = sys.argv[1], sys.argv[2]
extra = [f"x{i}" for i in range(10000 - 14)]
with open(path, "w") as f:
    f.write(header + "," + ",".join(extra) + "\n")
    for r in range(3):
        f.write(f"W{r},Ann,Lee,w{r}@example.com,+1 555 0100,123-45-6789,4111111111111111,"
                f"DE89370400440532013000,1980-01-02,addr,44,{r},3,4," + ",".join(str(i) for i in range(len(extra))) + "\n")
EOF
expect_exit 0 process-batch --raw-input "$w/wide.csv" --output "$w/wide.merged.csv" --config "$cfg" --vault "$vault" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor
python3 - "$w/wide.csv" "$w/wide.merged.csv" <<'EOF' || fail "10,000 columns: merged output"
import csv, sys
raw = list(csv.reader(open(sys.argv[1], newline="")))
merged = list(csv.reader(open(sys.argv[2], newline="")))
assert len(merged) == 4 and all(len(r) == 10003 for r in merged), [len(r) for r in merged]
assert all(m[:10000] == r for m, r in zip(merged, raw)), "raw columns changed"
assert merged[0][10000:] == ["score", "risk_band", "model_version"], merged[0][10000:]
EOF
pass "10,000 columns: tokenize, upload, process, integrate; raw columns byte for byte"

# ---- NUL bytes, CR-only line ends, unterminated quote at EOF: refused with file:line ------------
{ echo "$header"; echo "$row"; printf 'C2,A\0n,Lee,a@b.c,1,123-45-6789,4111111111111111,DE89370400440532013000,1980-01-02,x,1,2,3,4\n'; } >"$w/nul.csv"
expect_tokenize_refused "$w/nul.csv" "nul.csv:3: NUL byte in field 2; fix: the input looks binary or UTF-16"
{ printf '%s\r%s\r' "$header" "$row"; } >"$w/cr.csv"
expect_tokenize_refused "$w/cr.csv" "cr.csv:1: CR-only line endings are not supported"
{ echo "$header"; echo "$row"; printf 'C3,Ann,Lee,a@b.c,1,123-45-6789,4111111111111111,DE89370400440532013000,1980-01-02,"1 Main St,44,50000,10.5,3\nC4,B,C,d@e.f,1,123-45-6789,4111111111111111,DE89370400440532013000,1980-01-02,x,1,2,3,4\n'; } >"$w/unterminated.csv"
expect_tokenize_refused "$w/unterminated.csv" "unterminated.csv:3: unterminated quoted field starting here; fix: close the quote"
# The same files handed straight to upload-batch: refused before a batch is opened.
n=$(batches)
for f in nul cr unterminated; do
  expect_exit 1 upload-batch --file "$w/$f.csv" --client-id bank_demo --processing-type risk_scoring
  expect_one_error_line "$f.csv:"
done
[[ $(batches) == "$n" ]] || fail "a refused upload opened a batch"
pass "NUL byte, CR-only line ends, unterminated quote at EOF: one line with file:line and fix; no output; vault unchanged; no batch"

# ---- invalid UTF-8: kept byte for byte by tokenize, refused by upload before anything is sent ----
{ echo "$header,note"; printf '%s,caf\xe9 \xff\n' "$row"; } >"$w/latin1.csv"
expect_exit 0 tokenize-config --config "$cfg" --input "$w/latin1.csv" --output "$w/latin1.tok.csv" --vault "$vault"
[[ $(tail -n 1 "$w/latin1.tok.csv" | tail -c 7 | od -An -tx1 | tr -d ' \n') == "636166e920ff0a" ]] ||
  fail "invalid UTF-8 not kept byte for byte: $(tail -n 1 "$w/latin1.tok.csv" | od -c | tail -3)"
n=$(batches)
expect_exit 1 upload-batch --file "$w/latin1.tok.csv" --client-id bank_demo --processing-type risk_scoring
expect_one_error_line "latin1.tok.csv:2: field 15 ('note') is not valid UTF-8 (byte 0xe9 at offset 3 of the value); fix: re-encode the raw file as UTF-8"
expect_exit 1 process-batch --raw-input "$w/latin1.csv" --output "$w/latin1.merged.csv" --config "$cfg" --vault "$vault" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor
expect_error_line "is not valid UTF-8"
expect_no_output "$w/latin1.merged.csv"
[[ $(batches) == "$n" ]] || fail "invalid UTF-8 reached the server"
pass "invalid UTF-8: tokenize keeps the bytes; upload and process-batch refuse with file:line:field before a batch exists"

# ---- BOM: stripped on read, re-emitted on every output, joined correctly -------------------------
bom="$repo/test/data/hostile/bom.csv"
expect_exit 0 process-batch --raw-input "$bom" --output "$w/bom.merged.csv" --config "$cfg" --vault "$vault" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor
[[ $(head -c 3 "$w/bom.merged.csv" | od -An -tx1 | tr -d ' ') == efbbbf ]] || fail "BOM not re-emitted"
head -n 1 "$w/bom.merged.csv" | grep -q $'^\xef\xbb\xbfcustomer_id,.*,score,risk_band,model_version' || fail "BOM header"
[[ $(grep -c ',demo_v1' "$w/bom.merged.csv") == $(($(wc -l <"$bom") - 1)) ]] || fail "BOM rows not all joined"
pass "BOM: stripped for parsing, re-emitted in the merged output, every row joined"

# ---- empty and header-only files: refused before a batch is opened ------------------------------
: >"$w/empty.csv"
echo "$header" >"$w/header_only.csv"
n=$(batches)
expect_tokenize_refused "$w/empty.csv" "empty.csv: input is empty: there is no header line; fix:"
expect_exit 1 upload-batch --file "$w/empty.csv" --client-id bank_demo --processing-type risk_scoring
expect_one_error_line "empty.csv: the file is empty; fix:"
expect_exit 1 upload-batch --file "$w/header_only.csv" --client-id bank_demo --processing-type risk_scoring
expect_one_error_line "header_only.csv: no data rows, only a header; fix:"
[[ $(batches) == "$n" ]] || fail "an empty upload opened a batch"
pass "empty and header-only files: one line, no batch opened"

# ---- oversize: over the server's sdp.max_batch_bytes -> 413 in one line, never RECEIVED ------------
python3 "$repo/bench/gen_customers.py" 200 "$w/g.csv" --seed 3
expect_exit 0 tokenize-config --config "$cfg" --input "$w/g.csv" --output "$w/g.tok.csv" --vault "$vault"
psql -XAtq -c "ALTER DATABASE sdp_e2e_hostile SET sdp.max_batch_bytes = 8192"
expect_exit 5 upload-batch --file "$w/g.tok.csv" --client-id bank_demo --processing-type risk_scoring --chunk-kb 2 --config "$cfg"
expect_one_error_line "PT413: batch of"
expect_exit 5 process-batch --raw-input "$w/g.csv" --output "$w/g.merged.csv" --config "$cfg" --vault "$vault" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor --chunk-kb 2
expect_error_line "exceeds sdp.max_batch_bytes"
expect_no_output "$w/g.merged.csv"
expect_error_line "aborted: FAILED, its rows deleted"
psql -XAtq -c "ALTER DATABASE sdp_e2e_hostile RESET sdp.max_batch_bytes"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch WHERE status <> 'UPLOADING' AND accepted_records > 0 AND content_sha256 = '$(sha256sum <"$w/g.tok.csv" | cut -c1-64)'") == 0 ]] ||
  fail "an oversize batch was sealed"
# The agent aborted both batches at the refusal: FAILED, and the rows of the chunks accepted before
# the limit are gone (nothing stays staged in an UPLOADING batch).
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch WHERE status = 'UPLOADING'") == 0 ]] ||
  fail "an oversize upload left an UPLOADING batch: $(psql -XAtc "SELECT batch_id, accepted_records FROM sdp.processing_batch WHERE status = 'UPLOADING'")"
[[ $(psql -XAtc "SELECT count(*) FROM sdp.processing_batch b WHERE b.status = 'FAILED' AND b.error LIKE 'upload aborted by the client: chunk % refused: PT413' AND b.accepted_records = 0 AND NOT EXISTS (SELECT 1 FROM sdp.tokenized_record r WHERE r.batch_id = b.batch_id)") == 2 ]] ||
  fail "oversize batches not aborted: $(psql -XAtc "SELECT status, accepted_records, error FROM sdp.processing_batch WHERE status <> 'PROCESSED'")"
# With the limit back, the same upload opens a new batch (the aborted one released its key).
expect_exit 0 upload-batch --file "$w/g.tok.csv" --client-id bank_demo --processing-type risk_scoring --chunk-kb 2 --config "$cfg"
grep -q '"status":"RECEIVED"' "$e2e_work/out" || fail "re-upload after the abort: $(cat "$e2e_work/out")"
pass "oversize upload: PT413 in one line (exit 5), no merged output, the batch aborted (FAILED, no staged rows); a re-upload works"

# ---- spreadsheet formulas: tokens never start with = + - @; --escape-formulas guards merged output -
fcfg="$w/formula.yml"
sed 's/^short_fpe_values: error/short_fpe_values: random/' "$cfg" >"$fcfg"
fin="$repo/test/data/hostile/formula_injection.csv"
expect_exit 0 tokenize-config --config "$fcfg" --input "$fin" --output "$w/formula.tok.csv" --vault "$vault"
python3 - "$w/formula.tok.csv" <<'EOF' || fail "a token starts with a formula character"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
pii = ["customer_id", "first_name", "last_name", "email", "phone", "ssn", "card_number", "iban", "birth_date", "address"]
bad = [(c, r[c]) for r in rows for c in pii if r[c][:1] in ("=", "+", "-", "@")]
assert not bad, bad
EOF
for escape in "" --escape-formulas; do
  expect_exit 0 process-batch --raw-input "$fin" --output "$w/formula$escape.csv" --config "$fcfg" --vault "$vault" \
    --client-id bank_demo --processing-type risk_scoring --use-dev-processor $escape
done
python3 - "$fin" "$w/formula.csv" "$w/formula--escape-formulas.csv" <<'EOF' || fail "--escape-formulas"
import csv, sys
raw, plain, escaped = (list(csv.reader(open(p, newline="", encoding="utf-8"))) for p in sys.argv[1:])
assert [r[:14] for r in plain] == raw, "without the flag the raw cells must be kept byte for byte"
for e, r in zip(escaped[1:], raw[1:]):
    for got, want in zip(e[:14], r):
        expect = "'" + want if want[:1] in ("=", "+", "-", "@") else want
        assert got == expect, (got, want)
    assert not any(c[:1] in ("=", "+", "-", "@") for c in e), e
EOF
pass "formulas: no token starts with = + - @; merged output raw by default, every formula cell prefixed with ' under --escape-formulas"

# ---- SQL injection through the CLI: refused as unknown, nothing stored, every table intact ---------
n=$(batches)
expect_exit 5 upload-batch --file "$w/good.tok.csv" --client-id "bank_demo'; DROP TABLE sdp.processing_batch; --" --processing-type risk_scoring
expect_one_error_line "unknown client \"bank_demo'; DROP TABLE sdp.processing_batch; --\""
expect_exit 5 upload-batch --file "$w/good.tok.csv" --client-id bank_demo --processing-type "risk_scoring' OR '1'='1"
expect_one_error_line "unknown processing_type"
expect_exit 2 upload-batch --file "$w/good.tok.csv" --client-id bank_demo --processing-type risk_scoring --key-column 'customer_id"; DROP TABLE sdp.tokenized_record; --'
expect_one_error_line "good.tok.csv:1: key column 'customer_id\"; DROP TABLE sdp.tokenized_record; --' is not in the header; available columns: customer_id, "
expect_exit 2 status --batch-id "00000000-0000-4000-8000-000000000000' OR '1'='1"
expect_one_error_line "--batch-id '00000000-0000-4000-8000-000000000000' OR...' is not a batch id"
# HTTP header injection: a line break in a value that becomes a header (X-Client-Id) is refused
# before anything is sent (port 1: nothing listens, so a request would fail differently).
SDP_API_KEY=regress-key expect_exit 1 upload-batch --file "$w/good.tok.csv" --client-id $'bank_demo\r\nX-Evil: 1' \
  --processing-type risk_scoring --server-url http://127.0.0.1:1
expect_one_error_line "the value of HTTP header X-Client-Id contains a line break or NUL byte; fix:"
[[ $(batches) == "$n" ]] || fail "an injection attempt stored a batch"
[[ $(psql -XAtc "SELECT count(*) FROM pg_tables WHERE schemaname = 'sdp' AND tablename IN ('processing_batch', 'tokenized_record', 'api_client', 'model')") == 4 ]] ||
  fail "a table is gone"
# CSV cells that look like SQL are data: they come back byte for byte.
{ echo "$header"; printf "%s\n" "C9,\"Robert'); DROP TABLE sdp.processing_batch; --\",Lee,b@c.d,1,123-45-6789,4111111111111111,DE89370400440532013000,1980-01-02,\"1' OR '1'='1\",44,50000,10.5,3"; } >"$w/sqlcells.csv"
expect_exit 0 process-batch --raw-input "$w/sqlcells.csv" --output "$w/sqlcells.merged.csv" --config "$cfg" --vault "$vault" \
  --client-id bank_demo --processing-type risk_scoring --use-dev-processor
python3 - "$w/sqlcells.csv" "$w/sqlcells.merged.csv" <<'EOF' || fail "SQL-looking cells not kept"
import csv, sys
raw, merged = (list(csv.reader(open(p, newline=""))) for p in sys.argv[1:])
assert [m[:14] for m in merged] == raw and merged[1][16] == "demo_v1", merged
EOF
pass "SQL injection in --client-id, --processing-type, --key-column, --batch-id, CRLF header injection: one line, nothing stored; SQL-looking cells kept as data"

# ---- malformed UUIDs: a usage error before any server call; the server refuses them too (22P02) ---
for id in not-a-uuid 1234 $'0812d48d-bab6-49d2-a5ec-77177acca61\n' 0812d48d-bab6-49d2-a5ec-77177acca61g; do
  expect_exit 2 status --batch-id "$id"
  expect_one_error_line "is not a batch id (a UUID such as"
  expect_exit 2 integrate-results --batch-id "$id" --raw-input "$good" --output "$w/out.csv"
  expect_one_error_line "; fix: pass the batch_id printed by upload-batch or process-batch"
  expect_no_output "$w/out.csv"
done
SDP_SERVER_URL=postgresql://nobody@127.0.0.1:1/none expect_exit 2 status --batch-id not-a-uuid
expect_one_error_line "--batch-id 'not-a-uuid' is not a batch id"
pass "malformed batch ids: exit 2 in one line before any server call, no output"

# ---- revoked and wrong-client keys (libpq with SDP_API_KEY) ----------------------------------------
key_rev=$(psql -XAtc "SELECT sdp.sdp_create_client('hostile_revoked')")
psql -XAtc "SELECT sdp.sdp_revoke_key('hostile_revoked')" >/dev/null
key_other=$(psql -XAtc "SELECT sdp.sdp_create_client('hostile_other')")
n=$(batches)
SDP_API_KEY=$key_rev expect_exit 5 upload-batch --file "$w/good.tok.csv" --client-id hostile_revoked --processing-type risk_scoring
expect_one_error_line "PT401: invalid API key; fix: the key is unknown or was revoked"
SDP_API_KEY=$key_other expect_exit 5 upload-batch --file "$w/good.tok.csv" --client-id bank_demo --processing-type risk_scoring
expect_one_error_line "PT403: the API key does not belong to the client named in the request"
b=$(psql -XAtc "SELECT batch_id FROM sdp.processing_batch WHERE client_id = 'bank_demo' LIMIT 1")
SDP_API_KEY=$key_other expect_exit 5 status --batch-id "$b"
expect_one_error_line "PT404: batch $b not found"
[[ $(batches) == "$n" ]] || fail "a rejected key stored a batch"
grep -qF -- "$key_rev" "$e2e_work/err" && fail "key in error text"
pass "revoked key: 401 in one line; another client's key: 403, and its batches answer 404; nothing stored"

# ---- watch outbox: symlinks, special files, ../ names, planted symlinks, --escape-formulas ----------
out=$w/outbox in=$w/inbox
mkdir -p "$out" "$in" "$out/failed" "$w/victims"
echo keep >"$w/victims/a"
echo keep >"$w/victims/b"
watch_args=(watch --outbox "$out" --inbox "$in" --config "$fcfg" --vault "$vault" --client-id bank_demo
  --processing-type risk_scoring --use-dev-processor --poll-interval 0.2 --once --escape-formulas)
ln -s "$w/victims/a" "$out/secret.csv"       # symlink to a file outside the outbox
ln -s "$w/victims" "$out/dirlink.csv"        # symlink to a directory
mkdir "$out/dir.csv"                          # a directory
mkfifo "$out/pipe.csv"                        # a FIFO (reading it would block forever)
cp "$good" "$out/Q3 (final).csv"              # a name outside the accepted characters
cp "$good" "$out/..csv"                       # hidden / dot-dot lookalike
cp "$good" "$out/$(printf 'new\nline.csv')"
{ head -n 1 "$good"; printf 'C1,"unterminated\n'; } >"$out/bad.csv"
ln -s "$w/victims/a" "$out/failed/bad.csv.error"   # planted: the reason must not be written through it
cp "$fin" "$out/formula.csv"
ln -s "$w/victims/b" "$in/formula.csv"             # planted: the merged file must not be written through it
n=$(batches)
"$agent" "${watch_args[@]}" 2>"$w/watch.log" || fail "watch --once: $(tail -3 "$w/watch.log")"
[[ $(cat "$w/victims/a") == keep && $(cat "$w/victims/b") == keep ]] || fail "a file outside the outbox was written"
[[ -L "$out/secret.csv" && -L "$out/dirlink.csv" && -d "$out/dir.csv" && -p "$out/pipe.csv" ]] || fail "a non-regular entry was moved"
[[ -f "$out/Q3 (final).csv" && -f "$out/..csv" ]] || fail "an unsupported name was touched"
for f in secret.csv dirlink.csv dir.csv pipe.csv; do
  grep -q "\"event\":\"skipped_not_a_regular_file\",\"file\":\"$f\"" "$w/watch.log" || fail "$f not reported: $(cat "$w/watch.log")"
done
grep -q '"event":"skipped_unsupported_name","file":"Q3 (final).csv"' "$w/watch.log" || fail "unsupported name not reported"
grep -q '"event":"skipped_unsupported_name","file":"new\\nline.csv"' "$w/watch.log" || fail "newline name not reported"
[[ -f "$out/failed/bad.csv" && ! -L "$out/failed/bad.csv.error" ]] || fail "bad.csv not failed with a regular .error file"
grep -q 'bad.csv:2: unterminated quoted field' "$out/failed/bad.csv.error" || fail "reason: $(cat "$out/failed/bad.csv.error")"
[[ -f "$in/formula.csv" && ! -L "$in/formula.csv" ]] || fail "merged formula.csv is not a regular file"
python3 - "$in/formula.csv" <<'EOF2' || fail "watch --escape-formulas"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
assert len(rows) == 2 and rows[1][-1] == "demo_v1", rows
assert not any(c[:1] in ("=", "+", "-", "@") for r in rows for c in r), rows
EOF2
[[ $(batches) == $((n + 1)) ]] || fail "watch stored $(($(batches) - n)) batches, expected 1 (formula.csv)"
compgen -G "$in/*.tmp.*" >/dev/null && fail "temp file left in the inbox"
# A state directory replaced by a symlink: watch refuses to start, one line, exit 3.
rm -rf "$out/done"
ln -s "$w/victims" "$out/done"
expect_exit 3 "${watch_args[@]}"
expect_error_line "done exists and is not a directory"
pass "watch: symlinks, directory, FIFO skipped and logged; unsupported names logged; planted symlinks for .error and the merged file not followed; --escape-formulas; symlinked done/ refused"

# ---- a vault from another key; a truncated or corrupted vault --------------------------------------
other_key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
before=$(vault_digest)
SDP_CRYPTO_KEY=$other_key expect_exit 1 detokenize --config "$cfg" --input "$w/good.tok.csv" --output "$w/out.csv" --vault "$vault"
expect_one_error_line "vault.db was written with key id"
expect_no_output "$w/out.csv"
SDP_CRYPTO_KEY=$other_key expect_exit 1 tokenize-config --config "$cfg" --input "$good" --output "$w/out.csv" --vault "$vault"
expect_one_error_line "vault.db"
expect_no_output "$w/out.csv"
[[ $(vault_digest) == "$before" ]] || fail "vault changed by a foreign key"
pass "vault of another key: one line naming the vault and the key ids, no output, vault unchanged"

sqlite3 "$vault" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$vault" "$w/trunc.db"
truncate -s 100 "$w/trunc.db"
cp "$w/trunc.db" "$w/trunc.orig"
expect_exit 1 detokenize --config "$cfg" --input "$w/good.tok.csv" --output "$w/out.csv" --vault "$w/trunc.db"
expect_one_error_line "trunc.db"
expect_no_output "$w/out.csv"
expect_exit 1 tokenize-config --config "$cfg" --input "$good" --output "$w/out.csv" --vault "$w/trunc.db"
expect_one_error_line "trunc.db"
expect_no_output "$w/out.csv"
cmp -s "$w/trunc.db" "$w/trunc.orig" || fail "truncated vault was modified"
# Damaged pages: every page after the header page zeroed (the header still says "SQLite").
cp "$vault" "$w/corrupt.db"
page=$(sqlite3 "$w/corrupt.db" "PRAGMA page_size")
size=$(stat -c %s "$w/corrupt.db")
head -c $((size - page)) /dev/zero | dd of="$w/corrupt.db" bs="$page" seek=1 conv=notrunc status=none
cp "$w/corrupt.db" "$w/corrupt.orig"
expect_exit 1 detokenize --config "$cfg" --input "$w/good.tok.csv" --output "$w/out.csv" --vault "$w/corrupt.db"
expect_one_error_line "corrupt.db"
grep -qF "fix: the file is damaged or not an sdp vault; restore it from a backup" "$e2e_work/err" ||
  fail "corrupted vault error names no fix: $(cat "$e2e_work/err")"
expect_no_output "$w/out.csv"
expect_exit 1 tokenize-config --config "$cfg" --input "$good" --output "$w/out.csv" --vault "$w/corrupt.db"
expect_one_error_line "corrupt.db"
expect_no_output "$w/out.csv"
expect_exit 1 vault verify --vault "$w/corrupt.db"
expect_one_error_line "corrupt.db"
cmp -s "$w/corrupt.db" "$w/corrupt.orig" || fail "corrupted vault was modified"
pass "truncated or corrupted vault: one line naming the vault, no output, file untouched; vault verify fails"

echo "$checks checks passed"
