-- Results: sdp_batch_status, sdp_results, sdp_results_csv; health: sdp_health, sdp_ready.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
INSERT INTO sdp.api_client (client_id) VALUES ('results_a'), ('results_b') ON CONFLICT DO NOTHING;

-- Keys that need quoting in CSV output: comma, quote, line break, surrounding space.
SELECT batch_id AS b1 FROM sdp.sdp_ingest_csv('results_a', 'risk_scoring',
  E'customer_id,age,income,balance,num_transactions\n'
  'plain,30,50000,1000,10\n'
  '"with,comma",80,300000,90000,1\n'
  '"with ""quote""",25,20000,100,200\n'
  '"two\nlines",,,,\n'
  '" padded ",45,60000,15000,40\n') \gset

-- Before processing: RECEIVED, no results, a header-only CSV.
SELECT status, accepted_records, processed_records, model_version IS NULL AS no_model FROM sdp.sdp_batch_status(:'b1'::uuid);
SELECT count(*) AS results FROM sdp.sdp_results(:'b1');
SELECT sdp.sdp_results_csv(:'b1') AS csv_before;

SELECT status FROM sdp.sdp_process_batch(:'b1');
SELECT status, accepted_records, processed_records, model_version, processed_at >= created_at AS processed_after_created
  FROM sdp.sdp_batch_status(:'b1'::uuid);
-- In row order, whatever the keys.
SELECT row_no, record_key, round(score::numeric, 6) AS score, risk_band, model_version FROM sdp.sdp_results(:'b1');
-- The CSV: header, one RFC 4180 record per row in row order, LF line ends, shortest exact floats.
SELECT sdp.sdp_results_csv(:'b1') AS csv;
-- Unknown batch, another client's batch and a dev-only batch in prod: the same PT404 for all.
\set VERBOSITY sqlstate
SELECT * FROM sdp.sdp_batch_status('00000000-0000-4000-8000-000000000000'::uuid);
SELECT * FROM sdp.sdp_results('00000000-0000-4000-8000-000000000000');
SELECT sdp.sdp_results_csv('00000000-0000-4000-8000-000000000000');
BEGIN;
SET LOCAL sdp.client_id = 'results_b';
SELECT * FROM sdp.sdp_batch_status(:'b1'::uuid);
ROLLBACK;
BEGIN;
SET LOCAL sdp.client_id = 'results_b';
SELECT * FROM sdp.sdp_results(:'b1');
ROLLBACK;
BEGIN;
SET LOCAL sdp.client_id = 'results_b';
SELECT sdp.sdp_results_csv(:'b1');
ROLLBACK;
\set VERBOSITY default
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_status(%L::uuid)$$, '00000000-0000-4000-8000-000000000000'));
-- ... while the owner sees its own.
BEGIN;
SET LOCAL sdp.client_id = 'results_a';
SELECT status FROM sdp.sdp_batch_status(:'b1'::uuid);
SELECT count(*) FROM sdp.sdp_results(:'b1');
ROLLBACK;
SET sdp.env = 'dev';
SELECT batch_id AS dev1 FROM sdp.sdp_ingest_csv('results_a', 'risk_scoring_v2', E'customer_id\nk\n') \gset
SELECT status FROM sdp.sdp_batch_status(:'dev1'::uuid);
RESET sdp.env;
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_status(%L::uuid)$$, :'dev1'));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_results(%L)$$, :'dev1'));

-- Read-only entry points are STABLE (PostgREST runs them READ ONLY, GET allowed).
SELECT proname, provolatile, prosecdef, proconfig FROM pg_proc
 WHERE pronamespace = 'sdp'::regnamespace
   AND proname IN ('sdp_batch_status', 'sdp_results', 'sdp_results_csv', 'sdp_health', 'sdp_ready')
 ORDER BY 1;

-- Health and readiness.
SELECT sdp.sdp_health();
SELECT sdp.sdp_ready() - 'schema_version' - 'library_version' AS ready,
       sdp.sdp_ready() ->> 'schema_version' = (SELECT extversion FROM pg_extension WHERE extname = 'sdp') AS schema_version_ok,
       sdp.sdp_ready() ->> 'library_version' = sdp.sdp_version() AS library_version_ok;
