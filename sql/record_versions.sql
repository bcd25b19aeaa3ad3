-- Record versions with approval (issue 7): analyst proposes, engineer edits and approves,
-- auditor sees the history; stale approvals and bad patches are refused.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate
CREATE ROLE regress_ver_engineer LOGIN IN ROLE sdp_engineer;
CREATE ROLE regress_ver_analyst LOGIN IN ROLE sdp_analyst;
CREATE ROLE regress_ver_auditor LOGIN IN ROLE sdp_auditor;

SELECT sdp.sdp_create_client('gov_versions') IS NOT NULL AS created;
SELECT E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,50,80000,20000,40\n' AS csv \gset
SELECT (sdp.sdp_ingest_csv('gov_versions', 'risk_scoring', :'csv')).batch_id AS batch \gset
SELECT sdp.sdp_record_id(:'batch', 1) AS rec \gset

-- Never edited: the history is the uploaded row.
SET ROLE regress_ver_auditor;
SELECT version_no, status, fields, proposed_by FROM sdp.sdp_record_history(:'rec');
-- The auditor changes nothing.
SELECT sdp.sdp_update_record(:'rec', '{"age": "31"}');

-- Analyst: a pending proposal; the record is unchanged.
SET ROLE regress_ver_analyst;
SELECT sdp.sdp_update_record(:'rec', '{"age": "31", "income": "52000"}') - 'version_id' - 'record_id' AS proposal;
SELECT max(version_id) AS p1 FROM sdp.sdp_record_history(:'rec') \gset
-- ... cannot approve it.
SELECT sdp.sdp_approve_version(:p1);
RESET ROLE;
SELECT fields FROM sdp.tokenized_record WHERE batch_id = :'batch' AND row_no = 1;

-- Engineer approves: version 2 becomes current, the row is rewritten with a fresh MAC.
SET ROLE regress_ver_engineer;
SELECT sdp.sdp_approve_version(:p1) - 'version_id' - 'record_id' AS approved;
SELECT sdp.sdp_approve_version(:p1);  -- not pending any more: PT409
RESET ROLE;
SELECT fields FROM sdp.tokenized_record WHERE batch_id = :'batch' AND row_no = 1;
SELECT count(*) AS bad FROM sdp.sdp_verify_integrity(:'batch');

-- A stale proposal (the record changed since) cannot be approved; it can be rejected.
SET ROLE regress_ver_analyst;
SELECT (sdp.sdp_update_record(:'rec', '{"balance": "1"}') ->> 'version_id') AS p2 \gset
SET ROLE regress_ver_engineer;
SELECT sdp.sdp_update_record(:'rec', '{"num_transactions": "11"}') - 'version_id' - 'record_id' AS direct_edit;
SELECT sdp.sdp_approve_version(:p2);
SELECT sdp.sdp_reject_version(:p2) - 'version_id' - 'record_id' AS rejected;
-- Editing the key column changes the record key (a token, like every value).
SELECT sdp.sdp_update_record(sdp.sdp_record_id(:'batch', 2), '{"customer_id": "c2b"}') ->> 'status' AS key_edit;
RESET ROLE;
SELECT row_no, record_key FROM sdp.tokenized_record WHERE batch_id = :'batch' ORDER BY row_no;

-- Bad input.
SET ROLE regress_ver_engineer;
SELECT sdp.sdp_update_record(:'rec', '{"no_such_column": "1"}');
SELECT sdp.sdp_update_record(:'rec', '{}');
SELECT sdp.sdp_update_record(:'rec', '[1]');
SELECT sdp.sdp_update_record(:'rec', '{"age": {"x": 1}}');
SELECT sdp.sdp_update_record('not-a-record', '{"age": "1"}');
SELECT sdp.sdp_update_record(sdp.sdp_record_id(:'batch', 99), '{"age": "1"}');
SELECT sdp.sdp_approve_version(-1);

-- The auditor sees the whole history: who and when.
SET ROLE regress_ver_auditor;
SELECT version_no, status, base_version, changed_columns, fields[2:5] AS fields,
       proposed_by, decided_by, proposed_at IS NOT NULL AS at, (decided_at IS NOT NULL) AS decided
  FROM sdp.sdp_record_history(:'rec') ORDER BY version_id;
RESET ROLE;
-- Audit events name the columns, never the values.
SELECT event, details -> 'columns' AS columns, actor
  FROM sdp.audit_log WHERE target = :'rec' ORDER BY seq;

-- Leave nothing behind.
SELECT sdp.sdp_forget_client('gov_versions') ->> 'status' AS forgotten;
SELECT count(*) AS versions_left FROM sdp.record_version WHERE batch_id = :'batch';
DROP ROLE regress_ver_engineer, regress_ver_analyst, regress_ver_auditor;
