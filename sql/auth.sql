-- Roles, API keys, authentication and the tenant context (docs/security.md).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;

-- ---- roles -----------------------------------------------------------------------------------
SELECT rolname, rolcanlogin, rolinherit, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb
  FROM pg_roles WHERE rolname IN ('sdp_authenticator', 'sdp_anon', 'sdp_client', 'sdp_admin')
 ORDER BY 1;
SELECT r.rolname AS role, m.rolname AS member
  FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
 WHERE m.rolname = 'sdp_authenticator' ORDER BY 1;
SELECT unnest(setconfig) AS authenticator_setting FROM pg_db_role_setting
 WHERE setrole = 'sdp_authenticator'::regrole ORDER BY 1;

-- Roles survive DROP EXTENSION and a new CREATE EXTENSION reuses them.
DROP EXTENSION sdp;
SELECT count(*) AS roles_left FROM pg_roles
 WHERE rolname IN ('sdp_authenticator', 'sdp_anon', 'sdp_client', 'sdp_admin');
-- An existing role that would bypass row-level security is refused, not trusted.
ALTER ROLE sdp_client BYPASSRLS;
\set VERBOSITY sqlstate
CREATE EXTENSION sdp;
\set VERBOSITY default
ALTER ROLE sdp_client NOBYPASSRLS;
CREATE EXTENSION sdp;
SELECT count(*) AS authenticator_memberships FROM pg_auth_members
 WHERE member = 'sdp_authenticator'::regrole;

-- Test logins (roles are cluster-wide: regress_ prefix).
CREATE ROLE regress_auth_client LOGIN IN ROLE sdp_client;
CREATE ROLE regress_auth_admin LOGIN IN ROLE sdp_admin;
CREATE ROLE regress_auth_outsider LOGIN;

-- ---- creating clients ------------------------------------------------------------------------
-- A generated key: sdp_ + 32 URL-safe base64 characters (192 bits), returned once.
SELECT sdp.sdp_create_client('auth_a') AS key_a \gset
SELECT :'key_a' ~ '^sdp_[A-Za-z0-9_-]{32}$' AS generated_format;
SELECT sdp.sdp_create_client('auth_gen') <> :'key_a' AS keys_differ;
-- A given key (the seeds' single SDP_API_KEY) is registered as is.
\set key_b 'regress-given-key-for-client-auth-b-0123456789'
SELECT sdp.sdp_create_client('auth_b', :'key_b') = :'key_b' AS given_key_returned;
-- Only a hash is stored: the key is in no column, the hash is 32 bytes (HMAC-SHA-256) and
-- differs from a bare SHA-256 of the key (it is peppered).
SELECT client_id, left(key_prefix, 4) AS key_prefix, octet_length(key_hash) AS hash_bytes, revoked_at IS NULL AS active
  FROM sdp.api_client WHERE client_id LIKE 'auth%' ORDER BY 1;
-- The stored prefix gives away little of a key: 6 characters, of a generated key "sdp_" and 2
-- random ones.
SELECT client_id, length(key_prefix) AS prefix_chars,
       key_prefix = left(CASE client_id WHEN 'auth_a' THEN :'key_a' ELSE :'key_b' END, 6) AS key_start
  FROM sdp.api_client WHERE client_id IN ('auth_a', 'auth_b') ORDER BY 1;
SELECT count(*) AS rows_containing_a_key FROM sdp.api_client c
 WHERE position(:'key_b' IN c::text) > 0 OR position(:'key_a' IN c::text) > 0
    OR position(encode(convert_to(:'key_b', 'UTF8'), 'hex') IN encode(c.key_hash, 'hex')) > 0;
SELECT key_hash <> sha256(convert_to(:'key_b', 'UTF8')) AS peppered
  FROM sdp.api_client WHERE client_id = 'auth_b';
SELECT octet_length(secret) AS pepper_bytes FROM sdp.auth_secret;

-- Same client with the same key again: no-op (idempotent setup). Anything else conflicts.
SELECT sdp.sdp_create_client('auth_b', :'key_b') = :'key_b' AS idempotent;
SELECT code, message, hint, leaks_secret FROM regress.error_of(format('SELECT sdp.sdp_create_client(%L, %L)', 'auth_b', 'another-key-for-auth-b-0123456789abcdef'), 'another-key-for-auth-b-0123456789abcdef');
SELECT code, message, hint, leaks_secret FROM regress.error_of(format('SELECT sdp.sdp_create_client(%L)', 'auth_b'));
-- One key, one client.
SELECT code, message, hint, leaks_secret FROM regress.error_of(format('SELECT sdp.sdp_create_client(%L, %L)', 'auth_c', :'key_b'), :'key_b');
-- Bad input; the key never appears in the error.
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_create_client('auth_c', 'short-key-123')$$, 'short-key-123');
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_create_client('auth_c', 'a key with spaces in it 0123456789')$$, 'a key with spaces in it 0123456789');
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_create_client('bad client', NULL)$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_create_client(NULL, NULL)$$);
SELECT count(*) AS auth_c_created FROM sdp.api_client WHERE client_id = 'auth_c';

