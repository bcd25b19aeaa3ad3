-- Processing: sdp_process_batch / sdp_dev_process_batch.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
INSERT INTO sdp.api_client (client_id) VALUES ('process_a'), ('process_b') ON CONFLICT DO NOTHING;

-- demo_v1 written out in SQL from its registry row, to check the C++ scorer against.
CREATE FUNCTION pg_temp.demo_v1(age text, income text, balance text, ntx text) RETURNS float8
LANGUAGE sql AS $$
  WITH p AS (SELECT params FROM sdp.model WHERE name = 'demo_v1'),
       x AS (SELECT i, v, CASE WHEN v ~ '^[ \t]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[ \t]*$'
                                     AND v::float8 NOT IN ('Infinity', '-Infinity')
                                THEN v::float8 END AS num
               FROM unnest(ARRAY[age, income, balance, ntx]) WITH ORDINALITY AS u(v, i))
  SELECT 1 / (1 + exp(-((p.params->>'bias')::float8 + sum(
           (p.params->'weights'->>(i::int - 1))::float8 *
           least(greatest((coalesce(num, (p.params->'defaults'->>(i::int - 1))::float8)
                           - (p.params->'center'->>(i::int - 1))::float8)
                          / (p.params->'scale'->>(i::int - 1))::float8,
                          -(p.params->>'clip')::float8), (p.params->>'clip')::float8)))))
    FROM x, p GROUP BY p.params
$$;

-- A batch with clean, missing, non-numeric and extreme feature values, plus unused columns.
SELECT batch_id AS b1 FROM sdp.sdp_ingest_csv('process_a', 'risk_scoring', E'segment,customer_id,age,income,balance,num_transactions,email\n'
  'retail,young_poor,22,18000,150.25,210,tok1\n'
  'premium,old_rich,71,240000,98000,3,tok2\n'
  'retail,average,45,60000,15000,40,tok3\n'
  'retail,all_blank,,,,,tok4\n'
  'retail,junk,abc,"1,000",NaN,inf,tok5\n'
  'retail,spaced, 33 ,+52000,1e4,.5,tok6\n'
  'retail,huge,1e308,-1e308,9e300,1e300,tok7\n') \gset
SELECT status, processed_records, model_version, processed_at IS NOT NULL AS processed_at_set
  FROM sdp.sdp_process_batch(:'b1');
SELECT r.row_no, r.record_key, round(r.score::numeric, 6) AS score, r.risk_band, r.model_version,
       r.defaulted_features
  FROM sdp.processed_result r WHERE r.batch_id = :'b1' ORDER BY r.row_no;
-- Same scores as the SQL formula of the registry row (to rounding), and within [0, 1].
SELECT max(abs(r.score - pg_temp.demo_v1(t.fields[3], t.fields[4], t.fields[5], t.fields[6]))) < 1e-12 AS matches_formula,
       bool_and(r.score BETWEEN 0 AND 1) AS in_unit_interval
  FROM sdp.processed_result r JOIN sdp.tokenized_record t USING (batch_id, row_no)
 WHERE r.batch_id = :'b1';
SELECT status, processed_records, error FROM sdp.processing_batch WHERE batch_id = :'b1';

-- A batch without any feature column: every feature defaults (4 per row): sigmoid(bias).
SELECT batch_id AS b2 FROM sdp.sdp_ingest_csv('process_a', 'risk_scoring', E'customer_id\nonly_key\n') \gset
SELECT status, processed_records FROM sdp.sdp_process_batch(:'b2');
SELECT record_key, abs(score - 1 / (1 + exp(0.9))) < 1e-15 AS is_sigmoid_of_bias, risk_band, defaulted_features
  FROM sdp.processed_result WHERE batch_id = :'b2';

-- Processing again returns the stored result and stores nothing twice.
SELECT status, processed_records, model_version FROM sdp.sdp_process_batch(:'b1');
SELECT count(*) AS results FROM sdp.processed_result WHERE batch_id = :'b1';

