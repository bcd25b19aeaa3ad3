-- Observability: shared-memory metrics (src/extension/metrics.cc, docs/observability.md).
--
-- sdp.sdp_metrics() renders every metric in the Prometheus text exposition format; it needs sdp
-- in shared_preload_libraries (55000 otherwise). The views below expose the same numbers as rows
-- for postgres_exporter custom queries (docker/postgres-exporter/queries.yaml), and
-- sdp_api.metrics() serves them through PostgREST as text/plain (GET /rpc/metrics, /metrics via
-- Caddy). Counters are updated lock-free (atomics): failures at once, committed work on commit.

CREATE FUNCTION sdp.sdp_metrics() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_metrics' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_metrics() IS
  'every sdp metric in the Prometheus text exposition format 0.0.4; 55000 when sdp is not preloaded';

-- The API other parts of the extension (and governance code) count with: adds delta to an
-- unlabelled counter now, whatever happens to the transaction (a detected failure is usually
-- followed by an error that rolls everything back). Returns false when metrics are unavailable.
CREATE FUNCTION sdp.sdp_metrics_count(name text, delta bigint DEFAULT 1) RETURNS boolean
  AS 'MODULE_PATHNAME', 'sdp_metrics_count' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_metrics_count(text, bigint) IS
  'add delta (>= 0) to a counter now, e.g. sdp_metrics_count(''record_integrity_failures_total'', 1); false when not preloaded';

CREATE FUNCTION sdp._metrics_request(path text) RETURNS void
  AS 'MODULE_PATHNAME', 'sdp_metrics_request' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp._metrics_request(text) IS
  'internal: the PostgREST request of this transaction, counted ok/error when it ends';

-- Every status change of a batch, whoever makes it (SQL API, worker, operator), counted when the
-- transaction commits (C trigger: no per-row work, a few microseconds per batch).
CREATE FUNCTION sdp._metrics_batch_trigger() RETURNS trigger
  AS 'MODULE_PATHNAME', 'sdp_metrics_batch_trigger' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
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
