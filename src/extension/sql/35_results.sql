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
