-- Attacks on the governance controls (issue 16, items 7, 8, 12, 13 and the audit-chain head):
-- each block performs the attack and shows it now fails.
--   * reading the record/result tables directly, skipping the access log: refused for every role;
--   * hiding behind SET ROLE sdp_admin: the audit and access rows name the login too;
--   * deleting a record or result row: reads refuse (XX001), sdp_verify_integrity names the row;
--   * deleting a held client's staged rows through sdp_batch_abort, or TRUNCATE: refused;
--   * cutting the tail of the audit chain: caught by a head exported before the cut.
-- (A read rolled back afterwards still leaves a server-log line: test/e2e/read_trace.sh.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

\set key 'regress-gov-attacks-key-0123456789abcdef01'
SELECT sdp.sdp_create_client('gov_attack', :'key') IS NOT NULL AS created;
SELECT E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,50,80000,20000,40\nc3,41,61000,3000,12\n' AS csv \gset
SELECT (sdp.sdp_ingest_csv('gov_attack', 'risk_scoring', :'csv')).batch_id AS batch \gset
SELECT status FROM sdp.sdp_process_batch(:'batch');
CREATE ROLE regress_ga_client LOGIN IN ROLE sdp_client;
CREATE ROLE regress_ga_alice LOGIN IN ROLE sdp_admin;      -- a person who may SET ROLE sdp_admin
CREATE ROLE regress_ga_engineer LOGIN IN ROLE sdp_engineer;
CREATE ROLE regress_ga_auditor LOGIN IN ROLE sdp_auditor;

-- ---- 7: direct reads of the record and result tables are refused -----------------------------
-- An authenticated client (whose own rows RLS would show) and every staff role get 42501 for the
-- tables that hold tokenized fields and scores; the functions still answer.
SET SESSION AUTHORIZATION regress_ga_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key') AS tenant;
SELECT t, e.code FROM unnest(ARRAY['sdp.tokenized_record', 'sdp.processed_result', 'sdp.record_version']) t,
       LATERAL regress.error_of('SELECT count(*) FROM ' || t) e ORDER BY 1;
SELECT count(*) AS results_via_function FROM sdp.sdp_results(:'batch');
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT r, t, e.code
  FROM unnest(ARRAY['regress_ga_alice', 'regress_ga_engineer', 'regress_ga_auditor']) r,
       unnest(ARRAY['sdp.tokenized_record', 'sdp.processed_result', 'sdp.record_version']) t,
       LATERAL (SELECT has_table_privilege(r, t, 'SELECT') AS can_select) p,
       LATERAL (SELECT CASE WHEN p.can_select THEN 'allowed' ELSE '42501' END AS code) e
 ORDER BY 1, 2;
-- Nobody but superusers holds SELECT on them, directly or through a group (apart from
-- PostgreSQL's own pg_read_all_data, which nobody is a member of unless the deployer makes it so).
SELECT count(*) AS other_readers FROM pg_roles r,
       unnest(ARRAY['sdp.tokenized_record', 'sdp.processed_result', 'sdp.record_version']) t
 WHERE NOT r.rolsuper AND r.rolname <> 'pg_read_all_data' AND has_table_privilege(r.oid, t, 'SELECT');

-- ---- 8: SET ROLE sdp_admin does not hide the person --------------------------------------------
SELECT max(seq) AS seq_before FROM sdp.audit_log \gset
SET SESSION AUTHORIZATION regress_ga_alice;
SET ROLE sdp_admin;
SELECT current_user AS acting_as, session_user AS logged_in;
SELECT sdp.sdp_set_retention('gov_attack', '3650 days');
SELECT count(*) AS records FROM sdp.sdp_records(:'batch');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT event, actor, login FROM sdp.audit_log WHERE seq > :seq_before AND target = 'gov_attack';
SELECT action, actor, login FROM sdp.access_log WHERE target = :'batch' AND login = 'regress_ga_alice';
-- The login is part of the hashed entry: changing it breaks the chain.
BEGIN;
ALTER TABLE sdp.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE sdp.audit_log SET login = 'someone_else' WHERE seq > :seq_before AND target = 'gov_attack';
SELECT reason FROM sdp.sdp_audit_verify();
ROLLBACK;

-- ---- 12: deleted rows are detected --------------------------------------------------------------
-- As superuser (the only one who can): one record row and one result row of the batch.
SELECT count(*) AS checks_before FROM sdp.integrity_failure \gset
DELETE FROM sdp.tokenized_record WHERE batch_id = :'batch' AND row_no = 2;
DELETE FROM sdp.processed_result WHERE batch_id = :'batch' AND row_no = 3;
-- Every read refuses to serve the incomplete batch.
SELECT code, message
  FROM regress.error_of(format('SELECT count(*) FROM sdp.sdp_records(%L)', :'batch'));
SELECT code, message
  FROM regress.error_of(format('SELECT count(*) FROM sdp.sdp_results(%L)', :'batch'));
SELECT code FROM regress.error_of(format('SELECT sdp.sdp_results_csv(%L)', :'batch'));
-- sdp_verify_integrity names exactly the deleted rows, records them and audits them.
SELECT table_name, row_no, client_id, problem FROM sdp.sdp_verify_integrity(:'batch');
SELECT table_name, row_no, problem FROM sdp.sdp_verify_integrity() WHERE client_id = 'gov_attack';
SELECT count(*) - :checks_before AS new_failure_rows FROM sdp.integrity_failure;
SELECT details -> 'rows' AS rows, jsonb_path_query_array(details, '$.bad[*].problem') AS problems
  FROM sdp.audit_log WHERE event = 'integrity.failure' AND target = :'batch' ORDER BY seq DESC LIMIT 1;
-- Deleting every result of the batch is caught too.
DELETE FROM sdp.processed_result WHERE batch_id = :'batch';
SELECT table_name, count(*) AS missing FROM sdp.sdp_verify_integrity(:'batch') GROUP BY 1 ORDER BY 1;
-- Deleting the last rows and lowering the counters to match: the counts the audit chain recorded
-- at the seal and at PROCESSED still say 3.
SELECT (sdp.sdp_ingest_csv('gov_attack', 'risk_scoring', :'csv')).batch_id AS batch2 \gset
SELECT status FROM sdp.sdp_process_batch(:'batch2');
DELETE FROM sdp.tokenized_record WHERE batch_id = :'batch2' AND row_no = 3;
DELETE FROM sdp.processed_result WHERE batch_id = :'batch2' AND row_no = 3;
UPDATE sdp.processing_batch SET accepted_records = 2, processed_records = 2 WHERE batch_id = :'batch2';
SELECT code, message
  FROM regress.error_of(format('SELECT count(*) FROM sdp.sdp_results(%L)', :'batch2'));
SELECT table_name, row_no, problem FROM sdp.sdp_verify_integrity(:'batch2');

-- ---- 13: a legal hold stops sdp_batch_abort ---------------------------------------------------
-- The client stages rows in a chunked upload; an admin places a hold on the client; the client
-- tries to delete the staged rows by aborting the upload.
SET SESSION AUTHORIZATION regress_ga_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key') AS tenant;
SELECT (sdp.sdp_batch_open('gov_attack', 'risk_scoring')).batch_id AS staged \gset
SELECT sdp.sdp_batch_append(:'staged', 0, :'csv', encode(sha256(convert_to(:'csv', 'UTF8')), 'hex')) AS rows_staged;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT sdp.sdp_legal_hold('gov_attack', NULL, 'litigation') > 0 AS held;
SET SESSION AUTHORIZATION regress_ga_client;
BEGIN;
SELECT sdp.sdp_authenticate(:'key') AS tenant;
SELECT code, message
  FROM regress.error_of(format('SELECT sdp.sdp_batch_abort(%L, %L)', :'staged', 'cover tracks'));
COMMIT;
RESET SESSION AUTHORIZATION;
-- Nothing was deleted and the batch is still open.
SELECT status, accepted_records, (SELECT count(*) FROM sdp.tokenized_record r WHERE r.batch_id = b.batch_id) AS rows
  FROM sdp.processing_batch b WHERE batch_id = :'staged';
-- An engineer (who may abort any client's upload) is refused the same way.
SET SESSION AUTHORIZATION regress_ga_engineer;
SELECT code, message
  FROM regress.error_of(format('SELECT sdp.sdp_batch_abort(%L)', :'staged'));
RESET SESSION AUTHORIZATION;
-- TRUNCATE of the bulk tables is refused while a hold is active, superusers included.
SELECT code FROM regress.error_of('TRUNCATE sdp.tokenized_record');
SELECT code FROM regress.error_of('TRUNCATE sdp.processed_result');
SELECT code FROM regress.error_of('TRUNCATE sdp.processing_batch CASCADE');
SELECT count(*) AS rows_kept FROM sdp.tokenized_record WHERE batch_id = :'staged';
-- A superuser's direct DELETE of a held row is not stopped (no row trigger on the bulk tables),
-- but it is found: the row is missing.
BEGIN;
DELETE FROM sdp.tokenized_record WHERE batch_id = :'staged' AND row_no = 2;
SELECT table_name, row_no, problem FROM sdp.sdp_verify_integrity(:'staged');
ROLLBACK;
-- A hold on the batch alone works the same; once released, the abort goes through.
SELECT sdp.sdp_release_hold('gov_attack') AS released;
SELECT sdp.sdp_legal_hold(batch_id => :'staged', reason => 'batch only') > 0 AS held;
SELECT code FROM regress.error_of(format('SELECT sdp.sdp_batch_abort(%L)', :'staged'));
SELECT sdp.sdp_release_hold(batch_id => :'staged') AS released;
SELECT status, accepted_records FROM sdp.sdp_batch_abort(:'staged');
SELECT count(*) AS rows_left FROM sdp.tokenized_record WHERE batch_id = :'staged';

-- ---- audit chain head exported outside the database ------------------------------------------
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();
SELECT seq AS head_seq, entry_hash AS head_hash FROM sdp.sdp_audit_head() \gset
SELECT :head_seq = (SELECT max(seq) FROM sdp.audit_log) AS is_last, length(:'head_hash') AS hex_digits;
-- The chain grows; the exported head still verifies (the chain extends it).
SELECT sdp.sdp_set_retention('gov_attack', '3000 days');
SELECT count(*) AS problems FROM sdp.sdp_audit_verify_head(:head_seq, :'head_hash');
-- The auditor may export and verify; a client may not.
SET SESSION AUTHORIZATION regress_ga_auditor;
SELECT count(*) AS problems FROM sdp.sdp_audit_verify_head(:head_seq, :'head_hash');
SELECT seq > 0 AS auditor_reads_head FROM sdp.sdp_audit_head();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ga_client;
SELECT code FROM regress.error_of('SELECT sdp.sdp_audit_head()');
RESET SESSION AUTHORIZATION;
-- Malformed heads are refused.
SELECT code FROM regress.error_of('SELECT * FROM sdp.sdp_audit_verify_head(1, ''xyz'')');
SELECT code FROM regress.error_of('SELECT * FROM sdp.sdp_audit_verify_head(-1, repeat(''0'', 64))');
-- Attack 1, as superuser: cut the tail (the exported entry and after) and set the head back.
-- The chain itself is intact again, so sdp_audit_verify cannot see it; the exported head can.
BEGIN;
ALTER TABLE sdp.audit_log DISABLE TRIGGER audit_log_append_only;
DELETE FROM sdp.audit_log WHERE seq >= :head_seq;
UPDATE sdp.audit_head SET seq = l.seq, hash = l.entry_hash
  FROM sdp.audit_log l WHERE l.seq = :head_seq - 1;
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();
SELECT seq = :head_seq AS at_exported_seq, reason FROM sdp.sdp_audit_verify_head(:head_seq, :'head_hash');
-- Attack 2: after the cut, appending new events puts other entries at the same seq numbers.
ALTER TABLE sdp.audit_log ENABLE TRIGGER audit_log_append_only;
SELECT sdp.sdp_set_retention('gov_attack', '3001 days');
SELECT sdp.sdp_set_retention('gov_attack', '3002 days');
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();
SELECT seq = :head_seq AS at_exported_seq, reason FROM sdp.sdp_audit_verify_head(:head_seq, :'head_hash');
ROLLBACK;
SELECT count(*) AS problems FROM sdp.sdp_audit_verify_head(:head_seq, :'head_hash');

-- Leave nothing behind.
SELECT sdp.sdp_forget_client('gov_attack') ->> 'status' AS forgotten;
DROP ROLE regress_ga_client, regress_ga_alice, regress_ga_engineer, regress_ga_auditor;
