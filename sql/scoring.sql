-- Scoring UDF sdp_score_logistic and the model registry.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;

-- 1 / (1 + exp(-(bias + features . weights)))
SELECT sdp.sdp_score_logistic(ARRAY[1, 2]::float8[], ARRAY[0.5, -0.25]::float8[], 0) AS half;
SELECT sdp.sdp_score_logistic(ARRAY[1, 2, 3]::float8[], ARRAY[0.1, 0.2, 0.3]::float8[], -1)
     = 1 / (1 + exp(-(-1 + 0.1 + 0.4 + 0.9))) AS matches_formula;
-- No features: sigmoid(bias).
SELECT sdp.sdp_score_logistic('{}'::float8[], '{}'::float8[], 0) AS sigmoid_of_zero;
-- Extremes saturate to exactly 0 and 1 without overflow; NaN propagates.
SELECT sdp.sdp_score_logistic(ARRAY[1e308]::float8[], ARRAY[10]::float8[], 0) AS one,
       sdp.sdp_score_logistic(ARRAY[1e308]::float8[], ARRAY[-10]::float8[], 0) AS zero,
       sdp.sdp_score_logistic(ARRAY['NaN']::float8[], ARRAY[1]::float8[], 0) AS nan;
-- STRICT: a NULL argument gives NULL.
SELECT sdp.sdp_score_logistic(NULL, ARRAY[1]::float8[], 0) IS NULL AS null_features,
       sdp.sdp_score_logistic(ARRAY[1]::float8[], ARRAY[1]::float8[], NULL) IS NULL AS null_bias;
-- Usable in a query over many rows (and in parallel plans).
SELECT round(sum(sdp.sdp_score_logistic(ARRAY[g, g * 2]::float8[], ARRAY[0.01, -0.005]::float8[], 0))::numeric, 6) AS total
  FROM generate_series(1, 1000) g;

\set VERBOSITY sqlstate
-- Length mismatch, NULL elements, multi-dimensional arrays.
SELECT sdp.sdp_score_logistic(ARRAY[1, 2]::float8[], ARRAY[1]::float8[], 0);
SELECT sdp.sdp_score_logistic(ARRAY[1, NULL]::float8[], ARRAY[1, 1]::float8[], 0);
SELECT sdp.sdp_score_logistic(ARRAY[[1, 2], [3, 4]]::float8[], ARRAY[1, 1, 1, 1]::float8[], 0);
\set VERBOSITY default
SELECT sdp.sdp_score_logistic(ARRAY[1, 2]::float8[], ARRAY[1]::float8[], 0);
SELECT sdp.sdp_score_logistic(ARRAY[1, NULL]::float8[], ARRAY[1, 1]::float8[], 0);

-- Honest labels.
SELECT proname, provolatile, proisstrict, proparallel FROM pg_proc
 WHERE oid = 'sdp.sdp_score_logistic(float8[], float8[], float8)'::regprocedure;

-- The registry: demo_v1 scores risk_scoring; demo_v2_dev is dev-only (docs/model_demo_v1.md).
SELECT name, version, processing_type, kind, features, dev_only, is_default FROM sdp.model ORDER BY name;
SELECT jsonb_pretty(params) FROM sdp.model WHERE name = 'demo_v1';

-- The worked examples of docs/model_demo_v1.md, through the UDF with the standardised features.
WITH m AS (SELECT params p FROM sdp.model WHERE name = 'demo_v1'),
     ex(label, age, income, balance, ntx) AS (VALUES
       ('average customer', 45, 60000, 15000, 40),
       ('young, low income, busy', 22, 18000, 150, 210),
       ('older, wealthy, quiet', 71, 240000, 98000, 3))
SELECT label,
       round(sdp.sdp_score_logistic(
         ARRAY[least(greatest((age - 45) / 15.0, -5), 5), least(greatest((income - 60000) / 30000.0, -5), 5),
               least(greatest((balance - 15000) / 20000.0, -5), 5), least(greatest((ntx - 40) / 30.0, -5), 5)]::float8[],
         ARRAY(SELECT jsonb_array_elements_text(p -> 'weights')::float8), (p ->> 'bias')::float8)::numeric, 4) AS score
  FROM ex, m;
