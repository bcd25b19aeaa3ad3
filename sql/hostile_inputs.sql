-- Hostile inputs on the server (test/README.md, "Hostile inputs"): SQL injection attempts in
-- client_id, processing_type, key_column, idempotency keys, request header values, CSV header
-- names and CSV cells; invalid UTF-8 and NUL bytes in bodies. Every attempt is either refused
-- with a clear SQLSTATE (class 22 -> HTTP 400, PT401/PT403 -> 401/403) or stored as inert data,
-- byte for byte; nothing is stored half-way and every table is still there at the end.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.stored() RETURNS TABLE(clients bigint, batches bigint, records bigint, chunks bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM sdp.api_client),
         (SELECT count(*) FROM sdp.processing_batch),
         (SELECT count(*) FROM sdp.tokenized_record),
         (SELECT count(*) FROM sdp.batch_chunk)
$$;
CREATE FUNCTION pg_temp.tables_intact() RETURNS boolean LANGUAGE sql AS $$
  SELECT bool_and(to_regclass(t) IS NOT NULL)
    FROM unnest(ARRAY['sdp.api_client', 'sdp.processing_batch', 'sdp.tokenized_record',
                      'sdp.processed_result', 'sdp.batch_chunk', 'sdp.model']) t
$$;

\set key 'regress-api-key-hostile-0123456789abcdef'
SELECT sdp.sdp_create_client('hostile_a', :'key') IS NOT NULL AS created;
SELECT * FROM pg_temp.stored() \gset before_
SELECT pg_temp.tables_intact() AS tables_intact;

-- ---- client_id ------------------------------------------------------------------------------
-- Registering a client whose id is an injection payload: refused by the id format check.
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_create_client($$x'); DROP TABLE sdp.processing_batch; --$$)$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_create_client($$hostile_a' OR '1'='1$$)$q$);
-- Using one: an unknown client, echoed as data.
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv($$hostile_a'; DROP TABLE sdp.processing_batch; --$$, 'risk_scoring', E'customer_id\nc1\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv($$hostile_a' OR '1'='1$$, 'risk_scoring', E'customer_id\nc1\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_batch_open($$'||(SELECT string_agg(client_id, ',') FROM sdp.api_client)||'$$, 'risk_scoring')$q$);

-- ---- processing_type, key_column, idempotency key -------------------------------------------
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', $$risk_scoring'); DROP TABLE sdp.model; --$$, E'customer_id\nc1\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', $$risk_scoring' OR '1'='1$$, E'customer_id\nc1\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'customer_id\nc1\n', $$customer_id"; DROP TABLE sdp.tokenized_record; --$$)$q$);
-- Echoed values are capped: the first 64 characters, then "…", every control character, line
-- separator and bidi override shown as '?' (sdp._echo). A megabyte client_id does not come
-- back in full into the log and the HTTP body, and a value cannot forge a second log line.
SELECT code, length(message) AS message_length, message
  FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv(repeat('x', 1000000), 'risk_scoring', E'customer_id\nc1\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_batch_open(E'evil\nERROR:  forged line\r\x1b[31m\x7f', 'risk_scoring')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_json(repeat('é', 64) || E'\n', 'risk_scoring', '[{"customer_id": "c1"}]')$q$);
SELECT code, length(message) AS message_length, message
  FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', repeat('risk_scoring', 100000), E'customer_id\nc1\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_batch_open('hostile_a', E'risk\u202escoring\u0085\u2028x\t')$q$);
-- key_column and the header's column names, echoed by the C++ parser, the same way.
SELECT code, length(message) AS message_length, message
  FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'customer_id\nc1\n', repeat('k', 100000) || E'\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'"col\x01\u2066umn",' || repeat('h', 1000) || E'\nc1,c2\n')$q$);
-- JSON keys too: a key whose value is not a scalar, and a key the first record does not have.
SELECT code, length(message) AS message_length, message
  FROM regress.error_of($q$SELECT sdp.sdp_ingest_json('hostile_a', 'risk_scoring',
    jsonb_build_array(jsonb_build_object('customer_id', 'c1', E'nested\nERROR:  forged\u202e' || repeat('n', 100000), '{"x": 1}'::jsonb)))$q$);
SELECT code, length(message) AS message_length, message
  FROM regress.error_of($q$SELECT sdp.sdp_ingest_json('hostile_a', 'risk_scoring',
    jsonb_build_array(jsonb_build_object('customer_id', 'c1'),
                      jsonb_build_object('customer_id', 'c2', E'extra\r\x1b[31m\u2028' || repeat('e', 100000), 1)))$q$);
-- The idempotency key of a conflict, and the admin calls that name a client, the same way.
BEGIN;
SELECT accepted_records FROM sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'customer_id\nc1\n', 'customer_id', repeat('k', 200) || E'\n');
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'customer_id\nc2\n', 'customer_id', repeat('k', 200) || E'\n')$q$);
ROLLBACK;
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_revoke_key(repeat('z', 65))$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_rotate_key(repeat('z', 64))$q$);
SELECT sdp._echo(NULL) AS null_value, sdp._echo('') AS empty_value, sdp._echo(repeat('a', 64)) = repeat('a', 64) AS exactly_64_kept;
SELECT * FROM pg_temp.stored() \gset after_refusals_
SELECT :after_refusals_clients - :before_clients AS new_clients,
       :after_refusals_batches - :before_batches AS new_batches,
       :after_refusals_records - :before_records AS new_records;
