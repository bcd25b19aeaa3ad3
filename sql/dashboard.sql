-- The dashboard's server side (issue 22, docs/dashboard.md "Server side: sign-in, roles and
-- endpoints"): staff users and their scrypt hashes, sign-in with lockout, the HS256 tokens, what
-- pre_request admits a dashboard token to, and each dash_* function for each role (allowed or
-- 42501: the database refuses what the UI hides).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

-- ---- setup: a processed batch, a DP dataset, one analyst role enabled for the API ------------
SELECT sdp.sdp_create_client('dash_client') IS NOT NULL AS created;
SELECT E'customer_id,age,income,balance,num_transactions\nc1,30,50000,1000,10\nc2,50,80000,20000,40\nc3,41,61000,500,3\n' AS csv \gset
SELECT (sdp.sdp_ingest_csv('dash_client', 'risk_scoring', :'csv')).batch_id AS batch \gset
SELECT (sdp.sdp_process_batch(:'batch')).status;
SELECT sdp.sdp_record_id(:'batch', 1) AS rec \gset
CREATE TABLE public.regress_dash_people AS SELECT 'u' || i AS person, i % 7 AS n FROM generate_series(1, 50) i;
SELECT (sdp.sdp_dp_register('dash_people', 'public.regress_dash_people', 'person', 1, 5)).name;
CREATE ROLE regress_dash_dp NOLOGIN IN ROLE sdp_dp_analyst;
SELECT grantee FROM sdp.sdp_dp_grant('regress_dash_dp', 'dash_people', 1);
SELECT sdp.sdp_api_enable_analyst('regress_dash_dp');
CREATE ROLE regress_dash_engineer_login LOGIN IN ROLE sdp_engineer;
CREATE ROLE regress_dash_plain NOLOGIN;

-- ---- staff management: admin only, checked inputs ---------------------------------------------
SELECT * FROM regress.error_of($$SELECT sdp.sdp_set_jwt_secret('short')$$);
SELECT sdp.sdp_set_jwt_secret('regress-dashboard-secret-0123456789abcdef');
SELECT count(*) AS secret_rows FROM sdp.jwt_secret;
SELECT u, r, (SELECT code FROM regress.error_of(format('SELECT sdp.sdp_staff_create(%L, %L, %L)', u, r,
                                                      'dashboard-password-' || u))) AS code
  FROM (VALUES ('admin', 'sdp_admin'), ('engineer', 'sdp_engineer'), ('analyst', 'sdp_analyst'),
               ('auditor', 'sdp_auditor'), ('viewer', 'sdp_viewer'), ('dp_analyst', 'regress_dash_dp'),
               ('spare', 'sdp_viewer')) v(u, r);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_staff_create('x', 'sdp_client', 'dashboard-password-x')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_staff_create('y', 'regress_dash_plain', 'dashboard-password-y')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_staff_create('Bad Name', 'sdp_viewer', 'dashboard-password-z')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_staff_create('z', 'sdp_viewer', 'short')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_staff_create('admin', 'sdp_viewer', 'dashboard-password-z')$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_staff_unlock('nobody')$$);
SET ROLE regress_dash_engineer_login;
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_staff_create('e', 'sdp_admin', 'dashboard-password-e')$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_set_jwt_secret(repeat('x', 40))$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_staff_login('admin', 'dashboard-password-admin')$$);
SELECT code FROM regress.error_of($$SELECT * FROM sdp.staff_user$$);
SELECT code FROM regress.error_of($$SELECT * FROM sdp.jwt_secret$$);
RESET ROLE;
-- The stored hash: scrypt with the recorded parameters, a 32-byte random salt, never the password.
SELECT username, db_role, scrypt_log_n, scrypt_r, scrypt_p, octet_length(password_hash) AS hash_bytes,
       octet_length(salt) AS salt_bytes,
       password_hash = sdp.sdp_staff_scrypt('dashboard-password-' || username, salt, scrypt_log_n, scrypt_r, scrypt_p) AS hash_ok
  FROM sdp.staff_user ORDER BY username;
