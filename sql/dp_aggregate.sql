-- GET /api/v1/analytics/aggregate (issue 22, docs/dashboard.md): sdp_api.dp_aggregate, a
-- differentially private metric per period over a batches dataset, released and charged once per
-- (analyst, dataset, metric, buckets, epsilon); a repeat answers the same values without a charge.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

SELECT sdp.sdp_create_client('agg_client') IS NOT NULL AS created;
SELECT E'customer_id,age,income,balance,num_transactions\n' ||
       string_agg(format('a%s,%s,%s,%s,%s', i, 20 + i % 50, 30000 + i * 10, i * 7, i % 9), E'\n') || E'\n' AS csv
  FROM generate_series(1, 300) i \gset
SELECT (sdp.sdp_ingest_csv('agg_client', 'risk_scoring', :'csv')).batch_id AS batch \gset
SELECT (sdp.sdp_process_batch(:'batch')).status;
-- The batch arrived on 2026-03-10 (UTC): the series is dated by received_at.
UPDATE sdp.processing_batch SET received_at = '2026-03-10 12:00:00+00' WHERE batch_id = :'batch';
SELECT (sdp.sdp_dp_register_batches('agg_batches', 'agg_client', 'risk_scoring', 1, 10)).name;
CREATE ROLE regress_agg_dp NOLOGIN IN ROLE sdp_dp_analyst;
CREATE ROLE regress_agg_poor NOLOGIN IN ROLE sdp_dp_analyst;
SELECT grantee FROM sdp.sdp_dp_grant('regress_agg_dp', 'agg_batches', 2);
SELECT grantee FROM sdp.sdp_dp_grant('regress_agg_poor', 'agg_batches', 0.1);

-- ---- one release, charged once; the repeat is the same answer and free --------------------------
SET ROLE regress_agg_dp;
SELECT sdp_api.dp_aggregate('records', 'month', epsilon => 1, periods => 3, until => '2026-04-20') AS first \gset
SELECT :'first'::jsonb ->> 'charged' AS charged, :'first'::jsonb ->> 'first' AS first_bucket,
       jsonb_path_query_array(:'first'::jsonb, '$.buckets[*].period') AS buckets;
-- March holds the 300 records; the noisy count is near it, within its interval; the empty months
-- are released too (public buckets), near 0.
SELECT b ->> 'period' AS period, abs((b ->> 'value')::numeric - CASE WHEN b ->> 'period' = '2026-03-01' THEN 300 ELSE 0 END) < 40 AS near,
       (b ->> 'ci_low')::numeric <= (b ->> 'value')::numeric AND (b ->> 'value')::numeric <= (b ->> 'ci_high')::numeric AS in_ci
  FROM jsonb_array_elements(:'first'::jsonb -> 'buckets') b;
SELECT sdp_api.dp_aggregate('records', 'month', epsilon => 1, periods => 3, until => '2026-04-20') AS second \gset
SELECT :'second'::jsonb ->> 'charged' AS charged,
       (:'second'::jsonb -> 'buckets') = (:'first'::jsonb -> 'buckets') AS same_values,
       (:'second'::jsonb ->> 'ledger_id')::bigint = (SELECT min(id) FROM sdp.dp_ledger WHERE dataset = 'agg_batches') AS first_release;
-- Other parameters are another release: mean score by week (scores in [0, 1]).
SELECT x ->> 'charged' AS charged, jsonb_array_length(x -> 'buckets') AS buckets,
       bool_and((b ->> 'value')::numeric BETWEEN 0 AND 1) AS in_range
  FROM sdp_api.dp_aggregate('mean_score', 'week', 'agg_batches', 0.5, 2, '2026-03-12') x,
       jsonb_array_elements(x -> 'buckets') b GROUP BY 1, 2;
RESET ROLE;
SELECT kind, epsilon, parameters -> 'aggregate' AS aggregate FROM sdp.dp_ledger
 WHERE dataset = 'agg_batches' ORDER BY id;
SELECT epsilon_spent FROM sdp.dp_grant WHERE grantee = 'regress_agg_dp';

-- ---- refusals ---------------------------------------------------------------------------------
-- Not enough budget left: a 403 problem naming what is left; nothing charged. Refusals are
-- answers (RFC 7807 problem details, the HTTP status set for PostgREST), not errors.
SET ROLE regress_agg_poor;
SELECT x ->> 'status' AS status, x ->> 'code' AS code, x ->> 'detail' AS detail,
       current_setting('response.status', true) AS http
  FROM sdp_api.dp_aggregate('records', 'day', epsilon => 1) x;
SELECT x ->> 'type' AS type, x ->> 'status' AS status, x ->> 'detail' AS detail
  FROM sdp_api.dp_aggregate('salaries', 'day') x;
SELECT x ->> 'detail' AS detail FROM sdp_api.dp_aggregate('records', 'year') x;
SELECT x ->> 'status' AS status, x ->> 'detail' AS detail FROM sdp_api.dp_aggregate('records', 'day', 'no_such') x;
RESET ROLE;
SELECT count(*) AS poor_releases FROM sdp.dp_ledger WHERE actor = 'regress_agg_poor';
-- A role without the DP capability: the database refuses it.
SET ROLE sdp_analyst;
SELECT code FROM regress.error_of($$SELECT sdp_api.dp_aggregate('records', 'day')$$);
SET ROLE sdp_viewer;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_dp_aggregate('records', 'day')$$);
RESET ROLE;

DELETE FROM sdp.dp_grant WHERE grantee IN ('regress_agg_dp', 'regress_agg_poor');
DROP ROLE regress_agg_dp, regress_agg_poor;
