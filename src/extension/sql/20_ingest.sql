-- Ingestion: whole CSV, JSON array, and the chunked resumable upload.
--
-- The SQL layer below checks the tenant, the size limit, the model, idempotency and the batch
-- state; the C++ functions sdp._load_csv / sdp._load_json (src/extension/ingest.cc) parse the
-- body and bulk-insert the rows COPY-style (src/extension/bulk_insert.cc). Each call is one
-- statement: any error (malformed CSV, empty key, too large, ...) rolls back everything it did,
-- the batch row included, so nothing half-stored ever survives.
--
-- All public functions are SECURITY DEFINER with a pinned search_path and fully qualified names,
-- and revoked from PUBLIC (90_privileges.sql grants them to the API roles). Direct heap inserts
-- bypass row-level security, hence the explicit tenant checks (sdp._check_client / _visible_batch).

-- What the loaders return.
CREATE TYPE sdp._load_result AS (columns text[], records bigint);

-- firewall: what the PII firewall checks (sdp._firewall_spec, 82_firewall.sql); every cell is
-- checked before its row is stored, and a hit raises PT422.
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
CREATE FUNCTION sdp._sha256_hex(data text) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_sha256_hex' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp._sha256_update(state bytea, data text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_sha256_update' LANGUAGE C IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp._sha256_final(state bytea) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_sha256_final' LANGUAGE C IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp._max_batch_bytes() RETURNS bigint
  AS 'MODULE_PATHNAME', 'sdp_max_batch_bytes' LANGUAGE C STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp;

-- The client a call may act for: PT403 when an authenticated client names another one, 22023
-- for an unregistered one. (sdp_current_client(): NULL = trusted caller acting for anyone.)
CREATE FUNCTION sdp._check_client(p_client_id text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caller text := sdp.sdp_current_client();
BEGIN
  IF p_client_id IS NULL OR p_client_id = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'client_id is required';
  END IF;
  IF v_caller IS NOT NULL AND v_caller <> p_client_id THEN
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = format('the API key does not belong to client "%s"', sdp._echo(p_client_id)),
      HINT = 'use the key issued to this client, or the client id the key belongs to';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = p_client_id) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown client "%s"', sdp._echo(p_client_id)),
      HINT = 'register it first with sdp.sdp_create_client()';
  END IF;
END
$$;

CREATE FUNCTION sdp._require_model(p_type text) RETURNS sdp.model
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

-- The batch already stored under (client, idempotency key), or a row of NULLs.
CREATE FUNCTION sdp._idempotent_batch(p_client_id text, p_key text) RETURNS sdp.processing_batch
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p FROM sdp.processing_batch p WHERE p.client_id = p_client_id AND p.idempotency_key = p_key
$$;

-- A repeated request under an idempotency key: the stored batch if it is the same request
-- (same processing type, key column and, when given, content hash), else PT409.
CREATE FUNCTION sdp._replay(b sdp.processing_batch, p_key text, p_type text, p_key_column text,
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

-- Inserts a new UPLOADING batch, or returns a row of NULLs when a concurrent request committed
-- the same idempotency key first (ON CONFLICT waits for it). Under REPEATABLE READ the
-- conflict surfaces as 40001, reported as PT409.
CREATE FUNCTION sdp._insert_batch(p_client_id text, p_type text, p_key_column text, p_key text,
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

CREATE FUNCTION sdp._check_size(p_bytes bigint) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_bytes > sdp._max_batch_bytes() THEN
    RAISE EXCEPTION USING ERRCODE = 'PT413',
      MESSAGE = format('batch of %s bytes exceeds sdp.max_batch_bytes (%s bytes)',
                       p_bytes, sdp._max_batch_bytes()),
      HINT = 'split the data into several batches';
  END IF;
END
$$;

-- ---- whole CSV ------------------------------------------------------------------------------
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

-- ---- JSON array -----------------------------------------------------------------------------
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

-- ---- chunked, resumable upload ----------------------------------------------------------------
-- open → append(seq 0 = header + rows, 1.. = whole rows only, in order) → seal(chunks, sha256).
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

CREATE FUNCTION sdp.sdp_batch_append(batch_id uuid, seq integer, chunk text, chunk_sha256 text)
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
COMMENT ON FUNCTION sdp.sdp_batch_append(uuid, integer, text, text) IS
  'add chunk seq (0 = header + rows, then whole rows only); returns the rows stored so far';

CREATE FUNCTION sdp.sdp_batch_seal(batch_id uuid, chunks integer, content_sha256 text)
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
COMMENT ON FUNCTION sdp.sdp_batch_seal(uuid, integer, text) IS
  'finish a chunked upload: verify chunk count and whole-content SHA-256, status RECEIVED';

-- Abandons a chunked upload that cannot be completed: sdp-agent calls it when the server
-- refuses a chunk for good (PT413 at sdp.max_batch_bytes, a malformed chunk), so the rows of the
-- chunks accepted before do not stay staged in an UPLOADING batch. The batch becomes FAILED
-- (error names why), its tokenized_record and batch_chunk rows are deleted in the same
-- transaction, and its idempotency key is released: the same upload run again (say, once the
-- limit was raised) opens a new batch instead of finding this FAILED one. Aborting a FAILED
-- batch again returns it unchanged; a sealed batch (RECEIVED and later) is PT409; another
-- client's batch is PT404, like an unknown one. A batch under legal hold (itself or its client,
-- 79_retention.sql) is 42501 and keeps its rows: aborting deletes them, and a hold stops every
-- deletion.
CREATE FUNCTION sdp.sdp_batch_abort(batch_id uuid, reason text DEFAULT NULL)
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
COMMENT ON FUNCTION sdp.sdp_batch_abort(uuid, text) IS
  'abandon an UPLOADING chunked upload: FAILED, its staged rows deleted, its idempotency key released';
