-- Privacy analytics (issue 18, 80_privacy.sql, privacy.cc): every function, every refusal, every
-- role; the ledger is append-only; budgets are exact numeric; bounding and accuracy. Noisy
-- values are random, so the output shows only what does not depend on the draw: whether a value
-- lies in its interval, row counts, charges, and the deterministic true values they estimate.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
\set VERBOSITY sqlstate

CREATE ROLE regress_dp_ana LOGIN IN ROLE sdp_dp_analyst;
CREATE ROLE regress_dp_dept NOLOGIN IN ROLE sdp_dp_analyst;
CREATE ROLE regress_dp_member LOGIN IN ROLE regress_dp_dept;
CREATE ROLE regress_dp_admin LOGIN IN ROLE sdp_admin;
CREATE ROLE regress_dp_nobody LOGIN;

-- 1000 people with 10 rows each, three bands, incomes 0..99; one heavy person with 10^5 rows.
CREATE TABLE public.regress_dp_people AS
  SELECT 'p' || (i % 1000) AS person, (i % 3)::text AS band, (i % 100)::numeric AS income
    FROM generate_series(0, 9999) i;
REVOKE ALL ON public.regress_dp_people FROM PUBLIC;

-- ---- registration (admin) ----
SET ROLE regress_dp_admin;
SELECT name, relation, privacy_unit, max_rows_per_unit, epsilon_cap, delta_cap, epsilon_spent,
       bounding_key IS NULL AS key_hidden
  FROM sdp.sdp_dp_register('people', 'public.regress_dp_people', 'person', 10, 5, 0.00001);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register('people', 'public.regress_dp_people', 'person', 10, 5)$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register('Bad Name', 'public.regress_dp_people', 'person', 10, 5)$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register('p2', 'public.regress_dp_people', 'nobody', 10, 5)$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register('p2', 'public.regress_dp_people', 'person', 0, 5)$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register('p2', 'public.regress_dp_people', 'person', 10, 'NaN')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register('p2', 'public.regress_dp_people', 'person', 10, 'Infinity')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register('p2', 'public.regress_dp_people', 'person', 10, 0.0000001)$$);
-- The bounding key stays hidden even from admins.
SELECT code FROM regress.error_of('SELECT bounding_key FROM sdp.dp_dataset');
SELECT name, epsilon_cap FROM (SELECT name, epsilon_cap FROM sdp.dp_dataset) d;

-- Grants: a login role, a group (department); refusals.
SELECT grantee, dataset, epsilon, delta FROM sdp.sdp_dp_grant('regress_dp_ana', 'people', 1, 0.000003);
SELECT grantee, dataset, epsilon, delta FROM sdp.sdp_dp_grant('regress_dp_dept', 'people', 2, 0.000002);
SELECT grantee, dataset, epsilon, delta FROM sdp.sdp_dp_grant('regress_dp_member', 'people', 0.5);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_grant('regress_no_such_role', 'people', 1)$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_grant('regress_dp_ana', 'nope', 1)$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_grant('regress_dp_ana', 'people', -1)$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_grant('regress_dp_ana', 'people', 1, 'NaN')$$);
SELECT dataset, column_name, "values" FROM sdp.sdp_dp_public_values('people', 'band', '{2,0,1,0}');
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_public_values('people', 'nope', '{a}')$$);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_public_values('people', 'band', '{}')$$);
RESET ROLE;

-- Only admins register and grant.
SET ROLE regress_dp_ana;
SELECT code FROM regress.error_of($$SELECT sdp.sdp_dp_register('p3', 'public.regress_dp_people', 'person', 10, 5)$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_dp_grant('regress_dp_ana', 'people', 100)$$);
SELECT code FROM regress.error_of($$SELECT sdp.sdp_dp_public_values('people', 'band', '{x}')$$);
-- The analyst never reads a dataset row, nor the grant and dataset tables.
SELECT code FROM regress.error_of('SELECT count(*) FROM public.regress_dp_people');
SELECT code FROM regress.error_of('SELECT count(*) FROM sdp.dp_grant');
SELECT code FROM regress.error_of('SELECT count(*) FROM sdp.dp_dataset');

