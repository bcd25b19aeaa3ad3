-- Governance roles (docs/governance.md, "Roles"). Issue 7.
--
-- NOLOGIN group roles, granted to login roles by the deployer (GRANT sdp_engineer TO alice).
-- Created only when missing; like 40_auth.sql, an existing one that is SUPERUSER or BYPASSRLS
-- is refused. Every staff role is "trusted" (sdp.sdp_caller_is_trusted(), 15_tenant.sql): not
-- bound to one client. What each may do is decided by grants (90_privileges.sql: a
-- missing EXECUTE or SELECT privilege is SQLSTATE 42501, HTTP 403) and, where one function
-- serves several roles, by sdp._require_capability() below (also 42501).
--   sdp_admin     everything; clients, keys, holds, retention, erasure
--   sdp_engineer  upload, process, read any record, update records (new version), approve
--   sdp_analyst   read records and results; propose edits (pending, needs an engineer)
--   sdp_auditor   read records, versions, access log and audit log; change nothing
--   sdp_viewer    batch status and aggregate counts only
--   sdp_dp_analyst differentially private statistics on the datasets granted to it and its own
--                 ledger rows (80_privacy.sql); never a row of any dataset
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer', 'sdp_dp_analyst'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                  WHERE rolname = r AND (rolsuper OR rolbypassrls)) THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format('role %s exists and is SUPERUSER or BYPASSRLS', r),
        HINT = format('ALTER ROLE %s NOSUPERUSER NOBYPASSRLS, then CREATE EXTENSION sdp again', r);
    END IF;
  END LOOP;
END
$roles$;

-- Capabilities and the roles that hold them (superusers hold all).
CREATE FUNCTION sdp._caller_can(capability text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sdp.sdp_auth_tenant() IS NULL AND CASE capability
    WHEN 'admin'    THEN sdp.sdp_caller_has_role('sdp_admin')
    WHEN 'engineer' THEN sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_engineer')
    WHEN 'propose'  THEN sdp.sdp_caller_has_role('sdp_analyst')
    WHEN 'read'     THEN sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_engineer')
                      OR sdp.sdp_caller_has_role('sdp_analyst') OR sdp.sdp_caller_has_role('sdp_auditor')
    WHEN 'audit'    THEN sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_auditor')
    WHEN 'status'   THEN sdp.sdp_caller_is_trusted()
    ELSE false END
$$;

-- 42501 unless the caller holds `capability`. The denial is written to the server log (the
-- transaction, and with it anything written to sdp.access_log, is rolled back by the error).
CREATE FUNCTION sdp._require_capability(capability text, action text, target text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT sdp._caller_can(capability) THEN
    RAISE LOG 'sdp access denied: role=% login=% action=% target=%', sdp.sdp_caller_role(),
      pg_catalog.session_user(), action, coalesce(target, '-');
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('permission denied: %s needs the %s capability', action, capability),
      HINT = 'see docs/governance.md, "Roles"';
  END IF;
END
$$;

-- Aggregate counts for dashboards (sdp_viewer and up): no client ids, no rows.
CREATE FUNCTION sdp.sdp_batch_counts()
RETURNS TABLE(status sdp.batch_state, batches bigint, records bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('status', 'batch_counts');
  RETURN QUERY
    SELECT b.status, pg_catalog.count(*), pg_catalog.sum(b.accepted_records)::bigint
      FROM sdp.processing_batch b
     WHERE NOT b.dev_only OR sdp.sdp_is_dev()
     GROUP BY b.status ORDER BY b.status;
END
$$;
COMMENT ON FUNCTION sdp.sdp_batch_counts() IS
  'batches and accepted records per status (aggregates only; staff roles)';