-- An injection-looking idempotency key is just a key: the batch is stored, the key kept verbatim,
-- and the same key again returns the same batch.
SELECT batch_id AS idem FROM sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'customer_id,age\nk1,30\n',
       'customer_id', $$k'); DELETE FROM sdp.processing_batch; --$$) \gset
SELECT batch_id = :'idem' AS same_batch FROM sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'customer_id,age\nk1,30\n',
       'customer_id', $$k'); DELETE FROM sdp.processing_batch; --$$);
SELECT idempotency_key FROM sdp.processing_batch WHERE batch_id = :'idem';

-- ---- CSV header names and cells: stored as inert data, byte for byte ------------------------
SELECT batch_id AS cells FROM sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', $csv$customer_id,"age""); DROP TABLE sdp.tokenized_record; --",$$x$$
"k1'; DROP TABLE sdp.processing_batch; --","1' OR '1'='1","$$; DELETE FROM sdp.api_client; $$"
"=cmd|' /C calc'!A0","\x00 %s %n \u0000 \\",'';--
$csv$) \gset
SELECT columns FROM sdp.processing_batch WHERE batch_id = :'cells';
SELECT row_no, record_key, fields FROM sdp.tokenized_record WHERE batch_id = :'cells' ORDER BY row_no;
-- The same through JSON: keys and values are data.
SELECT batch_id AS json_cells FROM sdp.sdp_ingest_json('hostile_a', 'risk_scoring',
  $j$[{"customer_id": "j1'); DROP TABLE sdp.processing_batch; --", "note\"; DROP TABLE x; --": "' OR 1=1 --"}]$j$) \gset
SELECT columns FROM sdp.processing_batch WHERE batch_id = :'json_cells';
SELECT record_key, fields FROM sdp.tokenized_record WHERE batch_id = :'json_cells';
-- Scoring and the results CSV carry such keys verbatim, as data (in the real flow the key is a
-- token, which never starts with = + - @; see test/README.md).
SELECT status FROM sdp.sdp_process_batch(:'cells');
SELECT sdp.sdp_results_csv(:'cells');

-- ---- invalid UTF-8 and NUL bytes: refused by PostgreSQL before sdp sees them ----------------
-- The database is UTF8; text input is validated, so a body with an invalid sequence or a NUL
-- never reaches the parser: 22021 (HTTP 400). sdp-agent refuses such files before uploading.
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', convert_from('\x637573746f6d65725f69640a6361666ee90a'::bytea, 'UTF8'))$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', convert_from('\x637573746f6d65725f69640a6300640a'::bytea, 'UTF8'))$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_csv('hostile_a', 'risk_scoring', E'customer_id\nc\xed\xa0\x80\n')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_json('hostile_a', 'risk_scoring', '[{"customer_id": "a\u0000b"}]')$q$);
SELECT code, message FROM regress.error_of($q$SELECT sdp.sdp_ingest_json('hostile_a', 'risk_scoring', '[{"customer_id": "\ud800"}]')$q$);

-- ---- request header values (PostgREST emulation, docs/postgrest.md §8) ---------------------------
SET SESSION AUTHORIZATION sdp_authenticator;
-- X-API-Key, X-Client-Id, X-Processing-Type, X-Key-Column, X-Batch-Id carrying payloads.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', $$' OR '1'='1$$, 'x-processing-type', 'risk_scoring'));
SELECT code, message FROM regress.respond($$SELECT sdp_api.process_file(E'customer_id\nc1\n')$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key', 'x-client-id', $$hostile_a' OR '1'='1$$, 'x-processing-type', 'risk_scoring'));
SELECT code, message FROM regress.respond($$SELECT sdp_api.process_file(E'customer_id\nc1\n')$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key', 'x-processing-type', $$risk_scoring'; DROP TABLE sdp.model; --$$));
SELECT code, message FROM regress.respond($$SELECT sdp_api.process_file(E'customer_id\nc1\n')$$);
ROLLBACK;
-- A long header value comes back capped in the JSON error body too.
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key', 'x-processing-type', repeat('p', 100000)));
SELECT code, length(message) AS message_length, message FROM regress.respond($$SELECT sdp_api.process_file(E'customer_id\nc1\n')$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key', 'x-processing-type', 'risk_scoring', 'x-key-column', $$customer_id" FROM x; --$$));
SELECT code, message FROM regress.respond($$SELECT sdp_api.process_file(E'customer_id\nc1\n')$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key', 'x-batch-id', $$00000000-0000-4000-8000-000000000000' OR '1'='1$$, 'x-chunk-seq', '0; DROP TABLE sdp.batch_chunk', 'x-chunk-sha256', 'x'));
SELECT code, message FROM regress.respond($$SELECT sdp_api.batch_append(E'customer_id\nc1\n')$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key', 'x-batch-id', :'idem', 'x-chunk-seq', '0; DROP TABLE sdp.batch_chunk', 'x-chunk-sha256', 'x'));
SELECT code, message FROM regress.respond($$SELECT sdp_api.batch_append(E'customer_id\nc1\n')$$);
ROLLBACK;
RESET SESSION AUTHORIZATION;

-- ---- nothing else was stored (3 batches, 4 records: the ones accepted above), nothing dropped --
SELECT * FROM pg_temp.stored() \gset after_
SELECT :after_clients - :before_clients AS new_clients,
       :after_batches - :before_batches AS new_batches,
       :after_records - :before_records AS new_records,
       :after_chunks - :before_chunks AS new_chunks;
SELECT pg_temp.tables_intact() AS tables_intact;
SELECT count(*) > 0 AS risk_scoring_model FROM sdp.model WHERE processing_type = 'risk_scoring';