-- ---- queries: each value within its interval, intervals of the width the mechanism gives ----
-- "near" bounds are ~21 noise scales wide: a false failure has probability below 10^-9.
SELECT group_key, value BETWEEN ci_low AND ci_high AS in_ci, ci_high - ci_low AS width,
       abs(value - 10000) < 3000 AS near_truth, epsilon_charged, delta_charged
  FROM sdp.sdp_dp_count('people', 0.1);
-- Public groups: exactly the declared values, no δ.
SELECT group_key, abs(value - CASE group_key WHEN '0' THEN 3334 ELSE 3333 END) < 3000 AS near_truth,
       epsilon_charged, delta_charged
  FROM sdp.sdp_dp_count('people', 0.1, 'band');
SELECT group_key, abs(value - 495000) < 300000 AS near_truth, value BETWEEN ci_low AND ci_high AS in_ci
  FROM sdp.sdp_dp_sum('people', 'income', 0, 100, 0.1);
SELECT group_key, value BETWEEN 0 AND 100 AS in_range, ci_low <= value AND value <= ci_high AS in_ci,
       ci_low >= 0 AND ci_high <= 100 AS clamped
  FROM sdp.sdp_dp_avg('people', 'income', 0, 100, 0.1);
SELECT group_key, abs(value - 2500) < 3000 AS near_truth FROM sdp.sdp_dp_histogram('people', 'income', '{0,25,50,75,100}', 0.1);
SELECT group_key, value BETWEEN 0 AND 100 AS in_range, ci_low <= value AND value <= ci_high AS in_ci,
       ci_low >= 0 AND ci_high <= 100 AS within_bounds
  FROM sdp.sdp_dp_quantiles('people', 'income', 0, 100, '{0.1,0.5,0.9}', 0.1);
SELECT group_key, abs(value - 1666) < 3000 AS near_truth
  FROM sdp.sdp_dp_count('people', 0.1, filter => '{"band": "1", "income": {"gte": 50}}');
SELECT group_key, abs(value - 6667) < 3000 AS near_truth
  FROM sdp.sdp_dp_count('people', 0.1, filter => '{"band": ["0", "1"]}');

-- Spent so far: 0.8 of the own grant.
SELECT dataset_name, grantee, epsilon, epsilon_spent, epsilon_left FROM sdp.sdp_dp_budget();

-- Refusals: 22023 for bad parameters, columns, filters; nothing is charged for them.
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', -0.1)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 'NaN')$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 'Infinity')$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.0000009)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', NULL)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count(E'nope\n', 0.1)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1, 'nope')$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_sum('people', 'band', 0, 1, 0.1)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_sum('people', 'income', 5, 1, 0.1)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_sum('people', 'income', 0, 'NaN', 0.1)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_histogram('people', 'income', '{5,1}', 0.1)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_quantiles('people', 'income', 0, 100, '{1.5}', 0.1)$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1, filter => '"band = 1 OR true"')$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1, filter => '{"band); DROP TABLE x; --": 1}')$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1, filter => '{"income": {"like": "%"}}')$$);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1, filter => '{"income": {"gte": "1); SELECT 1; --"}}')$$);
SELECT epsilon_spent FROM sdp.sdp_dp_budget('people') WHERE grantee = 'regress_dp_ana';

-- Exact arithmetic: two more 0.1 charges leave exactly 0 of the own grant of 1.
-- sdp_dp_queries_total{outcome} moves by exactly one per release and per refusal (snapshots
-- taken as the superuser: the analyst cannot read sdp_metrics()).
RESET ROLE;
CREATE TEMP TABLE dp_queries_before AS
  SELECT s.labels ->> 'outcome' AS outcome, s.value FROM sdp.sdp_metrics_samples() s
   WHERE s.name = 'sdp_dp_queries_total';
CREATE TEMP VIEW dp_queries_delta AS
  SELECT s.labels ->> 'outcome' AS outcome, s.value - b.value AS delta
    FROM sdp.sdp_metrics_samples() s JOIN dp_queries_before b ON b.outcome = s.labels ->> 'outcome'
   WHERE s.name = 'sdp_dp_queries_total' ORDER BY 1;
