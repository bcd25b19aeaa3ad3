-- Who is calling (docs/security.md, "Tenant context").
--
-- Every sdp_* function that touches tenant data asks sdp.sdp_current_client():
--   * a client id: the request was authenticated as that client (sdp.sdp_authenticate() verified
--     its API key and set the superuser-only setting sdp.client_id for the transaction). The
--     function must only see and change that client's data and answer PT404 for anything else,
--     so existence never leaks;
--   * NULL: a trusted caller (superuser, or member of sdp_admin) acting for any client;
--   * otherwise SQLSTATE PT401 (HTTP 401): nobody authenticated, so nothing is visible.
--
-- "The caller" is judged by the role the request runs as *outside* any SECURITY DEFINER
-- function: inside one, current_user is the function's owner (the superuser that created the
-- extension), which says nothing about who called. That outer role is the role set by SET ROLE /
-- set_config('role', ...) (PostgREST sets it per request: sdp_anon, then sdp_client after
-- pre_request), else the session (login) user. Neither can be changed to a role the session is
-- not a member of, so an sdp_client login cannot make itself trusted.

-- The raw setting sdp.client_id (NULL when empty). In C: calling it loads sdp.so, whose _PG_init
-- defines the setting as PGC_SUSET, so a value set as a placeholder before the library was loaded
-- by a non-superuser is discarded by PostgreSQL instead of being believed.
CREATE FUNCTION sdp.sdp_auth_tenant() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_auth_tenant' LANGUAGE C STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_auth_tenant() IS
  'raw sdp.client_id setting (NULL if unset); use sdp_current_client() instead';

-- sdp.env = 'dev' (superuser-only setting; C for the same placeholder reason).
CREATE FUNCTION sdp.sdp_is_dev() RETURNS boolean
  AS 'MODULE_PATHNAME', 'sdp_auth_is_dev' LANGUAGE C STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_is_dev() IS
  'true when sdp.env = ''dev'': dev-only entry points, batches and models exist only then';

-- The role the request runs as outside SECURITY DEFINER functions (see above).
CREATE FUNCTION sdp.sdp_caller_role() RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN pg_catalog.current_setting('role') IN ('', 'none')
              THEN pg_catalog.session_user()
              ELSE pg_catalog.current_setting('role')::name END
$$;
COMMENT ON FUNCTION sdp.sdp_caller_role() IS
  'role the request runs as outside SECURITY DEFINER functions: the SET ROLE role, else the login';

-- The outer role is a superuser or a member of `role` (membership, not the NOINHERIT-able
-- privilege set). False when the role does not exist.
CREATE FUNCTION sdp.sdp_caller_has_role(role name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = sdp.sdp_caller_role()), false)
      OR (EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role)
          AND pg_catalog.pg_has_role(sdp.sdp_caller_role(), role, 'MEMBER'))
$$;
COMMENT ON FUNCTION sdp.sdp_caller_has_role(name) IS
  'the outer role is a superuser or a member of the given role';

-- Trusted = not bound to one tenant: superuser, or a member of sdp_admin or of one of the staff
-- roles of docs/governance.md (sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer). What each
-- staff role may *do* is decided by grants and by sdp.sdp_caller_has_role() checks in the
-- functions (75_governance_roles.sql); trusted only means "sees every client's rows" where its
-- table and function privileges reach.
CREATE FUNCTION sdp.sdp_caller_is_trusted() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_engineer')
      OR sdp.sdp_caller_has_role('sdp_analyst') OR sdp.sdp_caller_has_role('sdp_auditor')
      OR sdp.sdp_caller_has_role('sdp_viewer')
$$;
COMMENT ON FUNCTION sdp.sdp_caller_is_trusted() IS
  'the outer role is a superuser, a member of sdp_admin or of a staff role (acts for any client)';

CREATE FUNCTION sdp.sdp_current_client() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp.sdp_auth_tenant();
BEGIN
  IF v_client IS NOT NULL THEN
    RETURN v_client;
  END IF;
  IF sdp.sdp_caller_is_trusted() THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'PT401',
    MESSAGE = 'not authenticated: no API key was verified for this request',
    HINT = 'send the client''s key in the X-API-Key header (PostgREST) or call sdp.sdp_authenticate(api_key) in the same transaction';
END
$$;
COMMENT ON FUNCTION sdp.sdp_current_client() IS
  'authenticated client id; NULL for a trusted caller (superuser / sdp_admin); PT401 otherwise';
