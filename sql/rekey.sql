-- Key rotation of stored tokens (issue 21, 84_rekey.sql, docs/key_rotation.md): the manifest's
-- key fields, every sdp_rekey_* function (happy path and refusals), held rows and unmapped
-- tokens, uploads during a rotation, legal hold, row-level security and tenant checks,
-- integrity and audit chain after the rewrite, idempotency, and the PostgREST surface.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

-- '|' stands for a line end in the CSV bodies below.
CREATE FUNCTION pg_temp.csv(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT replace(v, '|', chr(10)) $$;
-- The pairs CSV of old/new token lists.
CREATE FUNCTION pg_temp.pairs(VARIADIC p text[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'old_token,new_token' || string_agg(chr(10) || p[i] || ',' || p[i + 1], '' ORDER BY i) || chr(10)
    FROM generate_series(1, cardinality(p), 2) i $$;

\set key_a 'regress-rekey-key-a-0123456789abcdef0123'
\set key_b 'regress-rekey-key-b-0123456789abcdef0123'
SELECT sdp.sdp_create_client('rk_a', :'key_a') IS NOT NULL AS a, sdp.sdp_create_client('rk_b', :'key_b') IS NOT NULL AS b;
CREATE ROLE regress_rk_client LOGIN IN ROLE sdp_client;
-- Version 1 HASH tokens (h + 24) and their version 2 tokens (h, the digit 2, 24).
\set c1 'hc1c1c1c1c1c1c1c1c1c1c1c1'
\set c2 'hc2c2c2c2c2c2c2c2c2c2c2c2'
\set c3 'hc3c3c3c3c3c3c3c3c3c3c3c3'
\set e1 'he1e1e1e1e1e1e1e1e1e1e1e1'
\set n1 'h2C1C1C1C1C1C1C1C1C1C1C1C1'
\set n2 'h2C2C2C2C2C2C2C2C2C2C2C2C2'
\set n3 'h2C3C3C3C3C3C3C3C3C3C3C3C3'
\set r1 'rx1x1x1x1x1x1x1x1x1x1x1'
\set manifest '{"customer_id": {"transform": "HASH", "class": "identifier", "domain": "customer_id", "key_version": 1, "key_id": "0000aaaa"}, "email": {"transform": "HASH", "class": "email", "domain": "email"}, "acct": {"transform": "FPE", "class": "identifier", "domain": "acct"}, "nonce": {"transform": "RANDOM", "domain": "rnd"}}'

-- ---- the manifest's key fields ------------------------------------------------------------------
SELECT v AS manifest_entry, e.code, e.message
  FROM (VALUES ('{"transform": "HASH", "domain": "bad domain!"}'),
               ('{"transform": "HASH", "domain": 7}'),
               ('{"transform": "HASH", "key_version": 0}'),
               ('{"transform": "HASH", "key_version": 62}'),
               ('{"transform": "HASH", "key_version": "2"}'),
               ('{"transform": "HASH", "key_id": "ABCDEF01"}'),
               ('{"transform": "CLEAR", "domain": "customer_id"}')) AS t(v),
       LATERAL regress.error_of(format('SELECT sdp.sdp_ingest_csv(%L, %L, %L, %L, NULL, %L)', 'rk_a', 'risk_scoring',
                                       pg_temp.csv('customer_id,age|' || :'c1' || ',30|'), 'customer_id',
                                       json_build_object('customer_id', v::json))) e;

-- Three batches under key 1: one with four tokenized domains (processed: results carry the key),
-- one with the key column only, one without key fields (version 1, no domain: no rotation).
SELECT batch_id AS b1 FROM sdp.sdp_ingest_csv('rk_a', 'risk_scoring', pg_temp.csv(
  'customer_id,age,email,acct,nonce|' ||
  :'c1' || ',30,' || :'e1' || ',1111111111,' || :'r1' || '|' ||
  :'c2' || ',41,,2222222222,' || :'r1' || '|' ||
  :'c1' || ',50,' || :'e1' || ',3333333333,|' ||
  :'c3' || ',60,,,' || :'r1' || '|'), 'customer_id', NULL, :'manifest') \gset
SELECT status FROM sdp.sdp_process_batch(:'b1');
SELECT batch_id AS b2 FROM sdp.sdp_ingest_csv('rk_a', 'risk_scoring', pg_temp.csv(
  'customer_id,age|' || :'c2' || ',22|' || :'c3' || ',33|'), 'customer_id', NULL,
  '{"customer_id": {"transform": "HASH", "domain": "customer_id", "key_version": 1}}') \gset
SELECT batch_id AS b3 FROM sdp.sdp_ingest_csv('rk_a', 'risk_scoring', pg_temp.csv(
  'customer_id,age|' || :'c1' || ',44|'), 'customer_id', NULL, '{"customer_id": {"transform": "HASH"}}') \gset
-- An edit after scoring: record 4 of b1 gets customer c2 (history: version 1 with c3, 2 with c2);
-- its result still names c3.
SELECT status, version_no FROM sdp.sdp_update_record(sdp.sdp_record_id(:'b1', 4), json_build_object('customer_id', :'c2')::jsonb) x(j),
       LATERAL (SELECT j ->> 'status' AS status, j ->> 'version_no' AS version_no) y;
SELECT batch_id = :'b1' AS b1, column_name, transform, domain, key_version, key_id
  FROM sdp.batch_column_key WHERE client_id = 'rk_a' ORDER BY batch_id = :'b1' DESC, batch_id = :'b2' DESC, column_name;

-- ---- begin: refusals ----------------------------------------------------------------------------
SELECT label, e.code, e.message, e.hint
  FROM (VALUES ('RANDOM domain', $$SELECT sdp.sdp_rekey_begin('rk_a', 'rnd', 1, 2, '0000bbbb')$$),
               ('from >= to', $$SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 2, 2, '0000bbbb')$$),
               ('to beyond 61', $$SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 1, 62, '0000bbbb')$$),
               ('bad key id', $$SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 1, 2, 'XYZ')$$),
               ('bad domain', $$SELECT sdp.sdp_rekey_begin('rk_a', 'no domain', 1, 2, '0000bbbb')$$),
               ('no data', $$SELECT sdp.sdp_rekey_begin('rk_a', 'phone', 1, 2, '0000bbbb')$$),
               ('no data at that version', $$SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 3, 4, '0000bbbb')$$),
               ('unknown client', $$SELECT sdp.sdp_rekey_begin('rk_nobody', 'customer_id', 1, 2, '0000bbbb')$$)) AS t(label, stmt),
       LATERAL regress.error_of(stmt) e;

