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

-- Every function of the extension runs with search_path = pg_catalog, pg_temp, so nothing a
-- caller or a database owner puts in its path (a `public.=` for one of our types, say) can
-- stand in for a built-in inside our code. SECURITY DEFINER or not: the background worker calls
-- them as a superuser. The only exceptions are per-row functions that look no name up at run
-- time, where a SET clause costs more than the work (each call switches search_path; on
-- sdp_score_logistic 0.17 s -> 0.66 s per million rows; and a SQL function with one is never
-- inlined): C functions, and SQL ones whose body qualifies every name and operator. None of them
-- is SECURITY DEFINER or anything but IMMUTABLE.
SELECT p.oid::regprocedure AS without_pinned_search_path, l.lanname, p.prosecdef, p.provolatile
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace)
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY p.oid::regprocedure::text;
-- The SQL exceptions do not depend on the caller's path: with an `=`(bytea, bytea) that fails
-- first in the path, they still use pg_catalog's.
CREATE SCHEMA regress_hostile;
CREATE FUNCTION regress_hostile.eq(a bytea, b bytea) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile = ran'; END $$;
CREATE OPERATOR regress_hostile.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = regress_hostile.eq);
SET search_path = regress_hostile, pg_catalog;
SELECT '\x01'::bytea = '\x01'::bytea AS hostile_operator_armed;
SELECT sdp._record_ok(decode(repeat('00', 32), 'hex'), jsonb_populate_record(NULL::sdp.tokenized_record,
         '{"batch_id": "00000000-0000-0000-0000-000000000000", "row_no": 1, "client_id": "c",
           "record_key": "k", "fields": [], "integrity_hmac": "\\x00"}')) AS record_ok,
       sdp._result_ok(decode(repeat('00', 32), 'hex'), jsonb_populate_record(NULL::sdp.processed_result,
         '{"batch_id": "00000000-0000-0000-0000-000000000000", "row_no": 1, "client_id": "c",
           "record_key": "k", "score": 0.5, "risk_band": "low", "model_version": "m",
           "defaulted_features": 0, "integrity_hmac": "\\x00"}')) AS result_ok;
RESET search_path;
DROP SCHEMA regress_hostile CASCADE;

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
