-- Schemas and the library version.

-- The script runs as the superuser installing the extension, and by default with that session's
-- search_path, which includes `public`: in PostgreSQL 15 the database owner, who need not be a
-- superuser, can create there a function or operator that matches a call below more exactly
-- than pg_catalog's (a public.format(text, text) beats format(text, VARIADIC "any")) and would
-- then run as superuser. SET LOCAL lasts until the end of this script only
-- (test/e2e/worker_privilege.sh).
SET LOCAL search_path = pg_catalog, pg_temp;

-- Tables and the sdp_* SQL API live in schema sdp; the thin PostgREST surface in sdp_api
-- (PGRST_DB_SCHEMAS=sdp_api). Both are created here so they belong to the extension.
CREATE SCHEMA sdp;
CREATE SCHEMA sdp_api;
COMMENT ON SCHEMA sdp IS 'Secure Data Pipeline: tables and the sdp_* SQL API';
COMMENT ON SCHEMA sdp_api IS 'Secure Data Pipeline: functions exposed through PostgREST';

CREATE FUNCTION sdp.sdp_version() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_version' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_version() IS 'version of the loaded sdp library';

-- Self-test functions for the C++ <-> PostgreSQL error bridge (sql/error_bridge.sql).
-- Superuser only: they exist to be exercised by the regression suite and by operators.
CREATE FUNCTION sdp.sdp_selftest_throw(sqlstate text, message text, detail text, hint text)
  RETURNS void AS 'MODULE_PATHNAME', 'sdp_selftest_throw' LANGUAGE C STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_selftest_throw_std(kind text)
  RETURNS void AS 'MODULE_PATHNAME', 'sdp_selftest_throw_std' LANGUAGE C STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_selftest_pg_error(input text)
  RETURNS text AS 'MODULE_PATHNAME', 'sdp_selftest_pg_error' LANGUAGE C STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_selftest_pg_error_rethrow(input text)
  RETURNS int AS 'MODULE_PATHNAME', 'sdp_selftest_pg_error_rethrow' LANGUAGE C STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_selftest_spin()
  RETURNS int AS 'MODULE_PATHNAME', 'sdp_selftest_spin' LANGUAGE C STRICT
  SET search_path = pg_catalog, pg_temp;

