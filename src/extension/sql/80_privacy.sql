-- Privacy analytics: differentially private statistics with an enforced budget ledger (issue 18,
-- docs/privacy_analytics.md).
--
-- An admin registers a dataset (a table or view with a column naming the person protected, the
-- privacy unit) with an ε/δ cap, and grants budget on it to login or group roles. A caller asks
-- for a count, sum, mean, histogram or quantiles: the release is computed first and kept, then
-- charged (to the caller's own grant, to every group grant it draws from, and to the dataset cap)
-- in a transaction of its own that a background worker commits (privacy_charge.cc), and only
-- then returned. So a ROLLBACK of the caller's transaction cannot take a charge back, a query
-- that fails or is refused charges nothing and returns nothing, and a result is never returned
-- without its committed charge.
--
-- Composition is basic (sequential): the ε of every release is added, exactly, in numeric.

CREATE TABLE sdp.dp_dataset (
  name              text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
  relation          regclass NOT NULL,
  privacy_unit      text NOT NULL,
  max_rows_per_unit integer NOT NULL CHECK (max_rows_per_unit BETWEEN 1 AND 10000),
  epsilon_cap       numeric NOT NULL CHECK (epsilon_cap > 0),
  delta_cap         numeric NOT NULL CHECK (delta_cap >= 0 AND delta_cap < 1),
  epsilon_spent     numeric NOT NULL DEFAULT 0,
  delta_spent       numeric NOT NULL DEFAULT 0,
  -- Sums are computed in integer units of 10^-sum_scale (the declared granularity).
  sum_scale         smallint NOT NULL DEFAULT 2 CHECK (sum_scale BETWEEN 0 AND 6),
  -- Key of the keyed hash that picks which rows of a unit count (contribution bounding). Random
  -- per dataset, never shown: knowing it would tell which rows are dropped.
  bounding_key      bytea NOT NULL,
  -- A bigint column identifying a row (views have no ctid); NULL: the relation's ctid.
  row_identity      text,
  created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CHECK (epsilon_spent <= epsilon_cap AND delta_spent <= delta_cap)
);
COMMENT ON TABLE sdp.dp_dataset IS 'datasets open to differentially private queries, with their ε/δ caps';

CREATE TABLE sdp.dp_grant (
  grantee       text NOT NULL,
  dataset       text NOT NULL REFERENCES sdp.dp_dataset (name) ON DELETE CASCADE,
  epsilon       numeric NOT NULL CHECK (epsilon > 0),
  delta         numeric NOT NULL DEFAULT 0 CHECK (delta >= 0 AND delta < 1),
  epsilon_spent numeric NOT NULL DEFAULT 0,
  delta_spent   numeric NOT NULL DEFAULT 0,
  granted_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (grantee, dataset),
  CHECK (epsilon_spent <= epsilon AND delta_spent <= delta)
);
COMMENT ON TABLE sdp.dp_grant IS 'privacy budget granted to a role (login or group) on a dataset';

-- Values of a column that are public knowledge (risk bands, segments): groups by that column are
-- released for exactly these values, without a data-dependent threshold and without δ.
CREATE TABLE sdp.dp_public_values (
  dataset     text NOT NULL REFERENCES sdp.dp_dataset (name) ON DELETE CASCADE,
  column_name text NOT NULL,
  "values"    text[] NOT NULL,
  PRIMARY KEY (dataset, column_name)
);

-- One row per release. Append-only like the audit log: no UPDATE/DELETE/TRUNCATE privilege, and
-- a trigger refuses them even for the owner. Each row is also an audit log entry (dp.release).
CREATE TABLE sdp.dp_ledger (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  actor      text NOT NULL,          -- sdp.sdp_caller_role()
  login      text NOT NULL,          -- session_user
  dataset    text NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('count', 'sum', 'avg', 'histogram', 'quantiles')),
  parameters jsonb NOT NULL,
  epsilon    numeric NOT NULL,
  delta      numeric NOT NULL,
  charged_to text[] NOT NULL         -- the grantees charged
);
COMMENT ON TABLE sdp.dp_ledger IS 'append-only: one row per differentially private release';
CREATE INDEX dp_ledger_actor ON sdp.dp_ledger (actor);

CREATE TRIGGER dp_ledger_append_only BEFORE UPDATE OR DELETE ON sdp.dp_ledger
  FOR EACH ROW EXECUTE FUNCTION sdp._audit_refuse_change();
CREATE TRIGGER dp_ledger_no_truncate BEFORE TRUNCATE ON sdp.dp_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._audit_refuse_change();

-- An analyst reads its own ledger rows; admins and auditors read all.
ALTER TABLE sdp.dp_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.dp_ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY dp_ledger_own ON sdp.dp_ledger FOR SELECT
  USING (actor OPERATOR(pg_catalog.=) (SELECT sdp.sdp_caller_role())::text
         OR (SELECT sdp.sdp_caller_has_role('sdp_admin'))
         OR (SELECT sdp.sdp_caller_has_role('sdp_auditor')));
CREATE POLICY dp_ledger_insert ON sdp.dp_ledger FOR INSERT WITH CHECK (true);

-- ---- the computation (privacy.cc) ------------------------------------------------------------
-- sdp._dp_tally: an aggregate fed by one scan of the dataset. Per privacy unit it keeps at most
-- max_rows_per_unit rows (the smallest HMAC-SHA256(bounding_key, unit || row) priorities), values
-- clamped to [lower, upper] in fixed point; the result is the bounded per-group counts and sums
-- (int128), serialised. Never returned to a caller: sdp._dp_release adds the noise.
-- The step and final functions carry no SET search_path: they are C, look no name up, and run
-- once per row, where a SET clause (a GUC save and restore per call) cost more than all their
-- work (sql/extension.sql lists the exceptions).
CREATE FUNCTION sdp._dp_tally_step(state internal, unit text, row_id bigint, grp text,
                                   val anyelement, bounding_key bytea, max_rows integer,
                                   lower_fixed bigint, upper_fixed bigint, scale integer)
RETURNS internal
  AS 'MODULE_PATHNAME', 'sdp_dp_tally_step' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT;
CREATE FUNCTION sdp._dp_tally_step(state internal, unit text, row_id tid, grp text,
                                   val anyelement, bounding_key bytea, max_rows integer,
                                   lower_fixed bigint, upper_fixed bigint, scale integer)
RETURNS internal
  AS 'MODULE_PATHNAME', 'sdp_dp_tally_step' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT;
