-- Governance roles (issue 7): every role against every action, allow or the SQLSTATE of the
-- denial (42501 = HTTP 403 through PostgREST). Each action runs in a subtransaction that is
-- always rolled back, so the matrix changes nothing and cells do not depend on each other, with
-- one designed exception: a differentially private release that is allowed commits its privacy
-- charge in a background worker before it returns (80_privacy.sql), so those cells spend budget
-- (granted generously below).
-- Roles: the staff roles (issue 7), the PostgREST roles (sdp_client with its key, sdp_anon), the
-- differentially private analyst (issue 18: statistics on granted datasets, never a row), and a
-- login holding none of them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

CREATE FUNCTION pg_temp.try(stmt text, api_key text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  IF api_key IS NOT NULL THEN
    PERFORM sdp.sdp_authenticate(api_key);
  END IF;
  EXECUTE stmt;
  RAISE EXCEPTION USING ERRCODE = 'SDPOK';
EXCEPTION
  WHEN SQLSTATE 'SDPOK' THEN RETURN 'allow';
  WHEN OTHERS THEN RETURN SQLSTATE;
END $$;

-- The group roles exist, cannot log in and do not bypass RLS.
SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles
 WHERE rolname IN ('sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer', 'sdp_client',
                   'sdp_anon', 'sdp_dp_analyst')
 ORDER BY 1;

CREATE ROLE regress_gov_admin LOGIN IN ROLE sdp_admin;
CREATE ROLE regress_gov_engineer LOGIN IN ROLE sdp_engineer;
CREATE ROLE regress_gov_analyst LOGIN IN ROLE sdp_analyst;
CREATE ROLE regress_gov_auditor LOGIN IN ROLE sdp_auditor;
CREATE ROLE regress_gov_viewer LOGIN IN ROLE sdp_viewer;
CREATE ROLE regress_gov_client LOGIN IN ROLE sdp_client;
CREATE ROLE regress_gov_anon LOGIN IN ROLE sdp_anon;
CREATE ROLE regress_gov_dp LOGIN IN ROLE sdp_dp_analyst;
CREATE ROLE regress_gov_nobody LOGIN;

\set key 'regress-gov-roles-key-0123456789abcdef0123'
SELECT E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,50,80000,20000,40\n' AS csv \gset
SELECT sdp.sdp_create_client('gov_roles', :'key') IS NOT NULL AS created;
SELECT (sdp.sdp_ingest_csv('gov_roles', 'risk_scoring', :'csv')).batch_id AS batch \gset
SELECT (sdp.sdp_ingest_csv('gov_roles', 'risk_scoring', :'csv')).batch_id AS received \gset
SELECT status FROM sdp.sdp_process_batch(:'batch');
SELECT sdp.sdp_record_id(:'batch', 1) AS record \gset
-- A pending proposal by the analyst, for the approve/reject cells.
SET ROLE regress_gov_analyst;
SELECT (sdp.sdp_update_record(:'record', '{"age": "33"}') ->> 'version_id') AS pending \gset
RESET ROLE;
-- Two differentially private datasets: a table, and the client's processed batches (a view in
-- schema sdp). The DP analyst holds a grant on the first; nobody else does.
CREATE TABLE public.regress_gov_dp_people AS
  SELECT 'u' || i AS person, (i % 3)::text AS band, (i % 100)::numeric AS income
    FROM generate_series(1, 200) i;
SELECT (sdp.sdp_dp_register('gov_dp', 'public.regress_gov_dp_people', 'person', 1, 100)).name;
SELECT (sdp.sdp_dp_register_batches('gov_dp_batches', 'gov_roles', 'risk_scoring', 1, 100)).name;
SELECT grantee FROM sdp.sdp_dp_grant('regress_gov_dp', 'gov_dp', 50);

