#!/usr/bin/env bash
# sdp-agent's command-line contract: exit codes, one-line errors naming file/line/cause/fix,
# no half-written output, secrets never echoed, tokenize -> detokenize byte for byte.
source "$(dirname "$0")/lib.sh"
w=$e2e_work
cfg="$repo/configs/customers_tokenization.yml"
printf 'customer_id,email\nC1,a@example.com\nC2,"unterminated\nC3,c@example.com\n' >"$w/bad.csv"
printf 'customer_id,email\nC1,a@example.com\n' >"$w/good.csv"

"$agent" --version | grep -q '^sdp-agent [0-9]' || fail "--version"
for cmd in tokenize-csv tokenize-config detokenize upload-batch process-batch integrate-results status watch keygen vault; do
  "$agent" --help | grep -q "^  $cmd " || fail "--help does not list $cmd"
done
pass "--version and --help list every subcommand"

expect_exit 2 tokenize-csv --input "$w/good.csv"
expect_one_error_line "fix:"
pass "usage error: exit 2"

expect_exit 2 tokenize --input "$w/good.csv"
expect_one_error_line "unknown command 'tokenize'"
grep -q "tokenize-csv" "$w/err" && grep -q "tokenize-config" "$w/err" || fail "no suggestion: $(cat "$w/err")"
pass "unknown command: exit 2, named, nearest commands suggested"

# .env attacks. The key the planted files carry differs from lib.sh's, and the agent runs with no
# SDP_CRYPTO_KEY of its own: reading a planted file would make tokenize succeed.
planted_key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
mkdir -p "$w/checkout/.git" "$w/checkout/sub"
printf 'SDP_CRYPTO_KEY=%s\n' "$planted_key" >"$w/checkout/.env"
chmod 600 "$w/checkout/.env"
(
  cd "$w/checkout/sub"
  unset SDP_CRYPTO_KEY
  expect_exit 3 tokenize-csv --input "$w/good.csv" --output "$w/env_o.csv" --column email --vault "$w/env.db"
  expect_one_error_line "SDP_CRYPTO_KEY is not set"
)
pass ".env in a parent checkout (.git) is not read"
(
  cd "$w/checkout"
  unset SDP_CRYPTO_KEY
  expect_exit 0 tokenize-csv --input "$w/good.csv" --output "$w/env_o.csv" --column email --vault "$w/env.db"
  chmod 664 .env
  expect_exit 3 tokenize-csv --input "$w/good.csv" --output "$w/env_o2.csv" --column email --vault "$w/env.db"
  expect_one_error_line "refused: writable by group or others"
  [[ ! -e "$w/env_o2.csv" ]] || fail "output written with a group-writable .env"
  chmod 600 .env
  if [[ $(id -u) == 0 ]]; then
    chown nobody .env
    expect_exit 3 tokenize-csv --input "$w/good.csv" --output "$w/env_o2.csv" --column email --vault "$w/env.db"
    expect_one_error_line "refused: owned by uid $(id -u nobody)"
    chown 0 .env
  fi
  grep -q "$planted_key" "$w/err" && fail "a .env value was echoed"
  cd "$w"
  expect_exit 0 --env-file "$w/checkout/.env" tokenize-csv --input "$w/good.csv" --output "$w/env_o3.csv" --column email --vault "$w/env.db"
  expect_exit 3 --env-file "$w/missing.env" tokenize-csv --input "$w/good.csv" --output "$w/env_o3.csv" --column email --vault "$w/env.db"
  expect_one_error_line "missing.env: cannot read"
)
pass ".env: read from the working directory or --env-file; group-writable or foreign-owned refused (exit 3)"

SDP_CRYPTO_KEY= expect_exit 3 tokenize-csv --input "$w/good.csv" --output "$w/o.csv" --column email
expect_one_error_line "SDP_CRYPTO_KEY is not set"
[[ ! -e "$w/o.csv" ]] || fail "output written without a key"
SDP_CRYPTO_KEY=not-a-key-at-all expect_exit 3 tokenize-csv --input "$w/good.csv" --output "$w/o.csv" --column email
expect_one_error_line "sdp-agent keygen"
grep -q "not-a-key-at-all" "$w/err" && fail "the bad key was echoed"
pass "missing or malformed SDP_CRYPTO_KEY: exit 3, key never echoed"

