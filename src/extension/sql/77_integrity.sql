-- Integrity and tamper detection (docs/governance.md, "Integrity"). Issue 7.
--
-- Every sdp.tokenized_record and sdp.processed_result row carries integrity_hmac =
-- HMAC-SHA-256(integrity key, canonical row) (src/extension/integrity_crypto.h). The bulk loader
-- computes it in C++ as it buffers each row (bulk_insert.cc), with keyed SHA-256 states prepared
-- once per load; rows changed through sdp_update_record get a fresh MAC. A row changed any other
-- way (a superuser UPDATE, a restored or edited dump, a disk edit) no longer matches. A deleted
-- row leaves no MAC to check, so the rows are also counted: a batch's records are numbered
-- 1..accepted_records and its results 1..processed_records (0 until PROCESSED), with no gaps, so
-- a row number missing from that range is a deleted row. The counters are in the audit chain too
-- (the batch.upload event of the seal carries `records`, the batch.process event of PROCESSED
-- carries `processed`), so lowering a counter to hide deleted rows shows as well.
--   * API reads (sdp_results, sdp_results_csv, sdp_records) verify the rows they return and
--     their count, and refuse with XX001 (data_corrupted) instead of serving changed or
--     incomplete data;
--   * sdp_verify_integrity(batch_id DEFAULT NULL) checks everything, returns the bad and the
--     missing rows, appends one row per bad/missing row to sdp.integrity_failure (the
--     record_integrity_failures_total counter, view sdp.integrity_failures_total) and writes an
--     audit event integrity.failure.
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
  row_no      bigint,              -- NULL for problem 'count'
  client_id   text,
  -- mac: the row's MAC does not match its content; missing: the row was deleted; count: the
  -- batch's counter of these rows differs from the one its audit events recorded.
  problem     text NOT NULL DEFAULT 'mac' CHECK (problem IN ('mac', 'missing', 'count'))
);
CREATE INDEX integrity_failure_check ON sdp.integrity_failure (check_no);
SELECT pg_catalog.pg_extension_config_dump('sdp.integrity_failure', '');
CREATE VIEW sdp.integrity_failures_total AS
  SELECT pg_catalog.count(*)::bigint AS record_integrity_failures_total FROM sdp.integrity_failure;

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

-- The row counts the audit chain recorded for a batch: records at the seal (the batch.upload event
-- to RECEIVED), processed results at PROCESSED (the batch.process event). NULL before those
-- events. These do not change afterwards (only a whole batch is deleted), so a counter that
-- differs was changed behind the API's back.
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

-- Read-path check: XX001 when any row of the batch has a bad MAC or rows are missing (fewer than
-- the batch's accepted_records / processed_records, or than its audited counts). (The error rolls
-- back the transaction, so it cannot count or audit; sdp_verify_integrity does both.)
CREATE FUNCTION sdp._check_batch_integrity(p_batch_id uuid, p_records boolean, p_results boolean)
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

-- The exporter's view of the counter (the metrics helper's /metrics reads it).
CREATE FUNCTION sdp.sdp_integrity_failures_total() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT count(*)::bigint FROM sdp.integrity_failure $$;
COMMENT ON FUNCTION sdp.sdp_integrity_failures_total() IS
  'record_integrity_failures_total: rows found with a bad integrity MAC so far';