CREATE TEMP TABLE action (ord int, action text, stmt text);
INSERT INTO action VALUES
  (1,  'create_client',    $$SELECT sdp.sdp_create_client('gov_roles_new')$$),
  (2,  'rotate_key',       $$SELECT sdp.sdp_rotate_key('gov_roles')$$),
  (3,  'upload',           format($$SELECT sdp.sdp_ingest_csv('gov_roles', 'risk_scoring', %L)$$, :'csv')),
  (4,  'process',          format('SELECT sdp.sdp_process_batch(%L)', :'received')),
  (5,  'batch_status',     format('SELECT sdp.sdp_batch_status(%L::uuid)', :'batch')),
  (6,  'batch_counts',     'SELECT count(*) FROM sdp.sdp_batch_counts()'),
  (7,  'read_records',     format('SELECT count(*) FROM sdp.sdp_records(%L)', :'batch')),
  (8,  'read_results',     format('SELECT count(*) FROM sdp.sdp_results(%L)', :'batch')),
  (9,  'update_record',    format($$SELECT sdp.sdp_update_record(%L, '{"age": "31"}')$$, :'record')),
  (10, 'approve_version',  format('SELECT sdp.sdp_approve_version(%s)', :'pending')),
  (11, 'reject_version',   format('SELECT sdp.sdp_reject_version(%s)', :'pending')),
  (12, 'record_history',   format('SELECT count(*) FROM sdp.sdp_record_history(%L)', :'record')),
  (13, 'record_versions',  'SELECT count(*) FROM sdp.record_version'),
  (14, 'audit_log',        'SELECT count(*) FROM sdp.audit_log'),
  (15, 'audit_verify',     'SELECT count(*) FROM sdp.sdp_audit_verify()'),
  (16, 'access_log',       'SELECT count(*) FROM sdp.access_log'),
  (17, 'verify_integrity', format('SELECT count(*) FROM sdp.sdp_verify_integrity(%L)', :'batch')),
  (18, 'legal_hold',       $$SELECT sdp.sdp_legal_hold('gov_roles', NULL, 'matrix')$$),
  (19, 'release_hold',     $$SELECT sdp.sdp_release_hold('gov_roles')$$),
  (20, 'set_retention',    $$SELECT sdp.sdp_set_retention('gov_roles', '30 days')$$),
  (21, 'purge_expired',    $$SELECT count(*) FROM sdp.sdp_purge_expired('1970-01-01', 1)$$),
  (22, 'forget_batch',     format('SELECT sdp.sdp_forget_batch(%L)', :'batch')),
  (23, 'forget_client',    $$SELECT sdp.sdp_forget_client('gov_roles')$$),
  (24, 'write_records',    'UPDATE sdp.tokenized_record SET record_key = record_key'),
  (25, 'write_audit_log',  'DELETE FROM sdp.audit_log'),
  -- Reading the record and result tables directly would skip the access log and the integrity
  -- check: refused for every role (reads go through sdp_records / sdp_results).
  (26, 'select_records',   'SELECT count(*) FROM sdp.tokenized_record'),
  (27, 'select_results',   'SELECT count(*) FROM sdp.processed_result'),
  (28, 'audit_head',       'SELECT seq FROM sdp.sdp_audit_head()'),
  -- Differentially private statistics (issue 18). Registering, granting and declaring public
  -- values is for admins; the queries are for whoever may execute them AND holds a grant (admin
  -- may execute, but without a grant the answer is PT403); the rows of a dataset, the grants,
  -- the bounding key and the ledger's history are nobody's to read or change directly.
  (29, 'dp_register',      $$SELECT sdp.sdp_dp_register('gov_dp_new', 'public.regress_gov_dp_people', 'person', 1, 10)$$),
  (30, 'dp_register_batches', $$SELECT sdp.sdp_dp_register_batches('gov_dp_b2', 'gov_roles', 'risk_scoring', 1, 10)$$),
  (31, 'dp_grant',         $$SELECT sdp.sdp_dp_grant('regress_gov_dp', 'gov_dp', 60)$$),
  (32, 'dp_public_values', $$SELECT sdp.sdp_dp_public_values('gov_dp', 'band', ARRAY['0', '1', '2'])$$),
  (33, 'dp_api_enable',    $$SELECT sdp.sdp_api_enable_analyst('regress_gov_dp')$$),
  (34, 'dp_budget',        $$SELECT count(*) FROM sdp.sdp_dp_budget('gov_dp')$$),
  (35, 'dp_count',         $$SELECT count(*) FROM sdp.sdp_dp_count('gov_dp', 0.1)$$),
  (36, 'dp_sum',           $$SELECT count(*) FROM sdp.sdp_dp_sum('gov_dp', 'income', 0, 100, 0.1)$$),
  (37, 'dp_avg',           $$SELECT count(*) FROM sdp.sdp_dp_avg('gov_dp', 'income', 0, 100, 0.1)$$),
  (38, 'dp_histogram',     $$SELECT count(*) FROM sdp.sdp_dp_histogram('gov_dp', 'income', '{0,50,100}', 0.1)$$),
  (39, 'dp_quantiles',     $$SELECT count(*) FROM sdp.sdp_dp_quantiles('gov_dp', 'income', 0, 100, '{0.5}', 0.1)$$),
  (40, 'api_dp_budget',    $$SELECT count(*) FROM sdp_api.dp_budget('gov_dp')$$),
  (41, 'api_dp_count',     $$SELECT count(*) FROM sdp_api.dp_count('gov_dp', 0.1)$$),
  (42, 'api_dp_sum',       $$SELECT count(*) FROM sdp_api.dp_sum('gov_dp', 'income', 0, 100, 0.1)$$),
  (43, 'api_dp_avg',       $$SELECT count(*) FROM sdp_api.dp_avg('gov_dp', 'income', 0, 100, 0.1)$$),
  (44, 'api_dp_histogram', $$SELECT count(*) FROM sdp_api.dp_histogram('gov_dp', 'income', '{0,50,100}', 0.1)$$),
  (45, 'api_dp_quantiles', $$SELECT count(*) FROM sdp_api.dp_quantiles('gov_dp', 'income', 0, 100, '{0.5}', 0.1)$$),
  (46, 'dp_dataset_rows',  'SELECT count(*) FROM public.regress_gov_dp_people'),
  (47, 'dp_batches_rows',  'SELECT count(*) FROM sdp.dp_batches_gov_dp_batches'),
  (48, 'dp_ledger',        'SELECT count(*) FROM sdp.dp_ledger'),
  (49, 'write_dp_ledger',  'DELETE FROM sdp.dp_ledger'),
  (50, 'dp_grants',        'SELECT count(*) FROM sdp.dp_grant'),
  (51, 'dp_datasets',      'SELECT count(*) FROM sdp.dp_dataset'),
  (52, 'dp_bounding_key',  'SELECT count(bounding_key) FROM sdp.dp_dataset'),
  (53, 'write_dp_grant',   'UPDATE sdp.dp_grant SET epsilon_spent = 0'),
  -- Column classification and the PII firewall (82_firewall.sql).
  (54, 'classify',         format($$SELECT sdp.sdp_classify('gov_roles', 'age', 'not_pii', batch_id => %L)$$, :'batch')),
  (55, 'firewall_allow',   $$SELECT sdp.sdp_firewall_allow('gov_roles', 'account_no', 'payment_card')$$),
  (56, 'column_classes',   'SELECT count(*) FROM sdp.column_classes');