-- ---- begin, idempotent ------------------------------------------------------------------------
SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 1, 2, '0000bbbb') AS rot \gset
SELECT :'rot'::json ->> 'rotation_id' AS rid \gset
SELECT j ->> 'state' AS state, j ->> 'pairs' AS pairs, j ->> 'rows_done' AS rows_done, j ->> 'rows_total' AS rows_total
  FROM (SELECT :'rot'::json AS j) x;
SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 1, 2, '0000bbbb') ->> 'rotation_id' = :'rid' AS same_rotation;
SELECT * FROM regress.error_of($$SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 1, 3, '0000cccc')$$);
SELECT event, details ->> 'domain' AS domain, details ->> 'to_version' AS to_version
  FROM sdp.audit_log WHERE target = :'rid' ORDER BY seq;

-- ---- tokens: keyset pages in byte order ---------------------------------------------------------
SELECT * FROM sdp.sdp_rekey_tokens(:'rid', NULL, 2);
SELECT * FROM sdp.sdp_rekey_tokens(:'rid', :'c2', 2);
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_rekey_tokens(%L, NULL, 0)', :'rid'));

-- ---- pairs: refusals --------------------------------------------------------------------------
SELECT label, e.code, e.message
  FROM (VALUES ('empty', ''),
               ('no header', :'c1' || ',' || :'n1'),
               ('one field', 'old_token,new_token' || chr(10) || :'c1'),
               ('new token of version 1', pg_temp.pairs(:'c1', :'c2')),
               ('new token of version 3', pg_temp.pairs(:'c1', 'h3' || repeat('x', 24))),
               ('old token of version 2', pg_temp.pairs(:'n1', :'n2')),
               ('a raw value', pg_temp.pairs('ann@example.com', :'n1')),
               ('one old token, two new', pg_temp.pairs(:'c1', :'n1', :'c1', :'n2')),
               ('two old tokens, one new', pg_temp.pairs(:'c1', :'n1', :'c2', :'n1'))) AS t(label, body),
       LATERAL regress.error_of(format('SELECT sdp.sdp_rekey_pairs(%L, %L)', :'rid', body)) e;
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_rekey_pairs(%L, %L)', :'rid',
  'old_token,new_token' || repeat(chr(10) || :'c1' || ',' || :'n1', 50001)));

