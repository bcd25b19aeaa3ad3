-- Helpers every regress file uses, created once, first in test/regress_schedule. They live in
-- schema `regress`, not in pg_temp (which each file, being its own session, would have to define
-- again) and not in the extension: they survive the DROP EXTENSION sdp / CREATE EXTENSION sdp
-- that some files run, so they name no object of the extension outside PL/pgSQL bodies (which
-- are resolved when they run). Usable by every role the tests switch to.
SET client_min_messages = warning;
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;

-- Runs one statement and shows its error as a client receives it: SQLSTATE, message, detail and
-- hint ('none' and empty texts when it succeeds). UUIDs in the texts are random in most tests,
-- so they read '<uuid>'. leaks_secret: `secret` (an API key, say) appears in one of the texts.
CREATE FUNCTION regress.error_of(stmt text, secret text DEFAULT NULL)
RETURNS TABLE(code text, message text, detail text, hint text, leaks_secret boolean)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN QUERY SELECT 'none'::text, ''::text, ''::text, ''::text, false;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  leaks_secret := secret IS NOT NULL AND position(secret IN concat_ws(' ', message, detail, hint)) > 0;
  message := regexp_replace(message, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
  detail := regexp_replace(detail, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
  hint := regexp_replace(hint, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
  RETURN NEXT;
END $$;

-- ---- PostgREST v12 emulation (docs/postgrest.md §8) -----------------------------------------
-- A request as PostgREST opens it, inside the transaction the test began (as
-- sdp_authenticator): §1 step 4, search_path, the anonymous role (no JWT), request.jwt.claims,
-- method, path, headers (names lowercased), cookies; all transaction-local.
CREATE FUNCTION regress.request(method text, path text, headers json) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('search_path', 'sdp_api, public', true),
          set_config('role', 'sdp_anon', true),
          set_config('request.jwt.claims', '{"role":"sdp_anon"}', true),
          set_config('request.method', method, true),
          set_config('request.path', path, true),
          set_config('request.headers', headers::text, true),
          set_config('request.cookies', '{}', true);
END $$;

-- The HTTP status PostgREST answers an SQLSTATE with (docs/postgrest.md §5; no JWT, so 42501 is
-- 401).
CREATE FUNCTION regress.http_status(code text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN code ~ '^PT[0-9]{3}$' THEN substr(code, 3)::integer
    WHEN code = 'P0001' THEN 400
    WHEN code LIKE 'P0%' THEN 500
    WHEN code IN ('23505', '23503') THEN 409
    WHEN code = '42501' THEN 401
    WHEN code IN ('42883', '42P01') THEN 404
    WHEN code = '25006' THEN 405
    WHEN code LIKE '22%' OR code LIKE '23%' THEN 400
    WHEN code = '53400' THEN 500
    WHEN code LIKE '08%' OR code LIKE '53%' OR code = '57P01' THEN 503
    WHEN code = '21000' OR code LIKE '40%' OR code LIKE '54%' OR code LIKE '55%'
         OR code IN ('57014', 'XX000') THEN 500
    ELSE 400 END
$$;

-- §1 steps 5-6 after regress.request(): pre_request, then the main query `call` (one text
-- value: the response body). What PostgREST sends: the status (response.status, or the
-- SQLSTATE's) and the body (the function's JSON, or {"code","message","details","hint"}), and
-- the role the call ran as; code and message of the error ('none' and '' on success). UUIDs read
-- '<uuid>'.
CREATE FUNCTION regress.respond(call text)
RETURNS TABLE(status integer, body text, role name, code text, message text)
LANGUAGE plpgsql AS $$
DECLARE
  v_detail text; v_hint text;
BEGIN
  BEGIN
    PERFORM sdp_api.pre_request();
    EXECUTE call INTO body;
    status := coalesce(nullif(current_setting('response.status', true), '')::integer, 200);
    role := current_user;
    code := 'none';
    message := '';
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
    status := regress.http_status(code);
    body := json_build_object('code', code, 'message', message,
                              'details', nullif(v_detail, ''), 'hint', nullif(v_hint, ''))::text;
    role := current_user;
  END;
  body := regexp_replace(body, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
  message := regexp_replace(message, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
  RETURN NEXT;
END $$;

SELECT p.oid::regprocedure AS regress_helper FROM pg_proc p
 WHERE p.pronamespace = 'regress'::regnamespace ORDER BY p.oid::regprocedure::text;
