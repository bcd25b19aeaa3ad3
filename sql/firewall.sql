-- Column classification and the PII firewall (82_firewall.sql, docs/pii_firewall.md): the
-- manifest, every refusal (PT422 naming column, row and class, never the value; nothing stored;
-- audited; counted), allowances, reclassification, the governance view, and the PostgREST
-- surface (422).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

-- '|' stands for a line end in the CSV bodies below.
CREATE FUNCTION pg_temp.csv(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT replace(v, '|', chr(10)) $$;
-- What a refusal leaves behind, to compare before and after.
CREATE FUNCTION pg_temp.state(OUT batches bigint, OUT refusals bigint, OUT classified bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM sdp.processing_batch WHERE client_id = 'fw_a'),
         (SELECT count(*) FROM sdp.audit_log WHERE event = 'firewall.refused'),
         (SELECT count(*) FROM sdp.column_classification WHERE client_id = 'fw_a')
$$;
CREATE FUNCTION pg_temp.rejections(cls text) RETURNS bigint LANGUAGE sql AS $$
  SELECT s.value::bigint FROM sdp.sdp_metrics_samples() s
   WHERE s.name = 'sdp_pii_firewall_rejections_total' AND s.labels ->> 'class' = cls
$$;

\set key_a 'regress-firewall-key-a-0123456789abcdef0'
SELECT sdp.sdp_create_client('fw_a', :'key_a') IS NOT NULL AS a,
       sdp.sdp_create_client('fw_b') IS NOT NULL AS b;
-- HASH and RANDOM tokens as the agent writes them (column_tokenizer.cc).
\set h1 'hAbCdEfGhIjKlMnOpQrStUvWx'
\set h2 'h0123456789-_abcdefghijkl'
\set r1 'rAbCdEfGhIjKlMnOpQrStUv'

-- ---- no manifest: every column is clear -------------------------------------------------------
SELECT status, accepted_records FROM sdp.sdp_ingest_csv('fw_a', 'risk_scoring',
  pg_temp.csv('customer_id,age,income,note|c1,30,52000,gold|c2,41,61000.50,2024-01-15 10:30:00|'));
SELECT * FROM pg_temp.state() \gset before_
SELECT pg_temp.rejections('email') AS email_before \gset
-- An e-mail in row 2: refused whole, naming column, row and class, never the value.
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_ingest_csv(%L, %L, %L)', 'fw_a', 'risk_scoring',
  pg_temp.csv('customer_id,age,note|c1,30,gold|c2,41,write to ann.lee@example.com|')), 'ann.lee');
SELECT batches - :before_batches AS new_batches, refusals - :before_refusals AS new_audit_entries,
       classified - :before_classified AS new_classifications FROM pg_temp.state();
SELECT pg_temp.rejections('email') - :email_before AS email_rejections;
-- The audit entry names batch, column, row, class and transform; the caller; no value.
SELECT actor, client_id, details, target ~ '^[0-9a-f-]{36}$' AS names_batch
  FROM sdp.audit_log WHERE event = 'firewall.refused' ORDER BY seq DESC LIMIT 1;
SELECT count(*) AS entries_with_the_value FROM sdp.audit_log WHERE details::text LIKE '%ann.lee%';
SELECT * FROM sdp.sdp_audit_verify();

-- Every class, obfuscated too (full-width digits, NBSP, zero-width space, Unicode dashes).
SELECT v AS value_kind, e.code, substring(e.message from 'holds [^;]*') AS what
  FROM (VALUES ('card', '4111 1111 1111 1111'),
               ('card full-width', '４１１１１１１１１１１１１１１１'),
               ('card nbsp', E'4111\u00a01111\u00a01111\u00a01111'),
               ('card zero-width', E'4111\u200b1111\u200b1111\u200b1111'),
               ('iban', 'GB82 WEST 1234 5698 7654 32'),
               ('ssn', '123-45-6789'),
               ('ssn unicode dashes', E'123\u201045\u20106789'),
               ('phone', '+44 20 7946 0958'),
               ('phone nanp', '(415) 555-2671'),
               ('email full-width at', E'ann\uff20example.com')) AS t(v, value),
       LATERAL regress.error_of(format('SELECT sdp.sdp_ingest_csv(%L, %L, %L)', 'fw_a', 'risk_scoring',
         'customer_id,note' || chr(10) || 'c1,"' || value || '"' || chr(10))) e
 ORDER BY 1;
