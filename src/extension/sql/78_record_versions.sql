-- Record versions with approval (docs/governance.md, "Record versions"). Issue 7.
--
-- A record is one sdp.tokenized_record row, named by record_id = '<batch_id>:<row_no>'.
-- sdp.tokenized_record always holds the current version (so scoring and reads need no join);
-- sdp.record_version keeps every version: version 1 is the row as uploaded (snapshotted at the
-- first edit), each applied edit adds the next version_no and supersedes the previous one.
--   sdp_update_record(record_id, patch)  engineer/admin: applied at once (new current version)
--                                        analyst: a pending proposal (no version_no yet)
--   sdp_approve_version(version_id)      engineer/admin: applies a pending proposal; PT409 if the
--                                        record changed since the proposal was made
--   sdp_reject_version(version_id)       engineer/admin
--   sdp_record_history(record_id)        engineer, analyst, auditor, admin
-- `patch` is a JSON object {column: "new value" | null} over the batch's columns; values are
-- tokens like the rest of the row. Audit events carry the column names, never the values.
CREATE TABLE sdp.record_version (
  version_id      bigserial PRIMARY KEY,
  batch_id        uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  row_no          bigint NOT NULL,
  client_id       text NOT NULL,
  version_no      integer,            -- set when the version is (or was) current
  base_version    integer NOT NULL,   -- the current version the edit was made against
  status          text NOT NULL CHECK (status IN ('current', 'superseded', 'pending', 'rejected')),
  record_key      text NOT NULL,
  fields          text[] NOT NULL,
  changed_columns text[] NOT NULL DEFAULT '{}',
  proposed_by     text NOT NULL,
  proposed_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  decided_by      text,
  decided_at      timestamptz,
  UNIQUE (batch_id, row_no, version_no)
);
CREATE UNIQUE INDEX record_version_one_current ON sdp.record_version (batch_id, row_no)
  WHERE status = 'current';
SELECT pg_catalog.pg_extension_config_dump('sdp.record_version', '');