CREATE FUNCTION sdp._dp_tally_final(state internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_dp_tally_final' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT;
CREATE AGGREGATE sdp._dp_tally(text, bigint, text, anyelement, bytea, integer, bigint, bigint, integer) (
  SFUNC = sdp._dp_tally_step, STYPE = internal, FINALFUNC = sdp._dp_tally_final
);
CREATE AGGREGATE sdp._dp_tally(text, tid, text, anyelement, bytea, integer, bigint, bigint, integer) (
  SFUNC = sdp._dp_tally_step, STYPE = internal, FINALFUNC = sdp._dp_tally_final
);
COMMENT ON AGGREGATE sdp._dp_tally(text, bigint, text, anyelement, bytea, integer, bigint, bigint, integer) IS
  'internal: contribution-bounded per-group counts and fixed-point sums of one dataset scan';
COMMENT ON AGGREGATE sdp._dp_tally(text, tid, text, anyelement, bytea, integer, bigint, bigint, integer) IS
  'internal: contribution-bounded per-group counts and fixed-point sums of one dataset scan';

-- The noisy release of a tally: one row per released group. kind count | sum | avg | quantiles;
-- epsilon/delta as numeric text (delta NULL: the groups are public, no threshold); public_keys: the groups to release
-- (NULL: those in the data past the threshold); quantile levels as q_num / 10^9 over `bins` bins.
-- lower/upper in fixed point: the sum sensitivity per row is max(|lower|, |upper|).
CREATE FUNCTION sdp._dp_release(tally bytea, kind text, epsilon text, delta text,
                                max_rows integer, lower_fixed bigint, upper_fixed bigint, scale integer,
                                public_keys text[], quantile_nums bigint[], bins integer)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric)
  AS 'MODULE_PATHNAME', 'sdp_dp_release' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp._dp_release(bytea, text, text, text, integer, bigint, bigint, integer, text[], bigint[], integer) IS
  'internal: discrete Laplace / permute-and-flip release of a tally with 95% intervals';

-- ---- validation helpers ----------------------------------------------------------------------
-- A privacy parameter: finite, > 0, >= 1e-6 (smaller ones give noise nobody can use and invite
-- rounding games). 22023 otherwise.
CREATE FUNCTION sdp._dp_check_parameter(what text, v numeric) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF v IS NULL OR v = 'NaN'::numeric OR v IN ('Infinity'::numeric, '-Infinity'::numeric)
     OR v <= 0 OR v < 0.000001 OR v > 1000000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('%s must be a finite number from 0.000001 to 1000000, not %s', what,
                       coalesce(v::text, 'NULL'));
  END IF;
END
$$;

-- The dataset row, or 22023 naming it.
CREATE FUNCTION sdp._dp_dataset_row(p_dataset text) RETURNS sdp.dp_dataset
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
BEGIN
  SELECT * INTO d FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) p_dataset;
  IF d.name IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown dataset %s', sdp._echo(p_dataset));
  END IF;
  RETURN d;
END
$$;

-- The type of a column of the relation, or 22023 naming it. p_numeric: it must be a number.
CREATE FUNCTION sdp._dp_column_type(p_relation regclass, p_dataset text, p_column text,
                                    p_numeric boolean) RETURNS regtype
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_type regtype;
BEGIN
  SELECT a.atttypid::regtype INTO v_type FROM pg_catalog.pg_attribute a
   WHERE a.attrelid OPERATOR(pg_catalog.=) p_relation AND a.attname OPERATOR(pg_catalog.=) p_column
     AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
  IF v_type IS NULL OR p_column IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown column %s of dataset %s', sdp._echo(p_column), sdp._echo(p_dataset));
  END IF;
  IF p_numeric AND v_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
                                  'real'::regtype, 'double precision'::regtype, 'numeric'::regtype) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('column %s of dataset %s is not numeric (%s)', sdp._echo(p_column),
                       sdp._echo(p_dataset), v_type);
  END IF;
  RETURN v_type;
END
$$;

-- The WHERE clause of a filter: a jsonb object whose keys are column names and whose values are
-- a scalar (equality), an array of scalars (one of) or an object of gt/gte/lt/lte bounds. Never
-- SQL text: names go through quote_ident after they were found in the relation, values through
-- quote_literal and a cast to the column's type, operators are pg_catalog's.
CREATE FUNCTION sdp._dp_filter_sql(p_relation regclass, p_dataset text, p_filter jsonb) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_sql text := 'true';
  k text;
  v jsonb;
  op text;
  b jsonb;
  v_type regtype;
  v_col text;