SELECT count(DISTINCT salt) AS distinct_salts FROM sdp.staff_user;
-- scrypt itself: RFC 7914 test vector 3 (N = 2^14, r = 8, p = 1), first 32 bytes.
SELECT encode(sdp.sdp_staff_scrypt('pleaseletmein', convert_to('SodiumChloride', 'UTF8'), 14, 8, 1), 'hex') AS rfc7914;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_staff_scrypt('p', convert_to('SodiumChloride', 'UTF8'), 13, 8, 1)$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_staff_scrypt('p', 'short', 14, 8, 1)$$);

-- ---- sign-in -------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.login(u text, p text) RETURNS TABLE(status text, body jsonb, headers text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('response.status', '', true), set_config('response.headers', '', true);
  body := sdp.sdp_staff_login(u, p);
  status := coalesce(nullif(current_setting('response.status', true), ''), '200');
  headers := nullif(current_setting('response.headers', true), '');
  RETURN NEXT;
END $$;
-- A good password: a token and the role's capabilities.
SELECT status, body - 'token' - 'expires_at' AS body FROM pg_temp.login('viewer', 'dashboard-password-viewer');
SELECT status, body ->> 'role' AS role, body -> 'capabilities' AS capabilities
  FROM pg_temp.login('dp_analyst', 'dashboard-password-dp_analyst');
-- Wrong password, unknown user, NULLs: one answer, 401.
SELECT status, body, headers FROM pg_temp.login('viewer', 'wrong password');
SELECT status, body ->> 'detail' AS detail FROM pg_temp.login('nobody', 'dashboard-password-viewer');
SELECT status, body ->> 'detail' AS detail FROM pg_temp.login(NULL, NULL);
SELECT status, body ->> 'detail' AS detail FROM pg_temp.login(repeat('a', 100000), 'x');
-- Disabled: the same 401, even with the right password.
SELECT sdp.sdp_staff_disable('spare');
SELECT status, body ->> 'detail' AS detail FROM pg_temp.login('spare', 'dashboard-password-spare');
-- Lockout: the 5th failure in a row locks the account for 15 minutes; then even the right password
-- gets 429 with Retry-After; unlocking (admin) lets it in again. (viewer has 1 failure already.)
SELECT n, (SELECT status FROM pg_temp.login('viewer', 'wrong ' || n)) FROM generate_series(2, 5) n;
SELECT failed_count, locked_until > now() + interval '14 minutes' AS locked_15_min FROM sdp.staff_user WHERE username = 'viewer';
SELECT status, body ->> 'code' AS code, body ->> 'status' AS body_status, headers ~ '^\[\{"Retry-After": "(89[0-9]|900)"\}\]$' AS retry_after
  FROM pg_temp.login('viewer', 'dashboard-password-viewer');
SELECT sdp.sdp_staff_unlock('viewer');
SELECT status FROM pg_temp.login('viewer', 'dashboard-password-viewer');
SELECT failed_count, locked_until, last_login IS NOT NULL AS logged_in FROM sdp.staff_user WHERE username = 'viewer';
-- A new password replaces the old one.
SELECT sdp.sdp_staff_set_password('auditor', 'a-new-dashboard-password');
SELECT (SELECT status FROM pg_temp.login('auditor', 'dashboard-password-auditor')) AS old,
       (SELECT status FROM pg_temp.login('auditor', 'a-new-dashboard-password')) AS new;
-- An analyst role no longer enabled for the API cannot sign in (403).
SELECT sdp.sdp_api_disable_analyst('regress_dash_dp');
SELECT status, body ->> 'code' AS code FROM pg_temp.login('dp_analyst', 'dashboard-password-dp_analyst');
SELECT sdp.sdp_api_enable_analyst('regress_dash_dp');
-- A new password ends the user's sessions.
SELECT status FROM pg_temp.login('engineer', 'dashboard-password-engineer');
SELECT count(*) > 0 AS engineer_sessions FROM sdp.staff_session WHERE username = 'engineer';
SELECT sdp.sdp_staff_set_password('engineer', 'dashboard-password-engineer');
SELECT count(*) AS engineer_sessions FROM sdp.staff_session WHERE username = 'engineer';
-- Every attempt is audited: who, what, why; never a password, and never the name typed for an
-- unknown user.
SELECT actor, event, target, details - 'locked_until' AS details FROM sdp.audit_log WHERE event LIKE 'staff.%' ORDER BY seq;
SELECT count(*) AS audit_mentions_a_password FROM sdp.audit_log
 WHERE details::text ~ 'dashboard-password|wrong [0-9]|nobody' OR target ~ 'nobody';
SELECT count(*) AS broken_links FROM sdp.sdp_audit_verify();

-- ---- the token ------------------------------------------------------------------------------------
SELECT body ->> 'token' AS token FROM pg_temp.login('engineer', 'dashboard-password-engineer') \gset
SELECT split_part(:'token', '.', 1) = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9' AS hs256_header;
-- The payload, decoded by hand (base64url), and as the signature check returns it.
SELECT c ->> 'role' AS role, c ->> 'sub' AS sub, c ->> 'aud' AS aud,
       (c ->> 'exp')::bigint - (c ->> 'iat')::bigint AS lifetime_s,
       abs((c ->> 'iat')::bigint - extract(epoch FROM now())) < 60 AS iat_now
  FROM (SELECT convert_from(decode(rpad(translate(split_part(:'token', '.', 2), '-_', '+/'),
                                        (length(split_part(:'token', '.', 2)) + 3) / 4 * 4, '='), 'base64'),
                            'UTF8')::jsonb AS c) x;
SELECT sdp.sdp_jwt_verify('regress-dashboard-secret-0123456789abcdef', :'token')::jsonb ->> 'sub' AS verified_sub;
-- Another secret, a changed payload, alg none, a truncated token: no claims.
SELECT sdp.sdp_jwt_verify('another-secret-of-enough-length-0123456789', :'token') AS other_secret,
       sdp.sdp_jwt_verify('regress-dashboard-secret-0123456789abcdef',
         split_part(:'token', '.', 1) || '.' || rtrim(encode(convert_to('{"role":"sdp_admin","sub":"engineer"}', 'UTF8'), 'base64'), '=')
         || '.' || split_part(:'token', '.', 3)) AS changed_payload,
       sdp.sdp_jwt_verify('regress-dashboard-secret-0123456789abcdef',
         'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.' || split_part(:'token', '.', 2) || '.') AS alg_none,
       sdp.sdp_jwt_verify('regress-dashboard-secret-0123456789abcdef', split_part(:'token', '.', 1) || '.' || split_part(:'token', '.', 2)) AS two_parts;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_jwt_sign('short', '{}')$$);

