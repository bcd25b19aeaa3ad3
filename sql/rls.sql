-- Row-level security and tenant isolation: two clients cannot read, count, change or guess each
-- other's batches, rows or results — with plain SQL as sdp_client or through the sdp_* API.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;

-- A filter that tells what it sees (a classic RLS leak probe: it must only ever see own rows).
CREATE FUNCTION pg_temp.peek(v text) RETURNS boolean
LANGUAGE plpgsql COST 0.0001 AS $$ BEGIN RAISE NOTICE 'peek saw %', v; RETURN true; END $$;

\set key_a 'regress-rls-key-client-a-0123456789abcdef'
\set key_b 'regress-rls-key-client-b-0123456789abcdef'
SELECT sdp.sdp_create_client('rls_a', :'key_a') IS NOT NULL AS a,
       sdp.sdp_create_client('rls_b', :'key_b') IS NOT NULL AS b;
CREATE ROLE regress_rls_client LOGIN IN ROLE sdp_client;
CREATE ROLE regress_rls_admin LOGIN IN ROLE sdp_admin;
-- Test-only: a client login that also holds table write privileges, to prove the write policies
-- (sdp_client itself has none).
CREATE ROLE regress_rls_writer LOGIN IN ROLE sdp_client;
GRANT INSERT, UPDATE, DELETE ON sdp.processing_batch, sdp.batch_chunk, sdp.tokenized_record,
                                sdp.processed_result, sdp.api_client TO regress_rls_writer;
-- Test-only as well: no sdp role may SELECT the record and result tables (reads go through the
-- access-logged functions, sql/governance_attacks.sql), but the policies on them must still bind
-- any role that is ever given SELECT. These logins get it to prove that.
GRANT SELECT ON sdp.tokenized_record, sdp.processed_result
  TO regress_rls_client, regress_rls_admin, regress_rls_writer;

