-- Integrity MACs (issue 7): every stored row and result carries an HMAC-SHA-256 with a key only
-- the extension owner reads; a row changed behind the API's back is found by
-- sdp_verify_integrity (exactly that row), counted, audited, and refused by API reads.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

-- The key: 32 bytes, owner only (no privilege for anybody, RLS forced).
SELECT octet_length(secret) AS key_bytes FROM sdp.integrity_secret;
SELECT has_table_privilege(r, 'sdp.integrity_secret', 'SELECT') AS can_read, r
  FROM unnest(ARRAY['sdp_admin', 'sdp_engineer', 'sdp_auditor', 'sdp_client']) AS r ORDER BY r;
SELECT has_function_privilege('sdp_admin', 'sdp._integrity_key()', 'EXECUTE') AS admin_reads_key;
SELECT count(*) AS key_settings FROM pg_settings WHERE name LIKE 'sdp.%' AND name ~ 'key|secret|integrity';

SELECT sdp.sdp_create_client('gov_integrity') IS NOT NULL AS created;
SELECT E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,50,80000,20000,40\nc3,41,61000,3000,12\n' AS csv \gset
SELECT (sdp.sdp_ingest_csv('gov_integrity', 'risk_scoring', :'csv')).batch_id AS batch \gset
SELECT status FROM sdp.sdp_process_batch(:'batch');
-- Chunked upload goes through the same C++ loader.
SELECT (sdp.sdp_batch_open('gov_integrity', 'risk_scoring')).batch_id AS chunked \gset
SELECT sdp.sdp_batch_append(:'chunked', 0, :'csv', sdp._sha256_hex(:'csv')) AS rows_so_far;
SELECT status FROM sdp.sdp_batch_seal(:'chunked', 1, sdp._sha256_hex(:'csv'));
SELECT (sdp.sdp_ingest_json('gov_integrity', 'risk_scoring',
        '[{"customer_id":"j1","age":"20","income":"1","balance":"2","num_transactions":"3"}]')).batch_id AS json \gset

-- Every row has a 32-byte MAC, and it is the MAC of its content.
SELECT count(*) AS rows, count(*) FILTER (WHERE octet_length(integrity_hmac) = 32) AS with_mac,
       bool_and(sdp._record_ok(sdp._integrity_key(), r)) AS all_ok
  FROM sdp.tokenized_record r WHERE batch_id IN (:'batch', :'chunked', :'json');
SELECT count(*) AS results, bool_and(sdp._result_ok(sdp._integrity_key(), r)) AS all_ok
  FROM sdp.processed_result r WHERE batch_id = :'batch';
SELECT count(*) AS bad FROM sdp.sdp_verify_integrity(:'batch');

-- The MAC covers every column: any change breaks it (checked on a copy, in a rolled-back block).
BEGIN;
SELECT sdp._record_ok(sdp._integrity_key(), (r.batch_id, r.row_no, r.client_id, r.record_key || 'x', r.fields, r.integrity_hmac)::sdp.tokenized_record) AS key_changed,
       sdp._record_ok(sdp._integrity_key(), (r.batch_id, r.row_no + 1, r.client_id, r.record_key, r.fields, r.integrity_hmac)::sdp.tokenized_record) AS row_moved,
       sdp._record_ok(sdp._integrity_key(), (r.batch_id, r.row_no, 'other', r.record_key, r.fields, r.integrity_hmac)::sdp.tokenized_record) AS client_changed,
       sdp._record_ok(sdp._integrity_key(), (r.batch_id, r.row_no, r.client_id, r.record_key, r.fields || '{x}'::text[], r.integrity_hmac)::sdp.tokenized_record) AS field_added,
       sdp._record_ok(sdp._integrity_key(), (r.batch_id, r.row_no, r.client_id, r.record_key, r.fields, NULL)::sdp.tokenized_record) AS mac_removed
  FROM sdp.tokenized_record r WHERE r.batch_id = :'batch' AND r.row_no = 1;
ROLLBACK;

-- Tamper as superuser: one record field and one score.
SELECT sdp.sdp_integrity_failures_total() AS failures_before \gset
SELECT count(*) AS audit_before FROM sdp.audit_log WHERE event = 'integrity.failure' \gset
UPDATE sdp.tokenized_record SET fields[2] = 'tampered' WHERE batch_id = :'batch' AND row_no = 2;
UPDATE sdp.processed_result SET score = 0.01 WHERE batch_id = :'batch' AND row_no = 3;

-- API reads refuse the changed data (XX001) rather than serve it.
SELECT count(*) FROM sdp.sdp_results(:'batch');
SELECT length(sdp.sdp_results_csv(:'batch')) > 0;
SELECT count(*) FROM sdp.sdp_records(:'batch');
-- Other batches are unaffected.
SELECT count(*) AS json_rows FROM sdp.sdp_records(:'json');

-- sdp_verify_integrity finds exactly those rows (by batch and across everything).
SELECT table_name, batch = :'batch' AS same_batch, row_no, client_id FROM sdp.sdp_verify_integrity(:'batch');
SELECT table_name, row_no FROM sdp.sdp_verify_integrity() WHERE client_id = 'gov_integrity';
-- Counted and audited (two checks, two rows each), with identifiers only.
SELECT sdp.sdp_integrity_failures_total() - :failures_before AS new_failures;
SELECT count(*) - :audit_before AS new_audit_events FROM sdp.audit_log WHERE event = 'integrity.failure';
SELECT target = :'batch' AS target_is_batch, details -> 'rows' AS rows,
       jsonb_path_query_array(details, '$.bad[*].table') AS tables,
       jsonb_path_query_array(details, '$.bad[*].row_no') AS row_nos,
       details::text LIKE '%tampered%' AS leaks_value
  FROM sdp.audit_log WHERE event = 'integrity.failure' AND target = :'batch';
-- The shared-memory counter of the metrics exporter moved too (when the library is preloaded).
SELECT count(*) > 0 AS exported FROM sdp.sdp_metrics_samples()
 WHERE name = 'record_integrity_failures_total' AND value >= 4;

-- A record whose MAC is bad cannot be edited.
SELECT sdp.sdp_update_record(sdp.sdp_record_id(:'batch', 2), '{"age": "40"}');

-- Leave nothing behind.
SELECT sdp.sdp_forget_client('gov_integrity') ->> 'status' AS forgotten;
