#!/usr/bin/env bash
# Demo data for the dashboard's tests (issue 22, docs/dashboard.md): run against an existing
# database, prints ONE line on stdout, the path of the staff password file.
#
#   PGHOST/PGPORT/PGDATABASE/PGUSER (a superuser; libpq environment, as inside test/with_pg.sh)
#   SDP_JWT_SECRET_FILE   PostgREST's jwt-secret (the gateway's, test/e2e/lib_https.sh); stored
#                         with sdp_set_jwt_secret so that sign-in signs with it. Required.
#   SDP_DASH_SEED_DIR     where to write (default: a new mktemp -d); holds
#                           staff_passwords.json  {"admin": "...", ...}, mode 0600 (the output)
#                           raw.csv               the generated customers (raw PII, never uploaded)
#                           pii_values.txt        the raw PII values, one a line (for leak checks;
#                                                 values under 6 characters, such as a 3-letter
#                                                 name, can occur inside a random token by chance:
#                                                 compare those with whole cells, as demo/demo.sh)
#                           seed.json             batch ids, record id, dataset, client
#   SDP_DASH_PASSWORDS    an existing password file of that shape to use instead of new passwords
#   SDP_DASH_SEED_ROWS    customers per batch (default 200)
#   SDP_AGENT             the agent binary (default build/sdp-agent)
#
# What it creates: the extension (if missing), client bank_demo with two tokenized batches
# uploaded by the real agent over libpq (the PII firewall told how each column was tokenized)
# and scored; the six staff users of the contract (admin, engineer, analyst, auditor, viewer ->
# sdp_<role>; dp_analyst -> the analyst role sdp_demo_dp_analyst, enabled for the API); DP
# dataset demo_customers over the client's batches with a grant of epsilon 5 to that role; a
# legal hold on the first batch; a 365-day retention policy; one upload refused by the PII
# firewall (a raw e-mail address in a clear column); one record edited (history of 2 versions).
# Passwords never appear on a command line: they go from the 0600 file to psql's stdin.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
agent=${SDP_AGENT:-$repo/build/sdp-agent}
rows=${SDP_DASH_SEED_ROWS:-200}
: "${PGDATABASE:?dashboard_seed: set PGDATABASE (and PGHOST/PGPORT) to the database to seed}"
: "${SDP_JWT_SECRET_FILE:?dashboard_seed: set SDP_JWT_SECRET_FILE to PostgREST\'s jwt-secret file}"
[[ -x "$agent" ]] || { echo "dashboard_seed: $agent missing; fix: make agent" >&2; exit 3; }
dir=${SDP_DASH_SEED_DIR:-$(mktemp -d /tmp/sdp-dash-seed.XXXXXX)}
mkdir -p "$dir"
chmod 0700 "$dir"
pwfile="$dir/staff_passwords.json"
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

# ---- passwords: 0600 file, 24 random hex characters each -----------------------------------
if [[ -n "${SDP_DASH_PASSWORDS:-}" ]]; then
  (umask 077 && cp "$SDP_DASH_PASSWORDS" "$pwfile")
else
  (umask 077 && /usr/bin/python3 - "$pwfile" <<'PY'
import json, secrets, sys
users = ["admin", "engineer", "analyst", "auditor", "viewer", "dp_analyst"]
with open(sys.argv[1], "w") as f:
    json.dump({u: secrets.token_hex(12) for u in users}, f, indent=2)
    f.write("\n")
PY
  )
fi
chmod 0600 "$pwfile"

# ---- extension, secret, client ------------------------------------------------------------------
q -c "CREATE EXTENSION IF NOT EXISTS sdp" >/dev/null
# The secret goes through stdin too (psql's \set from a here-document, not argv).
/usr/bin/python3 - "$SDP_JWT_SECRET_FILE" <<'PY' | q >/dev/null
import sys
s = open(sys.argv[1], "rb").read().decode()
s = s[:-1] if s.endswith("\n") else s
print("SELECT sdp.sdp_set_jwt_secret('%s');" % s.replace("'", "''"))
PY
q -c "SELECT sdp.sdp_create_client('bank_demo', NULL) FROM (SELECT 1) x
       WHERE NOT EXISTS (SELECT 1 FROM sdp.api_client WHERE client_id = 'bank_demo')" >/dev/null

# ---- two tokenized batches through the real agent, scored -----------------------------------------
export SDP_CRYPTO_KEY=${SDP_CRYPTO_KEY:-Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=}
export SDP_SERVER_URL="postgresql://${PGUSER:-postgres}@${PGHOST:-127.0.0.1}:${PGPORT:-5432}/$PGDATABASE"
unset SDP_API_KEY
/usr/bin/python3 "$repo/bench/gen_customers.py" "$((rows * 2))" "$dir/raw.csv" >/dev/null
head -n 1 "$dir/raw.csv" >"$dir/raw1.csv"
cp "$dir/raw1.csv" "$dir/raw2.csv"
sed -n "2,$((rows + 1))p" "$dir/raw.csv" >>"$dir/raw1.csv"
sed -n "$((rows + 2)),\$p" "$dir/raw.csv" >>"$dir/raw2.csv"
batches=()
for n in 1 2; do
  "$agent" tokenize-config --config "$repo/configs/customers_tokenization.yml" \
    --input "$dir/raw$n.csv" --output "$dir/tokenized$n.csv" --vault "$dir/token_vault.db" >/dev/null
  out=$("$agent" upload-batch --file "$dir/tokenized$n.csv" --client-id bank_demo \
    --processing-type risk_scoring --config "$repo/configs/customers_tokenization.yml")
  batches+=("$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["batch_id"])' "$out")")
