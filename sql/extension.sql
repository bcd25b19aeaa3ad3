-- CREATE EXTENSION sdp / DROP EXTENSION sdp leave the database exactly as it was.
SET client_min_messages = warning;
\set VERBOSITY sqlstate

CREATE TEMP TABLE before_install AS
  SELECT 'namespace' AS kind, nspname::text AS name FROM pg_namespace
  UNION ALL SELECT 'proc', oid::regprocedure::text FROM pg_proc
  UNION ALL SELECT 'type', oid::regtype::text FROM pg_type WHERE typnamespace <> pg_my_temp_schema()
  UNION ALL SELECT 'class', oid::regclass::text FROM pg_class WHERE relpersistence <> 't' AND relnamespace <> pg_my_temp_schema();

CREATE EXTENSION sdp;
SELECT extversion, extrelocatable FROM pg_extension WHERE extname = 'sdp';
SELECT sdp.sdp_version() = extversion AS library_matches_sql FROM pg_extension WHERE extname = 'sdp';
SELECT nspname FROM pg_namespace WHERE nspname IN ('sdp', 'sdp_api') ORDER BY 1;

-- A second CREATE fails cleanly; the library version is a plain function call.
CREATE EXTENSION sdp;

DROP EXTENSION sdp;
SELECT kind, name FROM (
  SELECT 'namespace' AS kind, nspname::text AS name FROM pg_namespace
  UNION ALL SELECT 'proc', oid::regprocedure::text FROM pg_proc
  UNION ALL SELECT 'type', oid::regtype::text FROM pg_type WHERE typnamespace <> pg_my_temp_schema()
  UNION ALL SELECT 'class', oid::regclass::text FROM pg_class WHERE relpersistence <> 't' AND relnamespace <> pg_my_temp_schema()
) after_drop
EXCEPT SELECT kind, name FROM before_install
ORDER BY 1, 2;

-- Installing again after the drop works (nothing stale left to collide with).
CREATE EXTENSION sdp;
SELECT sdp.sdp_version() IS NOT NULL AS reinstalled;