SELECT batches - :before_batches AS new_batches FROM pg_temp.state();

-- ---- the manifest -----------------------------------------------------------------------------
-- Declared HASH/RANDOM columns hold tokens, MASKED ones masks; FPE outputs are not checked (a
-- ciphertext of a card number passes Luhn one time in ten, by design).
SELECT batch_id AS manifest_batch, status, accepted_records FROM sdp.sdp_ingest_csv('fw_a', 'risk_scoring',
  pg_temp.csv('customer_id,email,phone,last_name,card_number,age|' ||
              :'h1' || ',' || :'h2' || ',***-***-2671,' || :'r1' || ',4111 1111 1111 1111,30|'),
  manifest => '{"customer_id": {"transform": "HASH", "class": "identifier"},
                "email": {"transform": "HASH", "class": "email"},
                "phone": {"transform": "MASKED", "class": "phone"},
                "last_name": {"transform": "RANDOM", "class": "person_name"},
                "card_number": {"transform": "FF1", "class": "payment_card"}}') \gset
SELECT column_name, transform, class, sensitivity, source FROM sdp.column_classes
 WHERE batch_id = :'manifest_batch' ORDER BY column_name;
-- A HASH column with something else; a MASKED column with a whole phone number; the class is the
-- raw PII found, or the shape.
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_ingest_csv(%L, %L, %L, manifest => %L)', 'fw_a', 'risk_scoring',
  pg_temp.csv('customer_id,age|' || :'h1' || ',30|legacy-17,31|'), '{"customer_id": {"transform": "hash"}}'));
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_ingest_csv(%L, %L, %L, manifest => %L)', 'fw_a', 'risk_scoring',
  pg_temp.csv('customer_id,phone|c1,415-555-2671|'), '{"phone": {"transform": "MASKED"}}'));
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_ingest_csv(%L, %L, %L, manifest => %L)', 'fw_a', 'risk_scoring',
  pg_temp.csv('customer_id,first_name|c1,Johnathan|'), '{"first_name": {"transform": "MASKED"}}'));
-- Malformed manifests: 22023, nothing stored.
SELECT m AS manifest, e.code, e.message
  FROM (VALUES ('[1, 2]'), ('{"age": "HASH"}'), ('{"age": {"transform": "ROT13"}}'),
               ('{"age": {"transform": "HASH", "class": "E-Mail"}}'),
               ('{"age": {"transform": "HASH", "sensitivity": "secret"}}'),
               ('{"nope": {"transform": "HASH"}}')) AS t(m),
       LATERAL regress.error_of(format('SELECT sdp.sdp_ingest_csv(%L, %L, %L, manifest => %L)', 'fw_a',
         'risk_scoring', pg_temp.csv('customer_id,age|c1,30|'), m)) e;
SELECT batches - :before_batches AS new_batches_so_far FROM pg_temp.state();

-- JSON uploads: the same checks, by record.
SELECT status, accepted_records FROM sdp.sdp_ingest_json('fw_a', 'risk_scoring',
  '[{"customer_id": "hAbCdEfGhIjKlMnOpQrStUvWx", "age": "30"}]', manifest => '{"customer_id": {"transform": "HASH"}}');
SELECT * FROM regress.error_of($$SELECT sdp.sdp_ingest_json('fw_a', 'risk_scoring',
  '[{"customer_id": "c1", "ssn": "000-00-0000"}, {"customer_id": "c2", "ssn": "219-09-9998"}]')$$);

