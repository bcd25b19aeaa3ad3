-- The web dashboard's server side (issue 22; docs/dashboard.md, "Server side: sign-in, roles and
-- endpoints"): staff sign-in with scrypt password hashes and short-lived HS256 JWTs, and the
-- dash_* readers the dashboard calls through PostgREST.
--
-- Sign-in. Staff are rows of sdp.staff_user (not database logins): a user name mapped to one db
-- role, the group roles of 75_governance_roles.sql (sdp_admin, sdp_engineer, sdp_analyst,
-- sdp_auditor, sdp_viewer) or a DP analyst's own role an admin enabled for the API
-- (sdp_api_enable_analyst, 80_privacy.sql). POST /rpc/login checks the password (scrypt,
-- staff_auth.cc) and answers a JWT signed with the secret PostgREST verifies with (its
-- jwt-secret, stored in sdp.jwt_secret by sdp_set_jwt_secret); PostgREST then switches to the
-- token's role claim for every other call. Failures are answered with a status set by the
-- function (401, 403, 429), not raised, so that the failed-attempt counter, the lockout and their
-- audit entries are committed.
--
-- Gates. Every sdp_dash_* function asks sdp._dash_require for the dashboard capability it serves
-- (sdp._dash_capabilities: derived from the caller's role exactly as the governance roles are,
-- docs/governance.md), so the database refuses (42501, HTTP 403) what the UI hides. Readers of
-- records, logs and budgets are access-logged (sdp._access). pre_request (60_api.sql) admits a
-- staff JWT to the dash_* functions only (sdp._api_admit_jwt below), and an API key never to them.

-- ---- PostgREST may switch to the staff roles --------------------------------------------------
-- sdp_authenticator is NOINHERIT: membership gives it the right to SET ROLE, no privileges. It
-- could switch to sdp_admin and the other group roles only for a JWT signed with the secret, and
-- pre_request then admits such a request to the dash_* functions only.
DO $grants$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer'] LOOP
    IF NOT pg_catalog.pg_has_role('sdp_authenticator', r, 'MEMBER') THEN
      EXECUTE pg_catalog.format('GRANT %I TO sdp_authenticator', r);
    END IF;
  END LOOP;
END
$grants$;

-- ---- secrets and users -------------------------------------------------------------------------
-- PostgREST's jwt-secret, which the sign-in function signs with. Owner only, like the API-key
-- pepper (40_auth.sql): no grant, row-level security without a policy.
CREATE TABLE sdp.jwt_secret (
  id     integer PRIMARY KEY CHECK (id = 1),
  secret text NOT NULL CHECK (pg_catalog.length(secret) >= 32),
  set_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sdp.jwt_secret IS 'PostgREST''s jwt-secret for signing staff tokens; owner only, never exposed';
ALTER TABLE sdp.jwt_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.jwt_secret FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('sdp.jwt_secret', '');

CREATE TABLE sdp.staff_user (
  username            text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9_.-]{0,62}$'),
  db_role             name NOT NULL,
  password_hash       bytea NOT NULL CHECK (pg_catalog.octet_length(password_hash) = 32),
  salt                bytea NOT NULL CHECK (pg_catalog.octet_length(salt) >= 16),
  scrypt_log_n        integer NOT NULL CHECK (scrypt_log_n BETWEEN 14 AND 20),
  scrypt_r            integer NOT NULL CHECK (scrypt_r BETWEEN 8 AND 32),
  scrypt_p            integer NOT NULL CHECK (scrypt_p BETWEEN 1 AND 4),
  failed_count        integer NOT NULL DEFAULT 0,
  locked_until        timestamptz,
  disabled            boolean NOT NULL DEFAULT false,
  created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
  password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  last_login          timestamptz
);
COMMENT ON TABLE sdp.staff_user IS 'dashboard users: scrypt password hash, db role, lockout state; owner only';
ALTER TABLE sdp.staff_user ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.staff_user FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('sdp.staff_user', '');

-- One row per token issued by sign-in (its jti). pre_request admits a dashboard token only while
-- its row exists and has not expired, so the database does not rest on the JWT secret alone: a
-- token forged with a leaked secret names no session, and disabling a user or changing its
-- password ends its sessions at once. Expired rows of a user are removed at its next sign-in.
CREATE TABLE sdp.staff_session (
  jti        text PRIMARY KEY,
  username   text NOT NULL REFERENCES sdp.staff_user (username) ON DELETE CASCADE,
  issued_at  timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
COMMENT ON TABLE sdp.staff_session IS 'dashboard sessions: the jti of each token sign-in issued; owner only';
CREATE INDEX staff_session_user ON sdp.staff_session (username);
ALTER TABLE sdp.staff_session ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.staff_session FORCE ROW LEVEL SECURITY;

-- C helpers (staff_auth.cc). Owner only: they take hashes and the secret as arguments.
CREATE FUNCTION sdp.sdp_staff_scrypt(password text, salt bytea, log_n integer, r integer, p integer)
RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_staff_scrypt' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_staff_scrypt_match(password text, salt bytea, log_n integer, r integer,
                                           p integer, expected bytea) RETURNS boolean
  AS 'MODULE_PATHNAME', 'sdp_staff_scrypt_match' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_jwt_sign(secret text, claims text) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_jwt_sign' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_jwt_verify(secret text, token text) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_jwt_verify' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_staff_scrypt(text, bytea, integer, integer, integer) IS
  'scrypt (OpenSSL) of a password: 32 bytes; N = 2^log_n';
COMMENT ON FUNCTION sdp.sdp_staff_scrypt_match(text, bytea, integer, integer, integer, bytea) IS
  'scrypt of the password equals the stored hash (constant-time compare)';
COMMENT ON FUNCTION sdp.sdp_jwt_sign(text, text) IS 'compact HS256 JWS of a JSON claims text';
COMMENT ON FUNCTION sdp.sdp_jwt_verify(text, text) IS
  'the claims text of an HS256 JWS whose signature verifies with the secret, else NULL (claims unchecked)';

-- scrypt cost of new hashes: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s). Stored per user, so
-- raising it later leaves existing hashes verifiable.
CREATE FUNCTION sdp._staff_cost(OUT log_n integer, OUT r integer, OUT p integer)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 15, 8, 1 $$;

CREATE FUNCTION sdp._jwt_signing_secret() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s.secret FROM sdp.jwt_secret s WHERE s.id OPERATOR(pg_catalog.=) 1 $$;

-- Why staff may not be mapped to `role`; NULL when they may: a governance group role, or a DP
-- analyst's own role that is enabled for the API and still passes its checks (80_privacy.sql).
CREATE FUNCTION sdp._staff_role_refusal(role name) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF role OPERATOR(pg_catalog.=) ANY (ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor',
                                            'sdp_viewer']::name[]) THEN
    RETURN NULL;
  END IF;
  IF role IS NULL OR NOT sdp._api_analyst_enabled(role) THEN
    RETURN 'is neither a governance role (sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer) nor an analyst role enabled for the API';
  END IF;
  RETURN sdp._api_analyst_refusal(role);
END
$$;

CREATE FUNCTION sdp._staff_check_password(password text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF password IS NULL OR pg_catalog.length(password) < 12 OR pg_catalog.octet_length(password) > 1024 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'a staff password has 12 to 1024 characters';
  END IF;
END
$$;

-- ---- dashboard capabilities -----------------------------------------------------------------------
-- What a role may see in the dashboard, derived as the governance roles are (75_governance_roles.sql,
-- sdp._caller_can): the UI shows its menu from this list, the sdp_dash_* functions refuse by it.
CREATE FUNCTION sdp._dash_capabilities(role name) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_exists boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_roles x WHERE x.rolname OPERATOR(pg_catalog.=) role);
  v_super boolean := coalesce((SELECT x.rolsuper FROM pg_catalog.pg_roles x
                                WHERE x.rolname OPERATOR(pg_catalog.=) role), false);
  v_admin boolean;
  v_engineer boolean;
  v_analyst boolean;
  v_auditor boolean;
  v_viewer boolean;
  v_dp boolean;
  v_caps text[] := '{}';
