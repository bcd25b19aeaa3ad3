-- Key rotation of stored tokens (issue 21; docs/key_rotation.md, "On the server").
--
-- The agent rotates its master key; deterministic tokens (HASH, FPE) made by the old key no
-- longer join with the ones the new key makes. The agent derives old -> new token pairs (from its
-- vault, or by FPE decrypt/encrypt) and uploads only the pairs; the server rewrites every stored
-- token of one (client, domain) with them, in bounded transactions:
--   sdp_rekey_begin   -> a rotation (idempotent per client, domain, from_version, to_version)
--   sdp_rekey_tokens  -> the tokens still stored under from_version (keyset pages)
--   sdp_rekey_pairs   -> old_token,new_token CSV (re-sent pairs are no-ops; conflicts PT409)
--   sdp_rekey_apply   -> rewrites at most max_rows rows per call, until done
--   sdp_rekey_finish  -> records the domain's key version; refused while anything is unmapped
-- plus sdp_token_versions (the pairs, for joins during a rotation) and sdp_rekey_status.
--
-- What the server knows about keys comes from the upload manifest (82_firewall.sql): each column
-- may carry its `domain`, `key_version` and `key_id`, stored per batch column in
-- sdp.batch_column_key. A batch without them is version 1 with an unknown key id, and a column
-- without a domain belongs to no rotation. HASH tokens also show their version in their shape
-- (v1: `h` + 24 base64url characters; v >= 2: `h`, the base62 digit of v, then 24); FPE
-- tokens cannot, so the batch column's key_version is the server's record of which key made them.
--
-- Rewriting, and why it is safe to stop anywhere: a rotation walks the batches of the client
-- that still hold the domain under from_version, one batch at a time in row_no order, with a
-- cursor (sdp.key_rotation_batch.cursor_row). Each apply call rewrites a slice and moves the
-- cursor in the same transaction, so a crash or pg_terminate_backend rolls back both and the next
-- call redoes the slice; a row before the cursor is never rewritten again (an FPE token's new
-- value may be another value's old token, so "has an old-looking token" is not a test of "not
-- yet rewritten"). When a batch's last row is passed its columns move to to_version
-- (batch_column_key), so a batch uploaded under the old key during the rotation is found by a
-- later call, and one uploaded under the new key is never touched. A row whose tokens are not
-- all paired is not rewritten: it is held (sdp.key_rotation_held) and retried when new pairs
-- arrive; finish refuses while any row is held. Each row is rewritten whole by one UPDATE, with
-- its integrity MAC (77_integrity.sql), together with its result and its record_version history
-- in the same statement: a reader sees all old or all new tokens for a row.
--
-- Every function locks the rotation row, so two apply calls at once run one after the other.
-- Tables are FORCE row-level security like the tenant tables (50_rls.sql): a client sees only
-- its own rows; the functions are SECURITY DEFINER and check the tenant themselves.

-- ---- tables ------------------------------------------------------------------------------------
-- The key that made each tokenized column of each batch (from the upload manifest). key_version
-- moves to the new version when a rotation has rewritten the batch.
CREATE TABLE sdp.batch_column_key (
  batch_id    uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  column_name text NOT NULL CHECK (pg_catalog.length(column_name) BETWEEN 1 AND 256),
  client_id   text NOT NULL,
  transform   text NOT NULL CHECK (transform IN ('HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1')),
  domain      text CHECK (domain ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  key_version integer NOT NULL DEFAULT 1 CHECK (key_version BETWEEN 1 AND 61),
  key_id      text CHECK (key_id ~ '^[0-9a-f]{8}$'),
  PRIMARY KEY (batch_id, column_name)
);
COMMENT ON TABLE sdp.batch_column_key IS
  'domain, key version and key id of each tokenized column of each batch (upload manifest)';
CREATE INDEX batch_column_key_domain ON sdp.batch_column_key (client_id, domain, key_version);
SELECT pg_catalog.pg_extension_config_dump('sdp.batch_column_key', '');

-- The current key version of a client's domain, recorded by sdp_rekey_finish.
CREATE TABLE sdp.domain_key_version (
  client_id   text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  domain      text NOT NULL CHECK (domain ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  key_version integer NOT NULL CHECK (key_version BETWEEN 1 AND 61),
  key_id      text CHECK (key_id ~ '^[0-9a-f]{8}$'),
  rotated_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (client_id, domain)
);
COMMENT ON TABLE sdp.domain_key_version IS 'current key version of each client''s token domain';
SELECT pg_catalog.pg_extension_config_dump('sdp.domain_key_version', '');

-- One rotation. state: mapping (begun), applying (apply has run), applied (nothing left to
-- rewrite), finished. kind: HASH (token shapes checked) or FPE.
CREATE TABLE sdp.key_rotation (
  rotation_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id       text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  domain          text NOT NULL CHECK (domain ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  kind            text NOT NULL CHECK (kind IN ('HASH', 'FPE')),
  from_version    integer NOT NULL CHECK (from_version BETWEEN 1 AND 60),
  to_version      integer NOT NULL CHECK (to_version BETWEEN 2 AND 61),
  to_key_id       text NOT NULL CHECK (to_key_id ~ '^[0-9a-f]{8}$'),
  state           text NOT NULL DEFAULT 'mapping'
                  CHECK (state IN ('mapping', 'applying', 'applied', 'finished')),
  pairs           bigint NOT NULL DEFAULT 0,
  rows_done       bigint NOT NULL DEFAULT 0,
  -- Held rows are retried in passes; a pass that started with this many pairs rewrote all it
  -- could, so another one is only worth it once more pairs arrived (NULL: retry).
  held_pass_pairs bigint,
  held_cursor_batch uuid,
  held_cursor_row bigint,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  finished_at     timestamptz,
  CHECK (from_version < to_version)
);
COMMENT ON TABLE sdp.key_rotation IS 'token key rotations of a client''s domain (sdp_rekey_*)';
CREATE UNIQUE INDEX key_rotation_one_open ON sdp.key_rotation (client_id, domain)
  WHERE state <> 'finished';
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation', '');

-- The old -> new pairs of a rotation (tokens only). A mapping is one-to-one both ways.
CREATE TABLE sdp.key_rotation_pair (
  rotation_id uuid NOT NULL REFERENCES sdp.key_rotation (rotation_id) ON DELETE CASCADE,
  old_token   text NOT NULL,
  new_token   text NOT NULL,
  PRIMARY KEY (rotation_id, old_token),
  UNIQUE (rotation_id, new_token)
);
COMMENT ON TABLE sdp.key_rotation_pair IS 'old -> new token pairs of a rotation (no values)';
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation_pair', '');

-- The batches a rotation walks: the columns it rewrites there and how far it got.
CREATE TABLE sdp.key_rotation_batch (
  rotation_id  uuid NOT NULL REFERENCES sdp.key_rotation (rotation_id) ON DELETE CASCADE,
  batch_id     uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  columns      text[] NOT NULL,
  cursor_row   bigint NOT NULL DEFAULT 0,
  completed_at timestamptz,
  PRIMARY KEY (rotation_id, batch_id)
);
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation_batch', '');

-- Rows passed by the cursor but not rewritten (a token without a pair, or a concurrent edit).
CREATE TABLE sdp.key_rotation_held (
  rotation_id uuid NOT NULL,
  batch_id    uuid NOT NULL,
  row_no      bigint NOT NULL,
  PRIMARY KEY (rotation_id, batch_id, row_no),
  FOREIGN KEY (rotation_id, batch_id) REFERENCES sdp.key_rotation_batch (rotation_id, batch_id)
    ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('sdp.key_rotation_held', '');

-- The tokens sdp_rekey_tokens pages through: taken when a listing starts (after IS NULL), so
-- every page is an index range scan instead of a pass over every stored row.
CREATE TABLE sdp.key_rotation_token (
  rotation_id uuid NOT NULL REFERENCES sdp.key_rotation (rotation_id) ON DELETE CASCADE,
  token       text COLLATE "C" NOT NULL,  -- byte order: the order the pages come in
  PRIMARY KEY (rotation_id, token)
);

ALTER TABLE sdp.batch_column_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.batch_column_key FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.domain_key_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.domain_key_version FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_pair ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_pair FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_batch FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_held ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_held FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_token ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.key_rotation_token FORCE ROW LEVEL SECURITY;

-- A client sees its own rows; a trusted caller every row (the same condition as 50_rls.sql).
CREATE POLICY batch_column_key_tenant ON sdp.batch_column_key
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY domain_key_version_tenant ON sdp.domain_key_version
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY key_rotation_tenant ON sdp.key_rotation
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
-- The rows of a rotation follow it (the sub-select is itself filtered by key_rotation_tenant).
CREATE POLICY key_rotation_pair_tenant ON sdp.key_rotation_pair
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_pair.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_pair.rotation_id));
CREATE POLICY key_rotation_batch_tenant ON sdp.key_rotation_batch
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_batch.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_batch.rotation_id));
CREATE POLICY key_rotation_held_tenant ON sdp.key_rotation_held
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_held.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_held.rotation_id));
CREATE POLICY key_rotation_token_tenant ON sdp.key_rotation_token
  USING (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_token.rotation_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.key_rotation r WHERE r.rotation_id = key_rotation_token.rotation_id));