SET ROLE regress_dp_ana;
SELECT count(*) FROM sdp.sdp_dp_count('people', 0.1);
RESET ROLE;
SELECT * FROM dp_queries_delta;
SET ROLE regress_dp_ana;
SELECT count(*) FROM sdp.sdp_dp_count('people', 0.1);
SELECT grantee, epsilon_spent, epsilon_left, epsilon_left = 0 AS exactly_zero FROM sdp.sdp_dp_budget('people');
-- PT403 with what is left; nothing charged.
RESET ROLE;
TRUNCATE dp_queries_before;
INSERT INTO dp_queries_before
  SELECT s.labels ->> 'outcome', s.value FROM sdp.sdp_metrics_samples() s
   WHERE s.name = 'sdp_dp_queries_total';
SET ROLE regress_dp_ana;
SELECT code, message, hint FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1)$$);
RESET ROLE;
SELECT * FROM dp_queries_delta;
-- The per-dataset gauges: what sdp.dp_dataset holds at scrape time, one sample per dataset.
SELECT s.name, s.labels ->> 'dataset' AS dataset, s.value,
       s.value = CASE s.name WHEN 'sdp_dp_epsilon_spent' THEN d.epsilon_spent ELSE d.epsilon_cap END AS matches
  FROM sdp.sdp_metrics_samples() s JOIN sdp.dp_dataset d ON d.name = s.labels ->> 'dataset'
 WHERE s.name LIKE 'sdp\_dp\_epsilon\_%' ORDER BY 2, 1;
SELECT count(*) = 2 * (SELECT count(*) FROM sdp.dp_dataset) AS one_spent_one_cap_per_dataset
  FROM sdp.sdp_metrics_samples() s WHERE s.name LIKE 'sdp\_dp\_epsilon\_%';
-- Only the three outcomes are counted.
SELECT code, message FROM regress.error_of($$SELECT sdp._dp_count_query('nope')$$);
SET ROLE regress_dp_ana;
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.000001)$$);
-- Its own ledger rows only; the ledger is append-only.
SELECT actor, dataset, kind, epsilon, delta, charged_to FROM sdp.dp_ledger ORDER BY id;
SELECT code FROM regress.error_of('UPDATE sdp.dp_ledger SET epsilon = 0');
SELECT code FROM regress.error_of('DELETE FROM sdp.dp_ledger');
RESET ROLE;

-- Even the owner cannot change the ledger.
SELECT code, message FROM regress.error_of('UPDATE sdp.dp_ledger SET epsilon = 0');
SELECT code, message FROM regress.error_of('DELETE FROM sdp.dp_ledger');
SELECT code, message FROM regress.error_of('TRUNCATE sdp.dp_ledger');
-- Every release is in the audit log too, and the chain verifies.
SELECT event, count(*) FROM sdp.audit_log WHERE event LIKE 'dp.%' GROUP BY event ORDER BY event;
SELECT count(*) AS broken_links FROM sdp.sdp_audit_verify();

-- ---- a member of a department: charged to its own grant and to the department's ----
SET ROLE regress_dp_member;
SELECT count(*) FROM sdp.sdp_dp_count('people', 0.25);
SELECT dataset_name, grantee, epsilon_spent, epsilon_left FROM sdp.sdp_dp_budget();
-- Its own grant has 0.25 left: 0.3 is refused, naming the grant that would go over.
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.3)$$);
-- Data groups need δ from every grant drawn from: its own grant has none.
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1, 'person')$$);
SELECT actor, kind, epsilon, charged_to FROM sdp.dp_ledger ORDER BY id;
RESET ROLE;

-- ---- roles without a grant, without the role ----
SET ROLE regress_dp_nobody;
SELECT code FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1)$$);
SELECT code FROM regress.error_of('SELECT count(*) FROM sdp.dp_ledger');
RESET ROLE;
SET ROLE regress_dp_admin;
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 0.1)$$);
SELECT count(*) AS all_ledger_rows FROM sdp.dp_ledger;
RESET ROLE;

-- ---- data groups: threshold, δ charged; the dataset cap ----
SELECT grantee FROM sdp.sdp_dp_grant('regress_dp_admin', 'people', 10, 0.00001);
SET ROLE regress_dp_admin;
-- Each person is a group of 10 rows: far below the threshold at ε = 0.5, none is released.
SELECT count(*) AS released_person_groups FROM sdp.sdp_dp_count('people', 0.5, 'person', delta => 0.000001);
SELECT count(*) AS released_bands, min(delta_charged) AS delta FROM sdp.sdp_dp_sum('people', 'income', 0, 100, 0.5, 'income', filter => '{"income": {"lt": 3}}');
SELECT epsilon_spent, delta_spent FROM sdp.sdp_dp_budget('people');
-- The dataset cap (5) is the limit now: 2.25 spent on it in all, the admin's grant has 9 left.
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('people', 3)$$);
RESET ROLE;
SELECT epsilon_cap, epsilon_spent, delta_spent FROM sdp.dp_dataset;

