-- Attacks on privileges granted for PostgREST's sake (issue 18 follow-up): each block performs
-- the attack and shows it now fails.
--   * a login allowed to execute sdp._metrics_request (every role PostgREST switches to must,
--     for pre_request) inflated sdp_api_requests_total at will, one request per transaction;
--   * sdp_admin could add any amount to any unlabelled counter with sdp.sdp_metrics_count
--     (fake integrity or auth failures, alerts on demand);
--   * PUBLIC had USAGE on schema sdp: any login of the cluster could use it;
--   * (issue 22) the authenticator became a member of the governance roles for the dashboard's
--     tokens: shown to give it no privilege of its own and no API-key path to those roles.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

CREATE ROLE regress_pa_client LOGIN IN ROLE sdp_client;
CREATE ROLE regress_pa_anon LOGIN IN ROLE sdp_anon;
CREATE ROLE regress_pa_dp LOGIN IN ROLE sdp_dp_analyst;
CREATE ROLE regress_pa_admin LOGIN IN ROLE sdp_admin;
CREATE ROLE regress_pa_nobody LOGIN;

-- Shared-memory counters as rows, and what moved since the last snapshot.
CREATE TABLE public.regress_pa_before AS
  SELECT s.name, s.labels, s.value FROM sdp.sdp_metrics_samples() s WHERE s.name LIKE 'sdp\_%\_total';
CREATE FUNCTION pg_temp.moved() RETURNS TABLE(name text, labels jsonb, delta float8)
LANGUAGE sql AS $$
  SELECT s.name, s.labels, s.value - coalesce(b.value, 0)
    FROM sdp.sdp_metrics_samples() s
    LEFT JOIN public.regress_pa_before b ON b.name = s.name AND b.labels = s.labels
   WHERE s.name LIKE 'sdp\_%\_total' AND s.value <> coalesce(b.value, 0)
   ORDER BY 1, 2
$$;
CREATE FUNCTION pg_temp.snapshot() RETURNS void
LANGUAGE sql AS $$
  TRUNCATE public.regress_pa_before;
  INSERT INTO public.regress_pa_before
    SELECT s.name, s.labels, s.value FROM sdp.sdp_metrics_samples() s WHERE s.name LIKE 'sdp\_%\_total';
$$;

-- ---- request counter inflation ----------------------------------------------------------------
-- Each login below may execute sdp._metrics_request and sdp_api.pre_request; each runs 20
-- transactions that call them directly (a script in a loop). None of it counts: only
-- PostgREST's sessions (logged in as sdp_authenticator) and superusers count requests.
SELECT r AS login, has_function_privilege(r, 'sdp._metrics_request(text)', 'EXECUTE') AS may_execute
  FROM unnest(ARRAY['regress_pa_client', 'regress_pa_anon', 'regress_pa_dp']) r;
\set ECHO none
\o /dev/null
SET SESSION AUTHORIZATION regress_pa_client;
SELECT format('SELECT sdp._metrics_request(%L)', '/rpc/process') FROM generate_series(1, 20) \gexec
SELECT 'SELECT regress.error_of(''SELECT sdp_api.pre_request()'')' FROM generate_series(1, 20) \gexec
SET SESSION AUTHORIZATION regress_pa_anon;
SELECT format('SELECT sdp._metrics_request(%L)', '/rpc/health') FROM generate_series(1, 20) \gexec
SET SESSION AUTHORIZATION regress_pa_dp;
SELECT format('SELECT sdp._metrics_request(%L)', '/rpc/dp_count') FROM generate_series(1, 20) \gexec
RESET SESSION AUTHORIZATION;
\o
\set ECHO all
SELECT * FROM pg_temp.moved();
-- PostgREST's own request still counts, once: its session is sdp_authenticator.
SET SESSION AUTHORIZATION sdp_authenticator;
BEGIN READ ONLY;
SELECT regress.request('GET', '/rpc/health', '{}');
SELECT sdp_api.pre_request();
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT * FROM pg_temp.moved();
SELECT pg_temp.snapshot();

-- ---- sdp_metrics_count is the owner's ---------------------------------------------------------
-- The functions that count (sdp_authenticate, the integrity checks) are SECURITY DEFINER and
-- call it as the owner; no role needs it.
SET ROLE regress_pa_admin;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_metrics_count('record_integrity_failures_total', 1000000)$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_metrics_count('sdp_auth_failures_total', 1000)$$);
RESET ROLE;
SELECT * FROM pg_temp.moved();
SELECT r AS may_count
  FROM unnest(ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer',
                    'sdp_client', 'sdp_anon', 'sdp_dp_analyst', 'sdp_authenticator', 'pg_monitor']) r
 WHERE has_function_privilege(r, 'sdp.sdp_metrics_count(text,bigint)', 'EXECUTE');
