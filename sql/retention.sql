-- Legal hold, retention and erasure (issue 7): a hold blocks forget and purge (refused and
-- audited); the purge on a shifted clock deletes only expired, unheld batches.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

SELECT sdp.sdp_create_client('gov_ret_a') IS NOT NULL AS a, sdp.sdp_create_client('gov_ret_b') IS NOT NULL AS b;
SELECT E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,50,80000,20000,40\n' AS csv \gset
SELECT (sdp.sdp_ingest_csv('gov_ret_a', 'risk_scoring', :'csv')).batch_id AS a_old \gset
SELECT (sdp.sdp_ingest_csv('gov_ret_a', 'risk_scoring', :'csv')).batch_id AS a_held \gset
SELECT (sdp.sdp_ingest_csv('gov_ret_a', 'risk_scoring', :'csv')).batch_id AS a_new \gset
SELECT (sdp.sdp_ingest_csv('gov_ret_b', 'risk_scoring', :'csv')).batch_id AS b_old \gset
SELECT status FROM sdp.sdp_process_batch(:'a_old');
-- Ages: 40 days, 40 days, 1 day, 400 days (created_at is set here; the clock is injected below).
UPDATE sdp.processing_batch SET created_at = '2030-01-01'::timestamptz - interval '40 days' WHERE batch_id IN (:'a_old', :'a_held');
UPDATE sdp.processing_batch SET created_at = '2030-01-01'::timestamptz - interval '1 day' WHERE batch_id = :'a_new';
UPDATE sdp.processing_batch SET created_at = '2030-01-01'::timestamptz - interval '400 days' WHERE batch_id = :'b_old';

-- Retention: 30 days for a; none for b (kept for ever).
SELECT sdp.sdp_set_retention('gov_ret_a', '30 days');
SELECT sdp.sdp_set_retention('gov_ret_a', '-1 day');
SELECT sdp.sdp_set_retention('nobody_here', '1 day');
SELECT client_id, ttl FROM sdp.retention_policy WHERE client_id LIKE 'gov_ret_%';

-- Hold one batch.
SELECT sdp.sdp_legal_hold(batch_id => :'a_held', reason => 'case 17') > 0 AS held;
SELECT sdp.sdp_legal_hold(reason => 'nothing to hold');
SELECT sdp.sdp_legal_hold('gov_ret_a', :'a_held', 'both');
SELECT sdp.sdp_legal_hold('gov_ret_a', NULL, NULL);

-- Held: cannot be forgotten (refused, status held, audited), nor deleted directly by a superuser.
BEGIN;
SELECT sdp.sdp_forget_batch(:'a_held') - 'batch_id' AS forget_held;
SELECT current_setting('response.status', true) AS http_status;  -- PostgREST answers 409
COMMIT;
DELETE FROM sdp.processing_batch WHERE batch_id = :'a_held';
SELECT event FROM sdp.audit_log WHERE target = :'a_held' ORDER BY seq DESC LIMIT 1;

-- Purge at 2030-01-01 (injected clock), one batch per transaction: a_old goes; a_held (held),
-- a_new (not expired) and b_old (no policy) stay.
SELECT batch_id = :'a_old' AS is_a_old, client_id, records, results FROM sdp.sdp_purge_expired('2030-01-01', 1);
SELECT count(*) AS purged_again FROM sdp.sdp_purge_expired('2030-01-01', 1);
SELECT b.batch_id = :'a_held' AS a_held, b.batch_id = :'a_new' AS a_new, b.batch_id = :'b_old' AS b_old
  FROM sdp.processing_batch b WHERE b.client_id LIKE 'gov_ret_%' ORDER BY 1, 2, 3;
SELECT count(*) AS rows_left_of_a_old FROM sdp.tokenized_record WHERE batch_id = :'a_old';
SELECT event, details ->> 'records' AS records FROM sdp.audit_log WHERE target = :'a_old' ORDER BY seq DESC LIMIT 1;
SELECT event, jsonb_array_length(details -> 'batches') AS held_batches
  FROM sdp.audit_log WHERE event = 'retention.skip_held' ORDER BY seq DESC LIMIT 1;
-- An earlier clock: nothing has expired yet.
SELECT count(*) AS purged_now FROM sdp.sdp_purge_expired(now => '2029-12-01');

-- A client-wide hold stops sdp_forget_client; releasing it lets erasure through.
SELECT sdp.sdp_legal_hold('gov_ret_b', NULL, 'regulator') > 0 AS held;
SELECT sdp.sdp_forget_client('gov_ret_b') - 'client_id' AS forget_held_client;
SELECT sdp.sdp_forget_batch(:'b_old') ->> 'status' AS forget_batch_of_held_client;
SELECT sdp.sdp_release_hold('gov_ret_b') AS released;
SELECT sdp.sdp_release_hold('gov_ret_b') AS released_again;
SELECT sdp.sdp_forget_client('gov_ret_b') - 'client_id' AS forget_client;
SELECT count(*) AS b_left FROM sdp.api_client WHERE client_id = 'gov_ret_b';

-- Release the batch hold; forget_batch returns what it deleted.
SELECT sdp.sdp_release_hold(batch_id => :'a_held') AS released;
SELECT sdp.sdp_forget_batch(:'a_held') - 'batch_id' AS forget_batch;
SELECT sdp.sdp_forget_batch(:'a_held');
SELECT sdp.sdp_forget_client('gov_ret_a') - 'client_id' AS forget_client;
SELECT count(*) AS retention_left FROM sdp.retention_policy WHERE client_id LIKE 'gov_ret_%';
SELECT event FROM sdp.audit_log WHERE target IN ('gov_ret_a', 'gov_ret_b') AND event LIKE 'erasure%' ORDER BY seq;
SELECT count(*) AS chain_breaks FROM sdp.sdp_audit_verify();