-- ---- bounding: a person with 10^5 rows moves a count by at most max_rows_per_unit ----
CREATE TABLE public.regress_dp_heavy AS SELECT 'p' || i AS person FROM generate_series(1, 100) i;
INSERT INTO public.regress_dp_heavy SELECT 'heavy' FROM generate_series(1, 100000);
SELECT name FROM sdp.sdp_dp_register('heavy', 'public.regress_dp_heavy', 'person', 3, 100000);
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'heavy', 100000);
-- ε = 10000: the noise is almost always 0, the bounded count is 100 + 3.
SELECT value BETWEEN 100 AND 106 AS bounded FROM sdp.sdp_dp_count('heavy', 10000);
-- Sums are bounded the same way: the heavy person adds at most 3 x 1.
ALTER TABLE public.regress_dp_heavy ADD COLUMN n integer;
UPDATE public.regress_dp_heavy SET n = 1;
SELECT (sdp.sdp_dp_register('heavy2', 'public.regress_dp_heavy', 'person', 3, 100000)).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'heavy2', 100000);
SELECT value AS bounded_sum FROM sdp.sdp_dp_sum('heavy2', 'n', 0, 1, 10000);

-- ---- the rollback bypass (issue 18): the charge is committed on its own (a background worker,
-- privacy_charge.cc) before any row is returned, so the caller's transaction cannot take it back.
CREATE TABLE public.regress_dp_rb AS SELECT 'p' || i AS person, i FROM generate_series(1, 100) i;
SELECT (sdp.sdp_dp_register('rb', 'public.regress_dp_rb', 'person', 1, 10)).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'rb', 1);
-- The attack: release, then ROLLBACK. The charge and the ledger row stay.
BEGIN;
SELECT count(*) AS released FROM sdp.sdp_dp_count('rb', 0.5);
ROLLBACK;
SELECT epsilon_spent, epsilon_left FROM sdp.sdp_dp_budget('rb');
SELECT count(*) AS ledger_rows, sum(epsilon) AS ledger_epsilon FROM sdp.dp_ledger WHERE dataset = 'rb';
-- The same with a failure later in the statement, after the release's rows were produced.
SELECT value::text FROM sdp.sdp_dp_count('rb', 0.25) UNION ALL SELECT (1 / (random() * 0)::integer)::text;
SELECT epsilon_spent, epsilon_left FROM sdp.sdp_dp_budget('rb');
SELECT actor = current_user AS actor_is_caller, login = session_user AS login_is_caller, kind, epsilon,
       charged_to FROM sdp.dp_ledger WHERE dataset = 'rb' ORDER BY id;
SELECT actor = current_user AS actor_is_caller, login = session_user AS login_is_caller, count(*)
  FROM sdp.audit_log WHERE event = 'dp.release' AND target = 'rb' GROUP BY 1, 2;
-- A query that fails while computing charges nothing.
CREATE VIEW public.regress_dp_rb_bad AS
  SELECT person, (100 / (i - 50))::bigint AS rid FROM public.regress_dp_rb;
SELECT (sdp.sdp_dp_register('rbbad', 'public.regress_dp_rb_bad', 'person', 1, 10, row_identity => 'rid')).name;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'rbbad', 1);
SELECT code FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('rbbad', 0.5)$$);
SELECT epsilon_spent FROM sdp.sdp_dp_budget('rbbad');
SELECT count(*) AS ledger_rows FROM sdp.dp_ledger WHERE dataset = 'rbbad';
-- The caller's own transaction holds the grant row (an admin who just granted): the worker cannot
-- lock it and the caller cannot let go while it waits, so lock_timeout (5 s) turns the wait into
-- PT409 instead of a hang; nothing is charged or returned.
BEGIN;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'rb', 2);
SELECT code, message FROM regress.error_of($$SELECT * FROM sdp.sdp_dp_count('rb', 0.1)$$);
ROLLBACK;
SELECT epsilon, epsilon_spent FROM sdp.sdp_dp_budget('rb');

