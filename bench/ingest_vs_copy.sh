#!/usr/bin/env bash
# Ingestion and processing throughput of the sdp extension against its peers, in one run on one
# temporary instance (test/with_pg.sh), so the ratios are meaningful on a shared machine:
#
#   ingest:  sdp.sdp_ingest_csv(<whole file>)     vs  COPY of the same file into an equivalent
#            logged table with a primary key on customer_id (17 text columns)
#   chunks:  sdp_batch_open/append(8 MB chunks)/seal of the same file (same peer)
#   process: sdp.sdp_process_batch(1M rows)      vs  the same logistic model (demo_v1) written as
#            a SQL expression in INSERT ... SELECT into an equivalent results table
#
# Each contender runs BENCH_ROUNDS times (default 2), alternating, after a CHECKPOINT; the best
# time of each counts. Prints rows/s and the ratios. Targets (issue 5): ingest >= 0.7x COPY,
# process >= 2x the SQL expression.
#
#   bench/ingest_vs_copy.sh [ROWS]        (default 1000000)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-1000000}
if [[ -z "${PGPORT:-}" ]]; then
  exec bash "$repo/test/with_pg.sh" bash "$0" "$@"
fi
export BENCH_ROWS=$rows BENCH_ROUNDS=${BENCH_ROUNDS:-2}
csv="$SDP_PG_DATA/bench_customers.csv"
psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -v csv="$csv" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
SET sdp.max_batch_bytes = '1GB';
INSERT INTO sdp.api_client (client_id) VALUES ('bench') ON CONFLICT DO NOTHING;

-- 1M tokenized customers, 17 columns, written by the server into its data directory.
\echo generating :rows tokenized customer rows ...
COPY (
  SELECT 'tok_' || md5(g::text) AS customer_id,
         'FN_' || substr(md5(g::text || 'f'), 1, 12) AS first_name,
         'LN_' || substr(md5(g::text || 'l'), 1, 12) AS last_name,
         substr(md5(g::text || 'e'), 1, 16) || '@example.com' AS email,
         '***-***-' || lpad((g % 10000)::text, 4, '0') AS phone,
         '***-**-' || lpad((g % 9973)::text, 4, '0') AS ssn,
         substr(md5(g::text || 'a'), 1, 24) AS address,
         (ARRAY['Springfield', 'Riverside', 'Franklin', 'Greenville', 'Bristol'])[1 + (g % 5)::int] AS city,
         (ARRAY['CA', 'TX', 'NY', 'FL', 'WA', 'IL'])[1 + (g % 6)::int] AS state,
         lpad((g * 7 % 100000)::text, 5, '0') AS zip,
         (date '1940-01-01' + (g * 37 % 25000)::int)::text AS dob,
         CASE WHEN g % 97 = 0 THEN '' ELSE (18 + g % 73)::text END AS age,
         CASE WHEN g % 89 = 0 THEN 'n/a' ELSE (15000 + (g * 7919) % 185000)::text END AS income,
         ((g * 104729) % 5000000 / 100.0)::text AS balance,
         (g * 31 % 250)::text AS num_transactions,
         (date '2005-01-01' + (g * 13 % 6500)::int)::text AS account_open_date,
         (ARRAY['retail', 'premium', 'business'])[1 + (g % 3)::int] AS segment
    FROM generate_series(1::bigint, :rows) g
) TO :'csv' WITH (FORMAT csv, HEADER);
SELECT pg_size_pretty((pg_stat_file(:'csv')).size) AS file_size \gset
\echo file: :file_size

CREATE TABLE bench_copy (
  customer_id text PRIMARY KEY, first_name text, last_name text, email text, phone text, ssn text,
  address text, city text, state text, zip text, dob text, age text, income text, balance text,
  num_transactions text, account_open_date text, segment text);
CREATE TABLE bench_sql_result (LIKE sdp.processed_result INCLUDING ALL);
CREATE TABLE bench_times (what text, round int, seconds float8, rows bigint);
SQL

# SQL expression of demo_v1 (docs/model_demo_v1.md): positions 12..15 are age, income, balance,
# num_transactions in the generated file.
model_sql="
  SELECT t.batch_id, t.row_no, t.client_id, t.record_key, s.score,
         CASE WHEN s.score >= 0.6 THEN 'high' WHEN s.score >= 0.3 THEN 'medium' ELSE 'low' END,
         'demo_v1', v.defaulted
    FROM sdp.tokenized_record t,
    LATERAL (SELECT
       CASE WHEN t.fields[12] ~ '^[ \t]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[ \t]*\$' THEN t.fields[12]::float8 END AS age,
       CASE WHEN t.fields[13] ~ '^[ \t]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[ \t]*\$' THEN t.fields[13]::float8 END AS income,
       CASE WHEN t.fields[14] ~ '^[ \t]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[ \t]*\$' THEN t.fields[14]::float8 END AS balance,
       CASE WHEN t.fields[15] ~ '^[ \t]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[ \t]*\$' THEN t.fields[15]::float8 END AS ntx) x,
    LATERAL (SELECT (x.age IS NULL)::int + (x.income IS NULL)::int + (x.balance IS NULL)::int + (x.ntx IS NULL)::int AS defaulted) v,
    LATERAL (SELECT 1 / (1 + exp(-(-0.9
         + -0.35 * least(greatest((coalesce(x.age, 45) - 45) / 15, -5), 5)
         + -0.9  * least(greatest((coalesce(x.income, 60000) - 60000) / 30000, -5), 5)
         + -0.6  * least(greatest((coalesce(x.balance, 15000) - 15000) / 20000, -5), 5)
         + 0.55  * least(greatest((coalesce(x.ntx, 40) - 40) / 30, -5), 5)))) AS score) s
   WHERE t.batch_id = '%s'"