-- ---- pairs: accepted; the same again is a no-op; a different mapping is a conflict -------------
-- c3 is left out: its rows are held.
SELECT sdp.sdp_rekey_pairs(:'rid', pg_temp.pairs(:'c1', :'n1', :'c2', :'n2'));
SELECT sdp.sdp_rekey_pairs(:'rid', pg_temp.pairs(:'c1', :'n1', :'c2', :'n2'));
-- Quoted fields (RFC 4180) and CRLF line ends.
SELECT sdp.sdp_rekey_pairs(:'rid', 'old_token,new_token' || chr(13) || chr(10) || '"' || :'c1' || '","' || :'n1' || '"' || chr(13) || chr(10));
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_rekey_pairs(%L, %L)', :'rid', pg_temp.pairs(:'c1', :'n3')));
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_rekey_pairs(%L, %L)', :'rid', pg_temp.pairs(:'c3', :'n1')));

-- ---- apply: slices; c3 unpaired, so its rows are held ------------------------------------------
SELECT j ->> 'done' AS done, (j ->> 'rows_done')::int <= 3 AS at_most_3 FROM sdp.sdp_rekey_apply(:'rid', 3) j;
-- An upload during the rotation: under the old key (found by a later call), under the new key
-- (never touched).
SELECT batch_id AS b4 FROM sdp.sdp_ingest_csv('rk_a', 'risk_scoring', pg_temp.csv(
  'customer_id,age|' || :'c1' || ',70|'), 'customer_id', NULL,
  '{"customer_id": {"transform": "HASH", "domain": "customer_id", "key_version": 1}}') \gset
SELECT batch_id AS b5 FROM sdp.sdp_ingest_csv('rk_a', 'risk_scoring', pg_temp.csv(
  'customer_id,age|' || :'n3' || ',80|'), 'customer_id', NULL,
  '{"customer_id": {"transform": "HASH", "domain": "customer_id", "key_version": 2, "key_id": "0000bbbb"}}') \gset
SELECT sdp.sdp_rekey_apply(:'rid', 100);
SELECT sdp.sdp_rekey_apply(:'rid', 100);
-- Finish is refused while rows are held, with the count.
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_rekey_finish(%L)', :'rid'));
-- The listing now holds what is left: c3 (in the held rows and the result of the edited row).
SELECT * FROM sdp.sdp_rekey_tokens(:'rid');
SELECT sdp.sdp_rekey_pairs(:'rid', pg_temp.pairs(:'c3', :'n3'));
SELECT sdp.sdp_rekey_apply(:'rid', 100);

-- Every stored customer token is now a version 2 token; the other columns are untouched.
SELECT b.batch_id = :'b1' AS b1, t.row_no, t.record_key, t.fields
  FROM sdp.tokenized_record t JOIN sdp.processing_batch b USING (batch_id)
 WHERE b.client_id = 'rk_a' AND b.batch_id IN (:'b1', :'b2', :'b4', :'b5')
 ORDER BY b.batch_id = :'b1' DESC, b.batch_id = :'b2' DESC, b.batch_id = :'b4' DESC, t.row_no;
SELECT row_no, record_key FROM sdp.processed_result WHERE batch_id = :'b1' ORDER BY row_no;
SELECT version_no, status, record_key, fields[1] AS customer_id FROM sdp.record_version
 WHERE batch_id = :'b1' AND row_no = 4 ORDER BY version_no;