BEGIN
  IF p_filter IS NULL THEN
    RETURN v_sql;
  END IF;
  IF pg_catalog.jsonb_typeof(p_filter) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'filter must be a JSON object {"column": value | [values] | {"gte": x, "lt": y}}';
  END IF;
  FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_filter) e LOOP
    v_type := sdp._dp_column_type(p_relation, p_dataset, k, false);
    v_col := 't.' || pg_catalog.quote_ident(k);
    IF pg_catalog.jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN
      v_sql := v_sql || format(' AND %s OPERATOR(pg_catalog.=) %s::%s', v_col,
                               pg_catalog.quote_literal(v #>> '{}'), v_type);
    ELSIF pg_catalog.jsonb_typeof(v) = 'array' AND pg_catalog.jsonb_array_length(v) > 0 THEN
      v_sql := v_sql || format(' AND %s OPERATOR(pg_catalog.=) ANY (ARRAY[%s]::%s[])', v_col,
        (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(x), ', ')
           FROM pg_catalog.jsonb_array_elements_text(v) x), v_type);
      IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(v) x
                  WHERE pg_catalog.jsonb_typeof(x) NOT IN ('string', 'number', 'boolean')) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
          MESSAGE = format('filter on %s: an array holds scalars only', sdp._echo(k));
      END IF;
    ELSIF pg_catalog.jsonb_typeof(v) = 'object' AND v <> '{}'::jsonb THEN
      FOR op, b IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(v) e LOOP
        IF op NOT IN ('gt', 'gte', 'lt', 'lte')
           OR pg_catalog.jsonb_typeof(b) NOT IN ('string', 'number') THEN
          RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('filter on %s: a range is {"gt"|"gte"|"lt"|"lte": value}', sdp._echo(k));
        END IF;
        v_sql := v_sql || format(' AND %s OPERATOR(pg_catalog.%s) %s::%s', v_col,
          CASE op WHEN 'gt' THEN '>' WHEN 'gte' THEN '>=' WHEN 'lt' THEN '<' ELSE '<=' END,
          pg_catalog.quote_literal(b #>> '{}'), v_type);
      END LOOP;
    ELSE
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('filter on %s: a value, an array of values or a range object', sdp._echo(k));
    END IF;
  END LOOP;
  RETURN v_sql;
END
$$;

-- ---- admin: datasets, grants, public values --------------------------------------------------
CREATE FUNCTION sdp.sdp_dp_register(dataset text, relation regclass, privacy_unit text,
                                    max_rows_per_unit integer, epsilon_cap numeric,
                                    delta_cap numeric DEFAULT 0.000001, sum_scale integer DEFAULT 2,
                                    row_identity text DEFAULT NULL)
RETURNS sdp.dp_dataset
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  v_kind "char";
  v_idtype regtype;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_register', dataset);
  IF dataset IS NULL OR dataset !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('dataset name %s: lowercase letters, digits and _, 48 at most', sdp._echo(dataset));
  END IF;
  SELECT c.relkind INTO v_kind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation;
  IF v_kind IS NULL OR v_kind NOT IN ('r', 'v', 'm', 'p') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'relation must be a table, view or materialized view';
  END IF;
  PERFORM sdp._dp_column_type(relation, dataset, privacy_unit, false);
  IF row_identity IS NOT NULL THEN
    v_idtype := sdp._dp_column_type(relation, dataset, row_identity, false);
    IF v_idtype <> 'bigint'::regtype THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'row_identity must be a bigint column';
    END IF;
  ELSIF v_kind = 'v' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'a view has no ctid: name a bigint row_identity column';
  END IF;
  IF max_rows_per_unit IS NULL OR max_rows_per_unit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_rows_per_unit must be from 1 to 10000';
  END IF;
  PERFORM sdp._dp_check_parameter('epsilon_cap', epsilon_cap);
  IF delta_cap IS NULL OR delta_cap <> 0 THEN
    PERFORM sdp._dp_check_parameter('delta_cap', delta_cap);
    IF delta_cap >= 1 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'delta_cap must be below 1';
    END IF;
  END IF;
  IF sum_scale IS NULL OR sum_scale NOT BETWEEN 0 AND 6 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'sum_scale must be from 0 to 6';
  END IF;
  BEGIN
    INSERT INTO sdp.dp_dataset (name, relation, privacy_unit, max_rows_per_unit, epsilon_cap,
                                delta_cap, sum_scale, bounding_key, row_identity)
    VALUES (dataset, relation, privacy_unit, max_rows_per_unit, epsilon_cap, delta_cap, sum_scale,
            pg_catalog.sha256(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                              OPERATOR(pg_catalog.||) pg_catalog.uuid_send(pg_catalog.gen_random_uuid())),
            row_identity)
    RETURNING * INTO d;
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict(format('dataset %s is already registered', sdp._echo(dataset)));
  END;
  PERFORM sdp._audit('dp.register', dataset,
    pg_catalog.jsonb_build_object('relation', relation::text, 'privacy_unit', privacy_unit,
                                  'max_rows_per_unit', max_rows_per_unit,
                                  'epsilon_cap', epsilon_cap, 'delta_cap', delta_cap));
  d.bounding_key := NULL;  -- never shown
  RETURN d;
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_register(text, regclass, text, integer, numeric, numeric, integer, text) IS
  'admin: opens a table or view to differentially private queries (privacy unit, rows per unit, ε/δ caps)';

-- The union of a client's processed batches of one processing type as one dataset: a view with
-- the batch header's columns (numeric where column_types says so), score and risk_band, the
-- batch's key column as the privacy unit.
CREATE FUNCTION sdp.sdp_dp_register_batches(dataset text, client_id text, processing_type text,
                                            max_rows_per_unit integer, epsilon_cap numeric,
                                            delta_cap numeric DEFAULT 0.000001,
                                            column_types jsonb DEFAULT NULL)
RETURNS sdp.dp_dataset
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_columns text[];
  v_key text;
  v_select text := '';
  v_view text;
  i integer;
  v_type text;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_register', dataset);
  IF dataset IS NULL OR dataset !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('dataset name %s: lowercase letters, digits and _, 48 at most', sdp._echo(dataset));
  END IF;
  SELECT b.columns, b.key_column INTO v_columns, v_key FROM sdp.processing_batch b
   WHERE b.client_id OPERATOR(pg_catalog.=) sdp_dp_register_batches.client_id
     AND b.processing_type OPERATOR(pg_catalog.=) sdp_dp_register_batches.processing_type
     AND b.status OPERATOR(pg_catalog.=) 'PROCESSED'::sdp.batch_state AND NOT b.dev_only
   ORDER BY b.processed_at DESC LIMIT 1;
  IF v_columns IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('client %s has no processed %s batch', sdp._echo(client_id), sdp._echo(processing_type));
  END IF;
  IF column_types IS NOT NULL AND (pg_catalog.jsonb_typeof(column_types) <> 'object'
     OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each_text(column_types) e
                 WHERE e.value NOT IN ('numeric', 'text') OR NOT (e.key OPERATOR(pg_catalog.=) ANY (v_columns)))) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'column_types maps header columns to "numeric" or "text"';
  END IF;
  FOR i IN 1 .. pg_catalog.array_length(v_columns, 1) LOOP
    CONTINUE WHEN v_columns[i] IN (v_key, 'score', 'risk_band', 'dp_row_id');
    v_type := coalesce(column_types ->> v_columns[i], 'text');
    v_select := v_select || CASE WHEN v_type = 'numeric' THEN
        format(', CASE WHEN t.fields[%s] OPERATOR(pg_catalog.~) %L THEN t.fields[%s]::pg_catalog.numeric END AS %I',
               i, '^\s*-?[0-9]+(\.[0-9]+)?\s*$', i, v_columns[i])
      ELSE format(', t.fields[%s] AS %I', i, v_columns[i]) END;
  END LOOP;
  v_view := 'dp_batches_' || dataset;
  EXECUTE format(
    'CREATE VIEW sdp.%I AS SELECT r.record_key AS %I%s, r.score, r.risk_band, '
    'pg_catalog.hashtextextended(r.batch_id::text, r.row_no) AS dp_row_id '
    'FROM sdp.processed_result r JOIN sdp.tokenized_record t '
    'ON t.batch_id OPERATOR(pg_catalog.=) r.batch_id AND t.row_no OPERATOR(pg_catalog.=) r.row_no '
    'JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) r.batch_id '
    'WHERE b.client_id OPERATOR(pg_catalog.=) %L AND b.processing_type OPERATOR(pg_catalog.=) %L '
    'AND b.status OPERATOR(pg_catalog.=) ''PROCESSED''::sdp.batch_state AND NOT b.dev_only '
    'AND b.columns OPERATOR(pg_catalog.=) %L::text[]',
    v_view, v_key, v_select, client_id, processing_type, v_columns);
  EXECUTE format('REVOKE ALL ON sdp.%I FROM PUBLIC', v_view);
  RETURN sdp.sdp_dp_register(dataset, pg_catalog.format('sdp.%I', v_view)::regclass, v_key,
                             max_rows_per_unit, epsilon_cap, delta_cap, 2, 'dp_row_id');
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_register_batches(text, text, text, integer, numeric, numeric, jsonb) IS
  'admin: registers a client''s processed batches of one type (header columns, score, risk_band) as a dataset';

-- Sets the budget of a grantee on a dataset (the total, not an increment); never below what it
-- has spent.
CREATE FUNCTION sdp.sdp_dp_grant(grantee name, dataset text, epsilon numeric, delta numeric DEFAULT 0)
RETURNS sdp.dp_grant
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  g sdp.dp_grant;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_grant', dataset);
  PERFORM sdp._dp_dataset_row(dataset);
  IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) grantee) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown role %s', sdp._echo(grantee));
  END IF;
  PERFORM sdp._dp_check_parameter('epsilon', epsilon);
  IF delta IS NULL OR delta <> 0 THEN
    PERFORM sdp._dp_check_parameter('delta', delta);
    IF delta >= 1 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'delta must be below 1';
    END IF;
  END IF;
  BEGIN
    INSERT INTO sdp.dp_grant AS x (grantee, dataset, epsilon, delta)
    VALUES (sdp_dp_grant.grantee, sdp_dp_grant.dataset, sdp_dp_grant.epsilon, sdp_dp_grant.delta)
    ON CONFLICT ON CONSTRAINT dp_grant_pkey DO UPDATE SET epsilon = excluded.epsilon, delta = excluded.delta
    RETURNING * INTO g;
  EXCEPTION
    WHEN check_violation THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('%s has already spent more than that on %s', sdp._echo(grantee), sdp._echo(dataset));
    WHEN serialization_failure OR deadlock_detected THEN
      PERFORM sdp._raise_conflict();
  END;
  PERFORM sdp._audit('dp.grant', dataset,
    pg_catalog.jsonb_build_object('grantee', grantee, 'epsilon', epsilon, 'delta', delta));
  RETURN g;
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_grant(name, text, numeric, numeric) IS
  'admin: sets the ε/δ budget of a role (login or group) on a dataset';