BEGIN
  IF NOT v_exists THEN
    RETURN v_caps;
  END IF;
  v_admin := v_super OR pg_catalog.pg_has_role(role, 'sdp_admin', 'MEMBER');
  v_engineer := v_admin OR pg_catalog.pg_has_role(role, 'sdp_engineer', 'MEMBER');
  v_analyst := v_super OR pg_catalog.pg_has_role(role, 'sdp_analyst', 'MEMBER');
  v_auditor := v_admin OR pg_catalog.pg_has_role(role, 'sdp_auditor', 'MEMBER');
  v_viewer := v_engineer OR v_analyst OR v_auditor OR pg_catalog.pg_has_role(role, 'sdp_viewer', 'MEMBER');
  v_dp := v_super OR pg_catalog.pg_has_role(role, 'sdp_dp_analyst', 'MEMBER');
  IF v_viewer THEN
    v_caps := v_caps || ARRAY['overview.read', 'batches.read', 'monitoring.read'];
  END IF;
  IF v_engineer OR v_analyst OR v_auditor THEN
    v_caps := v_caps || ARRAY['records.read', 'classification.read'];
  END IF;
  IF v_analyst AND NOT v_engineer THEN
    v_caps := v_caps || ARRAY['records.propose'];
  END IF;
  IF v_engineer THEN
    v_caps := v_caps || ARRAY['records.edit', 'records.approve', 'upload'];
  END IF;
  IF v_engineer OR v_auditor THEN
    v_caps := v_caps || ARRAY['records.history'];
  END IF;
  IF v_auditor THEN
    v_caps := v_caps || ARRAY['audit.read', 'access_log.read', 'compliance.read'];
  END IF;
  IF v_auditor OR v_dp THEN
    v_caps := v_caps || ARRAY['privacy.read'];
  END IF;
  IF v_dp THEN
    v_caps := v_caps || ARRAY['dp.query'];
  END IF;
  RETURN v_caps;
END
$$;

