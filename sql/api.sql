-- The PostgREST surface (schema sdp_api), each case an emulated PostgREST v12 request as in
-- docs/postgrest.md §8: the authenticator's session, one transaction per request (READ ONLY for GET),
-- the request GUCs set in PostgREST's order, then sdp_api.pre_request(), then the call, then
-- response.status; ROLLBACK. regress.respond() turns the outcome into what PostgREST sends:
-- the HTTP status (response.status, or the SQLSTATE mapped as in docs/postgrest.md §5 — no JWT, so
-- 42501 is 401) and the body: the function's JSON, or {"code","message","details","hint"}.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;

-- '|' stands for a line end in the CSV bodies below.
CREATE FUNCTION pg_temp.csv(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT replace(v, '|', chr(10)) $$;

\set key_a 'regress-api-key-client-a-0123456789abcdef'
\set key_b 'regress-api-key-client-b-0123456789abcdef'
\set csv 'customer_id,age,income,balance,num_transactions|c1,30,50000,1000,10|c2,52,81000,12000,4|'
SELECT sdp.sdp_create_client('api_a', :'key_a') IS NOT NULL AS a,
       sdp.sdp_create_client('api_b', :'key_b') IS NOT NULL AS b;
-- Committed state the requests below refer to (created by the operator, trusted).
SELECT batch_id AS done_a FROM sdp.sdp_ingest_csv('api_a', 'risk_scoring', pg_temp.csv(:'csv'), 'customer_id', 'api-idem-1') \gset
SELECT status FROM sdp.sdp_process_batch(:'done_a');
SELECT batch_id AS received_a FROM sdp.sdp_ingest_csv('api_a', 'risk_scoring', pg_temp.csv(:'csv'), 'customer_id', 'api-idem-2') \gset
SELECT batch_id AS other_b FROM sdp.sdp_ingest_csv('api_b', 'risk_scoring', pg_temp.csv(:'csv')) \gset
SELECT batch_id AS open_a FROM sdp.sdp_batch_open('api_a', 'risk_scoring', 'customer_id', 'api-chunks') \gset
SELECT sdp.sdp_batch_append(:'open_a', 0, pg_temp.csv(:'csv'), encode(sha256(convert_to(pg_temp.csv(:'csv'), 'UTF8')), 'hex')) AS appended;

SET SESSION AUTHORIZATION sdp_authenticator;
SELECT current_user, session_user;

-- ---- §8 verbatim, once: POST /rpc/process_file ----------------------------------------------
BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE;
SELECT set_config('search_path', 'sdp_api, public', true) AS search_path,
       set_config('role', 'sdp_anon', true) AS role,
       set_config('request.jwt.claims', '{"role":"sdp_anon"}', true) AS claims,
       set_config('request.method', 'POST', true) AS method,
       set_config('request.path', '/rpc/process_file', true) AS path,
       set_config('request.headers', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a',
                  'x-client-id', 'api_a', 'x-processing-type', 'risk_scoring')::text, true) IS NOT NULL AS headers,
       set_config('request.cookies', '{}', true) AS cookies;
SELECT sdp_api.pre_request();
SELECT current_user;
SELECT regexp_replace(sdp_api.process_file(pg_temp.csv(:'csv'))::text, '[0-9a-f-]{36}', '<uuid>') AS body;
SELECT current_setting('response.status', true) AS status, current_setting('response.headers', true) AS headers;
ROLLBACK;

-- ---- health and readiness: no key needed -----------------------------------------------------
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/health', '{}');
SELECT status, body, role FROM regress.respond('SELECT sdp_api.health()::text');
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/health', '{"x-api-key":"wrong"}');
SELECT status, body, role FROM regress.respond('SELECT sdp_api.health()::text');
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/readyz', '{}');
SELECT status, body::json ->> 'status' AS ready, role FROM regress.respond('SELECT sdp_api.readyz()::text');
ROLLBACK;

-- ---- authentication: 401 / 403 ---------------------------------------------------------------
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', '{"content-type":"text/plain","x-processing-type":"risk_scoring"}');
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', 'sdp_not-a-valid-key-000000000000000', 'x-processing-type', 'risk_scoring'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
-- A's key with X-Client-Id of B.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-client-id', 'api_b', 'x-processing-type', 'risk_scoring'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
-- Without pre_request (a misconfigured PostgREST), sdp_anon cannot call anything but health.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a'));
\set VERBOSITY sqlstate
SELECT sdp_api.process_file('x');
\set VERBOSITY default
ROLLBACK;
-- A revoked key stops working at once.
RESET SESSION AUTHORIZATION;
SELECT sdp.sdp_create_client('api_revoked', 'regress-api-key-revoked-0123456789abcdef') IS NOT NULL AS created;
SELECT sdp.sdp_revoke_key('api_revoked');
SET SESSION AUTHORIZATION sdp_authenticator;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', '{"content-type":"text/plain","x-api-key":"regress-api-key-revoked-0123456789abcdef","x-processing-type":"risk_scoring"}');
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;