-- ---- authenticating --------------------------------------------------------------------------
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') AS authenticated_as;
SELECT sdp.sdp_current_client() AS tenant, current_setting('sdp.client_id') AS setting;
COMMIT;
-- The tenant is set LOCAL: it ends with the transaction.
SELECT sdp.sdp_current_client() IS NULL AS superuser_is_trusted_again,
       current_setting('sdp.client_id') AS setting_after_commit;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a', 'auth_a') AS with_matching_client_id;
ROLLBACK;
-- Missing, unknown, oversized keys: PT401. The key of another client than the one named: PT403,
-- and the message does not say whose key it is.
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_authenticate(NULL)$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_authenticate('')$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_authenticate('sdp_wrongwrongwrongwrongwrongwrongwr')$$, 'sdp_wrongwrongwrongwrongwrongwrongwr');
SELECT code, message, hint, leaks_secret FROM regress.error_of(format('SELECT sdp.sdp_authenticate(%L)', :'key_b' || 'x'), :'key_b');
SELECT code, message, hint, leaks_secret FROM regress.error_of(format('SELECT sdp.sdp_authenticate(%L)', repeat('k', 100000)));
SELECT code, message, hint, leaks_secret, position('auth_b' IN message) > 0 AS names_owner
  FROM regress.error_of(format('SELECT sdp.sdp_authenticate(%L, %L)', :'key_b', 'auth_a'), :'key_b');
SELECT code, leaks_secret FROM regress.error_of(format('SELECT sdp.sdp_authenticate(%L, %L)', :'key_b', 'no_such_client'), :'key_b');
-- The constant-time matcher: position of the match among concatenated hashes, 0 if none.
SELECT sdp.sdp_auth_match(p.secret, 'k1-0123456789abcdef0123456789abcdef',
         sdp.sdp_auth_key_hash(p.secret, 'k0-0123456789abcdef0123456789abcdef')
      || sdp.sdp_auth_key_hash(p.secret, 'k1-0123456789abcdef0123456789abcdef')) AS second,
       sdp.sdp_auth_match(p.secret, 'k2', sdp.sdp_auth_key_hash(p.secret, 'k0')) AS none,
       sdp.sdp_auth_match(p.secret, 'k2', ''::bytea) AS empty
  FROM sdp.auth_secret p;
\set VERBOSITY sqlstate
SELECT sdp.sdp_auth_match(p.secret, 'k', '\x0102'::bytea) FROM sdp.auth_secret p;
SELECT sdp.sdp_auth_key_hash('\x0102'::bytea, 'k');
\set VERBOSITY default

