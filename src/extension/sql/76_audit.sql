-- Hash-chained, append-only audit log and the access log (docs/governance.md). Issue 7.
--
-- sdp.audit_log: one row per event, numbered without gaps by seq. Every entry is chained:
--   entry_hash = SHA-256(prev_hash || convert_to(canonical entry, 'UTF8'))
-- where prev_hash is the previous entry's entry_hash (32 zero bytes for seq 1) and the canonical
-- entry is the jsonb text of [seq, at (UTC, microseconds), actor, login, client_id, event, target,
-- details]. sdp_audit_verify() recomputes the chain and names the first broken link. Entries
-- never hold raw PII or secrets: callers pass identifiers, counts and column names only.
--
-- Append-only: no UPDATE/DELETE/TRUNCATE privilege for anybody, and a trigger refuses them even
-- for the owner and superusers (a superuser who disables the trigger first is caught by the
-- chain). The chain head lives in sdp.audit_head (one row, locked by each append), so appends are
-- serialised: the lock is held until the appending transaction ends, which is why the sdp_*
-- functions audit at their end. A REPEATABLE READ/SERIALIZABLE conflict on the head (40001) is
-- reported as PT409, never 40001 (docs/postgrest.md §2).
CREATE TABLE sdp.audit_log (
  seq        bigint PRIMARY KEY,
  at         timestamptz NOT NULL,
  actor      text NOT NULL,          -- the calling role (sdp.sdp_caller_role())
  client_id  text,                   -- the authenticated tenant, if any
  event      text NOT NULL,
  target     text,                   -- batch id, record id, client id, hold id ...
  details    jsonb NOT NULL DEFAULT '{}',
  prev_hash  bytea NOT NULL,
  entry_hash bytea NOT NULL,
  -- session_user: the login behind actor. After SET ROLE sdp_admin, actor says sdp_admin and
  -- this names who logged in (under PostgREST: its authenticator role; with a dashboard token
  -- also the signed-in user, "sdp_authenticator:alice", sdp._request_login()). '' in entries written
  -- before 0.2.0, which did not record it (no role name is empty). Last column: added in 0.2.0,
  -- and ALTER EXTENSION sdp UPDATE can only add it at the end (sdp--0.1.0--0.2.0.sql).
  login      text NOT NULL
);
COMMENT ON TABLE sdp.audit_log IS 'append-only, hash-chained audit events (no PII, no secrets)';
-- One batch's events are looked up by target (sdp._audited_counts in 77_integrity.sql, on reads).
CREATE INDEX audit_log_target ON sdp.audit_log (target);

