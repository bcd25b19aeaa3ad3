#!/usr/bin/env bash
# Erasure on the client side (issue 7): `sdp-agent vault forget` removes vault entries, so a
# RANDOM token can never be reversed again: detokenize then reports the token as unknown, by
# token and by value, while the other rows still round-trip. Needs no database.
source "$(dirname "$0")/lib.sh"
agent=${SDP_AGENT:-$agent}
w=$e2e_work
printf 'customer_id,last_name\nC1,Smith\nC2,Jones\nC3,Smith\n' >"$w/raw.csv"
cols=(--column last_name --token-type RANDOM --source-table customers)
"$agent" tokenize-csv --input "$w/raw.csv" --output "$w/tok.csv" --vault "$w/v.db" "${cols[@]}" 2>/dev/null ||
  fail "tokenize-csv"
tok1=$(sed -n 2p "$w/tok.csv" | cut -d, -f2)
tok2=$(sed -n 3p "$w/tok.csv" | cut -d, -f2)
[[ -n "$tok1" && "$tok1" != Smith ]] || fail "row 1 not tokenized"
detok=(detokenize --input "$w/tok.csv" --output "$w/back.csv" --vault "$w/v.db" --columns last_name
       --token-type RANDOM --source-table customers)
expect_exit 0 "${detok[@]}"
cmp -s "$w/raw.csv" "$w/back.csv" || fail "round trip before forget"
pass "tokenize -> detokenize round trip"

# Forget one token: detokenize now names that token as not in the vault, and writes nothing.
expect_exit 0 vault forget --vault "$w/v.db" --token "$tok2" --domain customers.last_name
grep -q "^forgot 1 entries$" "$w/out" || fail "forget by token: $(cat "$w/out")"
rm -f "$w/back.csv"
expect_exit 1 "${detok[@]}"
grep -q "token $tok2 is not in the vault" "$w/err" || fail "detokenize after forget: $(cat "$w/err")"
[[ ! -e "$w/back.csv" ]] || fail "detokenize wrote output"
pass "vault forget --token: detokenize reports the token unknown"

# Forget by value (read from stdin, so it never appears in argv): both Smith rows go.
printf 'Smith\n' | "$agent" vault forget --vault "$w/v.db" --value - --domain customers.last_name \
  >"$w/out" 2>"$w/err" || fail "forget by value: $(cat "$w/err")"
grep -q "^forgot 2 entries$" "$w/out" || fail "forget by value: $(cat "$w/out")"
expect_exit 1 "${detok[@]}"
grep -q "token $tok1 is not in the vault" "$w/err" || fail "detokenize after value forget: $(cat "$w/err")"
pass "vault forget --value - --domain: every token of the value is gone"

# Forgetting again is idempotent; bad usage is exit 2.
expect_exit 0 vault forget --vault "$w/v.db" --token "$tok2"
grep -q "^forgot 0 entries$" "$w/out" || fail "second forget"
expect_exit 2 vault forget --vault "$w/v.db"
expect_exit 2 vault forget --vault "$w/v.db" --value Smith
expect_exit 2 vault forget --vault "$w/v.db" --token x --value y --domain d
pass "idempotent; usage errors exit 2"
echo "vault_forget: $checks checks passed"