-- ---- chunked uploads: the manifest of the open applies to every chunk -------------------------
SELECT batch_id AS chunked FROM sdp.sdp_batch_open('fw_a', 'risk_scoring', 'customer_id', 'fw-chunks',
  '{"customer_id": {"transform": "HASH"}}') \gset
SELECT sdp.sdp_batch_append(:'chunked', 0, pg_temp.csv('customer_id,note|' || :'h1' || ',gold|'),
  encode(sha256(convert_to(pg_temp.csv('customer_id,note|' || :'h1' || ',gold|'), 'UTF8')), 'hex')) AS rows_after_chunk_0;
SELECT * FROM regress.error_of(format('SELECT sdp.sdp_batch_append(%L, 1, %L, %L)', :'chunked',
  pg_temp.csv(:'h2' || ',IBAN DE89 3704 0044 0532 0130 00|'),
  encode(sha256(convert_to(pg_temp.csv(:'h2' || ',IBAN DE89 3704 0044 0532 0130 00|'), 'UTF8')), 'hex')));
-- The refused chunk is not stored; the agent then aborts the upload (its staged rows deleted).
SELECT chunks, accepted_records FROM sdp.processing_batch WHERE batch_id = :'chunked';
SELECT status, accepted_records FROM sdp.sdp_batch_abort(:'chunked', 'chunk 1 refused: PT422');
SELECT column_name, transform FROM sdp.column_classes WHERE batch_id = :'chunked' ORDER BY 1;
-- A manifest naming a column the upload does not have: 22023 at chunk 0.
SELECT batch_id AS chunked2 FROM sdp.sdp_batch_open('fw_a', 'risk_scoring', manifest => '{"mail": {"transform": "HASH"}}') \gset
SELECT code, message FROM regress.error_of(format('SELECT sdp.sdp_batch_append(%L, 0, %L, %L)', :'chunked2',
  pg_temp.csv('customer_id,note|c1,gold|'), encode(sha256(convert_to(pg_temp.csv('customer_id,note|c1,gold|'), 'UTF8')), 'hex')));

-- ---- sdp_firewall_allow: admin only, audited, one class in one column of one client ----------
CREATE ROLE regress_fw_admin LOGIN IN ROLE sdp_admin;
CREATE ROLE regress_fw_engineer LOGIN IN ROLE sdp_engineer;
CREATE ROLE regress_fw_analyst LOGIN IN ROLE sdp_analyst;
SET ROLE regress_fw_engineer;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_firewall_allow('fw_a', 'account_no', 'payment_card')$$);
SET ROLE regress_fw_admin;
SELECT sdp.sdp_firewall_allow('fw_a', 'account_no', 'payment_card') AS new_allowance,
       sdp.sdp_firewall_allow('fw_a', 'account_no', 'payment_card') AS again;
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_firewall_allow('fw_a', 'account_no', 'name')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_firewall_allow('nobody', 'account_no', 'phone')$$);
RESET ROLE;
SELECT actor, client_id, target, details FROM sdp.audit_log WHERE event = 'firewall.allow' ORDER BY seq;
-- Allowed: a Luhn-valid account number in that column, for that client only; another class in
-- the same column is still refused.
SELECT status FROM sdp.sdp_ingest_csv('fw_a', 'risk_scoring', pg_temp.csv('customer_id,account_no|c1,4111111111111111|'));
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_csv('fw_b', 'risk_scoring', E'customer_id,account_no\nc1,4111111111111111\n')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_ingest_csv('fw_a', 'risk_scoring', E'customer_id,account_no\nc1,ann@example.com\n')$$);

