-- Observability (docs/observability.md): sdp_metrics() in the Prometheus text format, the
-- counters behind it, the views for postgres_exporter and GET /rpc/metrics through PostgREST.
-- Counters are cluster-wide and other tests ran before this one, so everything below compares
-- deltas against a snapshot, never absolute values.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
INSERT INTO sdp.api_client (client_id) VALUES ('metrics_a') ON CONFLICT DO NOTHING;
\set VERBOSITY sqlstate

-- Every family with HELP and TYPE, in the exposition format.
SELECT substring(line from '^# TYPE (.*)$') AS family
  FROM regexp_split_to_table(sdp.sdp_metrics(), E'\n') AS line
 WHERE line LIKE '# TYPE %' ORDER BY 1;
SELECT right(sdp.sdp_metrics(), 1) = E'\n' AS ends_with_newline,
       (SELECT count(*) FROM regexp_split_to_table(sdp.sdp_metrics(), E'\n') l
         WHERE l <> '' AND l !~ '^# (HELP|TYPE) ' AND l !~ '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.]+$') AS bad_lines;
SELECT count(*) AS samples, count(DISTINCT name) AS names FROM sdp.sdp_metrics_samples();

-- Snapshot, then deltas.
CREATE TEMP TABLE m0 AS SELECT name, labels, value FROM sdp.sdp_metrics_samples();
CREATE FUNCTION pg_temp.deltas() RETURNS TABLE(metric text, delta float8)
LANGUAGE sql AS $$
  SELECT s.name || CASE WHEN s.labels = '{}' THEN '' ELSE s.labels::text END,
         s.value - coalesce(m.value, 0)
    FROM sdp.sdp_metrics_samples() s
    LEFT JOIN m0 m ON m.name = s.name AND m.labels = s.labels
   WHERE s.value <> coalesce(m.value, 0) AND s.name <> 'sdp_processing_latency_seconds_sum'
   ORDER BY 1
$$;
CREATE FUNCTION pg_temp.reset() RETURNS void LANGUAGE sql AS $$
  DELETE FROM m0; INSERT INTO m0 SELECT name, labels, value FROM sdp.sdp_metrics_samples();
$$;