-- 42501 unless the caller holds the dashboard capability; the denial goes to the server log, as
-- sdp._require_capability's do. A request acting for a client (API key) holds none.
CREATE FUNCTION sdp._dash_require(capability text, action text, target text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp.sdp_auth_tenant() IS NOT NULL
     OR NOT capability OPERATOR(pg_catalog.=) ANY (sdp._dash_capabilities(sdp.sdp_caller_role())) THEN
    RAISE LOG 'sdp access denied: role=% login=% action=% target=%', sdp.sdp_caller_role(),
      pg_catalog.session_user(), action, coalesce(target, '-');
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = pg_catalog.format('permission denied: %s needs the %s capability', action, capability),
      HINT = 'see docs/dashboard.md, "Server side: sign-in, roles and endpoints"';
  END IF;
END
$$;

-- The signed-in user: the JWT's sub claim under PostgREST, else the caller's role (SQL).
CREATE FUNCTION sdp._dash_username() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(nullif(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', ''),
                  sdp.sdp_caller_role()::text)
$$;

-- ---- staff management (admin) -------------------------------------------------------------------
CREATE FUNCTION sdp.sdp_set_jwt_secret(secret text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'set_jwt_secret');
  IF secret IS NULL OR pg_catalog.length(secret) < 32 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'the JWT secret needs at least 32 characters',
      HINT = 'use the value of PostgREST''s jwt-secret (e.g. openssl rand -hex 32)';
  END IF;
  INSERT INTO sdp.jwt_secret AS s (id, secret) VALUES (1, sdp_set_jwt_secret.secret)
  ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret, set_at = pg_catalog.now();
  PERFORM sdp._audit('staff.jwt_secret_set', NULL, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_set_jwt_secret(text) IS
  'admin: the secret staff tokens are signed with (PostgREST''s jwt-secret, at least 32 characters); audited, never shown';

CREATE FUNCTION sdp.sdp_staff_create(username text, role name, password text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_refusal text;
  v_salt bytea := sdp.sdp_auth_new_secret();
  c record := sdp._staff_cost();
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_create', sdp_staff_create.username);
  IF sdp_staff_create.username IS NULL OR sdp_staff_create.username !~ '^[a-z][a-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'a user name has 1 to 63 characters from a-z 0-9 _ . -, starting with a letter';
  END IF;
  v_refusal := sdp._staff_role_refusal(sdp_staff_create.role);
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = pg_catalog.format('role %s cannot sign in to the dashboard: it %s',
                                  sdp._echo(coalesce(sdp_staff_create.role::text, 'NULL')), v_refusal);
  END IF;
  PERFORM sdp._staff_check_password(sdp_staff_create.password);
  BEGIN
    INSERT INTO sdp.staff_user (username, db_role, password_hash, salt, scrypt_log_n, scrypt_r, scrypt_p)
    VALUES (sdp_staff_create.username, sdp_staff_create.role,
            sdp.sdp_staff_scrypt(sdp_staff_create.password, v_salt, c.log_n, c.r, c.p), v_salt,
            c.log_n, c.r, c.p);
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict(pg_catalog.format('staff user %s already exists', sdp_staff_create.username),
                                hint => 'sdp.sdp_staff_set_password(username, password) changes a password');
  END;
  PERFORM sdp._audit('staff.create', sdp_staff_create.username,
                     pg_catalog.jsonb_build_object('role', sdp_staff_create.role));
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_create(text, name, text) IS
  'admin: a dashboard user mapped to a governance role or an API-enabled analyst role; scrypt-hashed password; audited';

CREATE FUNCTION sdp.sdp_staff_set_password(username text, password text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_salt bytea := sdp.sdp_auth_new_secret();
  c record := sdp._staff_cost();
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_set_password', sdp_staff_set_password.username);
  PERFORM sdp._staff_check_password(sdp_staff_set_password.password);
  UPDATE sdp.staff_user u
     SET password_hash = sdp.sdp_staff_scrypt(sdp_staff_set_password.password, v_salt, c.log_n, c.r, c.p),
         salt = v_salt, scrypt_log_n = c.log_n, scrypt_r = c.r, scrypt_p = c.p,
         password_changed_at = pg_catalog.now(), failed_count = 0, locked_until = NULL
   WHERE u.username = sdp_staff_set_password.username;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown staff user %s', sdp._echo(coalesce(sdp_staff_set_password.username, '')));
  END IF;
  DELETE FROM sdp.staff_session x WHERE x.username = sdp_staff_set_password.username;
  PERFORM sdp._audit('staff.set_password', sdp_staff_set_password.username, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_set_password(text, text) IS
  'admin: a new password for a dashboard user (also clears a lockout); audited';

CREATE FUNCTION sdp.sdp_staff_disable(username text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_disable', sdp_staff_disable.username);
  UPDATE sdp.staff_user u SET disabled = true WHERE u.username = sdp_staff_disable.username;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown staff user %s', sdp._echo(coalesce(sdp_staff_disable.username, '')));
  END IF;
  DELETE FROM sdp.staff_session x WHERE x.username = sdp_staff_disable.username;
  PERFORM sdp._audit('staff.disable', sdp_staff_disable.username, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_disable(text) IS
  'admin: the user can no longer sign in, and tokens already issued stop working at once; audited';

CREATE FUNCTION sdp.sdp_staff_unlock(username text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_unlock', sdp_staff_unlock.username);
  UPDATE sdp.staff_user u SET failed_count = 0, locked_until = NULL
   WHERE u.username = sdp_staff_unlock.username;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown staff user %s', sdp._echo(coalesce(sdp_staff_unlock.username, '')));
  END IF;
  PERFORM sdp._audit('staff.unlock', sdp_staff_unlock.username, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_unlock(text) IS 'admin: clears a lockout and the failed-attempt count; audited';

-- ---- sign-in -------------------------------------------------------------------------------------
-- A refusal as the answer of POST /rpc/login: the HTTP status set for PostgREST and an RFC 7807
-- problem body (with PostgREST's code/message too). Returned, not raised: the transaction, with
-- the failed-attempt count and the audit entries, commits.
CREATE FUNCTION sdp._staff_refusal(status integer, code text, title text, detail text,
                                   retry_after integer DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_catalog.set_config('response.status', status::text, true);
  IF retry_after IS NOT NULL THEN
    PERFORM pg_catalog.set_config('response.headers',
      pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('Retry-After', retry_after::text))::text, true);
  ELSIF status OPERATOR(pg_catalog.=) 401 THEN
    PERFORM pg_catalog.set_config('response.headers', '[{"WWW-Authenticate": "Bearer"}]', true);
  END IF;
  RETURN pg_catalog.jsonb_build_object('type', 'about:blank', 'title', title, 'status', status,
                                       'detail', detail, 'code', code, 'message', detail);
END
$$;

CREATE FUNCTION sdp.sdp_staff_login(username text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  u sdp.staff_user;
  v_ok boolean;
  v_refusal text;
  v_now timestamptz := pg_catalog.now();
  v_iat bigint := pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()))::bigint;
  v_secret text;
  v_wrong constant text := 'wrong user name or password';
  v_jti text := pg_catalog.substr(sdp.sdp_auth_new_key(), 5);  -- 192 random bits, base64url
BEGIN
  -- Inputs no stored user or password can match still cost one scrypt below.
  IF sdp_staff_login.username IS NOT NULL AND pg_catalog.length(sdp_staff_login.username) <= 63 THEN
    SELECT * INTO u FROM sdp.staff_user x WHERE x.username = sdp_staff_login.username FOR UPDATE;
  END IF;
  IF u.username IS NULL THEN
    -- Unknown user: the same work as a known one (a scrypt over a fixed salt), the same answer.
    PERFORM sdp.sdp_staff_scrypt_match(pg_catalog.left(coalesce(sdp_staff_login.password, ''), 1024),
                                       pg_catalog.decode(pg_catalog.repeat('5a', 32), 'hex'),
                                       (sdp._staff_cost()).log_n, (sdp._staff_cost()).r, (sdp._staff_cost()).p,
                                       pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'));
    -- The typed name is not recorded: it is sometimes a password typed into the wrong field.
    PERFORM sdp._audit('staff.login_failed', NULL, '{"reason": "unknown_user"}');
    RETURN sdp._staff_refusal(401, 'PT401', 'Unauthorized', v_wrong);
  END IF;
  v_ok := sdp.sdp_staff_scrypt_match(pg_catalog.left(coalesce(sdp_staff_login.password, ''), 1024),
                                     u.salt, u.scrypt_log_n, u.scrypt_r, u.scrypt_p, u.password_hash);
  IF u.locked_until IS NOT NULL AND u.locked_until > v_now THEN
    PERFORM sdp._audit('staff.login_locked', u.username,
                       pg_catalog.jsonb_build_object('locked_until', u.locked_until));
    RETURN sdp._staff_refusal(429, 'PT429', 'Too Many Requests',
      'too many failed sign-ins: this account is locked for a while; an admin can unlock it',
      greatest(1, pg_catalog.ceil(EXTRACT(epoch FROM u.locked_until - v_now))::integer));
  END IF;
  IF u.disabled THEN
    PERFORM sdp._audit('staff.login_failed', u.username, '{"reason": "disabled"}');
    RETURN sdp._staff_refusal(401, 'PT401', 'Unauthorized', v_wrong);
  END IF;
  IF NOT v_ok THEN
    u.failed_count := u.failed_count + 1;
    PERFORM sdp._audit('staff.login_failed', u.username,
                       pg_catalog.jsonb_build_object('reason', 'wrong_password', 'failures', u.failed_count));
    IF u.failed_count >= 5 THEN
      UPDATE sdp.staff_user x SET failed_count = 0, locked_until = v_now + interval '15 minutes'
       WHERE x.username = u.username;
      PERFORM sdp._audit('staff.lockout', u.username,
                         pg_catalog.jsonb_build_object('failures', u.failed_count, 'minutes', 15));
    ELSE
      UPDATE sdp.staff_user x SET failed_count = u.failed_count WHERE x.username = u.username;
    END IF;
    RETURN sdp._staff_refusal(401, 'PT401', 'Unauthorized', v_wrong);
  END IF;
  v_refusal := sdp._staff_role_refusal(u.db_role);
  IF v_refusal IS NOT NULL THEN
    PERFORM sdp._audit('staff.login_failed', u.username,
                       pg_catalog.jsonb_build_object('reason', 'role', 'role', u.db_role));
    RETURN sdp._staff_refusal(403, 'PT403', 'Forbidden',
      pg_catalog.format('the role of this account (%s) may not use the dashboard: it %s', u.db_role, v_refusal));
  END IF;
  v_secret := sdp._jwt_signing_secret();
  IF v_secret IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = 'the JWT secret is not set',
      HINT = 'an admin sets it with sdp.sdp_set_jwt_secret(secret), the value of PostgREST''s jwt-secret';
  END IF;
  UPDATE sdp.staff_user x SET failed_count = 0, locked_until = NULL, last_login = v_now
   WHERE x.username = u.username;
  DELETE FROM sdp.staff_session x WHERE x.username = u.username AND x.expires_at < v_now;
  INSERT INTO sdp.staff_session (jti, username, issued_at, expires_at)
  VALUES (v_jti, u.username, pg_catalog.to_timestamp(v_iat), pg_catalog.to_timestamp(v_iat + 900));
  PERFORM sdp._audit('staff.login', u.username, pg_catalog.jsonb_build_object('role', u.db_role));
  RETURN pg_catalog.jsonb_build_object(
    'token', sdp.sdp_jwt_sign(v_secret, pg_catalog.jsonb_build_object(
               'role', u.db_role, 'sub', u.username, 'aud', 'sdp-dashboard',
               'iat', v_iat, 'exp', v_iat + 900, 'jti', v_jti)::text),
    'role', u.db_role,
    'username', u.username,
    'expires_at', pg_catalog.to_char(pg_catalog.to_timestamp(v_iat + 900) AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'capabilities', pg_catalog.to_jsonb(sdp._dash_capabilities(u.db_role)));
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_login(text, text) IS
  'dashboard sign-in: a 15-minute HS256 JWT for the user''s role, or 401/403/429 (set as response.status); lockout after 5 failures for 15 minutes; audited';

-- pre_request's check for a request PostgREST switched to a JWT's role (sdp_api.pre_request,
-- 60_api.sql). A governance role (only a dashboard token can name one) opens the dash_* functions
-- only, and only while the token's sub is an enabled staff user of that very role, its jti a
-- session sign-in issued that has not expired, and its audience the dashboard's: disabling a
-- user, a new password, a role change or signing out ends its tokens at once. An analyst's
-- role opens the dp_* functions as before (sdp._api_admit_analyst) and, with a dashboard token, the
-- dash_* functions. PT403 for a path the token does not open, PT401 for a token no longer valid.
CREATE FUNCTION sdp._api_admit_jwt(path text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_role name := sdp.sdp_caller_role();
  v_claims jsonb := nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
  v_staff boolean := v_role OPERATOR(pg_catalog.=) ANY (ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst',
                                                              'sdp_auditor', 'sdp_viewer']::name[]);
  v_dash boolean := coalesce(path OPERATOR(pg_catalog.~) '^/rpc/dash_[a-z_]+$', false);
  v_refusal text;
BEGIN
  IF NOT v_staff AND NOT v_dash THEN
    PERFORM sdp._api_admit_analyst(path);
    RETURN;
  END IF;
  IF NOT v_staff THEN
    v_refusal := sdp._staff_role_refusal(v_role);
    IF v_refusal IS NOT NULL THEN
      RAISE LOG 'sdp access denied: role=% login=% action=api target=%: it %', v_role,
        pg_catalog.session_user(), coalesce(path, '-'), v_refusal;
      RAISE EXCEPTION USING ERRCODE = 'PT403',
        MESSAGE = pg_catalog.format('role %s may not use the dashboard: it %s', sdp._echo(v_role), v_refusal);
    END IF;
  ELSIF NOT v_dash THEN
    RAISE LOG 'sdp access denied: role=% login=% action=api target=%: a staff token opens dash_* only',
      v_role, pg_catalog.session_user(), coalesce(path, '-');
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = 'a dashboard token opens the dash_* functions only',
      HINT = 'clients authenticate with X-API-Key, not with a JWT';
  END IF;
  IF v_claims IS NULL OR v_claims ->> 'aud' IS DISTINCT FROM 'sdp-dashboard'
     OR NOT EXISTS (SELECT 1 FROM sdp.staff_user u JOIN sdp.staff_session x ON x.username = u.username
                     WHERE u.username = v_claims ->> 'sub' AND u.db_role OPERATOR(pg_catalog.=) v_role
                       AND NOT u.disabled AND x.jti = v_claims ->> 'jti'
                       AND x.expires_at > pg_catalog.now()) THEN
    RAISE LOG 'sdp access denied: role=% login=% action=api target=%: not a current dashboard token',
      v_role, pg_catalog.session_user(), coalesce(path, '-');
    RAISE EXCEPTION USING ERRCODE = 'PT401',
      MESSAGE = 'this token is not a current dashboard sign-in',
      HINT = 'sign in again (POST /rpc/login)';
  END IF;
END
$$;

-- ---- readers and writers of the dashboard ------------------------------------------------------
-- An item of the batch list (contract: docs/dashboard.md).
CREATE FUNCTION sdp._dash_batch_json(b sdp.processing_batch) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'batch_id', b.batch_id, 'client_id', b.client_id, 'processing_type', b.processing_type,
    'status', b.status, 'accepted_records', b.accepted_records,
    'processed_records', b.processed_records, 'received_bytes', b.received_bytes,
    'model_version', b.model_version, 'created_at', b.created_at, 'received_at', b.received_at,
    'processed_at', b.processed_at, 'error', b.error)
$$;

-- Page size: 50 by default, at most 500; 22023 outside.
CREATE FUNCTION sdp._dash_page(row_limit integer, row_offset integer, OUT lim integer, OUT off integer)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  lim := coalesce(row_limit, 50);
  off := coalesce(row_offset, 0);
  IF lim < 1 OR lim > 500 OR off < 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'row_limit is 1 to 500 and row_offset is 0 or more';
  END IF;
END
$$;

CREATE FUNCTION sdp.sdp_dash_me() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caps text[] := CASE WHEN sdp.sdp_auth_tenant() IS NULL
                        THEN sdp._dash_capabilities(sdp.sdp_caller_role()) ELSE '{}' END;
BEGIN
  IF pg_catalog.cardinality(v_caps) = 0 THEN
    PERFORM sdp._dash_require('overview.read', 'dash_me');
  END IF;
  RETURN pg_catalog.jsonb_build_object('username', sdp._dash_username(), 'role', sdp.sdp_caller_role(),
                                       'capabilities', pg_catalog.to_jsonb(v_caps));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_me() IS 'the signed-in user, its role and its dashboard capabilities';

CREATE FUNCTION sdp.sdp_dash_overview() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_dev boolean := sdp.sdp_is_dev();
BEGIN
  PERFORM sdp._dash_require('overview.read', 'dash_overview');
  RETURN pg_catalog.jsonb_build_object(
    'batches_by_status', (
      SELECT pg_catalog.jsonb_object_agg(s.st::text, coalesce(c.n, 0) ORDER BY s.st)
        FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::sdp.batch_state)) s(st)
        LEFT JOIN (SELECT b.status, pg_catalog.count(*) AS n FROM sdp.processing_batch b
                    WHERE NOT b.dev_only OR v_dev GROUP BY b.status) c ON c.status = s.st),
    'ingested_per_day', coalesce((
      SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('day', d.day, 'records', d.records,
                                                                'processed', d.processed) ORDER BY d.day)
        FROM (SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day,
                     pg_catalog.sum(b.accepted_records)::bigint AS records,
                     pg_catalog.sum(b.processed_records)::bigint AS processed
                FROM sdp.processing_batch b
               WHERE NOT b.dev_only OR v_dev
               GROUP BY 1 ORDER BY 1 DESC LIMIT 31) d), '[]'::jsonb),
    'integrity', (SELECT pg_catalog.jsonb_build_object('failures', pg_catalog.count(*),
                                                       'last_failure_at', pg_catalog.max(f.detected_at),
                                                       'checked_at', pg_catalog.now())
                    FROM sdp.integrity_failure f),
    'worker', pg_catalog.jsonb_build_object(
      'state', sdp.sdp_ready() ->> 'worker',
      'last_run', (SELECT pg_catalog.max(b.processed_at) FROM sdp.processing_batch b),
      'queued', (SELECT pg_catalog.count(*) FROM sdp.processing_batch b
                  WHERE b.status = 'RECEIVED' AND (NOT b.dev_only OR v_dev))),
    'audit_head', (SELECT pg_catalog.jsonb_build_object('seq', h.seq, 'entry_hash', pg_catalog.encode(h.hash, 'hex'))
                     FROM sdp.audit_head h WHERE h.id = 1));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_overview() IS
  'dashboard overview: batches per status, records per day, integrity failures, worker, audit head (aggregates only)';

CREATE FUNCTION sdp.sdp_dash_batches(status text DEFAULT NULL, client_id text DEFAULT NULL,
                                     row_limit integer DEFAULT NULL, row_offset integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_status sdp.batch_state;
  v_client text := nullif(sdp_dash_batches.client_id, '');
  v_dev boolean := sdp.sdp_is_dev();
  p record := sdp._dash_page(row_limit, row_offset);
  v_total bigint;
  v_items jsonb;
BEGIN
  PERFORM sdp._dash_require('batches.read', 'dash_batches');
  IF nullif(sdp_dash_batches.status, '') IS NOT NULL THEN
    IF NOT sdp_dash_batches.status = ANY (pg_catalog.enum_range(NULL::sdp.batch_state)::text[]) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = pg_catalog.format('unknown status %s', sdp._echo(sdp_dash_batches.status)),
        HINT = 'one of UPLOADING, RECEIVED, PROCESSING, PROCESSED, FAILED';
    END IF;
    v_status := sdp_dash_batches.status::sdp.batch_state;
  END IF;
  SELECT pg_catalog.count(*) INTO v_total FROM sdp.processing_batch b
   WHERE (NOT b.dev_only OR v_dev) AND (v_status IS NULL OR b.status = v_status)
     AND (v_client IS NULL OR b.client_id = v_client);
  SELECT coalesce(pg_catalog.jsonb_agg(sdp._dash_batch_json(b) ORDER BY b.created_at DESC, b.batch_id), '[]')
    INTO v_items
    FROM (SELECT * FROM sdp.processing_batch b
           WHERE (NOT b.dev_only OR v_dev) AND (v_status IS NULL OR b.status = v_status)
             AND (v_client IS NULL OR b.client_id = v_client)
           ORDER BY b.created_at DESC, b.batch_id LIMIT p.lim OFFSET p.off) b;
  RETURN pg_catalog.jsonb_build_object('total', v_total, 'items', v_items);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_batches(text, text, integer, integer) IS
  'batches, newest first, with status, counts, bytes, model and times (paged)';

CREATE FUNCTION sdp.sdp_dash_batch(batch_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch;
BEGIN
  PERFORM sdp._dash_require('batches.read', 'dash_batch', sdp_dash_batch.batch_id::text);
  b := sdp._visible_batch(sdp_dash_batch.batch_id, false);
  RETURN sdp._dash_batch_json(b) || pg_catalog.jsonb_build_object(
    'columns', pg_catalog.to_jsonb(b.columns),
    'chunks', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'seq', c.seq, 'records', c.records, 'bytes', c.bytes,
                          'chunk_sha256', c.chunk_sha256, 'received_at', c.received_at) ORDER BY c.seq)
                          FROM sdp.batch_chunk c WHERE c.batch_id = b.batch_id), '[]'),
    'classification', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                  'column_name', x.column_name, 'transform', x.transform, 'class', x.class,
                                  'sensitivity', x.sensitivity, 'source', x.source) ORDER BY x.id)
                                  FROM sdp.column_classification x WHERE x.batch_id = b.batch_id), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_batch(uuid) IS 'one batch with its chunks, columns and column classes';

-- A record as the dashboard shows it: fields by column name, score and band, integrity of the
-- row's MAC, current version.
CREATE FUNCTION sdp._dash_record_json(k bytea, t sdp.tokenized_record, columns text[],
                                      r sdp.processed_result) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'record_id', sdp.sdp_record_id(t.batch_id, t.row_no), 'batch_id', t.batch_id, 'row_no', t.row_no,
    'record_key', t.record_key,
    'fields', coalesce((SELECT pg_catalog.jsonb_object_agg(u.c, u.f)
                          FROM unnest(columns, t.fields) u(c, f) WHERE u.c IS NOT NULL), '{}'),
    'score', r.score, 'risk_band', r.risk_band,
    'integrity', CASE WHEN sdp._record_ok(k, t) THEN 'ok' ELSE 'failed' END,
    'version', coalesce((SELECT x.version_no FROM sdp.record_version x
                          WHERE x.batch_id = t.batch_id AND x.row_no = t.row_no AND x.status = 'current'), 1))
$$;

CREATE FUNCTION sdp.sdp_dash_records(batch_id uuid DEFAULT NULL, search text DEFAULT NULL,
                                     risk_band text DEFAULT NULL, row_limit integer DEFAULT NULL,
                                     row_offset integer DEFAULT NULL, sort text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_batch uuid := sdp_dash_records.batch_id;
  v_search text := nullif(sdp_dash_records.search, '');
  v_band text := nullif(sdp_dash_records.risk_band, '');
  v_sort text := coalesce(nullif(sdp_dash_records.sort, ''), 'row_no');
  v_dev boolean := sdp.sdp_is_dev();
  v_key bytea := sdp._integrity_key();
  p record := sdp._dash_page(row_limit, row_offset);
  v_total bigint;
  v_items jsonb;
BEGIN
  PERFORM sdp._dash_require('records.read', 'dash_records', v_batch::text);
  IF v_batch IS NOT NULL THEN
    PERFORM sdp._visible_batch(v_batch, false);
  END IF;
  IF v_band IS NOT NULL AND v_band NOT IN ('low', 'medium', 'high') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'risk_band is low, medium or high';
  END IF;
  IF v_sort NOT IN ('row_no', '-row_no', 'score', '-score', 'record_key', '-record_key') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'sort is row_no, score or record_key, with - for descending';
  END IF;
  SELECT pg_catalog.count(*) INTO v_total
    FROM sdp.tokenized_record t JOIN sdp.processing_batch b ON b.batch_id = t.batch_id
    LEFT JOIN sdp.processed_result r ON r.batch_id = t.batch_id AND r.row_no = t.row_no
   WHERE (v_batch IS NULL OR t.batch_id = v_batch) AND (NOT b.dev_only OR v_dev)
     AND (v_search IS NULL OR pg_catalog.starts_with(t.record_key, v_search))
     AND (v_band IS NULL OR r.risk_band = v_band);
  SELECT coalesce(pg_catalog.jsonb_agg(sdp._dash_record_json(v_key, q.t, q.columns, q.r) ORDER BY q.n), '[]')
    INTO v_items
    FROM (SELECT t, b.columns, r,
                 pg_catalog.row_number() OVER (ORDER BY
                   CASE v_sort WHEN 'score' THEN r.score END ASC NULLS LAST,
                   CASE v_sort WHEN '-score' THEN r.score END DESC NULLS LAST,
                   CASE v_sort WHEN 'record_key' THEN t.record_key END ASC,
                   CASE v_sort WHEN '-record_key' THEN t.record_key END DESC,
                   CASE v_sort WHEN '-row_no' THEN t.row_no END DESC,
                   t.batch_id, t.row_no) AS n
            FROM sdp.tokenized_record t JOIN sdp.processing_batch b ON b.batch_id = t.batch_id
            LEFT JOIN sdp.processed_result r ON r.batch_id = t.batch_id AND r.row_no = t.row_no
           WHERE (v_batch IS NULL OR t.batch_id = v_batch) AND (NOT b.dev_only OR v_dev)
             AND (v_search IS NULL OR pg_catalog.starts_with(t.record_key, v_search))
             AND (v_band IS NULL OR r.risk_band = v_band)
           ORDER BY n LIMIT p.lim OFFSET p.off) q;
  PERFORM sdp._access('dash_records', coalesce(v_batch::text, '*'), 'allowed', pg_catalog.jsonb_array_length(v_items));
  RETURN pg_catalog.jsonb_build_object('total', v_total, 'items', v_items);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_records(uuid, text, text, integer, integer, text) IS
  'records (tokens only) with score, band, integrity and version; filters, server-side paging; access-logged';

CREATE FUNCTION sdp.sdp_dash_record(record_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id record := sdp._parse_record_id(sdp_dash_record.record_id);
  b sdp.processing_batch;
  t sdp.tokenized_record;
  r sdp.processed_result;
BEGIN
  PERFORM sdp._dash_require('records.read', 'dash_record', sdp_dash_record.record_id);
  b := sdp._visible_batch(id.batch_id, false);
  SELECT * INTO t FROM sdp.tokenized_record x WHERE x.batch_id = id.batch_id AND x.row_no = id.row_no;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown record %s', sdp.sdp_record_id(id.batch_id, id.row_no));
  END IF;
  SELECT * INTO r FROM sdp.processed_result x WHERE x.batch_id = id.batch_id AND x.row_no = id.row_no;
  PERFORM sdp._access('dash_record', sdp_dash_record.record_id, 'allowed', 1);
  RETURN sdp._dash_record_json(sdp._integrity_key(), t, b.columns, r)
         || pg_catalog.jsonb_build_object('client_id', b.client_id, 'status', b.status,
                                          'model_version', r.model_version);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record(text) IS 'one record as in dash_records, with its batch''s client and status; access-logged';

CREATE FUNCTION sdp.sdp_dash_record_history(record_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id record := sdp._parse_record_id(sdp_dash_record_history.record_id);
  b sdp.processing_batch;
BEGIN
  PERFORM sdp._dash_require('records.history', 'dash_record_history', sdp_dash_record_history.record_id);
  b := sdp._visible_batch(id.batch_id, false);
  RETURN pg_catalog.jsonb_build_object('record_id', sdp_dash_record_history.record_id, 'items', coalesce((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'version_id', h.version_id, 'version_no', h.version_no, 'status', h.status,
             'base_version', h.base_version, 'changed_columns', pg_catalog.to_jsonb(h.changed_columns),
             'fields', coalesce((SELECT pg_catalog.jsonb_object_agg(u.c, u.f)
                                   FROM unnest(b.columns, h.fields) u(c, f) WHERE u.c IS NOT NULL), '{}'),
             'proposed_by', h.proposed_by, 'proposed_at', h.proposed_at,
             'decided_by', h.decided_by, 'decided_at', h.decided_at) ORDER BY h.n)
      FROM (SELECT x.*, pg_catalog.row_number() OVER () AS n
              FROM sdp.sdp_record_history(sdp_dash_record_history.record_id) x) h), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record_history(text) IS
  'every version of a record (engineer, auditor, admin; sdp_record_history, access-logged)';

-- The record is named by record_id or, for PUT /api/v1/records/{id} (Caddy), by X-Record-Id.
CREATE FUNCTION sdp.sdp_dash_record_update(record_id text DEFAULT NULL, patch jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_rid text := coalesce(nullif(sdp_dash_record_update.record_id, ''), sdp.sdp_api_header('x-record-id'));
BEGIN
  IF NOT 'records.edit' = ANY (sdp._dash_capabilities(sdp.sdp_caller_role())) THEN
    PERFORM sdp._dash_require('records.propose', 'dash_record_update', v_rid);
  END IF;
  RETURN sdp.sdp_update_record(v_rid, sdp_dash_record_update.patch);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record_update(text, jsonb) IS
  'edits a record: engineer/admin a new version, analyst a pending proposal (sdp_update_record; audited)';

CREATE FUNCTION sdp.sdp_dash_record_decide(version_id bigint, approve boolean) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._dash_require('records.approve', 'dash_record_decide', sdp_dash_record_decide.version_id::text);
  IF sdp_dash_record_decide.approve IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'approve is true or false';
  END IF;
  IF sdp_dash_record_decide.approve THEN
    RETURN sdp.sdp_approve_version(sdp_dash_record_decide.version_id);
  END IF;
  RETURN sdp.sdp_reject_version(sdp_dash_record_decide.version_id);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record_decide(bigint, boolean) IS
  'approves or rejects a pending proposal (engineer/admin; audited)';

CREATE FUNCTION sdp.sdp_dash_audit(actor text DEFAULT NULL, action text DEFAULT NULL,
                                   since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL,
                                   user_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_actor text := coalesce(nullif(sdp_dash_audit.actor, ''), nullif(sdp_dash_audit.user_id, ''));
  v_action text := nullif(sdp_dash_audit.action, '');
  p record := sdp._dash_page(row_limit, 0);
  v_items jsonb;
  v_broken record;
  h sdp.audit_head;
BEGIN
  PERFORM sdp._dash_require('audit.read', 'dash_audit');
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'seq', l.seq, 'at', l.at, 'actor', l.actor, 'login', l.login, 'client_id', l.client_id,
           'action', l.event, 'target', l.target, 'details', l.details,
           'entry_hash', pg_catalog.encode(l.entry_hash, 'hex')) ORDER BY l.seq DESC), '[]')
    INTO v_items
    FROM (SELECT * FROM sdp.audit_log x
           WHERE (v_actor IS NULL OR x.actor = v_actor OR x.target = v_actor)
             AND (v_action IS NULL OR x.event = v_action OR pg_catalog.starts_with(x.event, v_action || '.'))
             AND (sdp_dash_audit.since IS NULL OR x.at >= sdp_dash_audit.since)
           ORDER BY x.seq DESC LIMIT p.lim) l;
  SELECT * INTO v_broken FROM sdp.sdp_audit_verify() v LIMIT 1;
  SELECT * INTO h FROM sdp.audit_head x WHERE x.id = 1;
  PERFORM sdp._access('dash_audit', v_action, 'allowed', pg_catalog.jsonb_array_length(v_items));
  RETURN pg_catalog.jsonb_build_object('items', v_items, 'verify', pg_catalog.jsonb_build_object(
    'ok', v_broken.seq IS NULL, 'checked', h.seq, 'head_seq', h.seq,
    'head_hash', pg_catalog.encode(h.hash, 'hex'), 'broken_seq', v_broken.seq, 'reason', v_broken.reason));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_audit(text, text, timestamptz, integer, text) IS
  'audit log entries (newest first; actor or user_id, action prefix, since) and the chain verification';

CREATE FUNCTION sdp.sdp_dash_access_log(actor text DEFAULT NULL, action text DEFAULT NULL,
                                        since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_actor text := nullif(sdp_dash_access_log.actor, '');
  v_action text := nullif(sdp_dash_access_log.action, '');
  p record := sdp._dash_page(row_limit, 0);
  v_items jsonb;
BEGIN
  PERFORM sdp._dash_require('access_log.read', 'dash_access_log');
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', l.id, 'at', l.at, 'actor', l.actor, 'login', l.login, 'client_id', l.client_id,
           'action', l.action, 'target', l.target, 'outcome', l.outcome, 'rows', l.rows) ORDER BY l.id DESC), '[]')
    INTO v_items
    FROM (SELECT * FROM sdp.access_log x
           WHERE (v_actor IS NULL OR x.actor = v_actor)
             AND (v_action IS NULL OR x.action = v_action)
             AND (sdp_dash_access_log.since IS NULL OR x.at >= sdp_dash_access_log.since)
           ORDER BY x.id DESC LIMIT p.lim) l;
  PERFORM sdp._access('dash_access_log', v_action, 'allowed', pg_catalog.jsonb_array_length(v_items));
  RETURN pg_catalog.jsonb_build_object('items', v_items);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_access_log(text, text, timestamptz, integer) IS
  'access log entries, newest first (actor, action, since)';

-- Budgets: an auditor or admin sees every grant; an analyst the grants of the roles it belongs to.
CREATE FUNCTION sdp.sdp_dash_privacy() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_all boolean := 'audit.read' = ANY (sdp._dash_capabilities(sdp.sdp_caller_role()));
  v_grants jsonb;
  v_burn jsonb;
BEGIN
  PERFORM sdp._dash_require('privacy.read', 'dash_privacy');
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'grantee', g.grantee, 'dataset', g.dataset, 'epsilon', g.epsilon, 'delta', g.delta,
           'spent_epsilon', g.epsilon_spent, 'spent_delta', g.delta_spent,
           'remaining_epsilon', g.epsilon - g.epsilon_spent) ORDER BY g.grantee, g.dataset), '[]')
    INTO v_grants
    FROM sdp.dp_grant g
   WHERE v_all OR sdp.sdp_caller_has_role(g.grantee::name);
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'at', c.at, 'grantee', c.grantee, 'dataset', c.dataset, 'spent_epsilon', c.spent) ORDER BY c.at, c.id), '[]')
    INTO v_burn
    FROM (SELECT l.id, l.at, u.grantee, l.dataset,
                 pg_catalog.sum(l.epsilon) OVER (PARTITION BY u.grantee, l.dataset ORDER BY l.at, l.id) AS spent
            FROM sdp.dp_ledger l, pg_catalog.unnest(l.charged_to) u(grantee)
           WHERE v_all OR sdp.sdp_caller_has_role(u.grantee::name)) c;
  PERFORM sdp._access('dash_privacy', NULL, 'allowed', pg_catalog.jsonb_array_length(v_grants));
  RETURN pg_catalog.jsonb_build_object('grants', v_grants, 'burn_down', v_burn,
    'datasets', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'name', d.name, 'epsilon_cap', d.epsilon_cap, 'epsilon_spent', d.epsilon_spent,
                            'delta_cap', d.delta_cap, 'delta_spent', d.delta_spent) ORDER BY d.name)
                            FROM sdp.dp_dataset d
                           WHERE v_all OR EXISTS (SELECT 1 FROM sdp.dp_grant g WHERE g.dataset = d.name
                                                    AND sdp.sdp_caller_has_role(g.grantee::name))), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_privacy() IS
  'privacy budgets: grants with spent and remaining epsilon, the burn-down from the ledger, datasets';

