-- sdp 0.1.0 -> 0.2.0 (ALTER EXTENSION sdp UPDATE). Every catalog change between the frozen
-- releases/sdp--0.1.0.sql and the install script of 0.2.0 (src/extension/sql/*.sql), so an updated
-- database and a fresh install are the same; test/e2e/upgrade.sh compares the two catalogs.
-- Function bodies below are copies of the ones in src/extension/sql/ (CREATE OR REPLACE keeps a
-- function's privileges; a changed result type needs DROP and CREATE, then its grants again).
\echo Use "ALTER EXTENSION sdp UPDATE TO '0.2.0'" to load this file. \quit

-- As in the install script (00_schemas.sql): the script runs as a superuser with the extension's
-- schema (usually `public`, where the database owner can create objects) in its search_path, so
-- nothing here may resolve a function or operator through it. Lasts until the end of the script.
SET LOCAL search_path = pg_catalog, pg_temp;

-- ==== 10_types_tables.sql: the batch status enum had the name of the function
-- sdp.sdp_batch_status(uuid): a one-argument call with an untyped literal,
-- sdp.sdp_batch_status('…'), was parsed as a cast to the enum and failed with "invalid input
-- value for enum". Columns, composite types and function results (sdp.sdp_batch_counts()) refer
-- to the type by OID, so renaming it is the whole change; no function body names it.
ALTER TYPE sdp.sdp_batch_status RENAME TO batch_state;

-- ==== search_path pinned on the C functions and on sdp_api.pre_request, which had none: a
-- hostile operator or function earlier in the caller's path (PostgREST puts `public` there)
-- must not be what their SQL resolves to.
ALTER FUNCTION sdp.sdp_version() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_selftest_throw(text, text, text, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_selftest_throw_std(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_selftest_pg_error(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_selftest_pg_error_rethrow(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_selftest_spin() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_auth_tenant() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_is_dev() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._load_csv(uuid, text, text, text, bigint, text[], integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._load_json(uuid, text, jsonb, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._sha256_hex(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._sha256_update(bytea, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._sha256_final(bytea) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._max_batch_bytes() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_auth_new_key() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_auth_new_secret() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_auth_key_hash(bytea, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_auth_match(bytea, text, bytea) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_metrics() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp.sdp_metrics_count(text, bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._metrics_request(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp._metrics_batch_trigger() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION sdp_api.pre_request() SET search_path = pg_catalog, pg_temp;

-- ==== 20_ingest.sql: aborting an upload under legal hold is refused (its staged rows stay);
-- sdp_ingest_csv and sdp_batch_append take the body's size once, in a variable, instead of in
-- statements that would copy the whole body into a constant each time.
CREATE OR REPLACE FUNCTION sdp.sdp_batch_abort(batch_id uuid, reason text DEFAULT NULL)
RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch := sdp._visible_batch(sdp_batch_abort.batch_id, true);
BEGIN
  IF b.status = 'FAILED' THEN
    RETURN sdp._batch_out(b);
  END IF;
  IF b.status <> 'UPLOADING' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('batch %s is %s: only an UPLOADING batch can be aborted', b.batch_id, b.status);
  END IF;
  IF sdp._is_held(b.client_id, b.batch_id) THEN
    RAISE LOG 'sdp abort refused: batch % is under legal hold (role=% login=%)', b.batch_id,
      sdp.sdp_caller_role(), pg_catalog.session_user();
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('batch %s is under legal hold: its staged rows cannot be deleted', b.batch_id),
      HINT = 'an administrator must release the hold (sdp_release_hold) before the upload can be aborted';
  END IF;
  DELETE FROM sdp.tokenized_record r WHERE r.batch_id = b.batch_id;
  DELETE FROM sdp.batch_chunk k WHERE k.batch_id = b.batch_id;
  UPDATE sdp.processing_batch p
     SET status = 'FAILED', accepted_records = 0, received_bytes = 0, chunks = 0,
         hash_state = NULL, idempotency_key = NULL,
         error = 'upload aborted by the client'
                 || coalesce(': ' || sdp._echo(nullif(sdp_batch_abort.reason, '')), '')
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN sdp._batch_out(b);
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_batch_append(batch_id uuid, seq integer, chunk text, chunk_sha256 text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_seq integer := sdp_batch_append.seq;
  v_sha text;
  -- The chunk is named only in simple expressions (IF, :=): a statement planned with its
  -- parameters' values (PERFORM, INSERT, UPDATE) would first copy it into a constant.
  v_bytes bigint := octet_length(sdp_batch_append.chunk);
  v_state bytea;
  b sdp.processing_batch := sdp._visible_batch(sdp_batch_append.batch_id, true);
  c sdp.batch_chunk;
  r sdp._load_result;
BEGIN
  IF v_seq IS NULL OR v_seq < 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'seq must be an integer >= 0';
  END IF;
  IF sdp_batch_append.chunk_sha256 IS NULL OR sdp_batch_append.chunk_sha256 !~ '^[0-9A-Fa-f]{64}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'chunk_sha256 must be 64 hex digits (SHA-256 of the chunk)';
  END IF;
  IF sdp_batch_append.chunk IS NULL OR v_bytes = 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('chunk %s is empty', v_seq);
  END IF;
  v_sha := sdp._sha256_hex(sdp_batch_append.chunk);
  IF v_sha <> lower(sdp_batch_append.chunk_sha256) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('chunk %s does not match chunk_sha256: its SHA-256 is %s', v_seq, v_sha),
      HINT = 'the chunk was damaged in transit or hashed differently; resend it';
  END IF;
  SELECT * INTO c FROM sdp.batch_chunk k WHERE k.batch_id = b.batch_id AND k.seq = v_seq;
  IF c.batch_id IS NOT NULL THEN
    IF c.chunk_sha256 = v_sha THEN
      RETURN b.accepted_records;  -- a retry of a stored chunk: nothing to do
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('chunk %s was already stored with different content', v_seq),
      DETAIL = format('stored SHA-256 %s, this one %s', c.chunk_sha256, v_sha),
      HINT = 'resend the original chunk, or start a new batch';
  END IF;
  IF b.status <> 'UPLOADING' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('batch %s is %s: no more chunks can be added', b.batch_id, b.status);
  END IF;
  IF v_seq <> b.chunks THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('expected chunk %s, got chunk %s', b.chunks, v_seq),
      HINT = 'send chunks in order, starting at 0';
  END IF;
  PERFORM sdp._check_size(b.received_bytes + v_bytes);
  r := sdp._load_csv(b.batch_id, b.client_id, sdp_batch_append.chunk, b.key_column,
                     b.accepted_records + 1, CASE WHEN v_seq = 0 THEN NULL ELSE b.columns END, v_seq);
  -- b is locked (FOR UPDATE) since the start: its hash_state is the one the UPDATE replaces.
  v_state := sdp._sha256_update(b.hash_state, sdp_batch_append.chunk);
  INSERT INTO sdp.batch_chunk (batch_id, seq, chunk_sha256, bytes, records, first_row_no)
  VALUES (b.batch_id, v_seq, v_sha, v_bytes, r.records, b.accepted_records + 1);
  UPDATE sdp.processing_batch p
     SET columns = r.columns, chunks = p.chunks + 1,
         accepted_records = p.accepted_records + r.records,
         received_bytes = p.received_bytes + v_bytes,
         hash_state = v_state
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN b.accepted_records;
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_ingest_csv(client_id text, processing_type text, csv text,
                                   key_column text DEFAULT 'customer_id',
                                   idempotency_key text DEFAULT NULL)
RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_ingest_csv.client_id;
  v_type text := sdp_ingest_csv.processing_type;
  v_key_column text := coalesce(sdp_ingest_csv.key_column, 'customer_id');
  v_key text := sdp_ingest_csv.idempotency_key;
  v_sha text;
  -- The body is named only in simple expressions (IF, :=), which PL/pgSQL evaluates with a
  -- generic plan: a statement planned with its parameters' values (PERFORM, INSERT, UPDATE)
  -- would first copy the whole body into a constant, once per statement (hundreds of MB).
  v_bytes bigint := octet_length(sdp_ingest_csv.csv);
  m sdp.model;
  b sdp.processing_batch;
  r sdp._load_result;
BEGIN
  PERFORM sdp._check_client(v_client);
  IF sdp_ingest_csv.csv IS NULL OR v_bytes = 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'empty body: no CSV was sent',
      HINT = 'send the CSV (header line first) as the request body';
  END IF;
  PERFORM sdp._check_size(v_bytes);
  m := sdp._require_model(v_type);
  v_sha := sdp._sha256_hex(sdp_ingest_csv.csv);
  IF v_key IS NOT NULL THEN
    b := sdp._idempotent_batch(v_client, v_key);
    IF b.batch_id IS NOT NULL THEN
      RETURN sdp._replay(b, v_key, v_type, v_key_column, v_sha);
    END IF;
  END IF;
  b := sdp._insert_batch(v_client, v_type, v_key_column, v_key, v_sha, m.dev_only);
  IF b.batch_id IS NULL THEN
    RETURN sdp._replay(sdp._idempotent_batch(v_client, v_key), v_key, v_type, v_key_column, v_sha);
  END IF;
  r := sdp._load_csv(b.batch_id, v_client, sdp_ingest_csv.csv, v_key_column, 1, NULL, NULL);
  UPDATE sdp.processing_batch p
     SET columns = r.columns, accepted_records = r.records, chunks = 1,
         received_bytes = v_bytes, status = 'RECEIVED',
         received_at = pg_catalog.now()
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN sdp._batch_out(b);
END
$$;

-- ==== 30_process.sql: sdp._score_batch takes the model as its registry row stores it (kind,
-- params) instead of one argument per logistic parameter, so a new model kind needs no new C
-- symbol; sdp._float8_array, which unpacked the parameters for it, is gone. The 0.1.0 C symbol
-- (sdp_score_batch) stays in sdp.so for databases not updated yet.
DROP FUNCTION sdp._score_batch(uuid, text, text, integer[], float8[], float8, float8[], float8[], float8[], float8, float8, float8);
DROP FUNCTION sdp._float8_array(jsonb);

CREATE FUNCTION sdp._score_batch(batch_id uuid, client_id text, model_version text,
                                 feature_idx integer[], kind text, params jsonb)
  RETURNS bigint[] AS 'MODULE_PATHNAME', 'sdp_score_batch_model' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp._score_batch(uuid, text, text, integer[], text, jsonb) IS
  'internal: score every row of a batch in C++ with a registry model (kind, params) and bulk-insert processed_result; returns {rows, defaulted features}';
REVOKE ALL ON FUNCTION sdp._score_batch(uuid, text, text, integer[], text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sdp._process(p_batch_id uuid) RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch := sdp._visible_batch(p_batch_id, true);
  m sdp.model;
  r bigint[];
  v_state text;
  v_message text;
BEGIN
  IF b.status IN ('PROCESSED', 'FAILED') THEN
    RETURN sdp._batch_out(b);  -- processed before (or while we waited for the lock)
  END IF;
  IF b.status = 'UPLOADING' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('batch %s is still UPLOADING', b.batch_id),
      HINT = 'seal it with sdp_batch_seal first';
  END IF;
  UPDATE sdp.processing_batch x SET status = 'PROCESSING' WHERE x.batch_id = b.batch_id;
  BEGIN
    m := sdp._model_for(b.processing_type);
    IF m.name IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('no model is registered for processing type "%s"', b.processing_type);
    END IF;
    r := sdp._score_batch(
      b.batch_id, b.client_id, m.name,
      ARRAY(SELECT coalesce(array_position(b.columns, f.name), 0) - 1
              FROM unnest(m.features) WITH ORDINALITY AS f(name, i) ORDER BY f.i),
      m.kind, m.params);
    UPDATE sdp.processing_batch x
       SET status = 'PROCESSED', processed_records = r[1], model_version = m.name,
           processed_at = pg_catalog.now(), error = NULL
     WHERE x.batch_id = b.batch_id
    RETURNING * INTO b;
  EXCEPTION WHEN OTHERS THEN
    -- Everything the block did is rolled back; the batch is kept, FAILED, with the reason.
    -- (A cancel, query_canceled, is not caught: the batch then stays RECEIVED.)
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
    UPDATE sdp.processing_batch x
       SET status = 'FAILED', error = v_state || ': ' || v_message, processed_at = pg_catalog.now()
     WHERE x.batch_id = b.batch_id
    RETURNING * INTO b;
  END;
  RETURN sdp._batch_out(b);
END
$$;

-- ==== 40_auth.sql: key_prefix keeps 6 characters of a key ("sdp_" and 2 random ones), not 8.
-- Keys stored at 0.1.0 showed 4 random characters there; they are cut to what 0.2.0 keeps.
CREATE OR REPLACE FUNCTION sdp.sdp_store_key(p_client_id text, p_api_key text, p_create boolean) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pepper bytea := sdp.sdp_auth_pepper();
  v_others bytea;
BEGIN
  SELECT pg_catalog.string_agg(c.key_hash, ''::bytea) INTO v_others
    FROM sdp.api_client c WHERE c.client_id <> p_client_id AND c.key_hash IS NOT NULL;
  IF sdp.sdp_auth_match(v_pepper, p_api_key, coalesce(v_others, ''::bytea)) > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = 'this API key is already registered to another client',
      HINT = 'every client needs its own key; omit api_key to have one generated';
  END IF;
  IF p_create THEN
    INSERT INTO sdp.api_client (client_id, key_hash, key_prefix)
    VALUES (p_client_id, sdp.sdp_auth_key_hash(v_pepper, p_api_key), pg_catalog.left(p_api_key, 6));
  ELSE
    UPDATE sdp.api_client
       SET key_hash = sdp.sdp_auth_key_hash(v_pepper, p_api_key),
           key_prefix = pg_catalog.left(p_api_key, 6),
           key_rotated_at = pg_catalog.now(),
           revoked_at = NULL
     WHERE client_id = p_client_id;
  END IF;
  RETURN p_api_key;
END
$$;

UPDATE sdp.api_client SET key_prefix = pg_catalog.left(key_prefix, 6)
 WHERE pg_catalog.length(key_prefix) OPERATOR(pg_catalog.>) 6;

-- ==== 50_rls.sql, 89_governance_grants.sql: the record, result and version tables are read
-- only through the functions that access-log and integrity-check the read.
REVOKE SELECT ON sdp.tokenized_record, sdp.processed_result FROM sdp_client, sdp_admin;
REVOKE SELECT ON sdp.record_version FROM sdp_admin, sdp_auditor;

-- ==== 75_governance_roles.sql: denials name the login too.
CREATE OR REPLACE FUNCTION sdp._require_capability(capability text, action text, target text DEFAULT NULL)
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

-- ==== 76_audit.sql: audit and access log entries record the login (session_user). The column
-- is added last, as in the install script; entries written before 0.2.0 get '' (not recorded),
-- which _audit_canonical leaves out of their canonical text, so the existing chain still
-- verifies. ADD COLUMN with a constant default fills the old rows without an UPDATE (the
-- append-only trigger would refuse one); the default is then dropped, as new rows always name
-- their login.
ALTER TABLE sdp.audit_log ADD COLUMN login text NOT NULL DEFAULT '';
ALTER TABLE sdp.audit_log ALTER COLUMN login DROP DEFAULT;
ALTER TABLE sdp.access_log ADD COLUMN login text NOT NULL DEFAULT '';
ALTER TABLE sdp.access_log ALTER COLUMN login DROP DEFAULT;
-- One batch's events are looked up by target (sdp._audited_counts, on every read).
CREATE INDEX audit_log_target ON sdp.audit_log (target);

DROP FUNCTION sdp._audit_canonical(bigint, timestamptz, text, text, text, text, jsonb);
CREATE FUNCTION sdp._audit_canonical(seq bigint, at timestamptz, actor text, login text,
                                     client_id text, event text, target text, details jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.convert_to(CASE WHEN login = '' THEN
           pg_catalog.jsonb_build_array(
             seq, pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
             actor, client_id, event, target, details)
         ELSE
           pg_catalog.jsonb_build_array(
             seq, pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
             actor, login, client_id, event, target, details)
         END::text, 'UTF8')
$$;

REVOKE ALL ON FUNCTION sdp._audit_canonical(bigint, timestamptz, text, text, text, text, text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sdp._audit(p_event text, p_target text, p_details jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_seq bigint;
  v_prev bytea;
  v_at timestamptz := pg_catalog.clock_timestamp();
  v_actor text := sdp.sdp_caller_role();
  v_login text := pg_catalog.session_user();
  v_client text := sdp.sdp_auth_tenant();
  v_details jsonb := coalesce(p_details, '{}');
  v_hash bytea;
BEGIN
  BEGIN
    SELECT h.seq + 1, h.hash INTO v_seq, v_prev FROM sdp.audit_head h WHERE h.id = 1 FOR UPDATE;
    v_hash := pg_catalog.sha256(v_prev || sdp._audit_canonical(v_seq, v_at, v_actor, v_login, v_client,
                                                                p_event, p_target, v_details));
    INSERT INTO sdp.audit_log (seq, at, actor, login, client_id, event, target, details, prev_hash, entry_hash)
    VALUES (v_seq, v_at, v_actor, v_login, v_client, p_event, p_target, v_details, v_prev, v_hash);
    UPDATE sdp.audit_head h SET seq = v_seq, hash = v_hash WHERE h.id = 1;
  EXCEPTION WHEN serialization_failure THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = 'the audit log was appended to concurrently; retry the request';
  END;
  RETURN v_seq;
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_audit_verify()
RETURNS TABLE(seq bigint, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e sdp.audit_log;
  v_prev bytea := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
  v_expect bigint := 1;
  h sdp.audit_head;
BEGIN
  PERFORM sdp._require_capability('audit', 'audit_verify');
  FOR e IN SELECT * FROM sdp.audit_log l ORDER BY l.seq LOOP
    IF e.seq <> v_expect THEN
      seq := v_expect; reason := 'gap'; RETURN NEXT; RETURN;
    END IF;
    IF e.prev_hash <> v_prev THEN
      seq := e.seq; reason := 'prev_hash'; RETURN NEXT; RETURN;
    END IF;
    IF e.entry_hash <> pg_catalog.sha256(v_prev || sdp._audit_canonical(e.seq, e.at, e.actor, e.login,
                                           e.client_id, e.event, e.target, e.details)) THEN
      seq := e.seq; reason := 'entry_hash'; RETURN NEXT; RETURN;
    END IF;
    v_prev := e.entry_hash;
    v_expect := e.seq + 1;
  END LOOP;
  SELECT * INTO h FROM sdp.audit_head x WHERE x.id = 1;
  IF h.seq <> v_expect - 1 OR h.hash <> v_prev THEN
    seq := v_expect; reason := 'head'; RETURN NEXT;
  END IF;
END
$$;

-- The chain head exported outside the database, and the check against it.
CREATE FUNCTION sdp.sdp_audit_head(OUT seq bigint, OUT entry_hash text, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('audit', 'audit_head');
  SELECT h.seq, pg_catalog.encode(h.hash, 'hex'), l.at INTO seq, entry_hash, at
    FROM sdp.audit_head h LEFT JOIN sdp.audit_log l ON l.seq OPERATOR(pg_catalog.=) h.seq
   WHERE h.id OPERATOR(pg_catalog.=) 1;
  -- The server log is often shipped off the machine: one more copy out of the database's reach.
  RAISE LOG 'sdp audit head: seq=% entry_hash=% role=% login=%', seq, entry_hash,
    sdp.sdp_caller_role(), pg_catalog.session_user();
END
$$;

COMMENT ON FUNCTION sdp.sdp_audit_head() IS
  'the audit chain head (seq, entry_hash hex, time) to store outside the database; see sdp_audit_verify_head';

CREATE FUNCTION sdp.sdp_audit_verify_head(head_seq bigint, head_entry_hash text)
RETURNS TABLE(seq bigint, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_want bytea;
  v_have bytea;
BEGIN
  PERFORM sdp._require_capability('audit', 'audit_verify');
  IF head_seq IS NULL OR head_seq < 0 OR head_entry_hash IS NULL
     OR head_entry_hash !~ '^[0-9a-fA-F]{64}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'an exported audit head is a seq >= 0 and a 64-hex-digit entry_hash (sdp_audit_head())';
  END IF;
  v_want := pg_catalog.decode(head_entry_hash, 'hex');
  RETURN QUERY SELECT v.seq, v.reason FROM sdp.sdp_audit_verify() v;
  IF FOUND THEN
    RETURN;
  END IF;
  IF head_seq = 0 THEN
    v_have := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');  -- the empty chain
  ELSE
    SELECT l.entry_hash INTO v_have FROM sdp.audit_log l WHERE l.seq = head_seq;
    IF NOT FOUND THEN
      seq := head_seq; reason := 'anchor_missing'; RETURN NEXT; RETURN;
    END IF;
  END IF;
  IF v_have <> v_want THEN
    seq := head_seq; reason := 'anchor_mismatch'; RETURN NEXT;
  END IF;
END
$$;

COMMENT ON FUNCTION sdp.sdp_audit_verify_head(bigint, text) IS
  'checks the chain is intact and still holds an exported head (sdp_audit_head); first problem or no row';

REVOKE ALL ON FUNCTION sdp.sdp_audit_head(), sdp.sdp_audit_verify_head(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_audit_head(), sdp.sdp_audit_verify_head(bigint, text)
  TO sdp_admin, sdp_auditor;

CREATE OR REPLACE FUNCTION sdp._access(p_action text, p_target text, p_outcome text, p_rows bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE LOG 'sdp access: role=% login=% client=% action=% target=% outcome=% rows=%',
    sdp.sdp_caller_role(), pg_catalog.session_user(), coalesce(sdp.sdp_auth_tenant(), '-'), p_action,
    coalesce(p_target, '-'), p_outcome, coalesce(p_rows::text, '-');
  IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;
  INSERT INTO sdp.access_log (actor, login, client_id, action, target, outcome, rows)
  VALUES (sdp.sdp_caller_role(), pg_catalog.session_user(), sdp.sdp_auth_tenant(), p_action, p_target,
          p_outcome, p_rows);
END
$$;

-- ==== 77_integrity.sql: deleted rows and changed row counters are integrity failures too (rows
-- counted against the batch's counters and against the counts in its audit events);
-- integrity_failure says which problem it found, and a 'count' problem has no row number.
-- Existing failure rows were all MAC mismatches, which the default records.
ALTER TABLE sdp.integrity_failure
  ADD COLUMN problem text NOT NULL DEFAULT 'mac' CHECK (problem IN ('mac', 'missing', 'count'));
ALTER TABLE sdp.integrity_failure ALTER COLUMN row_no DROP NOT NULL;

CREATE FUNCTION sdp._audited_counts(p_batch_id uuid, OUT records bigint, OUT processed bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.max((l.details OPERATOR(pg_catalog.->>) 'records')::bigint)
           FILTER (WHERE l.event OPERATOR(pg_catalog.=) 'batch.upload' AND l.details OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'RECEIVED'),
         pg_catalog.max((l.details OPERATOR(pg_catalog.->>) 'processed')::bigint)
           FILTER (WHERE l.event OPERATOR(pg_catalog.=) 'batch.process' AND l.details OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'PROCESSED')
    FROM sdp.audit_log l
   WHERE l.target OPERATOR(pg_catalog.=) p_batch_id::text
$$;

REVOKE ALL ON FUNCTION sdp._audited_counts(uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sdp._check_batch_integrity(p_batch_id uuid, p_records boolean, p_results boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k bytea := sdp._integrity_key();
  b sdp.processing_batch;
  v_bad bigint := 0;
  v_rows bigint := 0;
  v_expected bigint := 0;
  v_n bigint;
  v_n_bad bigint;
  a record;
BEGIN
  SELECT * INTO b FROM sdp.processing_batch x WHERE x.batch_id = p_batch_id;
  a := sdp._audited_counts(p_batch_id);
  IF p_records THEN
    SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE NOT sdp._record_ok(k, r))
      INTO v_n, v_n_bad FROM sdp.tokenized_record r WHERE r.batch_id = p_batch_id;
    v_rows := v_rows + v_n; v_bad := v_bad + v_n_bad;
    v_expected := v_expected + GREATEST(b.accepted_records, a.records);
  END IF;
  IF p_results THEN
    SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE NOT sdp._result_ok(k, r))
      INTO v_n, v_n_bad FROM sdp.processed_result r WHERE r.batch_id = p_batch_id;
    v_rows := v_rows + v_n; v_bad := v_bad + v_n_bad;
    v_expected := v_expected + GREATEST(b.processed_records, a.processed);
  END IF;
  IF v_rows <> v_expected THEN
    PERFORM sdp._count_integrity_failures(pg_catalog.abs(v_expected - v_rows));
    RAISE WARNING 'sdp integrity failure: batch % has % row(s) where its counts say %',
      p_batch_id, v_rows, v_expected;
    RAISE EXCEPTION USING ERRCODE = 'XX001',
      MESSAGE = format('integrity check failed for batch %s: %s row(s) stored, %s expected', p_batch_id, v_rows,
                       v_expected),
      HINT = 'rows were deleted (or a counter changed) outside the sdp API; an operator should run sdp.sdp_verify_integrity()';
  END IF;
  IF v_bad > 0 THEN
    PERFORM sdp._count_integrity_failures(v_bad);
    RAISE WARNING 'sdp integrity failure: % row(s) of batch % do not match their integrity MAC',
      v_bad, p_batch_id;
    RAISE EXCEPTION USING ERRCODE = 'XX001',
      MESSAGE = format('integrity check failed for %s row(s) of batch %s', v_bad, p_batch_id),
      HINT = 'the stored rows were changed outside the sdp API; an operator should run sdp.sdp_verify_integrity()';
  END IF;
END
$$;

-- Its result gains `problem`: a new result type, so DROP and CREATE, then its grants.
DROP FUNCTION sdp.sdp_verify_integrity(uuid);
CREATE FUNCTION sdp.sdp_verify_integrity(batch_id uuid DEFAULT NULL)
RETURNS TABLE(table_name text, batch uuid, row_no bigint, client_id text, problem text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k bytea := sdp._integrity_key();
  v_batch uuid := sdp_verify_integrity.batch_id;
  v_check bigint := pg_catalog.nextval('sdp.integrity_check_seq');
  v_bad jsonb;
BEGIN
  PERFORM sdp._require_capability('read', 'verify_integrity', v_batch::text);
  INSERT INTO sdp.integrity_failure (check_no, table_name, batch_id, row_no, client_id, problem)
    SELECT v_check, 'tokenized_record', r.batch_id, r.row_no, r.client_id, 'mac' FROM sdp.tokenized_record r
     WHERE (v_batch IS NULL OR r.batch_id = v_batch) AND NOT sdp._record_ok(k, r)
    UNION ALL
    SELECT v_check, 'processed_result', r.batch_id, r.row_no, r.client_id, 'mac' FROM sdp.processed_result r
     WHERE (v_batch IS NULL OR r.batch_id = v_batch) AND NOT sdp._result_ok(k, r)
    UNION ALL
    -- Counts: per batch and table, the counter, the count its audit events recorded and the rows
    -- stored. A counter that differs from the audited count was changed ('count'); the row numbers
    -- missing from 1..the larger of the two are deleted rows ('missing'), looked for only where
    -- the stored count is off.
    (WITH counts AS (
       SELECT b.batch_id, b.client_id, t.table_name, t.counter, t.audited,
              GREATEST(t.counter, t.audited) AS expected, t.stored
         FROM sdp.processing_batch b
        CROSS JOIN LATERAL sdp._audited_counts(b.batch_id) a
        CROSS JOIN LATERAL (VALUES
                ('tokenized_record', b.accepted_records, a.records,
                 (SELECT pg_catalog.count(*) FROM sdp.tokenized_record r WHERE r.batch_id = b.batch_id)),
                ('processed_result', b.processed_records, a.processed,
                 (SELECT pg_catalog.count(*) FROM sdp.processed_result r WHERE r.batch_id = b.batch_id)))
              AS t(table_name, counter, audited, stored)
        WHERE v_batch IS NULL OR b.batch_id = v_batch)
     SELECT v_check, c.table_name, c.batch_id, NULL::bigint, c.client_id, 'count'
       FROM counts c WHERE c.audited IS NOT NULL AND c.audited <> c.counter
     UNION ALL
     SELECT v_check, c.table_name, c.batch_id, g.n, c.client_id, 'missing'
       FROM counts c CROSS JOIN LATERAL pg_catalog.generate_series(1::bigint, c.expected) g(n)
      WHERE c.stored <> c.expected
        AND NOT CASE c.table_name
                  WHEN 'tokenized_record' THEN EXISTS (SELECT 1 FROM sdp.tokenized_record r
                                                        WHERE r.batch_id = c.batch_id AND r.row_no = g.n)
                  ELSE EXISTS (SELECT 1 FROM sdp.processed_result r
                                WHERE r.batch_id = c.batch_id AND r.row_no = g.n) END);
  IF FOUND THEN
    -- Identifiers only: table, batch, row numbers (never the row's content).
    SELECT pg_catalog.jsonb_build_object(
             'rows', pg_catalog.count(*),
             'bad', pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                      'table', f.table_name, 'batch_id', f.batch_id, 'row_no', f.row_no,
                      'problem', f.problem)
                    ORDER BY f.table_name, f.batch_id, f.row_no))
      INTO v_bad FROM sdp.integrity_failure f WHERE f.check_no = v_check;
    PERFORM sdp._audit('integrity.failure', coalesce(v_batch::text, 'all'), v_bad);
    PERFORM sdp._count_integrity_failures((v_bad ->> 'rows')::bigint);
  END IF;
  RETURN QUERY SELECT f.table_name, f.batch_id, f.row_no, f.client_id, f.problem FROM sdp.integrity_failure f
                WHERE f.check_no = v_check ORDER BY 1, 2, 3 NULLS FIRST;
END
$$;

COMMENT ON FUNCTION sdp.sdp_verify_integrity(uuid) IS
  'rows whose integrity MAC does not match or that were deleted (all batches, or one); counts and audits each failure';

REVOKE ALL ON FUNCTION sdp.sdp_verify_integrity(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_verify_integrity(uuid) TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor;

-- ==== 79_retention.sql: TRUNCATE of the record and result tables is refused while any legal hold
-- is active (it skips the row trigger that protects held batches).
CREATE FUNCTION sdp._refuse_truncate_under_hold() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM sdp.legal_hold h WHERE h.released_at IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('%s cannot be truncated while a legal hold is active', TG_TABLE_NAME);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER tokenized_record_hold_truncate BEFORE TRUNCATE ON sdp.tokenized_record
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._refuse_truncate_under_hold();

CREATE TRIGGER processed_result_hold_truncate BEFORE TRUNCATE ON sdp.processed_result
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._refuse_truncate_under_hold();

REVOKE ALL ON FUNCTION sdp._refuse_truncate_under_hold() FROM PUBLIC;