-- '<uuid>:<row_no>' -> (batch_id, row_no); 22023 when malformed.
CREATE FUNCTION sdp._parse_record_id(record_id text, OUT batch_id uuid, OUT row_no bigint)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF record_id IS NULL OR record_id !~ '^[0-9a-fA-F-]{36}:[0-9]{1,18}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'record_id must be ''<batch_id>:<row_no>''';
  END IF;
  batch_id := pg_catalog.split_part(record_id, ':', 1)::uuid;
  row_no := pg_catalog.split_part(record_id, ':', 2)::bigint;
END
$$;

CREATE FUNCTION sdp.sdp_record_id(batch_id uuid, row_no bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT batch_id::text || ':' || row_no::text $$;

-- The record row, locked; PT404 when absent; XX001 when its MAC does not match (no edit is
-- built on top of changed data).
CREATE FUNCTION sdp._lock_record(p_batch_id uuid, p_row_no bigint) RETURNS sdp.tokenized_record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r sdp.tokenized_record;
BEGIN
  SELECT * INTO r FROM sdp.tokenized_record t
   WHERE t.batch_id = p_batch_id AND t.row_no = p_row_no FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = format('unknown record %s', sdp.sdp_record_id(p_batch_id, p_row_no));
  END IF;
  IF NOT sdp._record_ok(sdp._integrity_key(), r) THEN
    RAISE EXCEPTION USING ERRCODE = 'XX001',
      MESSAGE = format('integrity check failed for record %s', sdp.sdp_record_id(p_batch_id, p_row_no)),
      HINT = 'run sdp.sdp_verify_integrity() to record the failure';
  END IF;
  RETURN r;
END
$$;

-- The current version_no of a locked record, snapshotting the uploaded row as version 1.
CREATE FUNCTION sdp._current_version(r sdp.tokenized_record) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v integer;
BEGIN
  SELECT x.version_no INTO v FROM sdp.record_version x
   WHERE x.batch_id = r.batch_id AND x.row_no = r.row_no AND x.status = 'current';
  IF v IS NULL THEN
    INSERT INTO sdp.record_version (batch_id, row_no, client_id, version_no, base_version, status,
                                    record_key, fields, proposed_by, proposed_at)
    SELECT r.batch_id, r.row_no, r.client_id, 1, 0, 'current', r.record_key, r.fields, 'upload',
           b.created_at
      FROM sdp.processing_batch b WHERE b.batch_id = r.batch_id;
    v := 1;
  END IF;
  RETURN v;
END
$$;

-- Makes version `p_version_id` (already inserted, status pending) current: supersedes the
-- current one, rewrites tokenized_record with a fresh integrity MAC.
CREATE FUNCTION sdp._apply_version(p_version_id bigint, p_current integer) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v sdp.record_version;
BEGIN
  SELECT * INTO v FROM sdp.record_version x WHERE x.version_id = p_version_id;
  UPDATE sdp.record_version x SET status = 'superseded'
   WHERE x.batch_id = v.batch_id AND x.row_no = v.row_no AND x.status = 'current';
  UPDATE sdp.record_version x
     SET status = 'current', version_no = p_current + 1,
         decided_by = sdp.sdp_caller_role(), decided_at = pg_catalog.clock_timestamp()
   WHERE x.version_id = p_version_id;
  UPDATE sdp.tokenized_record t
     SET fields = v.fields, record_key = v.record_key,
         integrity_hmac = sdp._record_mac(sdp._integrity_key(), t.batch_id, t.row_no, t.client_id,
                                          v.record_key, v.fields)
   WHERE t.batch_id = v.batch_id AND t.row_no = v.row_no;
  RETURN p_current + 1;
END
$$;

CREATE FUNCTION sdp.sdp_update_record(record_id text, patch jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id record := sdp._parse_record_id(sdp_update_record.record_id);
  v_apply boolean;
  r sdp.tokenized_record;
  b sdp.processing_batch;
  v_current integer;
  v_fields text[];
  v_key text;
  v_changed text[] := '{}';
  v_pos integer;
  kv record;
  v_id bigint;
  v_no integer;
BEGIN
  IF sdp._caller_can('engineer') THEN
    v_apply := true;
  ELSIF sdp._caller_can('propose') THEN
    v_apply := false;
  ELSE
    PERFORM sdp._require_capability('engineer', 'update_record', sdp_update_record.record_id);
  END IF;
  IF patch IS NULL OR pg_catalog.jsonb_typeof(patch) <> 'object' OR patch = '{}'::jsonb THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'patch must be a non-empty JSON object {column: "value"}';
  END IF;
  r := sdp._lock_record(id.batch_id, id.row_no);
  SELECT * INTO b FROM sdp.processing_batch x WHERE x.batch_id = r.batch_id;
  v_fields := r.fields;
  v_key := r.record_key;
  FOR kv IN SELECT * FROM pg_catalog.jsonb_each(patch) ORDER BY 1 LOOP
    v_pos := pg_catalog.array_position(b.columns, kv.key);
    IF v_pos IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('unknown column "%s" in patch', sdp._echo(kv.key));
    END IF;
    IF pg_catalog.jsonb_typeof(kv.value) NOT IN ('string', 'number') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('patch value of "%s" must be a string or a number', sdp._echo(kv.key));
    END IF;
    v_fields[v_pos] := kv.value #>> '{}';
    IF kv.key = b.key_column THEN
      v_key := kv.value #>> '{}';
    END IF;
    v_changed := v_changed || kv.key;
  END LOOP;
  v_current := sdp._current_version(r);
  INSERT INTO sdp.record_version (batch_id, row_no, client_id, base_version, status, record_key,
                                  fields, changed_columns, proposed_by)
  VALUES (r.batch_id, r.row_no, r.client_id, v_current, 'pending', v_key, v_fields, v_changed,
          sdp.sdp_caller_role())
  RETURNING version_id INTO v_id;
  IF v_apply THEN
    v_no := sdp._apply_version(v_id, v_current);
    PERFORM sdp._audit('record.update', sdp_update_record.record_id,
      pg_catalog.jsonb_build_object('version_id', v_id, 'version_no', v_no, 'columns', v_changed));
  ELSE
    PERFORM sdp._audit('record.propose', sdp_update_record.record_id,
      pg_catalog.jsonb_build_object('version_id', v_id, 'base_version', v_current, 'columns', v_changed));
  END IF;
  RETURN pg_catalog.jsonb_build_object('record_id', sdp_update_record.record_id, 'version_id', v_id,
    'status', CASE WHEN v_apply THEN 'current' ELSE 'pending' END, 'version_no', v_no);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_update_record(text, jsonb) IS
  'edits a record: engineer/admin -> new current version; analyst -> pending proposal';

CREATE FUNCTION sdp._decide_version(p_version_id bigint, p_approve boolean) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v sdp.record_version;
  r sdp.tokenized_record;
  v_current integer;
  v_no integer;
  v_rid text;
BEGIN
  PERFORM sdp._require_capability('engineer', CASE WHEN p_approve THEN 'approve_version' ELSE 'reject_version' END,
                                  p_version_id::text);
  SELECT * INTO v FROM sdp.record_version x WHERE x.version_id = p_version_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown version %s', p_version_id);
  END IF;
  v_rid := sdp.sdp_record_id(v.batch_id, v.row_no);
  r := sdp._lock_record(v.batch_id, v.row_no);
  SELECT * INTO v FROM sdp.record_version x WHERE x.version_id = p_version_id;  -- after the lock
  IF v.status <> 'pending' THEN
    PERFORM sdp._raise_conflict(format('version %s is %s, not pending', p_version_id, v.status));
  END IF;
  IF NOT p_approve THEN
    UPDATE sdp.record_version x SET status = 'rejected', decided_by = sdp.sdp_caller_role(),
                                    decided_at = pg_catalog.clock_timestamp()
     WHERE x.version_id = p_version_id;
    PERFORM sdp._audit('record.reject', v_rid, pg_catalog.jsonb_build_object('version_id', p_version_id));
    RETURN pg_catalog.jsonb_build_object('record_id', v_rid, 'version_id', p_version_id, 'status', 'rejected');
  END IF;
  v_current := sdp._current_version(r);
  IF v_current <> v.base_version THEN
    PERFORM sdp._raise_conflict(format('record %s changed since version %s was proposed (now version %s)',
                                       v_rid, p_version_id, v_current),
                                hint => 'reject it and propose the edit again');
  END IF;
  v_no := sdp._apply_version(p_version_id, v_current);
  PERFORM sdp._audit('record.approve', v_rid,
    pg_catalog.jsonb_build_object('version_id', p_version_id, 'version_no', v_no,
                                  'proposed_by', v.proposed_by, 'columns', v.changed_columns));
  RETURN pg_catalog.jsonb_build_object('record_id', v_rid, 'version_id', p_version_id,
                                       'status', 'current', 'version_no', v_no);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;

CREATE FUNCTION sdp.sdp_approve_version(version_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._decide_version(version_id, true) $$;
COMMENT ON FUNCTION sdp.sdp_approve_version(bigint) IS
  'applies a pending proposal as the new current version (engineer/admin); PT409 if stale';

CREATE FUNCTION sdp.sdp_reject_version(version_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._decide_version(version_id, false) $$;
COMMENT ON FUNCTION sdp.sdp_reject_version(bigint) IS 'rejects a pending proposal (engineer/admin)';

CREATE FUNCTION sdp.sdp_record_history(record_id text)
RETURNS TABLE(version_id bigint, version_no integer, status text, base_version integer,
              changed_columns text[], fields text[], proposed_by text, proposed_at timestamptz,
              decided_by text, decided_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id record := sdp._parse_record_id(sdp_record_history.record_id);
BEGIN
  PERFORM sdp._require_capability('read', 'record_history', sdp_record_history.record_id);
  IF NOT EXISTS (SELECT 1 FROM sdp.tokenized_record t WHERE t.batch_id = id.batch_id AND t.row_no = id.row_no) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown record %s', sdp_record_history.record_id);
  END IF;
  PERFORM sdp._access('record_history', sdp_record_history.record_id, 'allowed');
  IF NOT EXISTS (SELECT 1 FROM sdp.record_version x WHERE x.batch_id = id.batch_id AND x.row_no = id.row_no) THEN
    -- Never edited: the uploaded row is version 1.
    RETURN QUERY SELECT NULL::bigint, 1, 'current'::text, 0, '{}'::text[], t.fields, 'upload'::text,
                        b.created_at, NULL::text, NULL::timestamptz
                   FROM sdp.tokenized_record t JOIN sdp.processing_batch b USING (batch_id)
                  WHERE t.batch_id = id.batch_id AND t.row_no = id.row_no;
    RETURN;
  END IF;
  RETURN QUERY SELECT x.version_id, x.version_no, x.status, x.base_version, x.changed_columns, x.fields,
                      x.proposed_by, x.proposed_at, x.decided_by, x.decided_at
                 FROM sdp.record_version x
                WHERE x.batch_id = id.batch_id AND x.row_no = id.row_no
                ORDER BY x.version_id;
END
$$;
COMMENT ON FUNCTION sdp.sdp_record_history(text) IS
  'every version of a record with who proposed/decided it and when (engineer, analyst, auditor, admin)';

-- Reading records (engineer, analyst, auditor, admin): verified and access-logged.
CREATE FUNCTION sdp.sdp_records(batch_id uuid)
RETURNS TABLE(record_id text, row_no bigint, record_key text, fields text[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch;
BEGIN
  PERFORM sdp._require_capability('read', 'records', sdp_records.batch_id::text);
  b := sdp._visible_batch(sdp_records.batch_id, false);
  PERFORM sdp._check_batch_integrity(b.batch_id, true, false);
  PERFORM sdp._access('records', b.batch_id::text, 'allowed', b.accepted_records);
  RETURN QUERY SELECT sdp.sdp_record_id(t.batch_id, t.row_no), t.row_no, t.record_key, t.fields
                 FROM sdp.tokenized_record t WHERE t.batch_id = b.batch_id ORDER BY t.row_no;
END
$$;
COMMENT ON FUNCTION sdp.sdp_records(uuid) IS
  'the tokenized rows of a batch with their record ids (staff roles; integrity-checked, access-logged)';