-- ---- data, uploaded by each client through the API ------------------------------------------
-- CSV bodies, '|' standing for a line end.
CREATE FUNCTION pg_temp.csv(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT replace(v, '|', chr(10)) $$;
\set csv_a 'customer_id,age,income,balance,num_transactions|a1,30,50000,1000,10|a2,41,62000,2500,25|'
\set csv_b 'customer_id,age,income,balance,num_transactions|b1,55,90000,100,3|b2,23,18000,0,40|b3,67,30000,9000,7|'
SET SESSION AUTHORIZATION regress_rls_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a') AS tenant;
SELECT batch_id AS batch_a FROM sdp.sdp_ingest_csv('rls_a', 'risk_scoring', pg_temp.csv(:'csv_a'), 'customer_id', 'rls-upload-1') \gset
SELECT status, processed_records FROM sdp.sdp_process_batch(:'batch_a');
COMMIT;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') AS tenant;
SELECT batch_id AS batch_b FROM sdp.sdp_ingest_csv('rls_b', 'risk_scoring', pg_temp.csv(:'csv_b'), 'customer_id', 'rls-upload-1') \gset
SELECT status, processed_records FROM sdp.sdp_process_batch(:'batch_b');
SELECT batch_id AS batch_b_open FROM sdp.sdp_batch_open('rls_b', 'risk_scoring', 'customer_id', 'rls-chunked') \gset
SELECT sdp.sdp_batch_append(:'batch_b_open', 0, pg_temp.csv(:'csv_b'), encode(sha256(convert_to(pg_temp.csv(:'csv_b'), 'UTF8')), 'hex')) AS appended;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT :'batch_a' <> :'batch_b' AS distinct_batches;

-- Trusted callers (superuser, sdp_admin) see every client.
SELECT client_id, count(*) FROM sdp.processing_batch WHERE client_id LIKE 'rls%' GROUP BY 1 ORDER BY 1;
SET SESSION AUTHORIZATION regress_rls_admin;
SELECT 'batch' AS t, client_id, count(*) FROM sdp.processing_batch WHERE client_id LIKE 'rls%' GROUP BY 1, 2
UNION ALL SELECT 'record', client_id, count(*) FROM sdp.tokenized_record WHERE client_id LIKE 'rls%' GROUP BY 1, 2
UNION ALL SELECT 'result', client_id, count(*) FROM sdp.processed_result WHERE client_id LIKE 'rls%' GROUP BY 1, 2
ORDER BY 1, 2;
RESET SESSION AUTHORIZATION;

-- ---- plain SQL as sdp_client ------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_rls_client;
-- Not authenticated: reading a tenant table is refused (PT401), it does not return "everything".
SELECT code, message FROM regress.error_of('SELECT count(*) FROM sdp.processing_batch');
SELECT code, message FROM regress.error_of('SELECT count(*) FROM sdp.processed_result');
-- Becoming trusted is impossible: not a member of sdp_admin, and the tenant setting is superuser-only.
\set VERBOSITY sqlstate
SET ROLE sdp_admin;
SET sdp.client_id = 'rls_b';
\set VERBOSITY default

BEGIN;
SELECT sdp.sdp_authenticate(:'key_a') AS tenant;
-- Every table holds only rls_a's rows, whatever the query.
SELECT 'batch' AS t, client_id, count(*) FROM sdp.processing_batch GROUP BY 1, 2
UNION ALL SELECT 'chunk', b.client_id, count(*) FROM sdp.batch_chunk c LEFT JOIN sdp.processing_batch b USING (batch_id) GROUP BY 1, 2
UNION ALL SELECT 'record', client_id, count(*) FROM sdp.tokenized_record GROUP BY 1, 2
UNION ALL SELECT 'result', client_id, count(*) FROM sdp.processed_result GROUP BY 1, 2
UNION ALL SELECT 'client', client_id, count(*) FROM sdp.api_client GROUP BY 1, 2
ORDER BY 1, 2;
-- Asking for rls_b's batch by id, by client or by key finds nothing.
SELECT count(*) AS by_id FROM sdp.processing_batch WHERE batch_id = :'batch_b';
SELECT count(*) AS by_client FROM sdp.processing_batch WHERE client_id = 'rls_b';
SELECT count(*) AS records_by_batch FROM sdp.tokenized_record WHERE batch_id IN (:'batch_b', :'batch_b_open');
SELECT count(*) AS results_by_key FROM sdp.processed_result WHERE record_key LIKE 'b%';
SELECT count(*) AS chunks FROM sdp.batch_chunk WHERE batch_id = :'batch_b_open';
SELECT count(*) AS other_clients FROM sdp.api_client WHERE client_id <> 'rls_a';
-- A leaky filter function is evaluated after the policy: it never sees another client's row.
SET LOCAL client_min_messages = notice;
SELECT count(*) FROM sdp.processing_batch WHERE pg_temp.peek(client_id);
SELECT count(*) FROM sdp.processed_result WHERE pg_temp.peek(record_key);
SET LOCAL client_min_messages = warning;
-- Errors do not echo other tenants' data either: the row is simply not there.
SELECT code, message FROM regress.error_of(format('SELECT 1/(accepted_records * 0) FROM sdp.processing_batch WHERE batch_id = %L', :'batch_b'));
SELECT code, message FROM regress.error_of(format('SELECT record_key::int FROM sdp.processed_result WHERE batch_id = %L', :'batch_b'));
-- The key hash is not readable, not even one's own.
SELECT code, message FROM regress.error_of('SELECT key_hash FROM sdp.api_client');
-- No direct writes at all (uploads go through the functions).
SELECT code, message FROM regress.error_of(format('UPDATE sdp.processing_batch SET error = %L', 'x'));
SELECT code, message FROM regress.error_of('DELETE FROM sdp.processed_result');
SELECT code, message FROM regress.error_of('TRUNCATE sdp.tokenized_record');
-- Planner statistics would show other tenants' values: pg_stats hides tables under active RLS.
COMMIT;
RESET SESSION AUTHORIZATION;
ANALYZE sdp.processing_batch, sdp.tokenized_record, sdp.processed_result;
SET SESSION AUTHORIZATION regress_rls_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a') AS tenant;
SELECT count(*) AS visible_stats FROM pg_stats WHERE schemaname = 'sdp';
COMMIT;

-- ---- the sdp_* API with the other client's batch ids -----------------------------------------
-- Every function answers PT404 exactly as for a batch that does not exist (never 403: that
-- would confirm the id exists).
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a') AS tenant;
CREATE TEMP TABLE probes AS
SELECT f, replace(replace(e.message, :'batch_b', '<id>'), :'batch_b_open', '<id>') AS other_client,
       replace(n.message, '00000000-0000-4000-8000-000000000000', '<id>') AS nonexistent,
       e.code AS other_code, n.code AS nonexistent_code
  FROM (VALUES ('SELECT * FROM sdp.sdp_batch_status(%L::uuid)'),
               ('SELECT * FROM sdp.sdp_results(%L)'),
               ('SELECT sdp.sdp_results_csv(%L)'),
               ('SELECT * FROM sdp.sdp_process_batch(%L)'),
               ('SELECT sdp.sdp_batch_append(%L, 1, ''b4,1,1,1,1'' || chr(10), encode(sha256(convert_to(''b4,1,1,1,1'' || chr(10), ''UTF8'')), ''hex''))'),
               ('SELECT * FROM sdp.sdp_batch_seal(%L, 1, repeat(''0'', 64))')) AS t(f),
       LATERAL regress.error_of(format(f, CASE WHEN f LIKE '%append%' OR f LIKE '%seal%' THEN :'batch_b_open' ELSE :'batch_b' END)) e,
       LATERAL regress.error_of(format(f, '00000000-0000-4000-8000-000000000000')) n;
SELECT f, other_code, nonexistent_code, other_client = nonexistent AS same_message, other_client
  FROM probes ORDER BY f;
-- Acting for the other client is refused before anything is looked up.
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_ingest_csv(%L, %L, %L)', 'rls_b', 'risk_scoring', E'customer_id\nx\n'));
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_ingest_json(%L, %L, %L)', 'rls_b', 'risk_scoring', '[{"customer_id":"x"}]'));
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_batch_open(%L, %L)', 'rls_b', 'risk_scoring'));
-- The same idempotency key as the other client gives a new batch of one's own, not theirs.
SELECT client_id, batch_id = :'batch_b' AS got_other_batch, accepted_records
  FROM sdp.sdp_ingest_csv('rls_a', 'risk_scoring', E'customer_id\nx\n', 'customer_id', 'rls-chunked');
ROLLBACK;

-- ---- write policies (regress_rls_writer holds table privileges; RLS still binds it) ---------
SET SESSION AUTHORIZATION regress_rls_writer;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a') AS tenant;
UPDATE sdp.processing_batch SET error = 'touched' WHERE batch_id = :'batch_b' RETURNING client_id;
UPDATE sdp.processing_batch SET error = 'touched' RETURNING client_id;
DELETE FROM sdp.processed_result WHERE batch_id = :'batch_b' RETURNING client_id;
DELETE FROM sdp.batch_chunk RETURNING batch_id;
UPDATE sdp.api_client SET revoked_at = now() RETURNING client_id;
-- Moving a row to another client, or creating one for it, violates the policy.
SELECT code, message FROM regress.error_of(format('UPDATE sdp.processing_batch SET client_id = %L WHERE batch_id = %L', 'rls_b', :'batch_a'));
SELECT code, message FROM regress.error_of(format('INSERT INTO sdp.processing_batch (client_id, processing_type) VALUES (%L, %L)', 'rls_b', 'risk_scoring'));
SELECT code, message FROM regress.error_of(format('INSERT INTO sdp.processed_result (batch_id, row_no, client_id, record_key, score, risk_band, model_version) VALUES (%L, 99, %L, %L, 0.5, %L, %L)', :'batch_b', 'rls_a', 'k', 'low', 'x'));
SELECT code, message FROM regress.error_of(format('INSERT INTO sdp.tokenized_record (batch_id, row_no, client_id, record_key, fields) VALUES (%L, 99, %L, %L, %L)', :'batch_a', 'rls_b', 'k', '{k}'));
SELECT code, message FROM regress.error_of(format('UPDATE sdp.processed_result SET batch_id = %L WHERE batch_id = %L', :'batch_b', :'batch_a'));
SELECT code, message FROM regress.error_of(format('INSERT INTO sdp.batch_chunk (batch_id, seq, chunk_sha256, bytes, records, first_row_no) VALUES (%L, 5, %L, 1, 1, 1)', :'batch_b_open', 'x'));
SELECT code, message FROM regress.error_of(format('INSERT INTO sdp.api_client (client_id) VALUES (%L)', 'rls_evil'));
ROLLBACK;
RESET SESSION AUTHORIZATION;
-- Nothing of rls_b changed.
SELECT client_id, count(*) FILTER (WHERE error IS NULL) AS untouched FROM sdp.processing_batch
 WHERE client_id = 'rls_b' GROUP BY 1;
SELECT count(*) AS rls_b_results FROM sdp.processed_result WHERE client_id = 'rls_b';

REVOKE ALL ON sdp.processing_batch, sdp.batch_chunk, sdp.tokenized_record, sdp.processed_result,
              sdp.api_client FROM regress_rls_writer;
REVOKE ALL ON sdp.tokenized_record, sdp.processed_result FROM regress_rls_client, regress_rls_admin;
DROP ROLE regress_rls_client, regress_rls_admin, regress_rls_writer;
