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
    PERFORM sdp._raise_conflict(
      format('batch %s is %s: only an UPLOADING batch can be aborted', b.batch_id, b.status));
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
    PERFORM sdp._raise_conflict(format('chunk %s was already stored with different content', v_seq),
      detail => format('stored SHA-256 %s, this one %s', c.chunk_sha256, v_sha),
      hint => 'resend the original chunk, or start a new batch');
  END IF;
  IF b.status <> 'UPLOADING' THEN
    PERFORM sdp._raise_conflict(format('batch %s is %s: no more chunks can be added', b.batch_id, b.status));
  END IF;
  IF v_seq <> b.chunks THEN
    PERFORM sdp._raise_conflict(format('expected chunk %s, got chunk %s', b.chunks, v_seq),
                                hint => 'send chunks in order, starting at 0');
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

-- sdp._process, which calls it, is redefined once, in the 16_helpers.sql section below.

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
    PERFORM sdp._raise_conflict('this API key is already registered to another client',
      hint => 'every client needs its own key; omit api_key to have one generated');
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
BEGIN
  RETURN sdp._audit_as(sdp.sdp_caller_role(), pg_catalog.session_user(), sdp.sdp_auth_tenant(),
                       p_event, p_target, p_details);
END
$$;

-- Appends one event on behalf of the given actor, login and client: for work done in another
-- session than the caller's (the privacy budget charge, committed by a background worker,
-- privacy_charge.cc). Internal (owner only).
CREATE FUNCTION sdp._audit_as(p_actor text, p_login text, p_client text, p_event text,
                              p_target text, p_details jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_seq bigint;
  v_prev bytea;
  v_at timestamptz := pg_catalog.clock_timestamp();
  v_details jsonb := coalesce(p_details, '{}');
  v_hash bytea;
BEGIN
  BEGIN
    SELECT h.seq + 1, h.hash INTO v_seq, v_prev FROM sdp.audit_head h WHERE h.id = 1 FOR UPDATE;
    v_hash := pg_catalog.sha256(v_prev || sdp._audit_canonical(v_seq, v_at, p_actor, p_login, p_client,
                                                                p_event, p_target, v_details));
    INSERT INTO sdp.audit_log (seq, at, actor, login, client_id, event, target, details, prev_hash, entry_hash)
    VALUES (v_seq, v_at, p_actor, p_login, p_client, p_event, p_target, v_details, v_prev, v_hash);
    UPDATE sdp.audit_head h SET seq = v_seq, hash = v_hash WHERE h.id = 1;
  EXCEPTION WHEN serialization_failure THEN
    PERFORM sdp._raise_conflict('the audit log was appended to concurrently; retry the request');
  END;
  RETURN v_seq;
END
$$;
REVOKE ALL ON FUNCTION sdp._audit_as(text, text, text, text, text, jsonb) FROM PUBLIC;

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

-- ==== 16_helpers.sql: one function raises every conflict (PT409), and whether this is a dev
-- server is asked in one way, sdp.sdp_is_dev(), instead of reading sdp.env in each function.
-- The functions that did either get their new bodies; nothing else in them changed.
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

REVOKE ALL ON FUNCTION sdp._raise_conflict(text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sdp._visible_batch(p_batch_id uuid, p_lock boolean) RETURNS sdp.processing_batch
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

CREATE OR REPLACE FUNCTION sdp._model_for(p_type text) RETURNS sdp.model
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT m FROM sdp.model m
   WHERE m.processing_type = p_type AND m.is_default
     AND (NOT m.dev_only OR sdp.sdp_is_dev())
   ORDER BY m.dev_only LIMIT 1
$$;

CREATE OR REPLACE FUNCTION sdp._require_model(p_type text) RETURNS sdp.model
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  m sdp.model := sdp._model_for(p_type);
BEGIN
  IF m.name IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown processing_type "%s": no model is registered for it; known types: %s',
                       sdp._echo(p_type),
                       (SELECT coalesce(string_agg(DISTINCT t.processing_type, ', ' ORDER BY t.processing_type), 'none')
                          FROM sdp.model t
                         WHERE t.is_default AND (NOT t.dev_only OR sdp.sdp_is_dev())));
  END IF;
  RETURN m;
END
$$;

CREATE OR REPLACE FUNCTION sdp._replay(b sdp.processing_batch, p_key text, p_type text, p_key_column text,
                            p_sha text) RETURNS sdp.sdp_batch
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF b.batch_id IS NULL THEN
    PERFORM sdp._raise_conflict(
      format('idempotency key "%s" is being used by a concurrent request', sdp._echo(p_key)),
      hint => 'retry the request');
  END IF;
  IF b.processing_type <> p_type OR b.key_column <> p_key_column
     OR (p_sha IS NOT NULL AND b.content_sha256 IS DISTINCT FROM p_sha) THEN
    PERFORM sdp._raise_conflict(
      format('idempotency key "%s" was already used for a different batch', sdp._echo(p_key)),
      hint => 'use a new idempotency key for different content');
  END IF;
  IF b.dev_only AND NOT sdp.sdp_is_dev() THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('batch %s not found', b.batch_id);
  END IF;
  RETURN sdp._batch_out(b);
END
$$;

CREATE OR REPLACE FUNCTION sdp._insert_batch(p_client_id text, p_type text, p_key_column text, p_key text,
                                  p_sha text, p_dev_only boolean) RETURNS sdp.processing_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch;
BEGIN
  IF p_key_column IS NULL OR p_key_column = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'key_column is required';
  END IF;
  BEGIN
    INSERT INTO sdp.processing_batch AS p (client_id, processing_type, key_column, status,
                                           idempotency_key, content_sha256, dev_only)
    VALUES (p_client_id, p_type, p_key_column, 'UPLOADING', p_key, p_sha, p_dev_only)
    ON CONFLICT (client_id, idempotency_key) DO NOTHING
    RETURNING * INTO b;
  EXCEPTION WHEN serialization_failure THEN
    PERFORM sdp._raise_conflict(
      format('idempotency key "%s" is being used by a concurrent request', sdp._echo(p_key)),
      hint => 'retry the request');
  END;
  RETURN b;
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_batch_seal(batch_id uuid, chunks integer, content_sha256 text)
RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch := sdp._visible_batch(sdp_batch_seal.batch_id, true);
  v_want text := lower(sdp_batch_seal.content_sha256);
  v_sha text;
BEGIN
  IF v_want IS NULL OR v_want !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'content_sha256 must be 64 hex digits (SHA-256 of all chunks in order)';
  END IF;
  IF b.status <> 'UPLOADING' THEN
    IF b.chunks = sdp_batch_seal.chunks AND b.content_sha256 = v_want THEN
      RETURN sdp._batch_out(b);  -- a retried seal
    END IF;
    PERFORM sdp._raise_conflict(format('batch %s is already sealed (%s) with other content', b.batch_id, b.status));
  END IF;
  IF sdp_batch_seal.chunks IS DISTINCT FROM b.chunks THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('seal announces %s chunks but %s were received', coalesce(sdp_batch_seal.chunks::text, 'NULL'), b.chunks),
      HINT = 'append the missing chunks first';
  END IF;
  v_sha := sdp._sha256_final(b.hash_state);
  IF v_sha <> v_want THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('content_sha256 does not match the received chunks: their SHA-256 is %s', v_sha),
      HINT = 'hash the chunks concatenated in seq order';
  END IF;
  IF b.accepted_records = 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the batch has no data rows';
  END IF;
  UPDATE sdp.processing_batch p
     SET status = 'RECEIVED', content_sha256 = v_sha, hash_state = NULL, received_at = pg_catalog.now()
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN sdp._batch_out(b);
END
$$;

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
    PERFORM sdp._raise_conflict(format('batch %s is still UPLOADING', b.batch_id),
                                hint => 'seal it with sdp_batch_seal first');
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

CREATE OR REPLACE FUNCTION sdp.sdp_dev_process_batch(batch_id uuid) RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT sdp.sdp_is_dev() THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = 'not found',
      DETAIL = 'dev entry points exist only when sdp.env = ''dev''';
  END IF;
  RETURN sdp._process(sdp_dev_process_batch.batch_id);
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_create_client(client_id text, api_key text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_create_client.client_id;
  v_key text := sdp_create_client.api_key;
  v_row sdp.api_client%ROWTYPE;
BEGIN
  PERFORM sdp.sdp_require_admin();
  PERFORM sdp.sdp_check_client_id(v_client);
  IF v_key IS NULL THEN
    v_key := sdp.sdp_auth_new_key();
  ELSE
    PERFORM sdp.sdp_check_api_key(v_key);
  END IF;
  SELECT * INTO v_row FROM sdp.api_client c WHERE c.client_id = v_client FOR UPDATE;
  IF FOUND THEN
    -- Registering the same client with the same key again is a no-op (idempotent setup
    -- scripts); anything else is a conflict.
    IF sdp_create_client.api_key IS NOT NULL AND v_row.key_hash IS NOT NULL
       AND sdp.sdp_auth_match(sdp.sdp_auth_pepper(), v_key, v_row.key_hash) = 1 THEN
      RETURN v_key;
    END IF;
    PERFORM sdp._raise_conflict(format('client %s already exists', v_client),
                                hint => 'use sdp.sdp_rotate_key(client_id) to give it a new key');
  END IF;
  BEGIN
    RETURN sdp.sdp_store_key(v_client, v_key, true);
  EXCEPTION WHEN unique_violation THEN  -- created concurrently
    PERFORM sdp._raise_conflict(format('client %s already exists', v_client));
  END;
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_update_record(record_id text, patch jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION sdp._decide_version(p_version_id bigint, p_approve boolean) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION sdp.sdp_set_retention(client_id text, ttl interval) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'set_retention');
  IF NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = sdp_set_retention.client_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(sdp_set_retention.client_id));
  END IF;
  IF ttl IS NULL THEN
    DELETE FROM sdp.retention_policy p WHERE p.client_id = sdp_set_retention.client_id;
  ELSIF ttl <= interval '0' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'ttl must be positive (NULL removes the policy)';
  ELSE
    INSERT INTO sdp.retention_policy AS p (client_id, ttl, set_by)
    VALUES (sdp_set_retention.client_id, ttl, sdp.sdp_caller_role())
    ON CONFLICT ON CONSTRAINT retention_policy_pkey
    DO UPDATE SET ttl = EXCLUDED.ttl, set_by = EXCLUDED.set_by, set_at = pg_catalog.clock_timestamp();
  END IF;
  PERFORM sdp._audit('retention.set', sdp_set_retention.client_id,
                     pg_catalog.jsonb_build_object('ttl', ttl::text));
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_purge_expired(now timestamptz DEFAULT pg_catalog.now(), max_batches integer DEFAULT 100)
RETURNS TABLE(batch_id uuid, client_id text, records bigint, results bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c record;
  d jsonb;
  v_held uuid[];
BEGIN
  PERFORM sdp._require_capability('admin', 'purge_expired');
  SELECT pg_catalog.array_agg(b.batch_id ORDER BY b.batch_id) INTO v_held
    FROM sdp.processing_batch b JOIN sdp.retention_policy p ON p.client_id = b.client_id
   WHERE b.created_at + p.ttl <= sdp_purge_expired.now AND sdp._is_held(b.client_id, b.batch_id);
  FOR c IN SELECT b.batch_id, b.client_id
             FROM sdp.processing_batch b JOIN sdp.retention_policy p ON p.client_id = b.client_id
            WHERE b.created_at + p.ttl <= sdp_purge_expired.now
              AND b.status <> 'PROCESSING'
              AND NOT sdp._is_held(b.client_id, b.batch_id)
            ORDER BY b.created_at, b.batch_id
            LIMIT greatest(max_batches, 1)
            FOR UPDATE OF b SKIP LOCKED LOOP
    d := sdp._delete_batch(c.batch_id);
    PERFORM sdp._audit('retention.purge', c.batch_id::text, d || pg_catalog.jsonb_build_object('client_id', c.client_id));
    batch_id := c.batch_id; client_id := c.client_id;
    records := (d ->> 'records')::bigint; results := (d ->> 'results')::bigint;
    RETURN NEXT;
  END LOOP;
  IF v_held IS NOT NULL THEN
    PERFORM sdp._audit('retention.skip_held', NULL,
                       pg_catalog.jsonb_build_object('batches', v_held));
  END IF;
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_forget_batch(batch_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch;
  d jsonb;
BEGIN
  PERFORM sdp._require_capability('admin', 'forget_batch', sdp_forget_batch.batch_id::text);
  SELECT * INTO b FROM sdp.processing_batch x WHERE x.batch_id = sdp_forget_batch.batch_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown batch %s', sdp_forget_batch.batch_id);
  END IF;
  IF sdp._is_held(b.client_id, b.batch_id) THEN
    PERFORM sdp._audit('erasure.refused_hold', b.batch_id::text,
                       pg_catalog.jsonb_build_object('client_id', b.client_id));
    PERFORM pg_catalog.set_config('response.status', '409', true);
    RETURN pg_catalog.jsonb_build_object('batch_id', b.batch_id, 'status', 'held', 'records', 0, 'results', 0);
  END IF;
  d := sdp._delete_batch(b.batch_id);
  PERFORM sdp._audit('erasure.batch', b.batch_id::text, d || pg_catalog.jsonb_build_object('client_id', b.client_id));
  RETURN d || '{"status":"deleted"}'::jsonb;
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;

CREATE OR REPLACE FUNCTION sdp.sdp_forget_client(client_id text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_forget_client.client_id;
  c record;
  d jsonb;
  v_batches bigint := 0;
  v_records bigint := 0;
  v_results bigint := 0;
  v_held uuid[];
BEGIN
  PERFORM sdp._require_capability('admin', 'forget_client', v_client);
  PERFORM 1 FROM sdp.api_client x WHERE x.client_id = v_client FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(v_client));
  END IF;
  SELECT pg_catalog.array_agg(b.batch_id ORDER BY b.batch_id) INTO v_held
    FROM sdp.processing_batch b WHERE b.client_id = v_client AND sdp._is_held(b.client_id, b.batch_id);
  IF v_held IS NOT NULL THEN
    PERFORM sdp._audit('erasure.refused_hold', v_client,
                       pg_catalog.jsonb_build_object('held_batches', pg_catalog.cardinality(v_held)));
    PERFORM pg_catalog.set_config('response.status', '409', true);
    RETURN pg_catalog.jsonb_build_object('client_id', v_client, 'status', 'held', 'batches', 0,
                                         'records', 0, 'results', 0);
  END IF;
  IF sdp._is_held(v_client, NULL) THEN  -- a client-wide hold with no batch yet
    PERFORM sdp._audit('erasure.refused_hold', v_client, '{}');
    PERFORM pg_catalog.set_config('response.status', '409', true);
    RETURN pg_catalog.jsonb_build_object('client_id', v_client, 'status', 'held', 'batches', 0,
                                         'records', 0, 'results', 0);
  END IF;
  FOR c IN SELECT b.batch_id FROM sdp.processing_batch b WHERE b.client_id = v_client
            ORDER BY b.batch_id FOR UPDATE LOOP
    d := sdp._delete_batch(c.batch_id);
    v_batches := v_batches + 1;
    v_records := v_records + (d ->> 'records')::bigint;
    v_results := v_results + (d ->> 'results')::bigint;
  END LOOP;
  DELETE FROM sdp.api_client x WHERE x.client_id = v_client;  -- key gone too; retention cascades
  PERFORM sdp._audit('erasure.client', v_client,
    pg_catalog.jsonb_build_object('batches', v_batches, 'records', v_records, 'results', v_results));
  RETURN pg_catalog.jsonb_build_object('client_id', v_client, 'status', 'deleted', 'batches', v_batches,
                                       'records', v_records, 'results', v_results);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;

-- ==== 80_privacy.sql: privacy analytics (issue 18). New: the role sdp_dp_analyst (75_governance_roles.sql),
-- the file itself as it is, then its privileges as 90_privileges.sql makes them.
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sdp_dp_analyst') THEN
    CREATE ROLE sdp_dp_analyst NOLOGIN;
  ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                WHERE rolname = 'sdp_dp_analyst' AND (rolsuper OR rolbypassrls)) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = 'role sdp_dp_analyst exists and is SUPERUSER or BYPASSRLS',
      HINT = 'ALTER ROLE sdp_dp_analyst NOSUPERUSER NOBYPASSRLS, then ALTER EXTENSION sdp UPDATE again';
  END IF;
END
$roles$;

-- Privacy analytics: differentially private statistics with an enforced budget ledger (issue 18,
-- docs/privacy_analytics.md).
--
-- An admin registers a dataset (a table or view with a column naming the person protected, the
-- privacy unit) with an ε/δ cap, and grants budget on it to login or group roles. A caller asks
-- for a count, sum, mean, histogram or quantiles: the release is computed first and kept, then
-- charged (to the caller's own grant, to every group grant it draws from, and to the dataset cap)
-- in a transaction of its own that a background worker commits (privacy_charge.cc), and only
-- then returned. So a ROLLBACK of the caller's transaction cannot take a charge back, a query
-- that fails or is refused charges nothing and returns nothing, and a result is never returned
-- without its committed charge.
--
-- Composition is basic (sequential): the ε of every release is added, exactly, in numeric.

CREATE TABLE sdp.dp_dataset (
  name              text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
  relation          regclass NOT NULL,
  privacy_unit      text NOT NULL,
  max_rows_per_unit integer NOT NULL CHECK (max_rows_per_unit BETWEEN 1 AND 10000),
  epsilon_cap       numeric NOT NULL CHECK (epsilon_cap > 0),
  delta_cap         numeric NOT NULL CHECK (delta_cap >= 0 AND delta_cap < 1),
  epsilon_spent     numeric NOT NULL DEFAULT 0,
  delta_spent       numeric NOT NULL DEFAULT 0,
  -- Sums are computed in integer units of 10^-sum_scale (the declared granularity).
  sum_scale         smallint NOT NULL DEFAULT 2 CHECK (sum_scale BETWEEN 0 AND 6),
  -- Key of the keyed hash that picks which rows of a unit count (contribution bounding). Random
  -- per dataset, never shown: knowing it would tell which rows are dropped.
  bounding_key      bytea NOT NULL,
  -- A bigint column identifying a row (views have no ctid); NULL: the relation's ctid.
  row_identity      text,
  created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CHECK (epsilon_spent <= epsilon_cap AND delta_spent <= delta_cap)
);
COMMENT ON TABLE sdp.dp_dataset IS 'datasets open to differentially private queries, with their ε/δ caps';

CREATE TABLE sdp.dp_grant (
  grantee       text NOT NULL,
  dataset       text NOT NULL REFERENCES sdp.dp_dataset (name) ON DELETE CASCADE,
  epsilon       numeric NOT NULL CHECK (epsilon > 0),
  delta         numeric NOT NULL DEFAULT 0 CHECK (delta >= 0 AND delta < 1),
  epsilon_spent numeric NOT NULL DEFAULT 0,
  delta_spent   numeric NOT NULL DEFAULT 0,
  granted_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (grantee, dataset),
  CHECK (epsilon_spent <= epsilon AND delta_spent <= delta)
);
COMMENT ON TABLE sdp.dp_grant IS 'privacy budget granted to a role (login or group) on a dataset';

-- Values of a column that are public knowledge (risk bands, segments): groups by that column are
-- released for exactly these values, without a data-dependent threshold and without δ.
CREATE TABLE sdp.dp_public_values (
  dataset     text NOT NULL REFERENCES sdp.dp_dataset (name) ON DELETE CASCADE,
  column_name text NOT NULL,
  "values"    text[] NOT NULL,
  PRIMARY KEY (dataset, column_name)
);

-- One row per release. Append-only like the audit log: no UPDATE/DELETE/TRUNCATE privilege, and
-- a trigger refuses them even for the owner. Each row is also an audit log entry (dp.release).
CREATE TABLE sdp.dp_ledger (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  actor      text NOT NULL,          -- sdp.sdp_caller_role()
  login      text NOT NULL,          -- session_user
  dataset    text NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('count', 'sum', 'avg', 'histogram', 'quantiles')),
  parameters jsonb NOT NULL,
  epsilon    numeric NOT NULL,
  delta      numeric NOT NULL,
  charged_to text[] NOT NULL         -- the grantees charged
);
COMMENT ON TABLE sdp.dp_ledger IS 'append-only: one row per differentially private release';
CREATE INDEX dp_ledger_actor ON sdp.dp_ledger (actor);

-- Refuses UPDATE, DELETE and TRUNCATE on an append-only table (the audit log, the DP ledger).
CREATE OR REPLACE FUNCTION sdp._audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '42501',
    MESSAGE = format('%s.%s is append-only: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP);
END
$$;

CREATE TRIGGER dp_ledger_append_only BEFORE UPDATE OR DELETE ON sdp.dp_ledger
  FOR EACH ROW EXECUTE FUNCTION sdp._audit_refuse_change();
CREATE TRIGGER dp_ledger_no_truncate BEFORE TRUNCATE ON sdp.dp_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._audit_refuse_change();

-- An analyst reads its own ledger rows; admins and auditors read all.
ALTER TABLE sdp.dp_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.dp_ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY dp_ledger_own ON sdp.dp_ledger FOR SELECT
  USING (actor OPERATOR(pg_catalog.=) (SELECT sdp.sdp_caller_role())::text
         OR (SELECT sdp.sdp_caller_has_role('sdp_admin'))
         OR (SELECT sdp.sdp_caller_has_role('sdp_auditor')));
CREATE POLICY dp_ledger_insert ON sdp.dp_ledger FOR INSERT WITH CHECK (true);

-- ---- the computation (privacy.cc) ------------------------------------------------------------
-- sdp._dp_tally: an aggregate fed by one scan of the dataset. Per privacy unit it keeps at most
-- max_rows_per_unit rows (the smallest HMAC-SHA256(bounding_key, unit || row) priorities), values
-- clamped to [lower, upper] in fixed point; the result is the bounded per-group counts and sums
-- (int128), serialised. Never returned to a caller: sdp._dp_release adds the noise.
CREATE FUNCTION sdp._dp_tally_step(state internal, unit text, row_id bigint, grp text,
                                   val anyelement, bounding_key bytea, max_rows integer,
                                   lower_fixed bigint, upper_fixed bigint, scale integer)
RETURNS internal
  AS 'MODULE_PATHNAME', 'sdp_dp_tally_step' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT;
CREATE FUNCTION sdp._dp_tally_step(state internal, unit text, row_id tid, grp text,
                                   val anyelement, bounding_key bytea, max_rows integer,
                                   lower_fixed bigint, upper_fixed bigint, scale integer)
RETURNS internal
  AS 'MODULE_PATHNAME', 'sdp_dp_tally_step' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT;
CREATE FUNCTION sdp._dp_tally_final(state internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_dp_tally_final' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT;
CREATE AGGREGATE sdp._dp_tally(text, bigint, text, anyelement, bytea, integer, bigint, bigint, integer) (
  SFUNC = sdp._dp_tally_step, STYPE = internal, FINALFUNC = sdp._dp_tally_final
);
CREATE AGGREGATE sdp._dp_tally(text, tid, text, anyelement, bytea, integer, bigint, bigint, integer) (
  SFUNC = sdp._dp_tally_step, STYPE = internal, FINALFUNC = sdp._dp_tally_final
);
COMMENT ON AGGREGATE sdp._dp_tally(text, bigint, text, anyelement, bytea, integer, bigint, bigint, integer) IS
  'internal: contribution-bounded per-group counts and fixed-point sums of one dataset scan';
COMMENT ON AGGREGATE sdp._dp_tally(text, tid, text, anyelement, bytea, integer, bigint, bigint, integer) IS
  'internal: contribution-bounded per-group counts and fixed-point sums of one dataset scan';

-- The noisy release of a tally: one row per released group. kind count | sum | avg | quantiles;
-- epsilon/delta as numeric text (delta NULL: the groups are public, no threshold); public_keys: the groups to release
-- (NULL: those in the data past the threshold); quantile levels as q_num / 10^9 over `bins` bins.
-- lower/upper in fixed point: the sum sensitivity per row is max(|lower|, |upper|).
CREATE FUNCTION sdp._dp_release(tally bytea, kind text, epsilon text, delta text,
                                max_rows integer, lower_fixed bigint, upper_fixed bigint, scale integer,
                                public_keys text[], quantile_nums bigint[], bins integer)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric)
  AS 'MODULE_PATHNAME', 'sdp_dp_release' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp._dp_release(bytea, text, text, text, integer, bigint, bigint, integer, text[], bigint[], integer) IS
  'internal: discrete Laplace / permute-and-flip release of a tally with 95% intervals';

-- ---- validation helpers ----------------------------------------------------------------------
-- A privacy parameter: finite, > 0, >= 1e-6 (smaller ones give noise nobody can use and invite
-- rounding games). 22023 otherwise.
CREATE FUNCTION sdp._dp_check_parameter(what text, v numeric) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF v IS NULL OR v = 'NaN'::numeric OR v IN ('Infinity'::numeric, '-Infinity'::numeric)
     OR v <= 0 OR v < 0.000001 OR v > 1000000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('%s must be a finite number from 0.000001 to 1000000, not %s', what,
                       coalesce(v::text, 'NULL'));
  END IF;
END
$$;

-- The dataset row, or 22023 naming it.
CREATE FUNCTION sdp._dp_dataset_row(p_dataset text) RETURNS sdp.dp_dataset
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
BEGIN
  SELECT * INTO d FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) p_dataset;
  IF d.name IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown dataset %s', sdp._echo(p_dataset));
  END IF;
  RETURN d;
END
$$;

-- The type of a column of the relation, or 22023 naming it. p_numeric: it must be a number.
CREATE FUNCTION sdp._dp_column_type(p_relation regclass, p_dataset text, p_column text,
                                    p_numeric boolean) RETURNS regtype
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_type regtype;
BEGIN
  SELECT a.atttypid::regtype INTO v_type FROM pg_catalog.pg_attribute a
   WHERE a.attrelid OPERATOR(pg_catalog.=) p_relation AND a.attname OPERATOR(pg_catalog.=) p_column
     AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
  IF v_type IS NULL OR p_column IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown column %s of dataset %s', sdp._echo(p_column), sdp._echo(p_dataset));
  END IF;
  IF p_numeric AND v_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
                                  'real'::regtype, 'double precision'::regtype, 'numeric'::regtype) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('column %s of dataset %s is not numeric (%s)', sdp._echo(p_column),
                       sdp._echo(p_dataset), v_type);
  END IF;
  RETURN v_type;
END
$$;

-- The WHERE clause of a filter: a jsonb object whose keys are column names and whose values are
-- a scalar (equality), an array of scalars (one of) or an object of gt/gte/lt/lte bounds. Never
-- SQL text: names go through quote_ident after they were found in the relation, values through
-- quote_literal and a cast to the column's type, operators are pg_catalog's.
CREATE FUNCTION sdp._dp_filter_sql(p_relation regclass, p_dataset text, p_filter jsonb) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_sql text := 'true';
  k text;
  v jsonb;
  op text;
  b jsonb;
  v_type regtype;
  v_col text;
BEGIN
  IF p_filter IS NULL THEN
    RETURN v_sql;
  END IF;
  IF pg_catalog.jsonb_typeof(p_filter) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'filter must be a JSON object {"column": value | [values] | {"gte": x, "lt": y}}';
  END IF;
  FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_filter) e LOOP
    v_type := sdp._dp_column_type(p_relation, p_dataset, k, false);
    v_col := 't.' || pg_catalog.quote_ident(k);
    IF pg_catalog.jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN
      v_sql := v_sql || format(' AND %s OPERATOR(pg_catalog.=) %s::%s', v_col,
                               pg_catalog.quote_literal(v #>> '{}'), v_type);
    ELSIF pg_catalog.jsonb_typeof(v) = 'array' AND pg_catalog.jsonb_array_length(v) > 0 THEN
      v_sql := v_sql || format(' AND %s OPERATOR(pg_catalog.=) ANY (ARRAY[%s]::%s[])', v_col,
        (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(x), ', ')
           FROM pg_catalog.jsonb_array_elements_text(v) x), v_type);
      IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(v) x
                  WHERE pg_catalog.jsonb_typeof(x) NOT IN ('string', 'number', 'boolean')) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
          MESSAGE = format('filter on %s: an array holds scalars only', sdp._echo(k));
      END IF;
    ELSIF pg_catalog.jsonb_typeof(v) = 'object' AND v <> '{}'::jsonb THEN
      FOR op, b IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(v) e LOOP
        IF op NOT IN ('gt', 'gte', 'lt', 'lte')
           OR pg_catalog.jsonb_typeof(b) NOT IN ('string', 'number') THEN
          RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('filter on %s: a range is {"gt"|"gte"|"lt"|"lte": value}', sdp._echo(k));
        END IF;
        v_sql := v_sql || format(' AND %s OPERATOR(pg_catalog.%s) %s::%s', v_col,
          CASE op WHEN 'gt' THEN '>' WHEN 'gte' THEN '>=' WHEN 'lt' THEN '<' ELSE '<=' END,
          pg_catalog.quote_literal(b #>> '{}'), v_type);
      END LOOP;
    ELSE
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('filter on %s: a value, an array of values or a range object', sdp._echo(k));
    END IF;
  END LOOP;
  RETURN v_sql;
END
$$;

-- ---- admin: datasets, grants, public values --------------------------------------------------
CREATE FUNCTION sdp.sdp_dp_register(dataset text, relation regclass, privacy_unit text,
                                    max_rows_per_unit integer, epsilon_cap numeric,
                                    delta_cap numeric DEFAULT 0.000001, sum_scale integer DEFAULT 2,
                                    row_identity text DEFAULT NULL)
RETURNS sdp.dp_dataset
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  v_kind "char";
  v_idtype regtype;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_register', dataset);
  IF dataset IS NULL OR dataset !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('dataset name %s: lowercase letters, digits and _, 48 at most', sdp._echo(dataset));
  END IF;
  SELECT c.relkind INTO v_kind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation;
  IF v_kind IS NULL OR v_kind NOT IN ('r', 'v', 'm', 'p') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'relation must be a table, view or materialized view';
  END IF;
  PERFORM sdp._dp_column_type(relation, dataset, privacy_unit, false);
  IF row_identity IS NOT NULL THEN
    v_idtype := sdp._dp_column_type(relation, dataset, row_identity, false);
    IF v_idtype <> 'bigint'::regtype THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'row_identity must be a bigint column';
    END IF;
  ELSIF v_kind = 'v' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'a view has no ctid: name a bigint row_identity column';
  END IF;
  IF max_rows_per_unit IS NULL OR max_rows_per_unit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_rows_per_unit must be from 1 to 10000';
  END IF;
  PERFORM sdp._dp_check_parameter('epsilon_cap', epsilon_cap);
  IF delta_cap IS NULL OR delta_cap <> 0 THEN
    PERFORM sdp._dp_check_parameter('delta_cap', delta_cap);
    IF delta_cap >= 1 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'delta_cap must be below 1';
    END IF;
  END IF;
  IF sum_scale IS NULL OR sum_scale NOT BETWEEN 0 AND 6 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'sum_scale must be from 0 to 6';
  END IF;
  BEGIN
    INSERT INTO sdp.dp_dataset (name, relation, privacy_unit, max_rows_per_unit, epsilon_cap,
                                delta_cap, sum_scale, bounding_key, row_identity)
    VALUES (dataset, relation, privacy_unit, max_rows_per_unit, epsilon_cap, delta_cap, sum_scale,
            pg_catalog.sha256(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                              OPERATOR(pg_catalog.||) pg_catalog.uuid_send(pg_catalog.gen_random_uuid())),
            row_identity)
    RETURNING * INTO d;
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict(format('dataset %s is already registered', sdp._echo(dataset)));
  END;
  PERFORM sdp._audit('dp.register', dataset,
    pg_catalog.jsonb_build_object('relation', relation::text, 'privacy_unit', privacy_unit,
                                  'max_rows_per_unit', max_rows_per_unit,
                                  'epsilon_cap', epsilon_cap, 'delta_cap', delta_cap));
  d.bounding_key := NULL;  -- never shown
  RETURN d;
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_register(text, regclass, text, integer, numeric, numeric, integer, text) IS
  'admin: opens a table or view to differentially private queries (privacy unit, rows per unit, ε/δ caps)';

-- The union of a client's processed batches of one processing type as one dataset: a view with
-- the batch header's columns (numeric where column_types says so), score and risk_band, the
-- batch's key column as the privacy unit.
CREATE FUNCTION sdp.sdp_dp_register_batches(dataset text, client_id text, processing_type text,
                                            max_rows_per_unit integer, epsilon_cap numeric,
                                            delta_cap numeric DEFAULT 0.000001,
                                            column_types jsonb DEFAULT NULL)
RETURNS sdp.dp_dataset
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_columns text[];
  v_key text;
  v_select text := '';
  v_view text;
  i integer;
  v_type text;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_register', dataset);
  IF dataset IS NULL OR dataset !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('dataset name %s: lowercase letters, digits and _, 48 at most', sdp._echo(dataset));
  END IF;
  SELECT b.columns, b.key_column INTO v_columns, v_key FROM sdp.processing_batch b
   WHERE b.client_id OPERATOR(pg_catalog.=) sdp_dp_register_batches.client_id
     AND b.processing_type OPERATOR(pg_catalog.=) sdp_dp_register_batches.processing_type
     AND b.status OPERATOR(pg_catalog.=) 'PROCESSED'::sdp.batch_state AND NOT b.dev_only
   ORDER BY b.processed_at DESC LIMIT 1;
  IF v_columns IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('client %s has no processed %s batch', sdp._echo(client_id), sdp._echo(processing_type));
  END IF;
  IF column_types IS NOT NULL AND (pg_catalog.jsonb_typeof(column_types) <> 'object'
     OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each_text(column_types) e
                 WHERE e.value NOT IN ('numeric', 'text') OR NOT (e.key OPERATOR(pg_catalog.=) ANY (v_columns)))) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'column_types maps header columns to "numeric" or "text"';
  END IF;
  FOR i IN 1 .. pg_catalog.array_length(v_columns, 1) LOOP
    CONTINUE WHEN v_columns[i] IN (v_key, 'score', 'risk_band', 'dp_row_id');
    v_type := coalesce(column_types ->> v_columns[i], 'text');
    v_select := v_select || CASE WHEN v_type = 'numeric' THEN
        format(', CASE WHEN t.fields[%s] OPERATOR(pg_catalog.~) %L THEN t.fields[%s]::pg_catalog.numeric END AS %I',
               i, '^\s*-?[0-9]+(\.[0-9]+)?\s*$', i, v_columns[i])
      ELSE format(', t.fields[%s] AS %I', i, v_columns[i]) END;
  END LOOP;
  v_view := 'dp_batches_' || dataset;
  EXECUTE format(
    'CREATE VIEW sdp.%I AS SELECT r.record_key AS %I%s, r.score, r.risk_band, '
    'pg_catalog.hashtextextended(r.batch_id::text, r.row_no) AS dp_row_id '
    'FROM sdp.processed_result r JOIN sdp.tokenized_record t '
    'ON t.batch_id OPERATOR(pg_catalog.=) r.batch_id AND t.row_no OPERATOR(pg_catalog.=) r.row_no '
    'JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) r.batch_id '
    'WHERE b.client_id OPERATOR(pg_catalog.=) %L AND b.processing_type OPERATOR(pg_catalog.=) %L '
    'AND b.status OPERATOR(pg_catalog.=) ''PROCESSED''::sdp.batch_state AND NOT b.dev_only '
    'AND b.columns OPERATOR(pg_catalog.=) %L::text[]',
    v_view, v_key, v_select, client_id, processing_type, v_columns);
  EXECUTE format('REVOKE ALL ON sdp.%I FROM PUBLIC', v_view);
  RETURN sdp.sdp_dp_register(dataset, pg_catalog.format('sdp.%I', v_view)::regclass, v_key,
                             max_rows_per_unit, epsilon_cap, delta_cap, 2, 'dp_row_id');
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_register_batches(text, text, text, integer, numeric, numeric, jsonb) IS
  'admin: registers a client''s processed batches of one type (header columns, score, risk_band) as a dataset';

-- Sets the budget of a grantee on a dataset (the total, not an increment); never below what it
-- has spent.
CREATE FUNCTION sdp.sdp_dp_grant(grantee name, dataset text, epsilon numeric, delta numeric DEFAULT 0)
RETURNS sdp.dp_grant
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  g sdp.dp_grant;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_grant', dataset);
  PERFORM sdp._dp_dataset_row(dataset);
  IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) grantee) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown role %s', sdp._echo(grantee));
  END IF;
  PERFORM sdp._dp_check_parameter('epsilon', epsilon);
  IF delta IS NULL OR delta <> 0 THEN
    PERFORM sdp._dp_check_parameter('delta', delta);
    IF delta >= 1 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'delta must be below 1';
    END IF;
  END IF;
  BEGIN
    INSERT INTO sdp.dp_grant AS x (grantee, dataset, epsilon, delta)
    VALUES (sdp_dp_grant.grantee, sdp_dp_grant.dataset, sdp_dp_grant.epsilon, sdp_dp_grant.delta)
    ON CONFLICT ON CONSTRAINT dp_grant_pkey DO UPDATE SET epsilon = excluded.epsilon, delta = excluded.delta
    RETURNING * INTO g;
  EXCEPTION
    WHEN check_violation THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('%s has already spent more than that on %s', sdp._echo(grantee), sdp._echo(dataset));
    WHEN serialization_failure OR deadlock_detected THEN
      PERFORM sdp._raise_conflict();
  END;
  PERFORM sdp._audit('dp.grant', dataset,
    pg_catalog.jsonb_build_object('grantee', grantee, 'epsilon', epsilon, 'delta', delta));
  RETURN g;
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_grant(name, text, numeric, numeric) IS
  'admin: sets the ε/δ budget of a role (login or group) on a dataset';

