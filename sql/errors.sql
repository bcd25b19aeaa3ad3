-- SQL-level failures of the data path, as a client sees them: SQLSTATE (which PostgREST turns
-- into the HTTP status, docs/postgrest.md §5) and, where it matters, the message. After every
-- failed upload nothing is stored.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set SHOW_CONTEXT never
INSERT INTO sdp.api_client (client_id) VALUES ('errors_a'), ('errors_b') ON CONFLICT DO NOTHING;

CREATE FUNCTION pg_temp.stored() RETURNS TABLE(batches bigint, records bigint, chunks bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM sdp.processing_batch WHERE client_id = 'errors_a'),
         (SELECT count(*) FROM sdp.tokenized_record WHERE client_id = 'errors_a'),
         (SELECT count(*) FROM sdp.batch_chunk c JOIN sdp.processing_batch b USING (batch_id) WHERE b.client_id = 'errors_a')
$$;
CREATE FUNCTION pg_temp.sha(t text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') $$;

SELECT * FROM pg_temp.stored();

-- Malformed CSV: 22P04 (HTTP 400); the message names the line and the cause.
\set VERBOSITY sqlstate
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\nc1,30\nc2,"40\nc3,50\n');
\set VERBOSITY default
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\nc1,30\nc2,"40\nc3,50\n');
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\nc1,30\nc2,40,extra\n');
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\nc1,3"0\n');
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\rc1,30\r');
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,customer_id\nc1,c1\n');
-- The error comes after thousands of good rows were already bulk-inserted: all rolled back.
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring',
  'customer_id,age' || E'\n' || (SELECT string_agg('k' || g || ',' || g, E'\n') FROM generate_series(1, 5000) g) || E'\nbad,"x\n');
SELECT * FROM pg_temp.stored();
-- Also when the caller catches the error and goes on in the same transaction.
BEGIN;
SAVEPOINT s;
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring',
  'customer_id,age' || E'\n' || (SELECT string_agg('k' || g || ',' || g, E'\n') FROM generate_series(1, 3000) g) || E'\n,1\n');
ROLLBACK TO SAVEPOINT s;
SELECT * FROM pg_temp.stored();
COMMIT;

-- Header and key column problems: 22023, naming what is wrong.
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'id,age\n1,2\n');
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\nc1,30\n,31\n');
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\n');
-- Empty body: 22023.
\set VERBOSITY sqlstate
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', '');
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', NULL);
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'\n\r\n  \n');
SELECT sdp.sdp_ingest_json('errors_a', 'risk_scoring', '[]');
\set VERBOSITY default
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'\n\n');
-- Unknown processing type: 22023 listing the known ones.
SELECT sdp.sdp_ingest_csv('errors_a', 'fraud', E'customer_id\nc1\n');
SELECT * FROM pg_temp.stored();

-- Bad UUID: 22P02 (HTTP 400).
\set VERBOSITY sqlstate
SELECT sdp.sdp_batch_status(batch_id => 'not-a-uuid');
SELECT sdp.sdp_process_batch('1234');

-- Over sdp.max_batch_bytes: PT413 (HTTP 413), CSV and JSON.
SET sdp.max_batch_bytes = 64;
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', 'customer_id,age' || E'\n' || repeat(E'abcdefgh,1\n', 10));
SELECT sdp.sdp_ingest_json('errors_a', 'risk_scoring', (SELECT jsonb_agg(jsonb_build_object('customer_id', 'k' || g)) FROM generate_series(1, 10) g));
\set VERBOSITY default
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', 'customer_id,age' || E'\n' || repeat(E'abcdefgh,1\n', 10));
RESET sdp.max_batch_bytes;
-- Only a superuser may change the limit (and sdp.env).
SELECT name, context FROM pg_settings WHERE name IN ('sdp.max_batch_bytes', 'sdp.env', 'sdp.auto_process') ORDER BY 1;
SELECT * FROM pg_temp.stored();

-- Conflicting chunk: PT409 (HTTP 409).
SELECT batch_id AS b1 FROM sdp.sdp_batch_open('errors_a', 'risk_scoring') \gset
SELECT sdp.sdp_batch_append(:'b1', 0, E'customer_id\nc1\n', pg_temp.sha(E'customer_id\nc1\n'));
\set VERBOSITY sqlstate
SELECT sdp.sdp_batch_append(:'b1', 0, E'customer_id\nc2\n', pg_temp.sha(E'customer_id\nc2\n'));
-- Damaged chunk (hash mismatch): 22023.
SELECT sdp.sdp_batch_append(:'b1', 1, E'c2\n', pg_temp.sha(E'c3\n'));
-- Malformed chunk: 22P04.
SELECT sdp.sdp_batch_append(:'b1', 1, E'"c2\n', pg_temp.sha(E'"c2\n'));
\set VERBOSITY default
SELECT sdp.sdp_batch_append(:'b1', 0, E'customer_id\nc2\n', pg_temp.sha(E'customer_id\nc2\n'));

-- Unknown batch: PT404 (HTTP 404), from every batch-id call; another client's batch likewise.
\set VERBOSITY sqlstate
SELECT sdp.sdp_batch_status('00000000-0000-4000-8000-000000000000'::uuid);
SELECT sdp.sdp_process_batch('00000000-0000-4000-8000-000000000000');
SELECT sdp.sdp_batch_append('00000000-0000-4000-8000-000000000000', 0, 'x', pg_temp.sha('x'));
SELECT sdp.sdp_batch_seal('00000000-0000-4000-8000-000000000000', 1, pg_temp.sha('x'));
SELECT sdp.sdp_results_csv('00000000-0000-4000-8000-000000000000');
BEGIN;
SET LOCAL sdp.client_id = 'errors_b';
SELECT sdp.sdp_batch_status(:'b1'::uuid);
ROLLBACK;
-- Acting for another client when ingesting: PT403 (HTTP 403).
BEGIN;
SET LOCAL sdp.client_id = 'errors_b';
SELECT sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id\nc1\n');
ROLLBACK;

-- The dev entry point: PT404 in prod, working in dev.
SELECT batch_id AS b2 FROM sdp.sdp_ingest_csv('errors_a', 'risk_scoring', E'customer_id,age\nd1,30\n') \gset
SHOW sdp.env;
SELECT sdp.sdp_dev_process_batch(:'b2');
SET sdp.env = 'dev';
\set VERBOSITY default
SELECT status, processed_records, model_version FROM sdp.sdp_dev_process_batch(:'b2');
RESET sdp.env;