CREATE FUNCTION sdp.sdp_dp_public_values(dataset text, column_name text, "values" text[])
RETURNS sdp.dp_public_values
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  p sdp.dp_public_values;
BEGIN
  PERFORM sdp._require_capability('admin', 'dp_public_values', dataset);
  d := sdp._dp_dataset_row(dataset);
  PERFORM sdp._dp_column_type(d.relation, dataset, column_name, false);
  IF "values" IS NULL OR pg_catalog.cardinality("values") NOT BETWEEN 1 AND 10000
     OR pg_catalog.array_position("values", NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'values: 1 to 10000 non-NULL texts';
  END IF;
  INSERT INTO sdp.dp_public_values AS x (dataset, column_name, "values")
  VALUES (sdp_dp_public_values.dataset, sdp_dp_public_values.column_name,
          ARRAY(SELECT DISTINCT v FROM pg_catalog.unnest(sdp_dp_public_values."values") v ORDER BY v))
  ON CONFLICT ON CONSTRAINT dp_public_values_pkey DO UPDATE SET "values" = excluded."values"
  RETURNING * INTO p;
  PERFORM sdp._audit('dp.public_values', dataset,
    pg_catalog.jsonb_build_object('column', column_name, 'values', pg_catalog.cardinality(p."values")));
  RETURN p;
END
$$;
COMMENT ON FUNCTION sdp.sdp_dp_public_values(text, text, text[]) IS
  'admin: declares the public values of a column (groups released without threshold or δ)';

-- The caller draws from a grant of its own role or of a role it is a member of (a superuser only
-- from its own: pg_has_role says yes to everything for one). The caller is named, not taken from
-- the session: the charge runs in a background worker's session (privacy_charge.cc).
CREATE FUNCTION sdp._dp_draws_from(p_grantee text, p_caller text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p_grantee OPERATOR(pg_catalog.=) p_caller
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r, pg_catalog.pg_roles c
                  WHERE r.rolname OPERATOR(pg_catalog.=) p_grantee
                    AND c.rolname OPERATOR(pg_catalog.=) p_caller
                    AND NOT c.rolsuper
                    AND pg_catalog.pg_has_role(c.oid, r.oid, 'MEMBER'))
$$;
CREATE FUNCTION sdp._dp_draws_from(p_grantee text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp._dp_draws_from(p_grantee, sdp.sdp_caller_role()::text) $$;

-- What the caller has spent and has left, per grant it draws from (its own and its groups').
CREATE FUNCTION sdp.sdp_dp_budget(dataset text DEFAULT NULL)
RETURNS TABLE(dataset_name text, grantee text, epsilon numeric, epsilon_spent numeric,
              epsilon_left numeric, delta numeric, delta_spent numeric, delta_left numeric)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT g.dataset, g.grantee, g.epsilon, g.epsilon_spent,
         g.epsilon OPERATOR(pg_catalog.-) g.epsilon_spent, g.delta, g.delta_spent,
         g.delta OPERATOR(pg_catalog.-) g.delta_spent
    FROM sdp.dp_grant g
   WHERE (sdp_dp_budget.dataset IS NULL OR g.dataset OPERATOR(pg_catalog.=) sdp_dp_budget.dataset)
     AND sdp._dp_draws_from(g.grantee)
   ORDER BY g.dataset, g.grantee
$$;

COMMENT ON FUNCTION sdp.sdp_dp_budget(text) IS
  'the ε/δ the caller may still spend, per grant it draws from (its own role and its groups)';

-- Every query: validate; check the budgets without locking them (a refusal before any work);
-- scan and release into local arrays; charge in a committed transaction of its own
-- (sdp._dp_charge_committed); then return the kept rows. Nothing is returned before the charge is
-- committed, and nothing the caller's transaction does afterwards can undo it.
CREATE FUNCTION sdp._dp_run(p_kind text, p_dataset text, p_column text, p_lower numeric,
                            p_upper numeric, p_epsilon numeric, p_delta numeric,
                            p_group_by text, p_filter jsonb, p_edges numeric[],
                            p_quantiles numeric[])
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  v_caller text := sdp.sdp_caller_role();
  v_public text[];
  v_delta numeric := 0;
  v_where text;
  v_value text := 'NULL::pg_catalog.float8';
  v_group text := 'NULL::pg_catalog.text';
  v_notnull text := '';
  v_rowid text;
  v_lo bigint := 0;
  v_hi bigint := 0;
  v_bins integer := 0;
  v_qnums bigint[];
  v_release_kind text := p_kind;
  v_charged text[];
  v_params jsonb;
  r record;
  n integer;
  v_keys text[] := '{}';
  v_values numeric[] := '{}';
  v_lows numeric[] := '{}';
  v_highs numeric[] := '{}';
BEGIN
  -- ---- validation (22023) ----
  PERFORM sdp._dp_check_parameter('epsilon', p_epsilon);
  d := sdp._dp_dataset_row(p_dataset);
  IF p_kind IN ('sum', 'avg', 'quantiles', 'histogram') THEN
    PERFORM sdp._dp_column_type(d.relation, p_dataset, p_column, true);
    v_notnull := format(' AND t.%I IS NOT NULL', p_column);
  END IF;
  IF p_kind IN ('sum', 'avg', 'quantiles') THEN
    IF p_lower IS NULL OR p_upper IS NULL OR p_lower = 'NaN'::numeric OR p_upper = 'NaN'::numeric
       OR p_lower < -1e12 OR p_upper > 1e12 OR p_lower >= p_upper THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = 'lower and upper must be finite, lower < upper, within ±10^12';
    END IF;
    v_lo := pg_catalog.ceil(p_lower OPERATOR(pg_catalog.*) (10::numeric OPERATOR(pg_catalog.^) d.sum_scale))::bigint;
    v_hi := pg_catalog.floor(p_upper OPERATOR(pg_catalog.*) (10::numeric OPERATOR(pg_catalog.^) d.sum_scale))::bigint;
    IF v_lo >= v_hi OR GREATEST(pg_catalog.abs(v_lo), pg_catalog.abs(v_hi))::numeric
                       OPERATOR(pg_catalog.*) d.max_rows_per_unit > 1e18 THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('[lower, upper] is too narrow or too wide for the dataset''s granularity 10^-%s and %s rows per unit',
                         d.sum_scale, d.max_rows_per_unit);
    END IF;
  END IF;
  IF p_kind IN ('sum', 'avg') THEN
    -- The column as it is (one of the six numeric types _dp_column_type allows): the tally
    -- converts integers and numeric to fixed point exactly, without a float in between.
    v_value := format('t.%I', p_column);
  END IF;
  IF p_group_by IS NOT NULL THEN
    PERFORM sdp._dp_column_type(d.relation, p_dataset, p_group_by, false);
    v_group := format('t.%I::pg_catalog.text', p_group_by);
    SELECT pv."values" INTO v_public FROM sdp.dp_public_values pv
     WHERE pv.dataset OPERATOR(pg_catalog.=) p_dataset AND pv.column_name OPERATOR(pg_catalog.=) p_group_by;
    IF v_public IS NULL THEN
      PERFORM sdp._dp_check_parameter('delta', p_delta);
      v_delta := p_delta;
    END IF;
  END IF;
  IF p_kind = 'histogram' THEN
    n := pg_catalog.cardinality(p_edges);
    IF n IS NULL OR n < 2 OR n > 1001 OR pg_catalog.array_position(p_edges, NULL) IS NOT NULL
       OR 'NaN'::numeric OPERATOR(pg_catalog.=) ANY (p_edges)
       OR EXISTS (SELECT 1 FROM pg_catalog.generate_subscripts(p_edges, 1) i
                   WHERE i > 1 AND p_edges[i] <= p_edges[i - 1]) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = 'edges: 2 to 1001 finite numbers in increasing order';
    END IF;
    v_group := format('pg_catalog.width_bucket(t.%I::pg_catalog.numeric, %L::pg_catalog.numeric[])::pg_catalog.text',
                      p_column, p_edges);
    v_public := ARRAY(SELECT i::text FROM pg_catalog.generate_series(1, n - 1) i);
    v_release_kind := 'count';
  END IF;
  IF p_kind = 'quantiles' THEN
    n := pg_catalog.cardinality(p_quantiles);
    IF n IS NULL OR n < 1 OR n > 100 OR pg_catalog.array_position(p_quantiles, NULL) IS NOT NULL
       OR EXISTS (SELECT 1 FROM pg_catalog.unnest(p_quantiles) q WHERE NOT (q >= 0 AND q <= 1)) THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'quantiles: 1 to 100 levels from 0 to 1';
    END IF;
    v_bins := 1000;
    v_qnums := ARRAY(SELECT pg_catalog.round(q OPERATOR(pg_catalog.*) 1000000000)::bigint
                       FROM pg_catalog.unnest(p_quantiles) WITH ORDINALITY u(q, o) ORDER BY o);
    v_group := format('LEAST(GREATEST(pg_catalog.floor((t.%1$I::pg_catalog.numeric OPERATOR(pg_catalog.-) %2$L::pg_catalog.numeric) '
                      'OPERATOR(pg_catalog.*) %4$s OPERATOR(pg_catalog./) (%3$L::pg_catalog.numeric OPERATOR(pg_catalog.-) %2$L::pg_catalog.numeric)), 0), %5$s)::pg_catalog.int4::pg_catalog.text',
                      p_column, p_lower, p_upper, v_bins, v_bins - 1);
  END IF;
  v_where := sdp._dp_filter_sql(d.relation, p_dataset, p_filter);
  v_rowid := CASE WHEN d.row_identity IS NULL THEN 't.ctid' ELSE format('t.%I', d.row_identity) END;

  v_params := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'column', p_column, 'lower', p_lower, 'upper', p_upper, 'group_by', p_group_by,
    'filter', p_filter, 'edges', p_edges, 'quantiles', p_quantiles));

  -- ---- unlocked check: refuse before the scan; sdp._dp_charge checks again under lock ----
  PERFORM sdp._dp_check_budgets(p_dataset, v_caller, p_epsilon, v_delta);

  -- ---- one scan, bounded tally, noisy release (privacy.cc) ----
  FOR r IN EXECUTE format(
      'SELECT x.group_key, x.value, x.ci_low, x.ci_high FROM '
      '(SELECT sdp._dp_tally(t.%I::pg_catalog.text, %s, %s, %s, $1, $2, $3, $4, $5) AS s '
      '   FROM %s t WHERE %s%s) a, '
      'sdp._dp_release(a.s, $6, $7, $8, $2, $3, $4, $5, $9, $10, $11) x',
      d.privacy_unit, v_rowid, v_group, v_value, d.relation, v_where, v_notnull)
    USING d.bounding_key, d.max_rows_per_unit, v_lo, v_hi, d.sum_scale::integer,
          v_release_kind, p_epsilon::text,
          CASE WHEN v_delta > 0 THEN v_delta::text END,
          v_public, v_qnums, v_bins
  LOOP
    group_key := r.group_key;
    value := r.value;
    IF p_kind = 'histogram' THEN
      group_key := format('[%s, %s)', p_edges[r.group_key::integer], p_edges[r.group_key::integer + 1]);
    ELSIF p_kind = 'quantiles' THEN
      -- The release gives candidate indexes: the point and its interval's ends, mapped onto
      -- [lower, upper] (candidate k is lower + k (upper - lower) / bins).
      group_key := p_quantiles[r.group_key::integer + 1]::text;
      value := pg_catalog.trim_scale(p_lower OPERATOR(pg_catalog.+) (p_upper OPERATOR(pg_catalog.-) p_lower)
               OPERATOR(pg_catalog.*) r.value OPERATOR(pg_catalog./) v_bins);
      r.ci_low := pg_catalog.trim_scale(p_lower OPERATOR(pg_catalog.+) (p_upper OPERATOR(pg_catalog.-) p_lower)
                  OPERATOR(pg_catalog.*) r.ci_low OPERATOR(pg_catalog./) v_bins);
      r.ci_high := pg_catalog.trim_scale(p_lower OPERATOR(pg_catalog.+) (p_upper OPERATOR(pg_catalog.-) p_lower)
                   OPERATOR(pg_catalog.*) r.ci_high OPERATOR(pg_catalog./) v_bins);
    END IF;
    v_keys := v_keys OPERATOR(pg_catalog.||) group_key;
    v_values := v_values OPERATOR(pg_catalog.||) value;
    v_lows := v_lows OPERATOR(pg_catalog.||) r.ci_low;
    v_highs := v_highs OPERATOR(pg_catalog.||) r.ci_high;
  END LOOP;

  -- ---- the charge, committed by a background worker before any row is returned ----
  v_charged := sdp._dp_charge_committed(p_dataset, v_caller, pg_catalog.session_user(),
                                        sdp.sdp_auth_tenant(), p_kind, p_epsilon, v_delta, v_params);

  FOR n IN 1 .. pg_catalog.cardinality(v_keys) LOOP
    group_key := v_keys[n];
    value := v_values[n];
    ci_low := v_lows[n];
    ci_high := v_highs[n];
    epsilon_charged := p_epsilon;
    delta_charged := v_delta;
    RETURN NEXT;
  END LOOP;
  PERFORM sdp._dp_count_query('released');
END
$$;

-- The budgets a release of (epsilon, delta) by p_caller is charged to: every grant on the
-- dataset the caller draws from, and the dataset cap. PT403 naming what is left when one of them
-- would go over, or when the caller draws from no grant. Returns the grantees charged. Reads
-- without locking: sdp._dp_charge locks the rows first.
CREATE FUNCTION sdp._dp_check_budgets(p_dataset text, p_caller text, p_epsilon numeric,
                                      p_delta numeric) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d sdp.dp_dataset;
  g sdp.dp_grant;
  v_charged text[] := '{}';
BEGIN
  FOR g IN SELECT x.* FROM sdp.dp_grant x
            WHERE x.dataset OPERATOR(pg_catalog.=) p_dataset AND sdp._dp_draws_from(x.grantee, p_caller)
            ORDER BY x.grantee LOOP
    IF g.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon > g.epsilon
       OR g.delta_spent OPERATOR(pg_catalog.+) p_delta > g.delta THEN
      PERFORM sdp._dp_refused(p_dataset, format('the grant of %s', g.grantee),
                              g.epsilon OPERATOR(pg_catalog.-) g.epsilon_spent,
                              g.delta OPERATOR(pg_catalog.-) g.delta_spent, p_epsilon, p_delta);
    END IF;
    v_charged := v_charged OPERATOR(pg_catalog.||) g.grantee;
  END LOOP;
  IF pg_catalog.cardinality(v_charged) = 0 THEN
    PERFORM sdp._dp_count_query('refused');
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = format('no privacy budget on dataset %s for role %s', sdp._echo(p_dataset), sdp._echo(p_caller)),
      HINT = 'an admin grants it with sdp_dp_grant(role, dataset, epsilon, delta)';
  END IF;
  SELECT * INTO d FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) p_dataset;
  IF d.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon > d.epsilon_cap
     OR d.delta_spent OPERATOR(pg_catalog.+) p_delta > d.delta_cap THEN
    PERFORM sdp._dp_refused(p_dataset, 'the dataset cap',
                            d.epsilon_cap OPERATOR(pg_catalog.-) d.epsilon_spent,
                            d.delta_cap OPERATOR(pg_catalog.-) d.delta_spent, p_epsilon, p_delta);
  END IF;
  RETURN v_charged;