-- ---- accuracy: 10000 counts at ε = 1 over 100k rows, within their 95% interval >= 94% ----
-- (10000 draws: the chance of fewer than 9400 covered is about 10^-6 when coverage is 95%.)
CREATE TABLE public.regress_dp_acc AS SELECT 'u' || i AS person, (i % 10000)::text AS g FROM generate_series(1, 100000) i;
SELECT (sdp.sdp_dp_register('acc', 'public.regress_dp_acc', 'person', 1, 1000)).name;
SELECT sdp.sdp_dp_public_values('acc', 'g', ARRAY(SELECT i::text FROM generate_series(0, 9999) i)) IS NOT NULL;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'acc', 1000);
SELECT count(*) AS groups, count(*) FILTER (WHERE 10 BETWEEN ci_low AND ci_high) >= 9400 AS covered_94
  FROM sdp.sdp_dp_count('acc', 1, 'g');

-- ---- PostgREST wrappers (sdp_api) ----
SET ROLE regress_dp_ana;
SELECT code FROM regress.error_of($$SELECT * FROM sdp_api.dp_count('people', 0.1)$$);
SELECT dataset_name, epsilon_left FROM sdp_api.dp_budget('people') WHERE grantee = 'regress_dp_ana';
RESET ROLE;

-- ---- sdp_dp_register_batches: a client's processed batches as one dataset ----
SELECT sdp.sdp_create_client('dp_bank', 'regress-dp-bank-key-0123456789abcdef0123') IS NOT NULL AS created;
SELECT (sdp.sdp_ingest_csv('dp_bank', 'risk_scoring',
  E'customer_id,age,income,balance,num_transactions,segment\nc1,30,50000,1000,10,a\nc2,50,80000,20000,40,b\nc1,31,52000,1100,12,a\n')).batch_id AS b1 \gset
SELECT status FROM sdp.sdp_process_batch(:'b1');
SELECT name, privacy_unit, row_identity FROM sdp.sdp_dp_register_batches('bank', 'dp_bank', 'risk_scoring', 2, 10, column_types => '{"income": "numeric", "age": "numeric"}');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'sdp.dp_batches_bank'::regclass AND attnum > 0 ORDER BY attnum;
SELECT sdp.sdp_dp_public_values('bank', 'risk_band', '{low,medium,high}') IS NOT NULL;
SELECT grantee FROM sdp.sdp_dp_grant(current_user, 'bank', 10, 0.000001);
SELECT group_key, value BETWEEN ci_low AND ci_high AS in_ci FROM sdp.sdp_dp_count('bank', 1, 'risk_band');
SELECT count(*) FROM sdp.sdp_dp_avg('bank', 'income', 0, 100000, 1, 'segment', delta => 0.000001);
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_dp_register_batches('bank2', 'nobody', 'risk_scoring', 2, 10)$$);

-- ---- quantile intervals ----
-- At a large epsilon the interval is narrow and holds the true quantile (its 95% coverage is
-- measured in the GoogleTests: a probabilistic check does not belong in a regress file).
SELECT (sdp.sdp_dp_register('qtile', 'public.regress_dp_people', 'person', 10, 1000)).name;
SELECT (sdp.sdp_dp_grant(current_user, 'qtile', 1000)).grantee = current_user AS granted;
SELECT q.group_key, q.ci_high - q.ci_low <= 5 AS narrow,
       (SELECT percentile_disc(q.group_key::float8) WITHIN GROUP (ORDER BY income) FROM public.regress_dp_people)
         BETWEEN q.ci_low AND q.ci_high AS holds_truth
  FROM sdp.sdp_dp_quantiles('qtile', 'income', 0, 100, '{0.25,0.75}', 50) q;

-- ---- the tally's fixed point is exact for every numeric type ----
-- sdp._dp_tally's bytes for one NULL group: [1][len 0][count i64][sum i128], little-endian. The
-- bounded sum at granularity 10^-2 must equal SQL's exact sum of round(x, 2) * 100 (numeric
-- rounds halves away from zero, as the tally does), for numeric values of up to 20 significant
-- digits (a double holds 15 to 17), integers and floats.
CREATE FUNCTION pg_temp.tally_sum(t bytea) RETURNS numeric LANGUAGE sql AS $$
  SELECT round(CASE WHEN get_byte(t, 28) >= 128 THEN s - 2::numeric ^ 128 ELSE s END)
    FROM (SELECT sum(get_byte(t, 13 + i)::numeric * 256::numeric ^ i) AS s FROM generate_series(0, 15) i) x