-- Failed authentications still count (sdp_authenticate runs as the owner).
BEGIN;
SET LOCAL ROLE sdp_anon;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_authenticate('sdp_no_such_key_0123456789abcdef0123')$$);
COMMIT;
SELECT * FROM pg_temp.moved();

-- ---- schema sdp is not PUBLIC's --------------------------------------------------------------
-- A login holding no sdp role used schema sdp (functions, types); now it cannot.
SELECT n.nspname, count(a.*) FILTER (WHERE a.grantee = 0) AS public_privileges
  FROM pg_namespace n LEFT JOIN LATERAL aclexplode(n.nspacl) a ON true
 WHERE n.nspname IN ('sdp', 'sdp_api') GROUP BY 1 ORDER BY 1;
SET SESSION AUTHORIZATION regress_pa_nobody;
SELECT code, message FROM regress.error_of('SELECT sdp.sdp_version()');
SELECT code, message FROM regress.error_of($$SELECT 'RECEIVED'::sdp.batch_state$$);
RESET SESSION AUTHORIZATION;
-- Every role that works with the extension has USAGE of its own (the authenticator needs none:
-- it switches role before anything in sdp runs).
SELECT r AS role, has_schema_privilege(r, 'sdp', 'USAGE') AS sdp_usage
  FROM unnest(ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer',
                    'sdp_client', 'sdp_anon', 'sdp_dp_analyst', 'pg_monitor', 'sdp_authenticator']) r;

-- ---- the authenticator may switch to the governance roles (issue 22, dashboard tokens) ---------
-- PostgREST must be able to SET ROLE sdp_admin ... sdp_viewer for a dashboard token, so
-- sdp_authenticator is a member of them. It is NOINHERIT: as itself it holds nothing more than a
-- login without any sdp role, and no API-key path leads to those roles.
SELECT r.rolname AS switches_to FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
 WHERE m.member = 'sdp_authenticator'::regrole ORDER BY 1;
SELECT rolinherit AS authenticator_inherits FROM pg_roles WHERE rolname = 'sdp_authenticator';
SELECT p.oid::regprocedure AS authenticator_may_execute FROM pg_proc p
 WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace)
   AND has_function_privilege('sdp_authenticator', p.oid, 'EXECUTE')
   AND NOT has_function_privilege('regress_pa_nobody', p.oid, 'EXECUTE');
SELECT c.oid::regclass AS authenticator_may_read FROM pg_class c
 WHERE c.relnamespace = 'sdp'::regnamespace AND has_table_privilege('sdp_authenticator', c.oid, 'SELECT');
-- A verified API key still ends as sdp_client, which may call no dash_* function; a key on a
-- dash_* path is refused before it is looked at. What the membership does allow: SQL running in
-- the authenticator's session may SET ROLE to a governance role, as it already could to
-- sdp_client or an enabled analyst (PostgreSQL checks the session user's memberships). No
-- API-key path runs SQL of the caller's choosing (no dynamic SQL in sdp_api or behind it), so
-- none reaches that statement; the line below shows the property, not a path.
SELECT sdp.sdp_create_client('regress_pa_dash', 'regress-pa-dash-key-0123456789abcdef') IS NOT NULL AS client;
SET SESSION AUTHORIZATION sdp_authenticator;
BEGIN;
SELECT regress.request('GET', '/rpc/batch', '{"x-api-key": "regress-pa-dash-key-0123456789abcdef"}');
SELECT sdp_api.pre_request();
SELECT current_user AS api_key_request_runs_as;
SELECT code FROM regress.error_of('SET ROLE sdp_admin');
SELECT code FROM regress.error_of('SELECT sdp_api.dash_batches()');
ROLLBACK;
BEGIN;
SELECT regress.request('GET', '/rpc/dash_batches', '{"x-api-key": "regress-pa-dash-key-0123456789abcdef"}');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_batches()::text');
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT p.oid::regprocedure AS client_may_execute_dash FROM pg_proc p
 WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace) AND p.proname LIKE '%dash%'
   AND (has_function_privilege('sdp_client', p.oid, 'EXECUTE') OR has_function_privilege('sdp_anon', p.oid, 'EXECUTE'));
SELECT sdp.sdp_revoke_key('regress_pa_dash');

DROP TABLE public.regress_pa_before;
DROP ROLE regress_pa_client, regress_pa_anon, regress_pa_dp, regress_pa_admin, regress_pa_nobody;