CREATE TABLE sdp.audit_head (
  id   integer PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO sdp.audit_head VALUES (1, 0, pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'));

-- Refuses UPDATE, DELETE and TRUNCATE on an append-only table (the audit log, the DP ledger).
CREATE FUNCTION sdp._audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '42501',
    MESSAGE = format('%s.%s is append-only: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP);
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON sdp.audit_log
  FOR EACH ROW EXECUTE FUNCTION sdp._audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON sdp.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION sdp._audit_refuse_change();

-- The canonical text of an entry (what the hash covers). An entry written before 0.2.0 has
-- login '' and was hashed without it: its canonical text stays the one it was hashed with, so the
-- chain of a database updated from 0.1.0 still verifies. (Blanking the login of a newer entry
-- changes its canonical text, so the chain catches that like any other edit.)
CREATE FUNCTION sdp._audit_canonical(seq bigint, at timestamptz, actor text, login text,
                                     client_id text, event text, target text, details jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.convert_to(CASE WHEN login = '' THEN
           pg_catalog.jsonb_build_array(
             seq, pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
             actor, client_id, event, target, details)
         ELSE
           pg_catalog.jsonb_build_array(
             seq, pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
             actor, login, client_id, event, target, details)
         END::text, 'UTF8')
$$;

-- The login behind the caller, as the audit and access logs record it: session_user, and for a
-- request with a dashboard token (86_dashboard.sql) the signed-in person too,
-- "sdp_authenticator:<user name>", when the token's sub, role and jti are a live session of an
-- enabled user (what pre_request admitted; an unverified claim is never recorded). Internal.
CREATE FUNCTION sdp._request_login() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_claims jsonb;
  v_user text;
BEGIN
  v_claims := nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
  IF v_claims IS NULL OR v_claims ->> 'aud' IS DISTINCT FROM 'sdp-dashboard' THEN
    RETURN pg_catalog.session_user();
  END IF;
  SELECT u.username INTO v_user
    FROM sdp.staff_user u JOIN sdp.staff_session x ON x.username OPERATOR(pg_catalog.=) u.username
   WHERE u.username OPERATOR(pg_catalog.=) (v_claims ->> 'sub')
     AND u.db_role OPERATOR(pg_catalog.=) sdp.sdp_caller_role() AND NOT u.disabled
     AND x.jti OPERATOR(pg_catalog.=) (v_claims ->> 'jti') AND x.expires_at > pg_catalog.now();
  RETURN pg_catalog.session_user() || coalesce(':' || v_user, '');
EXCEPTION WHEN invalid_text_representation THEN  -- claims that are not JSON: not a dashboard token
  RETURN pg_catalog.session_user();
END
$$;

-- Appends one event; returns its seq. Internal (owner only): the public functions call it.
CREATE FUNCTION sdp._audit(p_event text, p_target text, p_details jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sdp._audit_as(sdp.sdp_caller_role(), sdp._request_login(), sdp.sdp_auth_tenant(),
                       p_event, p_target, p_details);
END
$$;

-- Appends one event on behalf of the given actor, login and client: for work done in another
-- session than the caller's (the privacy budget charge, committed by a background worker,
-- privacy_charge.cc). Internal (owner only).
CREATE FUNCTION sdp._audit_as(p_actor text, p_login text, p_client text, p_event text,
                              p_target text, p_details jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_seq bigint;
  v_prev bytea;
  v_at timestamptz := pg_catalog.clock_timestamp();
  v_details jsonb := coalesce(p_details, '{}');
  v_hash bytea;
BEGIN
  BEGIN
    SELECT h.seq + 1, h.hash INTO v_seq, v_prev FROM sdp.audit_head h WHERE h.id = 1 FOR UPDATE;
    v_hash := pg_catalog.sha256(v_prev || sdp._audit_canonical(v_seq, v_at, p_actor, p_login, p_client,
                                                                p_event, p_target, v_details));
    INSERT INTO sdp.audit_log (seq, at, actor, login, client_id, event, target, details, prev_hash, entry_hash)
    VALUES (v_seq, v_at, p_actor, p_login, p_client, p_event, p_target, v_details, v_prev, v_hash);
    UPDATE sdp.audit_head h SET seq = v_seq, hash = v_hash WHERE h.id = 1;
  EXCEPTION WHEN serialization_failure THEN
    PERFORM sdp._raise_conflict('the audit log was appended to concurrently; retry the request');
  END;
  RETURN v_seq;
END
$$;

-- First broken link of the chain, or no row when the chain is intact. `reason`: entry_hash
-- (content changed), prev_hash (link to the previous entry broken), gap (seq missing: deleted),
-- head (the last entry is not the recorded head: entries removed at the end).
CREATE FUNCTION sdp.sdp_audit_verify()
RETURNS TABLE(seq bigint, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e sdp.audit_log;
  v_prev bytea := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
  v_expect bigint := 1;
  h sdp.audit_head;
BEGIN
  PERFORM sdp._require_capability('audit', 'audit_verify');
  FOR e IN SELECT * FROM sdp.audit_log l ORDER BY l.seq LOOP
    IF e.seq <> v_expect THEN
      seq := v_expect; reason := 'gap'; RETURN NEXT; RETURN;
    END IF;
    IF e.prev_hash <> v_prev THEN
      seq := e.seq; reason := 'prev_hash'; RETURN NEXT; RETURN;
    END IF;
    IF e.entry_hash <> pg_catalog.sha256(v_prev || sdp._audit_canonical(e.seq, e.at, e.actor, e.login,
                                           e.client_id, e.event, e.target, e.details)) THEN
      seq := e.seq; reason := 'entry_hash'; RETURN NEXT; RETURN;
    END IF;
    v_prev := e.entry_hash;
    v_expect := e.seq + 1;
  END LOOP;
  SELECT * INTO h FROM sdp.audit_head x WHERE x.id = 1;
  IF h.seq <> v_expect - 1 OR h.hash <> v_prev THEN
    seq := v_expect; reason := 'head'; RETURN NEXT;
  END IF;
END
$$;
COMMENT ON FUNCTION sdp.sdp_audit_verify() IS
  'recomputes the audit hash chain; the first broken link (seq, reason) or no row';

-- ---- anchoring the head outside the database ---------------------------------------------------
-- The chain shows that no entry was changed, removed or inserted *up to the newest one*. It cannot
-- show that nothing was cut off the end: whoever can write the tables (a superuser who disables the
-- trigger) can delete the last entries and set sdp.audit_head back, and the shorter chain is
-- intact. What defeats that is a copy of the head kept where that person cannot write:
-- sdp_audit_head() returns it (and writes it to the server log); an operator stores it elsewhere
-- (a ticket, write-once storage, another system's log). sdp_audit_verify_head(seq, entry_hash)
-- later checks that the chain still holds that very entry and is intact from seq 1 to its end, so
-- the chain has only grown since the export. Rewriting the whole chain does not help either: every
-- entry_hash depends on all entries before it.
CREATE FUNCTION sdp.sdp_audit_head(OUT seq bigint, OUT entry_hash text, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp._require_capability('audit', 'audit_head');
  SELECT h.seq, pg_catalog.encode(h.hash, 'hex'), l.at INTO seq, entry_hash, at
    FROM sdp.audit_head h LEFT JOIN sdp.audit_log l ON l.seq OPERATOR(pg_catalog.=) h.seq
   WHERE h.id OPERATOR(pg_catalog.=) 1;
  -- The server log is often shipped off the machine: one more copy out of the database's reach.
  RAISE LOG 'sdp audit head: seq=% entry_hash=% role=% login=%', seq, entry_hash,
    sdp.sdp_caller_role(), pg_catalog.session_user();
END
$$;
COMMENT ON FUNCTION sdp.sdp_audit_head() IS
  'the audit chain head (seq, entry_hash hex, time) to store outside the database; see sdp_audit_verify_head';

-- The first problem found, or no row: the chain's own first broken link (as sdp_audit_verify),
-- else `anchor_missing` (the chain no longer reaches the exported seq: its tail was cut) or
-- `anchor_mismatch` (the entry at that seq is not the exported one: cut and appended again, or
-- rewritten). 22023 for a malformed head.
CREATE FUNCTION sdp.sdp_audit_verify_head(head_seq bigint, head_entry_hash text)
RETURNS TABLE(seq bigint, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_want bytea;
  v_have bytea;
BEGIN
  PERFORM sdp._require_capability('audit', 'audit_verify');
  IF head_seq IS NULL OR head_seq < 0 OR head_entry_hash IS NULL
     OR head_entry_hash !~ '^[0-9a-fA-F]{64}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'an exported audit head is a seq >= 0 and a 64-hex-digit entry_hash (sdp_audit_head())';
  END IF;
  v_want := pg_catalog.decode(head_entry_hash, 'hex');
  RETURN QUERY SELECT v.seq, v.reason FROM sdp.sdp_audit_verify() v;
  IF FOUND THEN
    RETURN;
  END IF;
  IF head_seq = 0 THEN
    v_have := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');  -- the empty chain
  ELSE
    SELECT l.entry_hash INTO v_have FROM sdp.audit_log l WHERE l.seq = head_seq;
    IF NOT FOUND THEN
      seq := head_seq; reason := 'anchor_missing'; RETURN NEXT; RETURN;
    END IF;
  END IF;
  IF v_have <> v_want THEN
    seq := head_seq; reason := 'anchor_mismatch'; RETURN NEXT;
  END IF;
END
$$;
COMMENT ON FUNCTION sdp.sdp_audit_verify_head(bigint, text) IS
  'checks the chain is intact and still holds an exported head (sdp_audit_head); first problem or no row';

-- ---- access log ------------------------------------------------------------------------------
-- Seed shape: user, action, target, timestamp, outcome. Written by the functions that read
-- records and results (sdp_results, sdp_results_csv, sdp_records, sdp_record_history); the
-- tables themselves are not readable by client or staff roles (90_privileges.sql),
-- so every read goes through them. Each read writes a server-log line first, always: the line is
-- out of reach of the transaction, so a read that is rolled back afterwards (BEGIN; SELECT ...;
-- ROLLBACK) or runs READ ONLY (PostgREST GET), where no row can be written, still leaves a trace.
-- The row is written too when the transaction can write.
CREATE TABLE sdp.access_log (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  actor     text NOT NULL,
  client_id text,
  action    text NOT NULL,
  target    text,
  outcome   text NOT NULL CHECK (outcome IN ('allowed', 'denied')),
  rows      bigint,
  login     text NOT NULL         -- session_user; '' before 0.2.0 (see sdp.audit_log.login)
);

CREATE FUNCTION sdp._access(p_action text, p_target text, p_outcome text, p_rows bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE LOG 'sdp access: role=% login=% client=% action=% target=% outcome=% rows=%',
    sdp.sdp_caller_role(), sdp._request_login(), coalesce(sdp.sdp_auth_tenant(), '-'), p_action,
    coalesce(p_target, '-'), p_outcome, coalesce(p_rows::text, '-');
  IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;
  INSERT INTO sdp.access_log (actor, login, client_id, action, target, outcome, rows)
  VALUES (sdp.sdp_caller_role(), sdp._request_login(), sdp.sdp_auth_tenant(), p_action, p_target,
          p_outcome, p_rows);
END
$$;

-- ---- events of the existing data path, by trigger ---------------------------------------------
-- processing_batch and api_client have one row per batch / client, so row triggers cost nothing
-- on the bulk path (tokenized_record and processed_result carry no trigger). They are deferred
-- constraint triggers: the events are appended at commit, so the chain head is locked only for
-- the commit itself, not for a whole upload.
CREATE FUNCTION sdp._audit_batch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM sdp._audit('batch.upload', NEW.batch_id::text,
      pg_catalog.jsonb_build_object('client_id', NEW.client_id, 'processing_type', NEW.processing_type,
                                    'status', NEW.status, 'records', NEW.accepted_records));
  ELSIF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM sdp._audit(CASE WHEN NEW.status IN ('PROCESSING', 'PROCESSED', 'FAILED')
                            THEN 'batch.process' ELSE 'batch.upload' END,
      NEW.batch_id::text,
      pg_catalog.jsonb_build_object('client_id', NEW.client_id, 'from', OLD.status, 'to', NEW.status,
                                    'records', NEW.accepted_records, 'processed', NEW.processed_records,
                                    'model', NEW.model_version));
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER processing_batch_audit AFTER INSERT OR UPDATE ON sdp.processing_batch
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sdp._audit_batch();

-- Client and key changes; never the key, its hash or its prefix.
CREATE FUNCTION sdp._audit_client() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM sdp._audit('client.create', NEW.client_id, '{}');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM sdp._audit('client.delete', OLD.client_id, '{}');
  ELSIF NEW.key_hash IS NULL AND OLD.key_hash IS NOT NULL THEN
    PERFORM sdp._audit('client.key_revoke', NEW.client_id, '{}');
  ELSIF NEW.key_hash IS DISTINCT FROM OLD.key_hash THEN
    PERFORM sdp._audit('client.key_rotate', NEW.client_id, '{}');
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER api_client_audit AFTER INSERT OR UPDATE OR DELETE ON sdp.api_client
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sdp._audit_client();

SELECT pg_catalog.pg_extension_config_dump('sdp.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.audit_head', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.access_log', '');
