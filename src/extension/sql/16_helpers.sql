-- Helpers shared by the files after this one: how a caller's value is shown in an error, how a
-- conflict is raised, the sdp_batch view of a batch row, the model of a processing type, and the
-- batch a caller may see. Internal (sdp._*): owner only (90_privileges.sql grants none of them);
-- the public functions that call them are SECURITY DEFINER.
--
-- Here, after the tables and types (10_types_tables.sql) and the tenant context (15_tenant.sql),
-- because SQL-language bodies are checked when they are created and every signature names its
-- types; PL/pgSQL bodies are resolved when they first run.
--
-- Whether this server is a dev server is asked in one way everywhere: sdp.sdp_is_dev()
-- (15_tenant.sql).

-- A conflict with the stored state, SQLSTATE PT409 (HTTP 409): the same request again, or a
-- different one, may succeed. Never 40001, which PostgREST retries forever (docs/postgrest.md §2):
-- a serialization failure or deadlock caught in a handler is reported through this function,
-- whose default message is the one for that case:
--   EXCEPTION WHEN serialization_failure OR deadlock_detected THEN PERFORM sdp._raise_conflict();
-- RAISE refuses a NULL option and an empty one would reach the client as an empty hint, hence one
-- RAISE per combination of the optional parts.
CREATE FUNCTION sdp._raise_conflict(
    message text DEFAULT 'a concurrent transaction changed the same data; retry the request',
    hint text DEFAULT NULL, detail text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF _raise_conflict.hint IS NULL AND _raise_conflict.detail IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409', MESSAGE = _raise_conflict.message;
  ELSIF _raise_conflict.detail IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409', MESSAGE = _raise_conflict.message,
      HINT = _raise_conflict.hint;
  ELSIF _raise_conflict.hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409', MESSAGE = _raise_conflict.message,
      DETAIL = _raise_conflict.detail;
  ELSE
    RAISE EXCEPTION USING ERRCODE = 'PT409', MESSAGE = _raise_conflict.message,
      DETAIL = _raise_conflict.detail, HINT = _raise_conflict.hint;
  END IF;
END
$$;
COMMENT ON FUNCTION sdp._raise_conflict(text, text, text) IS
  'internal: raises PT409 (conflict, HTTP 409) with the message and the optional hint and detail';

-- A caller-supplied value as error messages echo it (client_id, processing_type, idempotency
-- key, ...): the first 64 characters, then "…" when there were more, with every control
-- character (C0, DEL, C1) and every line or paragraph separator and bidi override shown as '?'.
-- A message stays one short line that says which value was refused: a megabyte client_id does
-- not come back in full (into logs and HTTP bodies), and a value cannot forge a log line or
-- reorder the text around it.
CREATE FUNCTION sdp._echo(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN v IS NULL THEN 'NULL'
    ELSE pg_catalog.regexp_replace(pg_catalog."left"(v, 64),
                                   '[\x01-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]', '?', 'g')
         || CASE WHEN pg_catalog.length(v) > 64 THEN '…' ELSE '' END
  END
$$;
COMMENT ON FUNCTION sdp._echo(text) IS
  'internal: a caller-supplied value as error messages show it (64 characters at most, no control characters)';

-- The sdp_batch view of a batch row.
CREATE FUNCTION sdp._batch_out(b sdp.processing_batch) RETURNS sdp.sdp_batch
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ROW(b.batch_id, b.client_id, b.processing_type, b.status, b.accepted_records,
             b.processed_records, b.model_version, b.created_at, b.processed_at,
             b.content_sha256)::sdp.sdp_batch
$$;

-- The default model that scores p_type in this environment (prod models first; dev-only ones
-- only when sdp.env = 'dev'), or a row of NULLs.
CREATE FUNCTION sdp._model_for(p_type text) RETURNS sdp.model
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT m FROM sdp.model m
   WHERE m.processing_type = p_type AND m.is_default
     AND (NOT m.dev_only OR sdp.sdp_is_dev())
   ORDER BY m.dev_only LIMIT 1
$$;

-- A batch the caller may see, or PT404 (unknown, another client's, or dev-only outside dev:
-- the same answer for all three, so existence never leaks). With p_lock the row is locked
-- FOR UPDATE: concurrent calls on one batch are serialised. Under REPEATABLE READ or
-- SERIALIZABLE the lock fails with 40001 when another transaction changed the row; that is
-- reported as PT409, never as 40001 (PostgREST would retry it forever).
CREATE FUNCTION sdp._visible_batch(p_batch_id uuid, p_lock boolean) RETURNS sdp.processing_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caller text := sdp.sdp_current_client();
  b sdp.processing_batch;
BEGIN
  SELECT * INTO b FROM sdp.processing_batch p WHERE p.batch_id = p_batch_id;
  IF b.batch_id IS NULL
     OR (v_caller IS NOT NULL AND b.client_id <> v_caller)
     OR (b.dev_only AND NOT sdp.sdp_is_dev()) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = format('batch %s not found', coalesce(p_batch_id::text, 'NULL'));
  END IF;
  IF p_lock THEN
    BEGIN
      SELECT * INTO b FROM sdp.processing_batch p WHERE p.batch_id = p_batch_id FOR UPDATE;
    EXCEPTION WHEN serialization_failure THEN
      PERFORM sdp._raise_conflict(format('batch %s was changed by a concurrent request', p_batch_id),
                                  hint => 'retry the request');
    END;
  END IF;
  RETURN b;
END
$$;