CREATE TEMP TABLE matrix (ord int, role text, outcome text);
GRANT SELECT ON action TO PUBLIC;
GRANT INSERT ON matrix TO PUBLIC;

SET ROLE regress_gov_admin;
INSERT INTO matrix SELECT ord, 'admin', pg_temp.try(stmt) FROM action;
SET ROLE regress_gov_engineer;
INSERT INTO matrix SELECT ord, 'engineer', pg_temp.try(stmt) FROM action;
SET ROLE regress_gov_analyst;
INSERT INTO matrix SELECT ord, 'analyst', pg_temp.try(stmt) FROM action;
SET ROLE regress_gov_auditor;
INSERT INTO matrix SELECT ord, 'auditor', pg_temp.try(stmt) FROM action;
SET ROLE regress_gov_viewer;
INSERT INTO matrix SELECT ord, 'viewer', pg_temp.try(stmt) FROM action;
SET ROLE regress_gov_client;
INSERT INTO matrix SELECT ord, 'client', pg_temp.try(stmt, :'key') FROM action;
SET ROLE regress_gov_anon;
INSERT INTO matrix SELECT ord, 'anon', pg_temp.try(stmt) FROM action;
SET ROLE regress_gov_dp;
INSERT INTO matrix SELECT ord, 'dp_analyst', pg_temp.try(stmt) FROM action;
SET ROLE regress_gov_nobody;
INSERT INTO matrix SELECT ord, 'nobody', pg_temp.try(stmt) FROM action;
RESET ROLE;