-- ---- sdp_classify: engineers and admins, audited ---------------------------------------------
SET ROLE regress_fw_analyst;
SELECT code FROM regress.error_of(format('SELECT sdp.sdp_classify(%L, %L, %L, batch_id => %L)', 'fw_a', 'age', 'not_pii', :'manifest_batch'));
SET ROLE regress_fw_engineer;
SELECT sdp.sdp_classify('fw_a', 'age', 'not_pii', batch_id => :'manifest_batch') > 0 AS reclassified;
SELECT sdp.sdp_classify('fw_a', 'income', 'not_pii', 'public', dataset => 'customers_2026') > 0 AS dataset_column;
SELECT code, message FROM regress.error_of(format('SELECT sdp.sdp_classify(%L, %L, %L, batch_id => %L)', 'fw_a', 'nope', 'email', :'manifest_batch'));
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_classify('fw_a', 'age', 'Not PII', dataset => 'd')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_classify('fw_a', 'age', 'email', 'secret', dataset => 'd')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_classify('fw_a', 'age', 'email')$$);
SELECT code, message FROM regress.error_of(format('SELECT sdp.sdp_classify(%L, %L, %L, batch_id => %L)', 'fw_b', 'age', 'email', :'manifest_batch'));
-- The governance view as engineers, analysts and auditors read it; clients cannot.
SELECT column_name, dataset IS NOT NULL AS dataset, transform, class, sensitivity, source, classified_by
  FROM sdp.column_classes WHERE client_id = 'fw_a' AND (batch_id = :'manifest_batch' OR dataset IS NOT NULL)
 ORDER BY 2, 1;
RESET ROLE;
SELECT details FROM sdp.audit_log WHERE event = 'column.classify' ORDER BY seq;
SELECT has_table_privilege('sdp_client', 'sdp.column_classes', 'SELECT') AS client_reads,
       has_table_privilege('sdp_auditor', 'sdp.column_classes', 'SELECT') AS auditor_reads,
       has_table_privilege('sdp_viewer', 'sdp.column_classes', 'SELECT') AS viewer_reads,
       has_table_privilege('sdp_engineer', 'sdp.column_classification', 'SELECT') AS engineer_reads_table;

-- ---- sdp.pii_firewall: only a superuser turns it off ------------------------------------------
SET ROLE regress_fw_admin;
SELECT code FROM regress.error_of($$SET sdp.pii_firewall = off$$);
RESET ROLE;
SET sdp.pii_firewall = off;
SELECT status FROM sdp.sdp_ingest_csv('fw_a', 'risk_scoring', pg_temp.csv('customer_id,note|c1,ann@example.com|'));
RESET sdp.pii_firewall;

-- ---- PostgREST: 422 with the refusal as body; the manifest as a header or a member ----------
SET SESSION AUTHORIZATION sdp_authenticator;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring'));
SELECT status, body, role FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv('customer_id,phone|c1,+1 415 555 2671|')));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process_file', json_build_object('content-type', 'text/plain', 'x-api-key', :'key_a', 'x-processing-type', 'risk_scoring',
                       'x-sdp-manifest', '{"phone": {"transform": "MASKED", "class": "phone"}}'));
SELECT status, regexp_replace(body, '[0-9a-f-]{36}', '<uuid>') AS body, role
  FROM regress.respond(format('SELECT sdp_api.process_file(%L)::text', pg_temp.csv('customer_id,phone|c1,***-***-2671|')));
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body, role FROM regress.respond($$SELECT sdp_api.process('[{"customer_id": "c1", "card": "5555 5555 5555 4444"}]', 'risk_scoring')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/process', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, regexp_replace(body, '[0-9a-f-]{36}', '<uuid>') AS body, role
  FROM regress.respond($$SELECT sdp_api.process('[{"customer_id": "c1", "card": "5555 5555 5555 4444"}]', 'risk_scoring',
                         manifest => '{"card": {"transform": "FF1", "class": "payment_card"}}')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/batch_open', json_build_object('content-type', 'application/json', 'x-api-key', :'key_a'));
SELECT status, body::json ->> 'status' AS batch_status, role
  FROM regress.respond($$SELECT sdp_api.batch_open('risk_scoring', manifest => '{"customer_id": {"transform": "HASH"}}')::text$$);
ROLLBACK;
RESET SESSION AUTHORIZATION;

DROP ROLE regress_fw_admin;
DROP ROLE regress_fw_engineer;
DROP ROLE regress_fw_analyst;