-- ---- helpers -----------------------------------------------------------------------------------
-- The regex a HASH token of key version v matches: v1 `h` + 24 base64url characters (the tokens
-- of before key versions), v >= 2 with the base62 digit of v after the `h`.
CREATE FUNCTION sdp._rekey_hash_shape(v integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT '^h' OPERATOR(pg_catalog.||)
         CASE WHEN v OPERATOR(pg_catalog.<=) 1 THEN ''
              ELSE pg_catalog.substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                                     v OPERATOR(pg_catalog.+) 1, 1) END
         OPERATOR(pg_catalog.||) '[A-Za-z0-9_-]{24}$'
$$;

-- The rotation a caller may act on, optionally locked; PT404 for an unknown one or another
-- client's (the same answer, so existence never leaks). A trusted caller needs `capability`.
-- A lock that meets a concurrent change under REPEATABLE READ is PT409, never 40001.
CREATE FUNCTION sdp._rekey_rotation(p_rotation_id uuid, p_lock boolean, p_capability text,
                                    p_action text) RETURNS sdp.key_rotation
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caller text := sdp.sdp_current_client();
  r sdp.key_rotation;
BEGIN
  IF v_caller IS NULL THEN
    PERFORM sdp._require_capability(p_capability, p_action, p_rotation_id::text);
  END IF;
  IF p_rotation_id IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'rotation_id is required';
  END IF;
  BEGIN
    IF p_lock THEN
      SELECT * INTO r FROM sdp.key_rotation k
       WHERE k.rotation_id OPERATOR(pg_catalog.=) p_rotation_id FOR UPDATE;
    ELSE
      SELECT * INTO r FROM sdp.key_rotation k WHERE k.rotation_id OPERATOR(pg_catalog.=) p_rotation_id;
    END IF;
  EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
    PERFORM sdp._raise_conflict(format('rotation %s was changed by a concurrent request', p_rotation_id),
                                hint => 'retry the request');
  END;
  IF r.rotation_id IS NULL OR (v_caller IS NOT NULL AND r.client_id OPERATOR(pg_catalog.<>) v_caller) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('rotation %s not found', p_rotation_id);
  END IF;
  RETURN r;
END
$$;

-- The client a client-named call acts for: the caller's own (PT403 for another), or any existing
-- one for a trusted caller holding `capability`.
CREATE FUNCTION sdp._rekey_client(p_client_id text, p_capability text, p_action text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp.sdp_current_client() IS NULL THEN
    PERFORM sdp._require_capability(p_capability, p_action, p_client_id);
  END IF;
  PERFORM sdp._check_client(p_client_id);
  RETURN p_client_id;
END
$$;

CREATE FUNCTION sdp._rekey_check_domain(p_domain text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_domain IS NULL OR p_domain !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('domain "%s" is not a token domain (1 to 128 of A-Z a-z 0-9 _ . : -)',
                       sdp._echo(coalesce(p_domain, ''))),
      HINT = 'the domain of the tokenization rule, e.g. customer_id';
  END IF;
END
$$;

-- The batches of a rotation's client still holding its domain under from_version, with the
-- columns to rewrite (key_version = from_version) and the batch's column list.
CREATE FUNCTION sdp._rekey_pending(r sdp.key_rotation)
RETURNS TABLE(batch_id uuid, status sdp.batch_state, columns text[], all_columns text[],
              key_column text, accepted_records bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.batch_id, b.status, pg_catalog.array_agg(k.column_name ORDER BY k.column_name),
         b.columns, b.key_column, b.accepted_records
    FROM sdp.batch_column_key k
    JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) k.batch_id
   WHERE k.client_id OPERATOR(pg_catalog.=) r.client_id
     AND k.domain OPERATOR(pg_catalog.=) r.domain
     AND k.key_version OPERATOR(pg_catalog.=) r.from_version
     AND b.client_id OPERATOR(pg_catalog.=) r.client_id
   GROUP BY b.batch_id
$$;

-- The json every rotation call answers with.
CREATE FUNCTION sdp._rekey_json(r sdp.key_rotation, p_rows_total bigint) RETURNS json
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.json_build_object(
           'rotation_id', r.rotation_id, 'state', r.state, 'pairs', r.pairs,
           'rows_done', r.rows_done, 'rows_total', p_rows_total, 'client_id', r.client_id,
           'domain', r.domain, 'from_version', r.from_version, 'to_version', r.to_version,
           'to_key_id', r.to_key_id)
$$;

-- Rows of the rotation not rewritten yet: the rows after the cursor of every pending batch, and
-- the held rows. (Row numbers are 1..accepted_records without gaps: 77_integrity.sql.)
CREATE FUNCTION sdp._rekey_rows_left(r sdp.key_rotation) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce((SELECT pg_catalog.sum(GREATEST(p.accepted_records OPERATOR(pg_catalog.-)
                                                   coalesce(kb.cursor_row, 0), 0))
                     FROM sdp._rekey_pending(r) p
                     LEFT JOIN sdp.key_rotation_batch kb
                       ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                      AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id), 0)::bigint
         OPERATOR(pg_catalog.+)
         (SELECT pg_catalog.count(*) FROM sdp.key_rotation_held h
           WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id)
$$;

-- Distinct stored tokens of the rotation without a pair, in the held rows (the rows the cursor
-- passed without rewriting them).
CREATE FUNCTION sdp._rekey_unmapped(r sdp.key_rotation) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.count(DISTINCT tok.t)
    FROM sdp.key_rotation_held h
    JOIN sdp.key_rotation_batch kb
      ON kb.rotation_id OPERATOR(pg_catalog.=) h.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) h.batch_id
    JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) h.batch_id
    JOIN sdp.tokenized_record t
      ON t.batch_id OPERATOR(pg_catalog.=) h.batch_id AND t.row_no OPERATOR(pg_catalog.=) h.row_no
   CROSS JOIN LATERAL pg_catalog.unnest(kb.columns) AS c(name)
   CROSS JOIN LATERAL (SELECT t.fields[pg_catalog.array_position(b.columns, c.name)]) AS tok(t)
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
     AND tok.t IS NOT NULL AND tok.t OPERATOR(pg_catalog.<>) ''
     AND NOT EXISTS (SELECT 1 FROM sdp.key_rotation_pair p
                      WHERE p.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                        AND p.old_token OPERATOR(pg_catalog.=) tok.t)