done
# Scored here, or by the background worker when sdp.auto_process is on (then this call may find
# the batch taken: it waits for PROCESSED either way).
for b in "${batches[@]}"; do
  q -c "SELECT (sdp.sdp_process_batch('$b')).status" >/dev/null 2>&1 || true
  for _ in $(seq 300); do
    [[ $(q -c "SELECT status FROM sdp.processing_batch WHERE batch_id = '$b'") == PROCESSED ]] && break
    sleep 0.1
  done
  [[ $(q -c "SELECT status FROM sdp.processing_batch WHERE batch_id = '$b'") == PROCESSED ]] ||
    { echo "dashboard_seed: batch $b was not processed" >&2; exit 1; }
done
/usr/bin/python3 - "$dir/raw.csv" "$dir/pii_values.txt" <<'PY'
import csv, sys
pii = ["customer_id", "first_name", "last_name", "email", "phone", "ssn", "card_number", "iban",
       "birth_date", "address"]
values = set()
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for r in csv.DictReader(f):
        values.update(r[c] for c in pii if c in r and r[c])
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("".join(v + "\n" for v in sorted(values)))
PY

# ---- staff, DP, governance ------------------------------------------------------------------------
q -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sdp_demo_dp_analyst') THEN
    CREATE ROLE sdp_demo_dp_analyst NOLOGIN IN ROLE sdp_dp_analyst;
  END IF; END \$\$" >/dev/null
/usr/bin/python3 - "$pwfile" <<'PY' | q >/dev/null
import json, sys
roles = {"admin": "sdp_admin", "engineer": "sdp_engineer", "analyst": "sdp_analyst",
         "auditor": "sdp_auditor", "viewer": "sdp_viewer", "dp_analyst": "sdp_demo_dp_analyst"}
pw = json.load(open(sys.argv[1]))
lit = lambda s: "'" + s.replace("'", "''") + "'"
print("SELECT sdp.sdp_api_enable_analyst('sdp_demo_dp_analyst');")
for user, role in roles.items():
    print("SELECT CASE WHEN EXISTS (SELECT 1 FROM sdp.staff_user WHERE username = %s)"
          " THEN sdp.sdp_staff_set_password(%s, %s) ELSE sdp.sdp_staff_create(%s, %s, %s) END;"
          % (lit(user), lit(user), lit(pw[user]), lit(user), lit(role), lit(pw[user])))
PY
q >/dev/null <<SQL
SELECT (sdp.sdp_dp_register_batches('demo_customers', 'bank_demo', 'risk_scoring', 1, 10, 0.000001,
          '{"age": "numeric", "income": "numeric", "balance": "numeric", "num_transactions": "numeric"}')).name
 WHERE NOT EXISTS (SELECT 1 FROM sdp.dp_dataset WHERE name = 'demo_customers');
SELECT sdp.sdp_dp_grant('sdp_demo_dp_analyst', 'demo_customers', 5)
 WHERE NOT EXISTS (SELECT 1 FROM sdp.dp_grant WHERE grantee = 'sdp_demo_dp_analyst');
SELECT sdp.sdp_legal_hold(NULL, '${batches[0]}', 'litigation hold: demo case 2026-17')
 WHERE NOT EXISTS (SELECT 1 FROM sdp.legal_hold WHERE batch_id = '${batches[0]}');
SELECT sdp.sdp_set_retention('bank_demo', interval '365 days');
SELECT sdp.sdp_update_record(sdp.sdp_record_id('${batches[1]}', 1), '{"age": "44"}');
SQL
# One upload the PII firewall refuses: a raw e-mail address in a column declared CLEAR. The
# refusal (PT422) rolls back; its audit entry is written by a background worker.
q -c "SELECT sdp.sdp_ingest_csv('bank_demo', 'risk_scoring',
        E'customer_id,age,note\nc_fw_1,40,write to jane.doe@example.org\n')" >/dev/null 2>&1 || true
for _ in $(seq 50); do
  [[ $(q -c "SELECT count(*) FROM sdp.audit_log WHERE event = 'firewall.refused'") -gt 0 ]] && break
  sleep 0.1
done

/usr/bin/python3 - "$dir/seed.json" "${batches[@]}" <<'PY'
import json, sys
out, b1, b2 = sys.argv[1], sys.argv[2], sys.argv[3]
json.dump({"client_id": "bank_demo", "batches": [b1, b2], "held_batch": b1,
           "edited_record": b2 + ":1", "dp_dataset": "demo_customers",
           "dp_role": "sdp_demo_dp_analyst"}, open(out, "w"), indent=2)
PY
echo "$pwfile"