CREATE FUNCTION sdp.sdp_dash_classification() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._dash_require('classification.read', 'dash_classification');
  RETURN pg_catalog.jsonb_build_object(
    'columns', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'client_id', c.client_id, 'column_name', c.column_name, 'class', c.class,
                           'sensitivity', c.sensitivity, 'source', c.source, 'transform', c.transform,
                           'dataset', c.dataset, 'batch_id', c.batch_id, 'classified_at', c.classified_at)
                           ORDER BY c.client_id, c.column_name)
                           FROM (SELECT DISTINCT ON (x.client_id, coalesce(x.dataset, ''), x.column_name) x.*
                                   FROM sdp.column_classification x
                                  ORDER BY x.client_id, coalesce(x.dataset, ''), x.column_name,
                                           x.classified_at DESC, x.id DESC) c), '[]'),
    'firewall_rejections', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'at', l.at, 'client_id', l.client_id, 'batch_id', l.target,
                           'column', l.details ->> 'column', 'row', l.details -> 'row',
                           'reason', l.details ->> 'class', 'transform', l.details ->> 'transform')
                           ORDER BY l.seq DESC)
                           FROM (SELECT * FROM sdp.audit_log x WHERE x.event = 'firewall.refused'
                                  ORDER BY x.seq DESC LIMIT 500) l), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_classification() IS
  'the latest class and sensitivity of each client column, and the PII firewall''s refusals (no values)';