$$;

-- The new value of one column cell in the rewrite statement: '' and NULL stay as they are, any
-- other value takes its pair's new token (column n<pair> of the source, NULL when there is none:
-- the row is held); history versions keep an unpaired value.
CREATE FUNCTION sdp._rekey_cell_sql(p_alias text, p_pos integer, p_pair integer, p_keep_unmapped boolean)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.format(
    CASE WHEN p_keep_unmapped
         THEN 'coalesce(%1$s.n%3$s, %1$s.fields[%2$s])'
         ELSE 'CASE WHEN %1$s.fields[%2$s] IS NULL OR %1$s.fields[%2$s] OPERATOR(pg_catalog.=) '''' THEN %1$s.fields[%2$s] ELSE %1$s.n%3$s END' END,
    p_alias, p_pos, p_pair)
$$;

-- The pair lookups of a source row (alias p_alias): one scalar sub-select per rewritten column,
-- `, (SELECT new_token ...) AS n1, ...`. A correlated sub-select is always an index probe of the
-- pair's primary key, never a hash of every pair of the rotation (which an unanalysed table's
-- estimates would pick for a join).
CREATE FUNCTION sdp._rekey_lookups_sql(p_alias text, p_pos integer[]) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(pg_catalog.string_agg(pg_catalog.format(
           ', (SELECT q.new_token FROM sdp.key_rotation_pair q WHERE q.rotation_id OPERATOR(pg_catalog.=) $1'
           ' AND q.old_token OPERATOR(pg_catalog.=) %1$s.fields[%2$s]) AS n%3$s', p_alias, u.pos, u.j), '' ORDER BY u.j), '')
    FROM pg_catalog.unnest(p_pos) WITH ORDINALITY AS u(pos, j)
$$;

-- Rewrites the next slice of one batch: rows after p_after (or, with p_held, the held rows after
-- p_after), at most p_limit. One statement: the record row whole (fields and record_key, with a
-- fresh MAC), its result's record_key when the key column is rewritten (fresh MAC; a result
-- scored before an edit of the key has its own token, listed by sdp_rekey_tokens, and the row is
-- held until that token has a pair too), its history versions, and the held list.
-- The SQL is built from the batch's column positions (integers) and fixed text only: the
-- rotation, batch, cursor and key are parameters. Returns the rows looked at, the rows
-- rewritten and the last row_no looked at.
CREATE FUNCTION sdp._rekey_slice(r sdp.key_rotation, kb sdp.key_rotation_batch, p_held boolean,
                                 p_after bigint, p_limit integer,
                                 OUT seen bigint, OUT rewritten bigint, OUT last_row bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- A slice is a few thousand rows of a table of millions, read by primary key in row order.
-- Rows loaded moments ago have no statistics yet (autovacuum has not run), and the planner then
-- reads the rest of the batch with a bitmap scan and sorts it, for every slice (measured: the
-- sort alone spilled 12 MB to disk per slice of a 100k-row batch).
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
DECLARE
  b sdp.processing_batch;
  v_pos integer[] := '{}';
  v_n integer;
  v_key_pair integer;
  v_fields text := '';
  v_hfields text := '';
  v_mapped text;
  v_key text := 'r.record_key';
  v_hkey text := 'v.record_key';
  v_source text;
  v_lookups text;
  v_sql text;
  i integer;
  j integer;
BEGIN
  SELECT * INTO b FROM sdp.processing_batch x WHERE x.batch_id OPERATOR(pg_catalog.=) kb.batch_id;
  v_n := coalesce(pg_catalog.cardinality(b.columns), 0);
  FOR j IN 1 .. pg_catalog.cardinality(kb.columns) LOOP
    v_pos := v_pos OPERATOR(pg_catalog.||) pg_catalog.array_position(b.columns, kb.columns[j]);
    IF kb.columns[j] OPERATOR(pg_catalog.=) b.key_column THEN
      v_key_pair := j;
    END IF;
  END LOOP;
  IF v_n OPERATOR(pg_catalog.=) 0 OR pg_catalog.array_position(v_pos, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('batch %s does not have the columns its manifest named', kb.batch_id);
  END IF;
  v_lookups := sdp._rekey_lookups_sql('t', v_pos);
  -- A row is rewritten when it has every column and every non-empty token has a pair.
  v_mapped := format('pg_catalog.cardinality(r.fields) OPERATOR(pg_catalog.=) %s', v_n);
  FOR j IN 1 .. pg_catalog.cardinality(v_pos) LOOP
    v_mapped := v_mapped OPERATOR(pg_catalog.||) format(
      ' AND (r.fields[%1$s] IS NULL OR r.fields[%1$s] OPERATOR(pg_catalog.=) '''' OR r.n%2$s IS NOT NULL)',
      v_pos[j], j);
  END LOOP;
  FOR i IN 1 .. v_n LOOP
    j := pg_catalog.array_position(v_pos, i);
    v_fields := v_fields OPERATOR(pg_catalog.||) CASE WHEN i OPERATOR(pg_catalog.>) 1 THEN ', ' ELSE '' END
      OPERATOR(pg_catalog.||) CASE WHEN j IS NULL THEN format('r.fields[%s]', i)
                                   ELSE sdp._rekey_cell_sql('r', i, j, false) END;
    v_hfields := v_hfields OPERATOR(pg_catalog.||) CASE WHEN i OPERATOR(pg_catalog.>) 1 THEN ', ' ELSE '' END
      OPERATOR(pg_catalog.||) CASE WHEN j IS NULL THEN format('v.fields[%s]', i)
                                   ELSE sdp._rekey_cell_sql('v', i, j, true) END;
  END LOOP;
  IF v_key_pair IS NOT NULL THEN
    -- record_key is the key column's value; a row where they differ is held, not guessed at.
    v_key := format('CASE WHEN r.record_key IS NOT DISTINCT FROM r.fields[%s] THEN %s END',
                    v_pos[v_key_pair], sdp._rekey_cell_sql('r', v_pos[v_key_pair], v_key_pair, false));
    v_mapped := v_mapped OPERATOR(pg_catalog.||) ' AND ' OPERATOR(pg_catalog.||) v_key OPERATOR(pg_catalog.||) ' IS NOT NULL';
    v_hkey := 'coalesce((SELECT q.new_token FROM sdp.key_rotation_pair q'
              ' WHERE q.rotation_id OPERATOR(pg_catalog.=) $1 AND q.old_token OPERATOR(pg_catalog.=) v.record_key), v.record_key)';
  END IF;
  -- The row's result (scored before or after an edit of the key) has its own pair: nrk, its new
  -- key; a row whose result key has no pair is held with it.
  IF v_key_pair IS NOT NULL THEN
    v_lookups := v_lookups OPERATOR(pg_catalog.||)
      ', (SELECT x.record_key FROM sdp.processed_result x WHERE x.batch_id OPERATOR(pg_catalog.=) t.batch_id'
      ' AND x.row_no OPERATOR(pg_catalog.=) t.row_no) AS rk'
      ', (SELECT q.new_token FROM sdp.processed_result x JOIN sdp.key_rotation_pair q'
      ' ON q.rotation_id OPERATOR(pg_catalog.=) $1 AND q.old_token OPERATOR(pg_catalog.=) x.record_key'
      ' WHERE x.batch_id OPERATOR(pg_catalog.=) t.batch_id AND x.row_no OPERATOR(pg_catalog.=) t.row_no) AS nrk';
    v_mapped := v_mapped OPERATOR(pg_catalog.||)
      ' AND (r.rk IS NULL OR r.rk OPERATOR(pg_catalog.=) '''' OR r.nrk IS NOT NULL)';
  ELSE
    v_lookups := v_lookups OPERATOR(pg_catalog.||) ', NULL::text AS nrk';
  END IF;
  IF p_held THEN
    v_source := format('(SELECT t.ctid AS tid, t.* %s FROM sdp.key_rotation_held h JOIN sdp.tokenized_record t'
                ' ON t.batch_id OPERATOR(pg_catalog.=) h.batch_id AND t.row_no OPERATOR(pg_catalog.=) h.row_no'
                ' WHERE h.rotation_id OPERATOR(pg_catalog.=) $1 AND h.batch_id OPERATOR(pg_catalog.=) $2'
                ' AND h.row_no OPERATOR(pg_catalog.>) $3 ORDER BY h.row_no LIMIT $4)', v_lookups);
  ELSE
    v_source := format('(SELECT t.ctid AS tid, t.* %s FROM sdp.tokenized_record t WHERE t.batch_id OPERATOR(pg_catalog.=) $2'
                ' AND t.row_no OPERATOR(pg_catalog.>) $3 ORDER BY t.row_no LIMIT $4)', v_lookups);
  END IF;
  -- held: the rows looked at and not rewritten (no pair, or changed by a concurrent edit since
  -- this statement's snapshot: the UPDATE's re-check of the old values, and of the row version
  -- by its ctid, skips them). The UPDATE finds each row by its ctid (a TID scan, no index
  -- descent per row).
  v_sql := format($f$
    WITH s AS MATERIALIZED (
      SELECT r.tid, r.batch_id, r.row_no, r.fields AS old_fields, r.record_key AS old_key,
             ARRAY[%1$s]::text[] AS nf, %2$s AS nk, %3$s AS mapped, r.nrk
        FROM %4$s r),
    u AS (
      UPDATE sdp.tokenized_record t
         SET fields = s.nf, record_key = s.nk,
             integrity_hmac = sdp._record_mac($5, t.batch_id, t.row_no, t.client_id, s.nk, s.nf)
        FROM s
       WHERE s.mapped AND t.ctid OPERATOR(pg_catalog.=) s.tid
         AND t.fields OPERATOR(pg_catalog.=) s.old_fields AND t.record_key OPERATOR(pg_catalog.=) s.old_key
      RETURNING t.row_no, s.old_key, s.nk, s.nrk),
    ur AS (
      UPDATE sdp.processed_result x
         SET record_key = u.nrk,
             integrity_hmac = sdp._result_mac($5, x.batch_id, x.row_no, x.client_id, u.nrk, x.score,
                                              x.risk_band, x.model_version, x.defaulted_features)
        FROM u
       WHERE $7 AND u.nrk IS NOT NULL
         AND x.batch_id OPERATOR(pg_catalog.=) $2 AND x.row_no OPERATOR(pg_catalog.=) u.row_no
      RETURNING 1),
    uv AS (
      UPDATE sdp.record_version w
         SET fields = n.nf, record_key = n.nk
        FROM (SELECT v.version_id, ARRAY[%5$s]::text[] AS nf, %6$s AS nk
                FROM (SELECT v0.* %7$s FROM sdp.record_version v0
                       WHERE v0.batch_id OPERATOR(pg_catalog.=) $2
                         AND v0.row_no OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT u.row_no FROM u))
                      OFFSET 0) v) n
       WHERE w.version_id OPERATOR(pg_catalog.=) n.version_id
      RETURNING 1),
    hin AS (
      INSERT INTO sdp.key_rotation_held (rotation_id, batch_id, row_no)
      SELECT $1, $2, s.row_no FROM s
       WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.row_no OPERATOR(pg_catalog.=) s.row_no)
      ON CONFLICT DO NOTHING
      RETURNING 1),
    hout AS (
      DELETE FROM sdp.key_rotation_held h
       WHERE $6 AND h.rotation_id OPERATOR(pg_catalog.=) $1 AND h.batch_id OPERATOR(pg_catalog.=) $2
         AND h.row_no OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT u.row_no FROM u))
      RETURNING 1)
    SELECT (SELECT pg_catalog.count(*) FROM s), (SELECT pg_catalog.count(*) FROM u),
           (SELECT pg_catalog.max(s.row_no) FROM s)
    $f$, v_fields, v_key, v_mapped, v_source, v_hfields, v_hkey, sdp._rekey_lookups_sql('v0', v_pos));
  EXECUTE v_sql INTO seen, rewritten, last_row
    USING r.rotation_id, kb.batch_id, p_after, p_limit, sdp._integrity_key(), p_held,
          v_key_pair IS NOT NULL;
END
$$;

-- ---- the API -----------------------------------------------------------------------------------
CREATE FUNCTION sdp.sdp_rekey_begin(client_id text, domain text, from_version integer,
                                    to_version integer, to_key_id text) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text;
  v_domain text := sdp_rekey_begin.domain;
  v_from integer := sdp_rekey_begin.from_version;
  v_to integer := sdp_rekey_begin.to_version;
  v_key_id text := sdp_rekey_begin.to_key_id;
  r sdp.key_rotation;
  v_transforms text[];
  v_kind text;
BEGIN
  v_client := sdp._rekey_client(sdp_rekey_begin.client_id, 'engineer', 'rekey_begin');
  PERFORM sdp._rekey_check_domain(v_domain);
  IF v_from IS NULL OR v_to IS NULL OR v_from < 1 OR v_to > 61 OR v_from >= v_to THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('from_version %s, to_version %s: a rotation goes from a key version >= 1 to a later one (at most 61)',
                       coalesce(v_from::text, 'NULL'), coalesce(v_to::text, 'NULL'));
  END IF;
  IF v_key_id IS NULL OR v_key_id !~ '^[0-9a-f]{8}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('to_key_id "%s" is not a key id (8 lowercase hex digits)', sdp._echo(coalesce(v_key_id, '')));
  END IF;
  BEGIN
    -- One open rotation per (client, domain): the same request again gets it back.
    SELECT * INTO r FROM sdp.key_rotation k
     WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
       AND k.state OPERATOR(pg_catalog.<>) 'finished' FOR UPDATE;
  EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
    PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
  END;
  IF r.rotation_id IS NOT NULL THEN
    IF r.from_version OPERATOR(pg_catalog.<>) v_from OR r.to_version OPERATOR(pg_catalog.<>) v_to
       OR r.to_key_id OPERATOR(pg_catalog.<>) v_key_id THEN
      PERFORM sdp._raise_conflict(
        format('domain "%s" of client "%s" is already being rotated from key version %s to %s',
               v_domain, v_client, r.from_version, r.to_version),
        hint => format('finish rotation %s first', r.rotation_id));
    END IF;
    RETURN sdp._rekey_json(r, r.rows_done OPERATOR(pg_catalog.+) sdp._rekey_rows_left(r));
  END IF;
  SELECT pg_catalog.array_agg(DISTINCT k.transform ORDER BY k.transform) INTO v_transforms
    FROM sdp.batch_column_key k
   WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain;
  IF 'RANDOM' OPERATOR(pg_catalog.=) ANY (v_transforms) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('domain "%s" has RANDOM tokens, which are not deterministic: they cannot be rotated by pairs',
                       v_domain),
      HINT = 'RANDOM tokens do not join; keep them or re-upload the data under the new key';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sdp.batch_column_key k
                  WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
                    AND k.key_version OPERATOR(pg_catalog.=) v_from) THEN
    -- Already rotated by a finished rotation with the same versions: a re-run gets that one back.
    SELECT * INTO r FROM sdp.key_rotation k
     WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
       AND k.from_version OPERATOR(pg_catalog.=) v_from AND k.to_version OPERATOR(pg_catalog.=) v_to
       AND k.to_key_id OPERATOR(pg_catalog.=) v_key_id
     ORDER BY k.finished_at DESC LIMIT 1;
    IF r.rotation_id IS NOT NULL THEN
      RETURN sdp._rekey_json(r, r.rows_done);
    END IF;
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('client "%s" has no data in domain "%s" under key version %s', v_client, v_domain, v_from),
      HINT = 'the domain comes from the upload manifest of each batch (82_firewall.sql)';
  END IF;
  v_kind := CASE WHEN v_transforms OPERATOR(pg_catalog.<@) ARRAY['HASH'] THEN 'HASH'
                 WHEN v_transforms OPERATOR(pg_catalog.<@) ARRAY['FF1', 'FF3-1', 'FPE'] THEN 'FPE' END;
  IF v_kind IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('domain "%s" mixes transforms (%s); the columns of a domain tokenize the same way',
                       v_domain, pg_catalog.array_to_string(v_transforms, ', '));
  END IF;
  BEGIN
    INSERT INTO sdp.key_rotation (client_id, domain, kind, from_version, to_version, to_key_id, created_by)
    VALUES (v_client, v_domain, v_kind, v_from, v_to, v_key_id, sdp.sdp_caller_role())
    RETURNING * INTO r;
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict(format('domain "%s" of client "%s" is being rotated by a concurrent request',
                                       v_domain, v_client), hint => 'retry the request');
  END;
  PERFORM sdp._audit('rekey.begin', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', v_client, 'domain', v_domain, 'kind', v_kind,
                                  'from_version', v_from, 'to_version', v_to, 'to_key_id', v_key_id));
  RETURN sdp._rekey_json(r, sdp._rekey_rows_left(r));
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_begin(text, text, integer, integer, text) IS
  'starts (or returns the open) key rotation of a client''s token domain: {rotation_id, state, pairs, rows_done, rows_total}';

CREATE FUNCTION sdp.sdp_rekey_tokens(rotation_id uuid, after text DEFAULT NULL,
                                     max_tokens integer DEFAULT 10000) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
BEGIN
  IF sdp_rekey_tokens.max_tokens IS NULL OR sdp_rekey_tokens.max_tokens < 1
     OR sdp_rekey_tokens.max_tokens > 100000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_tokens is 1 to 100000';
  END IF;
  r := sdp._rekey_rotation(sdp_rekey_tokens.rotation_id, true, 'engineer', 'rekey_tokens');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    RETURN;
  END IF;
  IF sdp_rekey_tokens.after IS NULL THEN
    -- A listing starts: take the tokens still stored under from_version (rows after the cursor
    -- of every pending batch, held rows, their results and history).
    DELETE FROM sdp.key_rotation_token k WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
    INSERT INTO sdp.key_rotation_token (rotation_id, token)
    SELECT DISTINCT r.rotation_id, tok FROM (
      SELECT t.fields[pg_catalog.array_position(p.all_columns, c.name)] AS tok
        FROM sdp._rekey_pending(r) p
        LEFT JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id
        CROSS JOIN LATERAL pg_catalog.unnest(p.columns) AS c(name)
        JOIN sdp.tokenized_record t ON t.batch_id OPERATOR(pg_catalog.=) p.batch_id
                                   AND t.row_no OPERATOR(pg_catalog.>) coalesce(kb.cursor_row, 0)
      UNION ALL
      SELECT x.record_key
        FROM sdp._rekey_pending(r) p
        LEFT JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id
        JOIN sdp.processed_result x ON x.batch_id OPERATOR(pg_catalog.=) p.batch_id
                                   AND x.row_no OPERATOR(pg_catalog.>) coalesce(kb.cursor_row, 0)
       WHERE p.key_column OPERATOR(pg_catalog.=) ANY (p.columns)
      UNION ALL
      SELECT v.fields[pg_catalog.array_position(p.all_columns, c.name)]
        FROM sdp._rekey_pending(r) p
        LEFT JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) p.batch_id
        CROSS JOIN LATERAL pg_catalog.unnest(p.columns) AS c(name)
        JOIN sdp.record_version v ON v.batch_id OPERATOR(pg_catalog.=) p.batch_id
                                 AND v.row_no OPERATOR(pg_catalog.>) coalesce(kb.cursor_row, 0)
      UNION ALL
      SELECT t.fields[pg_catalog.array_position(b.columns, c.name)]
        FROM sdp.key_rotation_held h
        JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) h.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) h.batch_id
        JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) h.batch_id
        CROSS JOIN LATERAL pg_catalog.unnest(kb.columns) AS c(name)
        JOIN sdp.tokenized_record t ON t.batch_id OPERATOR(pg_catalog.=) h.batch_id
                                   AND t.row_no OPERATOR(pg_catalog.=) h.row_no
       WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
      UNION ALL
      SELECT x.record_key
        FROM sdp.key_rotation_held h
        JOIN sdp.key_rotation_batch kb
          ON kb.rotation_id OPERATOR(pg_catalog.=) h.rotation_id AND kb.batch_id OPERATOR(pg_catalog.=) h.batch_id
        JOIN sdp.processing_batch b ON b.batch_id OPERATOR(pg_catalog.=) h.batch_id
        JOIN sdp.processed_result x ON x.batch_id OPERATOR(pg_catalog.=) h.batch_id
                                   AND x.row_no OPERATOR(pg_catalog.=) h.row_no
       WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
         AND b.key_column OPERATOR(pg_catalog.=) ANY (kb.columns)) s
     WHERE tok IS NOT NULL AND tok OPERATOR(pg_catalog.<>) '';
  END IF;
  RETURN QUERY SELECT k.token FROM sdp.key_rotation_token k
                WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                  AND (sdp_rekey_tokens.after IS NULL
                       OR k.token OPERATOR(pg_catalog.>) sdp_rekey_tokens.after COLLATE "C")
                ORDER BY k.token COLLATE "C" LIMIT sdp_rekey_tokens.max_tokens;
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_tokens(uuid, text, integer) IS
  'the distinct tokens of a rotation''s domain still stored under the old key, in byte order after `after`';

CREATE FUNCTION sdp.sdp_rekey_pairs(rotation_id uuid, pairs text) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
  v_lines text[];
  v_old text[];
  v_new text[];
  v_bad integer;
  v_accepted bigint;
  v_old_shape text;
  v_new_shape text;
  v_conflict record;
BEGIN
  r := sdp._rekey_rotation(sdp_rekey_pairs.rotation_id, true, 'engineer', 'rekey_pairs');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    PERFORM sdp._raise_conflict(format('rotation %s is finished', r.rotation_id));
  END IF;
  IF pairs IS NULL OR pairs OPERATOR(pg_catalog.=) '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'pairs is empty: send CSV with the header old_token,new_token';
  END IF;
  v_lines := pg_catalog.regexp_split_to_array(pg_catalog.rtrim(pairs, E'\r\n'), E'\r?\n');
  IF v_lines[1] OPERATOR(pg_catalog.<>) 'old_token,new_token' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'pairs: the first line must be the header old_token,new_token';
  END IF;
  IF pg_catalog.cardinality(v_lines) > 50001 THEN
    RAISE EXCEPTION USING ERRCODE = 'PT413',
      MESSAGE = format('pairs: %s rows; at most 50000 per call', pg_catalog.cardinality(v_lines) - 1);
  END IF;
  -- RFC 4180: a field is bare (no comma, quote or line break) or quoted with "" for a quote.
  -- Tokens never hold a line break, so one line is one record. Without any quote (base64url
  -- tokens never need one) a line is split at its comma, three times faster than the regex.
  IF pg_catalog.strpos(pairs, '"') OPERATOR(pg_catalog.=) 0 THEN
    SELECT pg_catalog.array_agg(pg_catalog.split_part(l.line, ',', 1) ORDER BY l.n),
           pg_catalog.array_agg(pg_catalog.split_part(l.line, ',', 2) ORDER BY l.n),
           pg_catalog.min(l.n) FILTER (WHERE pg_catalog.split_part(l.line, ',', 1) OPERATOR(pg_catalog.=) ''
                                          OR pg_catalog.split_part(l.line, ',', 2) OPERATOR(pg_catalog.=) ''
                                          OR pg_catalog.length(l.line) OPERATOR(pg_catalog.-)
                                             pg_catalog.length(pg_catalog.replace(l.line, ',', ''))
                                             OPERATOR(pg_catalog.<>) 1)
      INTO v_old, v_new, v_bad
      FROM pg_catalog.unnest(v_lines[2:]) WITH ORDINALITY AS l(line, n);
  ELSE
  SELECT pg_catalog.array_agg(CASE WHEN m[1] LIKE '"%' THEN pg_catalog.replace(pg_catalog.substr(m[1], 2, pg_catalog.length(m[1]) - 2), '""', '"') ELSE m[1] END ORDER BY l.n),
         pg_catalog.array_agg(CASE WHEN m[2] LIKE '"%' THEN pg_catalog.replace(pg_catalog.substr(m[2], 2, pg_catalog.length(m[2]) - 2), '""', '"') ELSE m[2] END ORDER BY l.n),
         pg_catalog.min(l.n) FILTER (WHERE m IS NULL OR m[1] IN ('', '""') OR m[2] IN ('', '""'))
    INTO v_old, v_new, v_bad
    FROM pg_catalog.unnest(v_lines[2:]) WITH ORDINALITY AS l(line, n)
    LEFT JOIN LATERAL (SELECT pg_catalog.regexp_match(l.line,
                '^("(?:[^"]|"")*"|[^,"]*),("(?:[^"]|"")*"|[^,"]*)$')) AS x(m) ON true;
  END IF;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('pairs: line %s is not two non-empty CSV fields old_token,new_token', v_bad + 1);
  END IF;
  IF v_old IS NULL THEN
    RETURN pg_catalog.json_build_object('accepted', 0, 'pairs', r.pairs);
  END IF;
  -- Tokens only: HASH tokens must have the shape of their key version (a value is refused);
  -- FPE tokens have no shape beyond a sane length.
  IF r.kind OPERATOR(pg_catalog.=) 'HASH' THEN
    v_old_shape := sdp._rekey_hash_shape(r.from_version);
    v_new_shape := sdp._rekey_hash_shape(r.to_version);
  ELSE
    v_old_shape := '^[^\x01-\x1f\x7f]+$';  -- and at most 1024 characters, below
    v_new_shape := v_old_shape;
  END IF;
  SELECT pg_catalog.min(u.n) INTO v_bad FROM ROWS FROM (pg_catalog.unnest(v_old), pg_catalog.unnest(v_new)) WITH ORDINALITY AS u(o, w, n)
   WHERE u.o !~ v_old_shape OR u.w !~ v_new_shape
      OR pg_catalog.length(u.o) > 1024 OR pg_catalog.length(u.w) > 1024;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('pairs: line %s is not an old token of key version %s and a new token of key version %s',
                       v_bad + 1, r.from_version, r.to_version),
      HINT = CASE WHEN r.kind OPERATOR(pg_catalog.=) 'HASH'
                  THEN 'a HASH token of version v >= 2 has the base62 digit of v after the h' ELSE 'tokens only, never values' END;
  END IF;
  -- Stored in old-token order (the primary key's order: fewer index pages touched). A pair
  -- already stored is a no-op; a second new token for a new token's old one is refused by the
  -- unique index on (rotation_id, new_token) (two old tokens, one new: PT409 below).
  BEGIN
    INSERT INTO sdp.key_rotation_pair (rotation_id, old_token, new_token)
    SELECT r.rotation_id, u.o, u.w
      FROM ROWS FROM (pg_catalog.unnest(v_old), pg_catalog.unnest(v_new)) WITH ORDINALITY AS u(o, w, n)
     ORDER BY u.o COLLATE "C", u.n
    ON CONFLICT (rotation_id, old_token) DO NOTHING;
    GET DIAGNOSTICS v_accepted = ROW_COUNT;
  EXCEPTION WHEN unique_violation THEN
    PERFORM sdp._raise_conflict('pairs: a new token is already the pair of another old token',
      hint => 'a mapping is one-to-one: each old token has its own new token');
  END;
  -- Lines not stored were there already (or twice in this call): each must be the very pair
  -- stored, else an old token would have two new ones.
  IF v_accepted OPERATOR(pg_catalog.<) pg_catalog.cardinality(v_old) THEN
    SELECT pg_catalog.min(u.n) AS n INTO v_conflict
      FROM ROWS FROM (pg_catalog.unnest(v_old), pg_catalog.unnest(v_new)) WITH ORDINALITY AS u(o, w, n)
     WHERE NOT EXISTS (SELECT 1 FROM sdp.key_rotation_pair p
                        WHERE p.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                          AND p.old_token OPERATOR(pg_catalog.=) u.o AND p.new_token OPERATOR(pg_catalog.=) u.w);
    IF v_conflict.n IS NOT NULL THEN
      PERFORM sdp._raise_conflict(
        format('pairs: line %s maps a token differently from a pair already given', v_conflict.n + 1),
        hint => 'a token has one new token: re-sending the same pair is fine, a different one is not');
    END IF;
  END IF;
  UPDATE sdp.key_rotation k SET pairs = k.pairs OPERATOR(pg_catalog.+) v_accepted,
                                updated_at = pg_catalog.clock_timestamp()
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  PERFORM sdp._audit('rekey.pairs', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', r.client_id, 'domain', r.domain,
                                  'received', pg_catalog.cardinality(v_old), 'accepted', v_accepted,
                                  'pairs', r.pairs));
  RETURN pg_catalog.json_build_object('accepted', v_accepted, 'pairs', r.pairs);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_pairs(uuid, text) IS
  'adds old_token,new_token CSV pairs (<= 50000) to a rotation: {accepted, pairs}; conflicting pairs PT409';

CREATE FUNCTION sdp.sdp_rekey_apply(rotation_id uuid, max_rows integer DEFAULT 20000) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
  kb sdp.key_rotation_batch;
  p record;
  v_budget integer := sdp_rekey_apply.max_rows;
  v_seen bigint := 0;
  v_rewritten bigint := 0;
  v_batches integer := 0;
  v_uploading bigint := 0;
  v_held bigint;
  v_done boolean;
  v_new_held boolean := false;
  v_unmapped bigint;
  s record;
BEGIN
  IF v_budget IS NULL OR v_budget < 1 OR v_budget > 1000000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_rows is 1 to 1000000';
  END IF;
  -- The lock serialises concurrent calls for one rotation: the second one starts from the
  -- cursor the first one committed.
  r := sdp._rekey_rotation(sdp_rekey_apply.rotation_id, true, 'engineer', 'rekey_apply');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    RETURN pg_catalog.json_build_object('rows_done', r.rows_done, 'rows_total', r.rows_done,
                                        'unmapped', 0, 'done', true, 'state', r.state);
  END IF;
  -- Pending batches, one at a time (sealed ones: an upload still adding rows is left until it is
  -- sealed), each from its cursor.
  WHILE v_budget > 0 LOOP
    SELECT * INTO kb FROM sdp.key_rotation_batch k
     WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND k.completed_at IS NULL
     ORDER BY k.batch_id LIMIT 1;
    IF kb.batch_id IS NULL THEN
      SELECT x.batch_id, x.columns INTO p FROM sdp._rekey_pending(r) x
       WHERE x.status OPERATOR(pg_catalog.<>) 'UPLOADING'
         AND NOT EXISTS (SELECT 1 FROM sdp.key_rotation_batch k
                          WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                            AND k.batch_id OPERATOR(pg_catalog.=) x.batch_id)
       ORDER BY x.batch_id LIMIT 1;
      EXIT WHEN p.batch_id IS NULL;
      INSERT INTO sdp.key_rotation_batch (rotation_id, batch_id, columns)
      VALUES (r.rotation_id, p.batch_id, p.columns) RETURNING * INTO kb;
    END IF;
    s := sdp._rekey_slice(r, kb, false, kb.cursor_row, v_budget);
    v_seen := v_seen + s.seen;
    v_rewritten := v_rewritten + s.rewritten;
    v_batches := v_batches + 1;
    IF s.rewritten < s.seen THEN
      v_new_held := true;
    END IF;
    IF s.seen < v_budget THEN
      -- Fewer rows than asked for: the batch is done. Its columns now hold the new key.
      UPDATE sdp.key_rotation_batch k
         SET cursor_row = coalesce(s.last_row, k.cursor_row), completed_at = pg_catalog.clock_timestamp()
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND k.batch_id OPERATOR(pg_catalog.=) kb.batch_id;
      UPDATE sdp.batch_column_key c SET key_version = r.to_version, key_id = r.to_key_id
       WHERE c.batch_id OPERATOR(pg_catalog.=) kb.batch_id AND c.column_name OPERATOR(pg_catalog.=) ANY (kb.columns)
         AND c.key_version OPERATOR(pg_catalog.=) r.from_version;
    ELSE
      UPDATE sdp.key_rotation_batch k SET cursor_row = s.last_row
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id AND k.batch_id OPERATOR(pg_catalog.=) kb.batch_id;
    END IF;
    v_budget := v_budget - s.seen::integer;
    kb := NULL;
  END LOOP;
  IF v_new_held THEN
    -- Rows held now may be rewritable with the pairs already there (a concurrent edit): the next
    -- held pass must not be skipped.
    UPDATE sdp.key_rotation k SET held_pass_pairs = NULL WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
    r.held_pass_pairs := NULL;
  END IF;
  -- Held rows, once no pending batch is left: a pass over them is worth it when pairs arrived
  -- since the last complete pass (or a concurrent edit put a row there).
  SELECT pg_catalog.count(*) INTO v_held FROM sdp.key_rotation_held h
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  IF v_budget > 0 AND v_held > 0
     AND (r.held_cursor_batch IS NOT NULL OR r.held_pass_pairs IS DISTINCT FROM r.pairs) THEN
    IF r.held_cursor_batch IS NULL THEN
      UPDATE sdp.key_rotation k SET held_pass_pairs = NULL
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
      r.held_pass_pairs := r.pairs;  -- the pairs this pass starts with
    END IF;
    FOR kb IN SELECT k.* FROM sdp.key_rotation_batch k
               WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
                 AND (r.held_cursor_batch IS NULL OR k.batch_id OPERATOR(pg_catalog.>=) r.held_cursor_batch)
                 AND EXISTS (SELECT 1 FROM sdp.key_rotation_held h
                              WHERE h.rotation_id OPERATOR(pg_catalog.=) k.rotation_id
                                AND h.batch_id OPERATOR(pg_catalog.=) k.batch_id)
               ORDER BY k.batch_id LOOP
      EXIT WHEN v_budget <= 0;
      s := sdp._rekey_slice(r, kb, true,
                            CASE WHEN kb.batch_id OPERATOR(pg_catalog.=) r.held_cursor_batch
                                 THEN r.held_cursor_row ELSE 0 END, v_budget);
      v_seen := v_seen + s.seen;
      v_rewritten := v_rewritten + s.rewritten;
      v_budget := v_budget - s.seen::integer;
      r.held_cursor_batch := kb.batch_id;
      r.held_cursor_row := s.last_row;
      IF v_budget > 0 THEN
        r.held_cursor_row := NULL;  -- this batch's held rows are all seen
      END IF;
    END LOOP;
    IF v_budget > 0 THEN
      -- The pass is complete.
      UPDATE sdp.key_rotation k SET held_pass_pairs = r.held_pass_pairs, held_cursor_batch = NULL,
                                    held_cursor_row = NULL
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
      r.held_cursor_batch := NULL;
    ELSE
      UPDATE sdp.key_rotation k SET held_cursor_batch = r.held_cursor_batch,
                                    held_cursor_row = coalesce(r.held_cursor_row, 0),
                                    held_pass_pairs = r.held_pass_pairs
       WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
    END IF;
  END IF;
  SELECT pg_catalog.count(*) INTO v_uploading FROM sdp._rekey_pending(r) x
   WHERE x.status OPERATOR(pg_catalog.=) 'UPLOADING';
  UPDATE sdp.key_rotation k
     SET rows_done = k.rows_done OPERATOR(pg_catalog.+) v_rewritten, updated_at = pg_catalog.clock_timestamp()
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  SELECT pg_catalog.count(*) INTO v_held FROM sdp.key_rotation_held h
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  -- Done: no pending batch, and every held row waits for a pair (a complete pass with the
  -- current pairs could not rewrite it). The caller then finishes, or sends the missing pairs.
  v_done := NOT EXISTS (SELECT 1 FROM sdp._rekey_pending(r) x
                         WHERE x.status OPERATOR(pg_catalog.<>) 'UPLOADING')
            AND (v_held OPERATOR(pg_catalog.=) 0
                 OR (r.held_cursor_batch IS NULL AND r.held_pass_pairs OPERATOR(pg_catalog.=) r.pairs));
  v_unmapped := CASE WHEN v_held OPERATOR(pg_catalog.>) 0 THEN sdp._rekey_unmapped(r) ELSE 0 END;
  UPDATE sdp.key_rotation k
     SET state = CASE WHEN v_done AND v_held OPERATOR(pg_catalog.=) 0 AND v_uploading OPERATOR(pg_catalog.=) 0
                      THEN 'applied' ELSE 'applying' END
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  PERFORM sdp._audit('rekey.apply', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', r.client_id, 'domain', r.domain, 'rows', v_rewritten,
                                  'seen', v_seen, 'batches', v_batches, 'held', v_held,
                                  'unmapped', v_unmapped, 'rows_done', r.rows_done, 'done', v_done));
  RETURN pg_catalog.json_build_object('rows_done', r.rows_done,
                                      'rows_total', r.rows_done OPERATOR(pg_catalog.+) sdp._rekey_rows_left(r),
                                      'unmapped', v_unmapped, 'done', v_done, 'state', r.state,
                                      'held', v_held, 'uploading', v_uploading);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_apply(uuid, integer) IS
  'rewrites at most max_rows stored rows of a rotation with its pairs, in one transaction: {rows_done, rows_total, unmapped, done}';

CREATE FUNCTION sdp.sdp_rekey_finish(rotation_id uuid) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  r sdp.key_rotation;
  v_left bigint;
  v_held bigint;
  v_unmapped bigint;
  v_uploading bigint;
BEGIN
  r := sdp._rekey_rotation(sdp_rekey_finish.rotation_id, true, 'engineer', 'rekey_finish');
  IF r.state OPERATOR(pg_catalog.=) 'finished' THEN
    RETURN sdp._rekey_json(r, r.rows_done);
  END IF;
  v_left := sdp._rekey_rows_left(r);
  SELECT pg_catalog.count(*) INTO v_held FROM sdp.key_rotation_held h
   WHERE h.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  SELECT pg_catalog.count(*) INTO v_uploading FROM sdp._rekey_pending(r) x
   WHERE x.status OPERATOR(pg_catalog.=) 'UPLOADING';
  IF v_left > 0 OR v_uploading > 0 THEN
    v_unmapped := sdp._rekey_unmapped(r);
    IF v_uploading > 0 THEN
      PERFORM sdp._raise_conflict(
        format('rotation %s cannot finish: %s batch(es) of the domain are still uploading under key version %s',
               r.rotation_id, v_uploading, r.from_version),
        hint => 'seal (then apply again) or abort those uploads');
    END IF;
    PERFORM sdp._raise_conflict(
      format('rotation %s cannot finish: %s row(s) not rewritten, %s token(s) without a pair',
             r.rotation_id, v_left, v_unmapped),
      hint => CASE WHEN v_unmapped > 0 THEN 'list the tokens (sdp_rekey_tokens), send their pairs, apply again'
                   ELSE 'call sdp_rekey_apply until done' END);
  END IF;
  UPDATE sdp.key_rotation k SET state = 'finished', finished_at = pg_catalog.clock_timestamp(),
                                updated_at = pg_catalog.clock_timestamp()
   WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id
  RETURNING * INTO r;
  DELETE FROM sdp.key_rotation_token k WHERE k.rotation_id OPERATOR(pg_catalog.=) r.rotation_id;
  INSERT INTO sdp.domain_key_version AS d (client_id, domain, key_version, key_id, rotated_at)
  VALUES (r.client_id, r.domain, r.to_version, r.to_key_id, r.finished_at)
  ON CONFLICT (client_id, domain) DO UPDATE
    SET key_version = EXCLUDED.key_version, key_id = EXCLUDED.key_id, rotated_at = EXCLUDED.rotated_at;
  PERFORM sdp._audit('rekey.finish', r.rotation_id::text,
    pg_catalog.jsonb_build_object('client_id', r.client_id, 'domain', r.domain,
                                  'from_version', r.from_version, 'to_version', r.to_version,
                                  'to_key_id', r.to_key_id, 'pairs', r.pairs, 'rows', r.rows_done));
  RETURN sdp._rekey_json(r, r.rows_done);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_finish(uuid) IS
  'ends a rotation and records the domain''s key version; PT409 while rows are left or tokens unmapped';

CREATE FUNCTION sdp.sdp_token_versions(client_id text, domain text)
RETURNS TABLE(old_token text, new_token text, from_version integer, to_version integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text := sdp._rekey_client(sdp_token_versions.client_id, 'engineer', 'token_versions');
  v_domain text := sdp_token_versions.domain;
BEGIN
  PERFORM sdp._rekey_check_domain(v_domain);
  RETURN QUERY
    SELECT p.old_token, p.new_token, k.from_version, k.to_version
      FROM sdp.key_rotation k
      JOIN sdp.key_rotation_pair p ON p.rotation_id OPERATOR(pg_catalog.=) k.rotation_id
     WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
     ORDER BY k.from_version, p.old_token COLLATE "C";
END
$$;
COMMENT ON FUNCTION sdp.sdp_token_versions(text, text) IS
  'old -> new token pairs of a client''s domain rotations (for joins that span a rotation)';

CREATE FUNCTION sdp.sdp_rekey_status(client_id text, domain text) RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text := sdp._rekey_client(sdp_rekey_status.client_id, 'engineer', 'rekey_status');
  v_domain text := sdp_rekey_status.domain;
  d sdp.domain_key_version;
  r sdp.key_rotation;
  v_versions integer[];
BEGIN
  PERFORM sdp._rekey_check_domain(v_domain);
  SELECT * INTO d FROM sdp.domain_key_version x
   WHERE x.client_id OPERATOR(pg_catalog.=) v_client AND x.domain OPERATOR(pg_catalog.=) v_domain;
  SELECT * INTO r FROM sdp.key_rotation k
   WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain
     AND k.state OPERATOR(pg_catalog.<>) 'finished';
  SELECT pg_catalog.array_agg(DISTINCT k.key_version ORDER BY k.key_version) INTO v_versions
    FROM sdp.batch_column_key k
   WHERE k.client_id OPERATOR(pg_catalog.=) v_client AND k.domain OPERATOR(pg_catalog.=) v_domain;
  RETURN pg_catalog.json_build_object(
    'client_id', v_client, 'domain', v_domain,
    'key_version', coalesce(d.key_version, 1), 'key_id', d.key_id, 'rotated_at', d.rotated_at,
    'stored_versions', coalesce(v_versions, '{}'),
    'rotation', CASE WHEN r.rotation_id IS NULL THEN NULL
                     ELSE sdp._rekey_json(r, r.rows_done OPERATOR(pg_catalog.+) sdp._rekey_rows_left(r)) END);
END
$$;
COMMENT ON FUNCTION sdp.sdp_rekey_status(text, text) IS
  'current key version of a client''s domain, the versions stored, and any unfinished rotation';

-- ---- PostgREST wrappers (60_api.sql: SECURITY INVOKER, the sdp_* function checks the tenant) ---
-- POST /rpc/rekey_begin {"client_id","domain","from_version","to_version","to_key_id"}
CREATE FUNCTION sdp_api.rekey_begin(domain text, from_version integer, to_version integer,
                                    to_key_id text, client_id text DEFAULT NULL) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_begin(sdp.sdp_api_client(client_id), domain, from_version, to_version, to_key_id) $$;
COMMENT ON FUNCTION sdp_api.rekey_begin(text, integer, integer, text, text) IS
  'POST {domain, from_version, to_version, to_key_id[, client_id]} -> the rotation';

-- POST /rpc/rekey_tokens {"rotation_id"[,"after","max_tokens"]} -> ["token", ...]
CREATE FUNCTION sdp_api.rekey_tokens(rotation_id uuid, after text DEFAULT NULL,
                                     max_tokens integer DEFAULT 10000) RETURNS SETOF text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT t FROM sdp.sdp_rekey_tokens(rotation_id, after, coalesce(max_tokens, 10000)) AS t $$;
COMMENT ON FUNCTION sdp_api.rekey_tokens(uuid, text, integer) IS
  'POST {rotation_id[, after, max_tokens]} -> the next page of tokens still under the old key';

-- POST /rpc/rekey_pairs {"rotation_id","pairs":"old_token,new_token\n..."}
CREATE FUNCTION sdp_api.rekey_pairs(rotation_id uuid, pairs text) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_pairs(rotation_id, pairs) $$;
COMMENT ON FUNCTION sdp_api.rekey_pairs(uuid, text) IS
  'POST {rotation_id, pairs (CSV old_token,new_token)} -> {accepted, pairs}';

-- POST /rpc/rekey_apply {"rotation_id"[,"max_rows"]}
CREATE FUNCTION sdp_api.rekey_apply(rotation_id uuid, max_rows integer DEFAULT 20000) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_apply(rotation_id, coalesce(max_rows, 20000)) $$;
COMMENT ON FUNCTION sdp_api.rekey_apply(uuid, integer) IS
  'POST {rotation_id[, max_rows]} -> {rows_done, rows_total, unmapped, done}';

-- POST /rpc/rekey_finish {"rotation_id"}
CREATE FUNCTION sdp_api.rekey_finish(rotation_id uuid) RETURNS json
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_finish(rotation_id) $$;
COMMENT ON FUNCTION sdp_api.rekey_finish(uuid) IS 'POST {rotation_id} -> the finished rotation; 409 while rows are left';

-- GET /rpc/token_versions?domain=…[&client_id=…]
CREATE FUNCTION sdp_api.token_versions(domain text, client_id text DEFAULT NULL)
RETURNS TABLE(old_token text, new_token text, from_version integer, to_version integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sdp.sdp_token_versions(sdp.sdp_api_client(client_id), domain) $$;
COMMENT ON FUNCTION sdp_api.token_versions(text, text) IS
  'GET ?domain=…: the old -> new token pairs of the client''s rotations of that domain';

-- GET /rpc/rekey_status?domain=…[&client_id=…]
CREATE FUNCTION sdp_api.rekey_status(domain text, client_id text DEFAULT NULL) RETURNS json
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sdp.sdp_rekey_status(sdp.sdp_api_client(client_id), domain) $$;
COMMENT ON FUNCTION sdp_api.rekey_status(text, text) IS
  'GET ?domain=…: the domain''s key version and any unfinished rotation';
