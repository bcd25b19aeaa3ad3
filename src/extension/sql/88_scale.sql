-- Scale-out on Citus (docs/scale.md): sdp_distribute() turns the row tables of a coordinator into
-- distributed tables. On a single node it refuses (Citus is not loaded); nothing else here changes
-- what a single node does.
--
-- What goes where, and why:
--  * tokenized_record and processed_result, the tables that grow with every uploaded row, are
--    distributed by client_id and colocated: a client's rows and its results live in the same
--    shard, uploads land in their client's shard, and Citus routes a per-client query to one node.
--  * Everything else stays on the coordinator as it is on a single node: clients, batches,
--    chunks, keys, classifications, record versions (a row per client, batch, column or edit),
--    and in particular the hash-chained audit log (audit_log, audit_head) and the DP ledger: they
--    need one total order of appends (each entry hashes its predecessor; each charge checks the
--    budget the one before left), which one PostgreSQL server gives and a set of shards does not.
--    The secrets (integrity, auth, JWT) never leave the coordinator.
--
-- What Citus needs changed, done here so that a single node keeps its schema:
--  * A unique constraint of a distributed table must contain the distribution column: the primary
--    keys become (batch_id, row_no, client_id). The same rows are unique as before (a batch has
--    one client), and the index still serves the ordered scan of a batch.
--  * A distributed table cannot reference a table that stays on the coordinator: the foreign key
--    to processing_batch is replaced by a trigger on processing_batch that deletes a batch's rows
--    and results with it (what ON DELETE CASCADE did), by client_id and batch_id, so the delete
--    goes to the one shard that holds them. The loaders write both ids from the batch row.
--  * Citus refuses sub-queries in the policies of its tables (it applies them on the shards): the
--    two policies keep the tenant condition, client_id against sdp.sdp_current_client(), without
--    the sub-select on processing_batch. On a worker no client is ever authenticated, so a client
--    role that reaches a shard gets PT401, never rows.

-- Whether this server is a Citus node other than the coordinator (false without Citus).
CREATE FUNCTION sdp._citus_worker() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_group integer;
BEGIN
  IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO v_group;
  RETURN coalesce(v_group, 0) <> 0;
END
$$;

-- What ON DELETE CASCADE did for the distributed row tables (see above).
CREATE FUNCTION sdp._citus_delete_batch_rows() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM sdp.processed_result r
   WHERE r.client_id OPERATOR(pg_catalog.=) OLD.client_id AND r.batch_id OPERATOR(pg_catalog.=) OLD.batch_id;
  DELETE FROM sdp.tokenized_record t
   WHERE t.client_id OPERATOR(pg_catalog.=) OLD.client_id AND t.batch_id OPERATOR(pg_catalog.=) OLD.batch_id;
  RETURN OLD;
END
$$;

-- The distributed tables, colocated with the first.
CREATE FUNCTION sdp._citus_distributed_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ARRAY['tokenized_record', 'processed_result']
$$;

