#!/usr/bin/env bash
# `make demo`: the whole SDP round trip on generated customers, run inside test/with_pg.sh
# (a private PostgreSQL 15 cluster on 127.0.0.1 with the sdp worker on; stopped afterwards).
#
#   raw.csv -> tokenize (here) -> upload (libpq) -> server scores (worker) -> fetch -> merge
#
# and then the promise checked: a pg_dump of the server database holds none of the raw PII.
# SDP_DEMO_KEEP=1 keeps .sdp/demo/server_dump.sql for inspection.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
agent="$repo/build/sdp-agent"
work="$repo/.sdp/demo"
rows=${SDP_DEMO_ROWS:-10000}
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"

now() { date +%s.%N; }
step_start=0
step() {
  step_start=$(now)
  printf '\n\033[1m==> %s\033[0m\n' "$*"
}
took() { awk -v a="$step_start" -v b="$(now)" 'BEGIN { printf "    (%.2f s)\n", b - a }'; }

step "Server: PostgreSQL $(psql -XAtc 'show server_version') on 127.0.0.1:$PGPORT, data in .sdp/pg"
PGOPTIONS="-c client_min_messages=warning" psql -XAtq -c "DROP DATABASE IF EXISTS sdp_demo" \
  -c "CREATE DATABASE sdp_demo"
export PGDATABASE=sdp_demo
psql -XAtq -c "CREATE EXTENSION sdp"
echo "    extension sdp $(psql -XAtc "SELECT extversion FROM pg_extension WHERE extname = 'sdp'"), worker: $(psql -XAtc "SELECT sdp.sdp_ready()->>'worker'")"
api_key=$(psql -XAtc "SELECT sdp.sdp_create_client('bank_demo')")
echo "    client bank_demo registered; its API key (${api_key:0:8}...) is stored on the server only as a keyed hash"
took

step "Client key: a fresh SDP_CRYPTO_KEY in .sdp/demo/demo.env (mode 0600, never on a command line)"
"$agent" keygen --output "$work/demo.env" 2>/dev/null
set -a
# shellcheck disable=SC1091
. "$work/demo.env"
set +a
export SDP_SERVER_URL="postgresql://postgres@127.0.0.1:$PGPORT/sdp_demo"
took

step "Generate $rows realistic customers (synthetic): .sdp/demo/raw.csv"
python3 bench/gen_customers.py "$rows" "$work/raw.csv"
echo "    $(($(wc -l <"$work/raw.csv") - 1)) rows, $(head -1 "$work/raw.csv" | tr ',' '\n' | wc -l) columns, $(du -h "$work/raw.csv" | cut -f1)"
took

step "Tokenize locally with configs/customers_tokenization.yml"
"$agent" tokenize-config --config configs/customers_tokenization.yml \
  --input "$work/raw.csv" --output "$work/tokenized.csv" --vault "$work/token_vault.db"
"$agent" vault stats --vault "$work/token_vault.db" | sed 's/^/    /'
took

step "Upload only the tokenized rows (chunked, idempotent; the config tells the PII firewall how each column was tokenized)"
upload=$("$agent" upload-batch --file "$work/tokenized.csv" --client-id bank_demo \
  --processing-type risk_scoring --config configs/customers_tokenization.yml)
echo "    $upload"
batch_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["batch_id"])' "$upload")
took

step "Server scores the batch (background worker, model demo_v1)"
for _ in $(seq 1 600); do
  status=$("$agent" status --batch-id "$batch_id")
  case "$status" in *'"PROCESSED"'*) break ;; *'"FAILED"'*) echo "$status" >&2; exit 1 ;; esac
  sleep 0.1
done
echo "    $status"
took

step "Fetch results and join them onto the raw file, locally"
"$agent" integrate-results --batch-id "$batch_id" --raw-input "$work/raw.csv" \
  --output "$work/merged.csv" --key-column customer_id --config configs/customers_tokenization.yml |
  sed 's/^/    /'
took

step "Three merged rows (raw values never left this machine; scores came back)"
python3 - "$work/merged.csv" <<'EOF'
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
cols = ["customer_id", "first_name", "last_name", "email", "age", "income", "score", "risk_band", "model_version"]
print("    " + " | ".join(cols))
for r in rows[:3]:
    print("    " + " | ".join((r[c][:10] + "…" if c == "score" else r[c]) for c in cols))
bands = {}
for r in rows:
    bands[r["risk_band"]] = bands.get(r["risk_band"], 0) + 1
print(f"    {len(rows)} rows merged; risk bands: " + ", ".join(f"{k} {v}" for k, v in sorted(bands.items())))
EOF
took

step "Proof: scan a pg_dump of the server database for every raw PII value of the input"
pg_dump --no-owner sdp_demo >"$work/server_dump.sql"
python3 - "$work/raw.csv" "$work/pii_values.txt" <<'EOF'
import csv, sys
pii = ["customer_id", "first_name", "last_name", "email", "phone", "ssn", "card_number", "iban", "birth_date", "address"]
values = set()
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for r in csv.DictReader(f):
        values.update(r[c] for c in pii if r[c])
# Long values are searched anywhere in the dump; values under 6 characters (a 3-letter name)
# could occur inside a random base64 token by chance, so they are compared with whole cells.
long_values = sorted(v for v in values if len(v) >= 6)
short_values = sorted(v for v in values if len(v) < 6)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("\n".join(long_values) + "\n")
with open(sys.argv[2] + ".short", "w", encoding="utf-8") as out:
    out.write("".join(v + "\n" for v in short_values))
print(f"    {len(values)} distinct raw PII values from the {len(pii)} PII columns of the input "
      f"({len(long_values)} searched anywhere in the dump, {len(short_values)} short ones compared with every stored cell)")
EOF
# Fixed strings, all patterns at once (Aho-Corasick in GNU grep).
found_long=$(grep -F -o -f "$work/pii_values.txt" "$work/server_dump.sql" | sort -u | wc -l || true)
found_short=$(psql -XAtq -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE short_pii(v text);
\copy short_pii FROM '$work/pii_values.txt.short'
SELECT count(DISTINCT v) FROM short_pii
 WHERE v IN (SELECT unnest(fields) FROM sdp.tokenized_record)
    OR v IN (SELECT record_key FROM sdp.processed_result);
SQL
)
found=$((found_long + found_short))
echo "    dump: $(du -h "$work/server_dump.sql" | cut -f1), tokenized rows on the server: $(psql -XAtc 'SELECT count(*) FROM sdp.tokenized_record')"
[[ "${SDP_DEMO_KEEP:-0}" == 1 ]] || rm -f "$work/server_dump.sql"
printf '\n\033[1m%s raw PII values on the server\033[0m\n' "$found"
[[ "$found" == "0" ]]
