-- The background worker (docs/worker.md): with sdp.auto_process = on it processes RECEIVED
-- batches of the databases in sdp.worker_databases, records failures as FAILED and goes on.
-- Needs sdp in shared_preload_libraries (test/with_pg.sh does that). Every wait below is a
-- bounded poll, so a slow machine makes the test slower, not flaky.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
INSERT INTO sdp.api_client (client_id) VALUES ('worker_a') ON CONFLICT DO NOTHING;

-- Polls `cond` (a boolean query) every 50 ms for up to `seconds`; true once it holds.
-- A session applies a configuration reload only between statements, so every pg_reload_conf()
-- below is followed by a separate pg_sleep before this session looks at its own settings.
CREATE FUNCTION pg_temp.wait_for(cond text, seconds int DEFAULT 120) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
  FOR i IN 1 .. seconds * 20 LOOP
    PERFORM pg_stat_clear_snapshot();
    EXECUTE cond INTO ok;
    IF ok THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;

-- The launcher runs whenever the library is preloaded; it starts no worker while auto_process is off.
SELECT backend_type, datname IS NULL AS no_database FROM pg_stat_activity WHERE backend_type = 'sdp launcher';
SELECT sdp.sdp_ready() ->> 'worker' AS worker;

-- A dev-only batch (left alone in prod), a batch whose model is broken, then two good batches.
SET sdp.env = 'dev';
SELECT batch_id AS dev1 FROM sdp.sdp_ingest_csv('worker_a', 'risk_scoring_v2', E'customer_id\nd\n') \gset
RESET sdp.env;
INSERT INTO sdp.model (name, version, processing_type, kind, features, params, is_default)
VALUES ('worker_broken_v1', '1', 'worker_broken', 'logistic', ARRAY['age'], '{"bias": 0}', true);
SELECT batch_id AS bad FROM sdp.sdp_ingest_csv('worker_a', 'worker_broken', E'customer_id,age\nx,1\n') \gset
SELECT batch_id AS good1 FROM sdp.sdp_ingest_csv('worker_a', 'risk_scoring', E'customer_id,age\ng1,20\ng2,60\n') \gset
SELECT batch_id AS good2 FROM sdp.sdp_ingest_csv('worker_a', 'risk_scoring',
  'customer_id,age' || E'\n' || (SELECT string_agg('k' || g || ',' || g % 90, E'\n') FROM generate_series(1, 20000) g)) \gset

-- Switch it on with a short nap. sdp.worker_databases stays '*': every database that accepts
-- connections is visited; those without the extension (postgres) are left at once.
SHOW sdp.worker_databases;
ALTER SYSTEM SET sdp.worker_naptime = '100ms';
ALTER SYSTEM SET sdp.auto_process = on;
SELECT pg_reload_conf();
SELECT pg_sleep(1);
SELECT pg_temp.wait_for($$SELECT current_setting('sdp.auto_process') = 'on'$$) AS reloaded;

SELECT pg_temp.wait_for(format($$SELECT count(*) = 3 FROM sdp.processing_batch WHERE batch_id IN (%L, %L, %L) AND status IN ('PROCESSED', 'FAILED')$$,
                               :'bad', :'good1', :'good2')) AS drained;
SELECT b.batch_id = :'bad' AS is_bad_batch, b.status, b.processed_records, b.model_version, b.error,
       (SELECT count(*) FROM sdp.processed_result r WHERE r.batch_id = b.batch_id) AS results
  FROM sdp.processing_batch b WHERE b.batch_id IN (:'bad', :'good1', :'good2') ORDER BY b.accepted_records, b.status;
-- The dev-only batch is still waiting (the server runs in prod).
SELECT status FROM sdp.processing_batch WHERE batch_id = :'dev1';
SELECT sdp.sdp_ready() ->> 'worker' AS worker, sdp.sdp_ready() ->> 'status' AS status;

