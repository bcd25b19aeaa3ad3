-- Generated from src/extension/sql/*.sql by src/extension/extension.mk; edit those files.
\echo Use "CREATE EXTENSION sdp" to load this file. \quit

-- ==== src/extension/sql/00_schemas.sql
-- Schemas and the library version.

-- Tables and the sdp_* SQL API live in schema sdp; the thin PostgREST surface in sdp_api
-- (PGRST_DB_SCHEMAS=sdp_api). Both are created here so they belong to the extension.
CREATE SCHEMA sdp;
CREATE SCHEMA sdp_api;
COMMENT ON SCHEMA sdp IS 'Secure Data Pipeline: tables and the sdp_* SQL API';
COMMENT ON SCHEMA sdp_api IS 'Secure Data Pipeline: functions exposed through PostgREST';
REVOKE ALL ON SCHEMA sdp FROM PUBLIC;
REVOKE ALL ON SCHEMA sdp_api FROM PUBLIC;

CREATE FUNCTION sdp.sdp_version() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_version' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION sdp.sdp_version() IS 'version of the loaded sdp library';
GRANT USAGE ON SCHEMA sdp TO PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_version() TO PUBLIC;

-- Self-test functions for the C++ <-> PostgreSQL error bridge (sql/error_bridge.sql).
-- Superuser only: they exist to be exercised by the regression suite and by operators.
CREATE FUNCTION sdp.sdp_selftest_throw(sqlstate text, message text, detail text, hint text)
  RETURNS void AS 'MODULE_PATHNAME', 'sdp_selftest_throw' LANGUAGE C STRICT;
CREATE FUNCTION sdp.sdp_selftest_throw_std(kind text)
  RETURNS void AS 'MODULE_PATHNAME', 'sdp_selftest_throw_std' LANGUAGE C STRICT;
CREATE FUNCTION sdp.sdp_selftest_pg_error(input text)
  RETURNS text AS 'MODULE_PATHNAME', 'sdp_selftest_pg_error' LANGUAGE C STRICT;
CREATE FUNCTION sdp.sdp_selftest_pg_error_rethrow(input text)
  RETURNS int AS 'MODULE_PATHNAME', 'sdp_selftest_pg_error_rethrow' LANGUAGE C STRICT;
CREATE FUNCTION sdp.sdp_selftest_spin()
  RETURNS int AS 'MODULE_PATHNAME', 'sdp_selftest_spin' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION sdp.sdp_selftest_throw(text, text, text, text),
                       sdp.sdp_selftest_throw_std(text),
                       sdp.sdp_selftest_pg_error(text),
                       sdp.sdp_selftest_pg_error_rethrow(text),
                       sdp.sdp_selftest_spin() FROM PUBLIC;


-- ==== src/extension/sql/10_types_tables.sql
-- Types and tables shared by ingestion, processing, results and the guardrails.
-- Names of the seeds kept: processing_batch, tokenized_record, processed_result.

CREATE TYPE sdp.sdp_batch_status AS ENUM ('UPLOADING', 'RECEIVED', 'PROCESSING', 'PROCESSED', 'FAILED');

-- Returned by every batch call (SQL and PostgREST).
CREATE TYPE sdp.sdp_batch AS (
  batch_id          uuid,
  client_id         text,
  processing_type   text,
  status            sdp.sdp_batch_status,
  accepted_records  bigint,
  processed_records bigint,
  model_version     text,
  created_at        timestamptz,
  processed_at      timestamptz,
  content_sha256    text
);

-- A client of the service. API keys are stored only as a hash (see 40_auth.sql).
CREATE TABLE sdp.api_client (
  client_id   text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  key_hash    bytea,            -- HMAC-SHA-256 of the key (NULL once revoked)
  key_prefix  text,             -- first characters of the key, to tell keys apart in logs
  created_at  timestamptz NOT NULL DEFAULT now(),
  key_rotated_at timestamptz,
  revoked_at  timestamptz
);

-- Model registry: which model scores which processing type.
CREATE TABLE sdp.model (
  name            text NOT NULL,
  version         text NOT NULL,
  processing_type text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('logistic')),
  features        text[] NOT NULL,
  params          jsonb NOT NULL,  -- logistic: {"weights":[...], "bias":x, "defaults":[...], "bands":{"medium":x,"high":y}}
  dev_only        boolean NOT NULL DEFAULT false,
  is_default      boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);
-- One default model per processing type and environment kind.
CREATE UNIQUE INDEX model_default_per_type ON sdp.model (processing_type, dev_only) WHERE is_default;

CREATE TABLE sdp.processing_batch (
  batch_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id         text NOT NULL REFERENCES sdp.api_client (client_id),
  processing_type   text NOT NULL CHECK (processing_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  key_column        text NOT NULL DEFAULT 'customer_id',
  status            sdp.sdp_batch_status NOT NULL DEFAULT 'UPLOADING',
  idempotency_key   text,
  columns           text[],            -- CSV header / JSON keys, in order
  accepted_records  bigint NOT NULL DEFAULT 0,
  processed_records bigint NOT NULL DEFAULT 0,
  received_bytes    bigint NOT NULL DEFAULT 0,
  model_version     text,
  content_sha256    text,
  dev_only          boolean NOT NULL DEFAULT false,
  error             text,              -- why a batch is FAILED
  chunks            integer NOT NULL DEFAULT 0,  -- chunks stored so far (chunked upload)
  hash_state        bytea,             -- running SHA-256 of the chunks while UPLOADING
  created_at        timestamptz NOT NULL DEFAULT now(),
  received_at       timestamptz,
  processed_at      timestamptz,
  UNIQUE (client_id, idempotency_key)
);
CREATE INDEX processing_batch_status ON sdp.processing_batch (status) WHERE status IN ('RECEIVED', 'PROCESSING');

-- Chunks of a resumable upload: the same (batch, seq) with the same hash is a no-op, with a
-- different hash a conflict.
CREATE TABLE sdp.batch_chunk (
  batch_id     uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  seq          integer NOT NULL CHECK (seq >= 0),
  chunk_sha256 text NOT NULL,
  bytes        bigint NOT NULL,
  records      bigint NOT NULL,
  first_row_no bigint NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (batch_id, seq)
);

-- One tokenized row. `fields` follows processing_batch.columns; record_key is the value of the
-- batch's key column (a token, never raw PII).
CREATE TABLE sdp.tokenized_record (
  batch_id   uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  row_no     bigint NOT NULL,
  client_id  text NOT NULL,
  record_key text NOT NULL,
  fields     text[] NOT NULL,
  PRIMARY KEY (batch_id, row_no)
);

CREATE TABLE sdp.processed_result (
  batch_id      uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  row_no        bigint NOT NULL,
  client_id     text NOT NULL,
  record_key    text NOT NULL,
  score         double precision NOT NULL CHECK (score >= 0 AND score <= 1),
  risk_band     text NOT NULL CHECK (risk_band IN ('low', 'medium', 'high')),
  model_version text NOT NULL,
  defaulted_features integer NOT NULL DEFAULT 0,  -- features missing or non-numeric in the row
  PRIMARY KEY (batch_id, row_no)
);

-- pg_dump skips the contents of extension tables unless they are marked as configuration:
-- without this a dump of an SDP database would hold the schema and none of the data.
SELECT pg_catalog.pg_extension_config_dump('sdp.api_client', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.processing_batch', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.batch_chunk', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.tokenized_record', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.processed_result', '');

-- ==== src/extension/sql/15_tenant.sql
-- Who is calling (docs/security.md, "Tenant context").
--
-- Every sdp_* function that touches tenant data asks sdp.sdp_current_client():
--   * a client id: the request was authenticated as that client (sdp.sdp_authenticate() verified
--     its API key and set the superuser-only setting sdp.client_id for the transaction). The
--     function must only see and change that client's data and answer PT404 for anything else,
--     so existence never leaks;
--   * NULL: a trusted caller (superuser, or member of sdp_admin) acting for any client;
--   * otherwise SQLSTATE PT401 (HTTP 401): nobody authenticated, so nothing is visible.
--
-- "The caller" is judged by the role the request runs as *outside* any SECURITY DEFINER
-- function: inside one, current_user is the function's owner (the superuser that created the
-- extension), which says nothing about who called. That outer role is the role set by SET ROLE /
-- set_config('role', ...) (PostgREST sets it per request: sdp_anon, then sdp_client after
-- pre_request), else the session (login) user. Neither can be changed to a role the session is
-- not a member of, so an sdp_client login cannot make itself trusted.

-- The raw setting sdp.client_id (NULL when empty). In C: calling it loads sdp.so, whose _PG_init
-- defines the setting as PGC_SUSET, so a value set as a placeholder before the library was loaded
-- by a non-superuser is discarded by PostgreSQL instead of being believed.
CREATE FUNCTION sdp.sdp_auth_tenant() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_auth_tenant' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION sdp.sdp_auth_tenant() IS
  'raw sdp.client_id setting (NULL if unset); use sdp_current_client() instead';

-- sdp.env = 'dev' (superuser-only setting; C for the same placeholder reason).
CREATE FUNCTION sdp.sdp_is_dev() RETURNS boolean
  AS 'MODULE_PATHNAME', 'sdp_auth_is_dev' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION sdp.sdp_is_dev() IS
  'true when sdp.env = ''dev'': dev-only entry points, batches and models exist only then';

-- The role the request runs as outside SECURITY DEFINER functions (see above).
CREATE FUNCTION sdp.sdp_caller_role() RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN pg_catalog.current_setting('role') IN ('', 'none')
              THEN pg_catalog.session_user()
              ELSE pg_catalog.current_setting('role')::name END
$$;
COMMENT ON FUNCTION sdp.sdp_caller_role() IS
  'role the request runs as outside SECURITY DEFINER functions: the SET ROLE role, else the login';

-- The outer role is a superuser or a member of `role` (membership, not the NOINHERIT-able
-- privilege set). False when the role does not exist.
CREATE FUNCTION sdp.sdp_caller_has_role(role name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = sdp.sdp_caller_role()), false)
      OR (EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role)
          AND pg_catalog.pg_has_role(sdp.sdp_caller_role(), role, 'MEMBER'))
$$;
COMMENT ON FUNCTION sdp.sdp_caller_has_role(name) IS
  'the outer role is a superuser or a member of the given role';

-- Trusted = not bound to one tenant: superuser, or a member of sdp_admin or of one of the staff
-- roles of docs/governance.md (sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer). What each
-- staff role may *do* is decided by grants and by sdp.sdp_caller_has_role() checks in the
-- functions (75_governance_roles.sql); trusted only means "sees every client's rows" where its
-- table and function privileges reach.
CREATE FUNCTION sdp.sdp_caller_is_trusted() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_engineer')
      OR sdp.sdp_caller_has_role('sdp_analyst') OR sdp.sdp_caller_has_role('sdp_auditor')
      OR sdp.sdp_caller_has_role('sdp_viewer')
$$;
COMMENT ON FUNCTION sdp.sdp_caller_is_trusted() IS
  'the outer role is a superuser, a member of sdp_admin or of a staff role (acts for any client)';

CREATE FUNCTION sdp.sdp_current_client() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp.sdp_auth_tenant();
BEGIN
  IF v_client IS NOT NULL THEN
    RETURN v_client;
  END IF;
  IF sdp.sdp_caller_is_trusted() THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'PT401',
    MESSAGE = 'not authenticated: no API key was verified for this request',
    HINT = 'send the client''s key in the X-API-Key header (PostgREST) or call sdp.sdp_authenticate(api_key) in the same transaction';
END
$$;
COMMENT ON FUNCTION sdp.sdp_current_client() IS
  'authenticated client id; NULL for a trusted caller (superuser / sdp_admin); PT401 otherwise';

-- ==== src/extension/sql/20_ingest.sql
-- Ingestion: whole CSV, JSON array, and the chunked resumable upload.
--
-- The SQL layer below checks the tenant, the size limit, the model, idempotency and the batch
-- state; the C++ functions sdp._load_csv / sdp._load_json (src/extension/ingest.cc) parse the
-- body and bulk-insert the rows COPY-style (src/extension/bulk_insert.cc). Each call is one
-- statement: any error (malformed CSV, empty key, too large, ...) rolls back everything it did,
-- the batch row included, so nothing half-stored ever survives.
--
-- All public functions are SECURITY DEFINER with a pinned search_path and fully qualified names,
-- and revoked from PUBLIC (60_grants.sql grants them to the API roles). Direct heap inserts
-- bypass row-level security, hence the explicit tenant checks (sdp._check_client / _visible_batch).

-- What the loaders return.
CREATE TYPE sdp._load_result AS (columns text[], records bigint);

CREATE FUNCTION sdp._load_csv(batch_id uuid, client_id text, csv text, key_column text,
                              first_row_no bigint, columns text[], chunk_seq integer)
  RETURNS sdp._load_result AS 'MODULE_PATHNAME', 'sdp_load_csv' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdp._load_csv(uuid, text, text, text, bigint, text[], integer) IS
  'internal: parse CSV (header when columns is NULL) and bulk-insert tokenized_record rows';
CREATE FUNCTION sdp._load_json(batch_id uuid, client_id text, records jsonb, key_column text)
  RETURNS sdp._load_result AS 'MODULE_PATHNAME', 'sdp_load_json' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdp._load_json(uuid, text, jsonb, text) IS
  'internal: bulk-insert tokenized_record rows from a JSON array of flat objects';
CREATE FUNCTION sdp._sha256_hex(data text) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_sha256_hex' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sdp._sha256_update(state bytea, data text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_sha256_update' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION sdp._sha256_final(state bytea) RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_sha256_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION sdp._max_batch_bytes() RETURNS bigint
  AS 'MODULE_PATHNAME', 'sdp_max_batch_bytes' LANGUAGE C STABLE PARALLEL SAFE;

-- The sdp_batch view of a batch row.
CREATE FUNCTION sdp._batch_out(b sdp.processing_batch) RETURNS sdp.sdp_batch
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ROW(b.batch_id, b.client_id, b.processing_type, b.status, b.accepted_records,
             b.processed_records, b.model_version, b.created_at, b.processed_at,
             b.content_sha256)::sdp.sdp_batch
$$;

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

-- The default model that scores p_type in this environment (prod models first; dev-only ones
-- only when sdp.env = 'dev'), or a row of NULLs.
CREATE FUNCTION sdp._model_for(p_type text) RETURNS sdp.model
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT m FROM sdp.model m
   WHERE m.processing_type = p_type AND m.is_default
     AND (NOT m.dev_only OR pg_catalog.current_setting('sdp.env') = 'dev')
   ORDER BY m.dev_only LIMIT 1
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
                         WHERE t.is_default
                           AND (NOT t.dev_only OR pg_catalog.current_setting('sdp.env') = 'dev')));
  END IF;
  RETURN m;
END
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
     OR (b.dev_only AND pg_catalog.current_setting('sdp.env') <> 'dev') THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = format('batch %s not found', coalesce(p_batch_id::text, 'NULL'));
  END IF;
  IF p_lock THEN
    BEGIN
      SELECT * INTO b FROM sdp.processing_batch p WHERE p.batch_id = p_batch_id FOR UPDATE;
    EXCEPTION WHEN serialization_failure THEN
      RAISE EXCEPTION USING ERRCODE = 'PT409',
        MESSAGE = format('batch %s was changed by a concurrent request', p_batch_id),
        HINT = 'retry the request';
    END;
  END IF;
  RETURN b;
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
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('idempotency key "%s" is being used by a concurrent request', sdp._echo(p_key)),
      HINT = 'retry the request';
  END IF;
  IF b.processing_type <> p_type OR b.key_column <> p_key_column
     OR (p_sha IS NOT NULL AND b.content_sha256 IS DISTINCT FROM p_sha) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('idempotency key "%s" was already used for a different batch', sdp._echo(p_key)),
      HINT = 'use a new idempotency key for different content';
  END IF;
  IF b.dev_only AND pg_catalog.current_setting('sdp.env') <> 'dev' THEN
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
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('idempotency key "%s" is being used by a concurrent request', sdp._echo(p_key)),
      HINT = 'retry the request';
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
  m sdp.model;
  b sdp.processing_batch;
  r sdp._load_result;
BEGIN
  PERFORM sdp._check_client(v_client);
  IF sdp_ingest_csv.csv IS NULL OR octet_length(sdp_ingest_csv.csv) = 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'empty body: no CSV was sent',
      HINT = 'send the CSV (header line first) as the request body';
  END IF;
  PERFORM sdp._check_size(octet_length(sdp_ingest_csv.csv));
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
         received_bytes = octet_length(sdp_ingest_csv.csv), status = 'RECEIVED',
         received_at = pg_catalog.now()
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN sdp._batch_out(b);
END
$$;
COMMENT ON FUNCTION sdp.sdp_ingest_csv(text, text, text, text, text) IS
  'store a whole CSV (header required) as a RECEIVED batch; idempotent under idempotency_key';

-- ---- JSON array -----------------------------------------------------------------------------
CREATE FUNCTION sdp.sdp_ingest_json(client_id text, processing_type text, records jsonb,
                                    key_column text DEFAULT 'customer_id',
                                    idempotency_key text DEFAULT NULL)
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
  r := sdp._load_json(b.batch_id, v_client, v_records, v_key_column);
  UPDATE sdp.processing_batch p
     SET columns = r.columns, accepted_records = r.records, chunks = 1,
         received_bytes = octet_length(v_text), status = 'RECEIVED', received_at = pg_catalog.now()
   WHERE p.batch_id = b.batch_id
  RETURNING * INTO b;
  RETURN sdp._batch_out(b);
END
$$;
COMMENT ON FUNCTION sdp.sdp_ingest_json(text, text, jsonb, text, text) IS
  'store a JSON array of flat objects (or {"records": [...]}) as a RECEIVED batch';

-- ---- chunked, resumable upload ----------------------------------------------------------------
-- open → append(seq 0 = header + rows, 1.. = whole rows only, in order) → seal(chunks, sha256).
CREATE FUNCTION sdp.sdp_batch_open(client_id text, processing_type text,
                                   key_column text DEFAULT 'customer_id',
                                   idempotency_key text DEFAULT NULL)
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
  RETURN sdp._batch_out(b);
END
$$;
COMMENT ON FUNCTION sdp.sdp_batch_open(text, text, text, text) IS
  'start a chunked upload (status UPLOADING); idempotent under idempotency_key';

CREATE FUNCTION sdp.sdp_batch_append(batch_id uuid, seq integer, chunk text, chunk_sha256 text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_seq integer := sdp_batch_append.seq;
  v_sha text;
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
  IF sdp_batch_append.chunk IS NULL OR octet_length(sdp_batch_append.chunk) = 0 THEN
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
  PERFORM sdp._check_size(b.received_bytes + octet_length(sdp_batch_append.chunk));
  r := sdp._load_csv(b.batch_id, b.client_id, sdp_batch_append.chunk, b.key_column,
                     b.accepted_records + 1, CASE WHEN v_seq = 0 THEN NULL ELSE b.columns END, v_seq);
  INSERT INTO sdp.batch_chunk (batch_id, seq, chunk_sha256, bytes, records, first_row_no)
  VALUES (b.batch_id, v_seq, v_sha, octet_length(sdp_batch_append.chunk), r.records,
          b.accepted_records + 1);
  UPDATE sdp.processing_batch p
     SET columns = r.columns, chunks = p.chunks + 1,
         accepted_records = p.accepted_records + r.records,
         received_bytes = p.received_bytes + octet_length(sdp_batch_append.chunk),
         hash_state = sdp._sha256_update(p.hash_state, sdp_batch_append.chunk)
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
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('batch %s is already sealed (%s) with other content', b.batch_id, b.status);
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
-- client's batch is PT404, like an unknown one.
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
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('batch %s is %s: only an UPLOADING batch can be aborted', b.batch_id, b.status);
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

REVOKE ALL ON FUNCTION
  sdp._load_csv(uuid, text, text, text, bigint, text[], integer),
  sdp._load_json(uuid, text, jsonb, text),
  sdp._sha256_hex(text), sdp._sha256_update(bytea, text), sdp._sha256_final(bytea),
  sdp._max_batch_bytes(), sdp._batch_out(sdp.processing_batch), sdp._echo(text), sdp._check_client(text),
  sdp._model_for(text), sdp._require_model(text), sdp._visible_batch(uuid, boolean),
  sdp._idempotent_batch(text, text),
  sdp._replay(sdp.processing_batch, text, text, text, text),
  sdp._insert_batch(text, text, text, text, text, boolean), sdp._check_size(bigint),
  sdp.sdp_ingest_csv(text, text, text, text, text),
  sdp.sdp_ingest_json(text, text, jsonb, text, text),
  sdp.sdp_batch_open(text, text, text, text),
  sdp.sdp_batch_append(uuid, integer, text, text),
  sdp.sdp_batch_seal(uuid, integer, text),
  sdp.sdp_batch_abort(uuid, text)
FROM PUBLIC;

-- ==== src/extension/sql/30_process.sql
-- Scoring and processing.
--
-- sdp_score_logistic is the C++ scoring UDF. sdp_process_batch locks the batch row, picks the
-- model registered for the batch's processing type and hands the rows to sdp._score_batch
-- (src/extension/scoring.cc), which reads them in row order, scores each in C++ and
-- bulk-inserts processed_result. Concurrency: the batch row is locked FOR UPDATE, so a second
-- session waits, then sees PROCESSED and returns the stored result (READ COMMITTED), or gets
-- PT409 (REPEATABLE READ / SERIALIZABLE: sdp._visible_batch maps 40001 to PT409). The primary
-- key of processed_result makes duplicate results impossible in any case.

CREATE FUNCTION sdp.sdp_score_logistic(features float8[], weights float8[], bias float8)
  RETURNS float8 AS 'MODULE_PATHNAME', 'sdp_score_logistic'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION sdp.sdp_score_logistic(float8[], float8[], float8) IS
  '1/(1+exp(-(bias + features·weights))); lengths must match (22023); NULL elements are refused (22004)';

CREATE FUNCTION sdp._score_batch(batch_id uuid, client_id text, model_version text,
                                 feature_idx integer[], weights float8[], bias float8,
                                 center float8[], scale float8[], defaults float8[],
                                 clip float8, band_medium float8, band_high float8)
  RETURNS bigint[] AS 'MODULE_PATHNAME', 'sdp_score_batch' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdp._score_batch(uuid, text, text, integer[], float8[], float8, float8[], float8[], float8[], float8, float8, float8) IS
  'internal: score every row of a batch in C++ and bulk-insert processed_result; returns {rows, defaulted features}';

-- A jsonb array of numbers as float8[] (NULL if absent).
CREATE FUNCTION sdp._float8_array(j jsonb) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT array_agg(e::float8 ORDER BY i) FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(e, i) $$;

-- The model registry's built-in rows (docs/model_demo_v1.md). demo_v1 scores risk_scoring;
-- demo_v2_dev is a dev-only model for risk_scoring_v2, visible only when sdp.env = 'dev'.
INSERT INTO sdp.model (name, version, processing_type, kind, features, params, dev_only, is_default)
VALUES
  ('demo_v1', '1.0.0', 'risk_scoring', 'logistic',
   ARRAY['age', 'income', 'balance', 'num_transactions'],
   '{"weights":  [-0.35, -0.9, -0.6, 0.55],
     "bias":     -0.9,
     "center":   [45, 60000, 15000, 40],
     "scale":    [15, 30000, 20000, 30],
     "defaults": [45, 60000, 15000, 40],
     "clip":     5,
     "bands":    {"medium": 0.3, "high": 0.6}}', false, true),
  ('demo_v2_dev', '2.0.0-dev', 'risk_scoring_v2', 'logistic',
   ARRAY['age', 'income', 'balance', 'num_transactions'],
   '{"weights":  [-0.2, -1.1, -0.8, 0.9],
     "bias":     -0.5,
     "center":   [45, 60000, 15000, 40],
     "scale":    [15, 30000, 20000, 30],
     "defaults": [45, 60000, 15000, 40],
     "clip":     5,
     "bands":    {"medium": 0.3, "high": 0.6}}', true, true);
-- Models added later by an operator are data and belong in a dump; the built-in ones come back
-- with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('sdp.model', 'WHERE name NOT IN (''demo_v1'', ''demo_v2_dev'')');

-- The processing both entry points share.
CREATE FUNCTION sdp._process(p_batch_id uuid) RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch := sdp._visible_batch(p_batch_id, true);
  m sdp.model;
  p jsonb;
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
    p := m.params;
    r := sdp._score_batch(
      b.batch_id, b.client_id, m.name,
      ARRAY(SELECT coalesce(array_position(b.columns, f.name), 0) - 1
              FROM unnest(m.features) WITH ORDINALITY AS f(name, i) ORDER BY f.i),
      sdp._float8_array(p -> 'weights'), (p ->> 'bias')::float8,
      sdp._float8_array(p -> 'center'), sdp._float8_array(p -> 'scale'),
      sdp._float8_array(p -> 'defaults'), coalesce((p ->> 'clip')::float8, 10),
      (p -> 'bands' ->> 'medium')::float8, (p -> 'bands' ->> 'high')::float8);
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

CREATE FUNCTION sdp.sdp_process_batch(batch_id uuid) RETURNS sdp.sdp_batch
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._process(batch_id) $$;
COMMENT ON FUNCTION sdp.sdp_process_batch(uuid) IS
  'score a RECEIVED batch with its processing type''s model (PROCESSED, or FAILED with the reason); again = the stored result';

-- The seeds' /dev/process-batch: exists only when sdp.env = 'dev'; elsewhere PT404 (HTTP 404),
-- whatever the batch, so it cannot even be used to probe for batch ids.
CREATE FUNCTION sdp.sdp_dev_process_batch(batch_id uuid) RETURNS sdp.sdp_batch
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_catalog.current_setting('sdp.env') <> 'dev' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = 'not found',
      DETAIL = 'dev entry points exist only when sdp.env = ''dev''';
  END IF;
  RETURN sdp._process(sdp_dev_process_batch.batch_id);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dev_process_batch(uuid) IS
  'sdp_process_batch for sdp.env = ''dev'' only; PT404 otherwise';

REVOKE ALL ON FUNCTION
  sdp.sdp_score_logistic(float8[], float8[], float8),
  sdp._score_batch(uuid, text, text, integer[], float8[], float8, float8[], float8[], float8[], float8, float8, float8),
  sdp._float8_array(jsonb), sdp._process(uuid),
  sdp.sdp_process_batch(uuid), sdp.sdp_dev_process_batch(uuid)
FROM PUBLIC;

-- ==== src/extension/sql/35_results.sql
-- Results, status and health.

CREATE FUNCTION sdp.sdp_batch_status(batch_id uuid) RETURNS sdp.sdp_batch
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._batch_out(sdp._visible_batch(batch_id, false)) $$;
COMMENT ON FUNCTION sdp.sdp_batch_status(uuid) IS 'the batch, or PT404 if the caller may not see it';

-- One row per scored record, in row order (empty until the batch is PROCESSED).
-- Governance (issue 7, 76_audit.sql / 77_integrity.sql): the rows' integrity MACs are verified
-- (XX001 if any was changed outside the API) and the read is written to sdp.access_log; hence
-- VOLATILE (sdp_api.results stays STABLE for GET: under READ ONLY the access goes to the log).
CREATE FUNCTION sdp.sdp_results(batch_id uuid)
RETURNS TABLE(row_no bigint, record_key text, score float8, risk_band text, model_version text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch := sdp._visible_batch(sdp_results.batch_id, false);
BEGIN
  PERFORM sdp._check_batch_integrity(b.batch_id, false, true);
  PERFORM sdp._access('results', b.batch_id::text, 'allowed', b.processed_records);
  RETURN QUERY
    SELECT r.row_no, r.record_key, r.score, r.risk_band, r.model_version
      FROM sdp.processed_result r
     WHERE r.batch_id = b.batch_id
     ORDER BY r.row_no;
END
$$;
COMMENT ON FUNCTION sdp.sdp_results(uuid) IS 'scores of a batch in row order; PT404 if the caller may not see it';

-- RFC 4180 field: quoted when it holds a comma, quote, CR or LF (or leading/trailing space).
CREATE FUNCTION sdp._csv_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN v ~ '[",\r\n]' OR v ~ '^\s|\s$' THEN '"' || replace(v, '"', '""') || '"' ELSE v END
$$;

CREATE FUNCTION sdp.sdp_results_csv(batch_id uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch := sdp._visible_batch(sdp_results_csv.batch_id, false);
BEGIN
  PERFORM sdp._check_batch_integrity(b.batch_id, false, true);  -- as sdp_results
  PERFORM sdp._access('results_csv', b.batch_id::text, 'allowed', b.processed_records);
  RETURN 'record_key,score,risk_band,model_version' || E'\n' ||
         coalesce((SELECT string_agg(sdp._csv_field(r.record_key) || ',' || r.score::text || ',' ||
                                     r.risk_band || ',' || sdp._csv_field(r.model_version),
                                     E'\n' ORDER BY r.row_no) || E'\n'
                     FROM sdp.processed_result r WHERE r.batch_id = b.batch_id), '');
END
$$;
COMMENT ON FUNCTION sdp.sdp_results_csv(uuid) IS
  'results as RFC 4180 CSV (header record_key,score,risk_band,model_version; LF line ends)';

-- Liveness: the seeds' GET /health body.
CREATE FUNCTION sdp.sdp_health() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{"status":"ok","service":"ingestion_api"}'::jsonb $$;

-- Readiness: the SQL schema and the loaded library are the same version, and when
-- sdp.auto_process is on the background launcher is running (needs shared_preload_libraries).
CREATE FUNCTION sdp.sdp_ready() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_schema text := (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'sdp');
  v_library text := sdp.sdp_version();
  v_auto boolean := pg_catalog.current_setting('sdp.auto_process')::boolean;
  v_worker text;
BEGIN
  v_worker := CASE
    WHEN NOT v_auto THEN 'disabled'
    WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'sdp launcher') THEN 'running'
    ELSE 'missing' END;
  RETURN jsonb_build_object(
    'status', CASE WHEN v_schema = v_library AND v_worker <> 'missing' THEN 'ok' ELSE 'not_ready' END,
    'schema_version', v_schema,
    'library_version', v_library,
    'worker', v_worker);
END
$$;
COMMENT ON FUNCTION sdp.sdp_ready() IS
  'readiness: schema version = library version, and the worker runs when sdp.auto_process is on';

REVOKE ALL ON FUNCTION
  sdp.sdp_batch_status(uuid), sdp.sdp_results(uuid), sdp._csv_field(text),
  sdp.sdp_results_csv(uuid), sdp.sdp_health(), sdp.sdp_ready()
FROM PUBLIC;

-- ==== src/extension/sql/40_auth.sql
-- Roles, API keys and authentication (docs/security.md).

-- ---- Roles -----------------------------------------------------------------------------------
-- Roles are cluster-wide, not part of any database, so they cannot be members of the extension:
-- they are created here only when missing and DROP EXTENSION leaves them (other databases of the
-- cluster may use them). An existing role with a dangerous attribute is refused rather than
-- silently trusted: a superuser or BYPASSRLS sdp_client/sdp_anon would void row-level security.
--   sdp_authenticator  LOGIN NOINHERIT: PostgREST's connection role; no privileges of its own,
--                      may only switch to sdp_anon / sdp_client. The deployer sets its password.
--   sdp_anon           NOLOGIN: requests without a verified key (health, readyz, pre_request).
--   sdp_client         NOLOGIN: a verified client; sees its own rows only (RLS).
--   sdp_admin          NOLOGIN: operators; manage clients and keys, act for any client.
DO $roles$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES ('sdp_authenticator', true),
                                 ('sdp_anon', false),
                                 ('sdp_client', false),
                                 ('sdp_admin', false)) AS v(name, login) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
      IF r.login THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT', r.name);
        -- Request headers (X-API-Key) reach the server as bind parameters of PostgREST's
        -- set_config() statement: keep them out of the server log even if statement logging
        -- is switched on.
        EXECUTE format('ALTER ROLE %I SET log_parameter_max_length = 0', r.name);
        EXECUTE format('ALTER ROLE %I SET log_parameter_max_length_on_error = 0', r.name);
      ELSE
        EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
      END IF;
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                  WHERE rolname = r.name AND (rolsuper OR rolbypassrls)) THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format('role %s exists and is SUPERUSER or BYPASSRLS', r.name),
        HINT = format('row-level security would not apply to it: ALTER ROLE %s NOSUPERUSER NOBYPASSRLS, then CREATE EXTENSION sdp again', r.name);
    END IF;
  END LOOP;
  -- PostgREST switches from the authenticator to these roles (docs/postgrest.md §6).
  FOR r IN SELECT * FROM (VALUES ('sdp_anon'), ('sdp_client')) AS v(name) LOOP
    IF NOT pg_catalog.pg_has_role('sdp_authenticator', r.name, 'MEMBER') THEN
      EXECUTE format('GRANT %I TO sdp_authenticator', r.name);
    END IF;
  END LOOP;
END
$roles$;

-- ---- Server pepper ---------------------------------------------------------------------------
-- One 32-byte secret, generated here, used as the HMAC key for stored API-key hashes. Only the
-- extension owner (a superuser) can read it: no grant, and row-level security without a policy.
-- It is part of pg_dump's output (config table) so a restored database still accepts its keys;
-- protect dumps like the database itself.
CREATE TABLE sdp.auth_secret (
  id         integer PRIMARY KEY CHECK (id = 1),
  secret     bytea NOT NULL CHECK (octet_length(secret) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sdp.auth_secret IS 'server pepper for API-key hashes; owner only, never exposed';
REVOKE ALL ON sdp.auth_secret FROM PUBLIC;
ALTER TABLE sdp.auth_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.auth_secret FORCE ROW LEVEL SECURITY;

-- C helpers (auth.cc). Owner only: they take the pepper as an argument.
CREATE FUNCTION sdp.sdp_auth_new_key() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_auth_new_key' LANGUAGE C VOLATILE;
CREATE FUNCTION sdp.sdp_auth_new_secret() RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_auth_new_secret' LANGUAGE C VOLATILE;
CREATE FUNCTION sdp.sdp_auth_key_hash(secret bytea, api_key text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_auth_key_hash' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION sdp.sdp_auth_match(secret bytea, api_key text, hashes bytea) RETURNS integer
  AS 'MODULE_PATHNAME', 'sdp_auth_match' LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION sdp.sdp_auth_new_key() IS 'new API key: sdp_ + 32 base64url characters (192 bits)';
COMMENT ON FUNCTION sdp.sdp_auth_key_hash(bytea, text) IS 'HMAC-SHA-256(pepper, api_key)';
COMMENT ON FUNCTION sdp.sdp_auth_match(bytea, text, bytea) IS
  '1-based position of HMAC(pepper, api_key) among concatenated 32-byte hashes, 0 if absent; constant time';

INSERT INTO sdp.auth_secret (id, secret) VALUES (1, sdp.sdp_auth_new_secret());
SELECT pg_catalog.pg_extension_config_dump('sdp.auth_secret', '');

-- Stored hashes are HMAC-SHA-256 outputs; sdp_auth_match relies on the fixed size.
ALTER TABLE sdp.api_client
  ADD CONSTRAINT api_client_key_hash_size CHECK (key_hash IS NULL OR octet_length(key_hash) = 32);

-- ---- Internal helpers ------------------------------------------------------------------------
-- Raises unless the caller is trusted and not acting as a client (managing keys is an operator
-- task; a client's request must never reach it).
CREATE FUNCTION sdp.sdp_require_admin() RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp.sdp_auth_tenant() IS NOT NULL OR NOT sdp.sdp_caller_has_role('sdp_admin') THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = 'managing clients and API keys needs a superuser or a member of sdp_admin';
  END IF;
END
$$;

-- Validates a key supplied by an operator. The message never contains the key.
CREATE FUNCTION sdp.sdp_check_api_key(api_key text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_catalog.length(api_key) < 32 OR pg_catalog.length(api_key) > 256 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'an API key must have 32 to 256 characters',
      HINT = 'omit api_key to have a 192-bit key generated';
  END IF;
  IF api_key !~ '^[\x21-\x7e]+$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'an API key may only contain printable ASCII characters without spaces',
      HINT = 'it travels in an HTTP header (X-API-Key)';
  END IF;
END
$$;

CREATE FUNCTION sdp.sdp_check_client_id(client_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF client_id IS NULL OR client_id !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'invalid client_id: 1 to 64 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit';
  END IF;
END
$$;

-- The pepper (owner only; the callers are SECURITY DEFINER).
CREATE FUNCTION sdp.sdp_auth_pepper() RETURNS bytea
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT secret FROM sdp.auth_secret WHERE id = 1 $$;

-- Stores a new key for an existing or new client; returns the key. Refuses a key that another
-- client already uses (two clients with one key could not be told apart).
CREATE FUNCTION sdp.sdp_store_key(p_client_id text, p_api_key text, p_create boolean) RETURNS text
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
    VALUES (p_client_id, sdp.sdp_auth_key_hash(v_pepper, p_api_key), pg_catalog.left(p_api_key, 8));
  ELSE
    UPDATE sdp.api_client
       SET key_hash = sdp.sdp_auth_key_hash(v_pepper, p_api_key),
           key_prefix = pg_catalog.left(p_api_key, 8),
           key_rotated_at = pg_catalog.now(),
           revoked_at = NULL
     WHERE client_id = p_client_id;
  END IF;
  RETURN p_api_key;
END
$$;

-- ---- Public (operator) API -------------------------------------------------------------------
CREATE FUNCTION sdp.sdp_create_client(client_id text, api_key text DEFAULT NULL) RETURNS text
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
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('client %s already exists', v_client),
      HINT = 'use sdp.sdp_rotate_key(client_id) to give it a new key';
  END IF;
  BEGIN
    RETURN sdp.sdp_store_key(v_client, v_key, true);
  EXCEPTION WHEN unique_violation THEN  -- created concurrently
    RAISE EXCEPTION USING ERRCODE = 'PT409', MESSAGE = format('client %s already exists', v_client);
  END;
END
$$;
COMMENT ON FUNCTION sdp.sdp_create_client(text, text) IS
  'registers a client; returns its API key (generated when api_key is NULL), shown only this once';

CREATE FUNCTION sdp.sdp_rotate_key(client_id text, api_key text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_rotate_key.client_id;
  v_key text := sdp_rotate_key.api_key;
BEGIN
  PERFORM sdp.sdp_require_admin();
  IF v_key IS NULL THEN
    v_key := sdp.sdp_auth_new_key();
  ELSE
    PERFORM sdp.sdp_check_api_key(v_key);
  END IF;
  PERFORM 1 FROM sdp.api_client c WHERE c.client_id = v_client FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(v_client));
  END IF;
  RETURN sdp.sdp_store_key(v_client, v_key, false);
END
$$;
COMMENT ON FUNCTION sdp.sdp_rotate_key(text, text) IS
  'replaces a client''s API key (the old one stops working at commit); returns the new key';

CREATE FUNCTION sdp.sdp_revoke_key(client_id text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp.sdp_require_admin();
  UPDATE sdp.api_client c SET key_hash = NULL, revoked_at = pg_catalog.now()
   WHERE c.client_id = sdp_revoke_key.client_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = format('unknown client %s', sdp._echo(sdp_revoke_key.client_id));
  END IF;
END
$$;
COMMENT ON FUNCTION sdp.sdp_revoke_key(text) IS
  'revokes a client''s API key; its data stays; sdp_rotate_key gives it a new one';

-- Verifies an API key and makes its client the tenant of the current transaction
-- (sdp.client_id, set LOCAL: it ends with the transaction, so a pooled PostgREST connection never
-- carries it into the next request). `client_id`, when given (X-Client-Id), must be the key's
-- client. Errors: PT401 missing/unknown/revoked key, PT403 key of a different client. Messages
-- never contain the key, and never name the client a key actually belongs to.
CREATE FUNCTION sdp.sdp_authenticate(api_key text, client_id text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ids text[];
  v_hashes bytea;
  v_pos integer;
  v_client text;
BEGIN
  IF api_key IS NULL OR api_key = '' THEN
    PERFORM sdp.sdp_metrics_count('sdp_auth_failures_total', 1);  -- 65_metrics.sql
    RAISE EXCEPTION USING ERRCODE = 'PT401', MESSAGE = 'missing API key',
      HINT = 'send the client''s key in the X-API-Key header';
  END IF;
  IF pg_catalog.length(api_key) <= 256 THEN
    SELECT pg_catalog.array_agg(c.client_id ORDER BY c.client_id),
           pg_catalog.string_agg(c.key_hash, ''::bytea ORDER BY c.client_id)
      INTO v_ids, v_hashes
      FROM sdp.api_client c
     WHERE c.key_hash IS NOT NULL AND c.revoked_at IS NULL;
    v_pos := sdp.sdp_auth_match(sdp.sdp_auth_pepper(), api_key, coalesce(v_hashes, ''::bytea));
  END IF;
  IF coalesce(v_pos, 0) = 0 THEN
    PERFORM sdp.sdp_metrics_count('sdp_auth_failures_total', 1);  -- 65_metrics.sql
    RAISE EXCEPTION USING ERRCODE = 'PT401', MESSAGE = 'invalid API key',
      HINT = 'the key is unknown or was revoked; ask the operator for a new one';
  END IF;
  v_client := v_ids[v_pos];
  IF sdp_authenticate.client_id IS NOT NULL AND sdp_authenticate.client_id <> v_client THEN
    PERFORM sdp.sdp_metrics_count('sdp_auth_failures_total', 1);  -- 65_metrics.sql
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = 'the API key does not belong to the client named in the request',
      HINT = 'X-Client-Id (or client_id) must be the client the key was issued to';
  END IF;
  PERFORM pg_catalog.set_config('sdp.client_id', v_client, true);
  RETURN v_client;
END
$$;
COMMENT ON FUNCTION sdp.sdp_authenticate(text, text) IS
  'verifies an API key (constant time) and sets the tenant of this transaction; PT401 / PT403';

-- ==== src/extension/sql/50_rls.sql
-- Row-level security on every tenant table (docs/security.md, "Row-level security").
--
-- ENABLE + FORCE on processing_batch, batch_chunk, tokenized_record, processed_result, api_client
-- (and model, for dev-only models). A client sees and changes only its own rows, even with plain
-- SQL as sdp_client; dev-only batches and models are invisible unless sdp.env = 'dev'.
--
-- The tenant comes from sdp.sdp_current_client(): a client id, NULL for a trusted caller (every
-- row), or PT401 for an unauthenticated one. It is wrapped in a scalar sub-select so PostgreSQL
-- evaluates it once per query (an InitPlan), not once per row.
--
-- The sdp_* functions are SECURITY DEFINER and owned by the superuser that created the
-- extension; superusers bypass RLS even when it is FORCEd, so those functions enforce the tenant
-- themselves (PT404 for another client's batch). FORCE still matters: should ownership ever move
-- to a non-superuser role, the owner is bound by the same policies, and the trusted (NULL) branch
-- keeps the owner path working.

ALTER TABLE sdp.processing_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.processing_batch FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.batch_chunk ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.batch_chunk FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.tokenized_record ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.tokenized_record FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.processed_result ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.processed_result FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.api_client ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.api_client FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.model ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.model FORCE ROW LEVEL SECURITY;

-- A batch: the tenant's own, and dev-only ones only in dev. The same condition guards writes
-- (WITH CHECK), so a row cannot be moved to another client or turned dev-only outside dev.
CREATE POLICY batch_tenant ON sdp.processing_batch
  USING ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
         AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())))
  WITH CHECK ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
              AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));

-- Chunks, rows and results follow their batch: visible only when the batch is (the sub-select on
-- processing_batch is itself filtered by batch_tenant). Rows and results also carry client_id,
-- checked directly so a row can never claim another client.
CREATE POLICY chunk_tenant ON sdp.batch_chunk
  USING (EXISTS (SELECT 1 FROM sdp.processing_batch b WHERE b.batch_id = batch_chunk.batch_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.processing_batch b WHERE b.batch_id = batch_chunk.batch_id));

CREATE POLICY record_tenant ON sdp.tokenized_record
  USING ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
         AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                     WHERE b.batch_id = tokenized_record.batch_id AND b.client_id = tokenized_record.client_id))
  WITH CHECK ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
              AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                          WHERE b.batch_id = tokenized_record.batch_id AND b.client_id = tokenized_record.client_id));

CREATE POLICY result_tenant ON sdp.processed_result
  USING ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
         AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                     WHERE b.batch_id = processed_result.batch_id AND b.client_id = processed_result.client_id))
  WITH CHECK ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
              AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                          WHERE b.batch_id = processed_result.batch_id AND b.client_id = processed_result.client_id));

-- A client sees its own registration (never the key hash: no column privilege, see below);
-- only trusted callers create, change or delete clients.
CREATE POLICY client_self ON sdp.api_client FOR SELECT
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY client_admin_insert ON sdp.api_client FOR INSERT
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY client_admin_update ON sdp.api_client FOR UPDATE
  USING ((SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY client_admin_delete ON sdp.api_client FOR DELETE
  USING ((SELECT sdp.sdp_current_client()) IS NULL);

-- Models are not per client; dev-only ones exist only in dev. Writes: trusted callers only.
CREATE POLICY model_visible ON sdp.model FOR SELECT
  USING (NOT dev_only OR (SELECT sdp.sdp_is_dev()));
CREATE POLICY model_admin_insert ON sdp.model FOR INSERT
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));
CREATE POLICY model_admin_update ON sdp.model FOR UPDATE
  USING ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())))
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));
CREATE POLICY model_admin_delete ON sdp.model FOR DELETE
  USING ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));

-- ---- Table privileges ------------------------------------------------------------------------
-- Nothing for PUBLIC. sdp_client reads its own rows (RLS) and never writes tables directly:
-- uploads and processing go through the sdp_* functions, which validate and count. sdp_admin
-- reads everything; it changes data through the functions too. Nobody but the owner reads
-- sdp.auth_secret.
REVOKE ALL ON sdp.processing_batch, sdp.batch_chunk, sdp.tokenized_record, sdp.processed_result,
              sdp.api_client, sdp.model, sdp.auth_secret FROM PUBLIC;
GRANT SELECT ON sdp.processing_batch, sdp.batch_chunk, sdp.tokenized_record, sdp.processed_result,
                sdp.model TO sdp_client, sdp_admin;
GRANT SELECT (client_id, key_prefix, created_at, key_rotated_at, revoked_at) ON sdp.api_client
  TO sdp_client, sdp_admin;

-- ==== src/extension/sql/60_api.sql
-- The PostgREST v12 surface: schema sdp_api (PGRST_DB_SCHEMAS=sdp_api,
-- PGRST_DB_PRE_REQUEST=sdp_api.pre_request, PGRST_DB_ANON_ROLE=sdp_anon). Contract: docs/postgrest.md;
-- our reading of it: docs/postgrest.md.
--
-- Every function here is a thin SECURITY INVOKER wrapper: it runs as the role PostgREST switched
-- to (sdp_client after pre_request) and calls the SECURITY DEFINER sdp.sdp_* API, which enforces
-- the tenant. Unique names, no overloading (PGRST203). VOLATILE for everything that writes
-- (PostgREST then opens a READ WRITE transaction), STABLE for reads (READ ONLY, GET allowed).
-- Errors carry PT-codes that PostgREST maps to the HTTP status: PT401, PT403, PT404, PT409,
-- PT413, PT415; 22023/22P02/22P04 give 400. Nothing here raises 40001.
--
-- Helpers live in schema sdp (not exposed).

-- One request header (PostgREST lowercases names), NULL when absent or blank. Outside a request
-- request.headers is unset or '' (docs/postgrest.md §1).
CREATE FUNCTION sdp.sdp_api_header(name text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT nullif(btrim((nullif(current_setting('request.headers', true), '')::json) ->> lower(name)), '')
$$;
COMMENT ON FUNCTION sdp.sdp_api_header(text) IS 'request header (PostgREST request.headers), NULL if absent';

-- The client a request acts for: the authenticated one. A client id named in the request (body
-- or X-Client-Id) must be that client (PT403); a trusted caller must name one.
CREATE FUNCTION sdp.sdp_api_client(requested text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_tenant text := sdp.sdp_current_client();  -- PT401 when nobody authenticated
BEGIN
  IF requested IS NULL OR requested = '' THEN
    IF v_tenant IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'client_id is required';
    END IF;
    RETURN v_tenant;
  END IF;
  IF v_tenant IS NOT NULL AND requested <> v_tenant THEN
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = 'the API key does not belong to the client named in the request',
      HINT = 'X-Client-Id (or client_id) must be the client the key was issued to';
  END IF;
  RETURN requested;
END
$$;

-- The batch a request is about: the batch_id argument, else the X-Batch-Id header (lets the
-- Caddyfile map /dev/process-batch/{id} and /api/v1/results/{id} onto /rpc/*). Bad UUID: 22P02.
CREATE FUNCTION sdp.sdp_api_batch_id(batch_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_header text;
BEGIN
  IF batch_id IS NOT NULL THEN
    RETURN batch_id;
  END IF;
  v_header := sdp.sdp_api_header('x-batch-id');
  IF v_header IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'batch_id is required',
      HINT = 'pass batch_id or the X-Batch-Id header';
  END IF;
  IF v_header !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22P02', MESSAGE = 'X-Batch-Id is not a UUID';
  END IF;
  RETURN v_header::uuid;
END
$$;

-- Sets the HTTP status PostgREST answers with (read in the same statement, docs/postgrest.md §4).
CREATE FUNCTION sdp.sdp_api_status(status integer) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT set_config('response.status', status::text, true) $$;

-- Response bodies, as the seeds, keys in this order and compact (row_to_json):
--   upload  {"batch_id","accepted_records","status"}
--   process {"batch_id","processed_records","model_version","status"}
--   chunk   {"batch_id","seq","accepted_records"}
CREATE TYPE sdp.sdp_api_upload AS (batch_id uuid, accepted_records bigint, status sdp.sdp_batch_status);
CREATE TYPE sdp.sdp_api_processed AS (batch_id uuid, processed_records bigint, model_version text,
                                      status sdp.sdp_batch_status);
CREATE TYPE sdp.sdp_api_chunk AS (batch_id uuid, seq integer, accepted_records bigint);

CREATE FUNCTION sdp.sdp_api_upload_json(b sdp.sdp_batch) RETURNS json
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT row_to_json(ROW(b.batch_id, b.accepted_records, b.status)::sdp.sdp_api_upload) $$;

-- Upload answer: 201 when this request created the batch (its created_at is this transaction's
-- timestamp), 200 when an idempotency key returned an existing one.
CREATE FUNCTION sdp.sdp_api_upload_response(b sdp.sdp_batch) RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp.sdp_api_status(CASE WHEN b.created_at = now() THEN 201 ELSE 200 END);
  RETURN sdp.sdp_api_upload_json(b);
END
$$;

CREATE FUNCTION sdp.sdp_api_process_response(b sdp.sdp_batch) RETURNS json
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT row_to_json(ROW(b.batch_id, b.processed_records, b.model_version, b.status)::sdp.sdp_api_processed)
$$;

-- ---- pre-request -----------------------------------------------------------------------------
-- Runs before every request as sdp_anon. health, readyz and metrics need no key. Everything else needs
-- X-API-Key: missing or unknown → PT401, key of another client than X-Client-Id → PT403 (JSON
-- body {"code","message","details","hint"} from PostgREST). On success the tenant is set for this
-- transaction and the role switched to sdp_client. SECURITY INVOKER and without SET clauses:
-- inside SECURITY DEFINER, set_config('role') fails with 42501 (docs/postgrest.md §2).
CREATE FUNCTION sdp_api.pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  v_path text := nullif(pg_catalog.current_setting('request.path', true), '');
BEGIN
  PERFORM sdp._metrics_request(v_path);  -- sdp_api_requests_total, counted when the request ends
  IF v_path IN ('/rpc/health', '/rpc/readyz', '/rpc/metrics') THEN
    RETURN;
  END IF;
  PERFORM sdp.sdp_authenticate(sdp.sdp_api_header('x-api-key'), sdp.sdp_api_header('x-client-id'));
  PERFORM pg_catalog.set_config('role', 'sdp_client', true);
END
$$;
COMMENT ON FUNCTION sdp_api.pre_request() IS
  'PostgREST db-pre-request: verifies X-API-Key (PT401) against X-Client-Id (PT403), sets the tenant, switches to sdp_client';

-- ---- health ----------------------------------------------------------------------------------
-- GET /rpc/health → {"status":"ok","service":"ingestion_api"}; no key needed.
CREATE FUNCTION sdp_api.health() RETURNS json
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_health()::json $$;

-- GET /rpc/readyz → sdp.sdp_ready(); 503 when not ready. No key needed.
CREATE FUNCTION sdp_api.readyz() RETURNS json
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v json := sdp.sdp_ready()::json;
BEGIN
  IF json_typeof(v) = 'object' AND coalesce(v ->> 'ready', v ->> 'status') IN ('false', 'not_ready', 'error', 'fail') THEN
    PERFORM set_config('response.status', '503', true);
  END IF;
  RETURN v;
END
$$;

-- ---- uploads ---------------------------------------------------------------------------------
-- POST /rpc/process, Content-Type: application/json, body
--   {"processing_type":"risk_scoring","records":[{...},...] [,"client_id","key_column","idempotency_key"]}
-- → 201 {"batch_id","accepted_records","status":"RECEIVED"}. Idempotency-Key header works too.
CREATE FUNCTION sdp_api.process(records jsonb, processing_type text, client_id text DEFAULT NULL,
                                key_column text DEFAULT 'customer_id', idempotency_key text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp.sdp_api_upload_response(sdp.sdp_ingest_json(
    sdp.sdp_api_client(process.client_id), process.processing_type, process.records,
    coalesce(process.key_column, 'customer_id'),
    coalesce(process.idempotency_key, sdp.sdp_api_header('idempotency-key'))));
END
$$;
COMMENT ON FUNCTION sdp_api.process(jsonb, text, text, text, text) IS
  'POST JSON batch {records, processing_type[, client_id, key_column, idempotency_key]} → {batch_id, accepted_records, status}';

-- POST /rpc/process_file, Content-Type: text/plain, body = the tokenized CSV (header row first).
-- Headers: X-Client-Id, X-Processing-Type (required), X-Key-Column (default customer_id),
-- Idempotency-Key. → 201 {"batch_id","accepted_records","status":"RECEIVED"}.
-- Empty body → 400; another Content-Type → 415.
CREATE FUNCTION sdp_api.process_file(text) RETURNS json
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
    sdp.sdp_api_header('idempotency-key')));
END
$$;
COMMENT ON FUNCTION sdp_api.process_file(text) IS
  'POST text/plain CSV; headers X-Client-Id, X-Processing-Type, X-Key-Column, Idempotency-Key → {batch_id, accepted_records, status}';

-- ---- chunked, resumable upload ---------------------------------------------------------------
-- POST /rpc/batch_open {"processing_type"[,"key_column","idempotency_key","client_id"]}
-- → 201 (200 when the idempotency key already opened it) {"batch_id","accepted_records","status":"UPLOADING"}.
CREATE FUNCTION sdp_api.batch_open(processing_type text, key_column text DEFAULT 'customer_id',
                                   idempotency_key text DEFAULT NULL, client_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp.sdp_api_upload_response(sdp.sdp_batch_open(
    sdp.sdp_api_client(batch_open.client_id), batch_open.processing_type,
    coalesce(batch_open.key_column, 'customer_id'),
    coalesce(batch_open.idempotency_key, sdp.sdp_api_header('idempotency-key'))));
END
$$;

-- POST /rpc/batch_append, Content-Type: text/plain, body = one chunk of CSV rows; headers
-- X-Batch-Id, X-Chunk-Seq, X-Chunk-Sha256. The same chunk again is a no-op; a different one with
-- the same seq is a conflict (409). → {"batch_id","seq","accepted_records"} (rows stored so far).
CREATE FUNCTION sdp_api.batch_append(text) RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_type text := lower(btrim(split_part(coalesce(sdp.sdp_api_header('content-type'), 'text/plain'), ';', 1)));
  v_batch uuid := sdp.sdp_api_batch_id(NULL);
  v_seq text := sdp.sdp_api_header('x-chunk-seq');
  v_sha text := sdp.sdp_api_header('x-chunk-sha256');
  v_records bigint;
BEGIN
  IF v_type <> 'text/plain' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT415',
      MESSAGE = 'batch_append takes the chunk as the request body with Content-Type: text/plain';
  END IF;
  IF v_seq IS NULL OR v_seq !~ '^[0-9]{1,9}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the X-Chunk-Seq header must be a number from 0';
  END IF;
  IF v_sha IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the X-Chunk-Sha256 header is required';
  END IF;
  IF $1 IS NULL OR $1 = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'empty body: send the chunk';
  END IF;
  v_records := sdp.sdp_batch_append(v_batch, v_seq::integer, $1, v_sha);
  RETURN row_to_json(ROW(v_batch, v_seq::integer, v_records)::sdp.sdp_api_chunk);
END
$$;

-- POST /rpc/batch_seal {"batch_id","chunks","content_sha256"} → {"batch_id","accepted_records","status":"RECEIVED"}.
CREATE FUNCTION sdp_api.batch_seal(batch_id uuid, chunks integer, content_sha256 text) RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp.sdp_api_upload_json(sdp.sdp_batch_seal(batch_seal.batch_id, batch_seal.chunks,
                                                    batch_seal.content_sha256));
END
$$;

-- POST /rpc/batch_abort {"batch_id"[,"reason"]} → {"batch_id","accepted_records":0,"status":"FAILED"}:
-- gives up an UPLOADING chunked upload, its staged rows deleted (sdp_batch_abort).
CREATE FUNCTION sdp_api.batch_abort(batch_id uuid, reason text DEFAULT NULL) RETURNS json
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp.sdp_api_upload_json(sdp.sdp_batch_abort(batch_abort.batch_id, batch_abort.reason));
END
$$;

-- ---- processing ------------------------------------------------------------------------------
-- POST /rpc/process_batch {"batch_id"} (or X-Batch-Id) → {"batch_id","processed_records","model_version","status":"PROCESSED"}.
CREATE FUNCTION sdp_api.process_batch(batch_id uuid DEFAULT NULL) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_api_process_response(sdp.sdp_process_batch(sdp.sdp_api_batch_id(batch_id))) $$;

-- POST /rpc/dev_process_batch, the seeds' /dev/process-batch/{id}: 404 unless sdp.env = 'dev'.
CREATE FUNCTION sdp_api.dev_process_batch(batch_id uuid DEFAULT NULL) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_api_process_response(sdp.sdp_dev_process_batch(sdp.sdp_api_batch_id(batch_id))) $$;

-- ---- reads -----------------------------------------------------------------------------------
-- GET /rpc/batch?batch_id=… → the sdp_batch row as JSON.
CREATE FUNCTION sdp_api.batch(batch_id uuid DEFAULT NULL) RETURNS json
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT row_to_json(sdp.sdp_batch_status(sdp.sdp_api_batch_id(batch_id))) $$;

-- GET /rpc/results?batch_id=… → JSON array of {row_no, record_key, score, risk_band,
-- model_version}; with Accept: text/csv PostgREST's built-in CSV output (header row + rows).
CREATE FUNCTION sdp_api.results(batch_id uuid DEFAULT NULL)
RETURNS TABLE(row_no bigint, record_key text, score double precision, risk_band text, model_version text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT r.row_no, r.record_key, r.score, r.risk_band, r.model_version
        FROM sdp.sdp_results(sdp.sdp_api_batch_id(batch_id)) r $$;

-- Media-type handler (docs/postgrest.md §4): a function returning this domain answers with
-- Content-Type: text/csv and the raw text as body.
CREATE DOMAIN sdp_api."text/csv" AS text;

-- GET /rpc/results_csv?batch_id=… (Accept: text/csv) → the extension's own RFC 4180 CSV.
CREATE FUNCTION sdp_api.results_csv(batch_id uuid DEFAULT NULL) RETURNS sdp_api."text/csv"
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_results_csv(sdp.sdp_api_batch_id(batch_id))::sdp_api."text/csv" $$;

-- ==== src/extension/sql/60_grants.sql
-- Function privileges, least privilege (docs/security.md, "Privileges"). Runs after every other
-- part of the install script: first nobody but the owner may execute anything in sdp or sdp_api,
-- then each role gets exactly what it needs. sql/auth.sql lists the result and fails when a new
-- function is left executable by PUBLIC.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sdp, sdp_api FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_version() TO PUBLIC;  -- 00_schemas.sql: harmless, by design

GRANT USAGE ON SCHEMA sdp TO sdp_anon, sdp_client, sdp_admin;
GRANT USAGE ON SCHEMA sdp_api TO sdp_anon, sdp_client;

-- Tenant context: RLS policies call these as the querying role.
GRANT EXECUTE ON FUNCTION sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
                          sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted()
  TO sdp_anon, sdp_client, sdp_admin;

-- sdp_anon: what a request without a verified key may run. pre_request authenticates (as
-- sdp_anon, before the switch); health and readyz answer without a key.
GRANT EXECUTE ON FUNCTION sdp_api.pre_request(), sdp_api.health(), sdp_api.readyz(),
                          sdp.sdp_authenticate(text, text), sdp.sdp_health(), sdp.sdp_ready(),
                          sdp.sdp_api_header(text)
  TO sdp_anon;

-- sdp_client: the PostgREST surface and the tenant-checked SQL API (libpq clients use it
-- directly after sdp_authenticate). Each sdp_* function answers PT404 for other clients' batches.
GRANT EXECUTE ON FUNCTION
    sdp_api.pre_request(), sdp_api.health(), sdp_api.readyz(),
    sdp_api.process(jsonb, text, text, text, text), sdp_api.process_file(text),
    sdp_api.batch_open(text, text, text, text), sdp_api.batch_append(text),
    sdp_api.batch_seal(uuid, integer, text), sdp_api.batch_abort(uuid, text),
    sdp_api.process_batch(uuid),
    sdp_api.dev_process_batch(uuid), sdp_api.batch(uuid), sdp_api.results(uuid),
    sdp_api.results_csv(uuid),
    sdp.sdp_authenticate(text, text), sdp.sdp_health(), sdp.sdp_ready(),
    sdp.sdp_ingest_csv, sdp.sdp_ingest_json, sdp.sdp_batch_open, sdp.sdp_batch_append,
    sdp.sdp_batch_seal, sdp.sdp_batch_abort, sdp.sdp_process_batch, sdp.sdp_dev_process_batch, sdp.sdp_batch_status,
    sdp.sdp_results, sdp.sdp_results_csv,
    sdp.sdp_api_header(text), sdp.sdp_api_client(text), sdp.sdp_api_batch_id(uuid),
    sdp.sdp_api_status(integer), sdp.sdp_api_upload_response(sdp.sdp_batch),
    sdp.sdp_api_upload_json(sdp.sdp_batch),
    sdp.sdp_api_process_response(sdp.sdp_batch)
  TO sdp_client;

-- sdp_admin: the whole sdp_* API (acts for any client) and client/key management; not the
-- C internals that take the pepper, nor the error-bridge self-tests.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sdp TO sdp_admin;
REVOKE EXECUTE ON FUNCTION sdp.sdp_auth_new_secret(), sdp.sdp_auth_key_hash(bytea, text),
                           sdp.sdp_auth_match(bytea, text, bytea), sdp.sdp_auth_pepper(),
                           sdp.sdp_store_key(text, text, boolean),
                           sdp.sdp_selftest_throw(text, text, text, text),
                           sdp.sdp_selftest_throw_std(text), sdp.sdp_selftest_pg_error(text),
                           sdp.sdp_selftest_pg_error_rethrow(text), sdp.sdp_selftest_spin()
  FROM sdp_admin;
-- Internal helpers of the data path (sdp._*) skip the checks the public functions make.
DO $revoke$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'sdp'::regnamespace AND p.proname LIKE '\_%' LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM sdp_admin', f);
  END LOOP;
END
$revoke$;

-- ==== src/extension/sql/65_metrics.sql
-- Observability: shared-memory metrics (src/extension/metrics.cc, docs/observability.md).
--
-- sdp.sdp_metrics() renders every metric in the Prometheus text exposition format; it needs sdp
-- in shared_preload_libraries (55000 otherwise). The views below expose the same numbers as rows
-- for postgres_exporter custom queries (docker/postgres-exporter/queries.yaml), and
-- sdp_api.metrics() serves them through PostgREST as text/plain (GET /rpc/metrics, /metrics via
-- Caddy). Counters are updated lock-free (atomics): failures at once, committed work on commit.

CREATE FUNCTION sdp.sdp_metrics() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_metrics' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdp.sdp_metrics() IS
  'every sdp metric in the Prometheus text exposition format 0.0.4; 55000 when sdp is not preloaded';

-- The API other parts of the extension (and governance code) count with: adds delta to an
-- unlabelled counter now, whatever happens to the transaction (a detected failure is usually
-- followed by an error that rolls everything back). Returns false when metrics are unavailable.
CREATE FUNCTION sdp.sdp_metrics_count(name text, delta bigint DEFAULT 1) RETURNS boolean
  AS 'MODULE_PATHNAME', 'sdp_metrics_count' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdp.sdp_metrics_count(text, bigint) IS
  'add delta (>= 0) to a counter now, e.g. sdp_metrics_count(''record_integrity_failures_total'', 1); false when not preloaded';

CREATE FUNCTION sdp._metrics_request(path text) RETURNS void
  AS 'MODULE_PATHNAME', 'sdp_metrics_request' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION sdp._metrics_request(text) IS
  'internal: the PostgREST request of this transaction, counted ok/error when it ends';

-- Every status change of a batch, whoever makes it (SQL API, worker, operator), counted when the
-- transaction commits (C trigger: no per-row work, a few microseconds per batch).
CREATE FUNCTION sdp._metrics_batch_trigger() RETURNS trigger
  AS 'MODULE_PATHNAME', 'sdp_metrics_batch_trigger' LANGUAGE C VOLATILE;
CREATE TRIGGER sdp_metrics_batch_insert AFTER INSERT ON sdp.processing_batch
  FOR EACH ROW EXECUTE FUNCTION sdp._metrics_batch_trigger();
CREATE TRIGGER sdp_metrics_batch_status AFTER UPDATE OF status ON sdp.processing_batch
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION sdp._metrics_batch_trigger();

-- The exposition parsed back into samples: one row per sample line.
CREATE FUNCTION sdp.sdp_metrics_samples(OUT name text, OUT labels jsonb, OUT value float8)
  RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT m[1],
         coalesce((SELECT jsonb_object_agg(l[1], l[2])
                     FROM regexp_matches(coalesce(m[2], ''), '(\w+)="([^"]*)"', 'g') AS l),
                  '{}'::jsonb),
         m[3]::float8
    FROM regexp_matches(sdp.sdp_metrics(), '^(\w+)(?:\{([^}]*)\})? (\S+)$', 'gn') AS m
$$;
COMMENT ON FUNCTION sdp.sdp_metrics_samples() IS 'sdp_metrics() as rows (name, labels, value)';

-- Views for postgres_exporter (docker/postgres-exporter/queries.yaml names the metrics).
CREATE VIEW sdp.metrics_batches AS
  SELECT s.labels ->> 'status' AS status, s.value::bigint AS total
    FROM sdp.sdp_metrics_samples() s WHERE s.name = 'sdp_batches_total';
CREATE VIEW sdp.metrics_api_requests AS
  SELECT s.labels ->> 'function' AS function, s.labels ->> 'outcome' AS outcome,
         s.value::bigint AS total
    FROM sdp.sdp_metrics_samples() s WHERE s.name = 'sdp_api_requests_total';
CREATE VIEW sdp.metrics_pipeline AS
  SELECT max(s.value) FILTER (WHERE s.name = 'sdp_records_ingested_total')::bigint AS records_ingested_total,
         max(s.value) FILTER (WHERE s.name = 'sdp_records_processed_total')::bigint AS records_processed_total,
         max(s.value) FILTER (WHERE s.name = 'sdp_ingest_bytes_total')::bigint AS ingest_bytes_total,
         max(s.value) FILTER (WHERE s.name = 'sdp_auth_failures_total')::bigint AS auth_failures_total,
         max(s.value) FILTER (WHERE s.name = 'sdp_worker_up')::bigint AS worker_up,
         max(s.value) FILTER (WHERE s.name = 'record_integrity_failures_total')::bigint AS integrity_failures_total
    FROM sdp.sdp_metrics_samples() s;
-- The histogram in postgres_exporter's HISTOGRAM shape: bounds (le, without +Inf), cumulative
-- bucket counts, sum and count.
CREATE VIEW sdp.metrics_latency AS
  SELECT array_agg((s.labels ->> 'le')::float8 ORDER BY (s.labels ->> 'le')::float8)
           FILTER (WHERE s.name = 'sdp_processing_latency_seconds_bucket' AND s.labels ->> 'le' <> '+Inf') AS seconds,
         array_agg(s.value::bigint ORDER BY (s.labels ->> 'le')::float8)
           FILTER (WHERE s.name = 'sdp_processing_latency_seconds_bucket' AND s.labels ->> 'le' <> '+Inf') AS seconds_bucket,
         max(s.value) FILTER (WHERE s.name = 'sdp_processing_latency_seconds_sum') AS seconds_sum,
         max(s.value) FILTER (WHERE s.name = 'sdp_processing_latency_seconds_count')::bigint AS seconds_count
    FROM sdp.sdp_metrics_samples() s;

-- PostgREST: GET /rpc/metrics with Accept: text/plain (v12 media-type handler: the return type
-- is a domain named after the media type). No API key needed (pre_request lets it through, like
-- health); no client names or PII in the output. Restrict /metrics to the monitoring network
-- at the proxy.
CREATE DOMAIN sdp_api."text/plain" AS text;
CREATE FUNCTION sdp_api.metrics() RETURNS sdp_api."text/plain"
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_metrics()::sdp_api."text/plain" $$;
COMMENT ON FUNCTION sdp_api.metrics() IS
  'GET /rpc/metrics (Accept: text/plain): Prometheus exposition of sdp_metrics()';

-- Privileges (60_grants.sql already ran): nothing for PUBLIC; the exporter reads the views as a
-- member of pg_monitor; the PostgREST roles may call metrics and count their request.
REVOKE EXECUTE ON FUNCTION sdp.sdp_metrics(), sdp.sdp_metrics_count(text, bigint),
                           sdp._metrics_request(text), sdp._metrics_batch_trigger(),
                           sdp.sdp_metrics_samples(), sdp_api.metrics()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_metrics(), sdp.sdp_metrics_samples() TO pg_monitor, sdp_admin;
GRANT EXECUTE ON FUNCTION sdp.sdp_metrics_count(text, bigint) TO sdp_admin;
GRANT USAGE ON SCHEMA sdp TO pg_monitor;
GRANT SELECT ON sdp.metrics_batches, sdp.metrics_api_requests, sdp.metrics_pipeline,
                sdp.metrics_latency TO pg_monitor, sdp_admin;
GRANT EXECUTE ON FUNCTION sdp_api.metrics(), sdp._metrics_request(text) TO sdp_anon, sdp_client;

-- ==== src/extension/sql/75_governance_roles.sql
-- Governance roles (docs/governance.md, "Roles"). Issue 7.
--
-- NOLOGIN group roles, granted to login roles by the deployer (GRANT sdp_engineer TO alice).
-- Created only when missing; like 40_auth.sql, an existing one that is SUPERUSER or BYPASSRLS
-- is refused. Every staff role is "trusted" (sdp.sdp_caller_is_trusted(), 15_tenant.sql): not
-- bound to one client. What each may do is decided by grants (89_governance_grants.sql: a
-- missing EXECUTE or SELECT privilege is SQLSTATE 42501, HTTP 403) and, where one function
-- serves several roles, by sdp._require_capability() below (also 42501).
--   sdp_admin     everything; clients, keys, holds, retention, erasure
--   sdp_engineer  upload, process, read any record, update records (new version), approve
--   sdp_analyst   read records and results; propose edits (pending, needs an engineer)
--   sdp_auditor   read records, versions, access log and audit log; change nothing
--   sdp_viewer    batch status and aggregate counts only
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['sdp_engineer', 'sdp_analyst', 'sdp_auditor', 'sdp_viewer'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                  WHERE rolname = r AND (rolsuper OR rolbypassrls)) THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format('role %s exists and is SUPERUSER or BYPASSRLS', r),
        HINT = format('ALTER ROLE %s NOSUPERUSER NOBYPASSRLS, then CREATE EXTENSION sdp again', r);
    END IF;
  END LOOP;
END
$roles$;

-- Capabilities and the roles that hold them (superusers hold all).
CREATE FUNCTION sdp._caller_can(capability text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sdp.sdp_auth_tenant() IS NULL AND CASE capability
    WHEN 'admin'    THEN sdp.sdp_caller_has_role('sdp_admin')
    WHEN 'engineer' THEN sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_engineer')
    WHEN 'propose'  THEN sdp.sdp_caller_has_role('sdp_analyst')
    WHEN 'read'     THEN sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_engineer')
                      OR sdp.sdp_caller_has_role('sdp_analyst') OR sdp.sdp_caller_has_role('sdp_auditor')
    WHEN 'audit'    THEN sdp.sdp_caller_has_role('sdp_admin') OR sdp.sdp_caller_has_role('sdp_auditor')
    WHEN 'status'   THEN sdp.sdp_caller_is_trusted()
    ELSE false END
$$;

-- 42501 unless the caller holds `capability`. The denial is written to the server log (the
-- transaction, and with it anything written to sdp.access_log, is rolled back by the error).
CREATE FUNCTION sdp._require_capability(capability text, action text, target text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT sdp._caller_can(capability) THEN
    RAISE LOG 'sdp access denied: role=% action=% target=%', sdp.sdp_caller_role(), action,
      coalesce(target, '-');
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('permission denied: %s needs the %s capability', action, capability),
      HINT = 'see docs/governance.md, "Roles"';
  END IF;
END
$$;

-- Aggregate counts for dashboards (sdp_viewer and up): no client ids, no rows.
CREATE FUNCTION sdp.sdp_batch_counts()
RETURNS TABLE(status sdp.sdp_batch_status, batches bigint, records bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('status', 'batch_counts');
  RETURN QUERY
    SELECT b.status, pg_catalog.count(*), pg_catalog.sum(b.accepted_records)::bigint
      FROM sdp.processing_batch b
     WHERE NOT b.dev_only OR sdp.sdp_is_dev()
     GROUP BY b.status ORDER BY b.status;
END
$$;
COMMENT ON FUNCTION sdp.sdp_batch_counts() IS
  'batches and accepted records per status (aggregates only; staff roles)';

-- ==== src/extension/sql/76_audit.sql
-- Hash-chained, append-only audit log and the access log (docs/governance.md). Issue 7.
--
-- sdp.audit_log: one row per event, numbered without gaps by seq. Every entry is chained:
--   entry_hash = SHA-256(prev_hash || convert_to(canonical entry, 'UTF8'))
-- where prev_hash is the previous entry's entry_hash (32 zero bytes for seq 1) and the canonical
-- entry is the jsonb text of [seq, at (UTC, microseconds), actor, client_id, event, target,
-- details]. sdp_audit_verify() recomputes the chain and names the first broken link. Entries
-- never hold raw PII or secrets: callers pass identifiers, counts and column names only.
--
-- Append-only: no UPDATE/DELETE/TRUNCATE privilege for anybody, and a trigger refuses them even
-- for the owner and superusers (a superuser who disables the trigger first is caught by the
-- chain). The chain head lives in sdp.audit_head (one row, locked by each append), so appends are
-- serialised: the lock is held until the appending transaction ends, which is why the sdp_*
-- functions audit at their end. A REPEATABLE READ/SERIALIZABLE conflict on the head (40001) is
-- reported as PT409, never 40001 (docs/postgrest.md §2).
CREATE TABLE sdp.audit_log (
  seq        bigint PRIMARY KEY,
  at         timestamptz NOT NULL,
  actor      text NOT NULL,          -- the calling role (sdp.sdp_caller_role())
  client_id  text,                   -- the authenticated tenant, if any
  event      text NOT NULL,
  target     text,                   -- batch id, record id, client id, hold id ...
  details    jsonb NOT NULL DEFAULT '{}',
  prev_hash  bytea NOT NULL,
  entry_hash bytea NOT NULL
);
COMMENT ON TABLE sdp.audit_log IS 'append-only, hash-chained audit events (no PII, no secrets)';

CREATE TABLE sdp.audit_head (
  id   integer PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO sdp.audit_head VALUES (1, 0, pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'));

REVOKE ALL ON sdp.audit_log, sdp.audit_head FROM PUBLIC;

CREATE FUNCTION sdp._audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '42501',
    MESSAGE = format('sdp.audit_log is append-only: %s refused', TG_OP);
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON sdp.audit_log
  FOR EACH ROW EXECUTE FUNCTION sdp._audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON sdp.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._audit_refuse_change();

-- The canonical text of an entry (what the hash covers).
CREATE FUNCTION sdp._audit_canonical(seq bigint, at timestamptz, actor text, client_id text,
                                     event text, target text, details jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.convert_to(pg_catalog.jsonb_build_array(
           seq, pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           actor, client_id, event, target, details)::text, 'UTF8')
$$;

-- Appends one event; returns its seq. Internal (owner only): the public functions call it.
CREATE FUNCTION sdp._audit(p_event text, p_target text, p_details jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_seq bigint;
  v_prev bytea;
  v_at timestamptz := pg_catalog.clock_timestamp();
  v_actor text := sdp.sdp_caller_role();
  v_client text := sdp.sdp_auth_tenant();
  v_details jsonb := coalesce(p_details, '{}');
  v_hash bytea;
BEGIN
  BEGIN
    SELECT h.seq + 1, h.hash INTO v_seq, v_prev FROM sdp.audit_head h WHERE h.id = 1 FOR UPDATE;
    v_hash := pg_catalog.sha256(v_prev || sdp._audit_canonical(v_seq, v_at, v_actor, v_client,
                                                                p_event, p_target, v_details));
    INSERT INTO sdp.audit_log (seq, at, actor, client_id, event, target, details, prev_hash, entry_hash)
    VALUES (v_seq, v_at, v_actor, v_client, p_event, p_target, v_details, v_prev, v_hash);
    UPDATE sdp.audit_head h SET seq = v_seq, hash = v_hash WHERE h.id = 1;
  EXCEPTION WHEN serialization_failure THEN
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = 'the audit log was appended to concurrently; retry the request';
  END;
  RETURN v_seq;
END
$$;

-- First broken link of the chain, or no row when the chain is intact. `reason`: entry_hash
-- (content changed), prev_hash (link to the previous entry broken), gap (seq missing: deleted),
-- head (the last entry is not the recorded head: entries removed at the end).
CREATE FUNCTION sdp.sdp_audit_verify()
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
    IF e.entry_hash <> pg_catalog.sha256(v_prev || sdp._audit_canonical(e.seq, e.at, e.actor,
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
COMMENT ON FUNCTION sdp.sdp_audit_verify() IS
  'recomputes the audit hash chain; the first broken link (seq, reason) or no row';

-- ---- access log ------------------------------------------------------------------------------
-- Seed shape: user, action, target, timestamp, outcome. Written by the functions that read
-- records and results (sdp_results, sdp_results_csv, sdp_records, sdp_record_history). Only in
-- a read-write transaction: PostgREST runs GET requests READ ONLY, where the row cannot be
-- written; those reads are then logged to the server log instead (docs/governance.md).
CREATE TABLE sdp.access_log (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  actor     text NOT NULL,
  client_id text,
  action    text NOT NULL,
  target    text,
  outcome   text NOT NULL CHECK (outcome IN ('allowed', 'denied')),
  rows      bigint
);
REVOKE ALL ON sdp.access_log FROM PUBLIC;

CREATE FUNCTION sdp._access(p_action text, p_target text, p_outcome text, p_rows bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
    RAISE LOG 'sdp access: role=% client=% action=% target=% outcome=% rows=%',
      sdp.sdp_caller_role(), coalesce(sdp.sdp_auth_tenant(), '-'), p_action,
      coalesce(p_target, '-'), p_outcome, coalesce(p_rows::text, '-');
    RETURN;
  END IF;
  INSERT INTO sdp.access_log (actor, client_id, action, target, outcome, rows)
  VALUES (sdp.sdp_caller_role(), sdp.sdp_auth_tenant(), p_action, p_target, p_outcome, p_rows);
END
$$;

-- ---- events of the existing data path, by trigger ---------------------------------------------
-- processing_batch and api_client have one row per batch / client, so row triggers cost nothing
-- on the bulk path (tokenized_record and processed_result carry no trigger). They are deferred
-- constraint triggers: the events are appended at commit, so the chain head is locked only for
-- the commit itself, not for a whole upload.
CREATE FUNCTION sdp._audit_batch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM sdp._audit('batch.upload', NEW.batch_id::text,
      pg_catalog.jsonb_build_object('client_id', NEW.client_id, 'processing_type', NEW.processing_type,
                                    'status', NEW.status, 'records', NEW.accepted_records));
  ELSIF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM sdp._audit(CASE WHEN NEW.status IN ('PROCESSING', 'PROCESSED', 'FAILED')
                            THEN 'batch.process' ELSE 'batch.upload' END,
      NEW.batch_id::text,
      pg_catalog.jsonb_build_object('client_id', NEW.client_id, 'from', OLD.status, 'to', NEW.status,
                                    'records', NEW.accepted_records, 'processed', NEW.processed_records,
                                    'model', NEW.model_version));
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER processing_batch_audit AFTER INSERT OR UPDATE ON sdp.processing_batch
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sdp._audit_batch();

-- Client and key changes; never the key, its hash or its prefix.
CREATE FUNCTION sdp._audit_client() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM sdp._audit('client.create', NEW.client_id, '{}');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM sdp._audit('client.delete', OLD.client_id, '{}');
  ELSIF NEW.key_hash IS NULL AND OLD.key_hash IS NOT NULL THEN
    PERFORM sdp._audit('client.key_revoke', NEW.client_id, '{}');
  ELSIF NEW.key_hash IS DISTINCT FROM OLD.key_hash THEN
    PERFORM sdp._audit('client.key_rotate', NEW.client_id, '{}');
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER api_client_audit AFTER INSERT OR UPDATE OR DELETE ON sdp.api_client
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sdp._audit_client();

SELECT pg_catalog.pg_extension_config_dump('sdp.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.audit_head', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.access_log', '');

-- ==== src/extension/sql/77_integrity.sql
-- Integrity and tamper detection (docs/governance.md, "Integrity"). Issue 7.
--
-- Every sdp.tokenized_record and sdp.processed_result row carries integrity_hmac =
-- HMAC-SHA-256(integrity key, canonical row) (src/extension/integrity_crypto.h). The bulk loader
-- computes it in C++ as it buffers each row (bulk_insert.cc), with keyed SHA-256 states prepared
-- once per load; rows changed through sdp_update_record get a fresh MAC. A row changed any other
-- way (a superuser UPDATE, a restored or edited dump, a disk edit) no longer matches:
--   * API reads (sdp_results, sdp_results_csv, sdp_records) verify the rows they return and
--     refuse with XX001 (data_corrupted) instead of serving changed data;
--   * sdp_verify_integrity(batch_id DEFAULT NULL) checks everything, returns the bad rows, appends
--     one row per bad row to sdp.integrity_failure (the record_integrity_failures_total counter,
--     view sdp.integrity_failures_total) and writes an audit event integrity.failure.
--
-- The key: 32 random bytes in sdp.integrity_secret, readable only by the extension owner (no
-- grant, RLS forced without a policy), like the API-key pepper in sdp.auth_secret. It is never
-- a GUC and never leaves the server.
CREATE TABLE sdp.integrity_secret (
  id         integer PRIMARY KEY CHECK (id = 1),
  secret     bytea NOT NULL CHECK (octet_length(secret) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sdp.integrity_secret IS 'server key of the row integrity MACs; owner only, never exposed';
REVOKE ALL ON sdp.integrity_secret FROM PUBLIC;
ALTER TABLE sdp.integrity_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.integrity_secret FORCE ROW LEVEL SECURITY;
INSERT INTO sdp.integrity_secret (id, secret) VALUES (1, sdp.sdp_auth_new_secret());
SELECT pg_catalog.pg_extension_config_dump('sdp.integrity_secret', '');

ALTER TABLE sdp.tokenized_record ADD COLUMN integrity_hmac bytea;
ALTER TABLE sdp.processed_result ADD COLUMN integrity_hmac bytea;

CREATE FUNCTION sdp._integrity_key() RETURNS bytea
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT secret FROM sdp.integrity_secret WHERE id = 1 $$;

CREATE FUNCTION sdp._record_mac(key bytea, batch_id uuid, row_no bigint, client_id text,
                                record_key text, fields text[]) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_record_mac' LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION sdp._result_mac(key bytea, batch_id uuid, row_no bigint, client_id text,
                                record_key text, score float8, risk_band text, model_version text,
                                defaulted_features integer) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_result_mac' LANGUAGE C IMMUTABLE STRICT;

-- True when the row's MAC matches (NULL MAC = bad).
-- No SET clause, on purpose: PostgreSQL only inlines a SQL function without one, and inlined these
-- cost one MAC per row instead of a function-call frame with a search_path switch (measured on a
-- 1M-row batch: 0.9 s instead of 8.9 s for the check sdp_results runs before every fetch). The
-- body does not depend on search_path: the function is schema-qualified and the operator is
-- OPERATOR(pg_catalog.=); the callers are SECURITY DEFINER functions with a pinned search_path.
CREATE FUNCTION sdp._record_ok(k bytea, r sdp.tokenized_record) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$ SELECT coalesce(r.integrity_hmac OPERATOR(pg_catalog.=)
                        sdp._record_mac(k, r.batch_id, r.row_no, r.client_id, r.record_key, r.fields),
                      false) $$;
CREATE FUNCTION sdp._result_ok(k bytea, r sdp.processed_result) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$ SELECT coalesce(r.integrity_hmac OPERATOR(pg_catalog.=)
                        sdp._result_mac(k, r.batch_id, r.row_no, r.client_id, r.record_key, r.score,
                                        r.risk_band, r.model_version, r.defaulted_features),
                      false) $$;

-- Durable record of the failures found by sdp_verify_integrity: one row per bad row per check.
-- (The live counter record_integrity_failures_total is the metrics exporter's, in shared memory;
-- this table and sdp_integrity_failures_total() survive restarts.)
CREATE SEQUENCE sdp.integrity_check_seq;
CREATE TABLE sdp.integrity_failure (
  id          bigserial PRIMARY KEY,
  check_no    bigint NOT NULL,     -- one sdp_verify_integrity() call
  detected_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  table_name  text NOT NULL,
  batch_id    uuid NOT NULL,
  row_no      bigint NOT NULL,
  client_id   text
);
CREATE INDEX integrity_failure_check ON sdp.integrity_failure (check_no);
REVOKE ALL ON sdp.integrity_failure FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('sdp.integrity_failure', '');
CREATE VIEW sdp.integrity_failures_total AS
  SELECT pg_catalog.count(*)::bigint AS record_integrity_failures_total FROM sdp.integrity_failure;
REVOKE ALL ON sdp.integrity_failures_total FROM PUBLIC;

-- Adds to the shared-memory counter record_integrity_failures_total of the metrics exporter
-- (65_metrics.sql, docs/observability.md) when it is there. Shared memory survives the rollback
-- that follows a refused read, so even read-only requests count.
CREATE FUNCTION sdp._count_integrity_failures(n bigint) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF n > 0 AND pg_catalog.to_regprocedure('sdp.sdp_metrics_count(text,bigint)') IS NOT NULL THEN
    EXECUTE 'SELECT sdp.sdp_metrics_count($1, $2)' USING 'record_integrity_failures_total', n;
  END IF;
END
$$;

-- Read-path check: XX001 when any row of the batch has a bad MAC. (The error rolls back the
-- transaction, so it cannot count or audit; sdp_verify_integrity does both.)
CREATE FUNCTION sdp._check_batch_integrity(p_batch_id uuid, p_records boolean, p_results boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k bytea := sdp._integrity_key();
  v_bad bigint := 0;
BEGIN
  IF p_records THEN
    SELECT pg_catalog.count(*) INTO v_bad FROM sdp.tokenized_record r
     WHERE r.batch_id = p_batch_id AND NOT sdp._record_ok(k, r);
  END IF;
  IF p_results THEN
    v_bad := v_bad + (SELECT pg_catalog.count(*) FROM sdp.processed_result r
                       WHERE r.batch_id = p_batch_id AND NOT sdp._result_ok(k, r));
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

CREATE FUNCTION sdp.sdp_verify_integrity(batch_id uuid DEFAULT NULL)
RETURNS TABLE(table_name text, batch uuid, row_no bigint, client_id text)
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
  INSERT INTO sdp.integrity_failure (check_no, table_name, batch_id, row_no, client_id)
    SELECT v_check, 'tokenized_record', r.batch_id, r.row_no, r.client_id FROM sdp.tokenized_record r
     WHERE (v_batch IS NULL OR r.batch_id = v_batch) AND NOT sdp._record_ok(k, r)
    UNION ALL
    SELECT v_check, 'processed_result', r.batch_id, r.row_no, r.client_id FROM sdp.processed_result r
     WHERE (v_batch IS NULL OR r.batch_id = v_batch) AND NOT sdp._result_ok(k, r);
  IF FOUND THEN
    -- Identifiers only: table, batch, row numbers (never the row's content).
    SELECT pg_catalog.jsonb_build_object(
             'rows', pg_catalog.count(*),
             'bad', pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                      'table', f.table_name, 'batch_id', f.batch_id, 'row_no', f.row_no)
                    ORDER BY f.table_name, f.batch_id, f.row_no))
      INTO v_bad FROM sdp.integrity_failure f WHERE f.check_no = v_check;
    PERFORM sdp._audit('integrity.failure', coalesce(v_batch::text, 'all'), v_bad);
    PERFORM sdp._count_integrity_failures((v_bad ->> 'rows')::bigint);
  END IF;
  RETURN QUERY SELECT f.table_name, f.batch_id, f.row_no, f.client_id FROM sdp.integrity_failure f
                WHERE f.check_no = v_check ORDER BY 1, 2, 3;
END
$$;
COMMENT ON FUNCTION sdp.sdp_verify_integrity(uuid) IS
  'rows whose integrity MAC does not match (all batches, or one); counts and audits each failure';

-- The exporter's view of the counter (the metrics helper's /metrics reads it).
CREATE FUNCTION sdp.sdp_integrity_failures_total() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT count(*)::bigint FROM sdp.integrity_failure $$;
COMMENT ON FUNCTION sdp.sdp_integrity_failures_total() IS
  'record_integrity_failures_total: rows found with a bad integrity MAC so far';

-- ==== src/extension/sql/78_record_versions.sql
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
REVOKE ALL ON sdp.record_version FROM PUBLIC;
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
  -- Never 40001 (PostgREST would retry it forever, docs/postgrest.md §2): a conflict is PT409.
  RAISE EXCEPTION USING ERRCODE = 'PT409',
    MESSAGE = 'a concurrent transaction changed the same data; retry the request';
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
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('version %s is %s, not pending', p_version_id, v.status);
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
    RAISE EXCEPTION USING ERRCODE = 'PT409',
      MESSAGE = format('record %s changed since version %s was proposed (now version %s)',
                       v_rid, p_version_id, v_current),
      HINT = 'reject it and propose the edit again';
  END IF;
  v_no := sdp._apply_version(p_version_id, v_current);
  PERFORM sdp._audit('record.approve', v_rid,
    pg_catalog.jsonb_build_object('version_id', p_version_id, 'version_no', v_no,
                                  'proposed_by', v.proposed_by, 'columns', v.changed_columns));
  RETURN pg_catalog.jsonb_build_object('record_id', v_rid, 'version_id', p_version_id,
                                       'status', 'current', 'version_no', v_no);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  -- Never 40001 (PostgREST would retry it forever, docs/postgrest.md §2): a conflict is PT409.
  RAISE EXCEPTION USING ERRCODE = 'PT409',
    MESSAGE = 'a concurrent transaction changed the same data; retry the request';
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

-- ==== src/extension/sql/79_retention.sql
-- Legal hold, retention and erasure (docs/governance.md). Issue 7.
--
-- A hold on a client or on one batch stops every deletion of that data: sdp_forget_batch,
-- sdp_forget_client and the retention purge skip it and say so (the refusal is audited and the
-- transaction commits, so the audit entry stays; through PostgREST the answer is HTTP 409), and
-- a trigger refuses even a direct DELETE of a held batch (42501), superusers included.
CREATE TABLE sdp.legal_hold (
  hold_id     bigserial PRIMARY KEY,
  client_id   text,
  batch_id    uuid,
  reason      text NOT NULL CHECK (pg_catalog.length(reason) BETWEEN 1 AND 500),
  placed_by   text NOT NULL,
  placed_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  released_by text,
  released_at timestamptz,
  CHECK ((client_id IS NULL) <> (batch_id IS NULL))
);
CREATE INDEX legal_hold_active ON sdp.legal_hold (client_id, batch_id) WHERE released_at IS NULL;
REVOKE ALL ON sdp.legal_hold FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('sdp.legal_hold', '');

-- Per-client retention: batches older than ttl (by created_at) are purged.
CREATE TABLE sdp.retention_policy (
  client_id text PRIMARY KEY REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  ttl       interval NOT NULL CHECK (ttl > interval '0'),
  set_by    text NOT NULL,
  set_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
REVOKE ALL ON sdp.retention_policy FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('sdp.retention_policy', '');

CREATE FUNCTION sdp._is_held(p_client_id text, p_batch_id uuid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM sdp.legal_hold h
                  WHERE h.released_at IS NULL
                    AND (h.client_id = p_client_id OR h.batch_id = p_batch_id))
$$;

CREATE FUNCTION sdp._refuse_held_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp._is_held(OLD.client_id, OLD.batch_id) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('batch %s is under legal hold and cannot be deleted', OLD.batch_id);
  END IF;
  RETURN OLD;
END
$$;
CREATE TRIGGER processing_batch_hold BEFORE DELETE ON sdp.processing_batch
  FOR EACH ROW EXECUTE FUNCTION sdp._refuse_held_delete();

CREATE FUNCTION sdp.sdp_legal_hold(client_id text DEFAULT NULL, batch_id uuid DEFAULT NULL,
                                   reason text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id bigint;
BEGIN
  PERFORM sdp._require_capability('admin', 'legal_hold');
  IF (sdp_legal_hold.client_id IS NULL) = (sdp_legal_hold.batch_id IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of client_id or batch_id';
  END IF;
  IF reason IS NULL OR pg_catalog.length(reason) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a hold needs a reason (1 to 500 characters)';
  END IF;
  IF sdp_legal_hold.client_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = sdp_legal_hold.client_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(sdp_legal_hold.client_id));
  END IF;
  IF sdp_legal_hold.batch_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM sdp.processing_batch b WHERE b.batch_id = sdp_legal_hold.batch_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown batch %s', sdp_legal_hold.batch_id);
  END IF;
  INSERT INTO sdp.legal_hold (client_id, batch_id, reason, placed_by)
  VALUES (sdp_legal_hold.client_id, sdp_legal_hold.batch_id, reason, sdp.sdp_caller_role())
  RETURNING hold_id INTO v_id;
  -- The reason is free text and stays in sdp.legal_hold; the audit entry names the hold only.
  PERFORM sdp._audit('hold.place', coalesce(sdp_legal_hold.client_id, sdp_legal_hold.batch_id::text),
                     pg_catalog.jsonb_build_object('hold_id', v_id));
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION sdp.sdp_legal_hold(text, uuid, text) IS
  'places a legal hold on a client or a batch (admin); returns the hold id';

CREATE FUNCTION sdp.sdp_release_hold(client_id text DEFAULT NULL, batch_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ids bigint[];
BEGIN
  PERFORM sdp._require_capability('admin', 'release_hold');
  IF (sdp_release_hold.client_id IS NULL) = (sdp_release_hold.batch_id IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of client_id or batch_id';
  END IF;
  WITH r AS (
    UPDATE sdp.legal_hold h SET released_by = sdp.sdp_caller_role(), released_at = pg_catalog.clock_timestamp()
     WHERE h.released_at IS NULL
       AND (h.client_id = sdp_release_hold.client_id OR h.batch_id = sdp_release_hold.batch_id)
    RETURNING h.hold_id)
  SELECT pg_catalog.array_agg(hold_id ORDER BY hold_id) INTO v_ids FROM r;
  IF v_ids IS NOT NULL THEN
    PERFORM sdp._audit('hold.release', coalesce(sdp_release_hold.client_id, sdp_release_hold.batch_id::text),
                       pg_catalog.jsonb_build_object('hold_ids', v_ids));
  END IF;
  RETURN coalesce(pg_catalog.cardinality(v_ids), 0);
END
$$;
COMMENT ON FUNCTION sdp.sdp_release_hold(text, uuid) IS
  'releases the active holds on a client or a batch (admin); returns how many';

CREATE FUNCTION sdp.sdp_set_retention(client_id text, ttl interval) RETURNS void
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
  -- Never 40001 (PostgREST would retry it forever, docs/postgrest.md §2): a conflict is PT409.
  RAISE EXCEPTION USING ERRCODE = 'PT409',
    MESSAGE = 'a concurrent transaction changed the same data; retry the request';
END
$$;
COMMENT ON FUNCTION sdp.sdp_set_retention(text, interval) IS
  'per-client retention TTL (admin); NULL removes it';

-- Deletes one unheld batch with everything hanging off it; returns the counts. Internal.
CREATE FUNCTION sdp._delete_batch(p_batch_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_records bigint;
  v_results bigint;
  v_versions bigint;
  v_chunks bigint;
BEGIN
  SELECT count(*) INTO v_records FROM sdp.tokenized_record t WHERE t.batch_id = p_batch_id;
  SELECT count(*) INTO v_results FROM sdp.processed_result t WHERE t.batch_id = p_batch_id;
  SELECT count(*) INTO v_versions FROM sdp.record_version t WHERE t.batch_id = p_batch_id;
  SELECT count(*) INTO v_chunks FROM sdp.batch_chunk t WHERE t.batch_id = p_batch_id;
  DELETE FROM sdp.processing_batch b WHERE b.batch_id = p_batch_id;  -- cascades
  RETURN pg_catalog.jsonb_build_object('batch_id', p_batch_id, 'records', v_records,
    'results', v_results, 'versions', v_versions, 'chunks', v_chunks);
END
$$;

-- Retention purge: deletes up to max_batches expired, unheld batches (created_at + ttl <= now),
-- skipping batches being processed or locked by someone else; one audit event per purged batch,
-- one for the held ones skipped. `now` is injectable for tests and backfills. Bounded: the
-- caller (the worker, or cron) calls it again in a new transaction while it returns max_batches
-- rows (docs/governance.md, "Retention").
CREATE FUNCTION sdp.sdp_purge_expired(now timestamptz DEFAULT pg_catalog.now(), max_batches integer DEFAULT 100)
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
  -- Never 40001 (PostgREST would retry it forever, docs/postgrest.md §2): a conflict is PT409.
  RAISE EXCEPTION USING ERRCODE = 'PT409',
    MESSAGE = 'a concurrent transaction changed the same data; retry the request';
END
$$;
COMMENT ON FUNCTION sdp.sdp_purge_expired(timestamptz, integer) IS
  'deletes up to max_batches batches past their client''s retention TTL at `now`, unless held (admin; the worker calls it)';

-- Erasure (GDPR art. 17). Refused (not raised) when held: the answer says so, the refusal is
-- audited, and PostgREST answers 409.
CREATE FUNCTION sdp.sdp_forget_batch(batch_id uuid) RETURNS jsonb
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
  -- Never 40001 (PostgREST would retry it forever, docs/postgrest.md §2): a conflict is PT409.
  RAISE EXCEPTION USING ERRCODE = 'PT409',
    MESSAGE = 'a concurrent transaction changed the same data; retry the request';
END
$$;
COMMENT ON FUNCTION sdp.sdp_forget_batch(uuid) IS
  'erases a batch and all its rows unless held (admin); returns what was deleted or status "held"';

CREATE FUNCTION sdp.sdp_forget_client(client_id text) RETURNS jsonb
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
  -- Never 40001 (PostgREST would retry it forever, docs/postgrest.md §2): a conflict is PT409.
  RAISE EXCEPTION USING ERRCODE = 'PT409',
    MESSAGE = 'a concurrent transaction changed the same data; retry the request';
END
$$;
COMMENT ON FUNCTION sdp.sdp_forget_client(text) IS
  'erases every batch, row, result and version of a client and the client itself, unless held (admin)';

-- ==== src/extension/sql/89_governance_grants.sql
-- Privileges of the governance roles (docs/governance.md, "Roles"). Runs after 60_grants.sql and
-- every governance file: functions created after 60_grants.sql start executable by PUBLIC, so
-- that is revoked first for each of ours (by name; other helpers' files are left alone), then each role gets exactly its column of the role matrix
-- (sql/governance_roles.sql checks every cell).
DO $revoke$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'sdp'::regnamespace
              AND p.proname = ANY (ARRAY[
                '_caller_can', '_require_capability', 'sdp_batch_counts',
                '_audit_refuse_change', '_audit_canonical', '_audit', 'sdp_audit_verify', '_access',
                '_audit_batch', '_audit_client',
                '_integrity_key', '_record_mac', '_result_mac', '_record_ok', '_result_ok',
                '_count_integrity_failures', '_check_batch_integrity', 'sdp_verify_integrity',
                'sdp_integrity_failures_total',
                '_parse_record_id', 'sdp_record_id', '_lock_record', '_current_version', '_apply_version',
                'sdp_update_record', '_decide_version', 'sdp_approve_version', 'sdp_reject_version',
                'sdp_record_history', 'sdp_records',
                '_is_held', '_refuse_held_delete', 'sdp_legal_hold', 'sdp_release_hold',
                'sdp_set_retention', '_delete_batch', 'sdp_purge_expired', 'sdp_forget_batch',
                'sdp_forget_client']) LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$revoke$;

GRANT USAGE ON SCHEMA sdp TO sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;

-- Tenant context, as for the existing roles: policies and functions ask these as the caller.
GRANT EXECUTE ON FUNCTION sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
                          sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(),
                          sdp.sdp_caller_has_role(name)
  TO sdp_anon, sdp_client, sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;

-- Everybody on staff: batch status and aggregate counts.
GRANT EXECUTE ON FUNCTION sdp.sdp_batch_status(uuid), sdp.sdp_batch_counts(), sdp.sdp_record_id(uuid, bigint)
  TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;

-- Readers of records and results (not the viewer).
GRANT EXECUTE ON FUNCTION sdp.sdp_records(uuid), sdp.sdp_record_history(text),
                          sdp.sdp_results(uuid), sdp.sdp_results_csv(uuid),
                          sdp.sdp_verify_integrity(uuid), sdp.sdp_integrity_failures_total()
  TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor;

-- Editing: engineers apply, analysts propose (decided inside sdp_update_record).
GRANT EXECUTE ON FUNCTION sdp.sdp_update_record(text, jsonb) TO sdp_admin, sdp_engineer, sdp_analyst;
GRANT EXECUTE ON FUNCTION sdp.sdp_approve_version(bigint), sdp.sdp_reject_version(bigint)
  TO sdp_admin, sdp_engineer;

-- Engineers upload and process for any client.
GRANT EXECUTE ON FUNCTION sdp.sdp_ingest_csv, sdp.sdp_ingest_json, sdp.sdp_batch_open,
                          sdp.sdp_batch_append, sdp.sdp_batch_seal, sdp.sdp_batch_abort,
                          sdp.sdp_process_batch,
                          sdp.sdp_dev_process_batch
  TO sdp_engineer;

-- Audit: the log, its verification and the access log (auditor and admin).
GRANT EXECUTE ON FUNCTION sdp.sdp_audit_verify() TO sdp_admin, sdp_auditor;
GRANT SELECT ON sdp.audit_log, sdp.access_log TO sdp_admin, sdp_auditor;
GRANT SELECT ON sdp.record_version, sdp.integrity_failure, sdp.integrity_failures_total
  TO sdp_admin, sdp_auditor;
GRANT SELECT ON sdp.legal_hold, sdp.retention_policy TO sdp_admin, sdp_auditor;

-- Admin only: holds, retention, purge, erasure.
GRANT EXECUTE ON FUNCTION sdp.sdp_legal_hold(text, uuid, text), sdp.sdp_release_hold(text, uuid),
                          sdp.sdp_set_retention(text, interval),
                          sdp.sdp_purge_expired(timestamptz, integer),
                          sdp.sdp_forget_batch(uuid), sdp.sdp_forget_client(text)
  TO sdp_admin;

-- Nobody writes the governance tables directly; the internals (sdp._*, the key) stay owner-only.

NOTIFY pgrst, 'reload schema';
