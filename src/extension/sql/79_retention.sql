-- Legal hold, retention and erasure (docs/governance.md). Issue 7.
--
-- A hold on a client or on one batch stops every deletion of that data: sdp_forget_batch,
-- sdp_forget_client and the retention purge skip it and say so (the refusal is audited and the
-- transaction commits, so the audit entry stays; through PostgREST the answer is HTTP 409), and
-- a trigger refuses even a direct DELETE of a held batch (42501), superusers included.
CREATE TABLE sdp.legal_hold (
  hold_id     bigserial PRIMARY KEY,
  client_id   text,
  batch_id    uuid,
  reason      text NOT NULL CHECK (pg_catalog.length(reason) BETWEEN 1 AND 500),
  placed_by   text NOT NULL,
  placed_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  released_by text,
  released_at timestamptz,
  CHECK ((client_id IS NULL) <> (batch_id IS NULL))
);
CREATE INDEX legal_hold_active ON sdp.legal_hold (client_id, batch_id) WHERE released_at IS NULL;
SELECT pg_catalog.pg_extension_config_dump('sdp.legal_hold', '');

-- Per-client retention: batches older than ttl (by created_at) are purged.
CREATE TABLE sdp.retention_policy (
  client_id text PRIMARY KEY REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  ttl       interval NOT NULL CHECK (ttl > interval '0'),
  set_by    text NOT NULL,
  set_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
SELECT pg_catalog.pg_extension_config_dump('sdp.retention_policy', '');

CREATE FUNCTION sdp._is_held(p_client_id text, p_batch_id uuid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM sdp.legal_hold h
                  WHERE h.released_at IS NULL
                    AND (h.client_id = p_client_id OR h.batch_id = p_batch_id))
$$;

CREATE FUNCTION sdp._refuse_held_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp._is_held(OLD.client_id, OLD.batch_id) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('batch %s is under legal hold and cannot be deleted', OLD.batch_id);
  END IF;
  RETURN OLD;
END
$$;
CREATE TRIGGER processing_batch_hold BEFORE DELETE ON sdp.processing_batch
  FOR EACH ROW EXECUTE FUNCTION sdp._refuse_held_delete();

-- TRUNCATE skips the row trigger above (and TRUNCATE processing_batch CASCADE would take every
-- batch's rows with it), so it is refused outright on the bulk tables while any hold is active,
-- superusers included. Row deletes of a held batch are refused where the API deletes rows
-- (sdp_batch_abort); a statement trigger over the deleted rows was measured to make erasing a
-- 200,000-row batch 4-5x slower (the transition table copies every row), so a direct DELETE by
-- the owner or a superuser is left to detection: sdp_verify_integrity reports the rows missing.
CREATE FUNCTION sdp._refuse_truncate_under_hold() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM sdp.legal_hold h WHERE h.released_at IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('%s cannot be truncated while a legal hold is active', TG_TABLE_NAME);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER tokenized_record_hold_truncate BEFORE TRUNCATE ON sdp.tokenized_record
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._refuse_truncate_under_hold();
CREATE TRIGGER processed_result_hold_truncate BEFORE TRUNCATE ON sdp.processed_result
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._refuse_truncate_under_hold();

CREATE FUNCTION sdp.sdp_legal_hold(client_id text DEFAULT NULL, batch_id uuid DEFAULT NULL,
                                   reason text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id bigint;
BEGIN
  PERFORM sdp._require_capability('admin', 'legal_hold');
  IF (sdp_legal_hold.client_id IS NULL) = (sdp_legal_hold.batch_id IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of client_id or batch_id';
  END IF;
  IF reason IS NULL OR pg_catalog.length(reason) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a hold needs a reason (1 to 500 characters)';
  END IF;
  IF sdp_legal_hold.client_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = sdp_legal_hold.client_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(sdp_legal_hold.client_id));
  END IF;
  IF sdp_legal_hold.batch_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM sdp.processing_batch b WHERE b.batch_id = sdp_legal_hold.batch_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown batch %s', sdp_legal_hold.batch_id);
  END IF;
  INSERT INTO sdp.legal_hold (client_id, batch_id, reason, placed_by)
  VALUES (sdp_legal_hold.client_id, sdp_legal_hold.batch_id, reason, sdp.sdp_caller_role())
  RETURNING hold_id INTO v_id;
  -- The reason is free text and stays in sdp.legal_hold; the audit entry names the hold only.
  PERFORM sdp._audit('hold.place', coalesce(sdp_legal_hold.client_id, sdp_legal_hold.batch_id::text),
                     pg_catalog.jsonb_build_object('hold_id', v_id));
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION sdp.sdp_legal_hold(text, uuid, text) IS
  'places a legal hold on a client or a batch (admin); returns the hold id';

CREATE FUNCTION sdp.sdp_release_hold(client_id text DEFAULT NULL, batch_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ids bigint[];
BEGIN
  PERFORM sdp._require_capability('admin', 'release_hold');
  IF (sdp_release_hold.client_id IS NULL) = (sdp_release_hold.batch_id IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of client_id or batch_id';
  END IF;
  WITH r AS (
    UPDATE sdp.legal_hold h SET released_by = sdp.sdp_caller_role(), released_at = pg_catalog.clock_timestamp()
     WHERE h.released_at IS NULL
       AND (h.client_id = sdp_release_hold.client_id OR h.batch_id = sdp_release_hold.batch_id)
    RETURNING h.hold_id)
  SELECT pg_catalog.array_agg(hold_id ORDER BY hold_id) INTO v_ids FROM r;
  IF v_ids IS NOT NULL THEN
    PERFORM sdp._audit('hold.release', coalesce(sdp_release_hold.client_id, sdp_release_hold.batch_id::text),
                       pg_catalog.jsonb_build_object('hold_ids', v_ids));
  END IF;
  RETURN coalesce(pg_catalog.cardinality(v_ids), 0);
END
$$;
COMMENT ON FUNCTION sdp.sdp_release_hold(text, uuid) IS
  'releases the active holds on a client or a batch (admin); returns how many';

CREATE FUNCTION sdp.sdp_set_retention(client_id text, ttl interval) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('admin', 'set_retention');
  IF NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = sdp_set_retention.client_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(sdp_set_retention.client_id));
  END IF;
  IF ttl IS NULL THEN
    DELETE FROM sdp.retention_policy p WHERE p.client_id = sdp_set_retention.client_id;
  ELSIF ttl <= interval '0' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'ttl must be positive (NULL removes the policy)';
  ELSE
    INSERT INTO sdp.retention_policy AS p (client_id, ttl, set_by)
    VALUES (sdp_set_retention.client_id, ttl, sdp.sdp_caller_role())
    ON CONFLICT ON CONSTRAINT retention_policy_pkey
    DO UPDATE SET ttl = EXCLUDED.ttl, set_by = EXCLUDED.set_by, set_at = pg_catalog.clock_timestamp();
  END IF;
  PERFORM sdp._audit('retention.set', sdp_set_retention.client_id,
                     pg_catalog.jsonb_build_object('ttl', ttl::text));
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_set_retention(text, interval) IS
  'per-client retention TTL (admin); NULL removes it';

-- Deletes one unheld batch with everything hanging off it; returns the counts. Internal.
CREATE FUNCTION sdp._delete_batch(p_batch_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_records bigint;
  v_results bigint;
  v_versions bigint;
  v_chunks bigint;
BEGIN
  SELECT count(*) INTO v_records FROM sdp.tokenized_record t WHERE t.batch_id = p_batch_id;
  SELECT count(*) INTO v_results FROM sdp.processed_result t WHERE t.batch_id = p_batch_id;
  SELECT count(*) INTO v_versions FROM sdp.record_version t WHERE t.batch_id = p_batch_id;
  SELECT count(*) INTO v_chunks FROM sdp.batch_chunk t WHERE t.batch_id = p_batch_id;
  DELETE FROM sdp.processing_batch b WHERE b.batch_id = p_batch_id;  -- cascades
  RETURN pg_catalog.jsonb_build_object('batch_id', p_batch_id, 'records', v_records,
    'results', v_results, 'versions', v_versions, 'chunks', v_chunks);
END
$$;

-- Retention purge: deletes up to max_batches expired, unheld batches (created_at + ttl <= now),
-- skipping batches being processed or locked by someone else; one audit event per purged batch,
-- one for the held ones skipped. `now` is injectable for tests and backfills. Bounded: the
-- caller (the worker, or cron) calls it again in a new transaction while it returns max_batches
-- rows (docs/governance.md, "Retention").
CREATE FUNCTION sdp.sdp_purge_expired(now timestamptz DEFAULT pg_catalog.now(), max_batches integer DEFAULT 100)
RETURNS TABLE(batch_id uuid, client_id text, records bigint, results bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c record;
  d jsonb;
  v_held uuid[];
BEGIN
  PERFORM sdp._require_capability('admin', 'purge_expired');
  SELECT pg_catalog.array_agg(b.batch_id ORDER BY b.batch_id) INTO v_held
    FROM sdp.processing_batch b JOIN sdp.retention_policy p ON p.client_id = b.client_id
   WHERE b.created_at + p.ttl <= sdp_purge_expired.now AND sdp._is_held(b.client_id, b.batch_id);
  FOR c IN SELECT b.batch_id, b.client_id
             FROM sdp.processing_batch b JOIN sdp.retention_policy p ON p.client_id = b.client_id
            WHERE b.created_at + p.ttl <= sdp_purge_expired.now
              AND b.status <> 'PROCESSING'
              AND NOT sdp._is_held(b.client_id, b.batch_id)
            ORDER BY b.created_at, b.batch_id
            LIMIT greatest(max_batches, 1)
            FOR UPDATE OF b SKIP LOCKED LOOP
    d := sdp._delete_batch(c.batch_id);
    PERFORM sdp._audit('retention.purge', c.batch_id::text, d || pg_catalog.jsonb_build_object('client_id', c.client_id));
    batch_id := c.batch_id; client_id := c.client_id;
    records := (d ->> 'records')::bigint; results := (d ->> 'results')::bigint;
    RETURN NEXT;
  END LOOP;
  IF v_held IS NOT NULL THEN
    PERFORM sdp._audit('retention.skip_held', NULL,
                       pg_catalog.jsonb_build_object('batches', v_held));
  END IF;
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_purge_expired(timestamptz, integer) IS
  'deletes up to max_batches batches past their client''s retention TTL at `now`, unless held (admin; the worker calls it)';

-- Erasure (GDPR art. 17). Refused (not raised) when held: the answer says so, the refusal is
-- audited, and PostgREST answers 409.
CREATE FUNCTION sdp.sdp_forget_batch(batch_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  b sdp.processing_batch;
  d jsonb;
BEGIN
  PERFORM sdp._require_capability('admin', 'forget_batch', sdp_forget_batch.batch_id::text);
  SELECT * INTO b FROM sdp.processing_batch x WHERE x.batch_id = sdp_forget_batch.batch_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown batch %s', sdp_forget_batch.batch_id);
  END IF;
  IF sdp._is_held(b.client_id, b.batch_id) THEN
    PERFORM sdp._audit('erasure.refused_hold', b.batch_id::text,
                       pg_catalog.jsonb_build_object('client_id', b.client_id));
    PERFORM pg_catalog.set_config('response.status', '409', true);
    RETURN pg_catalog.jsonb_build_object('batch_id', b.batch_id, 'status', 'held', 'records', 0, 'results', 0);
  END IF;
  d := sdp._delete_batch(b.batch_id);
  PERFORM sdp._audit('erasure.batch', b.batch_id::text, d || pg_catalog.jsonb_build_object('client_id', b.client_id));
  RETURN d || '{"status":"deleted"}'::jsonb;
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_forget_batch(uuid) IS
  'erases a batch and all its rows unless held (admin); returns what was deleted or status "held"';

CREATE FUNCTION sdp.sdp_forget_client(client_id text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_forget_client.client_id;
  c record;
  d jsonb;
  v_batches bigint := 0;
  v_records bigint := 0;
  v_results bigint := 0;
  v_held uuid[];
BEGIN
  PERFORM sdp._require_capability('admin', 'forget_client', v_client);
  PERFORM 1 FROM sdp.api_client x WHERE x.client_id = v_client FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(v_client));
  END IF;
  SELECT pg_catalog.array_agg(b.batch_id ORDER BY b.batch_id) INTO v_held
    FROM sdp.processing_batch b WHERE b.client_id = v_client AND sdp._is_held(b.client_id, b.batch_id);
  IF v_held IS NOT NULL THEN
    PERFORM sdp._audit('erasure.refused_hold', v_client,
                       pg_catalog.jsonb_build_object('held_batches', pg_catalog.cardinality(v_held)));
    PERFORM pg_catalog.set_config('response.status', '409', true);
    RETURN pg_catalog.jsonb_build_object('client_id', v_client, 'status', 'held', 'batches', 0,
                                         'records', 0, 'results', 0);
  END IF;
  IF sdp._is_held(v_client, NULL) THEN  -- a client-wide hold with no batch yet
    PERFORM sdp._audit('erasure.refused_hold', v_client, '{}');
    PERFORM pg_catalog.set_config('response.status', '409', true);
    RETURN pg_catalog.jsonb_build_object('client_id', v_client, 'status', 'held', 'batches', 0,
                                         'records', 0, 'results', 0);
  END IF;
  FOR c IN SELECT b.batch_id FROM sdp.processing_batch b WHERE b.client_id = v_client
            ORDER BY b.batch_id FOR UPDATE LOOP
    d := sdp._delete_batch(c.batch_id);
    v_batches := v_batches + 1;
    v_records := v_records + (d ->> 'records')::bigint;
    v_results := v_results + (d ->> 'results')::bigint;
  END LOOP;
  DELETE FROM sdp.api_client x WHERE x.client_id = v_client;  -- key gone too; retention cascades
  PERFORM sdp._audit('erasure.client', v_client,
    pg_catalog.jsonb_build_object('batches', v_batches, 'records', v_records, 'results', v_results));
  RETURN pg_catalog.jsonb_build_object('client_id', v_client, 'status', 'deleted', 'batches', v_batches,
                                       'records', v_records, 'results', v_results);
EXCEPTION WHEN serialization_failure OR deadlock_detected THEN
  PERFORM sdp._raise_conflict();  -- never 40001 (16_helpers.sql)
END
$$;
COMMENT ON FUNCTION sdp.sdp_forget_client(text) IS
  'erases every batch, row, result and version of a client and the client itself, unless held (admin)';