-- ---- what pre_request admits (PostgREST emulation, docs/postgrest.md §8) ----------------------------
-- As PostgREST after verifying a token: the role claim set, the claims in request.jwt.claims.
CREATE FUNCTION pg_temp.as_jwt(claims jsonb, path text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM regress.request(CASE WHEN path ~ 'update|decide|login' THEN 'POST' ELSE 'GET' END, path, '{}');
  PERFORM set_config('role', claims ->> 'role', true),
          set_config('request.jwt.claims', claims::text, true);
END $$;
SELECT count(*) AS all_batches FROM sdp.processing_batch WHERE NOT dev_only \gset
-- The claims of real sign-ins (each has a session, its jti); a token's claims as PostgREST
-- passes them after verifying its signature.
CREATE FUNCTION pg_temp.claims_of(u text) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT convert_from(decode(rpad(translate(p, '-_', '+/'), (length(p) + 3) / 4 * 4, '='), 'base64'), 'UTF8')::jsonb
    FROM (SELECT split_part(sdp.sdp_staff_login(u, 'dashboard-password-' || u) ->> 'token', '.', 2) AS p) x
$$;
SELECT pg_temp.claims_of('engineer') AS c_engineer, pg_temp.claims_of('viewer') AS c_viewer,
       pg_temp.claims_of('admin') AS c_admin, pg_temp.claims_of('dp_analyst') AS c_dp \gset
SELECT count(*) AS sessions, count(DISTINCT jti) AS distinct_jti, bool_and(length(jti) = 32) AS jti_192_bits,
       bool_and(expires_at - issued_at = interval '15 minutes') AS lifetime
  FROM sdp.staff_session WHERE jti IN (:'c_engineer'::jsonb ->> 'jti', :'c_viewer'::jsonb ->> 'jti',
                                      :'c_admin'::jsonb ->> 'jti', :'c_dp'::jsonb ->> 'jti');
SET SESSION AUTHORIZATION sdp_authenticator;
BEGIN;
SELECT pg_temp.as_jwt(:'c_engineer', '/rpc/dash_me');
SELECT status, body, role FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_viewer', '/rpc/dash_batches');
SELECT status, ((body::jsonb) ->> 'total')::bigint = :all_batches AS total_ok, role
  FROM regress.respond('SELECT sdp_api.dash_batches()::text');
ROLLBACK;
-- The viewer's token on a reader the viewer may not use: 42501 from the function (PostgREST
-- answers 403 for a JWT's role; the emulation's status table assumes no JWT, hence 401 here).
BEGIN;
SELECT pg_temp.as_jwt(:'c_viewer', '/rpc/dash_audit');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_audit()::text');
ROLLBACK;
-- A staff token on the API-key surface, on the dp_* functions, on login: PT403.
BEGIN;
SELECT pg_temp.as_jwt(:'c_admin', '/rpc/process');
SELECT status, code, message FROM regress.respond('SELECT 1');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_admin', '/rpc/dp_count');
SELECT status, code FROM regress.respond('SELECT 1');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_engineer', '/rpc/batch_open');
SELECT status, code FROM regress.respond('SELECT 1');
ROLLBACK;
-- Tokens that are not a current sign-in: 401 (no sub, a sub of another role, a disabled user,
-- another audience, no audience, a jti sign-in never issued: what a token forged with a leaked
-- secret carries, a signed-out session).
BEGIN;
SELECT pg_temp.as_jwt('{"role": "sdp_admin", "aud": "sdp-dashboard"}', '/rpc/dash_me');
SELECT status, code, message FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_viewer'::jsonb || '{"role": "sdp_admin"}', '/rpc/dash_me');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt('{"role": "sdp_viewer", "sub": "spare", "aud": "sdp-dashboard"}', '/rpc/dash_me');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_viewer'::jsonb || '{"aud": "elsewhere"}', '/rpc/dash_me');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_viewer'::jsonb - 'aud', '/rpc/dash_me');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_admin'::jsonb || '{"jti": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', '/rpc/dash_me');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_engineer', '/rpc/dash_logout');
SELECT status, body FROM regress.respond('SELECT sdp_api.dash_logout()::text');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
-- The DP analyst's dashboard token: its dash_* readers and the dp_* functions, nothing else.
BEGIN;
SELECT pg_temp.as_jwt(:'c_dp', '/rpc/dash_privacy');
SELECT status, (body::jsonb) -> 'grants' -> 0 ->> 'dataset' AS dataset, role FROM regress.respond('SELECT sdp_api.dash_privacy()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_dp', '/rpc/dp_budget');
SELECT status, code FROM regress.respond('SELECT count(*)::text FROM sdp_api.dp_budget()');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_dp', '/rpc/dash_overview');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_overview()::text');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_jwt(:'c_dp', '/rpc/process');
SELECT status, code FROM regress.respond('SELECT 1');
ROLLBACK;
-- Without a token: login answers, the dash_* functions need a sign-in.
BEGIN;
SELECT regress.request('POST', '/rpc/login', '{}');
SELECT status, (body::jsonb) ->> 'role' AS role FROM regress.respond($$SELECT sdp_api.login('admin', 'dashboard-password-admin')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('POST', '/rpc/login', '{}');
SELECT status, (body::jsonb) ->> 'title' AS title FROM regress.respond($$SELECT sdp_api.login('admin', 'nope')::text$$);
ROLLBACK;
BEGIN;
SELECT regress.request('GET', '/rpc/dash_me', '{}');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_me()::text');
ROLLBACK;
-- An API key does not open them either (pre_request refuses before the key is looked at).
BEGIN;
SELECT regress.request('GET', '/rpc/dash_batches', '{"x-api-key": "whatever-key-0123456789abcdef0123"}');
SELECT status, code FROM regress.respond('SELECT sdp_api.dash_batches()::text');
ROLLBACK;
RESET SESSION AUTHORIZATION;

-- The audit and access logs name the signed-in user behind the role (sdp._request_login): only
-- for a live session of that user and role; a claim that is not one records the login alone.
BEGIN;
SET LOCAL ROLE sdp_admin;
SELECT set_config('request.jwt.claims', :'c_admin', true) IS NOT NULL AS claims_set;
SELECT sdp_api.dash_record_update(:'rec', '{"balance": "7"}') ->> 'status' AS edit;
SELECT set_config('request.jwt.claims', (:'c_admin'::jsonb || '{"jti": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}')::text, true) IS NOT NULL AS forged_claims_set;
SELECT sdp_api.dash_record_update(:'rec', '{"balance": "8"}') ->> 'status' AS edit;
RESET ROLE;
SELECT actor, login, event FROM sdp.audit_log ORDER BY seq DESC LIMIT 2;
ROLLBACK;

-- ---- every dash_* function for every role ---------------------------------------------------------
-- 'none': allowed (the call ran); 42501: refused by the function; other codes: allowed past the
-- gate, refused by the data (PT404: no such version).
CREATE TEMP TABLE calls(name text, stmt text);
INSERT INTO calls VALUES
  ('me', 'SELECT sdp_api.dash_me()'),
  ('overview', 'SELECT sdp_api.dash_overview()'),
  ('batches', 'SELECT sdp_api.dash_batches()'),
  ('batch', format('SELECT sdp_api.dash_batch(%L)', :'batch')),
  ('records', format('SELECT sdp_api.dash_records(%L)', :'batch')),
  ('record', format('SELECT sdp_api.dash_record(%L)', :'rec')),
  ('history', format('SELECT sdp_api.dash_record_history(%L)', :'rec')),
  ('update', format('SELECT sdp_api.dash_record_update(%L, %L)', :'rec', '{"age": "33"}')),
  ('decide', 'SELECT sdp_api.dash_record_decide(999999, false)'),
  ('audit', 'SELECT sdp_api.dash_audit()'),
  ('access_log', 'SELECT sdp_api.dash_access_log()'),
  ('privacy', 'SELECT sdp_api.dash_privacy()'),
  ('classification', 'SELECT sdp_api.dash_classification()'),
  ('compliance', 'SELECT sdp_api.dash_compliance()');
GRANT SELECT ON calls TO PUBLIC;
CREATE FUNCTION pg_temp.matrix() RETURNS TABLE(role text, call text, code text)
LANGUAGE plpgsql AS $$
DECLARE
  r text;
  c record;
BEGIN
  FOREACH r IN ARRAY ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer',
                           'regress_dash_dp', 'sdp_client', 'sdp_anon'] LOOP
    FOR c IN SELECT * FROM calls ORDER BY ctid LOOP
      EXECUTE format('SET ROLE %I', r);
      role := r; call := c.name;
      code := (SELECT e.code FROM regress.error_of(c.stmt) e);
      RESET ROLE;
      RETURN NEXT;
    END LOOP;
  END LOOP;