-- ---- POST /rpc/process_file (text/plain CSV, metadata in headers) ----------------------------
-- New batch: 201. X-Client-Id may be omitted (the key names the client).
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain; charset=utf-8', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
-- The same Idempotency-Key again: the stored batch, 200.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-client-id', 'api_a', 'x-processing-type', 'risk_scoring', 'idempotency-key', 'api-idem-2'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
SELECT sdp_api.process_file(pg_temp.csv(:'csv')) ->> 'batch_id' = :'received_a' AS same_batch;
ROLLBACK;
-- The same Idempotency-Key for different content: 409.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring', 'idempotency-key', 'api-idem-2'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv('customer_id,age|zz,1|')));
ROLLBACK;
-- Another client's Idempotency-Key is just a new key for this client: 201, its own batch.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_b', 'x-processing-type', 'risk_scoring', 'idempotency-key', 'api-idem-2'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
-- Empty body: 400. Wrong media type: 415. Missing X-Processing-Type / unknown type: 400.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring'));
SELECT status, body, role FROM regress.respond('SELECT sdp_api.process_file('''')::text');
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/csv', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'no_such_type'));
SELECT status, body::json ->> 'code' AS code, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
-- Malformed CSV (unterminated quote) and a missing key column: 400 naming the cause.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring'));
SELECT status, body::json ->> 'code' AS code, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv('customer_id,age|c1,"30|')));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring', 'x-key-column', 'account_no'));
SELECT status, body::json ->> 'code' AS code, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
-- Over sdp.max_batch_bytes (a superuser setting): 413.
RESET SESSION AUTHORIZATION;
SET sdp.max_batch_bytes = 64;
SET SESSION AUTHORIZATION sdp_authenticator;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
RESET SESSION AUTHORIZATION;
RESET sdp.max_batch_bytes;
SET SESSION AUTHORIZATION sdp_authenticator;

-- ---- POST /rpc/process (JSON batch) ----------------------------------------------------------
BEGIN;
SELECT regress.request('POST', '/rpc/process', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.process(records := '[{"customer_id":"j1","age":"30"},{"customer_id":"j2","age":"61"}]', processing_type := 'risk_scoring', client_id := 'api_a')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.process(records := '[{"customer_id":"j1"}]', processing_type := 'risk_scoring', client_id := 'api_b')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.process(records := '"not an array"', processing_type := 'risk_scoring')::text$$);
ROLLBACK;

-- ---- chunked upload: batch_open / batch_append / batch_seal -----------------------------------
BEGIN;
SELECT regress.request('POST', '/rpc/batch_open', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.batch_open(processing_type := 'risk_scoring', idempotency_key := 'api-chunks-new')::text$$);
ROLLBACK;
-- Re-opening under the same idempotency key: the open batch, 200.
BEGIN;
SELECT regress.request('POST', '/rpc/batch_open', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.batch_open(processing_type := 'risk_scoring', idempotency_key := 'api-chunks')::text$$);
ROLLBACK;
-- Chunk 0 again with the same content: no-op, 200. Different content under seq 0: 409.
BEGIN;
SELECT regress.request('POST', '/rpc/batch_append', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a',
       'x-batch-id', :'open_a', 'x-chunk-seq', '0', 'x-chunk-sha256', encode(sha256(convert_to(pg_temp.csv(:'csv'), 'UTF8')), 'hex')));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.batch_append(%L)::text', pg_temp.csv(:'csv')));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/batch_append', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a',
       'x-batch-id', :'open_a', 'x-chunk-seq', '0', 'x-chunk-sha256', encode(sha256(convert_to(pg_temp.csv('customer_id|x|'), 'UTF8')), 'hex')));
SELECT status, body::json ->> 'code' AS code, body::json ->> 'message' AS message, role
  FROM regress.respond(format('SELECT sdp_api.batch_append(%L)::text', pg_temp.csv('customer_id|x|')));
ROLLBACK;
-- Next chunk, then seal (each its own request; here in one transaction to keep the state).
BEGIN;
SELECT regress.request('POST', '/rpc/batch_append', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a',
       'x-batch-id', :'open_a', 'x-chunk-seq', '1', 'x-chunk-sha256', encode(sha256(convert_to(pg_temp.csv('c3,44,1,1,1|'), 'UTF8')), 'hex')));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.batch_append(%L)::text', pg_temp.csv('c3,44,1,1,1|')));
SELECT regress.request('POST', '/rpc/batch_seal', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.batch_seal(batch_id := %L, chunks := 2, content_sha256 := %L)::text',
       :'open_a', encode(sha256(convert_to(pg_temp.csv(:'csv') || pg_temp.csv('c3,44,1,1,1|'), 'UTF8')), 'hex')));
ROLLBACK;
-- Missing chunk headers: 400; another client's batch: 404.
BEGIN;
SELECT regress.request('POST', '/rpc/batch_append', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-batch-id', :'open_a'));
SELECT status, body, role FROM regress.respond('SELECT sdp_api.batch_append(''c9,1,1,1,1'')::text');
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/batch_append', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_b',
       'x-batch-id', :'open_a', 'x-chunk-seq', '1', 'x-chunk-sha256', encode(sha256(convert_to(pg_temp.csv('c3,44,1,1,1|'), 'UTF8')), 'hex')));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.batch_append(%L)::text', pg_temp.csv('c3,44,1,1,1|')));
ROLLBACK;

-- ---- processing ------------------------------------------------------------------------------
BEGIN;
SELECT regress.request('POST', '/rpc/process_batch', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_batch(batch_id := %L)::text', :'received_a'));
ROLLBACK;
-- The batch id from the X-Batch-Id header (how the Caddyfile maps /…/{id} paths), empty body.
BEGIN;
SELECT regress.request('POST', '/rpc/process_batch', json_build_object('x-api-key', :'key_a', 'x-batch-id', :'received_a'));
SELECT status, body, role FROM regress.respond('SELECT sdp_api.process_batch()::text');
ROLLBACK;
-- Another client's batch and an unknown one: the same 404. A bad UUID: 400. No id: 400.
BEGIN;
SELECT regress.request('POST', '/rpc/process_batch', json_build_object('x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_batch(batch_id := %L)::text', :'other_b'));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_batch', json_build_object('x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.process_batch(batch_id := '6f1c1d2e-0000-4000-8000-000000000001')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_batch', json_build_object('x-api-key', :'key_a', 'x-batch-id', 'not-a-uuid'));
SELECT status, body, role FROM regress.respond('SELECT sdp_api.process_batch()::text');
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_batch', json_build_object('x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond('SELECT sdp_api.process_batch()::text');
ROLLBACK;
-- Writing under GET (READ ONLY): 25006, HTTP 405 — process_batch is VOLATILE, so POST only.
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/process_batch', json_build_object('x-api-key', :'key_a'));
SELECT status, body::json ->> 'code' AS code, role FROM regress.respond(format('SELECT sdp_api.process_batch(batch_id := %L)::text', :'received_a'));
ROLLBACK;

-- ---- reads (GET, READ ONLY) ------------------------------------------------------------------
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/batch', json_build_object('x-api-key', :'key_a'));
SELECT status, body::json ->> 'status' AS batch_status, body::json ->> 'client_id' AS client_id,
       body::json ->> 'accepted_records' AS accepted, body::json ->> 'processed_records' AS processed, role
  FROM regress.respond(format('SELECT sdp_api.batch(%L::uuid)::text', :'done_a'));
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/batch', json_build_object('x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.batch(%L::uuid)::text', :'other_b'));
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/batch', json_build_object('x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.batch('not-a-uuid')::text$$);
ROLLBACK;
-- Results as JSON (the array PostgREST builds from the SETOF rows) and as CSV.
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/results', json_build_object('x-api-key', :'key_a', 'accept', 'application/json'));
SELECT status, json_array_length(body::json) AS rows,
       (SELECT string_agg(k, ',') FROM json_object_keys(body::json -> 0) k) AS keys,
       body::json -> 0 ->> 'model_version' AS model, role
  FROM regress.respond(format('SELECT json_agg(r)::text FROM sdp_api.results(%L::uuid) r', :'done_a'));
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/results_csv', json_build_object('x-api-key', :'key_a', 'accept', 'text/csv'));
SELECT status, split_part(body, chr(10), 1) AS csv_header,
       array_length(string_to_array(rtrim(body, chr(10)), chr(10)), 1) AS csv_lines, role
  FROM regress.respond(format('SELECT sdp_api.results_csv(%L::uuid)', :'done_a'));
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/results', json_build_object('x-api-key', :'key_b'));
SELECT status, body, role FROM regress.respond(format('SELECT json_agg(r)::text FROM sdp_api.results(%L::uuid) r', :'done_a'));
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/results_csv', json_build_object('x-api-key', :'key_b'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.results_csv(%L::uuid)', :'done_a'));
ROLLBACK;
-- The result domain that makes PostgREST answer Content-Type: text/csv.
SELECT t.typname, t.typtype, format_type(t.typbasetype, NULL) AS base
  FROM pg_type t WHERE t.typnamespace = 'sdp_api'::regnamespace AND t.typtype = 'd' ORDER BY 1;

RESET SESSION AUTHORIZATION;