SELECT a.action,
       max(m.outcome) FILTER (WHERE m.role = 'admin')    AS admin,
       max(m.outcome) FILTER (WHERE m.role = 'engineer') AS engineer,
       max(m.outcome) FILTER (WHERE m.role = 'analyst')  AS analyst,
       max(m.outcome) FILTER (WHERE m.role = 'auditor')  AS auditor,
       max(m.outcome) FILTER (WHERE m.role = 'viewer')   AS viewer,
       max(m.outcome) FILTER (WHERE m.role = 'client')   AS client,
       max(m.outcome) FILTER (WHERE m.role = 'anon')     AS anon,
       max(m.outcome) FILTER (WHERE m.role = 'dp_analyst') AS dp_analyst,
       max(m.outcome) FILTER (WHERE m.role = 'nobody')   AS nobody
  FROM action a JOIN matrix m USING (ord)
 GROUP BY a.ord, a.action ORDER BY a.ord;

-- What an analyst's edit is and an engineer's edit is (the seed's "Analyst edit blocked or
-- proposed, Engineer edit succeeds").
SET ROLE regress_gov_analyst;
SELECT sdp.sdp_update_record(:'record', '{"age": "34"}') - 'version_id' - 'record_id' AS analyst_edit;
SET ROLE regress_gov_engineer;
SELECT sdp.sdp_update_record(:'record', '{"age": "35"}') - 'version_id' - 'record_id' AS engineer_edit;
RESET ROLE;
SELECT fields[2] AS age FROM sdp.tokenized_record WHERE batch_id = :'batch' AND row_no = 1;
-- A client acting through its key is never staff, even if it also held a staff role.
GRANT sdp_engineer TO regress_gov_client;
SET ROLE regress_gov_client;
SELECT pg_temp.try(format($$SELECT sdp.sdp_update_record(%L, '{"age": "36"}')$$, :'record'), :'key') AS client_with_key_edit;
RESET ROLE;
REVOKE sdp_engineer FROM regress_gov_client;

-- The DP analyst spent only through the allowed cells, 0.1 each, on its own grant; its ledger
-- rows are the only ones it sees; the relations of both datasets are readable by their owner
-- alone.
SELECT grantee, epsilon_spent FROM sdp.dp_grant WHERE dataset = 'gov_dp' ORDER BY 1;
SELECT grantee = current_user AS superuser_granted FROM sdp.sdp_dp_grant(current_user, 'gov_dp', 1);
SELECT count(*) AS superuser_release FROM sdp.sdp_dp_count('gov_dp', 0.1);
SELECT count(*) FILTER (WHERE actor = 'regress_gov_dp') AS analyst_rows,
       count(*) FILTER (WHERE actor <> 'regress_gov_dp') AS other_rows
  FROM sdp.dp_ledger WHERE dataset = 'gov_dp';
SET ROLE regress_gov_dp;
SELECT count(*) FILTER (WHERE actor = 'regress_gov_dp') AS analyst_sees_own,
       count(*) FILTER (WHERE actor <> 'regress_gov_dp') AS analyst_sees_others
  FROM sdp.dp_ledger;
RESET ROLE;
SELECT r AS role,
       has_table_privilege(r, 'public.regress_gov_dp_people', 'SELECT') AS dataset_table,
       has_table_privilege(r, 'sdp.dp_batches_gov_dp_batches', 'SELECT') AS batches_view
  FROM unnest(ARRAY['sdp_dp_analyst', 'sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor',
                    'sdp_viewer', 'sdp_client', 'sdp_anon', 'sdp_authenticator']) r;

-- Leave nothing behind.
DROP VIEW sdp.dp_batches_gov_dp_batches;  -- not a member of the extension (sql/privacy.sql)
DROP TABLE public.regress_gov_dp_people;
SELECT (sdp.sdp_forget_client('gov_roles') ->> 'status') AS forgotten;
DROP ROLE regress_gov_admin, regress_gov_engineer, regress_gov_analyst, regress_gov_auditor,
          regress_gov_viewer, regress_gov_client, regress_gov_anon, regress_gov_dp, regress_gov_nobody;