END $$;
SELECT call, string_agg(role || '=' || code, ' ' ORDER BY ord) AS result
  FROM (SELECT m.*, row_number() OVER () AS ord FROM pg_temp.matrix() m) x
 GROUP BY call ORDER BY min(ord);
-- dash_me's capabilities per role: what the UI shows.
SELECT r, sdp._dash_capabilities(r::name) FROM unnest(ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst',
  'sdp_auditor', 'sdp_viewer', 'regress_dash_dp', 'sdp_client', 'sdp_anon']) r;

-- ---- the readers' answers ----------------------------------------------------------------------------
-- The overview's counts are the tables' (other files' batches are in this database too).
SELECT e.key AS status, e.value::bigint = (SELECT count(*) FROM sdp.processing_batch b
                                            WHERE b.status::text = e.key AND NOT b.dev_only) AS count_ok
  FROM sdp_api.dash_overview() o, jsonb_each_text(o -> 'batches_by_status') e ORDER BY 1;
SELECT (SELECT sum((d ->> 'records')::bigint) FROM jsonb_array_elements(o -> 'ingested_per_day') d)
         = (SELECT sum(accepted_records) FROM sdp.processing_batch WHERE NOT dev_only
             AND created_at > now() - interval '31 days') AS per_day_ok,
       o -> 'audit_head' ->> 'seq' = (SELECT seq::text FROM sdp.audit_head) AS head_ok,
       o -> 'worker' ? 'state' AS has_worker, o -> 'integrity' ? 'failures' AS has_integrity
  FROM sdp_api.dash_overview() o;
SET ROLE sdp_engineer;
SELECT (x -> 'items' -> 0) - 'batch_id' - 'created_at' - 'received_at' - 'processed_at' AS item, x -> 'total' AS total
  FROM sdp_api.dash_batches(status => 'PROCESSED', client_id => 'dash_client') x;
SELECT sdp_api.dash_batches(status => 'FAILED', client_id => 'dash_client') AS failed;
SELECT code, message FROM regress.error_of($$SELECT sdp_api.dash_batches(status => 'BOGUS')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp_api.dash_batches(row_limit => 501)$$);
SELECT jsonb_array_length(x -> 'chunks') AS chunks, x -> 'columns' AS columns FROM sdp_api.dash_batch(:'batch') x;
SELECT code FROM regress.error_of($$SELECT sdp_api.dash_batch('00000000-0000-0000-0000-000000000000')$$);
SELECT x -> 'total' AS total, jsonb_path_query_array(x, '$.items[*].record_key') AS keys,
       jsonb_path_query_array(x, '$.items[*].integrity') AS integrity
  FROM sdp_api.dash_records(:'batch', sort => '-row_no', row_limit => 2) x;
SELECT x -> 'total' AS total, x -> 'items' -> 0 -> 'fields' AS fields, x -> 'items' -> 0 -> 'version' AS version
  FROM sdp_api.dash_records(:'batch', search => 'c3') x;
SELECT code, message FROM regress.error_of(format('SELECT sdp_api.dash_records(%L, sort => %L)', :'batch', 'name; drop table x'));
-- Edit (engineer) -> history shows both versions; the integrity badge stays ok.
SELECT sdp_api.dash_record_update(:'rec', '{"age": "34"}') ->> 'status' AS edit;
SELECT jsonb_path_query_array(sdp_api.dash_record_history(:'rec'), '$.items[*].fields.age') AS ages;
SELECT x ->> 'integrity' AS integrity, x ->> 'version' AS version, x -> 'fields' ->> 'age' AS age FROM sdp_api.dash_record(:'rec') x;
-- Propose (analyst) -> approve (engineer).
SET ROLE sdp_analyst;
SELECT (sdp_api.dash_record_update(:'rec', '{"age": "35"}') ->> 'version_id') AS proposal \gset
SET ROLE sdp_engineer;
SELECT sdp_api.dash_record_decide(:proposal, true) ->> 'status' AS decided;
SELECT sdp_api.dash_record(:'rec') -> 'fields' ->> 'age' AS age;
RESET ROLE;
-- Reads of records are access-logged (as the caller's role).
SELECT actor, action, outcome FROM sdp.access_log WHERE action LIKE 'dash%' OR action = 'record_history'
 GROUP BY actor, action, outcome ORDER BY actor, action;
SET ROLE sdp_auditor;
SELECT x -> 'verify' ->> 'ok' AS chain_ok, jsonb_array_length(x -> 'items') AS items,
       (x -> 'items' -> 0 ->> 'seq')::bigint = (x -> 'verify' ->> 'head_seq')::bigint AS newest_first
  FROM sdp_api.dash_audit(action => 'record', row_limit => 3) x;
SELECT jsonb_path_query_array(sdp_api.dash_audit(action => 'staff.lockout'), '$.items[*].target') AS lockouts;
SELECT jsonb_path_query_array(sdp_api.dash_audit(user_id => 'viewer', action => 'staff.login'), '$.items[*].action') AS viewer_logins;
SELECT jsonb_array_length(sdp_api.dash_access_log(actor => 'sdp_engineer') -> 'items') > 0 AS engineer_reads;
SELECT jsonb_path_query_array(sdp_api.dash_privacy(), '$.grants[*] ? (@.grantee == "regress_dash_dp")') AS grants;
-- Holds, retention and key rotations of this file's client only: other regress files (rekey)
-- leave theirs.
SELECT jsonb_path_query_array(x -> 'retention', '$[*] ? (@.client_id == "dash_client")') AS retention,
       jsonb_path_query_array(x -> 'holds', '$[*] ? (@.client_id == "dash_client")') AS holds,
       jsonb_path_query_array(x -> 'key_rotations', '$[*] ? (@.client_id == "dash_client")') AS key_rotations,
       x -> 'audit_head' ->> 'verified' AS verified, x -> 'dp_budgets' -> 0 ->> 'dataset' AS dp
  FROM sdp_api.dash_compliance() x;
SELECT jsonb_path_query_array(sdp_api.dash_classification(), '$.columns[*] ? (@.client_id == "dash_client").column_name') AS classified;
RESET ROLE;
-- Key rotations (sdp.key_rotation, 84_rekey.sql): one finished and one open rotation of this
-- client; the report lists both, oldest first, with versions, state and rows rewritten.
INSERT INTO sdp.key_rotation (client_id, domain, kind, from_version, to_version, to_key_id, state,
                              pairs, rows_done, created_by, created_at, finished_at)
VALUES ('dash_client', 'customers.email', 'HASH', 1, 2, '0a1b2c3d', 'finished', 40, 37, 'regress_rekey',
        '2026-01-02 03:04:05+00', '2026-01-02 03:05:00+00'),
       ('dash_client', 'customers.email', 'HASH', 2, 3, '4e5f6a7b', 'mapping', 0, 0, 'regress_rekey',
        '2026-02-02 03:04:05+00', NULL);
SET ROLE sdp_auditor;
SELECT r ->> 'domain' AS domain, r ->> 'kind' AS kind, r ->> 'from_version' AS from_v,
       r ->> 'to_version' AS to_v, r ->> 'to_key_id' AS key_id, r ->> 'state' AS state,
       r ->> 'pairs' AS pairs, r ->> 'rows_rewritten' AS rows_rewritten, r ->> 'started_by' AS started_by,
       (r ->> 'started_at')::timestamptz AT TIME ZONE 'UTC' AS started_at,
       (r ->> 'finished_at')::timestamptz AT TIME ZONE 'UTC' AS finished_at
  FROM sdp_api.dash_compliance() x,
       jsonb_path_query(x -> 'key_rotations', '$[*] ? (@.client_id == "dash_client")') r;
-- What the report says of a rotation: no token, no pair.
SELECT DISTINCT k FROM sdp_api.dash_compliance() x, jsonb_array_elements(x -> 'key_rotations') r,
       jsonb_object_keys(r) k ORDER BY k;
RESET ROLE;
DELETE FROM sdp.key_rotation WHERE client_id = 'dash_client';

DROP TABLE public.regress_dash_people;
DROP ROLE regress_dash_engineer_login, regress_dash_plain;
SELECT sdp.sdp_api_disable_analyst('regress_dash_dp');
DELETE FROM sdp.staff_user WHERE db_role = 'regress_dash_dp';
DELETE FROM sdp.dp_grant WHERE grantee = 'regress_dash_dp';
DROP ROLE regress_dash_dp;