-- Upload and process: counted when the transaction commits. The latency lands in one bucket
-- (scoring 3 rows takes well under 10 ms here, but the test does not rely on which one).
SELECT batch_id AS b1 FROM sdp.sdp_ingest_csv('metrics_a', 'risk_scoring',
  E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,70,,x,100\nc3,45,1,2,3\n') \gset
SELECT * FROM pg_temp.deltas() WHERE metric NOT LIKE 'sdp_processing_latency%';
SELECT status, processed_records FROM sdp.sdp_process_batch(:'b1');
SELECT * FROM pg_temp.deltas() WHERE metric NOT LIKE 'sdp_processing_latency_seconds_bucket%';
SELECT count(*) FILTER (WHERE delta = 1) >= 1 AS some_bucket_moved, bool_and(delta IN (0, 1)) AS by_one
  FROM pg_temp.deltas() WHERE metric LIKE 'sdp_processing_latency_seconds_bucket%';
SELECT pg_temp.reset();

-- Processing again returns the stored result: no status change, nothing counted.
SELECT status FROM sdp.sdp_process_batch(:'b1');
SELECT * FROM pg_temp.deltas();

-- Rolled back work is not counted, nor work of a rolled back subtransaction.
BEGIN;
SELECT status FROM sdp.sdp_ingest_csv('metrics_a', 'risk_scoring', E'customer_id,age\nr1,1\n');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT status FROM sdp.sdp_ingest_csv('metrics_a', 'risk_scoring', E'customer_id,age\nr2,1\n');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT t;
SELECT status FROM sdp.sdp_ingest_csv('metrics_a', 'risk_scoring', E'customer_id,age\nr3,1\nr4,2\n');
RELEASE SAVEPOINT t;
COMMIT;
SELECT * FROM pg_temp.deltas();
SELECT pg_temp.reset();

-- 100 ingests, each in its own subtransaction (plpgsql EXCEPTION block): the pending deltas are
-- merged into the parent's, so nothing overflows into an early count; a rollback drops them all,
-- a commit counts them all.
CREATE FUNCTION pg_temp.ingest_in_subxacts(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. n LOOP
    BEGIN
      PERFORM sdp.sdp_ingest_csv('metrics_a', 'risk_scoring', E'customer_id,age\ns' || i || E',1\n');
    EXCEPTION WHEN OTHERS THEN RAISE;
    END;
  END LOOP;
END $$;
BEGIN;
SELECT pg_temp.ingest_in_subxacts(100);
ROLLBACK;
SELECT * FROM pg_temp.deltas();
SELECT pg_temp.ingest_in_subxacts(100);
SELECT * FROM pg_temp.deltas() WHERE metric NOT LIKE 'sdp_ingest_bytes%';
SELECT pg_temp.reset();

-- A failed processing: FAILED counted, no records processed, no latency observed.
SELECT batch_id AS bad FROM sdp.sdp_ingest_csv('metrics_a', 'risk_scoring', E'customer_id,age\nz1,1\n') \gset
BEGIN;
CREATE TEMP TABLE saved_model AS SELECT params FROM sdp.model WHERE name = 'demo_v1';
UPDATE sdp.model SET params = params - 'weights' WHERE name = 'demo_v1';
SELECT status FROM sdp.sdp_process_batch(:'bad');
UPDATE sdp.model SET params = (SELECT params FROM saved_model) WHERE name = 'demo_v1';
COMMIT;
SELECT * FROM pg_temp.deltas();
SELECT pg_temp.reset();

-- Failures are counted at once, although the transaction that saw them rolls back.
SELECT code FROM regress.error_of($$SELECT sdp.sdp_authenticate('sdp_not_a_key_not_a_key_not_a_key_xx')$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_authenticate('')$$);
SELECT sdp.sdp_metrics_count('record_integrity_failures_total', 2) AS counted;
SELECT * FROM pg_temp.deltas();
SELECT pg_temp.reset();
-- The counting API refuses unknown names and negative deltas (22023), NULLs too.
SELECT code FROM regress.error_of($$SELECT sdp.sdp_metrics_count('sdp_made_up_total', 1)$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_metrics_count('record_integrity_failures_total', -1)$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_metrics_count(NULL, 1)$$);
SELECT sdp.sdp_metrics_count('sdp_ingest_bytes_total', 0) AS zero_is_fine;
SELECT * FROM pg_temp.deltas();

-- PostgREST requests, counted per sdp_api function when the request's transaction ends:
-- ok on commit, error on rollback (here: an unknown API key, PT401 from pre_request).
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/metrics', '{"accept":"text/plain"}');
SELECT sdp_api.pre_request();
SELECT current_user;
SELECT pg_typeof(m) AS media_type, m LIKE '# HELP sdp_batches_total %' AS exposition,
       m LIKE '%sdp_worker_up %' AS has_worker_up
  FROM sdp_api.metrics() AS m;
COMMIT;
BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE;
SELECT set_config('role', 'sdp_anon', true) IS NOT NULL AS anon,
       set_config('request.path', '/rpc/process', true) IS NOT NULL AS p,
       set_config('request.headers', '{"x-api-key":"sdp_wrong_wrong_wrong_wrong_wrong_wr"}', true) IS NOT NULL AS headers;
SELECT sdp_api.pre_request();
ROLLBACK;
BEGIN;
SELECT set_config('request.path', '/rpc/no_such_function', true) IS NOT NULL AS p;
SELECT sdp._metrics_request(current_setting('request.path'));
COMMIT;
SELECT * FROM pg_temp.deltas();
SELECT pg_temp.reset();

-- The views postgres_exporter reads (docker/postgres-exporter/queries.yaml).
SELECT status FROM sdp.metrics_batches ORDER BY 1;
SELECT count(*) AS api_rows, count(DISTINCT function) AS functions FROM sdp.metrics_api_requests;
SELECT worker_up, records_ingested_total >= 5 AS ingested FROM sdp.metrics_pipeline;
SELECT seconds, cardinality(seconds_bucket) AS buckets,
       seconds_bucket[12] <= seconds_count AS cumulative, seconds_sum >= 0 AS has_sum
  FROM sdp.metrics_latency;

-- Who may read: the monitoring role and operators; no PostgREST client role, nobody else.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('pg_monitor', p.oid, 'EXECUTE') AS monitor,
       has_function_privilege('sdp_anon', p.oid, 'EXECUTE') AS anon,
       has_function_privilege('sdp_client', p.oid, 'EXECUTE') AS client,
       has_function_privilege('sdp_admin', p.oid, 'EXECUTE') AS admin
  FROM pg_proc p
 WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace)
   AND (p.proname LIKE '%metrics%')
 ORDER BY 1;
SELECT c.relname, has_table_privilege('pg_monitor', c.oid, 'SELECT') AS monitor,
       has_table_privilege('sdp_client', c.oid, 'SELECT') AS client
  FROM pg_class c WHERE c.relnamespace = 'sdp'::regnamespace AND c.relname LIKE 'metrics\_%' ORDER BY 1;
