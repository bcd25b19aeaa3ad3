-- Dev guardrail: dev-only models, batches and entry points exist only when sdp.env = 'dev'
-- (superuser-only setting); in prod they answer 404 exactly like something that does not exist.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;

\set key_d 'regress-dev-guardrail-key-client-d-01234567'
SELECT sdp.sdp_create_client('dev_d', :'key_d') IS NOT NULL AS created;
CREATE ROLE regress_dev_client LOGIN IN ROLE sdp_client;
CREATE ROLE regress_dev_admin LOGIN IN ROLE sdp_admin;
-- Test-only: no sdp role may SELECT sdp.tokenized_record (reads go through the access-logged
-- functions); this login gets it to prove the dev-only policy still hides rows from a role that has it.
GRANT SELECT ON sdp.tokenized_record TO regress_dev_client;

-- The default is prod, and only a superuser may change it.
SHOW sdp.env;
SELECT sdp.sdp_is_dev() AS is_dev;
SET SESSION AUTHORIZATION regress_dev_client;
\set VERBOSITY sqlstate
SET sdp.env = 'dev';
SELECT set_config('sdp.env', 'dev', true);
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dev_admin;
\set VERBOSITY sqlstate
SET sdp.env = 'dev';
\set VERBOSITY default
RESET SESSION AUTHORIZATION;

-- A dev-only batch (its processing type is scored by a dev-only model) created in dev.
SET sdp.env = 'dev';
SET SESSION AUTHORIZATION regress_dev_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_d') AS tenant;
SELECT batch_id AS dev_batch FROM sdp.sdp_ingest_csv('dev_d', 'risk_scoring_v2', E'customer_id,age\nd1,30\n') \gset
SELECT batch_id AS prod_batch FROM sdp.sdp_ingest_csv('dev_d', 'risk_scoring', E'customer_id,age\nd2,40\n') \gset
COMMIT;
RESET SESSION AUTHORIZATION;
RESET sdp.env;
SELECT processing_type, dev_only, status FROM sdp.processing_batch WHERE client_id = 'dev_d' ORDER BY 1;

-- ---- prod: dev-only models and batches are invisible ----------------------------------------
SET SESSION AUTHORIZATION regress_dev_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_d') AS tenant;
SELECT name, dev_only FROM sdp.model ORDER BY 1;
SELECT processing_type FROM sdp.processing_batch ORDER BY 1;
SELECT count(*) AS dev_rows FROM sdp.tokenized_record WHERE batch_id = :'dev_batch';
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_batch_status(%L::uuid)', :'dev_batch'));
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_process_batch(%L)', :'dev_batch'));
-- Dev entry points: 404 whatever the batch, even the client's own prod batch.
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_dev_process_batch(%L)', :'prod_batch'));
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_dev_process_batch(%L)', :'dev_batch'));
-- A dev-only processing type does not exist in prod.
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_ingest_csv(%L, %L, %L)', 'dev_d', 'risk_scoring_v2', E'customer_id\nx\n'));
COMMIT;
RESET SESSION AUTHORIZATION;
-- Trusted callers do not see dev-only rows in prod either.
SET SESSION AUTHORIZATION regress_dev_admin;
SELECT name FROM sdp.model WHERE dev_only;
SELECT count(*) AS dev_batches FROM sdp.processing_batch WHERE dev_only;
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_dev_process_batch(%L)', :'prod_batch'));
RESET SESSION AUTHORIZATION;
-- The superuser path: the dev entry point is closed in prod for everyone.
SELECT code, message FROM regress.error_of(format('SELECT * FROM sdp.sdp_dev_process_batch(%L)', :'prod_batch'));

-- Through PostgREST (docs/postgrest.md §8): POST /rpc/dev_process_batch answers 404 in prod.
SET SESSION AUTHORIZATION sdp_authenticator;
\set VERBOSITY sqlstate
BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE;
SELECT regress.request('POST', '/rpc/dev_process_batch', json_build_object('content-type', 'application/json',
                       'x-api-key', :'key_d', 'x-client-id', 'dev_d'));
SELECT sdp_api.pre_request();
SELECT current_user;
SELECT sdp_api.dev_process_batch(:'prod_batch');
ROLLBACK;
\set VERBOSITY default
RESET SESSION AUTHORIZATION;

-- ---- dev: everything is there ---------------------------------------------------------------
SET sdp.env = 'dev';
SET SESSION AUTHORIZATION regress_dev_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_d') AS tenant;
SELECT name, dev_only FROM sdp.model ORDER BY 1;
SELECT processing_type FROM sdp.processing_batch ORDER BY 1;
SELECT count(*) AS dev_rows FROM sdp.tokenized_record WHERE batch_id = :'dev_batch';
SELECT status, processed_records, model_version FROM sdp.sdp_dev_process_batch(:'dev_batch');
SELECT status, processed_records, model_version FROM sdp.sdp_dev_process_batch(:'prod_batch');
COMMIT;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sdp_authenticator;
BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE;
SELECT regress.request('POST', '/rpc/dev_process_batch', json_build_object('content-type', 'application/json',
                       'x-api-key', :'key_d', 'x-client-id', 'dev_d'));
SELECT sdp_api.pre_request();
SELECT regexp_replace(sdp_api.dev_process_batch(:'dev_batch')::text, '[0-9a-f-]{36}', '<uuid>') AS body;
SELECT nullif(current_setting('response.status', true), '') AS status;
ROLLBACK;
RESET SESSION AUTHORIZATION;
RESET sdp.env;

REVOKE SELECT ON sdp.tokenized_record FROM regress_dev_client;
DROP ROLE regress_dev_client, regress_dev_admin;