CREATE FUNCTION sdp.sdp_dash_compliance() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_broken record;
  h sdp.audit_head;
BEGIN
  PERFORM sdp._dash_require('compliance.read', 'dash_compliance');
  SELECT * INTO v_broken FROM sdp.sdp_audit_verify() v LIMIT 1;
  SELECT * INTO h FROM sdp.audit_head x WHERE x.id = 1;
  PERFORM sdp._access('dash_compliance', NULL, 'allowed');
  RETURN pg_catalog.jsonb_build_object(
    'generated_at', pg_catalog.now(),
    'audit_head', pg_catalog.jsonb_build_object('seq', h.seq, 'entry_hash', pg_catalog.encode(h.hash, 'hex'),
                                                'verified', v_broken.seq IS NULL),
    'holds', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x) ORDER BY x.hold_id)
                         FROM sdp.legal_hold x), '[]'),
    'retention', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                             'client_id', x.client_id, 'ttl', x.ttl::text, 'set_by', x.set_by, 'set_at', x.set_at)
                             ORDER BY x.client_id) FROM sdp.retention_policy x), '[]'),
    'erasures', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'at', l.at, 'action', l.event, 'target', l.target, 'actor', l.actor,
                            'details', l.details) ORDER BY l.seq)
                            FROM sdp.audit_log l
                           WHERE pg_catalog.starts_with(l.event, 'erasure.') OR l.event = 'retention.purge'), '[]'),
    'integrity', (SELECT pg_catalog.jsonb_build_object('failures', pg_catalog.count(*),
                                                       'last_failure_at', pg_catalog.max(f.detected_at))
                    FROM sdp.integrity_failure f),
    'dp_budgets', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                              'dataset', d.name, 'epsilon_cap', d.epsilon_cap, 'epsilon_spent', d.epsilon_spent,
                              'delta_cap', d.delta_cap, 'delta_spent', d.delta_spent) ORDER BY d.name)
                              FROM sdp.dp_dataset d), '[]'),
    -- Token key rotations (sdp_rekey_*, docs/key_rotation.md): one row per rotation, no tokens.
    -- sdp.key_rotation's row-level security scopes them as it scopes every client table.
    'key_rotations', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                 'rotation_id', k.rotation_id, 'client_id', k.client_id, 'domain', k.domain,
                                 'kind', k.kind, 'from_version', k.from_version, 'to_version', k.to_version,
                                 'to_key_id', k.to_key_id, 'state', k.state, 'pairs', k.pairs,
                                 'rows_rewritten', k.rows_done, 'started_by', k.created_by,
                                 'started_at', k.created_at, 'finished_at', k.finished_at)
                                 ORDER BY k.created_at, k.rotation_id)
                                 FROM sdp.key_rotation k), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_compliance() IS
  'compliance report: audit head, holds, retention, erasures, integrity, DP budgets, key rotations';