-- A failure inside processing marks the batch FAILED with the reason and keeps no result;
-- asking again returns the FAILED batch.
INSERT INTO sdp.model (name, version, processing_type, kind, features, params, is_default)
VALUES ('broken_v1', '1', 'broken_scoring', 'logistic', ARRAY['age'], '{"bias": 0}', true);
SELECT batch_id AS b3 FROM sdp.sdp_ingest_csv('process_a', 'broken_scoring', E'customer_id,age\nk,1\n') \gset
SELECT status, processed_records, model_version FROM sdp.sdp_process_batch(:'b3');
SELECT status, error, processed_at IS NOT NULL AS processed_at_set FROM sdp.processing_batch WHERE batch_id = :'b3';
SELECT count(*) AS results FROM sdp.processed_result WHERE batch_id = :'b3';
SELECT status FROM sdp.sdp_process_batch(:'b3');
UPDATE sdp.model SET params = '{"weights": [1], "bias": 0, "center": [0], "scale": [0], "defaults": [0], "bands": {"medium": 0.3, "high": 0.6}}'
 WHERE name = 'broken_v1';
SELECT batch_id AS b4 FROM sdp.sdp_ingest_csv('process_a', 'broken_scoring', E'customer_id,age\nk,1\n') \gset
SELECT status FROM sdp.sdp_process_batch(:'b4');
SELECT error FROM sdp.processing_batch WHERE batch_id = :'b4';
DELETE FROM sdp.model WHERE name = 'broken_v1';
SELECT batch_id AS b5 FROM sdp.sdp_ingest_csv('process_a', 'risk_scoring', E'customer_id\nk\n') \gset
UPDATE sdp.processing_batch SET processing_type = 'unregistered' WHERE batch_id = :'b5';
SELECT status FROM sdp.sdp_process_batch(:'b5');
SELECT error FROM sdp.processing_batch WHERE batch_id = :'b5';

-- Tenant: another client's batch, an unknown one and a dev-only one in prod are all PT404.
BEGIN;
SET LOCAL sdp.client_id = 'process_b';
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_process_batch(%L)$$, :'b1'));
ROLLBACK;
BEGIN;
SET LOCAL sdp.client_id = 'process_a';
SELECT status FROM sdp.sdp_process_batch(:'b1');
ROLLBACK;
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_process_batch('00000000-0000-4000-8000-000000000000')$$);

-- The dev entry point answers PT404 in prod whatever the batch, and works like
-- sdp_process_batch in dev (where dev-only models and batches exist).
SELECT batch_id AS b6 FROM sdp.sdp_ingest_csv('process_a', 'risk_scoring', E'customer_id,age\nd1,20\n') \gset
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_dev_process_batch(%L)$$, :'b6'));
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dev_process_batch('00000000-0000-4000-8000-000000000000')$$);
SELECT status FROM sdp.processing_batch WHERE batch_id = :'b6';
SET sdp.env = 'dev';
SELECT status, processed_records, model_version FROM sdp.sdp_dev_process_batch(:'b6');
SELECT batch_id AS b7 FROM sdp.sdp_ingest_csv('process_a', 'risk_scoring_v2', E'customer_id,age,income,balance,num_transactions\nv2,30,50000,1000,10\n') \gset
SELECT status, processed_records, model_version FROM sdp.sdp_dev_process_batch(:'b7');
SELECT record_key, round(score::numeric, 6) AS score, risk_band, model_version FROM sdp.processed_result WHERE batch_id = :'b7';
RESET sdp.env;
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_process_batch(%L)$$, :'b7'));
-- sdp.env is superuser-only.
SELECT name, context, vartype, setting, enumvals FROM pg_settings WHERE name = 'sdp.env';

-- Labels: processing writes, so it is VOLATILE and not PARALLEL SAFE.
SELECT proname, provolatile, proparallel, prosecdef FROM pg_proc
 WHERE pronamespace = 'sdp'::regnamespace AND proname IN ('sdp_process_batch', 'sdp_dev_process_batch') ORDER BY 1;

