-- Ingestion: sdp_ingest_csv and sdp_ingest_json (chunked upload: sql/chunks.sql; failures:
-- sql/errors.sql). Batch ids are random, so they are kept in psql variables, never printed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
INSERT INTO sdp.api_client (client_id) VALUES ('ingest_a'), ('ingest_b') ON CONFLICT DO NOTHING;

-- A whole CSV becomes one RECEIVED batch; the result is the sdp_batch composite.
SELECT batch_id AS csv1, client_id, processing_type, status, accepted_records, processed_records,
       model_version IS NULL AS no_model_yet, processed_at IS NULL AS not_processed,
       created_at <= now() AS created_now,
       content_sha256 = encode(sha256(convert_to(E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,70,,x,100\n', 'UTF8')), 'hex') AS sha_of_body
  FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring',
                          E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,70,,x,100\n') \gset
SELECT :'client_id' AS client_id, :'processing_type' AS processing_type, :'status' AS status,
       :accepted_records AS accepted_records, :processed_records AS processed_records,
       :'no_model_yet' AS no_model_yet, :'not_processed' AS not_processed, :'created_now' AS created_now, :'sha_of_body' AS sha_of_body;
-- The row in processing_batch, and the rows in row order with the header as the column list.
SELECT status, key_column, columns, accepted_records, received_bytes, chunks, dev_only, error
  FROM sdp.processing_batch WHERE batch_id = :'csv1';
SELECT row_no, client_id, record_key, fields FROM sdp.tokenized_record WHERE batch_id = :'csv1' ORDER BY row_no;

-- RFC 4180: quotes, doubled quotes, embedded CRLF/LF, CRLF line ends, a UTF-8 BOM, unicode,
-- empty fields and a final line without terminator; empty lines are skipped.
SELECT batch_id AS csv2 FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring',
  E'\xEF\xBB\xBFcustomer_id,name,age\r\n"k,1","say ""hi""",41\r\n\r\nk2,"two\r\nlines",\r\nk3,"Zoë 東京",7') \gset
SELECT row_no, record_key, fields FROM sdp.tokenized_record WHERE batch_id = :'csv2' ORDER BY row_no;
SELECT columns FROM sdp.processing_batch WHERE batch_id = :'csv2';

-- Another key column; keys may repeat inside a batch (every row keeps its row_no).
SELECT batch_id AS csv3 FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring',
  E'account,customer_id\nA-1,x\nA-1,y\n', key_column => 'account') \gset
SELECT row_no, record_key, fields FROM sdp.tokenized_record WHERE batch_id = :'csv3' ORDER BY row_no;
SELECT key_column FROM sdp.processing_batch WHERE batch_id = :'csv3';

-- Idempotency: the same (client, key) and the same content return the same batch, stored once.
SELECT count(*) AS batches_before FROM sdp.processing_batch WHERE client_id = 'ingest_a' \gset
SELECT batch_id AS idem1 FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring', E'customer_id,age\nk1,30\n', idempotency_key => 'upload-1') \gset
SELECT batch_id AS idem2, status, accepted_records FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring', E'customer_id,age\nk1,30\n', idempotency_key => 'upload-1') \gset
SELECT :'idem1' = :'idem2' AS same_batch, :'status' AS status, :accepted_records AS accepted_records;
SELECT count(*) - :batches_before AS new_batches FROM sdp.processing_batch WHERE client_id = 'ingest_a';
SELECT count(*) AS stored_rows FROM sdp.tokenized_record WHERE batch_id = :'idem1';
-- ... a different content (or processing type, or key column) under that key is a conflict ...
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_csv('ingest_a', 'risk_scoring', E'customer_id,age\nk1,31\n', idempotency_key => 'upload-1')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_csv('ingest_a', 'risk_scoring', E'customer_id,age\nk1,30\n', key_column => 'age', idempotency_key => 'upload-1')$$);
-- ... keys are per client, and without a key every call is a new batch.
SELECT batch_id <> :'idem1' AS other_clients_batch FROM sdp.sdp_ingest_csv('ingest_b', 'risk_scoring', E'customer_id,age\nk1,30\n', idempotency_key => 'upload-1');
SELECT (SELECT batch_id FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring', E'customer_id\nz\n'))
    <> (SELECT batch_id FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring', E'customer_id\nz\n')) AS two_batches;

-- JSON: an array of flat objects, or {"records": [...]}. The first object's keys are the columns
-- (in jsonb order); numbers, booleans and null become text ('' for null); a later object may
-- leave a key out ('').
SELECT batch_id AS json1, status, accepted_records
  FROM sdp.sdp_ingest_json('ingest_a', 'risk_scoring',
    '[{"customer_id": "j1", "age": 33, "income": 52000.50, "vip": true},
      {"customer_id": "j2", "age": null, "vip": false},
      {"vip": false, "customer_id": "j3", "income": "1e4", "age": "x"}]') \gset
SELECT :'status' AS status, :accepted_records AS accepted_records;
SELECT columns FROM sdp.processing_batch WHERE batch_id = :'json1';
SELECT row_no, record_key, fields FROM sdp.tokenized_record WHERE batch_id = :'json1' ORDER BY row_no;
SELECT accepted_records FROM sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '{"records": [{"customer_id": "w1"}, {"customer_id": "w2"}]}');
-- JSON idempotency compares the canonical jsonb, so key order and spacing do not matter.
SELECT (SELECT batch_id FROM sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"customer_id": "q", "age": 1}]', idempotency_key => 'json-1'))
     = (SELECT batch_id FROM sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"age":1,"customer_id":"q"}]', idempotency_key => 'json-1')) AS same_batch;