CREATE FUNCTION sdp.sdp_dp_public_values(dataset text, column_name text, "values" text[])
RETURNS sdp.dp_public_values
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  p sdp.dp_public_values;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_public_values', dataset);
  d := sdp._dp_dataset_row(dataset);
  PERFORM sdp._dp_column_type(d.relation, dataset, column_name, false);
  IF "values" IS NULL OR pg_catalog.cardinality("values") NOT BETWEEN 1 AND 10000
     OR pg_catalog.array_position("values", NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'values: 1 to 10000 non-NULL texts';
  END IF;
  INSERT INTO sdp.dp_public_values AS x (dataset, column_name, "values")
  VALUES (sdp_dp_public_values.dataset, sdp_dp_public_values.column_name,
          ARRAY(SELECT DISTINCT v FROM pg_catalog.unnest(sdp_dp_public_values."values") v ORDER BY v))
  ON CONFLICT ON CONSTRAINT dp_public_values_pkey DO UPDATE SET "values" = excluded."values"
  RETURNING * INTO p;
  PERFORM sdp._audit('dp.public_values', dataset,
    pg_catalog.jsonb_build_object('column', column_name, 'values', pg_catalog.cardinality(p."values")));
  RETURN p;
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_public_values(text, text, text[]) IS
  'admin: declares the public values of a column (groups released without threshold or δ)';

-- The caller draws from a grant of its own role or of a role it is a member of (a superuser only
-- from its own: pg_has_role says yes to everything for one). The caller is named, not taken from
-- the session: the charge runs in a background worker's session (privacy_charge.cc).
CREATE FUNCTION sdp._dp_draws_from(p_grantee text, p_caller text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p_grantee OPERATOR(pg_catalog.=) p_caller
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r, pg_catalog.pg_roles c
                  WHERE r.rolname OPERATOR(pg_catalog.=) p_grantee
                    AND c.rolname OPERATOR(pg_catalog.=) p_caller
                    AND NOT c.rolsuper
                    AND pg_catalog.pg_has_role(c.oid, r.oid, 'MEMBER'))
$$;
CREATE FUNCTION sdp._dp_draws_from(p_grantee text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._dp_draws_from(p_grantee, sdp.sdp_caller_role()::text) $$;

-- What the caller has spent and has left, per grant it draws from (its own and its groups').
CREATE FUNCTION sdp.sdp_dp_budget(dataset text DEFAULT NULL)
RETURNS TABLE(dataset_name text, grantee text, epsilon numeric, epsilon_spent numeric,
              epsilon_left numeric, delta numeric, delta_spent numeric, delta_left numeric)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT g.dataset, g.grantee, g.epsilon, g.epsilon_spent,
         g.epsilon OPERATOR(pg_catalog.-) g.epsilon_spent, g.delta, g.delta_spent,
         g.delta OPERATOR(pg_catalog.-) g.delta_spent
    FROM sdp.dp_grant g
   WHERE (sdp_dp_budget.dataset IS NULL OR g.dataset OPERATOR(pg_catalog.=) sdp_dp_budget.dataset)
     AND sdp._dp_draws_from(g.grantee)
   ORDER BY g.dataset, g.grantee
$$;

COMMENT ON FUNCTION sdp.sdp_dp_budget(text) IS
  'the ε/δ the caller may still spend, per grant it draws from (its own role and its groups)';

-- Every query: validate; check the budgets without locking them (a refusal before any work);
-- scan and release into local arrays; charge in a committed transaction of its own
-- (sdp._dp_charge_committed); then return the kept rows. Nothing is returned before the charge is
-- committed, and nothing the caller's transaction does afterwards can undo it.
CREATE FUNCTION sdp._dp_run(p_kind text, p_dataset text, p_column text, p_lower numeric,
                            p_upper numeric, p_epsilon numeric, p_delta numeric,
                            p_group_by text, p_filter jsonb, p_edges numeric[],
                            p_quantiles numeric[])
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  v_caller text := sdp.sdp_caller_role();
  v_public text[];
  v_delta numeric := 0;
  v_where text;
  v_value text := 'NULL::pg_catalog.float8';
  v_group text := 'NULL::pg_catalog.text';
  v_notnull text := '';
  v_rowid text;
  v_lo bigint := 0;
  v_hi bigint := 0;
  v_bins integer := 0;
  v_qnums bigint[];
  v_release_kind text := p_kind;
  v_charged text[];
  v_params jsonb;
  r record;
  n integer;
  v_keys text[] := '{}';
  v_values numeric[] := '{}';
  v_lows numeric[] := '{}';
  v_highs numeric[] := '{}';
BEGIN
  -- ---- validation (22023) ----
  PERFORM sdp._dp_check_parameter('epsilon', p_epsilon);
  d := sdp._dp_dataset_row(p_dataset);
  IF p_kind IN ('sum', 'avg', 'quantiles', 'histogram') THEN
    PERFORM sdp._dp_column_type(d.relation, p_dataset, p_column, true);
    v_notnull := format(' AND t.%I IS NOT NULL', p_column);
  END IF;
  IF p_kind IN ('sum', 'avg', 'quantiles') THEN
    IF p_lower IS NULL OR p_upper IS NULL OR p_lower = 'NaN'::numeric OR p_upper = 'NaN'::numeric
       OR p_lower < -1e12 OR p_upper > 1e12 OR p_lower >= p_upper THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = 'lower and upper must be finite, lower < upper, within ±10^12';
    END IF;
    v_lo := pg_catalog.ceil(p_lower OPERATOR(pg_catalog.*) (10::numeric OPERATOR(pg_catalog.^) d.sum_scale))::bigint;
    v_hi := pg_catalog.floor(p_upper OPERATOR(pg_catalog.*) (10::numeric OPERATOR(pg_catalog.^) d.sum_scale))::bigint;
    IF v_lo >= v_hi OR GREATEST(pg_catalog.abs(v_lo), pg_catalog.abs(v_hi))::numeric
                       OPERATOR(pg_catalog.*) d.max_rows_per_unit > 1e18 THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('[lower, upper] is too narrow or too wide for the dataset''s granularity 10^-%s and %s rows per unit',
                         d.sum_scale, d.max_rows_per_unit);
    END IF;
  END IF;
  IF p_kind IN ('sum', 'avg') THEN
    -- The column as it is (one of the six numeric types _dp_column_type allows): the tally
    -- converts integers and numeric to fixed point exactly, without a float in between.
    v_value := format('t.%I', p_column);
  END IF;
  IF p_group_by IS NOT NULL THEN
    PERFORM sdp._dp_column_type(d.relation, p_dataset, p_group_by, false);
    v_group := format('t.%I::pg_catalog.text', p_group_by);
    SELECT pv."values" INTO v_public FROM sdp.dp_public_values pv
     WHERE pv.dataset OPERATOR(pg_catalog.=) p_dataset AND pv.column_name OPERATOR(pg_catalog.=) p_group_by;
    IF v_public IS NULL THEN
      PERFORM sdp._dp_check_parameter('delta', p_delta);
      v_delta := p_delta;
    END IF;
  END IF;
  IF p_kind = 'histogram' THEN
    n := pg_catalog.cardinality(p_edges);
    IF n IS NULL OR n < 2 OR n > 1001 OR pg_catalog.array_position(p_edges, NULL) IS NOT NULL
       OR 'NaN'::numeric OPERATOR(pg_catalog.=) ANY (p_edges)
       OR EXISTS (SELECT 1 FROM pg_catalog.generate_subscripts(p_edges, 1) i
                   WHERE i > 1 AND p_edges[i] <= p_edges[i - 1]) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = 'edges: 2 to 1001 finite numbers in increasing order';
    END IF;
    v_group := format('pg_catalog.width_bucket(t.%I::pg_catalog.numeric, %L::pg_catalog.numeric[])::pg_catalog.text',
                      p_column, p_edges);
    v_public := ARRAY(SELECT i::text FROM pg_catalog.generate_series(1, n - 1) i);
    v_release_kind := 'count';
  END IF;
  IF p_kind = 'quantiles' THEN
    n := pg_catalog.cardinality(p_quantiles);
    IF n IS NULL OR n < 1 OR n > 100 OR pg_catalog.array_position(p_quantiles, NULL) IS NOT NULL
       OR EXISTS (SELECT 1 FROM pg_catalog.unnest(p_quantiles) q WHERE NOT (q >= 0 AND q <= 1)) THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'quantiles: 1 to 100 levels from 0 to 1';
    END IF;
    v_bins := 1000;
    v_qnums := ARRAY(SELECT pg_catalog.round(q OPERATOR(pg_catalog.*) 1000000000)::bigint
                       FROM pg_catalog.unnest(p_quantiles) WITH ORDINALITY u(q, o) ORDER BY o);
    v_group := format('LEAST(GREATEST(pg_catalog.floor((t.%1$I::pg_catalog.numeric OPERATOR(pg_catalog.-) %2$L::pg_catalog.numeric) '
                      'OPERATOR(pg_catalog.*) %4$s OPERATOR(pg_catalog./) (%3$L::pg_catalog.numeric OPERATOR(pg_catalog.-) %2$L::pg_catalog.numeric)), 0), %5$s)::pg_catalog.int4::pg_catalog.text',
                      p_column, p_lower, p_upper, v_bins, v_bins - 1);
  END IF;
  v_where := sdp._dp_filter_sql(d.relation, p_dataset, p_filter);
  v_rowid := CASE WHEN d.row_identity IS NULL THEN 't.ctid' ELSE format('t.%I', d.row_identity) END;

  v_params := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'column', p_column, 'lower', p_lower, 'upper', p_upper, 'group_by', p_group_by,
    'filter', p_filter, 'edges', p_edges, 'quantiles', p_quantiles));

  -- ---- unlocked check: refuse before the scan; sdp._dp_charge checks again under lock ----
  PERFORM sdp._dp_check_budgets(p_dataset, v_caller, p_epsilon, v_delta);

  -- ---- one scan, bounded tally, noisy release (privacy.cc) ----
  FOR r IN EXECUTE format(
      'SELECT x.group_key, x.value, x.ci_low, x.ci_high FROM '
      '(SELECT sdp._dp_tally(t.%I::pg_catalog.text, %s, %s, %s, $1, $2, $3, $4, $5) AS s '
      '   FROM %s t WHERE %s%s) a, '
      'sdp._dp_release(a.s, $6, $7, $8, $2, $3, $4, $5, $9, $10, $11) x',
      d.privacy_unit, v_rowid, v_group, v_value, d.relation, v_where, v_notnull)
    USING d.bounding_key, d.max_rows_per_unit, v_lo, v_hi, d.sum_scale::integer,
          v_release_kind, p_epsilon::text,
          CASE WHEN v_delta > 0 THEN v_delta::text END,
          v_public, v_qnums, v_bins
  LOOP
    group_key := r.group_key;
    value := r.value;
    IF p_kind = 'histogram' THEN
      group_key := format('[%s, %s)', p_edges[r.group_key::integer], p_edges[r.group_key::integer + 1]);
    ELSIF p_kind = 'quantiles' THEN
      -- The release gives candidate indexes: the point and its interval's ends, mapped onto
      -- [lower, upper] (candidate k is lower + k (upper - lower) / bins).
      group_key := p_quantiles[r.group_key::integer + 1]::text;
      value := pg_catalog.trim_scale(p_lower OPERATOR(pg_catalog.+) (p_upper OPERATOR(pg_catalog.-) p_lower)
               OPERATOR(pg_catalog.*) r.value OPERATOR(pg_catalog./) v_bins);
      r.ci_low := pg_catalog.trim_scale(p_lower OPERATOR(pg_catalog.+) (p_upper OPERATOR(pg_catalog.-) p_lower)
                  OPERATOR(pg_catalog.*) r.ci_low OPERATOR(pg_catalog./) v_bins);
      r.ci_high := pg_catalog.trim_scale(p_lower OPERATOR(pg_catalog.+) (p_upper OPERATOR(pg_catalog.-) p_lower)
                   OPERATOR(pg_catalog.*) r.ci_high OPERATOR(pg_catalog./) v_bins);
    END IF;
    v_keys := v_keys OPERATOR(pg_catalog.||) group_key;
    v_values := v_values OPERATOR(pg_catalog.||) value;
    v_lows := v_lows OPERATOR(pg_catalog.||) r.ci_low;
    v_highs := v_highs OPERATOR(pg_catalog.||) r.ci_high;
  END LOOP;

  -- ---- the charge, committed by a background worker before any row is returned ----
  v_charged := sdp._dp_charge_committed(p_dataset, v_caller, pg_catalog.session_user(),
                                        sdp.sdp_auth_tenant(), p_kind, p_epsilon, v_delta, v_params);

  FOR n IN 1 .. pg_catalog.cardinality(v_keys) LOOP
    group_key := v_keys[n];
    value := v_values[n];
    ci_low := v_lows[n];
    ci_high := v_highs[n];
    epsilon_charged := p_epsilon;
    delta_charged := v_delta;
    RETURN NEXT;
  END LOOP;
  PERFORM sdp._dp_count_query('released');
END
$$;

-- The budgets a release of (epsilon, delta) by p_caller is charged to: every grant on the
-- dataset the caller draws from, and the dataset cap. PT403 naming what is left when one of them
-- would go over, or when the caller draws from no grant. Returns the grantees charged. Reads
-- without locking: sdp._dp_charge locks the rows first.
CREATE FUNCTION sdp._dp_check_budgets(p_dataset text, p_caller text, p_epsilon numeric,
                                      p_delta numeric) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  g sdp.dp_grant;
  v_charged text[] := '{}';
BEGIN
  FOR g IN SELECT x.* FROM sdp.dp_grant x
            WHERE x.dataset OPERATOR(pg_catalog.=) p_dataset AND sdp._dp_draws_from(x.grantee, p_caller)
            ORDER BY x.grantee LOOP
    IF g.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon > g.epsilon
       OR g.delta_spent OPERATOR(pg_catalog.+) p_delta > g.delta THEN
      PERFORM sdp._dp_refused(p_dataset, format('the grant of %s', g.grantee),
                              g.epsilon OPERATOR(pg_catalog.-) g.epsilon_spent,
                              g.delta OPERATOR(pg_catalog.-) g.delta_spent, p_epsilon, p_delta);
    END IF;
    v_charged := v_charged OPERATOR(pg_catalog.||) g.grantee;
  END LOOP;
  IF pg_catalog.cardinality(v_charged) = 0 THEN
    PERFORM sdp._dp_count_query('refused');
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = format('no privacy budget on dataset %s for role %s', sdp._echo(p_dataset), sdp._echo(p_caller)),
      HINT = 'an admin grants it with sdp_dp_grant(role, dataset, epsilon, delta)';
  END IF;
  SELECT * INTO d FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) p_dataset;
  IF d.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon > d.epsilon_cap
     OR d.delta_spent OPERATOR(pg_catalog.+) p_delta > d.delta_cap THEN
    PERFORM sdp._dp_refused(p_dataset, 'the dataset cap',
                            d.epsilon_cap OPERATOR(pg_catalog.-) d.epsilon_spent,
                            d.delta_cap OPERATOR(pg_catalog.-) d.delta_spent, p_epsilon, p_delta);
  END IF;
  RETURN v_charged;
END
$$;

-- The charge of one release: lock the grants the caller draws from (ordered by grantee) and then
-- the dataset row, check every budget, charge them, write the ledger row and the audit entry.
-- Run by sdp._dp_charge_committed in a background worker's own transaction, so the caller is
-- named rather than taken from the session. One lock order for every charge, so two never
-- deadlock; a lock held elsewhere for over lock_timeout (an admin's open transaction, or the
-- caller's own: it waits for this worker and cannot let go) is PT409, never 40001 or a hang.
CREATE FUNCTION sdp._dp_charge(p_dataset text, p_caller text, p_login text, p_client text,
                               p_kind text, p_epsilon numeric, p_delta numeric, p_params jsonb)
RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
DECLARE
  v_charged text[];
BEGIN
  BEGIN
    PERFORM 1 FROM sdp.dp_grant x
      WHERE x.dataset OPERATOR(pg_catalog.=) p_dataset AND sdp._dp_draws_from(x.grantee, p_caller)
      ORDER BY x.grantee FOR UPDATE;
    PERFORM 1 FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) p_dataset FOR UPDATE;
    v_charged := sdp._dp_check_budgets(p_dataset, p_caller, p_epsilon, p_delta);
    UPDATE sdp.dp_grant x SET epsilon_spent = x.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon,
                              delta_spent = x.delta_spent OPERATOR(pg_catalog.+) p_delta
     WHERE x.dataset OPERATOR(pg_catalog.=) p_dataset AND x.grantee OPERATOR(pg_catalog.=) ANY (v_charged);
    UPDATE sdp.dp_dataset x SET epsilon_spent = x.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon,
                                delta_spent = x.delta_spent OPERATOR(pg_catalog.+) p_delta
     WHERE x.name OPERATOR(pg_catalog.=) p_dataset;
    INSERT INTO sdp.dp_ledger (actor, login, dataset, kind, parameters, epsilon, delta, charged_to)
    VALUES (p_caller, p_login, p_dataset, p_kind, p_params, p_epsilon, p_delta, v_charged);
    PERFORM sdp._audit_as(p_caller, p_login, p_client, 'dp.release', p_dataset,
      pg_catalog.jsonb_build_object('kind', p_kind, 'epsilon', p_epsilon, 'delta', p_delta,
                                    'charged_to', v_charged) OPERATOR(pg_catalog.||) p_params);
  EXCEPTION WHEN serialization_failure OR deadlock_detected OR lock_not_available THEN
    PERFORM sdp._raise_conflict('the privacy budget was charged concurrently or is locked; retry the request');
  END;
  RETURN v_charged;
END
$$;

-- sdp._dp_charge run and committed in a background worker (privacy_charge.cc); the caller waits
-- for it. Its error (PT403, PT409, ...) is re-raised with the same SQLSTATE and message.
CREATE FUNCTION sdp._dp_charge_committed(p_dataset text, p_caller text, p_login text, p_client text,
                                         p_kind text, p_epsilon numeric, p_delta numeric,
                                         p_params jsonb) RETURNS text[]
  AS 'MODULE_PATHNAME', 'sdp_dp_charge_committed' LANGUAGE C VOLATILE CALLED ON NULL INPUT
  SET search_path = pg_catalog, pg_temp;

-- PT403 with what is left: the budget named `who` has left_eps / left_delta, the query needs more.
CREATE FUNCTION sdp._dp_refused(p_dataset text, p_who text, p_left_eps numeric, p_left_delta numeric,
                                p_eps numeric, p_delta numeric) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._dp_count_query('refused');
  RAISE EXCEPTION USING ERRCODE = 'PT403',
    MESSAGE = format('privacy budget exceeded on dataset %s: %s has epsilon %s and delta %s left, the query needs epsilon %s and delta %s',
                     sdp._echo(p_dataset), sdp._echo(p_who), pg_catalog.trim_scale(p_left_eps),
                     pg_catalog.trim_scale(p_left_delta), pg_catalog.trim_scale(p_eps),
                     pg_catalog.trim_scale(p_delta)),
    HINT = 'ask an admin for more budget (sdp_dp_grant) or spend less epsilon';
END
$$;

-- Counted in sdp_dp_queries_total{outcome} (metrics.cc): now, whatever the transaction does (a
-- refusal is followed by an error that rolls it back). 'failed' is counted by the charge itself
-- (privacy_charge.cc) when the background worker does not commit.
CREATE FUNCTION sdp._dp_count_query(outcome text) RETURNS void
  AS 'MODULE_PATHNAME', 'sdp_metrics_dp_query' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;

-- The per-dataset gauges of sdp_metrics() (metrics.cc appends them at scrape time), in the
-- Prometheus text format: epsilon spent and the epsilon cap of each dataset, so an alert can
-- compare the two (docker/prometheus/rules.yml). Label values escaped as the format requires
-- (backslash, double quote, newline), although dataset names cannot hold them today. Nothing
-- when no dataset is registered. SECURITY DEFINER: the monitoring roles do not read dp_dataset.
CREATE FUNCTION sdp._metrics_dp_datasets() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 THEN pg_catalog.concat(
           E'# HELP sdp_dp_epsilon_spent Epsilon charged to the dataset so far (sdp.dp_dataset).\n',
           E'# TYPE sdp_dp_epsilon_spent gauge\n',
           pg_catalog.string_agg(pg_catalog.format(E'sdp_dp_epsilon_spent{dataset="%s"} %s\n',
                                                   d.label, d.spent), '' ORDER BY d.name),
           E'# HELP sdp_dp_epsilon_cap Epsilon cap of the dataset (sdp.dp_dataset).\n',
           E'# TYPE sdp_dp_epsilon_cap gauge\n',
           pg_catalog.string_agg(pg_catalog.format(E'sdp_dp_epsilon_cap{dataset="%s"} %s\n',
                                                   d.label, d.cap), '' ORDER BY d.name))
         ELSE '' END
    FROM (SELECT x.name,
                 pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(x.name, E'\\', E'\\\\'),
                                                       '"', E'\\"'), E'\n', E'\\n') AS label,
                 pg_catalog.trim_scale(x.epsilon_spent)::text AS spent,
                 pg_catalog.trim_scale(x.epsilon_cap)::text AS cap
            FROM sdp.dp_dataset x) d
$$;
COMMENT ON FUNCTION sdp._metrics_dp_datasets() IS
  'internal: sdp_dp_epsilon_spent and sdp_dp_epsilon_cap per dataset, for sdp_metrics()';