-- Rotation: the old key stops working, the new one works. Revocation: nothing works.
SELECT sdp.sdp_rotate_key('auth_a') AS key_a2 \gset
SELECT length(key_prefix) AS prefix_chars_after_rotation FROM sdp.api_client WHERE client_id = 'auth_a';
SELECT :'key_a2' <> :'key_a' AS rotated;
SELECT code FROM regress.error_of(format('SELECT sdp.sdp_authenticate(%L)', :'key_a'));
BEGIN;
SELECT sdp.sdp_authenticate(:'key_a2') AS new_key_works;
ROLLBACK;
SELECT sdp.sdp_revoke_key('auth_a');
SELECT code FROM regress.error_of(format('SELECT sdp.sdp_authenticate(%L)', :'key_a2'));
SELECT client_id, key_hash IS NULL AS no_hash, revoked_at IS NOT NULL AS revoked
  FROM sdp.api_client WHERE client_id = 'auth_a';
SELECT sdp.sdp_rotate_key('auth_a', 'regress-key-auth-a-after-revocation-0123') IS NOT NULL AS reissued;
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_revoke_key('no_such_client')$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_rotate_key('no_such_client')$$);

-- ---- the tenant cannot be forged -------------------------------------------------------------
SET ROLE regress_auth_client;
\set VERBOSITY sqlstate
SET sdp.client_id = 'auth_b';
SELECT set_config('sdp.client_id', 'auth_b', true);
SELECT set_config('sdp.client_id', 'auth_b', false);
SET sdp.env = 'dev';
ALTER ROLE regress_auth_client SET sdp.client_id = 'auth_b';
-- Not authenticated: PT401, not "trusted" (sql/rls.sql shows the same for table reads).
SELECT sdp.sdp_current_client();
\set VERBOSITY default
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') AS authenticated_as;
SELECT sdp.sdp_current_client() AS tenant;
-- Once authenticated, the tenant still cannot be changed to another client.
\set VERBOSITY sqlstate
SELECT set_config('sdp.client_id', 'auth_a', true);
\set VERBOSITY default
ROLLBACK;
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') AS authenticated_as;
SAVEPOINT s;
RESET sdp.client_id;
ROLLBACK TO SAVEPOINT s;
SELECT sdp.sdp_current_client() AS still_auth_b;
COMMIT;
-- Managing keys is for operators only.
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_create_client('auth_evil')$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_rotate_key('auth_b')$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_revoke_key('auth_b')$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT secret FROM sdp.auth_secret$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT key_hash FROM sdp.api_client$$);
RESET ROLE;

-- Inside a SECURITY DEFINER function current_user is its (superuser) owner, but the caller is
-- still judged by the outer role: an unauthenticated client stays untrusted.
CREATE FUNCTION public.regress_definer_tenant() RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT current_user || ' acting, tenant ' || coalesce(sdp.sdp_current_client(), '<trusted>') $$;
GRANT EXECUTE ON FUNCTION public.regress_definer_tenant() TO regress_auth_client, regress_auth_admin;
SELECT public.regress_definer_tenant() AS as_superuser;
SET ROLE regress_auth_client;
SELECT code, message, hint, leaks_secret FROM regress.error_of('SELECT public.regress_definer_tenant()');
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') IS NOT NULL AS ok;
SELECT public.regress_definer_tenant() AS as_authenticated_client;
ROLLBACK;
RESET ROLE;
-- The superuser who switched to sdp_client is a client too; sdp_admin members are trusted.
SET ROLE sdp_client;
SELECT code FROM regress.error_of('SELECT sdp.sdp_current_client()');
RESET ROLE;
SET ROLE regress_auth_admin;
SELECT sdp.sdp_caller_role() AS caller, sdp.sdp_current_client() IS NULL AS admin_is_trusted;
SELECT public.regress_definer_tenant() AS as_admin;
SELECT sdp.sdp_create_client('auth_by_admin') IS NOT NULL AS admin_creates_clients;
-- An admin acting as a client is that client and cannot manage keys meanwhile.
BEGIN;
SELECT sdp.sdp_authenticate(:'key_b') AS acting_as;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_rotate_key('auth_b')$$);
ROLLBACK;
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT secret FROM sdp.auth_secret$$);
SELECT code, message, hint, leaks_secret FROM regress.error_of($$SELECT sdp.sdp_auth_pepper()$$);
RESET ROLE;
-- A login in none of the sdp roles can do nothing at all.
SET ROLE regress_auth_outsider;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_authenticate('x')$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_current_client()$$);
SELECT code FROM regress.error_of($$SELECT count(*) FROM sdp.processing_batch$$);
SELECT code FROM regress.error_of($$SELECT sdp_api.health()$$);
RESET ROLE;
-- sdp_anon may authenticate (pre_request does) but not read tables or manage clients.
SET ROLE sdp_anon;
SELECT code FROM regress.error_of($$SELECT count(*) FROM sdp.processing_batch$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_create_client('auth_anon')$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_authenticate('sdp_wrongwrongwrongwrongwrongwrongwr')$$);
RESET ROLE;