expect_exit 1 tokenize-csv --input "$w/bad.csv" --output "$w/o.csv" --column email --vault "$w/v.db"
expect_one_error_line "$w/bad.csv:3"
[[ ! -e "$w/o.csv" ]] || fail "half-written output after a malformed row"
ls "$w" | grep -q '\.tmp\.' && fail "temporary file left behind"
pass "malformed CSV: file:line in one line, no output"

expect_exit 1 tokenize-csv --input "$w/good.csv" --output "$w/o.csv" --column mail --vault "$w/v.db"
expect_one_error_line "customer_id, email"
pass "unknown column lists the available ones"

printf 'version: 1\nsource_table: t\ncolumns:\n  email: { token_type: HSH }\n' >"$w/bad.yml"
expect_exit 3 tokenize-config --config "$w/bad.yml" --input "$w/good.csv" --output "$w/o.csv"
expect_one_error_line "$w/bad.yml:4"
pass "bad config: exit 3 naming file and line"

key=$("$agent" keygen)
[[ ${#key} == 44 ]] || fail "keygen length ${#key}"
SDP_CRYPTO_KEY=$key "$agent" tokenize-csv --input "$w/good.csv" --output "$w/o.csv" --column email \
  --vault "$w/k.db" 2>/dev/null || fail "a keygen key is accepted"
"$agent" keygen --output "$w/key.env" 2>/dev/null
[[ $(stat -c %a "$w/key.env") == 600 ]] || fail "key file mode"
expect_exit 1 keygen --output "$w/key.env"
pass "keygen: 32-byte URL-safe key, key files 0600 and never overwritten"

# Hostile corpus through the CLI with the shipped config (short FPE values such as a formula
# in the ssn column fall back to vaulted RANDOM tokens): reversible columns come back.
sed 's/^short_fpe_values: error/short_fpe_values: random/' "$cfg" >"$w/hostile.yml"
cfg="$w/hostile.yml"
for f in "$repo"/test/data/hostile/*.csv; do
  n=$(basename "$f" .csv)
  "$agent" tokenize-config --config "$cfg" --input "$f" --output "$w/$n.tok.csv" --vault "$w/h.db" 2>/dev/null ||
    fail "tokenize $n: $("$agent" tokenize-config --config "$cfg" --input "$f" --output "$w/$n.tok.csv" --vault "$w/h.db" 2>&1)"
  "$agent" detokenize --config "$cfg" --columns customer_id,email,last_name,ssn,card_number,iban,birth_date,address \
    --input "$w/$n.tok.csv" --output "$w/$n.back.csv" --vault "$w/h.db" 2>/dev/null || fail "detokenize $n"
done
pass "hostile corpus tokenizes and detokenizes with the shipped config"

# The shipped config itself refuses the short ssn with file, line and column, and writes nothing.
expect_exit 1 tokenize-config --config "$repo/configs/customers_tokenization.yml" \
  --input "$repo/test/data/hostile/formula_injection.csv" --output "$w/fi.csv" --vault "$w/fi.db"
expect_one_error_line "formula_injection.csv:2: column 'ssn'"
[[ ! -e "$w/fi.csv" ]] || fail "output written"
pass "short FPE value under the shipped config: clear error, no output"

"$agent" vault verify --vault "$w/h.db" >/dev/null || fail "vault verify"
sqlite3 "$w/h.db" "UPDATE vault_entry SET sealed = X'00' || substr(sealed, 2) WHERE rowid IN (SELECT rowid FROM vault_entry LIMIT 1)" 2>/dev/null ||
  sqlite3 "$w/h.db" "UPDATE vault_entry SET sealed = X'00' || substr(sealed, 2) WHERE token = (SELECT token FROM vault_entry LIMIT 1)"
expect_exit 1 vault verify --vault "$w/h.db"
grep -q '^TAMPERED ' "$w/out" || fail "tampered entry not listed"
expect_one_error_line "1 entries failed authentication"
SDP_CRYPTO_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= expect_exit 1 vault stats --vault "$w/h.db"
expect_one_error_line "was written with key id"
pass "vault verify finds tampering; a vault from another key is named"

echo "$checks checks passed"
