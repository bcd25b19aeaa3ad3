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
CREATE TYPE sdp.sdp_api_upload AS (batch_id uuid, accepted_records bigint, status sdp.batch_state);
CREATE TYPE sdp.sdp_api_processed AS (batch_id uuid, processed_records bigint, model_version text,
                                      status sdp.batch_state);
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
-- Runs before every request, as the role PostgREST switched to. Without a JWT that is sdp_anon:
-- health, readyz and metrics need no key; the dp_* functions are refused (PT401: they are for
-- analysts, who send a JWT, never for an API key); everything else needs X-API-Key: missing or
-- unknown → PT401, key of another client than X-Client-Id → PT403 (JSON body
-- {"code","message","details","hint"} from PostgREST). On success the tenant is set for this
-- transaction and the role switched to sdp_client. With a verified JWT PostgREST has switched to
-- the token's role claim: sdp._api_admit_jwt (86_dashboard.sql) lets an API-enabled analyst reach
-- the dp_* functions (sdp._api_admit_analyst, 80_privacy.sql) and a signed-in dashboard user the
-- dash_* functions, and nothing else, without an API key (PT403 otherwise). /rpc/login (dashboard
-- sign-in) needs no key; the dash_* functions are refused without a JWT (PT401). SECURITY INVOKER:
-- inside SECURITY DEFINER, set_config('role') fails with 42501, and current_user would be the
-- owner. Its only SET clause pins search_path (PostgREST's own puts `public` in the path, where
-- a planted `=`(text, text) would decide which paths skip the key check); a role set with
-- set_config(..., true) inside still lasts for the transaction.
CREATE FUNCTION sdp_api.pre_request() RETURNS void
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
--   {"processing_type":"risk_scoring","records":[{...},...] [,"client_id","key_column","idempotency_key","manifest"]}
-- → 201 {"batch_id","accepted_records","status":"RECEIVED"}. Idempotency-Key header works too;
-- the manifest (82_firewall.sql) may also come as the X-Sdp-Manifest header. Raw PII: 422.
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

-- POST /rpc/process_file, Content-Type: text/plain, body = the tokenized CSV (header row first).
-- Headers: X-Client-Id, X-Processing-Type (required), X-Key-Column (default customer_id),
-- Idempotency-Key, X-Sdp-Manifest (the manifest as JSON, 82_firewall.sql).
-- → 201 {"batch_id","accepted_records","status":"RECEIVED"}.
-- Empty body → 400; another Content-Type → 415; raw PII → 422 (PII firewall).
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
    sdp.sdp_api_header('idempotency-key'), sdp.sdp_api_header('x-sdp-manifest')::jsonb));
END
$$;
COMMENT ON FUNCTION sdp_api.process_file(text) IS
  'POST text/plain CSV; headers X-Client-Id, X-Processing-Type, X-Key-Column, Idempotency-Key, X-Sdp-Manifest → {batch_id, accepted_records, status}';

-- ---- chunked, resumable upload ---------------------------------------------------------------
-- POST /rpc/batch_open {"processing_type"[,"key_column","idempotency_key","client_id","manifest"]}
-- → 201 (200 when the idempotency key already opened it) {"batch_id","accepted_records","status":"UPLOADING"}.
-- The manifest (82_firewall.sql) applies to every chunk; a chunk with raw PII is refused with 422.
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