$$;
CREATE TABLE public.regress_dp_exact AS
SELECT 'u' || i AS unit,
       ((i * 7919 % 20000001) - 10000000)::numeric * 1000000 + (i * 104729 % 1000000)::numeric / 1000000 + 0.005 AS n,
       (i * 31 % 1000)::int4 AS i4, (i * 7 % 100)::int2 AS i2, (i::bigint * 1000003) AS i8,
       (i * 13 % 1000)::float8 / 8 AS f8, ((i * 17 % 1000)::float4 / 4)::float4 AS f4
  FROM generate_series(1, 3000) i;
SELECT pg_temp.tally_sum(sdp._dp_tally(unit, i8, NULL::text, n, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1,
                                       -1000000000000000000, 1000000000000000000, 2))
       = sum(round(n, 2) * 100) AS numeric_exact,
       pg_temp.tally_sum(sdp._dp_tally(unit, i8, NULL::text, i4, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, -1000000000::bigint, 1000000000::bigint, 2))
       = sum(i4) * 100 AS int4_exact,
       pg_temp.tally_sum(sdp._dp_tally(unit, i8, NULL::text, i2, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, -1000000000::bigint, 1000000000::bigint, 2))
       = sum(i2) * 100 AS int2_exact,
       pg_temp.tally_sum(sdp._dp_tally(unit, i8, NULL::text, i8, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, -1000000000000000000::bigint, 1000000000000000000::bigint, 0))
       = sum(i8) AS int8_exact,
       pg_temp.tally_sum(sdp._dp_tally(unit, i8, NULL::text, f8, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, -1000000000::bigint, 1000000000::bigint, 3))
       = sum(f8 * 1000) AS float8_exact,
       pg_temp.tally_sum(sdp._dp_tally(unit, i8, NULL::text, f4, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, -1000000000::bigint, 1000000000::bigint, 2))
       = sum(f4 * 100) AS float4_exact,
       -- clamped: every value to [-5.00, 5.00]
       pg_temp.tally_sum(sdp._dp_tally(unit, i8, NULL::text, n, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, -500, 500, 2))
       = sum(greatest(least(round(n, 2) * 100, 500), -500)) AS numeric_clamped
  FROM public.regress_dp_exact;
-- NaN and infinities: NaN and -Infinity count as lower, +Infinity as upper.
SELECT pg_temp.tally_sum(sdp._dp_tally(u, r, NULL::text, v, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, -700, 900, 2))
  FROM (VALUES ('a', 1::bigint, 'NaN'::numeric), ('b', 2, 'Infinity'), ('c', 3, '-Infinity'), ('d', 4, 1.234)) v(u, r, v);
SELECT code, message FROM regress.error_of($$SELECT sdp._dp_tally('u', 1::bigint, NULL::text, 'x'::text, '\x000102030405060708090a0b0c0d0e0f'::bytea, 1, 0, 1, 0)$$);
DROP TABLE public.regress_dp_exact;

-- ---- nothing executable by PUBLIC; internals owner-only ----
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace) AND p.proname LIKE '%dp%'
   AND has_function_privilege('regress_dp_nobody', p.oid, 'EXECUTE') ORDER BY 1;
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'sdp'::regnamespace AND p.proname LIKE '\_dp\_%'
   AND (has_function_privilege('sdp_dp_analyst', p.oid, 'EXECUTE')
        OR has_function_privilege('sdp_admin', p.oid, 'EXECUTE')) ORDER BY 1;
-- Every DP function is SECURITY DEFINER with a pinned search_path.
SELECT p.proname, p.prosecdef, p.proconfig FROM pg_proc p
 WHERE p.pronamespace = 'sdp'::regnamespace AND p.proname LIKE 'sdp\_dp\_%' ORDER BY 1;

DROP TABLE public.regress_dp_people, public.regress_dp_heavy, public.regress_dp_acc, public.regress_dp_rb CASCADE;
-- The view sdp_dp_register_batches created is not a member of the extension: later files drop
-- and recreate the extension, which it would block.
DROP VIEW sdp.dp_batches_bank;