END
$$;

-- The charge of one release: lock the grants the caller draws from (ordered by grantee) and then
-- the dataset row, check every budget, charge them, write the ledger row and the audit entry.
-- Run by sdp._dp_charge_committed in a background worker's own transaction, so the caller is
-- named rather than taken from the session. One lock order for every charge, so two never
-- deadlock; a lock held elsewhere for over lock_timeout (an admin's open transaction, or the
-- caller's own: it waits for this worker and cannot let go) is PT409, never 40001 or a hang.
CREATE FUNCTION sdp._dp_charge(p_dataset text, p_caller text, p_login text, p_client text,
                               p_kind text, p_epsilon numeric, p_delta numeric, p_params jsonb)
RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
DECLARE
  v_charged text[];
BEGIN
  BEGIN
    PERFORM 1 FROM sdp.dp_grant x
      WHERE x.dataset OPERATOR(pg_catalog.=) p_dataset AND sdp._dp_draws_from(x.grantee, p_caller)
      ORDER BY x.grantee FOR UPDATE;
    PERFORM 1 FROM sdp.dp_dataset x WHERE x.name OPERATOR(pg_catalog.=) p_dataset FOR UPDATE;
    v_charged := sdp._dp_check_budgets(p_dataset, p_caller, p_epsilon, p_delta);
    UPDATE sdp.dp_grant x SET epsilon_spent = x.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon,
                              delta_spent = x.delta_spent OPERATOR(pg_catalog.+) p_delta
     WHERE x.dataset OPERATOR(pg_catalog.=) p_dataset AND x.grantee OPERATOR(pg_catalog.=) ANY (v_charged);
    UPDATE sdp.dp_dataset x SET epsilon_spent = x.epsilon_spent OPERATOR(pg_catalog.+) p_epsilon,
                                delta_spent = x.delta_spent OPERATOR(pg_catalog.+) p_delta
     WHERE x.name OPERATOR(pg_catalog.=) p_dataset;
    INSERT INTO sdp.dp_ledger (actor, login, dataset, kind, parameters, epsilon, delta, charged_to)
    VALUES (p_caller, p_login, p_dataset, p_kind, p_params, p_epsilon, p_delta, v_charged);
    PERFORM sdp._audit_as(p_caller, p_login, p_client, 'dp.release', p_dataset,
      pg_catalog.jsonb_build_object('kind', p_kind, 'epsilon', p_epsilon, 'delta', p_delta,
                                    'charged_to', v_charged) OPERATOR(pg_catalog.||) p_params);
  EXCEPTION WHEN serialization_failure OR deadlock_detected OR lock_not_available THEN
    PERFORM sdp._raise_conflict('the privacy budget was charged concurrently or is locked; retry the request');
  END;
  RETURN v_charged;
END
$$;

-- sdp._dp_charge run and committed in a background worker (privacy_charge.cc); the caller waits
-- for it. Its error (PT403, PT409, ...) is re-raised with the same SQLSTATE and message.
CREATE FUNCTION sdp._dp_charge_committed(p_dataset text, p_caller text, p_login text, p_client text,
                                         p_kind text, p_epsilon numeric, p_delta numeric,
                                         p_params jsonb) RETURNS text[]
  AS 'MODULE_PATHNAME', 'sdp_dp_charge_committed' LANGUAGE C VOLATILE CALLED ON NULL INPUT
  SET search_path = pg_catalog, pg_temp;

-- PT403 with what is left: the budget named `who` has left_eps / left_delta, the query needs more.
CREATE FUNCTION sdp._dp_refused(p_dataset text, p_who text, p_left_eps numeric, p_left_delta numeric,
                                p_eps numeric, p_delta numeric) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._dp_count_query('refused');
  RAISE EXCEPTION USING ERRCODE = 'PT403',
    MESSAGE = format('privacy budget exceeded on dataset %s: %s has epsilon %s and delta %s left, the query needs epsilon %s and delta %s',
                     sdp._echo(p_dataset), sdp._echo(p_who), pg_catalog.trim_scale(p_left_eps),
                     pg_catalog.trim_scale(p_left_delta), pg_catalog.trim_scale(p_eps),
                     pg_catalog.trim_scale(p_delta)),
    HINT = 'ask an admin for more budget (sdp_dp_grant) or spend less epsilon';
END
$$;

-- Counted in sdp_dp_queries_total{outcome} (metrics.cc): now, whatever the transaction does (a
-- refusal is followed by an error that rolls it back). 'failed' is counted by the charge itself
-- (privacy_charge.cc) when the background worker does not commit.
CREATE FUNCTION sdp._dp_count_query(outcome text) RETURNS void
  AS 'MODULE_PATHNAME', 'sdp_metrics_dp_query' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;

-- The per-dataset gauges of sdp_metrics() (metrics.cc appends them at scrape time), in the
-- Prometheus text format: epsilon spent and the epsilon cap of each dataset, so an alert can
-- compare the two (docker/prometheus/rules.yml). Label values escaped as the format requires
-- (backslash, double quote, newline), although dataset names cannot hold them today. Nothing
-- when no dataset is registered. SECURITY DEFINER: the monitoring roles do not read dp_dataset.
CREATE FUNCTION sdp._metrics_dp_datasets() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 THEN pg_catalog.concat(
           E'# HELP sdp_dp_epsilon_spent Epsilon charged to the dataset so far (sdp.dp_dataset).\n',
           E'# TYPE sdp_dp_epsilon_spent gauge\n',
           pg_catalog.string_agg(pg_catalog.format(E'sdp_dp_epsilon_spent{dataset="%s"} %s\n',
                                                   d.label, d.spent), '' ORDER BY d.name),
           E'# HELP sdp_dp_epsilon_cap Epsilon cap of the dataset (sdp.dp_dataset).\n',
           E'# TYPE sdp_dp_epsilon_cap gauge\n',
           pg_catalog.string_agg(pg_catalog.format(E'sdp_dp_epsilon_cap{dataset="%s"} %s\n',
                                                   d.label, d.cap), '' ORDER BY d.name))
         ELSE '' END
    FROM (SELECT x.name,
                 pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(x.name, E'\\', E'\\\\'),
                                                       '"', E'\\"'), E'\n', E'\\n') AS label,
                 pg_catalog.trim_scale(x.epsilon_spent)::text AS spent,
                 pg_catalog.trim_scale(x.epsilon_cap)::text AS cap
            FROM sdp.dp_dataset x) d