-- Concurrency: a client session processes a batch while the worker wants it too. The worker
-- waits on the batch's row lock, then finds it PROCESSED and returns the stored result: one
-- set of results, no error. To make the race certain, the worker is paused while the batch is
-- stored, and resumed (reload) only once this session holds the lock.
ALTER SYSTEM SET sdp.auto_process = off;
SELECT pg_reload_conf();
SELECT pg_sleep(1);
SELECT pg_temp.wait_for($$SELECT current_setting('sdp.auto_process') = 'off'$$) AS paused;
SELECT pg_temp.wait_for($$SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'sdp worker')$$) AS idle;
SELECT batch_id AS race FROM sdp.sdp_ingest_csv('worker_a', 'risk_scoring', E'customer_id,age\nr1,30\nr2,31\nr3,32\n') \gset
ALTER SYSTEM SET sdp.auto_process = on;  -- takes effect at the reload inside the transaction
BEGIN;
SELECT status FROM sdp.sdp_process_batch(:'race');
SELECT pg_reload_conf();
SELECT pg_temp.wait_for($$SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'sdp worker' AND wait_event_type = 'Lock')$$) AS worker_waits_for_our_lock;
COMMIT;
SELECT pg_temp.wait_for($$SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'sdp worker' AND wait_event_type = 'Lock')$$) AS worker_moved_on;
SELECT status, processed_records, error FROM sdp.processing_batch WHERE batch_id = :'race';
SELECT count(*) AS results, count(DISTINCT row_no) AS distinct_rows FROM sdp.processed_result WHERE batch_id = :'race';

-- Under REPEATABLE READ the same race cannot wait-and-reread: the batch row changed after this
-- transaction's snapshot. The caller gets PT409 (retry), never SQLSTATE 40001 (PostgREST would
-- retry that forever). The worker's commit is detected through the statistics it flushes when
-- it exits, which do not depend on this transaction's snapshot.
ALTER SYSTEM SET sdp.auto_process = off;
SELECT pg_reload_conf();
SELECT pg_sleep(1);
SELECT pg_temp.wait_for($$SELECT current_setting('sdp.auto_process') = 'off'$$) AS paused;
SELECT pg_temp.wait_for($$SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'sdp worker')$$) AS idle;
SELECT batch_id AS rr FROM sdp.sdp_ingest_csv('worker_a', 'risk_scoring', E'customer_id,age\nq1,30\n') \gset
ALTER SYSTEM SET sdp.auto_process = on;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT status FROM sdp.sdp_batch_status(:'rr'::uuid);
SELECT pg_stat_clear_snapshot();
SELECT pg_stat_get_tuples_updated('sdp.processing_batch'::regclass) AS updates_before \gset
SELECT pg_reload_conf();
SELECT pg_temp.wait_for(format($$SELECT pg_stat_get_tuples_updated('sdp.processing_batch'::regclass) >= %s + 2
                                   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'sdp worker')$$,
                               :updates_before)) AS worker_committed;
\set VERBOSITY sqlstate
SELECT status FROM sdp.sdp_process_batch(:'rr');
\set VERBOSITY default
ROLLBACK;
SELECT status, processed_records FROM sdp.processing_batch WHERE batch_id = :'rr';
SELECT count(*) AS results FROM sdp.processed_result WHERE batch_id = :'rr';

-- Back to the defaults: no more workers.
ALTER SYSTEM RESET sdp.auto_process;
ALTER SYSTEM RESET sdp.worker_naptime;
SELECT pg_reload_conf();
SELECT pg_sleep(1);
SELECT pg_temp.wait_for($$SELECT current_setting('sdp.auto_process') = 'off'$$) AS reloaded;
SELECT pg_temp.wait_for($$SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'sdp worker')$$) AS workers_gone;
SELECT sdp.sdp_ready() ->> 'worker' AS worker;
DELETE FROM sdp.model WHERE name = 'worker_broken_v1';