-- ---- privileges ------------------------------------------------------------------------------
-- Nothing is executable by PUBLIC except sdp_version().
SELECT p.oid::regprocedure AS executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace)
   AND has_function_privilege('regress_auth_outsider', p.oid, 'EXECUTE')
 ORDER BY 1;
-- Every SECURITY DEFINER function pins search_path.
SELECT p.oid::regprocedure AS definer_without_search_path
  FROM pg_proc p
 WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace) AND p.prosecdef
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY 1;
-- The PostgREST surface: unique names, labels, who may call what.
SELECT p.proname, p.oid::regprocedure AS signature,
       CASE p.provolatile WHEN 'v' THEN 'VOLATILE' WHEN 's' THEN 'STABLE' ELSE 'IMMUTABLE' END AS volatility,
       p.prosecdef AS definer,
       has_function_privilege('sdp_anon', p.oid, 'EXECUTE') AS anon,
       has_function_privilege('sdp_client', p.oid, 'EXECUTE') AS client,
       has_function_privilege('sdp_authenticator', p.oid, 'EXECUTE') AS authenticator
  FROM pg_proc p WHERE p.pronamespace = 'sdp_api'::regnamespace ORDER BY 1;
SELECT proname, count(*) FROM pg_proc WHERE pronamespace = 'sdp_api'::regnamespace
 GROUP BY 1 HAVING count(*) > 1;
-- Client and key management: operators only.
SELECT p.proname, p.prosecdef AS definer,
       has_function_privilege('sdp_anon', p.oid, 'EXECUTE') AS anon,
       has_function_privilege('sdp_client', p.oid, 'EXECUTE') AS client,
       has_function_privilege('sdp_admin', p.oid, 'EXECUTE') AS admin
  FROM pg_proc p
 WHERE p.pronamespace = 'sdp'::regnamespace
   AND (p.proname LIKE 'sdp\_auth%' OR p.proname IN ('sdp_create_client', 'sdp_rotate_key', 'sdp_revoke_key',
                                                     'sdp_store_key', 'sdp_current_client'))
 ORDER BY 1;
-- Tables: nothing for PUBLIC; the pepper for nobody but its owner.
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       has_table_privilege('sdp_client', c.oid, 'SELECT') AS client_select,
       has_table_privilege('sdp_client', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS client_writes,
       has_table_privilege('sdp_admin', c.oid, 'SELECT') AS admin_select,
       has_table_privilege('regress_auth_outsider', c.oid, 'SELECT') AS public_select
  FROM pg_class c WHERE c.relnamespace = 'sdp'::regnamespace AND c.relkind = 'r' ORDER BY 1;
SELECT has_column_privilege('sdp_client', 'sdp.api_client', 'key_hash', 'SELECT') AS client_reads_hash,
       has_column_privilege('sdp_admin', 'sdp.api_client', 'key_hash', 'SELECT') AS admin_reads_hash;

DROP FUNCTION public.regress_definer_tenant();
DROP ROLE regress_auth_client, regress_auth_admin, regress_auth_outsider;
