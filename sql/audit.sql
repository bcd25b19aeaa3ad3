-- Audit log and access log (issue 7): append-only, hash-chained; sdp_audit_verify names the
-- first broken link; no raw PII and no secrets in any entry; reads are access-logged.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

SELECT max(seq) AS seq_before FROM sdp.audit_log \gset
SELECT coalesce(:'seq_before', '0')::bigint AS seq_before \gset
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();

-- Events of the data path, appended at commit.
\set key 'regress-gov-audit-key-0123456789abcdef012345'
SELECT sdp.sdp_create_client('gov_audit', :'key') IS NOT NULL AS created;
SELECT E'customer_id,email,age,income,balance,num_transactions\nc1,tok_alice,30,50000,1000,10\n' AS csv \gset
SELECT (sdp.sdp_ingest_csv('gov_audit', 'risk_scoring', :'csv')).batch_id AS batch \gset
SELECT status FROM sdp.sdp_process_batch(:'batch');
SELECT sdp.sdp_rotate_key('gov_audit', :'key' || 'x') IS NOT NULL AS rotated;
SELECT count(*) AS results FROM sdp.sdp_results(:'batch');
SELECT event, target = :'batch' AS is_batch, details ->> 'from' AS "from", details ->> 'to' AS "to"
  FROM sdp.audit_log WHERE seq > :seq_before AND (target IN ('gov_audit', :'batch'))
 ORDER BY seq;
-- The access log has the read (user, action, target, timestamp, outcome).
SELECT actor, action, target = :'batch' AS is_batch, outcome, rows, at IS NOT NULL AS has_time
  FROM sdp.access_log WHERE target = :'batch';

-- No secret and no PII in any entry: not the key, its hash or prefix, not a field value.
SELECT count(*) AS leaking_entries FROM sdp.audit_log l, sdp.api_client c
 WHERE c.client_id = 'gov_audit' AND l.seq > :seq_before
   AND (l.details::text LIKE '%' || :'key' || '%' OR l.details::text LIKE '%regress-gov%'
        OR l.details::text LIKE '%tok_alice%' OR l.details::text LIKE '%' || encode(c.key_hash, 'hex') || '%');

-- The chain links each entry to the previous one.
SELECT bool_and(l.prev_hash = p.entry_hash) AS linked, bool_and(octet_length(l.entry_hash) = 32) AS sha256
  FROM sdp.audit_log l JOIN sdp.audit_log p ON p.seq = l.seq - 1 WHERE l.seq > :seq_before;
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();

-- Append-only: UPDATE, DELETE, TRUNCATE refused, by trigger even for a superuser.
UPDATE sdp.audit_log SET event = 'x' WHERE seq = :seq_before + 1;
DELETE FROM sdp.audit_log WHERE seq = :seq_before + 1;
TRUNCATE sdp.audit_log;
-- and by privileges for everybody else (auditors read only).
SELECT r, has_table_privilege(r, 'sdp.audit_log', 'SELECT') AS sel,
       has_table_privilege(r, 'sdp.audit_log', 'INSERT') AS ins,
       has_table_privilege(r, 'sdp.audit_log', 'UPDATE') AS upd,
       has_table_privilege(r, 'sdp.audit_log', 'DELETE') AS del,
       has_table_privilege(r, 'sdp.audit_log', 'TRUNCATE') AS trunc
  FROM unnest(ARRAY['sdp_admin', 'sdp_auditor', 'sdp_engineer', 'sdp_client']) AS r ORDER BY r;

-- Break one entry after disabling the trigger (as superuser): sdp_audit_verify names it.
BEGIN;
ALTER TABLE sdp.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE sdp.audit_log SET details = details || '{"records": 999}' WHERE seq = :seq_before + 2;
SELECT seq - :seq_before AS broken_offset, reason FROM sdp.sdp_audit_verify();
ROLLBACK;
-- Deleting an entry is a gap; a forged entry with a recomputed hash still breaks the next link.
BEGIN;
ALTER TABLE sdp.audit_log DISABLE TRIGGER audit_log_append_only;
DELETE FROM sdp.audit_log WHERE seq = :seq_before + 3;
SELECT seq - :seq_before AS broken_offset, reason FROM sdp.sdp_audit_verify();
ROLLBACK;
BEGIN;
ALTER TABLE sdp.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE sdp.audit_log l SET target = 'forged',
       entry_hash = sha256(l.prev_hash || sdp._audit_canonical(l.seq, l.at, l.actor, l.login, l.client_id, l.event, 'forged', l.details))
 WHERE seq = :seq_before + 2;
SELECT seq - :seq_before AS broken_offset, reason FROM sdp.sdp_audit_verify();
ROLLBACK;
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();

-- PostgREST GET (READ ONLY): the read still answers; the access goes to the server log.
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT regress.request('GET', '/rpc/results', json_build_object('x-api-key', :'key' || 'x'));
SELECT sdp_api.pre_request();
SELECT count(*) AS rows FROM sdp_api.results(:'batch');
ROLLBACK;

-- Leave nothing behind (the audit log keeps the erasure event, of course).
SELECT sdp.sdp_forget_client('gov_audit') ->> 'status' AS forgotten;
SELECT event FROM sdp.audit_log WHERE target = 'gov_audit' ORDER BY seq DESC LIMIT 2;
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();
