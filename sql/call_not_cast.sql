-- A one-argument call with an untyped literal, f('…'), is a call of f, never a cast (issue 15):
-- PostgreSQL reads f('…') as a cast to the type f when no function takes the literal's type
-- exactly and a type of that name exists. sdp.sdp_batch_status('<uuid>') failed that way while
-- the enum was called sdp.sdp_batch_status (now sdp.batch_state).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
INSERT INTO sdp.api_client (client_id) VALUES ('cast_a') ON CONFLICT DO NOTHING;

-- What a call with an untyped literal does, for every function of the given schemas that can be
-- called with one argument. The literal is a valid value of the argument's type (else parsing
-- it fails before the call is resolved). "resolved" says what the call resolves to, from a view
-- of it (parse analysis only): the function itself, or something else (a cast has no function).
-- The call is then run and always rolled back; its error, if any, is kept: an error for other
-- reasons (no such batch, not allowed) is fine.
CREATE FUNCTION pg_temp.one_argument_calls(schemas text[])
RETURNS TABLE(fn text, resolved text, code text, message text)
LANGUAGE plpgsql AS $$
DECLARE
  p record;
  v_call text;
  v_arg oid;
  v_literal text;
BEGIN
  FOR p IN SELECT f.oid, f.proname, n.nspname, f.proargtypes[0] AS arg
             FROM pg_catalog.pg_proc f JOIN pg_catalog.pg_namespace n ON n.oid = f.pronamespace
            WHERE n.nspname = ANY (schemas) AND f.pronargs >= 1 AND f.pronargs - f.pronargdefaults <= 1
              AND f.prokind = 'f'
              -- internal arguments cannot come from SQL at all (aggregate support functions)
              AND f.proargtypes[0] <> 'internal'::regtype
            ORDER BY 1 LOOP
    fn := p.oid::pg_catalog.regprocedure::text;
    v_arg := coalesce((SELECT NULLIF(t.typbasetype, 0) FROM pg_catalog.pg_type t WHERE t.oid = p.arg), p.arg);
    v_literal := CASE
      WHEN v_arg = 'uuid'::regtype THEN '00000000-0000-4000-8000-000000000000'
      WHEN v_arg IN ('text'::regtype, 'name'::regtype, 'varchar'::regtype) THEN 'cast_probe'
      WHEN v_arg IN ('integer'::regtype, 'bigint'::regtype, 'smallint'::regtype, 'numeric'::regtype,
                     'double precision'::regtype, 'real'::regtype) THEN '0'
      WHEN v_arg = 'boolean'::regtype THEN 'false'
      WHEN v_arg = 'bytea'::regtype THEN '\x00'
      WHEN v_arg IN ('json'::regtype, 'jsonb'::regtype) THEN '{}'
      WHEN v_arg IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN '-infinity'
      WHEN v_arg = 'interval'::regtype THEN '0'
      WHEN v_arg = 'inet'::regtype THEN '127.0.0.1'
      WHEN (SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid = v_arg) = 'A' THEN '{}'
      -- A row of NULLs of a composite type: "(,,)" for three columns.
      WHEN (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid = v_arg) = 'c' THEN
        '(' || pg_catalog.repeat(',', (SELECT pg_catalog.count(*)::int - 1 FROM pg_catalog.pg_attribute a
                                        WHERE a.attrelid = (SELECT t.typrelid FROM pg_catalog.pg_type t WHERE t.oid = v_arg)
                                          AND a.attnum > 0 AND NOT a.attisdropped)) || ')'
    END;
    IF v_literal IS NULL THEN
      RAISE EXCEPTION 'no probe literal for argument type % of %; add one', p.arg::regtype, fn;
    END IF;
    v_call := pg_catalog.format('%I.%I(%L)', p.nspname, p.proname, v_literal);
    BEGIN
      EXECUTE 'CREATE TEMP VIEW one_argument_call AS SELECT (' || v_call || ') IS NULL AS r';
      SELECT CASE WHEN pg_catalog.count(*) = 0 THEN 'not the function (cast)'
                  ELSE pg_catalog.string_agg(d.refobjid::regprocedure::text, ',') END
        INTO resolved
        FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
       WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.ev_class = 'one_argument_call'::regclass
         AND d.refclassid = 'pg_catalog.pg_proc'::regclass;
      IF resolved = fn THEN resolved := 'the function'; END IF;
      DROP VIEW one_argument_call;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
      resolved := 'does not parse: ' || message;
    END;
    code := 'none';
    message := '';
    BEGIN
      EXECUTE 'SELECT ' || v_call;
      RAISE EXCEPTION USING ERRCODE = 'SDPRB';  -- roll the call back
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
      IF code = 'SDPRB' THEN code := 'none'; message := ''; END IF;
    END;
    RETURN NEXT;
  END LOOP;
END $$;

-- Every one-argument function of sdp and sdp_api: the call reaches the function, and no call
-- fails as a cast would (invalid input of an enum, a malformed row, a domain check).
CREATE TEMP TABLE probe AS SELECT * FROM pg_temp.one_argument_calls(ARRAY['sdp', 'sdp_api']);
SELECT count(*) >= 50 AS probed_enough,
       count(*) FILTER (WHERE fn LIKE 'sdp_api.%') >= 5 AS probed_sdp_api,
       count(*) FILTER (WHERE fn = 'sdp.sdp_batch_status(uuid)') = 1 AS probed_batch_status
  FROM probe;
SELECT fn, resolved, code, message FROM probe
 WHERE resolved <> 'the function'
    OR message ~* 'invalid input value for enum|malformed record literal'
 ORDER BY fn;

-- The call of the issue: an unknown batch is "not found" (PT404), not an enum input error, and a
-- known one is returned, with the literal untyped as psycopg2 sends it.
SELECT code, message ~ 'not found' AS not_found FROM probe WHERE fn = 'sdp.sdp_batch_status(uuid)';
SELECT batch_id AS b1 FROM sdp.sdp_ingest_csv('cast_a', 'risk_scoring', E'customer_id,age\nc1,30\n') \gset
SELECT status, accepted_records FROM sdp.sdp_batch_status(:'b1');
SELECT pg_typeof(status) FROM sdp.processing_batch WHERE batch_id = :'b1';

-- No function of sdp or sdp_api has the name of a type that a call of it could be read as: a
-- type of either schema (qualified calls) or of pg_catalog (unqualified calls).
SELECT f.oid::regprocedure AS function_named_like_a_type, t.oid::regtype AS type
  FROM pg_catalog.pg_proc f
  JOIN pg_catalog.pg_type t ON t.typname = f.proname
 WHERE f.pronamespace::regnamespace::text IN ('sdp', 'sdp_api')
   AND t.typnamespace::regnamespace::text IN ('sdp', 'sdp_api', 'pg_catalog')
 ORDER BY 1, 2;

-- The probe does catch the bug: the 0.1.0 shape (an enum and a function of one name) is reported
-- as read as a cast, and its call fails with the enum's input error.
CREATE SCHEMA cast_bug;
CREATE TYPE cast_bug.batch_status AS ENUM ('RECEIVED');
CREATE FUNCTION cast_bug.batch_status(batch_id uuid) RETURNS text LANGUAGE sql AS $$ SELECT 'RECEIVED' $$;
CREATE DOMAIN cast_bug.label AS text CHECK (VALUE <> 'cast_probe');
CREATE FUNCTION cast_bug.label(id uuid) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
SELECT fn, resolved, code, message FROM pg_temp.one_argument_calls(ARRAY['cast_bug']) ORDER BY fn;
DROP SCHEMA cast_bug CASCADE;