-- Signing out: the caller's session (the token's jti) ends; the token is refused from then on.
CREATE FUNCTION sdp.sdp_dash_logout() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_claims jsonb := nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
  v_user text;
BEGIN
  DELETE FROM sdp.staff_session x WHERE x.jti = v_claims ->> 'jti' AND x.username = v_claims ->> 'sub'
  RETURNING x.username INTO v_user;
  IF v_user IS NOT NULL THEN
    PERFORM sdp._audit('staff.logout', v_user, '{}');
  END IF;
  RETURN pg_catalog.jsonb_build_object('signed_out', v_user IS NOT NULL);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_logout() IS 'ends the session of the calling dashboard token; audited';

-- ---- PostgREST (sdp_api): thin SECURITY INVOKER wrappers -----------------------------------------
-- login is VOLATILE (it writes the failed-attempt count and the audit log: a POST); the readers
-- are STABLE, so PostgREST runs them READ ONLY and allows GET with query parameters. Paging
-- parameters are row_limit and row_offset: PostgREST takes `limit`, `offset` and `order` in a
-- query string as its own modifiers and never passes them to a function.
CREATE FUNCTION sdp_api.login(username text, password text) RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_staff_login(username, password) $$;
COMMENT ON FUNCTION sdp_api.login(text, text) IS
  'POST {username, password} -> {token, role, username, expires_at, capabilities}; 401 wrong user or password, 429 locked, 403 role not allowed';