-- ---- the public query functions ------------------------------------------------------------
CREATE FUNCTION sdp.sdp_dp_count(dataset text, epsilon numeric, group_by text DEFAULT NULL,
                                 filter jsonb DEFAULT NULL, delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('count', dataset, NULL, NULL, NULL, epsilon, delta, group_by, filter, NULL, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_count(text, numeric, text, jsonb, numeric) IS
  'differentially private row count (per group) with its 95% interval; charges epsilon (and delta for data groups)';

CREATE FUNCTION sdp.sdp_dp_sum(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('sum', dataset, "column", lower, upper, epsilon, delta, group_by, filter, NULL, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric) IS
  'differentially private sum of a column clamped to [lower, upper] (per group) with its 95% interval';

CREATE FUNCTION sdp.sdp_dp_avg(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('avg', dataset, "column", lower, upper, epsilon, delta, group_by, filter, NULL, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric) IS
  'differentially private mean (noisy sum / noisy count, epsilon split in half) with a conservative 95% interval';

CREATE FUNCTION sdp.sdp_dp_histogram(dataset text, "column" text, edges numeric[], epsilon numeric,
                                     filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('histogram', dataset, "column", NULL, NULL, epsilon, NULL, NULL, filter, edges, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_histogram(text, text, numeric[], numeric, jsonb) IS
  'differentially private counts over the bins [edges[i], edges[i+1]) with their 95% intervals';

CREATE FUNCTION sdp.sdp_dp_quantiles(dataset text, "column" text, lower numeric, upper numeric,
                                     quantiles numeric[], epsilon numeric, filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('quantiles', dataset, "column", lower, upper, epsilon, NULL, NULL, filter, NULL, quantiles) $$;
COMMENT ON FUNCTION sdp.sdp_dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb) IS
  'differentially private quantiles over 1000 bins of [lower, upper] (permute-and-flip, epsilon split across levels)';

-- ---- PostgREST (sdp_api, docs/postgrest.md): thin SECURITY INVOKER wrappers, VOLATILE (they
-- charge the budget, so a POST). pre_request admits API-key clients only; an analyst reaches
-- these through a deployment that sets its role, or through SQL.
CREATE FUNCTION sdp_api.dp_count(dataset text, epsilon numeric, group_by text DEFAULT NULL,
                                 filter jsonb DEFAULT NULL, delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_count(dataset, epsilon, group_by, filter, delta) $$;
CREATE FUNCTION sdp_api.dp_sum(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_sum(dataset, "column", lower, upper, epsilon, group_by, filter, delta) $$;
CREATE FUNCTION sdp_api.dp_avg(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_avg(dataset, "column", lower, upper, epsilon, group_by, filter, delta) $$;
CREATE FUNCTION sdp_api.dp_histogram(dataset text, "column" text, edges numeric[], epsilon numeric,
                                     filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_histogram(dataset, "column", edges, epsilon, filter) $$;
CREATE FUNCTION sdp_api.dp_quantiles(dataset text, "column" text, lower numeric, upper numeric,
                                     quantiles numeric[], epsilon numeric, filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_quantiles(dataset, "column", lower, upper, quantiles, epsilon, filter) $$;
CREATE FUNCTION sdp_api.dp_budget(dataset text DEFAULT NULL)
RETURNS TABLE(dataset_name text, grantee text, epsilon numeric, epsilon_spent numeric,
              epsilon_left numeric, delta numeric, delta_spent numeric, delta_left numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_budget(dataset) $$;

SELECT pg_catalog.pg_extension_config_dump('sdp.dp_dataset', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.dp_grant', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.dp_public_values', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.dp_ledger', '');

-- Privileges (90_privileges.sql): owner-only first, then one line per role.
REVOKE ALL ON FUNCTION sdp._dp_tally_step(internal, text, bigint, text, anyelement, bytea, integer, bigint, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_tally_step(internal, text, tid, text, anyelement, bytea, integer, bigint, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_tally_final(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_tally(text, bigint, text, anyelement, bytea, integer, bigint, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_tally(text, tid, text, anyelement, bytea, integer, bigint, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_release(bytea, text, text, text, integer, bigint, bigint, integer, text[], bigint[], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_check_parameter(text, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_dataset_row(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_column_type(regclass, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_filter_sql(regclass, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_register(text, regclass, text, integer, numeric, numeric, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_register_batches(text, text, text, integer, numeric, numeric, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_grant(name, text, numeric, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_public_values(text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_draws_from(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_draws_from(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_budget(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_run(text, text, text, numeric, numeric, numeric, numeric, text, jsonb, numeric[], numeric[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_check_budgets(text, text, numeric, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_charge(text, text, text, text, text, numeric, numeric, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_charge_committed(text, text, text, text, text, numeric, numeric, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_refused(text, text, numeric, numeric, numeric, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._dp_count_query(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp._metrics_dp_datasets() FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_count(text, numeric, text, jsonb, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_histogram(text, text, numeric[], numeric, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp.sdp_dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp_api.dp_count(text, numeric, text, jsonb, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp_api.dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp_api.dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp_api.dp_histogram(text, text, numeric[], numeric, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp_api.dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION sdp_api.dp_budget(text) FROM PUBLIC;
REVOKE ALL ON sdp.dp_dataset, sdp.dp_grant, sdp.dp_public_values, sdp.dp_ledger FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_dp_register(text, regclass, text, integer, numeric, numeric, integer, text),
    sdp.sdp_dp_register_batches(text, text, text, integer, numeric, numeric, jsonb),
    sdp.sdp_dp_grant(name, text, numeric, numeric), sdp.sdp_dp_public_values(text, text, text[]),
    sdp.sdp_dp_budget(text), sdp.sdp_dp_count(text, numeric, text, jsonb, numeric),
    sdp.sdp_dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_histogram(text, text, numeric[], numeric, jsonb),
    sdp.sdp_dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb)
  TO sdp_admin;
GRANT SELECT ON sdp.dp_grant, sdp.dp_public_values, sdp.dp_ledger TO sdp_admin;
GRANT SELECT (name, relation, privacy_unit, max_rows_per_unit, epsilon_cap, delta_cap, epsilon_spent,
              delta_spent, sum_scale, row_identity, created_at) ON sdp.dp_dataset
  TO sdp_admin;
GRANT SELECT ON sdp.dp_ledger TO sdp_auditor;
-- ---- sdp_dp_analyst: differentially private statistics, never a dataset row ---------------
-- The query functions charge the grants the caller draws from (80_privacy.sql); its own ledger
-- rows through row-level security. The tenant-context functions are what that policy calls.
GRANT USAGE ON SCHEMA sdp, sdp_api TO sdp_dp_analyst;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_dp_budget(text), sdp.sdp_dp_count(text, numeric, text, jsonb, numeric),
    sdp.sdp_dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_histogram(text, text, numeric[], numeric, jsonb),
    sdp.sdp_dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb),
    sdp_api.dp_budget(text), sdp_api.dp_count(text, numeric, text, jsonb, numeric),
    sdp_api.dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp_api.dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp_api.dp_histogram(text, text, numeric[], numeric, jsonb),
    sdp_api.dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb),
    sdp.sdp_caller_role(), sdp.sdp_caller_has_role(name)
  TO sdp_dp_analyst;
GRANT SELECT ON sdp.dp_ledger TO sdp_dp_analyst;

-- ==== observability of the privacy analytics (issue 18): the per-dataset gauges of sdp_metrics()
-- are read by its callers (90_privileges.sql).
GRANT EXECUTE ON FUNCTION sdp._metrics_dp_datasets() TO sdp_admin, pg_monitor;

-- ==== analysts over HTTP (issue 18): an analyst's PostgREST JWT reaches the dp_* functions.
-- pre_request admits a JWT role that an admin enabled (sdp_api_enable_analyst: GRANT role TO
-- sdp_authenticator) to the dp_* functions only, and refuses the dp_* paths to API keys
-- (60_api.sql, 80_privacy.sql).
CREATE OR REPLACE FUNCTION sdp_api.pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_path text := nullif(pg_catalog.current_setting('request.path', true), '');
BEGIN
  PERFORM sdp._metrics_request(v_path);  -- sdp_api_requests_total, counted when the request ends
  IF pg_catalog.current_user() OPERATOR(pg_catalog.<>) 'sdp_anon'::name THEN
    PERFORM sdp._api_admit_analyst(v_path);
    RETURN;
  END IF;
  IF v_path IN ('/rpc/health', '/rpc/readyz', '/rpc/metrics') THEN
    RETURN;
  END IF;
  IF v_path LIKE '/rpc/dp\_%' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT401',
      MESSAGE = 'the dp_* functions need an analyst''s JWT, not an API key',
      HINT = 'send Authorization: Bearer <JWT> whose role an admin enabled with sdp_api_enable_analyst';
  END IF;
  PERFORM sdp.sdp_authenticate(sdp.sdp_api_header('x-api-key'), sdp.sdp_api_header('x-client-id'));
  PERFORM pg_catalog.set_config('role', 'sdp_client', true);
END
$$;
COMMENT ON FUNCTION sdp_api.pre_request() IS
  'PostgREST db-pre-request: verifies X-API-Key (PT401) against X-Client-Id (PT403), sets the tenant, switches to sdp_client; admits an API-enabled analyst''s JWT role to the dp_* functions only';

-- Why `analyst` may not be reached over HTTP; NULL when it may. It must be a member of
-- sdp_dp_analyst and reach nothing that holds more: not SUPERUSER, CREATEROLE, CREATEDB,
-- REPLICATION or BYPASSRLS itself or through a role it is a member of, not a member of another
-- sdp role or of a predefined pg_* role, and not one of those roles itself.
CREATE FUNCTION sdp._api_analyst_refusal(analyst name) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_sdp name[] := ARRAY['sdp_authenticator', 'sdp_anon', 'sdp_client', 'sdp_admin', 'sdp_engineer',
                        'sdp_analyst', 'sdp_auditor', 'sdp_viewer', 'sdp_dp_analyst']::name[];
  r record;
  v_other name;
BEGIN
  SELECT x.oid, x.rolname, x.rolsuper OR x.rolcreaterole OR x.rolcreatedb OR x.rolreplication
                           OR x.rolbypassrls AS powerful
    INTO r FROM pg_catalog.pg_roles x WHERE x.rolname OPERATOR(pg_catalog.=) analyst;
  IF NOT FOUND THEN
    RETURN 'is not a role';
  END IF;
  IF r.rolname OPERATOR(pg_catalog.=) ANY (v_sdp) OR r.rolname OPERATOR(pg_catalog.~~) 'pg\_%' THEN
    RETURN 'is a role of sdp or of PostgreSQL, not an analyst''s own role';
  END IF;
  IF r.powerful THEN
    RETURN 'has SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS';
  END IF;
  IF NOT pg_catalog.pg_has_role(r.oid, 'sdp_dp_analyst', 'MEMBER') THEN
    RETURN 'is not a member of sdp_dp_analyst';
  END IF;
  SELECT g.rolname INTO v_other FROM pg_catalog.pg_roles g
   WHERE g.oid OPERATOR(pg_catalog.<>) r.oid
     AND g.rolname OPERATOR(pg_catalog.<>) 'sdp_dp_analyst'::name
     AND (g.rolname OPERATOR(pg_catalog.=) ANY (v_sdp) OR g.rolname OPERATOR(pg_catalog.~~) 'pg\_%'
          OR g.rolsuper OR g.rolcreaterole OR g.rolcreatedb OR g.rolreplication OR g.rolbypassrls)
     AND pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')
   ORDER BY g.rolname LIMIT 1;
  IF v_other IS NOT NULL THEN
    RETURN pg_catalog.format('is a member of %s, which holds more than sdp_dp_analyst', v_other);
  END IF;
  RETURN NULL;
END
$$;

-- The role was granted to sdp_authenticator directly (sdp_api_enable_analyst), not reached
-- through another membership.
CREATE FUNCTION sdp._api_analyst_enabled(analyst name) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                   JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) m.roleid
                   JOIN pg_catalog.pg_roles a ON a.oid OPERATOR(pg_catalog.=) m.member
                  WHERE r.rolname OPERATOR(pg_catalog.=) analyst
                    AND a.rolname OPERATOR(pg_catalog.=) 'sdp_authenticator'::name)
$$;

-- pre_request's check for a request PostgREST switched to a JWT's role (sdp_api.pre_request,
-- 60_api.sql): the role must have been enabled (granted to sdp_authenticator directly), must
-- still pass sdp._api_analyst_refusal, and may call the dp_* functions only. PT403 otherwise (HTTP
-- 403). SECURITY DEFINER so that the analyst needs no privilege on the helpers; the caller is
-- the role PostgREST set (sdp_caller_role).
CREATE FUNCTION sdp._api_admit_analyst(path text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_role name := sdp.sdp_caller_role();
  v_refusal text;
BEGIN
  IF NOT sdp._api_analyst_enabled(v_role) THEN
    v_refusal := 'is not enabled for the API';
  ELSE
    v_refusal := sdp._api_analyst_refusal(v_role);
  END IF;
  IF v_refusal IS NOT NULL THEN
    RAISE LOG 'sdp access denied: role=% login=% action=api target=%: it %', v_role,
      pg_catalog.session_user(), coalesce(path, '-'), v_refusal;
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = pg_catalog.format('role %s may not use the API: it %s', sdp._echo(v_role), v_refusal),
      HINT = 'an admin enables an analyst''s own role with sdp.sdp_api_enable_analyst(role)';
  END IF;
  IF path IS NULL OR path OPERATOR(pg_catalog.!~) '^/rpc/dp_[a-z_]+$' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = 'an analyst''s JWT opens the dp_* functions only',
      HINT = 'clients authenticate with X-API-Key, not with a JWT';
  END IF;
END
$$;

-- Enables an analyst's role for the API: GRANT analyst TO sdp_authenticator, after
-- sdp._api_analyst_refusal (22023 with the reason). Idempotent. Audited (api.enable_analyst).
CREATE FUNCTION sdp.sdp_api_enable_analyst(analyst name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_refusal text;
BEGIN
  PERFORM sdp._require_capability('admin', 'api_enable_analyst', analyst);
  v_refusal := sdp._api_analyst_refusal(analyst);
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = pg_catalog.format('role %s cannot be enabled for the API: it %s', sdp._echo(analyst), v_refusal),
      HINT = 'enable an analyst''s own role: a member of sdp_dp_analyst and of nothing that holds more';
  END IF;
  IF NOT sdp._api_analyst_enabled(analyst) THEN
    EXECUTE pg_catalog.format('GRANT %I TO sdp_authenticator', analyst);
  END IF;
  PERFORM sdp._audit('api.enable_analyst', analyst);
END
$$;
COMMENT ON FUNCTION sdp.sdp_api_enable_analyst(name) IS
  'admin: lets PostgREST switch to this analyst role for a JWT naming it (GRANT role TO sdp_authenticator), after checking it holds no more than sdp_dp_analyst';

-- The reverse: REVOKE analyst FROM sdp_authenticator (a no-op when not enabled). Audited.
CREATE FUNCTION sdp.sdp_api_disable_analyst(analyst name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'api_disable_analyst', analyst);
  IF analyst IS NULL OR analyst OPERATOR(pg_catalog.=) ANY (ARRAY['sdp_anon', 'sdp_client']::name[])
     OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) analyst) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = pg_catalog.format('%s is not an analyst role', sdp._echo(analyst));
  END IF;
  IF sdp._api_analyst_enabled(analyst) THEN
    EXECUTE pg_catalog.format('REVOKE %I FROM sdp_authenticator', analyst);
  END IF;
  PERFORM sdp._audit('api.disable_analyst', analyst);
END
$$;
COMMENT ON FUNCTION sdp.sdp_api_disable_analyst(name) IS
  'admin: PostgREST may no longer switch to this analyst role (REVOKE role FROM sdp_authenticator)';
REVOKE ALL ON FUNCTION sdp._api_analyst_refusal(name), sdp._api_analyst_enabled(name), sdp._api_admit_analyst(text),
    sdp.sdp_api_enable_analyst(name), sdp.sdp_api_disable_analyst(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_api_enable_analyst(name), sdp.sdp_api_disable_analyst(name) TO sdp_admin;
GRANT EXECUTE ON FUNCTION sdp_api.pre_request(), sdp._metrics_request(text), sdp._api_admit_analyst(text)
  TO sdp_dp_analyst;

-- ==== 90_privileges.sql: no USAGE on schema sdp for PUBLIC (every sdp role has its own), and
-- sdp_metrics_count for the owner only (sdp_admin could add to any counter; the functions that
-- count are SECURITY DEFINER).
REVOKE USAGE ON SCHEMA sdp FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION sdp.sdp_metrics_count(text, bigint) FROM sdp_admin;


-- ==== column classification and the PII firewall (issue 19, 82_firewall.sql): uploads take an
-- optional manifest, so the upload functions get a last parameter (DROP and CREATE, then their
-- grants and comments again); the loaders get the firewall argument under new C symbols
-- (sdp_load_csv_checked, sdp_load_json_checked; the 0.1.0 symbols stay in sdp.so).
DROP FUNCTION sdp._load_csv(uuid, text, text, text, bigint, text[], integer);
DROP FUNCTION sdp._load_json(uuid, text, jsonb, text);
DROP FUNCTION sdp.sdp_ingest_csv(text, text, text, text, text);
DROP FUNCTION sdp.sdp_ingest_json(text, text, jsonb, text, text);
DROP FUNCTION sdp.sdp_batch_open(text, text, text, text);
DROP FUNCTION sdp_api.process(jsonb, text, text, text, text);
DROP FUNCTION sdp_api.batch_open(text, text, text, text);

CREATE FUNCTION sdp._load_csv(batch_id uuid, client_id text, csv text, key_column text,
                              first_row_no bigint, columns text[], chunk_seq integer,
                              firewall text[])
  RETURNS sdp._load_result AS 'MODULE_PATHNAME', 'sdp_load_csv_checked' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp._load_csv(uuid, text, text, text, bigint, text[], integer, text[]) IS
  'internal: parse CSV (header when columns is NULL), check it with the PII firewall and bulk-insert tokenized_record rows';
CREATE FUNCTION sdp._load_json(batch_id uuid, client_id text, records jsonb, key_column text,
                               firewall text[])
  RETURNS sdp._load_result AS 'MODULE_PATHNAME', 'sdp_load_json_checked' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp._load_json(uuid, text, jsonb, text, text[]) IS
  'internal: check a JSON array of flat objects with the PII firewall and bulk-insert tokenized_record rows';
CREATE FUNCTION sdp.sdp_ingest_csv(client_id text, processing_type text, csv text,
                                   key_column text DEFAULT 'customer_id',
                                   idempotency_key text DEFAULT NULL, manifest jsonb DEFAULT NULL)
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
  PERFORM sdp._store_manifest(v_client, b.batch_id, sdp_ingest_csv.manifest);
  r := sdp._load_csv(b.batch_id, v_client, sdp_ingest_csv.csv, v_key_column, 1, NULL, NULL,
                     sdp._firewall_spec(v_client, b.batch_id));
  PERFORM sdp._classify_columns(v_client, b.batch_id, r.columns);
  UPDATE sdp.processing_batch p
     SET columns = r.columns, accepted_records = r.records, chunks = 1,
         received_bytes = v_bytes, status = 'RECEIVED',
         received_at = pg_catalog.now()
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN sdp._batch_out(b);
END
$$;
COMMENT ON FUNCTION sdp.sdp_ingest_csv(text, text, text, text, text, jsonb) IS
  'store a whole CSV (header required) as a RECEIVED batch, checked by the PII firewall against the manifest; idempotent under idempotency_key';
CREATE FUNCTION sdp.sdp_ingest_json(client_id text, processing_type text, records jsonb,
                                    key_column text DEFAULT 'customer_id',
                                    idempotency_key text DEFAULT NULL, manifest jsonb DEFAULT NULL)
RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_ingest_json.client_id;
  v_type text := sdp_ingest_json.processing_type;
  v_key_column text := coalesce(sdp_ingest_json.key_column, 'customer_id');
  v_key text := sdp_ingest_json.idempotency_key;
  v_records jsonb := sdp_ingest_json.records;
  v_text text;
  v_sha text;
  m sdp.model;
  b sdp.processing_batch;
  r sdp._load_result;
BEGIN
  PERFORM sdp._check_client(v_client);
  IF jsonb_typeof(v_records) = 'object' THEN
    v_records := v_records -> 'records';
  END IF;
  IF v_records IS NULL OR jsonb_typeof(v_records) <> 'array' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'records must be a JSON array of objects, or {"records": [...]}';
  END IF;
  IF jsonb_array_length(v_records) = 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'empty body: the records array is empty',
      HINT = 'send at least one record';
  END IF;
  v_text := v_records::text;
  PERFORM sdp._check_size(octet_length(v_text));
  m := sdp._require_model(v_type);
  v_sha := sdp._sha256_hex(v_text);  -- of the canonical jsonb text: key order does not matter
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
  PERFORM sdp._store_manifest(v_client, b.batch_id, sdp_ingest_json.manifest);
  r := sdp._load_json(b.batch_id, v_client, v_records, v_key_column,
                      sdp._firewall_spec(v_client, b.batch_id));
  PERFORM sdp._classify_columns(v_client, b.batch_id, r.columns);
  UPDATE sdp.processing_batch p
     SET columns = r.columns, accepted_records = r.records, chunks = 1,
         received_bytes = octet_length(v_text), status = 'RECEIVED', received_at = pg_catalog.now()
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN sdp._batch_out(b);
END
$$;
COMMENT ON FUNCTION sdp.sdp_ingest_json(text, text, jsonb, text, text, jsonb) IS
  'store a JSON array of flat objects (or {"records": [...]}) as a RECEIVED batch, checked by the PII firewall against the manifest';
CREATE FUNCTION sdp.sdp_batch_open(client_id text, processing_type text,
                                   key_column text DEFAULT 'customer_id',
                                   idempotency_key text DEFAULT NULL, manifest jsonb DEFAULT NULL)
RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_batch_open.client_id;
  v_type text := sdp_batch_open.processing_type;
  v_key_column text := coalesce(sdp_batch_open.key_column, 'customer_id');
  v_key text := sdp_batch_open.idempotency_key;
  m sdp.model;
  b sdp.processing_batch;
BEGIN
  PERFORM sdp._check_client(v_client);
  m := sdp._require_model(v_type);
  IF v_key IS NOT NULL THEN
    b := sdp._idempotent_batch(v_client, v_key);
    IF b.batch_id IS NOT NULL THEN
      RETURN sdp._replay(b, v_key, v_type, v_key_column, NULL);
    END IF;
  END IF;
  b := sdp._insert_batch(v_client, v_type, v_key_column, v_key, NULL, m.dev_only);
  IF b.batch_id IS NULL THEN
    RETURN sdp._replay(sdp._idempotent_batch(v_client, v_key), v_key, v_type, v_key_column, NULL);
  END IF;
  PERFORM sdp._store_manifest(v_client, b.batch_id, sdp_batch_open.manifest);
  RETURN sdp._batch_out(b);
END
$$;
COMMENT ON FUNCTION sdp.sdp_batch_open(text, text, text, text, jsonb) IS
  'start a chunked upload (status UPLOADING) whose chunks the PII firewall checks against the manifest; idempotent under idempotency_key';
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
    PERFORM sdp._raise_conflict(format('chunk %s was already stored with different content', v_seq),
      detail => format('stored SHA-256 %s, this one %s', c.chunk_sha256, v_sha),
      hint => 'resend the original chunk, or start a new batch');
  END IF;
  IF b.status <> 'UPLOADING' THEN
    PERFORM sdp._raise_conflict(format('batch %s is %s: no more chunks can be added', b.batch_id, b.status));
  END IF;
  IF v_seq <> b.chunks THEN
    PERFORM sdp._raise_conflict(format('expected chunk %s, got chunk %s', b.chunks, v_seq),
                                hint => 'send chunks in order, starting at 0');
  END IF;
  PERFORM sdp._check_size(b.received_bytes + v_bytes);
  r := sdp._load_csv(b.batch_id, b.client_id, sdp_batch_append.chunk, b.key_column,
                     b.accepted_records + 1, CASE WHEN v_seq = 0 THEN NULL ELSE b.columns END, v_seq,
                     sdp._firewall_spec(b.client_id, b.batch_id));
  IF v_seq = 0 THEN
    PERFORM sdp._classify_columns(b.client_id, b.batch_id, r.columns);
  END IF;
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
CREATE FUNCTION sdp_api.process(records jsonb, processing_type text, client_id text DEFAULT NULL,
                                key_column text DEFAULT 'customer_id', idempotency_key text DEFAULT NULL,
                                manifest jsonb DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp.sdp_api_upload_response(sdp.sdp_ingest_json(
    sdp.sdp_api_client(process.client_id), process.processing_type, process.records,
    coalesce(process.key_column, 'customer_id'),
    coalesce(process.idempotency_key, sdp.sdp_api_header('idempotency-key')),
    coalesce(process.manifest, sdp.sdp_api_header('x-sdp-manifest')::jsonb)));
END
$$;
COMMENT ON FUNCTION sdp_api.process(jsonb, text, text, text, text, jsonb) IS
  'POST JSON batch {records, processing_type[, client_id, key_column, idempotency_key, manifest]} → {batch_id, accepted_records, status}';
CREATE OR REPLACE FUNCTION sdp_api.process_file(text) RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_type text := lower(btrim(split_part(coalesce(sdp.sdp_api_header('content-type'), 'text/plain'), ';', 1)));
  v_processing text := sdp.sdp_api_header('x-processing-type');
BEGIN
  IF v_type <> 'text/plain' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT415',
      MESSAGE = 'process_file takes the CSV as the request body with Content-Type: text/plain';
  END IF;
  IF $1 IS NULL OR $1 = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'empty body: send the CSV (header row first)';
  END IF;
  IF v_processing IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the X-Processing-Type header is required',
      HINT = 'e.g. X-Processing-Type: risk_scoring';
  END IF;
  RETURN sdp.sdp_api_upload_response(sdp.sdp_ingest_csv(
    sdp.sdp_api_client(sdp.sdp_api_header('x-client-id')), v_processing, $1,
    coalesce(sdp.sdp_api_header('x-key-column'), 'customer_id'),
    sdp.sdp_api_header('idempotency-key'), sdp.sdp_api_header('x-sdp-manifest')::jsonb));
END
$$;
COMMENT ON FUNCTION sdp_api.process_file(text) IS
  'POST text/plain CSV; headers X-Client-Id, X-Processing-Type, X-Key-Column, Idempotency-Key, X-Sdp-Manifest → {batch_id, accepted_records, status}';
CREATE FUNCTION sdp_api.batch_open(processing_type text, key_column text DEFAULT 'customer_id',
                                   idempotency_key text DEFAULT NULL, client_id text DEFAULT NULL,
                                   manifest jsonb DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp.sdp_api_upload_response(sdp.sdp_batch_open(
    sdp.sdp_api_client(batch_open.client_id), batch_open.processing_type,
    coalesce(batch_open.key_column, 'customer_id'),
    coalesce(batch_open.idempotency_key, sdp.sdp_api_header('idempotency-key')),
    coalesce(batch_open.manifest, sdp.sdp_api_header('x-sdp-manifest')::jsonb)));
END
$$;
REVOKE ALL ON FUNCTION sdp._load_csv(uuid, text, text, text, bigint, text[], integer, text[]),
    sdp._load_json(uuid, text, jsonb, text, text[]),
    sdp.sdp_ingest_csv(text, text, text, text, text, jsonb), sdp.sdp_ingest_json(text, text, jsonb, text, text, jsonb),
    sdp.sdp_batch_open(text, text, text, text, jsonb),
    sdp_api.process(jsonb, text, text, text, text, jsonb), sdp_api.batch_open(text, text, text, text, jsonb)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    sdp_api.process(jsonb, text, text, text, text, jsonb), sdp_api.batch_open(text, text, text, text, jsonb)
  TO sdp_client;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_ingest_csv(text, text, text, text, text, jsonb), sdp.sdp_ingest_json(text, text, jsonb, text, text, jsonb),
    sdp.sdp_batch_open(text, text, text, text, jsonb)
  TO sdp_client, sdp_admin, sdp_engineer;

-- The tables, functions and view of 82_firewall.sql, as they are there.

CREATE TABLE sdp.column_classification (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client_id      text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  batch_id       uuid REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  dataset        text CHECK (pg_catalog.length(dataset) BETWEEN 1 AND 63),
  column_name    text NOT NULL CHECK (pg_catalog.length(column_name) BETWEEN 1 AND 256),
  transform      text NOT NULL
                 CHECK (transform IN ('CLEAR', 'HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1', 'MASKED')),
  class          text NOT NULL CHECK (class ~ '^[a-z][a-z0-9_]{0,62}$'),
  sensitivity    text NOT NULL
                 CHECK (sensitivity IN ('public', 'internal', 'confidential', 'restricted')),
  source         text NOT NULL CHECK (source IN ('scan', 'manual')),
  classified_by  text NOT NULL,  -- the calling role (sdp.sdp_caller_role())
  classified_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CHECK ((batch_id IS NULL) <> (dataset IS NULL))
);
COMMENT ON TABLE sdp.column_classification IS
  'class, sensitivity and transform of each column of a batch or dataset (no values)';
CREATE UNIQUE INDEX column_classification_batch ON sdp.column_classification (batch_id, column_name)
  WHERE batch_id IS NOT NULL;
CREATE UNIQUE INDEX column_classification_dataset
  ON sdp.column_classification (client_id, dataset, column_name) WHERE dataset IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('sdp.column_classification', '');

CREATE TABLE sdp.firewall_allow (
  client_id   text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  column_name text NOT NULL CHECK (pg_catalog.length(column_name) BETWEEN 1 AND 256),
  class       text NOT NULL CHECK (class IN ('email', 'payment_card', 'iban', 'us_ssn', 'phone',
                                             'token_shape', 'mask_shape')),
  allowed_by  text NOT NULL,
  allowed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (client_id, column_name, class)
);
COMMENT ON TABLE sdp.firewall_allow IS
  'columns of a client the PII firewall lets through for one class (sdp_firewall_allow)';
SELECT pg_catalog.pg_extension_config_dump('sdp.firewall_allow', '');

-- The sensitivity a class gets when the manifest or sdp_classify does not say. The names are
-- those of sdp-agent scan (src/agent/scan/pii_class.h) and a few generic ones.
CREATE FUNCTION sdp._class_sensitivity(class text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN class IN ('payment_card', 'iban', 'us_ssn', 'national_id', 'de_tax_id', 'fr_nir',
                   'nl_bsn', 'es_dni', 'it_codice_fiscale', 'pl_pesel') THEN 'restricted'
    WHEN class IN ('email', 'phone', 'person_name', 'postal_address', 'date_of_birth',
                   'ip_address', 'ipv4', 'ipv6', 'free_text', 'free_text_pii', 'identifier')
      THEN 'confidential'
    WHEN class IN ('not_pii', 'unclassified') THEN 'internal'
    ELSE 'confidential' END
$$;

-- The rows a manifest declares: 22023 naming the column for anything malformed.
CREATE FUNCTION sdp._manifest_entries(manifest jsonb)
RETURNS TABLE(column_name text, transform text, class text, sensitivity text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text;
  v jsonb;
  t text;
  c text;
  s text;
BEGIN
  IF manifest IS NULL OR manifest = 'null'::jsonb THEN
    RETURN;
  END IF;
  IF pg_catalog.jsonb_typeof(manifest) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'manifest must be a JSON object: {"column": {"transform": "HASH", "class": "email"}, ...}';
  END IF;
  FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(manifest) e ORDER BY e.key LOOP
    IF pg_catalog.length(k) NOT BETWEEN 1 AND 256 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'manifest: a column name has 1 to 256 characters';
    END IF;
    IF pg_catalog.jsonb_typeof(v) <> 'object' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" must map to an object {"transform", "class"}', sdp._echo(k));
    END IF;
    t := pg_catalog.upper(v ->> 'transform');
    IF t IS NULL OR t NOT IN ('CLEAR', 'HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1', 'MASKED') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has transform "%s"; expected HASH, RANDOM, FPE, FF1, FF3-1, MASKED or CLEAR',
                         sdp._echo(k), sdp._echo(coalesce(v ->> 'transform', '')));
    END IF;
    c := coalesce(v ->> 'class', CASE WHEN t = 'CLEAR' THEN 'unclassified' ELSE 'identifier' END);
    IF c !~ '^[a-z][a-z0-9_]{0,62}$' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has class "%s"; a class is lowercase letters, digits and _ (e.g. email)',
                         sdp._echo(k), sdp._echo(c));
    END IF;
    s := coalesce(v ->> 'sensitivity', sdp._class_sensitivity(c));
    IF s NOT IN ('public', 'internal', 'confidential', 'restricted') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has sensitivity "%s"; expected public, internal, confidential or restricted',
                         sdp._echo(k), sdp._echo(s));
    END IF;
    column_name := k;
    transform := t;
    class := c;
    sensitivity := s;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Stores the manifest of a new batch as its classification (source 'scan'), before any row is
-- loaded: the firewall reads the transforms from there (sdp._firewall_spec).
CREATE FUNCTION sdp._store_manifest(p_client text, p_batch uuid, p_manifest jsonb) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO sdp.column_classification (client_id, batch_id, column_name, transform, class,
                                         sensitivity, source, classified_by)
  SELECT p_client, p_batch, m.column_name, m.transform, m.class, m.sensitivity, 'scan',
         sdp.sdp_caller_role()
    FROM sdp._manifest_entries(p_manifest) m
$$;

-- Once the columns of a batch are known (whole upload, or chunk 0): every column the manifest
-- named must exist (22023), and the columns it did not name are recorded as CLEAR.
CREATE FUNCTION sdp._classify_columns(p_client text, p_batch uuid, p_columns text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_missing text;
BEGIN
  SELECT c.column_name INTO v_missing
    FROM sdp.column_classification c
   WHERE c.batch_id = p_batch AND NOT (c.column_name = ANY (p_columns))
   ORDER BY c.column_name LIMIT 1;
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('manifest names column "%s", which the upload does not have; available columns: %s',
                       sdp._echo(v_missing), sdp._echo(pg_catalog.array_to_string(p_columns, ', '))),
      HINT = 'the manifest describes the columns of this upload (header or JSON keys)';
  END IF;
  INSERT INTO sdp.column_classification (client_id, batch_id, column_name, transform, class,
                                         sensitivity, source, classified_by)
  SELECT p_client, p_batch, u.col, 'CLEAR', 'unclassified', 'internal', 'scan', sdp.sdp_caller_role()
    FROM pg_catalog.unnest(p_columns) AS u(col)
   WHERE NOT EXISTS (SELECT 1 FROM sdp.column_classification c
                      WHERE c.batch_id = p_batch AND c.column_name = u.col)
  ON CONFLICT DO NOTHING;
END
$$;

-- What the loaders check, flattened for C++: [column, transform, allowed classes (comma
-- separated)] for every column the batch declared or the client has an allowance for. A column
-- not listed is CLEAR with nothing allowed.
CREATE FUNCTION sdp._firewall_spec(p_client text, p_batch uuid) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(pg_catalog.array_agg(u.e ORDER BY s.column_name, u.i), '{}')
    FROM (SELECT column_name,
                 ARRAY[column_name, coalesce(d.transform, 'CLEAR'), coalesce(a.classes, '')] AS arr
            FROM (SELECT c.column_name, c.transform FROM sdp.column_classification c
                   WHERE c.batch_id = p_batch) d
            FULL JOIN (SELECT f.column_name, pg_catalog.string_agg(f.class, ',' ORDER BY f.class) AS classes
                         FROM sdp.firewall_allow f WHERE f.client_id = p_client
                        GROUP BY f.column_name) a USING (column_name)) s,
         pg_catalog.unnest(s.arr) WITH ORDINALITY AS u(e, i)
$$;

-- Called by the C++ loader on a refusal, in a background worker's own transaction (the caller's
-- is rolled back by the PT422 that follows): the audit entry names the client, batch, column,
-- row and class, never the value.
CREATE FUNCTION sdp._firewall_audit(p_actor text, p_login text, p_client text, p_batch text,
                                    p_column text, p_row bigint, p_class text, p_transform text)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sdp._audit_as(p_actor, p_login, p_client, 'firewall.refused', p_batch,
                       pg_catalog.jsonb_build_object('column', sdp._echo(p_column), 'row', p_row,
                                                     'class', p_class, 'transform', p_transform))
$$;

-- sdp_classify: an engineer (or admin) sets the class (and sensitivity) of a column of a batch or
-- of a dataset. Audited; returns the classification row's id.
CREATE FUNCTION sdp.sdp_classify(client_id text, column_name text, class text,
                                 sensitivity text DEFAULT NULL, batch_id uuid DEFAULT NULL,
                                 dataset text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text := sdp_classify.client_id;
  v_column text := sdp_classify.column_name;
  v_class text := sdp_classify.class;
  v_sens text := coalesce(sdp_classify.sensitivity, sdp._class_sensitivity(sdp_classify.class));
  v_batch uuid := sdp_classify.batch_id;
  v_dataset text := sdp_classify.dataset;
  v_old sdp.column_classification;
  v_id bigint;
BEGIN
  PERFORM sdp._require_capability('engineer', 'classify');
  IF (v_batch IS NULL) = (v_dataset IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of batch_id or dataset';
  END IF;
  IF v_column IS NULL OR pg_catalog.length(v_column) NOT BETWEEN 1 AND 256 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'column_name has 1 to 256 characters';
  END IF;
  IF v_class IS NULL OR v_class !~ '^[a-z][a-z0-9_]{0,62}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('class "%s" is not a class name (lowercase letters, digits and _, e.g. email)',
                       sdp._echo(coalesce(v_class, ''))),
      HINT = 'e.g. the classes of sdp-agent scan: email, phone, payment_card, iban, us_ssn, de_tax_id, fr_nir, nl_bsn, es_dni, it_codice_fiscale, pl_pesel, ipv4, ipv6, date_of_birth, person_name, postal_address, free_text_pii, not_pii';
  END IF;
  IF v_sens NOT IN ('public', 'internal', 'confidential', 'restricted') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('sensitivity "%s" is not public, internal, confidential or restricted', sdp._echo(v_sens));
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = v_client) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(coalesce(v_client, '')));
  END IF;
  IF v_batch IS NOT NULL THEN
    IF NOT EXISTS (SELECT 1 FROM sdp.processing_batch b
                    WHERE b.batch_id = v_batch AND b.client_id = v_client) THEN
      RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('batch %s of client %s not found', v_batch, sdp._echo(v_client));
    END IF;
    SELECT * INTO v_old FROM sdp.column_classification c
     WHERE c.batch_id = v_batch AND c.column_name = v_column FOR UPDATE;
    IF v_old.id IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'PT404',
        MESSAGE = format('batch %s has no column "%s"', v_batch, sdp._echo(v_column));
    END IF;
    UPDATE sdp.column_classification c
       SET class = v_class, sensitivity = v_sens, source = 'manual',
           classified_by = sdp.sdp_caller_role(), classified_at = pg_catalog.clock_timestamp()
     WHERE c.id = v_old.id
    RETURNING c.id INTO v_id;
  ELSE
    SELECT * INTO v_old FROM sdp.column_classification c
     WHERE c.client_id = v_client AND c.dataset = v_dataset AND c.column_name = v_column FOR UPDATE;
    INSERT INTO sdp.column_classification AS c (client_id, dataset, column_name, transform, class,
                                                sensitivity, source, classified_by)
    VALUES (v_client, v_dataset, v_column, coalesce(v_old.transform, 'CLEAR'), v_class, v_sens,
            'manual', sdp.sdp_caller_role())
    ON CONFLICT (client_id, dataset, column_name) WHERE dataset IS NOT NULL
    DO UPDATE SET class = EXCLUDED.class, sensitivity = EXCLUDED.sensitivity, source = 'manual',
                  classified_by = EXCLUDED.classified_by, classified_at = pg_catalog.clock_timestamp()
    RETURNING c.id INTO v_id;
  END IF;
  PERFORM sdp._audit('column.classify', coalesce(v_batch::text, v_dataset),
                     pg_catalog.jsonb_build_object('client', v_client, 'column', sdp._echo(v_column),
                                                   'class', v_class, 'sensitivity', v_sens,
                                                   'previous_class', v_old.class,
                                                   'previous_sensitivity', v_old.sensitivity));
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION sdp.sdp_classify(text, text, text, text, uuid, text) IS
  'sets the class and sensitivity of a column of a batch or dataset (engineer/admin, audited)';

-- sdp_firewall_allow: an administrator lets one class through in one column of one client's
-- uploads (a column of account numbers that pass Luhn, say). Audited; true when it is new.
CREATE FUNCTION sdp.sdp_firewall_allow(client_id text, column_name text, class text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_firewall_allow.client_id;
  v_column text := sdp_firewall_allow.column_name;
  v_class text := sdp_firewall_allow.class;
  v_new boolean;
BEGIN
  PERFORM sdp._require_capability('admin', 'firewall_allow');
  IF v_column IS NULL OR pg_catalog.length(v_column) NOT BETWEEN 1 AND 256 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'column_name has 1 to 256 characters';
  END IF;
  IF v_class IS NULL OR v_class NOT IN ('email', 'payment_card', 'iban', 'us_ssn', 'phone',
                                        'token_shape', 'mask_shape') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('class "%s" is not one the firewall refuses', sdp._echo(coalesce(v_class, ''))),
      HINT = 'one of email, payment_card, iban, us_ssn, phone, token_shape, mask_shape';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = v_client) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(coalesce(v_client, '')));
  END IF;
  INSERT INTO sdp.firewall_allow (client_id, column_name, class, allowed_by)
  VALUES (v_client, v_column, v_class, sdp.sdp_caller_role())
  ON CONFLICT DO NOTHING;
  v_new := FOUND;
  PERFORM sdp._audit('firewall.allow', v_client,
                     pg_catalog.jsonb_build_object('column', sdp._echo(v_column), 'class', v_class,
                                                   'new', v_new));
  RETURN v_new;
END
$$;
COMMENT ON FUNCTION sdp.sdp_firewall_allow(text, text, text) IS
  'lets the PII firewall accept one class in one column of a client''s uploads (admin, audited)';

-- Governance view: the class of every column of every batch and dataset (no values).
CREATE VIEW sdp.column_classes AS
  SELECT c.client_id, c.batch_id, c.dataset, c.column_name, c.transform, c.class, c.sensitivity,
         c.source, c.classified_by, c.classified_at
    FROM sdp.column_classification c;
COMMENT ON VIEW sdp.column_classes IS
  'class, sensitivity and transform of each column of each batch or dataset (governance)';

REVOKE ALL ON FUNCTION sdp._class_sensitivity(text), sdp._manifest_entries(jsonb),
    sdp._store_manifest(text, uuid, jsonb), sdp._classify_columns(text, uuid, text[]),
    sdp._firewall_spec(text, uuid),
    sdp._firewall_audit(text, text, text, text, text, bigint, text, text),
    sdp.sdp_classify(text, text, text, text, uuid, text), sdp.sdp_firewall_allow(text, text, text)
  FROM PUBLIC;
REVOKE ALL ON sdp.column_classification, sdp.firewall_allow, sdp.column_classes FROM PUBLIC;
-- ---- column classification and the PII firewall (82_firewall.sql) ---------------------------
-- Engineers and administrators reclassify columns; only administrators let a class through the
-- firewall. The classes (never values) are readable by the governance roles.
GRANT EXECUTE ON FUNCTION sdp.sdp_classify(text, text, text, text, uuid, text)
  TO sdp_admin, sdp_engineer;
GRANT EXECUTE ON FUNCTION sdp.sdp_firewall_allow(text, text, text) TO sdp_admin;
GRANT SELECT ON sdp.column_classes TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor;
GRANT SELECT ON sdp.firewall_allow TO sdp_admin, sdp_auditor;

-- ==== rekey-server: key rotation of stored tokens (issue 21, 84_rekey.sql). The manifest takes
-- each tokenized column's domain, key_version and key_id (82_firewall.sql: sdp._manifest_entries
-- checks them, sdp._store_manifest keeps them in sdp.batch_column_key); the sdp_rekey_* API and
-- its sdp_api wrappers, with their tables, policies and grants.
CREATE OR REPLACE FUNCTION sdp._manifest_entries(manifest jsonb)
RETURNS TABLE(column_name text, transform text, class text, sensitivity text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text;
  v jsonb;
  t text;
  c text;
  s text;
BEGIN
  IF manifest IS NULL OR manifest = 'null'::jsonb THEN
    RETURN;
  END IF;
  IF pg_catalog.jsonb_typeof(manifest) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'manifest must be a JSON object: {"column": {"transform": "HASH", "class": "email"}, ...}';
  END IF;
  FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(manifest) e ORDER BY e.key LOOP
    IF pg_catalog.length(k) NOT BETWEEN 1 AND 256 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'manifest: a column name has 1 to 256 characters';
    END IF;
    IF pg_catalog.jsonb_typeof(v) <> 'object' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" must map to an object {"transform", "class"}', sdp._echo(k));
    END IF;
    t := pg_catalog.upper(v ->> 'transform');
    IF t IS NULL OR t NOT IN ('CLEAR', 'HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1', 'MASKED') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has transform "%s"; expected HASH, RANDOM, FPE, FF1, FF3-1, MASKED or CLEAR',
                         sdp._echo(k), sdp._echo(coalesce(v ->> 'transform', '')));
    END IF;
    c := coalesce(v ->> 'class', CASE WHEN t = 'CLEAR' THEN 'unclassified' ELSE 'identifier' END);
    IF c !~ '^[a-z][a-z0-9_]{0,62}$' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has class "%s"; a class is lowercase letters, digits and _ (e.g. email)',
                         sdp._echo(k), sdp._echo(c));
    END IF;
    -- The key that made the column (issue 21, 84_rekey.sql): optional, checked when present.
    IF v ? 'domain' AND (pg_catalog.jsonb_typeof(v -> 'domain') <> 'string'
                         OR (v ->> 'domain') !~ '^[A-Za-z0-9_.:-]{1,128}$') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has domain "%s"; a domain is 1 to 128 of A-Z a-z 0-9 _ . : -',
                         sdp._echo(k), sdp._echo(coalesce(v ->> 'domain', '')));
    END IF;
    IF v ? 'key_version' AND (pg_catalog.jsonb_typeof(v -> 'key_version') <> 'number'
                              OR (v ->> 'key_version') !~ '^[0-9]{1,2}$'
                              OR (v ->> 'key_version')::integer NOT BETWEEN 1 AND 61) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has key_version %s; expected an integer from 1 to 61',
                         sdp._echo(k), sdp._echo((v -> 'key_version')::text));
    END IF;
    IF v ? 'key_id' AND (pg_catalog.jsonb_typeof(v -> 'key_id') <> 'string'
                         OR (v ->> 'key_id') !~ '^[0-9a-f]{8}$') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has key_id "%s"; expected 8 lowercase hex digits',
                         sdp._echo(k), sdp._echo(coalesce(v ->> 'key_id', (v -> 'key_id')::text)));
    END IF;
    IF (v ? 'domain' OR v ? 'key_version' OR v ? 'key_id')
       AND t NOT IN ('HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" is %s; domain, key_version and key_id are for HASH, RANDOM and FPE columns',
                         sdp._echo(k), t);
    END IF;
    s := coalesce(v ->> 'sensitivity', sdp._class_sensitivity(c));
    IF s NOT IN ('public', 'internal', 'confidential', 'restricted') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has sensitivity "%s"; expected public, internal, confidential or restricted',
                         sdp._echo(k), sdp._echo(s));
    END IF;
    column_name := k;
    transform := t;
    class := c;
    sensitivity := s;
    RETURN NEXT;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION sdp._store_manifest(p_client text, p_batch uuid, p_manifest jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO sdp.column_classification (client_id, batch_id, column_name, transform, class,
                                         sensitivity, source, classified_by)
  SELECT p_client, p_batch, m.column_name, m.transform, m.class, m.sensitivity, 'scan',
         sdp.sdp_caller_role()
    FROM sdp._manifest_entries(p_manifest) m;
  INSERT INTO sdp.batch_column_key (batch_id, column_name, client_id, transform, domain, key_version, key_id)
  SELECT p_batch, m.column_name, p_client, m.transform, p_manifest -> m.column_name ->> 'domain',
         coalesce((p_manifest -> m.column_name ->> 'key_version')::integer, 1),
         p_manifest -> m.column_name ->> 'key_id'
    FROM sdp._manifest_entries(p_manifest) m
   WHERE m.transform IN ('HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1');
END
$$;

-- Key rotation of stored tokens (issue 21; docs/key_rotation.md, "On the server").
--
-- The agent rotates its master key; deterministic tokens (HASH, FPE) made by the old key no
-- longer join with the ones the new key makes. The agent derives old -> new token pairs (from its
-- vault, or by FPE decrypt/encrypt) and uploads only the pairs; the server rewrites every stored
-- token of one (client, domain) with them, in bounded transactions:
--   sdp_rekey_begin   -> a rotation (idempotent per client, domain, from_version, to_version)
--   sdp_rekey_tokens  -> the tokens still stored under from_version (keyset pages)
--   sdp_rekey_pairs   -> old_token,new_token CSV (re-sent pairs are no-ops; conflicts PT409)
--   sdp_rekey_apply   -> rewrites at most max_rows rows per call, until done
--   sdp_rekey_finish  -> records the domain's key version; refused while anything is unmapped
-- plus sdp_token_versions (the pairs, for joins during a rotation) and sdp_rekey_status.
--
-- What the server knows about keys comes from the upload manifest (82_firewall.sql): each column
-- may carry its `domain`, `key_version` and `key_id`, stored per batch column in
-- sdp.batch_column_key. A batch without them is version 1 with an unknown key id, and a column
-- without a domain belongs to no rotation. HASH tokens also show their version in their shape
-- (v1: `h` + 24 base64url characters; v >= 2: `h`, the base62 digit of v, then 24); FPE
-- tokens cannot, so the batch column's key_version is the server's record of which key made them.
--
-- Rewriting, and why it is safe to stop anywhere: a rotation walks the batches of the client
-- that still hold the domain under from_version, one batch at a time in row_no order, with a
-- cursor (sdp.key_rotation_batch.cursor_row). Each apply call rewrites a slice and moves the
-- cursor in the same transaction, so a crash or pg_terminate_backend rolls back both and the next
-- call redoes the slice; a row before the cursor is never rewritten again (an FPE token's new
-- value may be another value's old token, so "has an old-looking token" is not a test of "not
-- yet rewritten"). When a batch's last row is passed its columns move to to_version
-- (batch_column_key), so a batch uploaded under the old key during the rotation is found by a
-- later call, and one uploaded under the new key is never touched. A row whose tokens are not
-- all paired is not rewritten: it is held (sdp.key_rotation_held) and retried when new pairs
-- arrive; finish refuses while any row is held. Each row is rewritten whole by one UPDATE, with
-- its integrity MAC (77_integrity.sql), together with its result and its record_version history
-- in the same statement: a reader sees all old or all new tokens for a row.
--
-- Every function locks the rotation row, so two apply calls at once run one after the other.
-- Tables are FORCE row-level security like the tenant tables (50_rls.sql): a client sees only
-- its own rows; the functions are SECURITY DEFINER and check the tenant themselves.

-- ---- tables ------------------------------------------------------------------------------------
-- The key that made each tokenized column of each batch (from the upload manifest). key_version
-- moves to the new version when a rotation has rewritten the batch.
CREATE TABLE sdp.batch_column_key (
  batch_id    uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  column_name text NOT NULL CHECK (pg_catalog.length(column_name) BETWEEN 1 AND 256),
  client_id   text NOT NULL,
  transform   text NOT NULL CHECK (transform IN ('HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1')),
  domain      text CHECK (domain ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  key_version integer NOT NULL DEFAULT 1 CHECK (key_version BETWEEN 1 AND 61),
  key_id      text CHECK (key_id ~ '^[0-9a-f]{8}$'),
  PRIMARY KEY (batch_id, column_name)
);
COMMENT ON TABLE sdp.batch_column_key IS
  'domain, key version and key id of each tokenized column of each batch (upload manifest)';
CREATE INDEX batch_column_key_domain ON sdp.batch_column_key (client_id, domain, key_version);
SELECT pg_catalog.pg_extension_config_dump('sdp.batch_column_key', '');

-- The current key version of a client's domain, recorded by sdp_rekey_finish.
CREATE TABLE sdp.domain_key_version (
  client_id   text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  domain      text NOT NULL CHECK (domain ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  key_version integer NOT NULL CHECK (key_version BETWEEN 1 AND 61),
  key_id      text CHECK (key_id ~ '^[0-9a-f]{8}$'),
  rotated_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (client_id, domain)
);
COMMENT ON TABLE sdp.domain_key_version IS 'current key version of each client''s token domain';
SELECT pg_catalog.pg_extension_config_dump('sdp.domain_key_version', '');

-- One rotation. state: mapping (begun), applying (apply has run), applied (nothing left to
-- rewrite), finished. kind: HASH (token shapes checked) or FPE.
CREATE TABLE sdp.key_rotation (
  rotation_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id       text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  domain          text NOT NULL CHECK (domain ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  kind            text NOT NULL CHECK (kind IN ('HASH', 'FPE')),
  from_version    integer NOT NULL CHECK (from_version BETWEEN 1 AND 60),
  to_version      integer NOT NULL CHECK (to_version BETWEEN 2 AND 61),
  to_key_id       text NOT NULL CHECK (to_key_id ~ '^[0-9a-f]{8}$'),
  state           text NOT NULL DEFAULT 'mapping'
                  CHECK (state IN ('mapping', 'applying', 'applied', 'finished')),
  pairs           bigint NOT NULL DEFAULT 0,
  rows_done       bigint NOT NULL DEFAULT 0,
  -- Held rows are retried in passes; a pass that started with this many pairs rewrote all it
  -- could, so another one is only worth it once more pairs arrived (NULL: retry).
  held_pass_pairs bigint,
  held_cursor_batch uuid,
  held_cursor_row bigint,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  finished_at     timestamptz,
  CHECK (from_version < to_version)
);
COMMENT ON TABLE sdp.key_rotation IS 'token key rotations of a client''s domain (sdp_rekey_*)';
CREATE UNIQUE INDEX key_rotation_one_open ON sdp.key_rotation (client_id, domain)
  WHERE state <> 'finished';
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation', '');

-- The old -> new pairs of a rotation (tokens only). A mapping is one-to-one both ways.
CREATE TABLE sdp.key_rotation_pair (
  rotation_id uuid NOT NULL REFERENCES sdp.key_rotation (rotation_id) ON DELETE CASCADE,
  -- Byte order: a probe of the index compares with memcmp instead of the database's collation
  -- (a million probes per million rows rewritten). Probes name the collation: `= (x COLLATE "C")`.
  old_token   text COLLATE "C" NOT NULL,
  new_token   text COLLATE "C" NOT NULL,
  PRIMARY KEY (rotation_id, old_token),
  UNIQUE (rotation_id, new_token)
);
COMMENT ON TABLE sdp.key_rotation_pair IS 'old -> new token pairs of a rotation (no values)';
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation_pair', '');

-- The batches a rotation walks: the columns it rewrites there and how far it got.
CREATE TABLE sdp.key_rotation_batch (
  rotation_id  uuid NOT NULL REFERENCES sdp.key_rotation (rotation_id) ON DELETE CASCADE,
  batch_id     uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  columns      text[] NOT NULL,
  cursor_row   bigint NOT NULL DEFAULT 0,
  completed_at timestamptz,
  PRIMARY KEY (rotation_id, batch_id)
);
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation_batch', '');

-- Rows passed by the cursor but not rewritten (a token without a pair, or a concurrent edit).
CREATE TABLE sdp.key_rotation_held (
  rotation_id uuid NOT NULL,
  batch_id    uuid NOT NULL,
  row_no      bigint NOT NULL,
  PRIMARY KEY (rotation_id, batch_id, row_no),
  FOREIGN KEY (rotation_id, batch_id) REFERENCES sdp.key_rotation_batch (rotation_id, batch_id)
    ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation_held', '');

-- The tokens sdp_rekey_tokens pages through: taken when a listing starts (after IS NULL), so
-- every page is an index range scan instead of a pass over every stored row.
CREATE TABLE sdp.key_rotation_token (
  rotation_id uuid NOT NULL REFERENCES sdp.key_rotation (rotation_id) ON DELETE CASCADE,
  token       text COLLATE "C" NOT NULL,  -- byte order: the order the pages come in
  PRIMARY KEY (rotation_id, token)
);

ALTER TABLE sdp.batch_column_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.batch_column_key FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.domain_key_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.domain_key_version FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_pair ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_pair FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_batch FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_held ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_held FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_token ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_token FORCE ROW LEVEL SECURITY;

-- A client sees its own rows; a trusted caller every row (the same condition as 50_rls.sql).
CREATE POLICY batch_column_key_tenant ON sdp.batch_column_key
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY domain_key_version_tenant ON sdp.domain_key_version
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY key_rotation_tenant ON sdp.key_rotation
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
-- The rows of a rotation follow it (the sub-select is itself filtered by key_rotation_tenant).
CREATE POLICY key_rotation_pair_tenant ON sdp.key_rotation_pair
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_pair.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_pair.rotation_id));
CREATE POLICY key_rotation_batch_tenant ON sdp.key_rotation_batch
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_batch.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_batch.rotation_id));
CREATE POLICY key_rotation_held_tenant ON sdp.key_rotation_held
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_held.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_held.rotation_id));
CREATE POLICY key_rotation_token_tenant ON sdp.key_rotation_token
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_token.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_token.rotation_id));

-- ---- helpers -----------------------------------------------------------------------------------
-- The regex a HASH token of key version v matches: v1 `h` + 24 base64url characters (the tokens
-- of before key versions), v >= 2 with the base62 digit of v after the `h`.
CREATE FUNCTION sdp._rekey_hash_shape(v integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT '^h' OPERATOR(pg_catalog.||)
         CASE WHEN v OPERATOR(pg_catalog.<=) 1 THEN ''
              ELSE pg_catalog.substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                                     v OPERATOR(pg_catalog.+) 1, 1) END
         OPERATOR(pg_catalog.||) '[A-Za-z0-9_-]{24}$'
$$;

-- The rotation a caller may act on, optionally locked; PT404 for an unknown one or another
-- client's (the same answer, so existence never leaks). A trusted caller needs `capability`.
-- A lock that meets a concurrent change under REPEATABLE READ is PT409, never 40001.
CREATE FUNCTION sdp._rekey_rotation(p_rotation_id uuid, p_lock boolean, p_capability text,
                                    p_action text) RETURNS sdp.key_rotation
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caller text := sdp.sdp_current_client();
  r sdp.key_rotation;
BEGIN
  IF v_caller IS NULL THEN
    PERFORM sdp._require_capability(p_capability, p_action, p_rotation_id::text);
  END IF;
  IF p_rotation_id IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'rotation_id is required';
  END IF;
  BEGIN
    IF p_lock THEN
      SELECT * INTO r FROM sdp.key_rotation k
       WHERE k.rotation_id OPERATOR(pg_catalog.=) p_rotation_id FOR UPDATE;
    ELSE
      SELECT * INTO r FROM sdp.key_rotation k WHERE k.rotation_id OPERATOR(pg_catalog.=) p_rotation_id;
    END IF;
  EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
    PERFORM sdp._raise_conflict(format('rotation %s was changed by a concurrent request', p_rotation_id),
                                hint => 'retry the request');
  END;
  IF r.rotation_id IS NULL OR (v_caller IS NOT NULL AND r.client_id OPERATOR(pg_catalog.<>) v_caller) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('rotation %s not found', p_rotation_id);
  END IF;
  RETURN r;
END
$$;

-- The client a client-named call acts for: the caller's own (PT403 for another), or any existing
-- one for a trusted caller holding `capability`.
CREATE FUNCTION sdp._rekey_client(p_client_id text, p_capability text, p_action text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp.sdp_current_client() IS NULL THEN
    PERFORM sdp._require_capability(p_capability, p_action, p_client_id);
  END IF;
  PERFORM sdp._check_client(p_client_id);
  RETURN p_client_id;
END
$$;

CREATE FUNCTION sdp._rekey_check_domain(p_domain text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_domain IS NULL OR p_domain !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('domain "%s" is not a token domain (1 to 128 of A-Z a-z 0-9 _ . : -)',
                       sdp._echo(coalesce(p_domain, ''))),
      HINT = 'the domain of the tokenization rule, e.g. customer_id';
  END IF;
END
$$;

-- The batches of a rotation's client still holding its domain under from_version, with the
-- columns to rewrite (key_version = from_version) and the batch's column list.
CREATE FUNCTION sdp._rekey_pending(r sdp.key_rotation)
RETURNS TABLE(batch_id uuid, status sdp.batch_state, columns text[], all_columns text[],
              key_column text, accepted_records bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.batch_id, b.status, pg_catalog.array_agg(k.column_name ORDER BY k.column_name),
         b.columns, b.key_column, b.accepted_records
    FROM sdp.batch_column_key k
    JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) k.batch_id
   WHERE k.client_id OPERATOR(pg_catalog.=) r.client_id
     AND k.domain OPERATOR(pg_catalog.=) r.domain
     AND k.key_version OPERATOR(pg_catalog.=) r.from_version
     AND b.client_id OPERATOR(pg_catalog.=) r.client_id
   GROUP BY b.batch_id
$$;

-- The json every rotation call answers with.
CREATE FUNCTION sdp._rekey_json(r sdp.key_rotation, p_rows_total bigint) RETURNS json
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.json_build_object(
           'rotation_id', r.rotation_id, 'state', r.state, 'pairs', r.pairs,
           'rows_done', r.rows_done, 'rows_total', p_rows_total, 'client_id', r.client_id,
           'domain', r.domain, 'from_version', r.from_version, 'to_version', r.to_version,
           'to_key_id', r.to_key_id)
$$;

-- Rows of the rotation not rewritten yet: the rows after the cursor of every pending batch, and
-- the held rows. (Row numbers are 1..accepted_records without gaps: 77_integrity.sql.)
CREATE FUNCTION sdp._rekey_rows_left(r sdp.key_rotation) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce((SELECT pg_catalog.sum(GREATEST(p.accepted_records OPERATOR(pg_catalog.-)
                                                   coalesce(kb.cursor_row, 0), 0))
                     FROM sdp._rekey_pending(r) p
                     LEFT JOIN sdp.key_rotation_batch kb
                       ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                      AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id), 0)::bigint
         OPERATOR(pg_catalog.+)
         (SELECT pg_catalog.count(*) FROM sdp.key_rotation_held h
           WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id)
$$;

-- Distinct stored tokens of the rotation without a pair, in the held rows (the rows the cursor
-- passed without rewriting them).
CREATE FUNCTION sdp._rekey_unmapped(r sdp.key_rotation) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.count(DISTINCT tok.t)
    FROM sdp.key_rotation_held h
    JOIN sdp.key_rotation_batch kb
      ON kb.rotation_id OPERATOR(pg_catalog.=) h.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) h.batch_id
    JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) h.batch_id
    JOIN sdp.tokenized_record t
      ON t.batch_id OPERATOR(pg_catalog.=) h.batch_id AND t.row_no OPERATOR(pg_catalog.=) h.row_no
   CROSS JOIN LATERAL pg_catalog.unnest(kb.columns) AS c(name)
   CROSS JOIN LATERAL (SELECT t.fields[pg_catalog.array_position(b.columns, c.name)]) AS tok(t)
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
     AND tok.t IS NOT NULL AND tok.t OPERATOR(pg_catalog.<>) ''
     AND NOT EXISTS (SELECT 1 FROM sdp.key_rotation_pair p
                      WHERE p.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                        AND p.old_token OPERATOR(pg_catalog.=) (tok.t COLLATE "C"))
$$;

-- The new value of one column cell in the rewrite statement: '' and NULL stay as they are, any
-- other value takes its pair's new token (column n<pair> of the source, NULL when there is none:
-- the row is held); history versions keep an unpaired value.
CREATE FUNCTION sdp._rekey_cell_sql(p_alias text, p_pos integer, p_pair integer, p_keep_unmapped boolean)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.format(
    CASE WHEN p_keep_unmapped
         THEN 'coalesce(%1$s.n%3$s, %1$s.fields[%2$s])'
         ELSE 'CASE WHEN %1$s.fields[%2$s] IS NULL OR %1$s.fields[%2$s] OPERATOR(pg_catalog.=) '''' THEN %1$s.fields[%2$s] ELSE %1$s.n%3$s END' END,
    p_alias, p_pos, p_pair)
$$;

-- The pair lookups of a source row (alias p_alias): one scalar sub-select per rewritten column,
-- `, (SELECT new_token ...) AS n1, ...`. A correlated sub-select is always an index probe of the
-- pair's primary key, never a hash of every pair of the rotation (which an unanalysed table's
-- estimates would pick for a join).
CREATE FUNCTION sdp._rekey_lookups_sql(p_alias text, p_pos integer[]) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(pg_catalog.string_agg(pg_catalog.format(
           ', (SELECT q.new_token FROM sdp.key_rotation_pair q WHERE q.rotation_id OPERATOR(pg_catalog.=) $1'
           ' AND q.old_token OPERATOR(pg_catalog.=) (%1$s.fields[%2$s] COLLATE "C")) AS n%3$s', p_alias, u.pos, u.j), '' ORDER BY u.j), '')
    FROM pg_catalog.unnest(p_pos) WITH ORDINALITY AS u(pos, j)
$$;

-- Rewrites the next slice of one batch: rows after p_after (or, with p_held, the held rows after
-- p_after), at most p_limit. One statement: the record row whole (fields and record_key, with a
-- fresh MAC), its result's record_key when the key column is rewritten (fresh MAC; a result
-- scored before an edit of the key has its own token, listed by sdp_rekey_tokens, and the row is
-- held until that token has a pair too), its history versions, and the held list.
-- The SQL is built from the batch's column positions (integers) and fixed text only: the
-- rotation, batch, cursor and key are parameters. Returns the rows looked at, the rows
-- rewritten and the last row_no looked at.
CREATE FUNCTION sdp._rekey_slice(r sdp.key_rotation, kb sdp.key_rotation_batch, p_held boolean,
                                 p_after bigint, p_limit integer,
                                 OUT seen bigint, OUT rewritten bigint, OUT last_row bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- A slice is a few thousand rows of a table of millions, read by primary key in row order.
-- Rows loaded moments ago have no statistics yet (autovacuum has not run), and the planner then
-- reads the rest of the batch with a bitmap scan and sorts it, for every slice (measured: the
-- sort alone spilled 12 MB to disk per slice of a 100k-row batch). Once the table has statistics
-- a slice of 20000 rows is costed above the JIT thresholds, and compiling the generated statement
-- took minutes per call (measured: 17 min without finishing one slice of a 1M-row batch; 3.1 s
-- with jit off).
SET enable_bitmapscan = off
SET enable_sort = off
SET jit = off
AS $$
DECLARE
  b sdp.processing_batch;
  v_pos integer[] := '{}';
  v_n integer;
  v_key_pair integer;
  v_fields text := '';
  v_hfields text := '';
  v_mapped text;
  v_key text := 'r.record_key';
  v_hkey text := 'v.record_key';
  v_source text;
  v_lookups text;
  v_sql text;
  i integer;
  j integer;
BEGIN
  SELECT * INTO b FROM sdp.processing_batch x WHERE x.batch_id OPERATOR(pg_catalog.=) kb.batch_id;
  v_n := coalesce(pg_catalog.cardinality(b.columns), 0);
  FOR j IN 1 .. pg_catalog.cardinality(kb.columns) LOOP
    v_pos := v_pos OPERATOR(pg_catalog.||) pg_catalog.array_position(b.columns, kb.columns[j]);
    IF kb.columns[j] OPERATOR(pg_catalog.=) b.key_column THEN
      v_key_pair := j;
    END IF;
  END LOOP;
  IF v_n OPERATOR(pg_catalog.=) 0 OR pg_catalog.array_position(v_pos, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('batch %s does not have the columns its manifest named', kb.batch_id);
  END IF;
  v_lookups := sdp._rekey_lookups_sql('t', v_pos);
  -- A row is rewritten when it has every column and every non-empty token has a pair.
  v_mapped := format('pg_catalog.cardinality(r.fields) OPERATOR(pg_catalog.=) %s', v_n);
  FOR j IN 1 .. pg_catalog.cardinality(v_pos) LOOP
    v_mapped := v_mapped OPERATOR(pg_catalog.||) format(
      ' AND (r.fields[%1$s] IS NULL OR r.fields[%1$s] OPERATOR(pg_catalog.=) '''' OR r.n%2$s IS NOT NULL)',
      v_pos[j], j);
  END LOOP;
  FOR i IN 1 .. v_n LOOP
    j := pg_catalog.array_position(v_pos, i);
    v_fields := v_fields OPERATOR(pg_catalog.||) CASE WHEN i OPERATOR(pg_catalog.>) 1 THEN ', ' ELSE '' END
      OPERATOR(pg_catalog.||) CASE WHEN j IS NULL THEN format('r.fields[%s]', i)
                                   ELSE sdp._rekey_cell_sql('r', i, j, false) END;
    v_hfields := v_hfields OPERATOR(pg_catalog.||) CASE WHEN i OPERATOR(pg_catalog.>) 1 THEN ', ' ELSE '' END
      OPERATOR(pg_catalog.||) CASE WHEN j IS NULL THEN format('v.fields[%s]', i)
                                   ELSE sdp._rekey_cell_sql('v', i, j, true) END;
  END LOOP;
  IF v_key_pair IS NOT NULL THEN
    -- record_key is the key column's value; a row where they differ is held, not guessed at.
    v_key := format('CASE WHEN r.record_key IS NOT DISTINCT FROM r.fields[%s] THEN %s END',
                    v_pos[v_key_pair], sdp._rekey_cell_sql('r', v_pos[v_key_pair], v_key_pair, false));
    v_mapped := v_mapped OPERATOR(pg_catalog.||) ' AND ' OPERATOR(pg_catalog.||) v_key OPERATOR(pg_catalog.||) ' IS NOT NULL';
    v_hkey := 'coalesce((SELECT q.new_token FROM sdp.key_rotation_pair q'
              ' WHERE q.rotation_id OPERATOR(pg_catalog.=) $1 AND q.old_token OPERATOR(pg_catalog.=) (v.record_key COLLATE "C")), v.record_key)';
  END IF;
  -- The row's result (scored before or after an edit of the key) has its own pair: nrk, its new
  -- key; a row whose result key has no pair is held with it.
  IF v_key_pair IS NOT NULL THEN
    v_lookups := v_lookups OPERATOR(pg_catalog.||)
      ', (SELECT x.record_key FROM sdp.processed_result x WHERE x.batch_id OPERATOR(pg_catalog.=) t.batch_id'
      ' AND x.row_no OPERATOR(pg_catalog.=) t.row_no) AS rk'
      ', (SELECT q.new_token FROM sdp.processed_result x JOIN sdp.key_rotation_pair q'
      ' ON q.rotation_id OPERATOR(pg_catalog.=) $1 AND q.old_token OPERATOR(pg_catalog.=) (x.record_key COLLATE "C")'
      ' WHERE x.batch_id OPERATOR(pg_catalog.=) t.batch_id AND x.row_no OPERATOR(pg_catalog.=) t.row_no) AS nrk';
    v_mapped := v_mapped OPERATOR(pg_catalog.||)
      ' AND (r.rk IS NULL OR r.rk OPERATOR(pg_catalog.=) '''' OR r.nrk IS NOT NULL)';
  ELSE
    v_lookups := v_lookups OPERATOR(pg_catalog.||) ', NULL::text AS nrk';
  END IF;
  IF p_held THEN
    v_source := format('(SELECT t.ctid AS tid, t.* %s FROM sdp.key_rotation_held h JOIN sdp.tokenized_record t'
                ' ON t.batch_id OPERATOR(pg_catalog.=) h.batch_id AND t.row_no OPERATOR(pg_catalog.=) h.row_no'
                ' WHERE h.rotation_id OPERATOR(pg_catalog.=) $1 AND h.batch_id OPERATOR(pg_catalog.=) $2'
                ' AND h.row_no OPERATOR(pg_catalog.>) $3 ORDER BY h.row_no LIMIT $4)', v_lookups);
  ELSE
    v_source := format('(SELECT t.ctid AS tid, t.* %s FROM sdp.tokenized_record t WHERE t.batch_id OPERATOR(pg_catalog.=) $2'
                ' AND t.row_no OPERATOR(pg_catalog.>) $3 ORDER BY t.row_no LIMIT $4)', v_lookups);
  END IF;
  -- held: the rows looked at and not rewritten (no pair, or changed by a concurrent edit since
  -- this statement's snapshot: the UPDATE's re-check of the old values, and of the row version
  -- by its ctid, skips them). The UPDATE finds each row by its ctid (a TID scan, no index
  -- descent per row).
  v_sql := format($f$
    WITH s AS MATERIALIZED (
      SELECT r.tid, r.batch_id, r.row_no, r.fields AS old_fields, r.record_key AS old_key,
             ARRAY[%1$s]::text[] AS nf, %2$s AS nk, %3$s AS mapped, r.nrk
        FROM %4$s r),
    u AS (
      UPDATE sdp.tokenized_record t
         SET fields = s.nf, record_key = s.nk,
             integrity_hmac = sdp._record_mac($5, t.batch_id, t.row_no, t.client_id, s.nk, s.nf)
        FROM s
       WHERE s.mapped AND t.ctid OPERATOR(pg_catalog.=) s.tid
         AND t.fields OPERATOR(pg_catalog.=) s.old_fields AND t.record_key OPERATOR(pg_catalog.=) s.old_key
      RETURNING t.row_no, s.old_key, s.nk, s.nrk),
    ur AS (
      UPDATE sdp.processed_result x
         SET record_key = u.nrk,
             integrity_hmac = sdp._result_mac($5, x.batch_id, x.row_no, x.client_id, u.nrk, x.score,
                                              x.risk_band, x.model_version, x.defaulted_features)
        FROM u
       WHERE $7 AND u.nrk IS NOT NULL
         AND x.batch_id OPERATOR(pg_catalog.=) $2 AND x.row_no OPERATOR(pg_catalog.=) u.row_no
      RETURNING 1),
    uv AS (
      UPDATE sdp.record_version w
         SET fields = n.nf, record_key = n.nk
        FROM (SELECT v.version_id, ARRAY[%5$s]::text[] AS nf, %6$s AS nk
                FROM (SELECT v0.* %7$s FROM sdp.record_version v0
                       WHERE v0.batch_id OPERATOR(pg_catalog.=) $2
                         AND v0.row_no OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT u.row_no FROM u))
                      OFFSET 0) v) n
       WHERE w.version_id OPERATOR(pg_catalog.=) n.version_id
      RETURNING 1),
    hin AS (
      INSERT INTO sdp.key_rotation_held (rotation_id, batch_id, row_no)
      SELECT $1, $2, s.row_no FROM s
       WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.row_no OPERATOR(pg_catalog.=) s.row_no)
      ON CONFLICT DO NOTHING
      RETURNING 1),
    hout AS (
      DELETE FROM sdp.key_rotation_held h
       WHERE $6 AND h.rotation_id OPERATOR(pg_catalog.=) $1 AND h.batch_id OPERATOR(pg_catalog.=) $2
         AND h.row_no OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT u.row_no FROM u))
      RETURNING 1)
    SELECT (SELECT pg_catalog.count(*) FROM s), (SELECT pg_catalog.count(*) FROM u),
           (SELECT pg_catalog.max(s.row_no) FROM s)
    $f$, v_fields, v_key, v_mapped, v_source, v_hfields, v_hkey, sdp._rekey_lookups_sql('v0', v_pos));
  EXECUTE v_sql INTO seen, rewritten, last_row
    USING r.rotation_id, kb.batch_id, p_after, p_limit, sdp._integrity_key(), p_held,
          v_key_pair IS NOT NULL;
END
$$;

-- ---- the API -----------------------------------------------------------------------------------
CREATE FUNCTION sdp.sdp_rekey_begin(client_id text, domain text, from_version integer,
                                    to_version integer, to_key_id text) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text;
  v_domain text := sdp_rekey_begin.domain;
  v_from integer := sdp_rekey_begin.from_version;
  v_to integer := sdp_rekey_begin.to_version;
  v_key_id text := sdp_rekey_begin.to_key_id;
  r sdp.key_rotation;
  v_transforms text[];
  v_kind text;
BEGIN
  v_client := sdp._rekey_client(sdp_rekey_begin.client_id, 'engineer', 'rekey_begin');
  PERFORM sdp._rekey_check_domain(v_domain);
  IF v_from IS NULL OR v_to IS NULL OR v_from < 1 OR v_to > 61 OR v_from >= v_to THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('from_version %s, to_version %s: a rotation goes from a key version >= 1 to a later one (at most 61)',
                       coalesce(v_from::text, 'NULL'), coalesce(v_to::text, 'NULL'));
  END IF;
  IF v_key_id IS NULL OR v_key_id !~ '^[0-9a-f]{8}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('to_key_id "%s" is not a key id (8 lowercase hex digits)', sdp._echo(coalesce(v_key_id, '')));
  END IF;
  BEGIN
    -- One open rotation per (client, domain): the same request again gets it back.
    SELECT * INTO r FROM sdp.key_rotation k
     WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
       AND k.state OPERATOR(pg_catalog.<>) 'finished' FOR UPDATE;
  EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
    PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
  END;
  IF r.rotation_id IS NOT NULL THEN
    IF r.from_version OPERATOR(pg_catalog.<>) v_from OR r.to_version OPERATOR(pg_catalog.<>) v_to
       OR r.to_key_id OPERATOR(pg_catalog.<>) v_key_id THEN
      PERFORM sdp._raise_conflict(
        format('domain "%s" of client "%s" is already being rotated from key version %s to %s',
               v_domain, v_client, r.from_version, r.to_version),
        hint => format('finish rotation %s first', r.rotation_id));
    END IF;
    RETURN sdp._rekey_json(r, r.rows_done OPERATOR(pg_catalog.+) sdp._rekey_rows_left(r));
  END IF;
  SELECT pg_catalog.array_agg(DISTINCT k.transform ORDER BY k.transform) INTO v_transforms
    FROM sdp.batch_column_key k
   WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain;
  IF 'RANDOM' OPERATOR(pg_catalog.=) ANY (v_transforms) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('domain "%s" has RANDOM tokens, which are not deterministic: they cannot be rotated by pairs',
                       v_domain),
      HINT = 'RANDOM tokens do not join; keep them or re-upload the data under the new key';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sdp.batch_column_key k
                  WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
                    AND k.key_version OPERATOR(pg_catalog.=) v_from) THEN
    -- Already rotated by a finished rotation with the same versions: a re-run gets that one back.
    SELECT * INTO r FROM sdp.key_rotation k
     WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
       AND k.from_version OPERATOR(pg_catalog.=) v_from AND k.to_version OPERATOR(pg_catalog.=) v_to
       AND k.to_key_id OPERATOR(pg_catalog.=) v_key_id
     ORDER BY k.finished_at DESC LIMIT 1;
    IF r.rotation_id IS NOT NULL THEN
      RETURN sdp._rekey_json(r, r.rows_done);
    END IF;
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('client "%s" has no data in domain "%s" under key version %s', v_client, v_domain, v_from),
      HINT = 'the domain comes from the upload manifest of each batch (82_firewall.sql)';
  END IF;
  v_kind := CASE WHEN v_transforms OPERATOR(pg_catalog.<@) ARRAY['HASH'] THEN 'HASH'
                 WHEN v_transforms OPERATOR(pg_catalog.<@) ARRAY['FF1', 'FF3-1', 'FPE'] THEN 'FPE' END;
  IF v_kind IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('domain "%s" mixes transforms (%s); the columns of a domain tokenize the same way',
                       v_domain, pg_catalog.array_to_string(v_transforms, ', '));
  END IF;
  BEGIN
    INSERT INTO sdp.key_rotation (client_id, domain, kind, from_version, to_version, to_key_id, created_by)
    VALUES (v_client, v_domain, v_kind, v_from, v_to, v_key_id, sdp.sdp_caller_role())
    RETURNING * INTO r;
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict(format('domain "%s" of client "%s" is being rotated by a concurrent request',
                                       v_domain, v_client), hint => 'retry the request');
  END;
  PERFORM sdp._audit('rekey.begin', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', v_client, 'domain', v_domain, 'kind', v_kind,
                                  'from_version', v_from, 'to_version', v_to, 'to_key_id', v_key_id));
  RETURN sdp._rekey_json(r, sdp._rekey_rows_left(r));
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_begin(text, text, integer, integer, text) IS
  'starts (or returns the open) key rotation of a client''s token domain: {rotation_id, state, pairs, rows_done, rows_total}';

CREATE FUNCTION sdp.sdp_rekey_tokens(rotation_id uuid, after text DEFAULT NULL,
                                     max_tokens integer DEFAULT 10000) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
BEGIN
  IF sdp_rekey_tokens.max_tokens IS NULL OR sdp_rekey_tokens.max_tokens < 1
     OR sdp_rekey_tokens.max_tokens > 100000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_tokens is 1 to 100000';
  END IF;
  r := sdp._rekey_rotation(sdp_rekey_tokens.rotation_id, true, 'engineer', 'rekey_tokens');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    RETURN;
  END IF;
  IF sdp_rekey_tokens.after IS NULL THEN
    -- A listing starts: take the tokens still stored under from_version (rows after the cursor
    -- of every pending batch, held rows, their results and history).
    DELETE FROM sdp.key_rotation_token k WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
    INSERT INTO sdp.key_rotation_token (rotation_id, token)
    SELECT DISTINCT r.rotation_id, tok FROM (
      SELECT t.fields[pg_catalog.array_position(p.all_columns, c.name)] AS tok
        FROM sdp._rekey_pending(r) p
        LEFT JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id
        CROSS JOIN LATERAL pg_catalog.unnest(p.columns) AS c(name)
        JOIN sdp.tokenized_record t ON t.batch_id OPERATOR(pg_catalog.=) p.batch_id
                                   AND t.row_no OPERATOR(pg_catalog.>) coalesce(kb.cursor_row, 0)
      UNION ALL
      SELECT x.record_key
        FROM sdp._rekey_pending(r) p
        LEFT JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id
        JOIN sdp.processed_result x ON x.batch_id OPERATOR(pg_catalog.=) p.batch_id
                                   AND x.row_no OPERATOR(pg_catalog.>) coalesce(kb.cursor_row, 0)
       WHERE p.key_column OPERATOR(pg_catalog.=) ANY (p.columns)
      UNION ALL
      SELECT v.fields[pg_catalog.array_position(p.all_columns, c.name)]
        FROM sdp._rekey_pending(r) p
        LEFT JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id
        CROSS JOIN LATERAL pg_catalog.unnest(p.columns) AS c(name)
        JOIN sdp.record_version v ON v.batch_id OPERATOR(pg_catalog.=) p.batch_id
                                 AND v.row_no OPERATOR(pg_catalog.>) coalesce(kb.cursor_row, 0)
      UNION ALL
      SELECT t.fields[pg_catalog.array_position(b.columns, c.name)]
        FROM sdp.key_rotation_held h
        JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) h.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) h.batch_id
        JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) h.batch_id
        CROSS JOIN LATERAL pg_catalog.unnest(kb.columns) AS c(name)
        JOIN sdp.tokenized_record t ON t.batch_id OPERATOR(pg_catalog.=) h.batch_id
                                   AND t.row_no OPERATOR(pg_catalog.=) h.row_no
       WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
      UNION ALL
      SELECT x.record_key
        FROM sdp.key_rotation_held h
        JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) h.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) h.batch_id
        JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) h.batch_id
        JOIN sdp.processed_result x ON x.batch_id OPERATOR(pg_catalog.=) h.batch_id
                                   AND x.row_no OPERATOR(pg_catalog.=) h.row_no
       WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
         AND b.key_column OPERATOR(pg_catalog.=) ANY (kb.columns)) s
     WHERE tok IS NOT NULL AND tok OPERATOR(pg_catalog.<>) '';
  END IF;
  RETURN QUERY SELECT k.token FROM sdp.key_rotation_token k
                WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                  AND (sdp_rekey_tokens.after IS NULL
                       OR k.token OPERATOR(pg_catalog.>) sdp_rekey_tokens.after COLLATE "C")
                ORDER BY k.token COLLATE "C" LIMIT sdp_rekey_tokens.max_tokens;
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_tokens(uuid, text, integer) IS
  'the distinct tokens of a rotation''s domain still stored under the old key, in byte order after `after`';

CREATE FUNCTION sdp.sdp_rekey_pairs(rotation_id uuid, pairs text) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
  v_lines text[];
  v_old text[];
  v_new text[];
  v_bad integer;
  v_accepted bigint;
  v_old_shape text;
  v_new_shape text;
  v_conflict record;
BEGIN
  r := sdp._rekey_rotation(sdp_rekey_pairs.rotation_id, true, 'engineer', 'rekey_pairs');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    PERFORM sdp._raise_conflict(format('rotation %s is finished', r.rotation_id));
  END IF;
  IF pairs IS NULL OR pairs OPERATOR(pg_catalog.=) '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'pairs is empty: send CSV with the header old_token,new_token';
  END IF;
  v_lines := pg_catalog.regexp_split_to_array(pg_catalog.rtrim(pairs, E'\r\n'), E'\r?\n');
  IF v_lines[1] OPERATOR(pg_catalog.<>) 'old_token,new_token' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'pairs: the first line must be the header old_token,new_token';
  END IF;
  IF pg_catalog.cardinality(v_lines) > 50001 THEN
    RAISE EXCEPTION USING ERRCODE = 'PT413',
      MESSAGE = format('pairs: %s rows; at most 50000 per call', pg_catalog.cardinality(v_lines) - 1);
  END IF;
  -- RFC 4180: a field is bare (no comma, quote or line break) or quoted with "" for a quote.
  -- Tokens never hold a line break, so one line is one record. Without any quote (base64url
  -- tokens never need one) a line is split at its comma, three times faster than the regex.
  IF pg_catalog.strpos(pairs, '"') OPERATOR(pg_catalog.=) 0 THEN
    SELECT pg_catalog.array_agg(pg_catalog.split_part(l.line, ',', 1) ORDER BY l.n),
           pg_catalog.array_agg(pg_catalog.split_part(l.line, ',', 2) ORDER BY l.n),
           pg_catalog.min(l.n) FILTER (WHERE pg_catalog.split_part(l.line, ',', 1) OPERATOR(pg_catalog.=) ''
                                          OR pg_catalog.split_part(l.line, ',', 2) OPERATOR(pg_catalog.=) ''
                                          OR pg_catalog.length(l.line) OPERATOR(pg_catalog.-)
                                             pg_catalog.length(pg_catalog.replace(l.line, ',', ''))
                                             OPERATOR(pg_catalog.<>) 1)
      INTO v_old, v_new, v_bad
      FROM pg_catalog.unnest(v_lines[2:]) WITH ORDINALITY AS l(line, n);
  ELSE
  SELECT pg_catalog.array_agg(CASE WHEN m[1] LIKE '"%' THEN pg_catalog.replace(pg_catalog.substr(m[1], 2, pg_catalog.length(m[1]) - 2), '""', '"') ELSE m[1] END ORDER BY l.n),
         pg_catalog.array_agg(CASE WHEN m[2] LIKE '"%' THEN pg_catalog.replace(pg_catalog.substr(m[2], 2, pg_catalog.length(m[2]) - 2), '""', '"') ELSE m[2] END ORDER BY l.n),
         pg_catalog.min(l.n) FILTER (WHERE m IS NULL OR m[1] IN ('', '""') OR m[2] IN ('', '""'))
    INTO v_old, v_new, v_bad
    FROM pg_catalog.unnest(v_lines[2:]) WITH ORDINALITY AS l(line, n)
    LEFT JOIN LATERAL (SELECT pg_catalog.regexp_match(l.line,
                '^("(?:[^"]|"")*"|[^,"]*),("(?:[^"]|"")*"|[^,"]*)$')) AS x(m) ON true;
  END IF;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('pairs: line %s is not two non-empty CSV fields old_token,new_token', v_bad + 1);
  END IF;
  IF v_old IS NULL THEN
    RETURN pg_catalog.json_build_object('accepted', 0, 'pairs', r.pairs);
  END IF;
  -- Tokens only: HASH tokens must have the shape of their key version (a value is refused);
  -- FPE tokens have no shape beyond a sane length.
  IF r.kind OPERATOR(pg_catalog.=) 'HASH' THEN
    v_old_shape := sdp._rekey_hash_shape(r.from_version);
    v_new_shape := sdp._rekey_hash_shape(r.to_version);
  ELSE
    v_old_shape := '^[^\x01-\x1f\x7f]+$';  -- and at most 1024 characters, below
    v_new_shape := v_old_shape;
  END IF;
  SELECT pg_catalog.min(u.n) INTO v_bad FROM ROWS FROM (pg_catalog.unnest(v_old), pg_catalog.unnest(v_new)) WITH ORDINALITY AS u(o, w, n)
   WHERE u.o !~ v_old_shape OR u.w !~ v_new_shape
      OR pg_catalog.length(u.o) > 1024 OR pg_catalog.length(u.w) > 1024;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('pairs: line %s is not an old token of key version %s and a new token of key version %s',
                       v_bad + 1, r.from_version, r.to_version),
      HINT = CASE WHEN r.kind OPERATOR(pg_catalog.=) 'HASH'
                  THEN 'a HASH token of version v >= 2 has the base62 digit of v after the h' ELSE 'tokens only, never values' END;
  END IF;
  -- Stored in old-token order (the primary key's order: fewer index pages touched). A pair
  -- already stored is a no-op; a second new token for a new token's old one is refused by the
  -- unique index on (rotation_id, new_token) (two old tokens, one new: PT409 below).
  BEGIN
    INSERT INTO sdp.key_rotation_pair (rotation_id, old_token, new_token)
    SELECT r.rotation_id, u.o, u.w
      FROM ROWS FROM (pg_catalog.unnest(v_old), pg_catalog.unnest(v_new)) WITH ORDINALITY AS u(o, w, n)
     ORDER BY u.o COLLATE "C", u.n
    ON CONFLICT (rotation_id, old_token) DO NOTHING;
    GET DIAGNOSTICS v_accepted = ROW_COUNT;
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict('pairs: a new token is already the pair of another old token',
      hint => 'a mapping is one-to-one: each old token has its own new token');
  END;
  -- Lines not stored were there already (or twice in this call): each must be the very pair
  -- stored, else an old token would have two new ones.
  IF v_accepted OPERATOR(pg_catalog.<) pg_catalog.cardinality(v_old) THEN
    SELECT pg_catalog.min(u.n) AS n INTO v_conflict
      FROM ROWS FROM (pg_catalog.unnest(v_old), pg_catalog.unnest(v_new)) WITH ORDINALITY AS u(o, w, n)
     WHERE NOT EXISTS (SELECT 1 FROM sdp.key_rotation_pair p
                        WHERE p.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                          AND p.old_token OPERATOR(pg_catalog.=) (u.o COLLATE "C")
                          AND p.new_token OPERATOR(pg_catalog.=) (u.w COLLATE "C"));
    IF v_conflict.n IS NOT NULL THEN
      PERFORM sdp._raise_conflict(
        format('pairs: line %s maps a token differently from a pair already given', v_conflict.n + 1),
        hint => 'a token has one new token: re-sending the same pair is fine, a different one is not');
    END IF;
  END IF;
  UPDATE sdp.key_rotation k SET pairs = k.pairs OPERATOR(pg_catalog.+) v_accepted,
                                updated_at = pg_catalog.clock_timestamp()
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  PERFORM sdp._audit('rekey.pairs', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', r.client_id, 'domain', r.domain,
                                  'received', pg_catalog.cardinality(v_old), 'accepted', v_accepted,
                                  'pairs', r.pairs));
  RETURN pg_catalog.json_build_object('accepted', v_accepted, 'pairs', r.pairs);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_pairs(uuid, text) IS
  'adds old_token,new_token CSV pairs (<= 50000) to a rotation: {accepted, pairs}; conflicting pairs PT409';

CREATE FUNCTION sdp.sdp_rekey_apply(rotation_id uuid, max_rows integer DEFAULT 20000) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off  -- for every statement of the call, as in sdp._rekey_slice
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
  kb sdp.key_rotation_batch;
  p record;
  v_budget integer := sdp_rekey_apply.max_rows;
  v_seen bigint := 0;
  v_rewritten bigint := 0;
  v_batches integer := 0;
  v_uploading bigint := 0;
  v_held bigint;
  v_done boolean;
  v_new_held boolean := false;
  v_unmapped bigint;
  s record;
BEGIN
  IF v_budget IS NULL OR v_budget < 1 OR v_budget > 1000000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_rows is 1 to 1000000';
  END IF;
  -- The lock serialises concurrent calls for one rotation: the second one starts from the
  -- cursor the first one committed.
  r := sdp._rekey_rotation(sdp_rekey_apply.rotation_id, true, 'engineer', 'rekey_apply');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    RETURN pg_catalog.json_build_object('rows_done', r.rows_done, 'rows_total', r.rows_done,
                                        'unmapped', 0, 'done', true, 'state', r.state);
  END IF;
  -- Pending batches, one at a time (sealed ones: an upload still adding rows is left until it is
  -- sealed), each from its cursor.
  WHILE v_budget > 0 LOOP
    SELECT * INTO kb FROM sdp.key_rotation_batch k
     WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND k.completed_at IS NULL
     ORDER BY k.batch_id LIMIT 1;
    IF kb.batch_id IS NULL THEN
      SELECT x.batch_id, x.columns INTO p FROM sdp._rekey_pending(r) x
       WHERE x.status OPERATOR(pg_catalog.<>) 'UPLOADING'
         AND NOT EXISTS (SELECT 1 FROM sdp.key_rotation_batch k
                          WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                            AND k.batch_id OPERATOR(pg_catalog.=) x.batch_id)
       ORDER BY x.batch_id LIMIT 1;
      EXIT WHEN p.batch_id IS NULL;
      INSERT INTO sdp.key_rotation_batch (rotation_id, batch_id, columns)
      VALUES (r.rotation_id, p.batch_id, p.columns) RETURNING * INTO kb;
    END IF;
    s := sdp._rekey_slice(r, kb, false, kb.cursor_row, v_budget);
    v_seen := v_seen + s.seen;
    v_rewritten := v_rewritten + s.rewritten;
    v_batches := v_batches + 1;
    IF s.rewritten < s.seen THEN
      v_new_held := true;
    END IF;
    IF s.seen < v_budget THEN
      -- Fewer rows than asked for: the batch is done. Its columns now hold the new key.
      UPDATE sdp.key_rotation_batch k
         SET cursor_row = coalesce(s.last_row, k.cursor_row), completed_at = pg_catalog.clock_timestamp()
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND k.batch_id OPERATOR(pg_catalog.=) kb.batch_id;
      UPDATE sdp.batch_column_key c SET key_version = r.to_version, key_id = r.to_key_id
       WHERE c.batch_id OPERATOR(pg_catalog.=) kb.batch_id AND c.column_name OPERATOR(pg_catalog.=) ANY (kb.columns)
         AND c.key_version OPERATOR(pg_catalog.=) r.from_version;
    ELSE
      UPDATE sdp.key_rotation_batch k SET cursor_row = s.last_row
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND k.batch_id OPERATOR(pg_catalog.=) kb.batch_id;
    END IF;
    v_budget := v_budget - s.seen::integer;
    kb := NULL;
  END LOOP;
  IF v_new_held THEN
    -- Rows held now may be rewritable with the pairs already there (a concurrent edit): the next
    -- held pass must not be skipped.
    UPDATE sdp.key_rotation k SET held_pass_pairs = NULL WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
    r.held_pass_pairs := NULL;
  END IF;
  -- Held rows, once no pending batch is left: a pass over them is worth it when pairs arrived
  -- since the last complete pass (or a concurrent edit put a row there).
  SELECT pg_catalog.count(*) INTO v_held FROM sdp.key_rotation_held h
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  IF v_budget > 0 AND v_held > 0
     AND (r.held_cursor_batch IS NOT NULL OR r.held_pass_pairs IS DISTINCT FROM r.pairs) THEN
    IF r.held_cursor_batch IS NULL THEN
      UPDATE sdp.key_rotation k SET held_pass_pairs = NULL
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
      r.held_pass_pairs := r.pairs;  -- the pairs this pass starts with
    END IF;
    FOR kb IN SELECT k.* FROM sdp.key_rotation_batch k
               WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                 AND (r.held_cursor_batch IS NULL OR k.batch_id OPERATOR(pg_catalog.>=) r.held_cursor_batch)
                 AND EXISTS (SELECT 1 FROM sdp.key_rotation_held h
                              WHERE h.rotation_id OPERATOR(pg_catalog.=) k.rotation_id
                                AND h.batch_id OPERATOR(pg_catalog.=) k.batch_id)
               ORDER BY k.batch_id LOOP
      EXIT WHEN v_budget <= 0;
      s := sdp._rekey_slice(r, kb, true,
                            CASE WHEN kb.batch_id OPERATOR(pg_catalog.=) r.held_cursor_batch
                                 THEN r.held_cursor_row ELSE 0 END, v_budget);
      v_seen := v_seen + s.seen;
      v_rewritten := v_rewritten + s.rewritten;
      v_budget := v_budget - s.seen::integer;
      r.held_cursor_batch := kb.batch_id;
      r.held_cursor_row := s.last_row;
      IF v_budget > 0 THEN
        r.held_cursor_row := NULL;  -- this batch's held rows are all seen
      END IF;
    END LOOP;
    IF v_budget > 0 THEN
      -- The pass is complete.
      UPDATE sdp.key_rotation k SET held_pass_pairs = r.held_pass_pairs, held_cursor_batch = NULL,
                                    held_cursor_row = NULL
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
      r.held_cursor_batch := NULL;
    ELSE
      UPDATE sdp.key_rotation k SET held_cursor_batch = r.held_cursor_batch,
                                    held_cursor_row = coalesce(r.held_cursor_row, 0),
                                    held_pass_pairs = r.held_pass_pairs
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
    END IF;
  END IF;
  SELECT pg_catalog.count(*) INTO v_uploading FROM sdp._rekey_pending(r) x
   WHERE x.status OPERATOR(pg_catalog.=) 'UPLOADING';
  UPDATE sdp.key_rotation k
     SET rows_done = k.rows_done OPERATOR(pg_catalog.+) v_rewritten, updated_at = pg_catalog.clock_timestamp()
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  SELECT pg_catalog.count(*) INTO v_held FROM sdp.key_rotation_held h
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  -- Done: no pending batch, and every held row waits for a pair (a complete pass with the
  -- current pairs could not rewrite it). The caller then finishes, or sends the missing pairs.
  v_done := NOT EXISTS (SELECT 1 FROM sdp._rekey_pending(r) x
                         WHERE x.status OPERATOR(pg_catalog.<>) 'UPLOADING')
            AND (v_held OPERATOR(pg_catalog.=) 0
                 OR (r.held_cursor_batch IS NULL AND r.held_pass_pairs OPERATOR(pg_catalog.=) r.pairs));
  v_unmapped := CASE WHEN v_held OPERATOR(pg_catalog.>) 0 THEN sdp._rekey_unmapped(r) ELSE 0 END;
  UPDATE sdp.key_rotation k
     SET state = CASE WHEN v_done AND v_held OPERATOR(pg_catalog.=) 0 AND v_uploading OPERATOR(pg_catalog.=) 0
                      THEN 'applied' ELSE 'applying' END
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  PERFORM sdp._audit('rekey.apply', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', r.client_id, 'domain', r.domain, 'rows', v_rewritten,
                                  'seen', v_seen, 'batches', v_batches, 'held', v_held,
                                  'unmapped', v_unmapped, 'rows_done', r.rows_done, 'done', v_done));
  RETURN pg_catalog.json_build_object('rows_done', r.rows_done,
                                      'rows_total', r.rows_done OPERATOR(pg_catalog.+) sdp._rekey_rows_left(r),
                                      'unmapped', v_unmapped, 'done', v_done, 'state', r.state,
                                      'held', v_held, 'uploading', v_uploading);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_apply(uuid, integer) IS
  'rewrites at most max_rows stored rows of a rotation with its pairs, in one transaction: {rows_done, rows_total, unmapped, done}';

CREATE FUNCTION sdp.sdp_rekey_finish(rotation_id uuid) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
  v_left bigint;
  v_held bigint;
  v_unmapped bigint;
  v_uploading bigint;
BEGIN
  r := sdp._rekey_rotation(sdp_rekey_finish.rotation_id, true, 'engineer', 'rekey_finish');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    RETURN sdp._rekey_json(r, r.rows_done);
  END IF;
  v_left := sdp._rekey_rows_left(r);
  SELECT pg_catalog.count(*) INTO v_held FROM sdp.key_rotation_held h
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  SELECT pg_catalog.count(*) INTO v_uploading FROM sdp._rekey_pending(r) x
   WHERE x.status OPERATOR(pg_catalog.=) 'UPLOADING';
  IF v_left > 0 OR v_uploading > 0 THEN
    v_unmapped := sdp._rekey_unmapped(r);
    IF v_uploading > 0 THEN
      PERFORM sdp._raise_conflict(
        format('rotation %s cannot finish: %s batch(es) of the domain are still uploading under key version %s',
               r.rotation_id, v_uploading, r.from_version),
        hint => 'seal (then apply again) or abort those uploads');
    END IF;
    PERFORM sdp._raise_conflict(
      format('rotation %s cannot finish: %s row(s) not rewritten, %s token(s) without a pair',
             r.rotation_id, v_left, v_unmapped),
      hint => CASE WHEN v_unmapped > 0 THEN 'list the tokens (sdp_rekey_tokens), send their pairs, apply again'
                   ELSE 'call sdp_rekey_apply until done' END);
  END IF;
  UPDATE sdp.key_rotation k SET state = 'finished', finished_at = pg_catalog.clock_timestamp(),
                                updated_at = pg_catalog.clock_timestamp()
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  DELETE FROM sdp.key_rotation_token k WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  INSERT INTO sdp.domain_key_version AS d (client_id, domain, key_version, key_id, rotated_at)
  VALUES (r.client_id, r.domain, r.to_version, r.to_key_id, r.finished_at)
  ON CONFLICT (client_id, domain) DO UPDATE
    SET key_version = EXCLUDED.key_version, key_id = EXCLUDED.key_id, rotated_at = EXCLUDED.rotated_at;
  PERFORM sdp._audit('rekey.finish', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', r.client_id, 'domain', r.domain,
                                  'from_version', r.from_version, 'to_version', r.to_version,
                                  'to_key_id', r.to_key_id, 'pairs', r.pairs, 'rows', r.rows_done));
  RETURN sdp._rekey_json(r, r.rows_done);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_finish(uuid) IS
  'ends a rotation and records the domain''s key version; PT409 while rows are left or tokens unmapped';

CREATE FUNCTION sdp.sdp_token_versions(client_id text, domain text)
RETURNS TABLE(old_token text, new_token text, from_version integer, to_version integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text := sdp._rekey_client(sdp_token_versions.client_id, 'engineer', 'token_versions');
  v_domain text := sdp_token_versions.domain;
BEGIN
  PERFORM sdp._rekey_check_domain(v_domain);
  RETURN QUERY
    SELECT p.old_token, p.new_token, k.from_version, k.to_version
      FROM sdp.key_rotation k
      JOIN sdp.key_rotation_pair p ON p.rotation_id OPERATOR(pg_catalog.=) k.rotation_id
     WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
     ORDER BY k.from_version, p.old_token COLLATE "C";
END
$$;
COMMENT ON FUNCTION sdp.sdp_token_versions(text, text) IS
  'old -> new token pairs of a client''s domain rotations (for joins that span a rotation)';

CREATE FUNCTION sdp.sdp_rekey_status(client_id text, domain text) RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text := sdp._rekey_client(sdp_rekey_status.client_id, 'engineer', 'rekey_status');
  v_domain text := sdp_rekey_status.domain;
  d sdp.domain_key_version;
  r sdp.key_rotation;
  v_versions integer[];
BEGIN
  PERFORM sdp._rekey_check_domain(v_domain);
  SELECT * INTO d FROM sdp.domain_key_version x
   WHERE x.client_id OPERATOR(pg_catalog.=) v_client AND x.domain OPERATOR(pg_catalog.=) v_domain;
  SELECT * INTO r FROM sdp.key_rotation k
   WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
     AND k.state OPERATOR(pg_catalog.<>) 'finished';
  SELECT pg_catalog.array_agg(DISTINCT k.key_version ORDER BY k.key_version) INTO v_versions
    FROM sdp.batch_column_key k
   WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain;
  RETURN pg_catalog.json_build_object(
    'client_id', v_client, 'domain', v_domain,
    'key_version', coalesce(d.key_version, 1), 'key_id', d.key_id, 'rotated_at', d.rotated_at,
    'stored_versions', coalesce(v_versions, '{}'),
    'rotation', CASE WHEN r.rotation_id IS NULL THEN NULL
                     ELSE sdp._rekey_json(r, r.rows_done OPERATOR(pg_catalog.+) sdp._rekey_rows_left(r)) END);
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_status(text, text) IS
  'current key version of a client''s domain, the versions stored, and any unfinished rotation';

-- ---- PostgREST wrappers (60_api.sql: SECURITY INVOKER, the sdp_* function checks the tenant) ---
-- POST /rpc/rekey_begin {"client_id","domain","from_version","to_version","to_key_id"}
CREATE FUNCTION sdp_api.rekey_begin(domain text, from_version integer, to_version integer,
                                    to_key_id text, client_id text DEFAULT NULL) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_begin(sdp.sdp_api_client(client_id), domain, from_version, to_version, to_key_id) $$;
COMMENT ON FUNCTION sdp_api.rekey_begin(text, integer, integer, text, text) IS
  'POST {domain, from_version, to_version, to_key_id[, client_id]} -> the rotation';

-- POST /rpc/rekey_tokens {"rotation_id"[,"after","max_tokens"]} -> ["token", ...]
CREATE FUNCTION sdp_api.rekey_tokens(rotation_id uuid, after text DEFAULT NULL,
                                     max_tokens integer DEFAULT 10000) RETURNS SETOF text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT t FROM sdp.sdp_rekey_tokens(rotation_id, after, coalesce(max_tokens, 10000)) AS t $$;
COMMENT ON FUNCTION sdp_api.rekey_tokens(uuid, text, integer) IS
  'POST {rotation_id[, after, max_tokens]} -> the next page of tokens still under the old key';

-- POST /rpc/rekey_pairs {"rotation_id","pairs":"old_token,new_token\n..."}
CREATE FUNCTION sdp_api.rekey_pairs(rotation_id uuid, pairs text) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_pairs(rotation_id, pairs) $$;
COMMENT ON FUNCTION sdp_api.rekey_pairs(uuid, text) IS
  'POST {rotation_id, pairs (CSV old_token,new_token)} -> {accepted, pairs}';

-- POST /rpc/rekey_apply {"rotation_id"[,"max_rows"]}
CREATE FUNCTION sdp_api.rekey_apply(rotation_id uuid, max_rows integer DEFAULT 20000) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_apply(rotation_id, coalesce(max_rows, 20000)) $$;
COMMENT ON FUNCTION sdp_api.rekey_apply(uuid, integer) IS
  'POST {rotation_id[, max_rows]} -> {rows_done, rows_total, unmapped, done}';

-- POST /rpc/rekey_finish {"rotation_id"}
CREATE FUNCTION sdp_api.rekey_finish(rotation_id uuid) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_finish(rotation_id) $$;
COMMENT ON FUNCTION sdp_api.rekey_finish(uuid) IS 'POST {rotation_id} -> the finished rotation; 409 while rows are left';

-- GET /rpc/token_versions?domain=…[&client_id=…]
CREATE FUNCTION sdp_api.token_versions(domain text, client_id text DEFAULT NULL)
RETURNS TABLE(old_token text, new_token text, from_version integer, to_version integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_token_versions(sdp.sdp_api_client(client_id), domain) $$;
COMMENT ON FUNCTION sdp_api.token_versions(text, text) IS
  'GET ?domain=…: the old -> new token pairs of the client''s rotations of that domain';

-- GET /rpc/rekey_status?domain=…[&client_id=…]
CREATE FUNCTION sdp_api.rekey_status(domain text, client_id text DEFAULT NULL) RETURNS json
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_status(sdp.sdp_api_client(client_id), domain) $$;
COMMENT ON FUNCTION sdp_api.rekey_status(text, text) IS
  'GET ?domain=…: the domain''s key version and any unfinished rotation';

REVOKE ALL ON FUNCTION
    sdp._rekey_hash_shape(integer),
    sdp._rekey_rotation(uuid, boolean, text, text),
    sdp._rekey_client(text, text, text),
    sdp._rekey_check_domain(text),
    sdp._rekey_pending(sdp.key_rotation),
    sdp._rekey_json(sdp.key_rotation, bigint),
    sdp._rekey_rows_left(sdp.key_rotation),
    sdp._rekey_unmapped(sdp.key_rotation),
    sdp._rekey_cell_sql(text, integer, integer, boolean),
    sdp._rekey_lookups_sql(text, integer[]),
    sdp._rekey_slice(sdp.key_rotation, sdp.key_rotation_batch, boolean, bigint, integer),
    sdp.sdp_rekey_begin(text, text, integer, integer, text),
    sdp.sdp_rekey_tokens(uuid, text, integer),
    sdp.sdp_rekey_pairs(uuid, text),
    sdp.sdp_rekey_apply(uuid, integer),
    sdp.sdp_rekey_finish(uuid),
    sdp.sdp_token_versions(text, text),
    sdp.sdp_rekey_status(text, text),
    sdp_api.rekey_begin(text, integer, integer, text, text),
    sdp_api.rekey_tokens(uuid, text, integer),
    sdp_api.rekey_pairs(uuid, text),
    sdp_api.rekey_apply(uuid, integer),
    sdp_api.rekey_finish(uuid),
    sdp_api.token_versions(text, text),
    sdp_api.rekey_status(text, text)
  FROM PUBLIC;
REVOKE ALL ON sdp.batch_column_key, sdp.domain_key_version, sdp.key_rotation, sdp.key_rotation_pair,
    sdp.key_rotation_batch, sdp.key_rotation_held, sdp.key_rotation_token
  FROM PUBLIC;
-- ---- key rotation of stored tokens (84_rekey.sql) ------------------------------------------
-- A client rotates its own domains (PostgREST wrappers or the SQL API, tenant-checked);
-- engineers and administrators for any client. The rotation tables are read through the
-- functions only.
GRANT EXECUTE ON FUNCTION
    sdp_api.rekey_begin(text, integer, integer, text, text), sdp_api.rekey_tokens(uuid, text, integer),
    sdp_api.rekey_pairs(uuid, text), sdp_api.rekey_apply(uuid, integer), sdp_api.rekey_finish(uuid),
    sdp_api.token_versions(text, text), sdp_api.rekey_status(text, text)
  TO sdp_client;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_rekey_begin(text, text, integer, integer, text), sdp.sdp_rekey_tokens(uuid, text, integer),
    sdp.sdp_rekey_pairs(uuid, text), sdp.sdp_rekey_apply(uuid, integer), sdp.sdp_rekey_finish(uuid),
    sdp.sdp_token_versions(text, text), sdp.sdp_rekey_status(text, text)
  TO sdp_client, sdp_admin, sdp_engineer;

-- ==== dash-api: the dashboard's server side (issue 22) ====
-- New in 86_dashboard.sql: staff sign-in (sdp.staff_user, sdp.jwt_secret, scrypt and HS256 in
-- staff_auth.cc), sdp_api.login and the dash_* readers; the authenticator may switch to the
-- governance roles. Changed: sdp_api.pre_request (60_api.sql) admits a dashboard token to the
-- dash_* functions and answers /rpc/login without a key; sdp._audit and sdp._access (76_audit.sql)
-- record the signed-in user (sdp._request_login). Privileges as 90_privileges.sql.
-- The web dashboard's server side (issue 22; docs/dashboard.md, "Server side: sign-in, roles and
-- endpoints"): staff sign-in with scrypt password hashes and short-lived HS256 JWTs, and the
-- dash_* readers the dashboard calls through PostgREST.
--
-- Sign-in. Staff are rows of sdp.staff_user (not database logins): a user name mapped to one db
-- role, the group roles of 75_governance_roles.sql (sdp_admin, sdp_engineer, sdp_analyst,
-- sdp_auditor, sdp_viewer) or a DP analyst's own role an admin enabled for the API
-- (sdp_api_enable_analyst, 80_privacy.sql). POST /rpc/login checks the password (scrypt,
-- staff_auth.cc) and answers a JWT signed with the secret PostgREST verifies with (its
-- jwt-secret, stored in sdp.jwt_secret by sdp_set_jwt_secret); PostgREST then switches to the
-- token's role claim for every other call. Failures are answered with a status set by the
-- function (401, 403, 429), not raised, so that the failed-attempt counter, the lockout and their
-- audit entries are committed.
--
-- Gates. Every sdp_dash_* function asks sdp._dash_require for the dashboard capability it serves
-- (sdp._dash_capabilities: derived from the caller's role exactly as the governance roles are,
-- docs/governance.md), so the database refuses (42501, HTTP 403) what the UI hides. Readers of
-- records, logs and budgets are access-logged (sdp._access). pre_request (60_api.sql) admits a
-- staff JWT to the dash_* functions only (sdp._api_admit_jwt below), and an API key never to them.

-- ---- PostgREST may switch to the staff roles --------------------------------------------------
-- sdp_authenticator is NOINHERIT: membership gives it the right to SET ROLE, no privileges. It
-- could switch to sdp_admin and the other group roles only for a JWT signed with the secret, and
-- pre_request then admits such a request to the dash_* functions only.
DO $grants$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer'] LOOP
    IF NOT pg_catalog.pg_has_role('sdp_authenticator', r, 'MEMBER') THEN
      EXECUTE pg_catalog.format('GRANT %I TO sdp_authenticator', r);
    END IF;
  END LOOP;
END
$grants$;

-- ---- secrets and users -------------------------------------------------------------------------
-- PostgREST's jwt-secret, which the sign-in function signs with. Owner only, like the API-key
-- pepper (40_auth.sql): no grant, row-level security without a policy.
CREATE TABLE sdp.jwt_secret (
  id     integer PRIMARY KEY CHECK (id = 1),
  secret text NOT NULL CHECK (pg_catalog.length(secret) >= 32),
  set_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sdp.jwt_secret IS 'PostgREST''s jwt-secret for signing staff tokens; owner only, never exposed';
ALTER TABLE sdp.jwt_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.jwt_secret FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('sdp.jwt_secret', '');

CREATE TABLE sdp.staff_user (
  username            text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9_.-]{0,62}$'),
  db_role             name NOT NULL,
  password_hash       bytea NOT NULL CHECK (pg_catalog.octet_length(password_hash) = 32),
  salt                bytea NOT NULL CHECK (pg_catalog.octet_length(salt) >= 16),
  scrypt_log_n        integer NOT NULL CHECK (scrypt_log_n BETWEEN 14 AND 20),
  scrypt_r            integer NOT NULL CHECK (scrypt_r BETWEEN 8 AND 32),
  scrypt_p            integer NOT NULL CHECK (scrypt_p BETWEEN 1 AND 4),
  failed_count        integer NOT NULL DEFAULT 0,
  locked_until        timestamptz,
  disabled            boolean NOT NULL DEFAULT false,
  created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
  password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  last_login          timestamptz
);
COMMENT ON TABLE sdp.staff_user IS 'dashboard users: scrypt password hash, db role, lockout state; owner only';
ALTER TABLE sdp.staff_user ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.staff_user FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('sdp.staff_user', '');

-- One row per token issued by sign-in (its jti). pre_request admits a dashboard token only while
-- its row exists and has not expired, so the database does not rest on the JWT secret alone: a
-- token forged with a leaked secret names no session, and disabling a user or changing its
-- password ends its sessions at once. Expired rows of a user are removed at its next sign-in.
CREATE TABLE sdp.staff_session (
  jti        text PRIMARY KEY,
  username   text NOT NULL REFERENCES sdp.staff_user (username) ON DELETE CASCADE,
  issued_at  timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
COMMENT ON TABLE sdp.staff_session IS 'dashboard sessions: the jti of each token sign-in issued; owner only';
CREATE INDEX staff_session_user ON sdp.staff_session (username);
ALTER TABLE sdp.staff_session ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.staff_session FORCE ROW LEVEL SECURITY;

-- C helpers (staff_auth.cc). Owner only: they take hashes and the secret as arguments.
CREATE FUNCTION sdp.sdp_staff_scrypt(password text, salt bytea, log_n integer, r integer, p integer)
RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_staff_scrypt' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_staff_scrypt_match(password text, salt bytea, log_n integer, r integer,
                                           p integer, expected bytea) RETURNS boolean
  AS 'MODULE_PATHNAME', 'sdp_staff_scrypt_match' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_jwt_sign(secret text, claims text) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_jwt_sign' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_jwt_verify(secret text, token text) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_jwt_verify' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_staff_scrypt(text, bytea, integer, integer, integer) IS
  'scrypt (OpenSSL) of a password: 32 bytes; N = 2^log_n';
COMMENT ON FUNCTION sdp.sdp_staff_scrypt_match(text, bytea, integer, integer, integer, bytea) IS
  'scrypt of the password equals the stored hash (constant-time compare)';
COMMENT ON FUNCTION sdp.sdp_jwt_sign(text, text) IS 'compact HS256 JWS of a JSON claims text';
COMMENT ON FUNCTION sdp.sdp_jwt_verify(text, text) IS
  'the claims text of an HS256 JWS whose signature verifies with the secret, else NULL (claims unchecked)';

-- scrypt cost of new hashes: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s). Stored per user, so
-- raising it later leaves existing hashes verifiable.
CREATE FUNCTION sdp._staff_cost(OUT log_n integer, OUT r integer, OUT p integer)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 15, 8, 1 $$;

CREATE FUNCTION sdp._jwt_signing_secret() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s.secret FROM sdp.jwt_secret s WHERE s.id OPERATOR(pg_catalog.=) 1 $$;

-- Why staff may not be mapped to `role`; NULL when they may: a governance group role, or a DP
-- analyst's own role that is enabled for the API and still passes its checks (80_privacy.sql).
CREATE FUNCTION sdp._staff_role_refusal(role name) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF role OPERATOR(pg_catalog.=) ANY (ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst', 'sdp_auditor',
                                            'sdp_viewer']::name[]) THEN
    RETURN NULL;
  END IF;
  IF role IS NULL OR NOT sdp._api_analyst_enabled(role) THEN
    RETURN 'is neither a governance role (sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer) nor an analyst role enabled for the API';
  END IF;
  RETURN sdp._api_analyst_refusal(role);
END
$$;

CREATE FUNCTION sdp._staff_check_password(password text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF password IS NULL OR pg_catalog.length(password) < 12 OR pg_catalog.octet_length(password) > 1024 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'a staff password has 12 to 1024 characters';
  END IF;
END
$$;

-- ---- dashboard capabilities -----------------------------------------------------------------------
-- What a role may see in the dashboard, derived as the governance roles are (75_governance_roles.sql,
-- sdp._caller_can): the UI shows its menu from this list, the sdp_dash_* functions refuse by it.
CREATE FUNCTION sdp._dash_capabilities(role name) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_exists boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_roles x WHERE x.rolname OPERATOR(pg_catalog.=) role);
  v_super boolean := coalesce((SELECT x.rolsuper FROM pg_catalog.pg_roles x
                                WHERE x.rolname OPERATOR(pg_catalog.=) role), false);
  v_admin boolean;
  v_engineer boolean;
  v_analyst boolean;
  v_auditor boolean;
  v_viewer boolean;
  v_dp boolean;
  v_caps text[] := '{}';
BEGIN
  IF NOT v_exists THEN
    RETURN v_caps;
  END IF;
  v_admin := v_super OR pg_catalog.pg_has_role(role, 'sdp_admin', 'MEMBER');
  v_engineer := v_admin OR pg_catalog.pg_has_role(role, 'sdp_engineer', 'MEMBER');
  v_analyst := v_super OR pg_catalog.pg_has_role(role, 'sdp_analyst', 'MEMBER');
  v_auditor := v_admin OR pg_catalog.pg_has_role(role, 'sdp_auditor', 'MEMBER');
  v_viewer := v_engineer OR v_analyst OR v_auditor OR pg_catalog.pg_has_role(role, 'sdp_viewer', 'MEMBER');
  v_dp := v_super OR pg_catalog.pg_has_role(role, 'sdp_dp_analyst', 'MEMBER');
  IF v_viewer THEN
    v_caps := v_caps || ARRAY['overview.read', 'batches.read', 'monitoring.read'];
  END IF;
  IF v_engineer OR v_analyst OR v_auditor THEN
    v_caps := v_caps || ARRAY['records.read', 'classification.read'];
  END IF;
  IF v_analyst AND NOT v_engineer THEN
    v_caps := v_caps || ARRAY['records.propose'];
  END IF;
  IF v_engineer THEN
    v_caps := v_caps || ARRAY['records.edit', 'records.approve', 'upload'];
  END IF;
  IF v_engineer OR v_auditor THEN
    v_caps := v_caps || ARRAY['records.history'];
  END IF;
  IF v_auditor THEN
    v_caps := v_caps || ARRAY['audit.read', 'access_log.read', 'compliance.read'];
  END IF;
  IF v_auditor OR v_dp THEN
    v_caps := v_caps || ARRAY['privacy.read'];
  END IF;
  IF v_dp THEN
    v_caps := v_caps || ARRAY['dp.query'];
  END IF;
  RETURN v_caps;
END
$$;

-- 42501 unless the caller holds the dashboard capability; the denial goes to the server log, as
-- sdp._require_capability's do. A request acting for a client (API key) holds none.
CREATE FUNCTION sdp._dash_require(capability text, action text, target text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp.sdp_auth_tenant() IS NOT NULL
     OR NOT capability OPERATOR(pg_catalog.=) ANY (sdp._dash_capabilities(sdp.sdp_caller_role())) THEN
    RAISE LOG 'sdp access denied: role=% login=% action=% target=%', sdp.sdp_caller_role(),
      pg_catalog.session_user(), action, coalesce(target, '-');
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = pg_catalog.format('permission denied: %s needs the %s capability', action, capability),
      HINT = 'see docs/dashboard.md, "Server side: sign-in, roles and endpoints"';
  END IF;
END
$$;

-- The signed-in user: the JWT's sub claim under PostgREST, else the caller's role (SQL).
CREATE FUNCTION sdp._dash_username() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(nullif(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', ''),
                  sdp.sdp_caller_role()::text)
$$;

-- ---- staff management (admin) -------------------------------------------------------------------
CREATE FUNCTION sdp.sdp_set_jwt_secret(secret text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'set_jwt_secret');
  IF secret IS NULL OR pg_catalog.length(secret) < 32 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'the JWT secret needs at least 32 characters',
      HINT = 'use the value of PostgREST''s jwt-secret (e.g. openssl rand -hex 32)';
  END IF;
  INSERT INTO sdp.jwt_secret AS s (id, secret) VALUES (1, sdp_set_jwt_secret.secret)
  ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret, set_at = pg_catalog.now();
  PERFORM sdp._audit('staff.jwt_secret_set', NULL, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_set_jwt_secret(text) IS
  'admin: the secret staff tokens are signed with (PostgREST''s jwt-secret, at least 32 characters); audited, never shown';

CREATE FUNCTION sdp.sdp_staff_create(username text, role name, password text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_refusal text;
  v_salt bytea := sdp.sdp_auth_new_secret();
  c record := sdp._staff_cost();
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_create', sdp_staff_create.username);
  IF sdp_staff_create.username IS NULL OR sdp_staff_create.username !~ '^[a-z][a-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'a user name has 1 to 63 characters from a-z 0-9 _ . -, starting with a letter';
  END IF;
  v_refusal := sdp._staff_role_refusal(sdp_staff_create.role);
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = pg_catalog.format('role %s cannot sign in to the dashboard: it %s',
                                  sdp._echo(coalesce(sdp_staff_create.role::text, 'NULL')), v_refusal);
  END IF;
  PERFORM sdp._staff_check_password(sdp_staff_create.password);
  BEGIN
    INSERT INTO sdp.staff_user (username, db_role, password_hash, salt, scrypt_log_n, scrypt_r, scrypt_p)
    VALUES (sdp_staff_create.username, sdp_staff_create.role,
            sdp.sdp_staff_scrypt(sdp_staff_create.password, v_salt, c.log_n, c.r, c.p), v_salt,
            c.log_n, c.r, c.p);
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict(pg_catalog.format('staff user %s already exists', sdp_staff_create.username),
                                hint => 'sdp.sdp_staff_set_password(username, password) changes a password');
  END;
  PERFORM sdp._audit('staff.create', sdp_staff_create.username,
                     pg_catalog.jsonb_build_object('role', sdp_staff_create.role));
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_create(text, name, text) IS
  'admin: a dashboard user mapped to a governance role or an API-enabled analyst role; scrypt-hashed password; audited';

CREATE FUNCTION sdp.sdp_staff_set_password(username text, password text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_salt bytea := sdp.sdp_auth_new_secret();
  c record := sdp._staff_cost();
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_set_password', sdp_staff_set_password.username);
  PERFORM sdp._staff_check_password(sdp_staff_set_password.password);
  UPDATE sdp.staff_user u
     SET password_hash = sdp.sdp_staff_scrypt(sdp_staff_set_password.password, v_salt, c.log_n, c.r, c.p),
         salt = v_salt, scrypt_log_n = c.log_n, scrypt_r = c.r, scrypt_p = c.p,
         password_changed_at = pg_catalog.now(), failed_count = 0, locked_until = NULL
   WHERE u.username = sdp_staff_set_password.username;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown staff user %s', sdp._echo(coalesce(sdp_staff_set_password.username, '')));
  END IF;
  DELETE FROM sdp.staff_session x WHERE x.username = sdp_staff_set_password.username;
  PERFORM sdp._audit('staff.set_password', sdp_staff_set_password.username, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_set_password(text, text) IS
  'admin: a new password for a dashboard user (also clears a lockout); audited';

CREATE FUNCTION sdp.sdp_staff_disable(username text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_disable', sdp_staff_disable.username);
  UPDATE sdp.staff_user u SET disabled = true WHERE u.username = sdp_staff_disable.username;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown staff user %s', sdp._echo(coalesce(sdp_staff_disable.username, '')));
  END IF;
  DELETE FROM sdp.staff_session x WHERE x.username = sdp_staff_disable.username;
  PERFORM sdp._audit('staff.disable', sdp_staff_disable.username, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_disable(text) IS
  'admin: the user can no longer sign in, and tokens already issued stop working at once; audited';

CREATE FUNCTION sdp.sdp_staff_unlock(username text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'staff_unlock', sdp_staff_unlock.username);
  UPDATE sdp.staff_user u SET failed_count = 0, locked_until = NULL
   WHERE u.username = sdp_staff_unlock.username;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown staff user %s', sdp._echo(coalesce(sdp_staff_unlock.username, '')));
  END IF;
  PERFORM sdp._audit('staff.unlock', sdp_staff_unlock.username, '{}');
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_unlock(text) IS 'admin: clears a lockout and the failed-attempt count; audited';

-- ---- sign-in -------------------------------------------------------------------------------------
-- A refusal as the answer of POST /rpc/login: the HTTP status set for PostgREST and an RFC 7807
-- problem body (with PostgREST's code/message too). Returned, not raised: the transaction, with
-- the failed-attempt count and the audit entries, commits.
CREATE FUNCTION sdp._staff_refusal(status integer, code text, title text, detail text,
                                   retry_after integer DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_catalog.set_config('response.status', status::text, true);
  IF retry_after IS NOT NULL THEN
    PERFORM pg_catalog.set_config('response.headers',
      pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('Retry-After', retry_after::text))::text, true);
  ELSIF status OPERATOR(pg_catalog.=) 401 THEN
    PERFORM pg_catalog.set_config('response.headers', '[{"WWW-Authenticate": "Bearer"}]', true);
  END IF;
  RETURN pg_catalog.jsonb_build_object('type', 'about:blank', 'title', title, 'status', status,
                                       'detail', detail, 'code', code, 'message', detail);
END
$$;

CREATE FUNCTION sdp.sdp_staff_login(username text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  u sdp.staff_user;
  v_ok boolean;
  v_refusal text;
  v_now timestamptz := pg_catalog.now();
  v_iat bigint := pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()))::bigint;
  v_secret text;
  v_wrong constant text := 'wrong user name or password';
  v_jti text := pg_catalog.substr(sdp.sdp_auth_new_key(), 5);  -- 192 random bits, base64url
BEGIN
  -- Inputs no stored user or password can match still cost one scrypt below.
  IF sdp_staff_login.username IS NOT NULL AND pg_catalog.length(sdp_staff_login.username) <= 63 THEN
    SELECT * INTO u FROM sdp.staff_user x WHERE x.username = sdp_staff_login.username FOR UPDATE;
  END IF;
  IF u.username IS NULL THEN
    -- Unknown user: the same work as a known one (a scrypt over a fixed salt), the same answer.
    PERFORM sdp.sdp_staff_scrypt_match(pg_catalog.left(coalesce(sdp_staff_login.password, ''), 1024),
                                       pg_catalog.decode(pg_catalog.repeat('5a', 32), 'hex'),
                                       (sdp._staff_cost()).log_n, (sdp._staff_cost()).r, (sdp._staff_cost()).p,
                                       pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'));
    -- The typed name is not recorded: it is sometimes a password typed into the wrong field.
    PERFORM sdp._audit('staff.login_failed', NULL, '{"reason": "unknown_user"}');
    RETURN sdp._staff_refusal(401, 'PT401', 'Unauthorized', v_wrong);
  END IF;
  v_ok := sdp.sdp_staff_scrypt_match(pg_catalog.left(coalesce(sdp_staff_login.password, ''), 1024),
                                     u.salt, u.scrypt_log_n, u.scrypt_r, u.scrypt_p, u.password_hash);
  IF u.locked_until IS NOT NULL AND u.locked_until > v_now THEN
    PERFORM sdp._audit('staff.login_locked', u.username,
                       pg_catalog.jsonb_build_object('locked_until', u.locked_until));
    RETURN sdp._staff_refusal(429, 'PT429', 'Too Many Requests',
      'too many failed sign-ins: this account is locked for a while; an admin can unlock it',
      greatest(1, pg_catalog.ceil(EXTRACT(epoch FROM u.locked_until - v_now))::integer));
  END IF;
  IF u.disabled THEN
    PERFORM sdp._audit('staff.login_failed', u.username, '{"reason": "disabled"}');
    RETURN sdp._staff_refusal(401, 'PT401', 'Unauthorized', v_wrong);
  END IF;
  IF NOT v_ok THEN
    u.failed_count := u.failed_count + 1;
    PERFORM sdp._audit('staff.login_failed', u.username,
                       pg_catalog.jsonb_build_object('reason', 'wrong_password', 'failures', u.failed_count));
    IF u.failed_count >= 5 THEN
      UPDATE sdp.staff_user x SET failed_count = 0, locked_until = v_now + interval '15 minutes'
       WHERE x.username = u.username;
      PERFORM sdp._audit('staff.lockout', u.username,
                         pg_catalog.jsonb_build_object('failures', u.failed_count, 'minutes', 15));
    ELSE
      UPDATE sdp.staff_user x SET failed_count = u.failed_count WHERE x.username = u.username;
    END IF;
    RETURN sdp._staff_refusal(401, 'PT401', 'Unauthorized', v_wrong);
  END IF;
  v_refusal := sdp._staff_role_refusal(u.db_role);
  IF v_refusal IS NOT NULL THEN
    PERFORM sdp._audit('staff.login_failed', u.username,
                       pg_catalog.jsonb_build_object('reason', 'role', 'role', u.db_role));
    RETURN sdp._staff_refusal(403, 'PT403', 'Forbidden',
      pg_catalog.format('the role of this account (%s) may not use the dashboard: it %s', u.db_role, v_refusal));
  END IF;
  v_secret := sdp._jwt_signing_secret();
  IF v_secret IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = 'the JWT secret is not set',
      HINT = 'an admin sets it with sdp.sdp_set_jwt_secret(secret), the value of PostgREST''s jwt-secret';
  END IF;
  UPDATE sdp.staff_user x SET failed_count = 0, locked_until = NULL, last_login = v_now
   WHERE x.username = u.username;
  DELETE FROM sdp.staff_session x WHERE x.username = u.username AND x.expires_at < v_now;
  INSERT INTO sdp.staff_session (jti, username, issued_at, expires_at)
  VALUES (v_jti, u.username, pg_catalog.to_timestamp(v_iat), pg_catalog.to_timestamp(v_iat + 900));
  PERFORM sdp._audit('staff.login', u.username, pg_catalog.jsonb_build_object('role', u.db_role));
  RETURN pg_catalog.jsonb_build_object(
    'token', sdp.sdp_jwt_sign(v_secret, pg_catalog.jsonb_build_object(
               'role', u.db_role, 'sub', u.username, 'aud', 'sdp-dashboard',
               'iat', v_iat, 'exp', v_iat + 900, 'jti', v_jti)::text),
    'role', u.db_role,
    'username', u.username,
    'expires_at', pg_catalog.to_char(pg_catalog.to_timestamp(v_iat + 900) AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'capabilities', pg_catalog.to_jsonb(sdp._dash_capabilities(u.db_role)));
END
$$;
COMMENT ON FUNCTION sdp.sdp_staff_login(text, text) IS
  'dashboard sign-in: a 15-minute HS256 JWT for the user''s role, or 401/403/429 (set as response.status); lockout after 5 failures for 15 minutes; audited';

-- pre_request's check for a request PostgREST switched to a JWT's role (sdp_api.pre_request,
-- 60_api.sql). A governance role (only a dashboard token can name one) opens the dash_* functions
-- only, and only while the token's sub is an enabled staff user of that very role, its jti a
-- session sign-in issued that has not expired, and its audience the dashboard's: disabling a
-- user, a new password, a role change or signing out ends its tokens at once. An analyst's
-- role opens the dp_* functions as before (sdp._api_admit_analyst) and, with a dashboard token, the
-- dash_* functions. PT403 for a path the token does not open, PT401 for a token no longer valid.
CREATE FUNCTION sdp._api_admit_jwt(path text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_role name := sdp.sdp_caller_role();
  v_claims jsonb := nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
  v_staff boolean := v_role OPERATOR(pg_catalog.=) ANY (ARRAY['sdp_admin', 'sdp_engineer', 'sdp_analyst',
                                                              'sdp_auditor', 'sdp_viewer']::name[]);
  v_dash boolean := coalesce(path OPERATOR(pg_catalog.~) '^/rpc/dash_[a-z_]+$', false);
  v_refusal text;
BEGIN
  IF NOT v_staff AND NOT v_dash THEN
    PERFORM sdp._api_admit_analyst(path);
    RETURN;
  END IF;
  IF NOT v_staff THEN
    v_refusal := sdp._staff_role_refusal(v_role);
    IF v_refusal IS NOT NULL THEN
      RAISE LOG 'sdp access denied: role=% login=% action=api target=%: it %', v_role,
        pg_catalog.session_user(), coalesce(path, '-'), v_refusal;
      RAISE EXCEPTION USING ERRCODE = 'PT403',
        MESSAGE = pg_catalog.format('role %s may not use the dashboard: it %s', sdp._echo(v_role), v_refusal);
    END IF;
  ELSIF NOT v_dash THEN
    RAISE LOG 'sdp access denied: role=% login=% action=api target=%: a staff token opens dash_* only',
      v_role, pg_catalog.session_user(), coalesce(path, '-');
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = 'a dashboard token opens the dash_* functions only',
      HINT = 'clients authenticate with X-API-Key, not with a JWT';
  END IF;
  IF v_claims IS NULL OR v_claims ->> 'aud' IS DISTINCT FROM 'sdp-dashboard'
     OR NOT EXISTS (SELECT 1 FROM sdp.staff_user u JOIN sdp.staff_session x ON x.username = u.username
                     WHERE u.username = v_claims ->> 'sub' AND u.db_role OPERATOR(pg_catalog.=) v_role
                       AND NOT u.disabled AND x.jti = v_claims ->> 'jti'
                       AND x.expires_at > pg_catalog.now()) THEN
    RAISE LOG 'sdp access denied: role=% login=% action=api target=%: not a current dashboard token',
      v_role, pg_catalog.session_user(), coalesce(path, '-');
    RAISE EXCEPTION USING ERRCODE = 'PT401',
      MESSAGE = 'this token is not a current dashboard sign-in',
      HINT = 'sign in again (POST /rpc/login)';
  END IF;
END
$$;

-- ---- readers and writers of the dashboard ------------------------------------------------------
-- An item of the batch list (contract: docs/dashboard.md).
CREATE FUNCTION sdp._dash_batch_json(b sdp.processing_batch) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'batch_id', b.batch_id, 'client_id', b.client_id, 'processing_type', b.processing_type,
    'status', b.status, 'accepted_records', b.accepted_records,
    'processed_records', b.processed_records, 'received_bytes', b.received_bytes,
    'model_version', b.model_version, 'created_at', b.created_at, 'received_at', b.received_at,
    'processed_at', b.processed_at, 'error', b.error)
$$;

-- Page size: 50 by default, at most 500; 22023 outside.
CREATE FUNCTION sdp._dash_page(row_limit integer, row_offset integer, OUT lim integer, OUT off integer)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  lim := coalesce(row_limit, 50);
  off := coalesce(row_offset, 0);
  IF lim < 1 OR lim > 500 OR off < 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'row_limit is 1 to 500 and row_offset is 0 or more';
  END IF;
END
$$;

CREATE FUNCTION sdp.sdp_dash_me() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caps text[] := CASE WHEN sdp.sdp_auth_tenant() IS NULL
                        THEN sdp._dash_capabilities(sdp.sdp_caller_role()) ELSE '{}' END;
BEGIN
  IF pg_catalog.cardinality(v_caps) = 0 THEN
    PERFORM sdp._dash_require('overview.read', 'dash_me');
  END IF;
  RETURN pg_catalog.jsonb_build_object('username', sdp._dash_username(), 'role', sdp.sdp_caller_role(),
                                       'capabilities', pg_catalog.to_jsonb(v_caps));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_me() IS 'the signed-in user, its role and its dashboard capabilities';

CREATE FUNCTION sdp.sdp_dash_overview() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_dev boolean := sdp.sdp_is_dev();
BEGIN
  PERFORM sdp._dash_require('overview.read', 'dash_overview');
  RETURN pg_catalog.jsonb_build_object(
    'batches_by_status', (
      SELECT pg_catalog.jsonb_object_agg(s.st::text, coalesce(c.n, 0) ORDER BY s.st)
        FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::sdp.batch_state)) s(st)
        LEFT JOIN (SELECT b.status, pg_catalog.count(*) AS n FROM sdp.processing_batch b
                    WHERE NOT b.dev_only OR v_dev GROUP BY b.status) c ON c.status = s.st),
    'ingested_per_day', coalesce((
      SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('day', d.day, 'records', d.records,
                                                                'processed', d.processed) ORDER BY d.day)
        FROM (SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day,
                     pg_catalog.sum(b.accepted_records)::bigint AS records,
                     pg_catalog.sum(b.processed_records)::bigint AS processed
                FROM sdp.processing_batch b
               WHERE NOT b.dev_only OR v_dev
               GROUP BY 1 ORDER BY 1 DESC LIMIT 31) d), '[]'::jsonb),
    'integrity', (SELECT pg_catalog.jsonb_build_object('failures', pg_catalog.count(*),
                                                       'last_failure_at', pg_catalog.max(f.detected_at),
                                                       'checked_at', pg_catalog.now())
                    FROM sdp.integrity_failure f),
    'worker', pg_catalog.jsonb_build_object(
      'state', sdp.sdp_ready() ->> 'worker',
      'last_run', (SELECT pg_catalog.max(b.processed_at) FROM sdp.processing_batch b),
      'queued', (SELECT pg_catalog.count(*) FROM sdp.processing_batch b
                  WHERE b.status = 'RECEIVED' AND (NOT b.dev_only OR v_dev))),
    'audit_head', (SELECT pg_catalog.jsonb_build_object('seq', h.seq, 'entry_hash', pg_catalog.encode(h.hash, 'hex'))
                     FROM sdp.audit_head h WHERE h.id = 1));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_overview() IS
  'dashboard overview: batches per status, records per day, integrity failures, worker, audit head (aggregates only)';

CREATE FUNCTION sdp.sdp_dash_batches(status text DEFAULT NULL, client_id text DEFAULT NULL,
                                     row_limit integer DEFAULT NULL, row_offset integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_status sdp.batch_state;
  v_client text := nullif(sdp_dash_batches.client_id, '');
  v_dev boolean := sdp.sdp_is_dev();
  p record := sdp._dash_page(row_limit, row_offset);
  v_total bigint;
  v_items jsonb;
BEGIN
  PERFORM sdp._dash_require('batches.read', 'dash_batches');
  IF nullif(sdp_dash_batches.status, '') IS NOT NULL THEN
    IF NOT sdp_dash_batches.status = ANY (pg_catalog.enum_range(NULL::sdp.batch_state)::text[]) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = pg_catalog.format('unknown status %s', sdp._echo(sdp_dash_batches.status)),
        HINT = 'one of UPLOADING, RECEIVED, PROCESSING, PROCESSED, FAILED';
    END IF;
    v_status := sdp_dash_batches.status::sdp.batch_state;
  END IF;
  SELECT pg_catalog.count(*) INTO v_total FROM sdp.processing_batch b
   WHERE (NOT b.dev_only OR v_dev) AND (v_status IS NULL OR b.status = v_status)
     AND (v_client IS NULL OR b.client_id = v_client);
  SELECT coalesce(pg_catalog.jsonb_agg(sdp._dash_batch_json(b) ORDER BY b.created_at DESC, b.batch_id), '[]')
    INTO v_items
    FROM (SELECT * FROM sdp.processing_batch b
           WHERE (NOT b.dev_only OR v_dev) AND (v_status IS NULL OR b.status = v_status)
             AND (v_client IS NULL OR b.client_id = v_client)
           ORDER BY b.created_at DESC, b.batch_id LIMIT p.lim OFFSET p.off) b;
  RETURN pg_catalog.jsonb_build_object('total', v_total, 'items', v_items);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_batches(text, text, integer, integer) IS
  'batches, newest first, with status, counts, bytes, model and times (paged)';

CREATE FUNCTION sdp.sdp_dash_batch(batch_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch;
BEGIN
  PERFORM sdp._dash_require('batches.read', 'dash_batch', sdp_dash_batch.batch_id::text);
  b := sdp._visible_batch(sdp_dash_batch.batch_id, false);
  RETURN sdp._dash_batch_json(b) || pg_catalog.jsonb_build_object(
    'columns', pg_catalog.to_jsonb(b.columns),
    'chunks', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'seq', c.seq, 'records', c.records, 'bytes', c.bytes,
                          'chunk_sha256', c.chunk_sha256, 'received_at', c.received_at) ORDER BY c.seq)
                          FROM sdp.batch_chunk c WHERE c.batch_id = b.batch_id), '[]'),
    'classification', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                  'column_name', x.column_name, 'transform', x.transform, 'class', x.class,
                                  'sensitivity', x.sensitivity, 'source', x.source) ORDER BY x.id)
                                  FROM sdp.column_classification x WHERE x.batch_id = b.batch_id), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_batch(uuid) IS 'one batch with its chunks, columns and column classes';

-- A record as the dashboard shows it: fields by column name, score and band, integrity of the
-- row's MAC, current version.
CREATE FUNCTION sdp._dash_record_json(k bytea, t sdp.tokenized_record, columns text[],
                                      r sdp.processed_result) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'record_id', sdp.sdp_record_id(t.batch_id, t.row_no), 'batch_id', t.batch_id, 'row_no', t.row_no,
    'record_key', t.record_key,
    'fields', coalesce((SELECT pg_catalog.jsonb_object_agg(u.c, u.f)
                          FROM unnest(columns, t.fields) u(c, f) WHERE u.c IS NOT NULL), '{}'),
    'score', r.score, 'risk_band', r.risk_band,
    'integrity', CASE WHEN sdp._record_ok(k, t) THEN 'ok' ELSE 'failed' END,
    'version', coalesce((SELECT x.version_no FROM sdp.record_version x
                          WHERE x.batch_id = t.batch_id AND x.row_no = t.row_no AND x.status = 'current'), 1))
$$;

CREATE FUNCTION sdp.sdp_dash_records(batch_id uuid DEFAULT NULL, search text DEFAULT NULL,
                                     risk_band text DEFAULT NULL, row_limit integer DEFAULT NULL,
                                     row_offset integer DEFAULT NULL, sort text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_batch uuid := sdp_dash_records.batch_id;
  v_search text := nullif(sdp_dash_records.search, '');
  v_band text := nullif(sdp_dash_records.risk_band, '');
  v_sort text := coalesce(nullif(sdp_dash_records.sort, ''), 'row_no');
  v_dev boolean := sdp.sdp_is_dev();
  v_key bytea := sdp._integrity_key();
  p record := sdp._dash_page(row_limit, row_offset);
  v_total bigint;
  v_items jsonb;
BEGIN
  PERFORM sdp._dash_require('records.read', 'dash_records', v_batch::text);
  IF v_batch IS NOT NULL THEN
    PERFORM sdp._visible_batch(v_batch, false);
  END IF;
  IF v_band IS NOT NULL AND v_band NOT IN ('low', 'medium', 'high') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'risk_band is low, medium or high';
  END IF;
  IF v_sort NOT IN ('row_no', '-row_no', 'score', '-score', 'record_key', '-record_key') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'sort is row_no, score or record_key, with - for descending';
  END IF;
  SELECT pg_catalog.count(*) INTO v_total
    FROM sdp.tokenized_record t JOIN sdp.processing_batch b ON b.batch_id = t.batch_id
    LEFT JOIN sdp.processed_result r ON r.batch_id = t.batch_id AND r.row_no = t.row_no
   WHERE (v_batch IS NULL OR t.batch_id = v_batch) AND (NOT b.dev_only OR v_dev)
     AND (v_search IS NULL OR pg_catalog.starts_with(t.record_key, v_search))
     AND (v_band IS NULL OR r.risk_band = v_band);
  SELECT coalesce(pg_catalog.jsonb_agg(sdp._dash_record_json(v_key, q.t, q.columns, q.r) ORDER BY q.n), '[]')
    INTO v_items
    FROM (SELECT t, b.columns, r,
                 pg_catalog.row_number() OVER (ORDER BY
                   CASE v_sort WHEN 'score' THEN r.score END ASC NULLS LAST,
                   CASE v_sort WHEN '-score' THEN r.score END DESC NULLS LAST,
                   CASE v_sort WHEN 'record_key' THEN t.record_key END ASC,
                   CASE v_sort WHEN '-record_key' THEN t.record_key END DESC,
                   CASE v_sort WHEN '-row_no' THEN t.row_no END DESC,
                   t.batch_id, t.row_no) AS n
            FROM sdp.tokenized_record t JOIN sdp.processing_batch b ON b.batch_id = t.batch_id
            LEFT JOIN sdp.processed_result r ON r.batch_id = t.batch_id AND r.row_no = t.row_no
           WHERE (v_batch IS NULL OR t.batch_id = v_batch) AND (NOT b.dev_only OR v_dev)
             AND (v_search IS NULL OR pg_catalog.starts_with(t.record_key, v_search))
             AND (v_band IS NULL OR r.risk_band = v_band)
           ORDER BY n LIMIT p.lim OFFSET p.off) q;
  PERFORM sdp._access('dash_records', coalesce(v_batch::text, '*'), 'allowed', pg_catalog.jsonb_array_length(v_items));
  RETURN pg_catalog.jsonb_build_object('total', v_total, 'items', v_items);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_records(uuid, text, text, integer, integer, text) IS
  'records (tokens only) with score, band, integrity and version; filters, server-side paging; access-logged';

CREATE FUNCTION sdp.sdp_dash_record(record_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id record := sdp._parse_record_id(sdp_dash_record.record_id);
  b sdp.processing_batch;
  t sdp.tokenized_record;
  r sdp.processed_result;
BEGIN
  PERFORM sdp._dash_require('records.read', 'dash_record', sdp_dash_record.record_id);
  b := sdp._visible_batch(id.batch_id, false);
  SELECT * INTO t FROM sdp.tokenized_record x WHERE x.batch_id = id.batch_id AND x.row_no = id.row_no;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = pg_catalog.format('unknown record %s', sdp.sdp_record_id(id.batch_id, id.row_no));
  END IF;
  SELECT * INTO r FROM sdp.processed_result x WHERE x.batch_id = id.batch_id AND x.row_no = id.row_no;
  PERFORM sdp._access('dash_record', sdp_dash_record.record_id, 'allowed', 1);
  RETURN sdp._dash_record_json(sdp._integrity_key(), t, b.columns, r)
         || pg_catalog.jsonb_build_object('client_id', b.client_id, 'status', b.status,
                                          'model_version', r.model_version);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record(text) IS 'one record as in dash_records, with its batch''s client and status; access-logged';

CREATE FUNCTION sdp.sdp_dash_record_history(record_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id record := sdp._parse_record_id(sdp_dash_record_history.record_id);
  b sdp.processing_batch;
BEGIN
  PERFORM sdp._dash_require('records.history', 'dash_record_history', sdp_dash_record_history.record_id);
  b := sdp._visible_batch(id.batch_id, false);
  RETURN pg_catalog.jsonb_build_object('record_id', sdp_dash_record_history.record_id, 'items', coalesce((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'version_id', h.version_id, 'version_no', h.version_no, 'status', h.status,
             'base_version', h.base_version, 'changed_columns', pg_catalog.to_jsonb(h.changed_columns),
             'fields', coalesce((SELECT pg_catalog.jsonb_object_agg(u.c, u.f)
                                   FROM unnest(b.columns, h.fields) u(c, f) WHERE u.c IS NOT NULL), '{}'),
             'proposed_by', h.proposed_by, 'proposed_at', h.proposed_at,
             'decided_by', h.decided_by, 'decided_at', h.decided_at) ORDER BY h.n)
      FROM (SELECT x.*, pg_catalog.row_number() OVER () AS n
              FROM sdp.sdp_record_history(sdp_dash_record_history.record_id) x) h), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record_history(text) IS
  'every version of a record (engineer, auditor, admin; sdp_record_history, access-logged)';

-- The record is named by record_id or, for PUT /api/v1/records/{id} (Caddy), by X-Record-Id.
CREATE FUNCTION sdp.sdp_dash_record_update(record_id text DEFAULT NULL, patch jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_rid text := coalesce(nullif(sdp_dash_record_update.record_id, ''), sdp.sdp_api_header('x-record-id'));
BEGIN
  IF NOT 'records.edit' = ANY (sdp._dash_capabilities(sdp.sdp_caller_role())) THEN
    PERFORM sdp._dash_require('records.propose', 'dash_record_update', v_rid);
  END IF;
  RETURN sdp.sdp_update_record(v_rid, sdp_dash_record_update.patch);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record_update(text, jsonb) IS
  'edits a record: engineer/admin a new version, analyst a pending proposal (sdp_update_record; audited)';

CREATE FUNCTION sdp.sdp_dash_record_decide(version_id bigint, approve boolean) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._dash_require('records.approve', 'dash_record_decide', sdp_dash_record_decide.version_id::text);
  IF sdp_dash_record_decide.approve IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'approve is true or false';
  END IF;
  IF sdp_dash_record_decide.approve THEN
    RETURN sdp.sdp_approve_version(sdp_dash_record_decide.version_id);
  END IF;
  RETURN sdp.sdp_reject_version(sdp_dash_record_decide.version_id);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_record_decide(bigint, boolean) IS
  'approves or rejects a pending proposal (engineer/admin; audited)';

CREATE FUNCTION sdp.sdp_dash_audit(actor text DEFAULT NULL, action text DEFAULT NULL,
                                   since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL,
                                   user_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_actor text := coalesce(nullif(sdp_dash_audit.actor, ''), nullif(sdp_dash_audit.user_id, ''));
  v_action text := nullif(sdp_dash_audit.action, '');
  p record := sdp._dash_page(row_limit, 0);
  v_items jsonb;
  v_broken record;
  h sdp.audit_head;
BEGIN
  PERFORM sdp._dash_require('audit.read', 'dash_audit');
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'seq', l.seq, 'at', l.at, 'actor', l.actor, 'login', l.login, 'client_id', l.client_id,
           'action', l.event, 'target', l.target, 'details', l.details,
           'entry_hash', pg_catalog.encode(l.entry_hash, 'hex')) ORDER BY l.seq DESC), '[]')
    INTO v_items
    FROM (SELECT * FROM sdp.audit_log x
           WHERE (v_actor IS NULL OR x.actor = v_actor OR x.target = v_actor)
             AND (v_action IS NULL OR x.event = v_action OR pg_catalog.starts_with(x.event, v_action || '.'))
             AND (sdp_dash_audit.since IS NULL OR x.at >= sdp_dash_audit.since)
           ORDER BY x.seq DESC LIMIT p.lim) l;
  SELECT * INTO v_broken FROM sdp.sdp_audit_verify() v LIMIT 1;
  SELECT * INTO h FROM sdp.audit_head x WHERE x.id = 1;
  PERFORM sdp._access('dash_audit', v_action, 'allowed', pg_catalog.jsonb_array_length(v_items));
  RETURN pg_catalog.jsonb_build_object('items', v_items, 'verify', pg_catalog.jsonb_build_object(
    'ok', v_broken.seq IS NULL, 'checked', h.seq, 'head_seq', h.seq,
    'head_hash', pg_catalog.encode(h.hash, 'hex'), 'broken_seq', v_broken.seq, 'reason', v_broken.reason));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_audit(text, text, timestamptz, integer, text) IS
  'audit log entries (newest first; actor or user_id, action prefix, since) and the chain verification';

CREATE FUNCTION sdp.sdp_dash_access_log(actor text DEFAULT NULL, action text DEFAULT NULL,
                                        since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_actor text := nullif(sdp_dash_access_log.actor, '');
  v_action text := nullif(sdp_dash_access_log.action, '');
  p record := sdp._dash_page(row_limit, 0);
  v_items jsonb;
BEGIN
  PERFORM sdp._dash_require('access_log.read', 'dash_access_log');
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', l.id, 'at', l.at, 'actor', l.actor, 'login', l.login, 'client_id', l.client_id,
           'action', l.action, 'target', l.target, 'outcome', l.outcome, 'rows', l.rows) ORDER BY l.id DESC), '[]')
    INTO v_items
    FROM (SELECT * FROM sdp.access_log x
           WHERE (v_actor IS NULL OR x.actor = v_actor)
             AND (v_action IS NULL OR x.action = v_action)
             AND (sdp_dash_access_log.since IS NULL OR x.at >= sdp_dash_access_log.since)
           ORDER BY x.id DESC LIMIT p.lim) l;
  PERFORM sdp._access('dash_access_log', v_action, 'allowed', pg_catalog.jsonb_array_length(v_items));
  RETURN pg_catalog.jsonb_build_object('items', v_items);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_access_log(text, text, timestamptz, integer) IS
  'access log entries, newest first (actor, action, since)';

-- Budgets: an auditor or admin sees every grant; an analyst the grants of the roles it belongs to.
CREATE FUNCTION sdp.sdp_dash_privacy() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_all boolean := 'audit.read' = ANY (sdp._dash_capabilities(sdp.sdp_caller_role()));
  v_grants jsonb;
  v_burn jsonb;
BEGIN
  PERFORM sdp._dash_require('privacy.read', 'dash_privacy');
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'grantee', g.grantee, 'dataset', g.dataset, 'epsilon', g.epsilon, 'delta', g.delta,
           'spent_epsilon', g.epsilon_spent, 'spent_delta', g.delta_spent,
           'remaining_epsilon', g.epsilon - g.epsilon_spent) ORDER BY g.grantee, g.dataset), '[]')
    INTO v_grants
    FROM sdp.dp_grant g
   WHERE v_all OR sdp.sdp_caller_has_role(g.grantee::name);
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'at', c.at, 'grantee', c.grantee, 'dataset', c.dataset, 'spent_epsilon', c.spent) ORDER BY c.at, c.id), '[]')
    INTO v_burn
    FROM (SELECT l.id, l.at, u.grantee, l.dataset,
                 pg_catalog.sum(l.epsilon) OVER (PARTITION BY u.grantee, l.dataset ORDER BY l.at, l.id) AS spent
            FROM sdp.dp_ledger l, pg_catalog.unnest(l.charged_to) u(grantee)
           WHERE v_all OR sdp.sdp_caller_has_role(u.grantee::name)) c;
  PERFORM sdp._access('dash_privacy', NULL, 'allowed', pg_catalog.jsonb_array_length(v_grants));
  RETURN pg_catalog.jsonb_build_object('grants', v_grants, 'burn_down', v_burn,
    'datasets', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'name', d.name, 'epsilon_cap', d.epsilon_cap, 'epsilon_spent', d.epsilon_spent,
                            'delta_cap', d.delta_cap, 'delta_spent', d.delta_spent) ORDER BY d.name)
                            FROM sdp.dp_dataset d
                           WHERE v_all OR EXISTS (SELECT 1 FROM sdp.dp_grant g WHERE g.dataset = d.name
                                                    AND sdp.sdp_caller_has_role(g.grantee::name))), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_privacy() IS
  'privacy budgets: grants with spent and remaining epsilon, the burn-down from the ledger, datasets';

CREATE FUNCTION sdp.sdp_dash_classification() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._dash_require('classification.read', 'dash_classification');
  RETURN pg_catalog.jsonb_build_object(
    'columns', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'client_id', c.client_id, 'column_name', c.column_name, 'class', c.class,
                           'sensitivity', c.sensitivity, 'source', c.source, 'transform', c.transform,
                           'dataset', c.dataset, 'batch_id', c.batch_id, 'classified_at', c.classified_at)
                           ORDER BY c.client_id, c.column_name)
                           FROM (SELECT DISTINCT ON (x.client_id, coalesce(x.dataset, ''), x.column_name) x.*
                                   FROM sdp.column_classification x
                                  ORDER BY x.client_id, coalesce(x.dataset, ''), x.column_name,
                                           x.classified_at DESC, x.id DESC) c), '[]'),
    'firewall_rejections', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'at', l.at, 'client_id', l.client_id, 'batch_id', l.target,
                           'column', l.details ->> 'column', 'row', l.details -> 'row',
                           'reason', l.details ->> 'class', 'transform', l.details ->> 'transform')
                           ORDER BY l.seq DESC)
                           FROM (SELECT * FROM sdp.audit_log x WHERE x.event = 'firewall.refused'
                                  ORDER BY x.seq DESC LIMIT 500) l), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_classification() IS
  'the latest class and sensitivity of each client column, and the PII firewall''s refusals (no values)';

CREATE FUNCTION sdp.sdp_dash_compliance() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_broken record;
  h sdp.audit_head;
BEGIN
  PERFORM sdp._dash_require('compliance.read', 'dash_compliance');
  SELECT * INTO v_broken FROM sdp.sdp_audit_verify() v LIMIT 1;
  SELECT * INTO h FROM sdp.audit_head x WHERE x.id = 1;
  PERFORM sdp._access('dash_compliance', NULL, 'allowed');
  RETURN pg_catalog.jsonb_build_object(
    'generated_at', pg_catalog.now(),
    'audit_head', pg_catalog.jsonb_build_object('seq', h.seq, 'entry_hash', pg_catalog.encode(h.hash, 'hex'),
                                                'verified', v_broken.seq IS NULL),
    'holds', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x) ORDER BY x.hold_id)
                         FROM sdp.legal_hold x), '[]'),
    'retention', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                             'client_id', x.client_id, 'ttl', x.ttl::text, 'set_by', x.set_by, 'set_at', x.set_at)
                             ORDER BY x.client_id) FROM sdp.retention_policy x), '[]'),
    'erasures', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'at', l.at, 'action', l.event, 'target', l.target, 'actor', l.actor,
                            'details', l.details) ORDER BY l.seq)
                            FROM sdp.audit_log l
                           WHERE pg_catalog.starts_with(l.event, 'erasure.') OR l.event = 'retention.purge'), '[]'),
    'integrity', (SELECT pg_catalog.jsonb_build_object('failures', pg_catalog.count(*),
                                                       'last_failure_at', pg_catalog.max(f.detected_at))
                    FROM sdp.integrity_failure f),
    'dp_budgets', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                              'dataset', d.name, 'epsilon_cap', d.epsilon_cap, 'epsilon_spent', d.epsilon_spent,
                              'delta_cap', d.delta_cap, 'delta_spent', d.delta_spent) ORDER BY d.name)
                              FROM sdp.dp_dataset d), '[]'),
    -- Encryption-key rotations, audited as key.* events once key rotation exists.
    'key_rotations', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                 'at', l.at, 'action', l.event, 'target', l.target, 'actor', l.actor,
                                 'details', l.details) ORDER BY l.seq)
                                 FROM sdp.audit_log l WHERE pg_catalog.starts_with(l.event, 'key.')), '[]'));
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_compliance() IS
  'compliance report: audit head, holds, retention, erasures, integrity, DP budgets, key rotations';

-- Signing out: the caller's session (the token's jti) ends; the token is refused from then on.
CREATE FUNCTION sdp.sdp_dash_logout() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_claims jsonb := nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
  v_user text;
BEGIN
  DELETE FROM sdp.staff_session x WHERE x.jti = v_claims ->> 'jti' AND x.username = v_claims ->> 'sub'
  RETURNING x.username INTO v_user;
  IF v_user IS NOT NULL THEN
    PERFORM sdp._audit('staff.logout', v_user, '{}');
  END IF;
  RETURN pg_catalog.jsonb_build_object('signed_out', v_user IS NOT NULL);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dash_logout() IS 'ends the session of the calling dashboard token; audited';

-- ---- PostgREST (sdp_api): thin SECURITY INVOKER wrappers -----------------------------------------
-- login is VOLATILE (it writes the failed-attempt count and the audit log: a POST); the readers
-- are STABLE, so PostgREST runs them READ ONLY and allows GET with query parameters. Paging
-- parameters are row_limit and row_offset: PostgREST takes `limit`, `offset` and `order` in a
-- query string as its own modifiers and never passes them to a function.
CREATE FUNCTION sdp_api.login(username text, password text) RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_staff_login(username, password) $$;
COMMENT ON FUNCTION sdp_api.login(text, text) IS
  'POST {username, password} -> {token, role, username, expires_at, capabilities}; 401 wrong user or password, 429 locked, 403 role not allowed';

CREATE FUNCTION sdp_api.dash_me() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_me() $$;
CREATE FUNCTION sdp_api.dash_overview() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_overview() $$;
CREATE FUNCTION sdp_api.dash_batches(status text DEFAULT NULL, client_id text DEFAULT NULL,
                                     row_limit integer DEFAULT NULL, row_offset integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_batches(status, client_id, row_limit, row_offset) $$;
CREATE FUNCTION sdp_api.dash_batch(batch_id uuid) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_batch(batch_id) $$;
COMMENT ON FUNCTION sdp_api.dash_me() IS 'GET: {username, role, capabilities}';
COMMENT ON FUNCTION sdp_api.dash_overview() IS 'GET: batches per status, records per day, integrity, worker, audit head';
COMMENT ON FUNCTION sdp_api.dash_batches(text, text, integer, integer) IS
  'GET ?status=&client_id=&row_limit=&row_offset= -> {total, items}';
COMMENT ON FUNCTION sdp_api.dash_batch(uuid) IS 'GET ?batch_id= -> one batch with chunks, columns, classification';

CREATE FUNCTION sdp_api.dash_records(batch_id uuid DEFAULT NULL, search text DEFAULT NULL,
                                     risk_band text DEFAULT NULL, row_limit integer DEFAULT NULL,
                                     row_offset integer DEFAULT NULL, sort text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_records(batch_id, search, risk_band, row_limit, row_offset, sort) $$;
CREATE FUNCTION sdp_api.dash_record(record_id text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record(record_id) $$;
CREATE FUNCTION sdp_api.dash_record_history(record_id text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record_history(record_id) $$;
CREATE FUNCTION sdp_api.dash_record_update(record_id text DEFAULT NULL, patch jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record_update(record_id, patch) $$;
CREATE FUNCTION sdp_api.dash_record_decide(version_id bigint, approve boolean) RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_record_decide(version_id, approve) $$;
CREATE FUNCTION sdp_api.dash_audit(actor text DEFAULT NULL, action text DEFAULT NULL,
                                   since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL,
                                   user_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_audit(actor, action, since, row_limit, user_id) $$;
CREATE FUNCTION sdp_api.dash_access_log(actor text DEFAULT NULL, action text DEFAULT NULL,
                                        since timestamptz DEFAULT NULL, row_limit integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_access_log(actor, action, since, row_limit) $$;
CREATE FUNCTION sdp_api.dash_privacy() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_privacy() $$;
CREATE FUNCTION sdp_api.dash_classification() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_classification() $$;
CREATE FUNCTION sdp_api.dash_compliance() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_compliance() $$;
COMMENT ON FUNCTION sdp_api.dash_records(uuid, text, text, integer, integer, text) IS
  'GET ?batch_id=&search=&risk_band=&row_limit=&row_offset=&sort= -> {total, items}';
COMMENT ON FUNCTION sdp_api.dash_record(text) IS 'GET ?record_id=<batch_id>:<row_no> -> one record';
COMMENT ON FUNCTION sdp_api.dash_record_history(text) IS 'GET ?record_id= -> {record_id, items: versions}';
COMMENT ON FUNCTION sdp_api.dash_record_update(text, jsonb) IS
  'POST {record_id, patch} (or PUT /api/v1/records/{id} {patch}) -> the new or proposed version';
COMMENT ON FUNCTION sdp_api.dash_record_decide(bigint, boolean) IS 'POST {version_id, approve} -> the decided version';
COMMENT ON FUNCTION sdp_api.dash_audit(text, text, timestamptz, integer, text) IS
  'GET ?actor=&action=&since=&row_limit= (or user_id=) -> {items, verify}';
COMMENT ON FUNCTION sdp_api.dash_access_log(text, text, timestamptz, integer) IS
  'GET ?actor=&action=&since=&row_limit= -> {items}';
COMMENT ON FUNCTION sdp_api.dash_privacy() IS 'GET -> {grants, burn_down, datasets}';
COMMENT ON FUNCTION sdp_api.dash_classification() IS 'GET -> {columns, firewall_rejections}';
COMMENT ON FUNCTION sdp_api.dash_compliance() IS 'GET -> the compliance report';
CREATE FUNCTION sdp_api.dash_logout() RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dash_logout() $$;
COMMENT ON FUNCTION sdp_api.dash_logout() IS 'POST: signs out (the token stops working) -> {signed_out}';

CREATE OR REPLACE FUNCTION sdp_api.pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_path text := nullif(pg_catalog.current_setting('request.path', true), '');
BEGIN
  PERFORM sdp._metrics_request(v_path);  -- sdp_api_requests_total, counted when the request ends
  IF pg_catalog.current_user() OPERATOR(pg_catalog.<>) 'sdp_anon'::name THEN
    PERFORM sdp._api_admit_jwt(v_path);
    RETURN;
  END IF;
  IF v_path IN ('/rpc/health', '/rpc/readyz', '/rpc/metrics', '/rpc/login') THEN
    RETURN;
  END IF;
  IF v_path LIKE '/rpc/dash\_%' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT401',
      MESSAGE = 'the dash_* functions need a dashboard sign-in, not an API key',
      HINT = 'sign in with POST /rpc/login and send Authorization: Bearer <token>';
  END IF;
  IF v_path LIKE '/rpc/dp\_%' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT401',
      MESSAGE = 'the dp_* functions need an analyst''s JWT, not an API key',
      HINT = 'send Authorization: Bearer <JWT> whose role an admin enabled with sdp_api_enable_analyst';
  END IF;
  PERFORM sdp.sdp_authenticate(sdp.sdp_api_header('x-api-key'), sdp.sdp_api_header('x-client-id'));
  PERFORM pg_catalog.set_config('role', 'sdp_client', true);
END
$$;
COMMENT ON FUNCTION sdp_api.pre_request() IS
  'PostgREST db-pre-request: verifies X-API-Key (PT401) against X-Client-Id (PT403), sets the tenant, switches to sdp_client; admits an API-enabled analyst''s JWT role to the dp_* functions and a dashboard sign-in to the dash_* functions only';

-- 76_audit.sql: the audit and access logs name the signed-in dashboard user in login.
-- The login behind the caller, as the audit and access logs record it: session_user, and for a
-- request with a dashboard token (86_dashboard.sql) the signed-in person too,
-- "sdp_authenticator:<user name>", when the token's sub, role and jti are a live session of an
-- enabled user (what pre_request admitted; an unverified claim is never recorded). Internal.
CREATE FUNCTION sdp._request_login() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_claims jsonb;
  v_user text;
BEGIN
  v_claims := nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
  IF v_claims IS NULL OR v_claims ->> 'aud' IS DISTINCT FROM 'sdp-dashboard' THEN
    RETURN pg_catalog.session_user();
  END IF;
  SELECT u.username INTO v_user
    FROM sdp.staff_user u JOIN sdp.staff_session x ON x.username OPERATOR(pg_catalog.=) u.username
   WHERE u.username OPERATOR(pg_catalog.=) (v_claims ->> 'sub')
     AND u.db_role OPERATOR(pg_catalog.=) sdp.sdp_caller_role() AND NOT u.disabled
     AND x.jti OPERATOR(pg_catalog.=) (v_claims ->> 'jti') AND x.expires_at > pg_catalog.now();
  RETURN pg_catalog.session_user() || coalesce(':' || v_user, '');
EXCEPTION WHEN invalid_text_representation THEN  -- claims that are not JSON: not a dashboard token
  RETURN pg_catalog.session_user();
END
$$;

CREATE OR REPLACE FUNCTION sdp._audit(p_event text, p_target text, p_details jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp._audit_as(sdp.sdp_caller_role(), sdp._request_login(), sdp.sdp_auth_tenant(),
                       p_event, p_target, p_details);
END
$$;
CREATE OR REPLACE FUNCTION sdp._access(p_action text, p_target text, p_outcome text, p_rows bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE LOG 'sdp access: role=% login=% client=% action=% target=% outcome=% rows=%',
    sdp.sdp_caller_role(), sdp._request_login(), coalesce(sdp.sdp_auth_tenant(), '-'), p_action,
    coalesce(p_target, '-'), p_outcome, coalesce(p_rows::text, '-');
  IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;
  INSERT INTO sdp.access_log (actor, login, client_id, action, target, outcome, rows)
  VALUES (sdp.sdp_caller_role(), sdp._request_login(), sdp.sdp_auth_tenant(), p_action, p_target,
          p_outcome, p_rows);
END
$$;

REVOKE ALL ON FUNCTION
    sdp.sdp_staff_scrypt(text, bytea, integer, integer, integer),
    sdp.sdp_staff_scrypt_match(text, bytea, integer, integer, integer, bytea),
    sdp.sdp_jwt_sign(text, text),
    sdp.sdp_jwt_verify(text, text),
    sdp._staff_cost(),
    sdp._jwt_signing_secret(),
    sdp._staff_role_refusal(name),
    sdp._staff_check_password(text),
    sdp._dash_capabilities(name),
    sdp._dash_require(text, text, text),
    sdp._dash_username(),
    sdp.sdp_set_jwt_secret(text),
    sdp.sdp_staff_create(text, name, text),
    sdp.sdp_staff_set_password(text, text),
    sdp.sdp_staff_disable(text),
    sdp.sdp_staff_unlock(text),
    sdp._staff_refusal(integer, text, text, text, integer),
    sdp.sdp_staff_login(text, text),
    sdp._api_admit_jwt(text),
    sdp._dash_batch_json(sdp.processing_batch),
    sdp._dash_page(integer, integer),
    sdp.sdp_dash_me(),
    sdp.sdp_dash_overview(),
    sdp.sdp_dash_batches(text, text, integer, integer),
    sdp.sdp_dash_batch(uuid),
    sdp._dash_record_json(bytea, sdp.tokenized_record, text[], sdp.processed_result),
    sdp.sdp_dash_records(uuid, text, text, integer, integer, text),
    sdp.sdp_dash_record(text),
    sdp.sdp_dash_record_history(text),
    sdp.sdp_dash_record_update(text, jsonb),
    sdp.sdp_dash_record_decide(bigint, boolean),
    sdp.sdp_dash_audit(text, text, timestamptz, integer, text),
    sdp.sdp_dash_access_log(text, text, timestamptz, integer),
    sdp.sdp_dash_privacy(),
    sdp.sdp_dash_classification(),
    sdp.sdp_dash_compliance(),
    sdp.sdp_dash_logout(),
    sdp_api.login(text, text),
    sdp_api.dash_me(),
    sdp_api.dash_overview(),
    sdp_api.dash_batches(text, text, integer, integer),
    sdp_api.dash_batch(uuid),
    sdp_api.dash_records(uuid, text, text, integer, integer, text),
    sdp_api.dash_record(text),
    sdp_api.dash_record_history(text),
    sdp_api.dash_record_update(text, jsonb),
    sdp_api.dash_record_decide(bigint, boolean),
    sdp_api.dash_audit(text, text, timestamptz, integer, text),
    sdp_api.dash_access_log(text, text, timestamptz, integer),
    sdp_api.dash_privacy(),
    sdp_api.dash_classification(),
    sdp_api.dash_compliance(),
    sdp_api.dash_logout(),
    sdp._request_login()
  FROM PUBLIC;
REVOKE ALL ON sdp.jwt_secret, sdp.staff_user, sdp.staff_session FROM PUBLIC;
-- ---- the dashboard (86_dashboard.sql) ------------------------------------------------------------
-- Sign-in needs no key (sdp_anon). A dashboard token makes PostgREST switch to a governance role or
-- an enabled analyst role: pre_request runs as that role (sdp._api_admit_jwt admits it to the
-- dash_* functions), and each sdp_dash_* function checks the caller's dashboard capability itself.
-- Staff management and the JWT secret: administrators.
GRANT EXECUTE ON FUNCTION sdp_api.login(text, text), sdp.sdp_staff_login(text, text) TO sdp_anon;
GRANT USAGE ON SCHEMA sdp_api TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;
GRANT EXECUTE ON FUNCTION
    sdp_api.pre_request(), sdp._metrics_request(text), sdp._api_admit_jwt(text),
    sdp_api.dash_me(), sdp_api.dash_overview(), sdp_api.dash_batches(text, text, integer, integer),
    sdp_api.dash_batch(uuid), sdp_api.dash_records(uuid, text, text, integer, integer, text),
    sdp_api.dash_record(text), sdp_api.dash_record_history(text),
    sdp_api.dash_record_update(text, jsonb), sdp_api.dash_record_decide(bigint, boolean),
    sdp_api.dash_audit(text, text, timestamptz, integer, text),
    sdp_api.dash_access_log(text, text, timestamptz, integer), sdp_api.dash_privacy(),
    sdp_api.dash_classification(), sdp_api.dash_compliance(), sdp_api.dash_logout(),
    sdp.sdp_dash_me(), sdp.sdp_dash_overview(), sdp.sdp_dash_batches(text, text, integer, integer),
    sdp.sdp_dash_batch(uuid), sdp.sdp_dash_records(uuid, text, text, integer, integer, text),
    sdp.sdp_dash_record(text), sdp.sdp_dash_record_history(text),
    sdp.sdp_dash_record_update(text, jsonb), sdp.sdp_dash_record_decide(bigint, boolean),
    sdp.sdp_dash_audit(text, text, timestamptz, integer, text),
    sdp.sdp_dash_access_log(text, text, timestamptz, integer), sdp.sdp_dash_privacy(),
    sdp.sdp_dash_classification(), sdp.sdp_dash_compliance(), sdp.sdp_dash_logout()
  TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer, sdp_dp_analyst;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_set_jwt_secret(text), sdp.sdp_staff_create(text, name, text),
    sdp.sdp_staff_set_password(text, text), sdp.sdp_staff_disable(text), sdp.sdp_staff_unlock(text)
  TO sdp_admin;

-- ==== citus: scale-out on Citus (src/extension/sql/88_scale.sql, docs/scale.md) ====
-- Whether this server is a Citus node other than the coordinator (false without Citus).
CREATE FUNCTION sdp._citus_worker() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_group integer;
BEGIN
  IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO v_group;
  RETURN coalesce(v_group, 0) <> 0;
END
$$;

-- What ON DELETE CASCADE did for the distributed row tables (see above).
CREATE FUNCTION sdp._citus_delete_batch_rows() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM sdp.processed_result r
   WHERE r.client_id OPERATOR(pg_catalog.=) OLD.client_id AND r.batch_id OPERATOR(pg_catalog.=) OLD.batch_id;
  DELETE FROM sdp.tokenized_record t
   WHERE t.client_id OPERATOR(pg_catalog.=) OLD.client_id AND t.batch_id OPERATOR(pg_catalog.=) OLD.batch_id;
  RETURN OLD;
END
$$;

-- The distributed tables, colocated with the first.
CREATE FUNCTION sdp._citus_distributed_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ARRAY['tokenized_record', 'processed_result']
$$;

CREATE FUNCTION sdp.sdp_distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (relation text, kind text, colocation_id integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t text;
  v_rel regclass;
  v_policy text;
  v_fn regprocedure;
  v_ddl text;
  v_done text[] := '{}';
  v_first text;
  tenant constant text :=
    '(client_id = sdp.sdp_current_client() OR sdp.sdp_current_client() IS NULL)';
BEGIN
  PERFORM sdp._require_capability('admin', 'distribute');
  IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = 'sdp_distribute needs Citus: the citus extension is not installed in this database',
      HINT = 'see docs/scale.md: shared_preload_libraries = ''citus,sdp'', CREATE EXTENSION citus, then sdp';
  END IF;
  IF sdp._citus_worker() THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = 'sdp_distribute runs on the Citus coordinator, not on a worker';
  END IF;
  IF shard_count IS NOT NULL AND (shard_count < 1 OR shard_count > 64000) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'shard_count is between 1 and 64000';
  END IF;
  -- The tables' triggers (TRUNCATE refused under a legal hold) are ours and read only the
  -- coordinator's sdp.legal_hold, which is where TRUNCATE of a distributed table runs them.
  PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);

  FOREACH t IN ARRAY sdp._citus_distributed_tables() LOOP
    v_rel := pg_catalog.format('sdp.%I', t)::regclass;
    v_policy := CASE t WHEN 'tokenized_record' THEN 'record_tenant' ELSE 'result_tenant' END;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) v_rel) THEN
      -- The same change on the coordinator and on the workers' copies of the table (created by
      -- CREATE EXTENSION there), which Citus uses as the table's shell on each worker: a query
      -- that reaches a worker is planned against them.
      v_ddl := pg_catalog.format(
        'ALTER TABLE %1$s DROP CONSTRAINT %2$I, ADD CONSTRAINT %2$I PRIMARY KEY (batch_id, row_no, client_id); '
        'ALTER TABLE %1$s DROP CONSTRAINT IF EXISTS %3$I; '
        'DROP POLICY IF EXISTS %4$I ON %1$s; '
        'CREATE POLICY %4$I ON %1$s USING %5$s WITH CHECK %5$s',
        v_rel, t || '_pkey', t || '_batch_id_fkey', v_policy, tenant);
      EXECUTE v_ddl;
      IF EXISTS (SELECT 1 FROM run_command_on_workers(v_ddl) w WHERE NOT w.success) THEN
        RAISE EXCEPTION USING ERRCODE = '55000',
          MESSAGE = pg_catalog.format('sdp_distribute could not prepare %s on every worker', v_rel),
          DETAIL = (SELECT pg_catalog.string_agg(w.nodename || ':' || w.nodeport || ': ' || w.result, '; ')
                      FROM run_command_on_workers(v_ddl) w WHERE NOT w.success);
      END IF;
      IF v_first IS NULL THEN
        PERFORM create_distributed_table(v_rel, 'client_id', colocate_with => 'none',
                                         shard_count => coalesce(shard_count, pg_catalog.current_setting('citus.shard_count')::integer));
      ELSE
        PERFORM create_distributed_table(v_rel, 'client_id', colocate_with => v_first);
      END IF;
      -- rows that were on the coordinator before are in the shards now
      PERFORM truncate_local_data_after_distributing_table(v_rel);
      v_done := v_done || t;
    END IF;
    v_first := coalesce(v_first, v_rel::text);
  END LOOP;
  -- Sessions may plan with plan_cache_mode = force_generic_plan (sdp-agent's libpq transport does,
  -- to pass 8 MiB chunks without a copy), and inside a function that setting reaches every
  -- statement. Citus cannot run a generic plan of a multi-shard query with parameters ("could not
  -- create distributed plan"): every function that reads the distributed tables plans its
  -- statements with their values. Only here, so that a single node keeps its generic plans.
  FOR v_fn IN
    SELECT p.oid::regprocedure
      FROM pg_catalog.pg_proc p
     WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace)
       AND p.prosrc ~ '(tokenized_record|processed_result)'
       AND p.prokind OPERATOR(pg_catalog.=) 'f'
       AND p.prolang IN (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname IN ('plpgsql', 'sql'))
       AND NOT coalesce('plan_cache_mode=force_custom_plan' OPERATOR(pg_catalog.=) ANY (p.proconfig), false)
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET plan_cache_mode = force_custom_plan', v_fn);
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
                  WHERE g.tgrelid OPERATOR(pg_catalog.=) 'sdp.processing_batch'::regclass
                    AND g.tgname OPERATOR(pg_catalog.=) 'processing_batch_citus_rows') THEN
    CREATE TRIGGER processing_batch_citus_rows BEFORE DELETE ON sdp.processing_batch
      FOR EACH ROW EXECUTE FUNCTION sdp._citus_delete_batch_rows();
  END IF;

  IF pg_catalog.cardinality(v_done) > 0 THEN
    PERFORM sdp._audit('distribute', 'citus', pg_catalog.jsonb_build_object('tables', v_done));
  END IF;
  RETURN QUERY
    SELECT c.relname::text,
           CASE p.partmethod WHEN 'h' THEN 'distributed' WHEN 'n' THEN 'reference' ELSE p.partmethod::text END,
           p.colocationid
      FROM pg_catalog.pg_dist_partition p
      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid
     WHERE c.relnamespace OPERATOR(pg_catalog.=) 'sdp'::regnamespace
     ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION sdp.sdp_distribute(integer) IS
  'Citus coordinator: distributes the row tables (tokenized_record, processed_result) by client_id, colocated (admin, audited, idempotent; docs/scale.md)';
REVOKE ALL ON FUNCTION sdp._citus_worker(), sdp._citus_delete_batch_rows(),
    sdp._citus_distributed_tables(), sdp.sdp_distribute(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_distribute(integer) TO sdp_admin;

-- ==== upload: the compliance report's key rotations come from sdp.key_rotation (issue 22) ====
CREATE OR REPLACE FUNCTION sdp.sdp_dash_compliance() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_broken record;
  h sdp.audit_head;
BEGIN
  PERFORM sdp._dash_require('compliance.read', 'dash_compliance');
  SELECT * INTO v_broken FROM sdp.sdp_audit_verify() v LIMIT 1;
  SELECT * INTO h FROM sdp.audit_head x WHERE x.id = 1;
  PERFORM sdp._access('dash_compliance', NULL, 'allowed');
  RETURN pg_catalog.jsonb_build_object(
    'generated_at', pg_catalog.now(),
    'audit_head', pg_catalog.jsonb_build_object('seq', h.seq, 'entry_hash', pg_catalog.encode(h.hash, 'hex'),
                                                'verified', v_broken.seq IS NULL),
    'holds', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x) ORDER BY x.hold_id)
                         FROM sdp.legal_hold x), '[]'),
    'retention', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                             'client_id', x.client_id, 'ttl', x.ttl::text, 'set_by', x.set_by, 'set_at', x.set_at)
                             ORDER BY x.client_id) FROM sdp.retention_policy x), '[]'),
    'erasures', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'at', l.at, 'action', l.event, 'target', l.target, 'actor', l.actor,
                            'details', l.details) ORDER BY l.seq)
                            FROM sdp.audit_log l
                           WHERE pg_catalog.starts_with(l.event, 'erasure.') OR l.event = 'retention.purge'), '[]'),
    'integrity', (SELECT pg_catalog.jsonb_build_object('failures', pg_catalog.count(*),
                                                       'last_failure_at', pg_catalog.max(f.detected_at))
                    FROM sdp.integrity_failure f),
    'dp_budgets', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                              'dataset', d.name, 'epsilon_cap', d.epsilon_cap, 'epsilon_spent', d.epsilon_spent,
                              'delta_cap', d.delta_cap, 'delta_spent', d.delta_spent) ORDER BY d.name)
                              FROM sdp.dp_dataset d), '[]'),
    -- Token key rotations (sdp_rekey_*, docs/key_rotation.md): one row per rotation, no tokens.
    -- sdp.key_rotation's row-level security scopes them as it scopes every client table.
    'key_rotations', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                 'rotation_id', k.rotation_id, 'client_id', k.client_id, 'domain', k.domain,
                                 'kind', k.kind, 'from_version', k.from_version, 'to_version', k.to_version,
                                 'to_key_id', k.to_key_id, 'state', k.state, 'pairs', k.pairs,
                                 'rows_rewritten', k.rows_done, 'started_by', k.created_by,
                                 'started_at', k.created_at, 'finished_at', k.finished_at)
                                 ORDER BY k.created_at, k.rotation_id)
                                 FROM sdp.key_rotation k), '[]'));
END
$$;

-- ==== upload: GET /api/v1/analytics/aggregate, sdp_api.dp_aggregate (issue 22, 86_dashboard.sql) ====
-- ---- GET /api/v1/analytics/aggregate?metric=&period= (issue 22): a DP time series --------------
-- A differentially private aggregate of a named metric per calendar period (UTC) over the
-- batches dataset of a DP analyst (sdp_dp_register_batches): `records` (how many records were
-- received, counted with the count mechanism) or `mean_score` (the model's mean score, in [0, 1],
-- with the avg mechanism), for `periods` consecutive buckets of `period` (day, week, month)
-- ending with the one that holds `until` (default: today). The buckets are named by the request,
-- never by the data, so they are public partition keys: every bucket is released, empty or not,
-- and no delta is spent on which buckets exist.
--
-- A GET must be safe to repeat, and repeating a DP query must not let an analyst average the
-- noise away: the release is made once per (analyst, dataset, metric, period, buckets, epsilon),
-- charged once through the privacy ledger (sdp._dp_charge_committed, committed by a background
-- worker, so it works in PostgREST's READ ONLY transaction of a GET), and stored in that ledger
-- row (parameters.aggregate and parameters.release). A repeat finds the row and answers the same
-- values without charging. Two first requests racing may both charge (never fewer charges than
-- releases); the answer is then the first release.
--
-- Time: a record's batch's received_at. The dataset's view does not carry it, so the scan joins
-- the view's row identity (hashtextextended(batch_id, row_no), sdp_dp_register_batches) back to
-- the stored record and its batch.
CREATE FUNCTION sdp.sdp_dp_aggregate(metric text, period text, dataset text DEFAULT NULL,
                                     epsilon numeric DEFAULT 0.5, periods integer DEFAULT 12,
                                     until date DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caller text := sdp.sdp_caller_role();
  v_dataset text := dataset;
  v_names text[];
  d sdp.dp_dataset;
  v_step interval;
  v_last date;
  v_first date;
  v_buckets text[];
  v_key jsonb;
  v_kind text;
  v_value text := 'NULL::pg_catalog.float8';
  v_notnull text := '';
  v_lo bigint := 0;
  v_hi bigint := 0;
  v_release jsonb := '[]';
  v_params jsonb;
  v_found record;
  r record;
BEGIN
  IF metric IS NULL OR metric NOT IN ('records', 'mean_score') THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
      format('metric %s is not one of records, mean_score', coalesce(sdp._echo(metric), 'NULL')), '22023');
  END IF;
  IF period IS NULL OR period NOT IN ('day', 'week', 'month') THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
      format('period %s is not one of day, week, month', coalesce(sdp._echo(period), 'NULL')), '22023');
  END IF;
  IF periods IS NULL OR periods < 1 OR periods > 366 THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request', 'periods is 1 to 366', '22023');
  END IF;
  IF epsilon IS NULL OR NOT (epsilon >= 0.000001 AND epsilon <= 1000000) THEN
    RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
      'epsilon must be a finite number from 0.000001 to 1000000', '22023');
  END IF;
  -- Without a dataset: the caller's only batches dataset with a grant.
  IF v_dataset IS NULL THEN
    v_names := ARRAY(SELECT DISTINCT g.dataset FROM sdp.dp_grant g
                       JOIN sdp.dp_dataset x ON x.name OPERATOR(pg_catalog.=) g.dataset
                      WHERE sdp._dp_draws_from(g.grantee, v_caller)
                        AND x.row_identity OPERATOR(pg_catalog.=) 'dp_row_id');
    IF pg_catalog.cardinality(v_names) <> 1 THEN
      RETURN sdp._dp_aggregate_problem(400, 'Bad Request',
        'name the dataset: the caller draws from no batches dataset, or from several', '22023');
    END IF;
    v_dataset := v_names[1];
  END IF;
  SELECT * INTO d FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) v_dataset;
  IF d.name IS NULL OR d.row_identity IS DISTINCT FROM 'dp_row_id' THEN
    RETURN sdp._dp_aggregate_problem(404, 'Not Found',
      format('no batches dataset %s (sdp_dp_register_batches): only those have a time', sdp._echo(v_dataset)), '22023');
  END IF;

  v_step := CASE period WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '1 week' ELSE interval '1 month' END;
  v_last := pg_catalog.date_trunc(period, coalesce(until, (pg_catalog.now() AT TIME ZONE 'UTC')::date)::timestamp)::date;
  v_first := (v_last::timestamp OPERATOR(pg_catalog.-) (v_step OPERATOR(pg_catalog.*) (periods - 1)))::date;
  v_buckets := ARRAY(SELECT pg_catalog.to_char(g, 'YYYY-MM-DD')
                       FROM pg_catalog.generate_series(v_first::timestamp, v_last::timestamp, v_step) g);
  v_key := pg_catalog.jsonb_build_object('metric', metric, 'period', period, 'first', v_buckets[1],
                                         'periods', periods);

  -- ---- the release made before, if any: the same answer, no charge ----
  SELECT l.id, l.at, l.parameters INTO v_found FROM sdp.dp_ledger l
   WHERE l.actor OPERATOR(pg_catalog.=) v_caller AND l.dataset OPERATOR(pg_catalog.=) d.name
     AND l.epsilon OPERATOR(pg_catalog.=) sdp_dp_aggregate.epsilon
     AND l.parameters OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_object('aggregate', v_key)
   ORDER BY l.id LIMIT 1;
  IF v_found.id IS NOT NULL THEN
    RETURN pg_catalog.jsonb_build_object('dataset', d.name, 'epsilon', epsilon, 'charged', false,
                                         'ledger_id', v_found.id, 'released_at', v_found.at)
           OPERATOR(pg_catalog.||) v_key
           OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('buckets', v_found.parameters -> 'release');
  END IF;

  IF metric = 'records' THEN
    v_kind := 'count';
  ELSE
    v_kind := 'avg';
    v_value := 't.score';
    v_notnull := ' AND t.score IS NOT NULL';
    v_hi := (10::numeric OPERATOR(pg_catalog.^) d.sum_scale)::bigint;  -- scores are in [0, 1]
  END IF;
  BEGIN
    PERFORM sdp._dp_check_budgets(d.name, v_caller, epsilon, 0);
  EXCEPTION WHEN SQLSTATE 'PT403' THEN
    RETURN sdp._dp_aggregate_problem(403, 'Forbidden', SQLERRM, 'PT403');
  END;

  FOR r IN EXECUTE format(
      'SELECT x.group_key, x.value, x.ci_low, x.ci_high FROM '
      '(SELECT sdp._dp_tally(t.%I::pg_catalog.text, t.dp_row_id, k.bucket, %s, $1, $2, $3, $4, $5) AS s '
      '   FROM %s t '
      '   JOIN sdp.tokenized_record tr '
      '     ON pg_catalog.hashtextextended(tr.batch_id::pg_catalog.text, tr.row_no) OPERATOR(pg_catalog.=) t.dp_row_id '
      '   JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) tr.batch_id, '
      '   LATERAL (SELECT pg_catalog.to_char(pg_catalog.date_trunc(%L, b.received_at AT TIME ZONE ''UTC''), '
      '                                      ''YYYY-MM-DD'') AS bucket) k '
      '  WHERE k.bucket OPERATOR(pg_catalog.=) ANY ($7)%s) a, '
      'sdp._dp_release(a.s, $8, $6, NULL, $2, $3, $4, $5, $7, NULL, 0) x ORDER BY x.group_key',
      d.privacy_unit, v_value, d.relation, period, v_notnull)
    USING d.bounding_key, d.max_rows_per_unit, v_lo, v_hi, d.sum_scale::integer, epsilon::text,
          v_buckets, v_kind
  LOOP
    v_release := v_release OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'period', r.group_key, 'value', r.value, 'ci_low', r.ci_low, 'ci_high', r.ci_high));
  END LOOP;

  v_params := pg_catalog.jsonb_build_object('aggregate', v_key, 'release', v_release);
  PERFORM sdp._dp_charge_committed(d.name, v_caller, pg_catalog.session_user(), sdp.sdp_auth_tenant(),
                                   v_kind, epsilon, 0, v_params);
  PERFORM sdp._dp_count_query('released');
  -- (The ledger row was committed by another transaction, which this STABLE function's snapshot
  -- does not see: its id is in the answers of the repeats.)
  RETURN pg_catalog.jsonb_build_object('dataset', d.name, 'epsilon', epsilon, 'charged', true,
                                       'ledger_id', NULL, 'released_at', pg_catalog.clock_timestamp())
         OPERATOR(pg_catalog.||) v_key
         OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('buckets', v_release);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_aggregate(text, text, text, numeric, integer, date) IS
  'DP analyst: a metric (records, mean_score) per day/week/month of a batches dataset, released and charged once per request, repeated free';

-- A refusal as the answer (sdp._staff_refusal, as sign-in answers): the HTTP status set for
-- PostgREST and an RFC 7807 problem body with PostgREST's code and message too. Returned, not
-- raised: PostgREST sends a raised error's body only in its own shape.
CREATE FUNCTION sdp._dp_aggregate_problem(p_status integer, p_title text, p_detail text, p_code text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._staff_refusal(p_status, p_code, p_title, p_detail) $$;

CREATE FUNCTION sdp_api.dp_aggregate(metric text, period text, dataset text DEFAULT NULL,
                                     epsilon numeric DEFAULT 0.5, periods integer DEFAULT 12,
                                     until date DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_dp_aggregate(metric, period, dataset, epsilon, periods, until) $$;
COMMENT ON FUNCTION sdp_api.dp_aggregate(text, text, text, numeric, integer, date) IS
  'GET ?metric=records|mean_score&period=day|week|month[&dataset=&epsilon=&periods=&until=] -> a DP series, charged once';
REVOKE ALL ON FUNCTION sdp.sdp_dp_aggregate(text, text, text, numeric, integer, date),
                       sdp._dp_aggregate_problem(integer, text, text, text),
                       sdp_api.dp_aggregate(text, text, text, numeric, integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_dp_aggregate(text, text, text, numeric, integer, date),
                          sdp_api.dp_aggregate(text, text, text, numeric, integer, date)
  TO sdp_dp_analyst;