-- Batch b3 had no domain: it is not part of any rotation.
SELECT record_key = :'c1' AS b3_untouched FROM sdp.tokenized_record WHERE batch_id = :'b3';
SELECT count(*) AS rows_with_a_v1_customer_token
  FROM sdp.tokenized_record WHERE batch_id IN (:'b1', :'b2', :'b4', :'b5') AND (record_key ~ '^h[^2]' OR fields[1] ~ '^h[^2]');
SELECT * FROM sdp.sdp_verify_integrity();

-- ---- finish; then everything is a no-op ---------------------------------------------------------
SELECT j ->> 'state' AS state, j ->> 'pairs' AS pairs, j ->> 'rows_done' AS rows_done
  FROM sdp.sdp_rekey_finish(:'rid') j;
SELECT sdp.sdp_rekey_apply(:'rid');
SELECT sdp.sdp_rekey_finish(:'rid') ->> 'state' AS finish_again;
SELECT sdp.sdp_rekey_begin('rk_a', 'customer_id', 1, 2, '0000bbbb') ->> 'rotation_id' = :'rid' AS begin_again_same;
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_rekey_pairs(%L, %L)', :'rid', pg_temp.pairs(:'c1', :'n1')));
SELECT count(*) AS tokens_after_finish FROM sdp.sdp_rekey_tokens(:'rid');
SELECT client_id, domain, key_version, key_id FROM sdp.domain_key_version WHERE client_id = 'rk_a';
SELECT j ->> 'key_version' AS key_version, j ->> 'key_id' AS key_id, j -> 'stored_versions' AS stored, j -> 'rotation' AS rotation
  FROM sdp.sdp_rekey_status('rk_a', 'customer_id') j;
SELECT * FROM sdp.sdp_token_versions('rk_a', 'customer_id');
SELECT batch_id = :'b1' AS b1, column_name, key_version, key_id
  FROM sdp.batch_column_key WHERE client_id = 'rk_a' AND domain = 'customer_id'
 ORDER BY batch_id = :'b1' DESC, batch_id = :'b2' DESC, batch_id = :'b4' DESC;
SELECT event, details ->> 'done' AS done, details ? 'rows' AS counts_rows
  FROM sdp.audit_log WHERE target = :'rid' ORDER BY seq;
SELECT * FROM sdp.sdp_audit_verify();

-- ---- FPE domain, under legal hold: allowed (nothing is deleted) --------------------------------
SELECT sdp.sdp_legal_hold('rk_a', NULL, 'litigation') IS NOT NULL AS held;
SELECT sdp.sdp_rekey_begin('rk_a', 'acct', 1, 2, '0000bbbb') ->> 'rotation_id' AS fid \gset
SELECT * FROM sdp.sdp_rekey_tokens(:'fid');
-- FPE tokens have no version shape; a new token may be another value's old token.
SELECT sdp.sdp_rekey_pairs(:'fid', pg_temp.pairs('1111111111', '3333333333', '2222222222', '9999999999',
                                                 '3333333333', '1111111111'));
SELECT j ->> 'done' AS done, j ->> 'rows_done' AS rows_done, j ->> 'unmapped' AS unmapped
  FROM sdp.sdp_rekey_apply(:'fid') j;
-- Each row rewritten once: 1111111111 -> 3333333333, and not on to 1111111111.
SELECT row_no, fields[4] AS acct FROM sdp.tokenized_record WHERE batch_id = :'b1' ORDER BY row_no;
SELECT sdp.sdp_rekey_finish(:'fid') ->> 'state' AS state;
SELECT * FROM sdp.sdp_verify_integrity();