$$;
COMMENT ON FUNCTION sdp._metrics_dp_datasets() IS
  'internal: sdp_dp_epsilon_spent and sdp_dp_epsilon_cap per dataset, for sdp_metrics()';

-- ---- the public query functions ------------------------------------------------------------
CREATE FUNCTION sdp.sdp_dp_count(dataset text, epsilon numeric, group_by text DEFAULT NULL,
                                 filter jsonb DEFAULT NULL, delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('count', dataset, NULL, NULL, NULL, epsilon, delta, group_by, filter, NULL, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_count(text, numeric, text, jsonb, numeric) IS
  'differentially private row count (per group) with its 95% interval; charges epsilon (and delta for data groups)';

CREATE FUNCTION sdp.sdp_dp_sum(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('sum', dataset, "column", lower, upper, epsilon, delta, group_by, filter, NULL, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric) IS
  'differentially private sum of a column clamped to [lower, upper] (per group) with its 95% interval';

CREATE FUNCTION sdp.sdp_dp_avg(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('avg', dataset, "column", lower, upper, epsilon, delta, group_by, filter, NULL, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric) IS
  'differentially private mean (noisy sum / noisy count, epsilon split in half) with a conservative 95% interval';

CREATE FUNCTION sdp.sdp_dp_histogram(dataset text, "column" text, edges numeric[], epsilon numeric,
                                     filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('histogram', dataset, "column", NULL, NULL, epsilon, NULL, NULL, filter, edges, NULL) $$;
COMMENT ON FUNCTION sdp.sdp_dp_histogram(text, text, numeric[], numeric, jsonb) IS
  'differentially private counts over the bins [edges[i], edges[i+1]) with their 95% intervals';

CREATE FUNCTION sdp.sdp_dp_quantiles(dataset text, "column" text, lower numeric, upper numeric,
                                     quantiles numeric[], epsilon numeric, filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp._dp_run('quantiles', dataset, "column", lower, upper, epsilon, NULL, NULL, filter, NULL, quantiles) $$;
COMMENT ON FUNCTION sdp.sdp_dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb) IS
  'differentially private quantiles over 1000 bins of [lower, upper] (permute-and-flip, epsilon split across levels)';

-- ---- PostgREST (sdp_api, docs/postgrest.md): thin SECURITY INVOKER wrappers, VOLATILE (they
-- charge the budget, so a POST). An analyst reaches them with a JWT whose role an admin enabled
-- (pre_request and the end of this file), or through SQL; an API key never does.
CREATE FUNCTION sdp_api.dp_count(dataset text, epsilon numeric, group_by text DEFAULT NULL,
                                 filter jsonb DEFAULT NULL, delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_count(dataset, epsilon, group_by, filter, delta) $$;
CREATE FUNCTION sdp_api.dp_sum(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_sum(dataset, "column", lower, upper, epsilon, group_by, filter, delta) $$;
CREATE FUNCTION sdp_api.dp_avg(dataset text, "column" text, lower numeric, upper numeric,
                               epsilon numeric, group_by text DEFAULT NULL, filter jsonb DEFAULT NULL,
                               delta numeric DEFAULT 0.000001)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_avg(dataset, "column", lower, upper, epsilon, group_by, filter, delta) $$;
CREATE FUNCTION sdp_api.dp_histogram(dataset text, "column" text, edges numeric[], epsilon numeric,
                                     filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_histogram(dataset, "column", edges, epsilon, filter) $$;
CREATE FUNCTION sdp_api.dp_quantiles(dataset text, "column" text, lower numeric, upper numeric,
                                     quantiles numeric[], epsilon numeric, filter jsonb DEFAULT NULL)
RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric,
              epsilon_charged numeric, delta_charged numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_quantiles(dataset, "column", lower, upper, quantiles, epsilon, filter) $$;
CREATE FUNCTION sdp_api.dp_budget(dataset text DEFAULT NULL)
RETURNS TABLE(dataset_name text, grantee text, epsilon numeric, epsilon_spent numeric,
              epsilon_left numeric, delta numeric, delta_spent numeric, delta_left numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_dp_budget(dataset) $$;

SELECT pg_catalog.pg_extension_config_dump('sdp.dp_dataset', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.dp_grant', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.dp_public_values', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.dp_ledger', '');

-- ==== analysts over HTTP: PostgREST JWTs (docs/privacy_analytics.md, "Over HTTP") ===========
-- PostgREST verifies an analyst's JWT (HS256 with its jwt-secret, exp) and switches from
-- sdp_authenticator to the token's role claim, which PostgreSQL allows only for a role the
-- authenticator is a member of. An admin makes exactly the analyst roles that may use the API
-- members of it (sdp_api_enable_analyst). Membership is transitive: the authenticator could then
-- also switch to the groups such a role belongs to (sdp_dp_analyst, a department), so
-- pre_request (sdp._api_admit_analyst) admits only a role granted to sdp_authenticator directly
-- that still passes sdp._api_analyst_refusal when the request arrives (a grant made after
-- enabling is caught too).
-- sdp_authenticator is NOINHERIT: the membership gives it the right to switch, no privileges.

-- Why `analyst` may not be reached over HTTP; NULL when it may. It must be a member of
-- sdp_dp_analyst and reach nothing that holds more: not SUPERUSER, CREATEROLE, CREATEDB,
-- REPLICATION or BYPASSRLS itself or through a role it is a member of, not a member of another
-- sdp role or of a predefined pg_* role, and not one of those roles itself.
CREATE FUNCTION sdp._api_analyst_refusal(analyst name) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_sdp name[] := ARRAY['sdp_authenticator', 'sdp_anon', 'sdp_client', 'sdp_admin', 'sdp_engineer',
                        'sdp_analyst', 'sdp_auditor', 'sdp_viewer', 'sdp_dp_analyst']::name[];
  r record;
  v_other name;
BEGIN
  SELECT x.oid, x.rolname, x.rolsuper OR x.rolcreaterole OR x.rolcreatedb OR x.rolreplication
                           OR x.rolbypassrls AS powerful
    INTO r FROM pg_catalog.pg_roles x WHERE x.rolname OPERATOR(pg_catalog.=) analyst;
  IF NOT FOUND THEN
    RETURN 'is not a role';
  END IF;
  IF r.rolname OPERATOR(pg_catalog.=) ANY (v_sdp) OR r.rolname OPERATOR(pg_catalog.~~) 'pg\_%' THEN
    RETURN 'is a role of sdp or of PostgreSQL, not an analyst''s own role';
  END IF;
  IF r.powerful THEN
    RETURN 'has SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS';
  END IF;
  IF NOT pg_catalog.pg_has_role(r.oid, 'sdp_dp_analyst', 'MEMBER') THEN
    RETURN 'is not a member of sdp_dp_analyst';
  END IF;
  SELECT g.rolname INTO v_other FROM pg_catalog.pg_roles g
   WHERE g.oid OPERATOR(pg_catalog.<>) r.oid
     AND g.rolname OPERATOR(pg_catalog.<>) 'sdp_dp_analyst'::name
     AND (g.rolname OPERATOR(pg_catalog.=) ANY (v_sdp) OR g.rolname OPERATOR(pg_catalog.~~) 'pg\_%'
          OR g.rolsuper OR g.rolcreaterole OR g.rolcreatedb OR g.rolreplication OR g.rolbypassrls)
     AND pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')
   ORDER BY g.rolname LIMIT 1;
  IF v_other IS NOT NULL THEN
    RETURN pg_catalog.format('is a member of %s, which holds more than sdp_dp_analyst', v_other);
  END IF;
  RETURN NULL;
END
$$;

-- The role was granted to sdp_authenticator directly (sdp_api_enable_analyst), not reached
-- through another membership.
CREATE FUNCTION sdp._api_analyst_enabled(analyst name) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                   JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) m.roleid
                   JOIN pg_catalog.pg_roles a ON a.oid OPERATOR(pg_catalog.=) m.member
                  WHERE r.rolname OPERATOR(pg_catalog.=) analyst
                    AND a.rolname OPERATOR(pg_catalog.=) 'sdp_authenticator'::name)
$$;

-- pre_request's check for a request PostgREST switched to a JWT's role (sdp_api.pre_request,
-- 60_api.sql): the role must have been enabled (granted to sdp_authenticator directly), must
-- still pass sdp._api_analyst_refusal, and may call the dp_* functions only. PT403 otherwise (HTTP
-- 403). SECURITY DEFINER so that the analyst needs no privilege on the helpers; the caller is
-- the role PostgREST set (sdp_caller_role).
CREATE FUNCTION sdp._api_admit_analyst(path text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_role name := sdp.sdp_caller_role();
  v_refusal text;
BEGIN
  IF NOT sdp._api_analyst_enabled(v_role) THEN
    v_refusal := 'is not enabled for the API';
  ELSE
    v_refusal := sdp._api_analyst_refusal(v_role);
  END IF;
  IF v_refusal IS NOT NULL THEN
    RAISE LOG 'sdp access denied: role=% login=% action=api target=%: it %', v_role,
      pg_catalog.session_user(), coalesce(path, '-'), v_refusal;
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = pg_catalog.format('role %s may not use the API: it %s', sdp._echo(v_role), v_refusal),
      HINT = 'an admin enables an analyst''s own role with sdp.sdp_api_enable_analyst(role)';
  END IF;
  IF path IS NULL OR path OPERATOR(pg_catalog.!~) '^/rpc/dp_[a-z_]+$' THEN
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = 'an analyst''s JWT opens the dp_* functions only',
      HINT = 'clients authenticate with X-API-Key, not with a JWT';
  END IF;
END
$$;

-- Enables an analyst's role for the API: GRANT analyst TO sdp_authenticator, after
-- sdp._api_analyst_refusal (22023 with the reason). Idempotent. Audited (api.enable_analyst).
CREATE FUNCTION sdp.sdp_api_enable_analyst(analyst name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_refusal text;
BEGIN
  PERFORM sdp._require_capability('admin', 'api_enable_analyst', analyst);
  v_refusal := sdp._api_analyst_refusal(analyst);
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = pg_catalog.format('role %s cannot be enabled for the API: it %s', sdp._echo(analyst), v_refusal),
      HINT = 'enable an analyst''s own role: a member of sdp_dp_analyst and of nothing that holds more';
  END IF;
  IF NOT sdp._api_analyst_enabled(analyst) THEN
    EXECUTE pg_catalog.format('GRANT %I TO sdp_authenticator', analyst);
  END IF;
  PERFORM sdp._audit('api.enable_analyst', analyst);
END
$$;
COMMENT ON FUNCTION sdp.sdp_api_enable_analyst(name) IS
  'admin: lets PostgREST switch to this analyst role for a JWT naming it (GRANT role TO sdp_authenticator), after checking it holds no more than sdp_dp_analyst';

-- The reverse: REVOKE analyst FROM sdp_authenticator (a no-op when not enabled). Audited.
CREATE FUNCTION sdp.sdp_api_disable_analyst(analyst name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'api_disable_analyst', analyst);
  IF analyst IS NULL OR analyst OPERATOR(pg_catalog.=) ANY (ARRAY['sdp_anon', 'sdp_client']::name[])
     OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) analyst) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = pg_catalog.format('%s is not an analyst role', sdp._echo(analyst));
  END IF;
  IF sdp._api_analyst_enabled(analyst) THEN
    EXECUTE pg_catalog.format('REVOKE %I FROM sdp_authenticator', analyst);
  END IF;
  PERFORM sdp._audit('api.disable_analyst', analyst);
END
$$;
COMMENT ON FUNCTION sdp.sdp_api_disable_analyst(name) IS
  'admin: PostgREST may no longer switch to this analyst role (REVOKE role FROM sdp_authenticator)';