CREATE FUNCTION sdp_api.dash_me() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_me() $$;
CREATE FUNCTION sdp_api.dash_overview() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_overview() $$;
CREATE FUNCTION sdp_api.dash_batches(status text DEFAULT NULL, client_id text DEFAULT NULL,
                                     row_limit integer DEFAULT NULL, row_offset integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_batches(status, client_id, row_limit, row_offset) $$;
CREATE FUNCTION sdp_api.dash_batch(batch_id uuid) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_batch(batch_id) $$;
COMMENT ON FUNCTION sdp_api.dash_me() IS 'GET: {username, role, capabilities}';
COMMENT ON FUNCTION sdp_api.dash_overview() IS 'GET: batches per status, records per day, integrity, worker, audit head';
COMMENT ON FUNCTION sdp_api.dash_batches(text, text, integer, integer) IS
  'GET ?status=&client_id=&row_limit=&row_offset= -> {total, items}';
COMMENT ON FUNCTION sdp_api.dash_batch(uuid) IS 'GET ?batch_id= -> one batch with chunks, columns, classification';

CREATE FUNCTION sdp_api.dash_records(batch_id uuid DEFAULT NULL, search text DEFAULT NULL,
                                     risk_band text DEFAULT NULL, row_limit integer DEFAULT NULL,
                                     row_offset integer DEFAULT NULL, sort text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_records(batch_id, search, risk_band, row_limit, row_offset, sort) $$;
CREATE FUNCTION sdp_api.dash_record(record_id text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record(record_id) $$;
CREATE FUNCTION sdp_api.dash_record_history(record_id text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record_history(record_id) $$;
CREATE FUNCTION sdp_api.dash_record_update(record_id text DEFAULT NULL, patch jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record_update(record_id, patch) $$;
CREATE FUNCTION sdp_api.dash_record_decide(version_id bigint, approve boolean) RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record_decide(version_id, approve) $$;
CREATE FUNCTION sdp_api.dash_audit(actor text DEFAULT NULL, action text DEFAULT NULL,
                                   since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL,
                                   user_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_audit(actor, action, since, row_limit, user_id) $$;
CREATE FUNCTION sdp_api.dash_access_log(actor text DEFAULT NULL, action text DEFAULT NULL,
                                        since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_access_log(actor, action, since, row_limit) $$;
CREATE FUNCTION sdp_api.dash_privacy() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_privacy() $$;
CREATE FUNCTION sdp_api.dash_classification() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_classification() $$;
CREATE FUNCTION sdp_api.dash_compliance() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_compliance() $$;
COMMENT ON FUNCTION sdp_api.dash_records(uuid, text, text, integer, integer, text) IS
  'GET ?batch_id=&search=&risk_band=&row_limit=&row_offset=&sort= -> {total, items}';
COMMENT ON FUNCTION sdp_api.dash_record(text) IS 'GET ?record_id=<batch_id>:<row_no> -> one record';
COMMENT ON FUNCTION sdp_api.dash_record_history(text) IS 'GET ?record_id= -> {record_id, items: versions}';
COMMENT ON FUNCTION sdp_api.dash_record_update(text, jsonb) IS
  'POST {record_id, patch} (or PUT /api/v1/records/{id} {patch}) -> the new or proposed version';
COMMENT ON FUNCTION sdp_api.dash_record_decide(bigint, boolean) IS 'POST {version_id, approve} -> the decided version';
COMMENT ON FUNCTION sdp_api.dash_audit(text, text, timestamptz, integer, text) IS
  'GET ?actor=&action=&since=&row_limit= (or user_id=) -> {items, verify}';
COMMENT ON FUNCTION sdp_api.dash_access_log(text, text, timestamptz, integer) IS
  'GET ?actor=&action=&since=&row_limit= -> {items}';
COMMENT ON FUNCTION sdp_api.dash_privacy() IS 'GET -> {grants, burn_down, datasets}';
COMMENT ON FUNCTION sdp_api.dash_classification() IS 'GET -> {columns, firewall_rejections}';
COMMENT ON FUNCTION sdp_api.dash_compliance() IS 'GET -> the compliance report';
CREATE FUNCTION sdp_api.dash_logout() RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_logout() $$;
COMMENT ON FUNCTION sdp_api.dash_logout() IS 'POST: signs out (the token stops working) -> {signed_out}';

-- ---- GET /api/v1/analytics/aggregate?metric=&period= (issue 22): a DP time series --------------
-- A differentially private aggregate of a named metric per calendar period (UTC) over the
-- batches dataset of a DP analyst (sdp_dp_register_batches): `records` (how many records were
-- received, counted with the count mechanism) or `mean_score` (the model's mean score, in [0, 1],
-- with the avg mechanism), for `periods` consecutive buckets of `period` (day, week, month)
-- ending with the one that holds `until` (default: today). The buckets are named by the request,
-- never by the data, so they are public partition keys: every bucket is released, empty or not,
-- and no delta is spent on which buckets exist.
--
-- A GET must be safe to repeat, and repeating a DP query must not let an analyst average the
-- noise away: the release is made once per (analyst, dataset, metric, period, buckets, epsilon),
-- charged once through the privacy ledger (sdp._dp_charge_committed, committed by a background
-- worker, so it works in PostgREST's READ ONLY transaction of a GET), and stored in that ledger
-- row (parameters.aggregate and parameters.release). A repeat finds the row and answers the same
-- values without charging. Two first requests racing may both charge (never fewer charges than
-- releases); the answer is then the first release.
--
-- Time: a record's batch's received_at. The dataset's view does not carry it, so the scan joins
-- the view's row identity (hashtextextended(batch_id, row_no), sdp_dp_register_batches) back to
-- the stored record and its batch.
CREATE FUNCTION sdp.sdp_dp_aggregate(metric text, period text, dataset text DEFAULT NULL,
                                     epsilon numeric DEFAULT 0.5, periods integer DEFAULT 12,
                                     until date DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caller text := sdp.sdp_caller_role();
  v_dataset text := dataset;
  v_names text[];
  d sdp.dp_dataset;
  v_step interval;
  v_last date;
  v_first date;
  v_buckets text[];
  v_key jsonb;
  v_kind text;
  v_value text := 'NULL::pg_catalog.float8';
  v_notnull text := '';
  v_lo bigint := 0;
  v_hi bigint := 0;
  v_release jsonb := '[]';
  v_params jsonb;
  v_found record;
  r record;
BEGIN
  IF metric IS NULL OR metric NOT IN ('records', 'mean_score') THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
      format('metric %s is not one of records, mean_score', coalesce(sdp._echo(metric), 'NULL')), '22023');
  END IF;
  IF period IS NULL OR period NOT IN ('day', 'week', 'month') THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
      format('period %s is not one of day, week, month', coalesce(sdp._echo(period), 'NULL')), '22023');
  END IF;
  IF periods IS NULL OR periods < 1 OR periods > 366 THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request', 'periods is 1 to 366', '22023');
  END IF;
  IF epsilon IS NULL OR NOT (epsilon >= 0.000001 AND epsilon <= 1000000) THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
      'epsilon must be a finite number from 0.000001 to 1000000', '22023');
  END IF;
  -- Without a dataset: the caller's only batches dataset with a grant.
  IF v_dataset IS NULL THEN
    v_names := ARRAY(SELECT DISTINCT g.dataset FROM sdp.dp_grant g
                       JOIN sdp.dp_dataset x ON x.name OPERATOR(pg_catalog.=) g.dataset
                      WHERE sdp._dp_draws_from(g.grantee, v_caller)
                        AND x.row_identity OPERATOR(pg_catalog.=) 'dp_row_id');
    IF pg_catalog.cardinality(v_names) <> 1 THEN
      RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
        'name the dataset: the caller draws from no batches dataset, or from several', '22023');
    END IF;
    v_dataset := v_names[1];
  END IF;
  SELECT * INTO d FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) v_dataset;
  IF d.name IS NULL OR d.row_identity IS DISTINCT FROM 'dp_row_id' THEN
    RETURN sdp._dp_aggregate_problem(404, 'Not Found',
      format('no batches dataset %s (sdp_dp_register_batches): only those have a time', sdp._echo(v_dataset)), '22023');
  END IF;

  v_step := CASE period WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '1 week' ELSE interval '1 month' END;
  v_last := pg_catalog.date_trunc(period, coalesce(until, (pg_catalog.now() AT TIME ZONE 'UTC')::date)::timestamp)::date;
  v_first := (v_last::timestamp OPERATOR(pg_catalog.-) (v_step OPERATOR(pg_catalog.*) (periods - 1)))::date;
  v_buckets := ARRAY(SELECT pg_catalog.to_char(g, 'YYYY-MM-DD')
                       FROM pg_catalog.generate_series(v_first::timestamp, v_last::timestamp, v_step) g);
  v_key := pg_catalog.jsonb_build_object('metric', metric, 'period', period, 'first', v_buckets[1],
                                         'periods', periods);

  -- ---- the release made before, if any: the same answer, no charge ----
  SELECT l.id, l.at, l.parameters INTO v_found FROM sdp.dp_ledger l
   WHERE l.actor OPERATOR(pg_catalog.=) v_caller AND l.dataset OPERATOR(pg_catalog.=) d.name
     AND l.epsilon OPERATOR(pg_catalog.=) sdp_dp_aggregate.epsilon
     AND l.parameters OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_object('aggregate', v_key)
   ORDER BY l.id LIMIT 1;
  IF v_found.id IS NOT NULL THEN
    RETURN pg_catalog.jsonb_build_object('dataset', d.name, 'epsilon', epsilon, 'charged', false,
                                         'ledger_id', v_found.id, 'released_at', v_found.at)
           OPERATOR(pg_catalog.||) v_key
           OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('buckets', v_found.parameters -> 'release');
  END IF;

  IF metric = 'records' THEN
    v_kind := 'count';
  ELSE
    v_kind := 'avg';
    v_value := 't.score';
    v_notnull := ' AND t.score IS NOT NULL';
    v_hi := (10::numeric OPERATOR(pg_catalog.^) d.sum_scale)::bigint;  -- scores are in [0, 1]
  END IF;
  BEGIN
    PERFORM sdp._dp_check_budgets(d.name, v_caller, epsilon, 0);
  EXCEPTION WHEN SQLSTATE 'PT403' THEN
    RETURN sdp._dp_aggregate_problem(403, 'Forbidden', SQLERRM, 'PT403');
  END;

  FOR r IN EXECUTE format(
      'SELECT x.group_key, x.value, x.ci_low, x.ci_high FROM '
      '(SELECT sdp._dp_tally(t.%I::pg_catalog.text, t.dp_row_id, k.bucket, %s, $1, $2, $3, $4, $5) AS s '
      '   FROM %s t '
      '   JOIN sdp.tokenized_record tr '
      '     ON pg_catalog.hashtextextended(tr.batch_id::pg_catalog.text, tr.row_no) OPERATOR(pg_catalog.=) t.dp_row_id '
      '   JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) tr.batch_id, '
      '   LATERAL (SELECT pg_catalog.to_char(pg_catalog.date_trunc(%L, b.received_at AT TIME ZONE ''UTC''), '
      '                                      ''YYYY-MM-DD'') AS bucket) k '
      '  WHERE k.bucket OPERATOR(pg_catalog.=) ANY ($7)%s) a, '
      'sdp._dp_release(a.s, $8, $6, NULL, $2, $3, $4, $5, $7, NULL, 0) x ORDER BY x.group_key',
      d.privacy_unit, v_value, d.relation, period, v_notnull)
    USING d.bounding_key, d.max_rows_per_unit, v_lo, v_hi, d.sum_scale::integer, epsilon::text,
          v_buckets, v_kind
  LOOP
    v_release := v_release OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'period', r.group_key, 'value', r.value, 'ci_low', r.ci_low, 'ci_high', r.ci_high));
  END LOOP;

  v_params := pg_catalog.jsonb_build_object('aggregate', v_key, 'release', v_release);
  PERFORM sdp._dp_charge_committed(d.name, v_caller, pg_catalog.session_user(), sdp.sdp_auth_tenant(),
                                   v_kind, epsilon, 0, v_params);
  PERFORM sdp._dp_count_query('released');
  -- (The ledger row was committed by another transaction, which this STABLE function's snapshot
  -- does not see: its id is in the answers of the repeats.)
  RETURN pg_catalog.jsonb_build_object('dataset', d.name, 'epsilon', epsilon, 'charged', true,
                                       'ledger_id', NULL, 'released_at', pg_catalog.clock_timestamp())
         OPERATOR(pg_catalog.||) v_key
         OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('buckets', v_release);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_aggregate(text, text, text, numeric, integer, date) IS
  'DP analyst: a metric (records, mean_score) per day/week/month of a batches dataset, released and charged once per request, repeated free';

-- A refusal as the answer (sdp._staff_refusal, as sign-in answers): the HTTP status set for
-- PostgREST and an RFC 7807 problem body with PostgREST's code and message too. Returned, not
-- raised: PostgREST sends a raised error's body only in its own shape.
CREATE FUNCTION sdp._dp_aggregate_problem(p_status integer, p_title text, p_detail text, p_code text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._staff_refusal(p_status, p_code, p_title, p_detail) $$;

CREATE FUNCTION sdp_api.dp_aggregate(metric text, period text, dataset text DEFAULT NULL,
                                     epsilon numeric DEFAULT 0.5, periods integer DEFAULT 12,
                                     until date DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dp_aggregate(metric, period, dataset, epsilon, periods, until) $$;
COMMENT ON FUNCTION sdp_api.dp_aggregate(text, text, text, numeric, integer, date) IS
  'GET ?metric=records|mean_score&period=day|week|month[&dataset=&epsilon=&periods=&until=] -> a DP series, charged once';
REVOKE ALL ON FUNCTION sdp.sdp_dp_aggregate(text, text, text, numeric, integer, date),
                       sdp._dp_aggregate_problem(integer, text, text, text),
                       sdp_api.dp_aggregate(text, text, text, numeric, integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_dp_aggregate(text, text, text, numeric, integer, date),
                          sdp_api.dp_aggregate(text, text, text, numeric, integer, date)
  TO sdp_dp_analyst;