-- ---- tenant checks and row-level security ----------------------------------------------------
SELECT sdp.sdp_rekey_begin('rk_a', 'email', 1, 2, '0000bbbb') ->> 'rotation_id' AS eid \gset
SET SESSION AUTHORIZATION regress_rk_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') AS tenant;
SELECT label, e.code, e.message
  FROM (VALUES ('apply', format('SELECT sdp.sdp_rekey_apply(%L)', :'eid')),
               ('tokens', format('SELECT sdp.sdp_rekey_tokens(%L)', :'eid')),
               ('pairs', format('SELECT sdp.sdp_rekey_pairs(%L, %L)', :'eid', pg_temp.pairs(:'e1', 'h2' || repeat('E', 24)))),
               ('finish', format('SELECT sdp.sdp_rekey_finish(%L)', :'eid')),
               ('begin for A', $$SELECT sdp.sdp_rekey_begin('rk_a', 'email', 1, 2, '0000bbbb')$$),
               ('token versions of A', $$SELECT sdp.sdp_token_versions('rk_a', 'customer_id')$$),
               ('status of A', $$SELECT sdp.sdp_rekey_status('rk_a', 'customer_id')$$),
               ('read the pairs', 'SELECT count(*) FROM sdp.key_rotation_pair')) AS t(label, stmt),
       LATERAL regress.error_of(stmt) e;
COMMIT;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a') AS tenant;
SELECT count(*) AS own_pairs FROM sdp.sdp_token_versions('rk_a', 'customer_id');
SELECT sdp.sdp_rekey_status('rk_a', 'email') -> 'rotation' ->> 'state' AS own_rotation;
COMMIT;
RESET SESSION AUTHORIZATION;
-- The policies themselves, for a role that could read the tables (none can by default).
CREATE ROLE regress_rk_reader LOGIN IN ROLE sdp_client;
GRANT SELECT ON sdp.key_rotation, sdp.key_rotation_pair, sdp.batch_column_key, sdp.domain_key_version
  TO regress_rk_reader;
SET SESSION AUTHORIZATION regress_rk_reader;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') AS tenant;
SELECT (SELECT count(*) FROM sdp.key_rotation) AS rotations, (SELECT count(*) FROM sdp.key_rotation_pair) AS pairs,
       (SELECT count(*) FROM sdp.batch_column_key) AS column_keys, (SELECT count(*) FROM sdp.domain_key_version) AS versions;
COMMIT;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a') AS tenant;
SELECT (SELECT count(*) FROM sdp.key_rotation) AS rotations, (SELECT count(*) FROM sdp.key_rotation_pair) AS pairs,
       (SELECT count(*) FROM sdp.batch_column_key) AS column_keys, (SELECT count(*) FROM sdp.domain_key_version) AS versions;
COMMIT;
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON sdp.key_rotation, sdp.key_rotation_pair, sdp.batch_column_key, sdp.domain_key_version
  FROM regress_rk_reader;

-- ---- PostgREST ----------------------------------------------------------------------------------
BEGIN;
SELECT regress.request('POST', '/rpc/rekey_begin', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body::json ->> 'state' AS state, role
  FROM regress.respond($$SELECT sdp_api.rekey_begin('email', 1, 2, '0000bbbb')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/rekey_begin', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.rekey_begin('email', 1, 3, '0000cccc')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/rekey_begin', json_build_object('content-type', 'application/json', 'x-api-key', :'key_b'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.rekey_begin('email', 1, 2, '0000bbbb', client_id => 'rk_a')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/rekey_apply', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body::json ->> 'done' AS done, role FROM regress.respond(format('SELECT sdp_api.rekey_apply(%L)::text', :'eid'));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/rekey_finish', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body::json ->> 'code' AS code, role FROM regress.respond(format('SELECT sdp_api.rekey_finish(%L)::text', :'eid'));
ROLLBACK;
BEGIN READ ONLY;
SELECT regress.request('GET', '/rpc/rekey_status', json_build_object('x-api-key', :'key_a'));
SELECT status, body::json ->> 'key_version' AS key_version, role FROM regress.respond($$SELECT sdp_api.rekey_status('customer_id')::text$$);
ROLLBACK;
BEGIN READ ONLY;
SELECT regress.request('GET', '/rpc/token_versions', json_build_object('x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT json_agg(t)::text FROM sdp_api.token_versions('customer_id') t$$);
ROLLBACK;

SELECT * FROM sdp.sdp_audit_verify();
SELECT sdp.sdp_release_hold('rk_a', NULL) IS NOT NULL AS released;
DROP ROLE regress_rk_client, regress_rk_reader;