-- JSON shape errors (all 22023, nothing stored).
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '{"rows": []}')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[]')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '"text"')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"customer_id": "a"}, 5]')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"customer_id": "a", "x": {"nested": 1}}]')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"customer_id": "a"}, {"customer_id": "b", "extra": 1}]')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"id": "a"}]')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"customer_id": "a"}, {"customer_id": null}]')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{}]')$$);

-- Tenant: an authenticated client may only ingest for itself (PT403); unknown clients are 22023.
BEGIN;
SET LOCAL sdp.client_id = 'ingest_b';
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_csv('ingest_a', 'risk_scoring', E'customer_id\nk\n')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_json('ingest_a', 'risk_scoring', '[{"customer_id": "k"}]')$$);
SELECT client_id, status FROM sdp.sdp_ingest_csv('ingest_b', 'risk_scoring', E'customer_id\nk\n');
ROLLBACK;
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_csv('nobody', 'risk_scoring', E'customer_id\nk\n')$$);

-- Dev-only models: risk_scoring_v2 (demo_v2_dev) is unknown in prod and usable in dev, where
-- its batches are dev-only.
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_csv('ingest_a', 'risk_scoring_v2', E'customer_id\nk\n')$$);
SET sdp.env = 'dev';
SELECT batch_id AS dev1, status FROM sdp.sdp_ingest_csv('ingest_a', 'risk_scoring_v2', E'customer_id\nk\n') \gset
SELECT :'status' AS status, dev_only FROM sdp.processing_batch WHERE batch_id = :'dev1';
RESET sdp.env;

-- Nothing else is exposed to PUBLIC.
SELECT p.oid::regprocedure AS function_executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace = 'sdp'::regnamespace
   AND (p.proname LIKE 'sdp_ingest%' OR p.proname LIKE 'sdp_batch_%' OR p.proname LIKE '\_%')
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;
-- Public entry points are SECURITY DEFINER with a pinned search_path.
SELECT p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'sdp'::regnamespace
   AND p.proname IN ('sdp_ingest_csv', 'sdp_ingest_json', 'sdp_batch_open', 'sdp_batch_append', 'sdp_batch_seal')
 ORDER BY 1;
