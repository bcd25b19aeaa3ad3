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

-- The model goes over as its registry row stores it (kind, params): a new model kind needs no new
-- C symbol, only its parser and scorer in scoring.cc.
CREATE FUNCTION sdp._score_batch(batch_id uuid, client_id text, model_version text,
                                 feature_idx integer[], kind text, params jsonb)
  RETURNS bigint[] AS 'MODULE_PATHNAME', 'sdp_score_batch_model' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp._score_batch(uuid, text, text, integer[], text, jsonb) IS
  'internal: score every row of a batch in C++ with a registry model (kind, params) and bulk-insert processed_result; returns {rows, defaulted features}';

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
  IF NOT sdp.sdp_is_dev() THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = 'not found',
      DETAIL = 'dev entry points exist only when sdp.env = ''dev''';
  END IF;
  RETURN sdp._process(sdp_dev_process_batch.batch_id);
END
$$;
COMMENT ON FUNCTION sdp.sdp_dev_process_batch(uuid) IS
  'sdp_process_batch for sdp.env = ''dev'' only; PT404 otherwise';