CREATE FUNCTION sdp.sdp_distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (relation text, kind text, colocation_id integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t text;
  v_rel regclass;
  v_policy text;
  v_fn regprocedure;
  v_ddl text;
  v_done text[] := '{}';
  v_first text;
  tenant constant text :=
    '(client_id = sdp.sdp_current_client() OR sdp.sdp_current_client() IS NULL)';
BEGIN
  PERFORM sdp._require_capability('admin', 'distribute');
  IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = 'sdp_distribute needs Citus: the citus extension is not installed in this database',
      HINT = 'see docs/scale.md: shared_preload_libraries = ''citus,sdp'', CREATE EXTENSION citus, then sdp';
  END IF;
  IF sdp._citus_worker() THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = 'sdp_distribute runs on the Citus coordinator, not on a worker';
  END IF;
  IF shard_count IS NOT NULL AND (shard_count < 1 OR shard_count > 64000) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'shard_count is between 1 and 64000';
  END IF;
  -- The tables' triggers (TRUNCATE refused under a legal hold) are ours and read only the
  -- coordinator's sdp.legal_hold, which is where TRUNCATE of a distributed table runs them.
  PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);

  FOREACH t IN ARRAY sdp._citus_distributed_tables() LOOP
    v_rel := pg_catalog.format('sdp.%I', t)::regclass;
    v_policy := CASE t WHEN 'tokenized_record' THEN 'record_tenant' ELSE 'result_tenant' END;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) v_rel) THEN
      -- The same change on the coordinator and on the workers' copies of the table (created by
      -- CREATE EXTENSION there), which Citus uses as the table's shell on each worker: a query
      -- that reaches a worker is planned against them.
      v_ddl := pg_catalog.format(
        'ALTER TABLE %1$s DROP CONSTRAINT %2$I, ADD CONSTRAINT %2$I PRIMARY KEY (batch_id, row_no, client_id); '
        'ALTER TABLE %1$s DROP CONSTRAINT IF EXISTS %3$I; '
        'DROP POLICY IF EXISTS %4$I ON %1$s; '
        'CREATE POLICY %4$I ON %1$s USING %5$s WITH CHECK %5$s',
        v_rel, t || '_pkey', t || '_batch_id_fkey', v_policy, tenant);
      EXECUTE v_ddl;
      IF EXISTS (SELECT 1 FROM run_command_on_workers(v_ddl) w WHERE NOT w.success) THEN
        RAISE EXCEPTION USING ERRCODE = '55000',
          MESSAGE = pg_catalog.format('sdp_distribute could not prepare %s on every worker', v_rel),
          DETAIL = (SELECT pg_catalog.string_agg(w.nodename || ':' || w.nodeport || ': ' || w.result, '; ')
                      FROM run_command_on_workers(v_ddl) w WHERE NOT w.success);
      END IF;
      IF v_first IS NULL THEN
        PERFORM create_distributed_table(v_rel, 'client_id', colocate_with => 'none',
                                         shard_count => coalesce(shard_count, pg_catalog.current_setting('citus.shard_count')::integer));
      ELSE
        PERFORM create_distributed_table(v_rel, 'client_id', colocate_with => v_first);
      END IF;
      -- rows that were on the coordinator before are in the shards now
      PERFORM truncate_local_data_after_distributing_table(v_rel);
      v_done := v_done || t;
    END IF;
    v_first := coalesce(v_first, v_rel::text);
  END LOOP;
  -- Sessions may plan with plan_cache_mode = force_generic_plan (sdp-agent's libpq transport does,
  -- to pass 8 MiB chunks without a copy), and inside a function that setting reaches every
  -- statement. Citus cannot run a generic plan of a multi-shard query with parameters ("could not
  -- create distributed plan"): every function that reads the distributed tables plans its
  -- statements with their values. Only here, so that a single node keeps its generic plans.
  FOR v_fn IN
    SELECT p.oid::regprocedure
      FROM pg_catalog.pg_proc p
     WHERE p.pronamespace IN ('sdp'::regnamespace, 'sdp_api'::regnamespace)
       AND p.prosrc ~ '(tokenized_record|processed_result)'
       AND p.prokind OPERATOR(pg_catalog.=) 'f'
       AND p.prolang IN (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname IN ('plpgsql', 'sql'))
       AND NOT coalesce('plan_cache_mode=force_custom_plan' OPERATOR(pg_catalog.=) ANY (p.proconfig), false)
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET plan_cache_mode = force_custom_plan', v_fn);
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
                  WHERE g.tgrelid OPERATOR(pg_catalog.=) 'sdp.processing_batch'::regclass
                    AND g.tgname OPERATOR(pg_catalog.=) 'processing_batch_citus_rows') THEN
    CREATE TRIGGER processing_batch_citus_rows BEFORE DELETE ON sdp.processing_batch
      FOR EACH ROW EXECUTE FUNCTION sdp._citus_delete_batch_rows();
  END IF;

  IF pg_catalog.cardinality(v_done) > 0 THEN
    PERFORM sdp._audit('distribute', 'citus', pg_catalog.jsonb_build_object('tables', v_done));
  END IF;
  RETURN QUERY
    SELECT c.relname::text,
           CASE p.partmethod WHEN 'h' THEN 'distributed' WHEN 'n' THEN 'reference' ELSE p.partmethod::text END,
           p.colocationid
      FROM pg_catalog.pg_dist_partition p
      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid
     WHERE c.relnamespace OPERATOR(pg_catalog.=) 'sdp'::regnamespace
     ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION sdp.sdp_distribute(integer) IS
  'Citus coordinator: distributes the row tables (tokenized_record, processed_result) by client_id, colocated (admin, audited, idempotent; docs/scale.md)';
