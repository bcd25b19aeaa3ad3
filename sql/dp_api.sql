-- Differentially private analysts over PostgREST (issue 18, docs/privacy_analytics.md "Over
-- HTTP"): which roles sdp_api_enable_analyst accepts, what pre_request does under a JWT's role
-- (emulated as PostgREST sets it, docs/postgrest.md §8: role and request.jwt.claims from the
-- token), and the API key on a dp path. The real JWT check and the role switch run in
-- test/e2e/dp_http.sh.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

CREATE TABLE public.regress_dpapi_people AS
  SELECT 'u' || i AS person FROM generate_series(1, 300) i;
SELECT (sdp.sdp_dp_register('dpapi', 'public.regress_dpapi_people', 'person', 1, 10)).name;
\set key 'regress-dp-api-key-0123456789abcdef0123456'
SELECT sdp.sdp_create_client('dpapi_client', :'key') IS NOT NULL AS created;

CREATE ROLE regress_dpapi_admin LOGIN IN ROLE sdp_admin;
CREATE ROLE regress_dpapi_alice NOLOGIN IN ROLE sdp_dp_analyst;      -- an analyst's own role
CREATE ROLE regress_dpapi_bob NOLOGIN IN ROLE sdp_dp_analyst;        -- never enabled
CREATE ROLE regress_dpapi_dept NOLOGIN IN ROLE sdp_dp_analyst;       -- a department
CREATE ROLE regress_dpapi_carol NOLOGIN IN ROLE regress_dpapi_dept;  -- an analyst through it
CREATE ROLE regress_dpapi_plain NOLOGIN;                              -- not an analyst
CREATE ROLE regress_dpapi_client NOLOGIN IN ROLE sdp_dp_analyst, sdp_client;
CREATE ROLE regress_dpapi_staff NOLOGIN IN ROLE sdp_dp_analyst, sdp_auditor;
CREATE ROLE regress_dpapi_reader NOLOGIN IN ROLE sdp_dp_analyst, pg_read_all_data;
CREATE ROLE regress_dpapi_maker NOLOGIN CREATEROLE IN ROLE sdp_dp_analyst;
CREATE ROLE regress_dpapi_boss NOLOGIN CREATEDB;
CREATE ROLE regress_dpapi_climber NOLOGIN IN ROLE sdp_dp_analyst, regress_dpapi_boss;
SELECT grantee FROM sdp.sdp_dp_grant('regress_dpapi_alice', 'dpapi', 1);

-- ---- which roles may be enabled ---------------------------------------------------------------
-- Only a member of sdp_dp_analyst that reaches nothing holding more; the reason otherwise (22023).
SELECT r AS role, e.code, e.message
  FROM unnest(ARRAY['regress_dpapi_alice', 'regress_dpapi_carol', 'regress_dpapi_dept',
                    'regress_dpapi_plain', 'regress_dpapi_client', 'regress_dpapi_staff',
                    'regress_dpapi_reader', 'regress_dpapi_maker', 'regress_dpapi_climber',
                    'sdp_dp_analyst', 'sdp_client', 'sdp_admin', 'pg_monitor', 'postgres',
                    'regress_dpapi_nobody']) WITH ORDINALITY AS t(r, o),
       LATERAL regress.error_of(format('SELECT sdp.sdp_api_enable_analyst(%L)', r)) e
 ORDER BY o;
-- Enabled: exactly those granted to sdp_authenticator; enabling twice is a no-op.
SELECT sdp.sdp_api_enable_analyst('regress_dpapi_alice');
SELECT r.rolname AS authenticator_may_switch_to
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
 WHERE m.member = 'sdp_authenticator'::regrole ORDER BY 1;
SELECT sdp.sdp_api_disable_analyst('regress_dpapi_carol'), sdp.sdp_api_disable_analyst('regress_dpapi_dept');
-- The API roles themselves are not analyst roles to disable.
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_api_disable_analyst('sdp_client')$$);

-- Only admins enable and disable (42501 for an analyst, a client, nobody).
SET ROLE regress_dpapi_admin;
SELECT code AS admin_enables FROM regress.error_of($$SELECT sdp.sdp_api_enable_analyst('regress_dpapi_alice')$$);
RESET ROLE;
SET ROLE regress_dpapi_alice;
SELECT 'analyst' AS who, code FROM regress.error_of($$SELECT sdp.sdp_api_enable_analyst('regress_dpapi_bob')$$);
SET ROLE regress_dpapi_client;
SELECT 'client' AS who, code FROM regress.error_of($$SELECT sdp.sdp_api_disable_analyst('regress_dpapi_alice')$$);
SET ROLE regress_dpapi_plain;
SELECT 'nobody' AS who, code FROM regress.error_of($$SELECT sdp.sdp_api_enable_analyst('regress_dpapi_bob')$$);
RESET ROLE;

