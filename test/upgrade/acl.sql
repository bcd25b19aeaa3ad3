-- Every privilege of the installed sdp extension, one line per grant: "object | grantee |
-- privilege | grantor | grantable", plus the init privileges pg_dump records, default privileges
-- and the memberships and attributes of the sdp_* roles. For comparing two installs, e.g. before
-- and after a change to src/extension/sql/90_privileges.sql:
--
--   psql -X -q -d db_before -f test/upgrade/acl.sql >before; psql -X -q -d db_after -f ... >after
--   diff before after
--
-- (test/upgrade/catalog.sql covers the same ACLs as whole arrays, among everything else.)
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
\pset fieldsep ' | '
SET search_path = pg_catalog, pg_temp;

CREATE TEMP VIEW sdp_acl(object, acl) AS
  SELECT 'schema ' || n.nspname, n.nspacl FROM pg_catalog.pg_namespace n
   WHERE n.nspname IN ('sdp', 'sdp_api')
  UNION ALL
  SELECT 'function ' || p.oid::pg_catalog.regprocedure::text, p.proacl FROM pg_catalog.pg_proc p
   WHERE p.pronamespace::pg_catalog.regnamespace::text IN ('sdp', 'sdp_api')
  UNION ALL
  SELECT 'relation ' || c.oid::pg_catalog.regclass::text, c.relacl FROM pg_catalog.pg_class c
   WHERE c.relnamespace::pg_catalog.regnamespace::text IN ('sdp', 'sdp_api')
  UNION ALL
  SELECT 'column ' || a.attrelid::pg_catalog.regclass::text || '.' || a.attname, a.attacl
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
   WHERE c.relnamespace::pg_catalog.regnamespace::text IN ('sdp', 'sdp_api') AND a.attnum > 0
     AND NOT a.attisdropped AND a.attacl IS NOT NULL  -- column privileges are rare: only those
  UNION ALL
  SELECT 'type ' || t.oid::pg_catalog.regtype::text, t.typacl FROM pg_catalog.pg_type t
   WHERE t.typnamespace::pg_catalog.regnamespace::text IN ('sdp', 'sdp_api')
  UNION ALL
  SELECT 'init_privs ' || pg_catalog.pg_describe_object(ip.classoid, ip.objoid, ip.objsubid), ip.initprivs
    FROM pg_catalog.pg_init_privs ip
   WHERE (pg_catalog.pg_identify_object(ip.classoid, ip.objoid, ip.objsubid)).schema IN ('sdp', 'sdp_api')
      OR (ip.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
          AND ip.objoid IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ('sdp', 'sdp_api')))
  UNION ALL
  SELECT 'default privileges ' || da.defaclnamespace::pg_catalog.regnamespace::text || ' '
           || da.defaclobjtype::text, da.defaclacl
    FROM pg_catalog.pg_default_acl da
   WHERE da.defaclnamespace::pg_catalog.regnamespace::text IN ('sdp', 'sdp_api');

-- An object whose ACL is NULL has PostgreSQL's default privileges: shown as one line, so a
-- change from "default" to an explicit ACL shows too.
SELECT object, grantee, privilege, grantor, grantable FROM (
  SELECT s.object,
         CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE e.grantee::pg_catalog.regrole::text END AS grantee,
         e.privilege_type AS privilege, e.grantor::pg_catalog.regrole::text AS grantor,
         e.is_grantable::text AS grantable
    FROM sdp_acl s, LATERAL pg_catalog.aclexplode(s.acl) e
  UNION ALL
  SELECT s.object, '<default>', '', '', '' FROM sdp_acl s WHERE s.acl IS NULL
  UNION ALL
  SELECT 'role ' || r.rolname, 'member of ' || g.rolname, '', '', 'admin=' || m.admin_option::text
    FROM pg_catalog.pg_auth_members m
    JOIN pg_catalog.pg_roles r ON r.oid = m.member JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
   WHERE r.rolname LIKE 'sdp\_%' OR g.rolname LIKE 'sdp\_%'
  UNION ALL
  SELECT 'role ' || r.rolname, 'attributes',
         pg_catalog.concat_ws(' ', 'login=' || r.rolcanlogin, 'inherit=' || r.rolinherit,
                              'super=' || r.rolsuper, 'bypassrls=' || r.rolbypassrls),
         '', pg_catalog.array_to_string(r.rolconfig, ',')
    FROM pg_catalog.pg_roles r WHERE r.rolname LIKE 'sdp\_%') x
 ORDER BY 1, 2, 3, 4;