-- Attack: a co-tenant's rows on the same heap pages as the batch being scored. None of them may
-- become a result of process_a's batch (with its batch id, under process_a's MAC) nor collide
-- with its row numbers. The scorer reads the batch through the primary key, which is exact; a
-- read by heap pages (a TID bitmap, tried for speed) returns whole pages once the bitmap
-- outgrows work_mem, process_b's rows included, and must then recheck batch_id: this layout
-- and work_mem make such a bitmap lossy, so dropping that recheck fails here (23505, FAILED).
-- The rows are written one of process_b's after every four of process_a's, the way two
-- tenants' interleaved chunk uploads lay them out; ~1.5 kB each so the batch spans more pages
-- than a 64 kB bitmap holds exactly.
SELECT batch_id AS mine FROM sdp.sdp_ingest_csv('process_a', 'risk_scoring', E'customer_id,age,pad\nm0,30,x\n') \gset
SELECT batch_id AS theirs FROM sdp.sdp_ingest_csv('process_b', 'risk_scoring', E'customer_id,age,pad\nt0,90,x\n') \gset
INSERT INTO sdp.tokenized_record (batch_id, row_no, client_id, record_key, fields)
SELECT CASE WHEN g % 5 = 0 THEN :'theirs'::uuid ELSE :'mine'::uuid END,
       CASE WHEN g % 5 = 0 THEN g / 5 + 1 ELSE g - g / 5 + 1 END,
       CASE WHEN g % 5 = 0 THEN 'process_b' ELSE 'process_a' END,
       CASE WHEN g % 5 = 0 THEN 't' ELSE 'm' END || g,
       ARRAY[CASE WHEN g % 5 = 0 THEN 't' ELSE 'm' END || g, '40', repeat('x', 1500)]
  FROM generate_series(1, 7500) g ORDER BY g;
UPDATE sdp.processing_batch SET accepted_records = 6001 WHERE batch_id = :'mine';
UPDATE sdp.processing_batch SET accepted_records = 1501 WHERE batch_id = :'theirs';
SET work_mem = '64kB';
-- The layout does make a bitmap of the batch lossy (the planner's, for the same lookup).
SET enable_seqscan = off;
SET enable_indexscan = off;
CREATE FUNCTION pg_temp.plan_json(stmt text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || stmt INTO j;
  RETURN j;
END $$;
SELECT p -> 0 -> 'Plan' ->> 'Node Type' AS node,
       (p -> 0 -> 'Plan' ->> 'Lossy Heap Blocks')::int > 0 AS bitmap_is_lossy
  FROM (SELECT pg_temp.plan_json(format('SELECT row_no FROM sdp.tokenized_record WHERE batch_id = %L', :'mine')) p) x;
RESET enable_seqscan;
RESET enable_indexscan;
SELECT status, processed_records FROM sdp.sdp_process_batch(:'mine');
RESET work_mem;
SELECT status, processed_records, error FROM sdp.processing_batch WHERE batch_id = :'mine';
SELECT count(*) AS results, count(DISTINCT row_no) AS row_nos, min(row_no), max(row_no),
       count(*) FILTER (WHERE record_key NOT LIKE 'm%') AS foreign_keys,
       count(*) FILTER (WHERE client_id <> 'process_a') AS foreign_clients
  FROM sdp.processed_result WHERE batch_id = :'mine';
SELECT count(*) AS their_results FROM sdp.processed_result WHERE batch_id = :'theirs';
-- Every result of the batch passes the integrity check.
SELECT count(*) AS readable FROM sdp.sdp_results(:'mine');
-- The hand-written rows carry no record MAC: remove both batches, or the integrity tests that
-- follow would count them.
DELETE FROM sdp.processing_batch WHERE batch_id IN (:'mine', :'theirs');
SELECT count(*) AS left_over FROM sdp.tokenized_record WHERE batch_id IN (:'mine', :'theirs');