-- ---- pre_request under a JWT's role ------------------------------------------------------------
-- jwt(role, path): the request as PostgREST opens it after verifying a token with that role
-- claim (regress.request sets the anonymous role; PostgREST sets the token's instead).
CREATE FUNCTION pg_temp.jwt(role text, method text, path text, headers json DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM regress.request(method, path, headers);
  PERFORM set_config('role', role, true),
          set_config('request.jwt.claims', json_build_object('role', role)::text, true);
END $$;
-- One emulated request under a JWT's role: pre_request, then `call`.
CREATE FUNCTION pg_temp.jwt_call(jwt_role text, path text, headers json, call text)
RETURNS TABLE(status integer, role name, code text, message text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_temp.jwt(jwt_role, 'POST', path, headers);
  RETURN QUERY SELECT r.status, r.role, r.code, r.message FROM regress.respond(call) r;
END $$;

-- The enabled analyst: dp_count and dp_budget, charged, no API key.
BEGIN;
SELECT pg_temp.jwt('regress_dpapi_alice', 'POST', '/rpc/dp_count');
SELECT status, role, code, body::json -> 0 ->> 'epsilon_charged' AS epsilon_charged
  FROM regress.respond($$SELECT json_agg(r)::text FROM sdp_api.dp_count('dpapi', 0.5) r$$);
COMMIT;
BEGIN READ ONLY;
SELECT pg_temp.jwt('regress_dpapi_alice', 'GET', '/rpc/dp_budget');
SELECT status, role, code, body
  FROM regress.respond($$SELECT json_agg(json_build_object('grantee', r.grantee, 'spent', r.epsilon_spent))::text FROM sdp_api.dp_budget('dpapi') r$$);
COMMIT;
SELECT actor, login = session_user AS login_is_session, epsilon FROM sdp.dp_ledger WHERE dataset = 'dpapi';

-- Refused (PT403, nothing charged): the analyst's JWT on a client path, even with a valid key;
-- a role never enabled; a group reached through an enabled role; an enabled role that later
-- became a member of sdp_client.
GRANT regress_dpapi_dept TO regress_dpapi_alice;
SELECT v.r AS jwt_role, v.p AS path, x.status, x.role, x.code, x.message
  FROM (VALUES (1, 'regress_dpapi_alice', '/rpc/process_file'), (2, 'regress_dpapi_alice', '/rpc/batch'),
               (3, 'regress_dpapi_alice', '/rpc/health'), (4, 'regress_dpapi_bob', '/rpc/dp_count'),
               (5, 'sdp_dp_analyst', '/rpc/dp_count'), (6, 'regress_dpapi_dept', '/rpc/dp_count'))
       AS v(o, r, p),
       LATERAL pg_temp.jwt_call(v.r, v.p, json_build_object('x-api-key', :'key'), $$SELECT 'reached'$$) x
 ORDER BY v.o;
RESET ROLE;
REVOKE regress_dpapi_dept FROM regress_dpapi_alice;
GRANT sdp_client TO regress_dpapi_alice;
BEGIN;
SELECT pg_temp.jwt('regress_dpapi_alice', 'POST', '/rpc/dp_count');
SELECT status, code, message FROM regress.respond($$SELECT json_agg(r)::text FROM sdp_api.dp_count('dpapi', 0.1) r$$);
ROLLBACK;
REVOKE sdp_client FROM regress_dpapi_alice;
SELECT epsilon_spent FROM sdp.dp_grant WHERE grantee = 'regress_dpapi_alice';

-- Without a JWT (sdp_anon): a dp path is refused before any key check, with or without a key;
-- and had pre_request let the client through, sdp_client may not execute the dp functions.
BEGIN;
SELECT regress.request('POST', '/rpc/dp_count', json_build_object('x-api-key', :'key'));
SELECT status, role, code, message FROM regress.respond($$SELECT json_agg(r)::text FROM sdp_api.dp_count('dpapi', 0.1) r$$);
ROLLBACK;
SELECT f, has_function_privilege('sdp_client', f, 'EXECUTE') AS client_may_execute,
       has_function_privilege('sdp_anon', f, 'EXECUTE') AS anon_may_execute
  FROM unnest(ARRAY['sdp_api.dp_count(text,numeric,text,jsonb,numeric)',
                    'sdp_api.dp_budget(text)', 'sdp.sdp_dp_count(text,numeric,text,jsonb,numeric)']) f;
-- The analyst's grants reach no client path either.
SELECT p.oid::regprocedure AS analyst_may_execute FROM pg_proc p
 WHERE p.pronamespace = 'sdp_api'::regnamespace
   AND has_function_privilege('sdp_dp_analyst', p.oid, 'EXECUTE') ORDER BY 1;

-- ---- disabled: PostgREST can no longer switch to the role -------------------------------------
SELECT sdp.sdp_api_disable_analyst('regress_dpapi_alice');
SELECT pg_has_role('sdp_authenticator', 'regress_dpapi_alice', 'MEMBER') AS authenticator_may_switch;
SELECT event, target FROM sdp.audit_log
 WHERE event LIKE 'api.%' ORDER BY seq;

SELECT (sdp.sdp_forget_client('dpapi_client') ->> 'status') AS forgotten;
DROP TABLE public.regress_dpapi_people;
DROP ROLE regress_dpapi_admin, regress_dpapi_alice, regress_dpapi_bob, regress_dpapi_carol,
          regress_dpapi_dept, regress_dpapi_plain, regress_dpapi_client, regress_dpapi_staff,
          regress_dpapi_reader, regress_dpapi_maker, regress_dpapi_climber, regress_dpapi_boss;