for round in $(seq 1 "$BENCH_ROUNDS"); do
  echo "round $round: COPY, sdp_ingest_csv, chunked upload"
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
SET sdp.max_batch_bytes = '1GB';
TRUNCATE bench_copy; DELETE FROM sdp.processing_batch; CHECKPOINT;
CREATE FUNCTION pg_temp.timed(what text, round int, stmt text) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  EXECUTE stmt;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO bench_times VALUES (what, round, extract(epoch FROM clock_timestamp() - t0), n);
END \$\$;
SELECT pg_temp.timed('copy', $round, \$q\$COPY bench_copy FROM '$csv' WITH (FORMAT csv, HEADER)\$q\$);
TRUNCATE bench_copy; DELETE FROM sdp.processing_batch; CHECKPOINT;
SELECT pg_temp.timed('ingest_csv', $round, \$q\$SELECT sdp.sdp_ingest_csv('bench', 'risk_scoring', pg_read_file('$csv'))\$q\$);
DELETE FROM sdp.processing_batch; CHECKPOINT;
SQL
  # Chunked: ~8 MB chunks cut at line ends (chunk 0 carries the header), sent from the client.
  t0=$(date +%s.%N)
  python3 - "$csv" <<'PY' | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
import hashlib, sys
data = open(sys.argv[1], 'rb').read()
def lit(b):
    return "'" + b.decode().replace("'", "''") + "'"
print("SET client_min_messages = warning; SET sdp.max_batch_bytes = '1GB';")
print("SELECT batch_id AS bid FROM sdp.sdp_batch_open('bench', 'risk_scoring') \\gset")
pos, seq, size = 0, 0, 8 << 20
while pos < len(data):
    end = data.find(b"\n", min(pos + size, len(data)) - 1)
    end = len(data) if end < 0 else end + 1
    chunk = data[pos:end]
    print("SELECT sdp.sdp_batch_append(:'bid', %d, %s, '%s');" % (seq, lit(chunk), hashlib.sha256(chunk).hexdigest()))
    pos, seq = end, seq + 1
print("SELECT (sdp.sdp_batch_seal(:'bid', %d, '%s')).accepted_records;" % (seq, hashlib.sha256(data).hexdigest()))
PY
  t1=$(date +%s.%N)
  psql -X -q -c "INSERT INTO bench_times VALUES ('chunked', $round, $t1 - $t0, $rows)"

  echo "round $round: sdp_process_batch, SQL expression"
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
SET sdp.max_batch_bytes = '1GB';
DELETE FROM sdp.processing_batch; TRUNCATE bench_sql_result;
SELECT batch_id AS bid FROM sdp.sdp_ingest_csv('bench', 'risk_scoring', pg_read_file('$csv')) \gset
VACUUM ANALYZE sdp.tokenized_record; CHECKPOINT;
CREATE FUNCTION pg_temp.timed(what text, round int, stmt text) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  EXECUTE stmt;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO bench_times VALUES (what, round, extract(epoch FROM clock_timestamp() - t0), n);
END \$\$;
SELECT format(\$q\$INSERT INTO bench_sql_result ${model_sql}\$q\$, :'bid') AS stmt \gset
SELECT pg_temp.timed('sql_expression', $round, :'stmt');
CHECKPOINT;
SELECT pg_temp.timed('process_batch', $round, format(\$q\$SELECT sdp.sdp_process_batch(%L)\$q\$, :'bid'));
-- Both computed the same scores.
SELECT count(*) AS mismatches FROM sdp.processed_result r JOIN bench_sql_result s USING (batch_id, row_no)
 WHERE abs(r.score - s.score) > 1e-9 OR r.risk_band <> s.risk_band OR r.defaulted_features <> s.defaulted_features \gset
\if :mismatches
  \warn 'MISMATCH between sdp_process_batch and the SQL expression:' :mismatches
\endif
SQL
done

psql -X -q -v rows="$rows" <<'SQL'
WITH best AS (SELECT what, min(seconds) AS s FROM bench_times GROUP BY what)
SELECT what, round(s::numeric, 2) AS best_seconds, round((:rows / s)::numeric) AS rows_per_s FROM best ORDER BY what;
WITH best AS (SELECT what, min(seconds) AS s FROM bench_times GROUP BY what)
SELECT round(((SELECT s FROM best WHERE what = 'copy') / (SELECT s FROM best WHERE what = 'ingest_csv'))::numeric, 2) AS ingest_csv_vs_copy,
       round(((SELECT s FROM best WHERE what = 'copy') / (SELECT s FROM best WHERE what = 'chunked'))::numeric, 2) AS chunked_vs_copy,
       round(((SELECT s FROM best WHERE what = 'sql_expression') / (SELECT s FROM best WHERE what = 'process_batch'))::numeric, 2) AS process_vs_sql_expression;
SQL
