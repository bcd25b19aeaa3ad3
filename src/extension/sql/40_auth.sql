-- Roles, API keys and authentication (docs/security.md).

-- ---- Roles -----------------------------------------------------------------------------------
-- Roles are cluster-wide, not part of any database, so they cannot be members of the extension:
-- they are created here only when missing and DROP EXTENSION leaves them (other databases of the
-- cluster may use them). An existing role with a dangerous attribute is refused rather than
-- silently trusted: a superuser or BYPASSRLS sdp_client/sdp_anon would void row-level security.
--   sdp_authenticator  LOGIN NOINHERIT: PostgREST's connection role; no privileges of its own,
--                      may only switch to sdp_anon / sdp_client, and to the analyst roles an
--                      admin enables for JWTs (sdp_api_enable_analyst, 80_privacy.sql). The deployer
--                      sets its password.
--   sdp_anon           NOLOGIN: requests without a verified key (health, readyz, pre_request).
--   sdp_client         NOLOGIN: a verified client; sees its own rows only (RLS).
--   sdp_admin          NOLOGIN: operators; manage clients and keys, act for any client.
DO $roles$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES ('sdp_authenticator', true),
                                 ('sdp_anon', false),
                                 ('sdp_client', false),
                                 ('sdp_admin', false)) AS v(name, login) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
      IF r.login THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT', r.name);
        -- Request headers (X-API-Key) reach the server as bind parameters of PostgREST's
        -- set_config() statement: keep them out of the server log even if statement logging
        -- is switched on.
        EXECUTE format('ALTER ROLE %I SET log_parameter_max_length = 0', r.name);
        EXECUTE format('ALTER ROLE %I SET log_parameter_max_length_on_error = 0', r.name);
      ELSE
        EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
      END IF;
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                  WHERE rolname = r.name AND (rolsuper OR rolbypassrls)) THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format('role %s exists and is SUPERUSER or BYPASSRLS', r.name),
        HINT = format('row-level security would not apply to it: ALTER ROLE %s NOSUPERUSER NOBYPASSRLS, then CREATE EXTENSION sdp again', r.name);
    END IF;
  END LOOP;
  -- PostgREST switches from the authenticator to these roles (docs/postgrest.md §6).
  FOR r IN SELECT * FROM (VALUES ('sdp_anon'), ('sdp_client')) AS v(name) LOOP
    IF NOT pg_catalog.pg_has_role('sdp_authenticator', r.name, 'MEMBER') THEN
      EXECUTE format('GRANT %I TO sdp_authenticator', r.name);
    END IF;
  END LOOP;
END
$roles$;

-- ---- Server pepper ---------------------------------------------------------------------------
-- One 32-byte secret, generated here, used as the HMAC key for stored API-key hashes. Only the
-- extension owner (a superuser) can read it: no grant, and row-level security without a policy.
-- It is part of pg_dump's output (config table) so a restored database still accepts its keys;
-- protect dumps like the database itself.
CREATE TABLE sdp.auth_secret (
  id         integer PRIMARY KEY CHECK (id = 1),
  secret     bytea NOT NULL CHECK (octet_length(secret) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sdp.auth_secret IS 'server pepper for API-key hashes; owner only, never exposed';
ALTER TABLE sdp.auth_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.auth_secret FORCE ROW LEVEL SECURITY;

-- C helpers (auth.cc). Owner only: they take the pepper as an argument.
CREATE FUNCTION sdp.sdp_auth_new_key() RETURNS text
  AS 'MODULE_PATHNAME', 'sdp_auth_new_key' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_auth_new_secret() RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_auth_new_secret' LANGUAGE C VOLATILE
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_auth_key_hash(secret bytea, api_key text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sdp_auth_key_hash' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION sdp.sdp_auth_match(secret bytea, api_key text, hashes bytea) RETURNS integer
  AS 'MODULE_PATHNAME', 'sdp_auth_match' LANGUAGE C IMMUTABLE STRICT
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION sdp.sdp_auth_new_key() IS 'new API key: sdp_ + 32 base64url characters (192 bits)';
COMMENT ON FUNCTION sdp.sdp_auth_key_hash(bytea, text) IS 'HMAC-SHA-256(pepper, api_key)';
COMMENT ON FUNCTION sdp.sdp_auth_match(bytea, text, bytea) IS
  '1-based position of HMAC(pepper, api_key) among concatenated 32-byte hashes, 0 if absent; constant time';

INSERT INTO sdp.auth_secret (id, secret) VALUES (1, sdp.sdp_auth_new_secret());
SELECT pg_catalog.pg_extension_config_dump('sdp.auth_secret', '');

-- Stored hashes are HMAC-SHA-256 outputs; sdp_auth_match relies on the fixed size.
ALTER TABLE sdp.api_client
  ADD CONSTRAINT api_client_key_hash_size CHECK (key_hash IS NULL OR octet_length(key_hash) = 32);

-- ---- Internal helpers ------------------------------------------------------------------------
-- Raises unless the caller is trusted and not acting as a client (managing keys is an operator
-- task; a client's request must never reach it).
CREATE FUNCTION sdp.sdp_require_admin() RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF sdp.sdp_auth_tenant() IS NOT NULL OR NOT sdp.sdp_caller_has_role('sdp_admin') THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = 'managing clients and API keys needs a superuser or a member of sdp_admin';
  END IF;
END
$$;

-- Validates a key supplied by an operator. The message never contains the key.
CREATE FUNCTION sdp.sdp_check_api_key(api_key text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_catalog.length(api_key) < 32 OR pg_catalog.length(api_key) > 256 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'an API key must have 32 to 256 characters',
      HINT = 'omit api_key to have a 192-bit key generated';
  END IF;
  IF api_key !~ '^[\x21-\x7e]+$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'an API key may only contain printable ASCII characters without spaces',
      HINT = 'it travels in an HTTP header (X-API-Key)';
  END IF;
END
$$;

CREATE FUNCTION sdp.sdp_check_client_id(client_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF client_id IS NULL OR client_id !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'invalid client_id: 1 to 64 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit';
  END IF;
END
$$;

-- The pepper (owner only; the callers are SECURITY DEFINER).
CREATE FUNCTION sdp.sdp_auth_pepper() RETURNS bytea
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT secret FROM sdp.auth_secret WHERE id = 1 $$;

-- Stores a new key for an existing or new client; returns the key. Refuses a key that another
-- client already uses (two clients with one key could not be told apart). key_prefix keeps the
-- first 6 characters only: "sdp_" and 2 random characters (12 of 192 bits) of a generated key,
-- 6 of at least 32 of a given one. It only helps a person tell keys apart; nothing looks a
-- client up by it (verification compares full HMACs), so it need not be unique.
CREATE FUNCTION sdp.sdp_store_key(p_client_id text, p_api_key text, p_create boolean) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pepper bytea := sdp.sdp_auth_pepper();
  v_others bytea;
BEGIN
  SELECT pg_catalog.string_agg(c.key_hash, ''::bytea) INTO v_others
    FROM sdp.api_client c WHERE c.client_id <> p_client_id AND c.key_hash IS NOT NULL;
  IF sdp.sdp_auth_match(v_pepper, p_api_key, coalesce(v_others, ''::bytea)) > 0 THEN
    PERFORM sdp._raise_conflict('this API key is already registered to another client',
      hint => 'every client needs its own key; omit api_key to have one generated');
  END IF;
  IF p_create THEN
    INSERT INTO sdp.api_client (client_id, key_hash, key_prefix)
    VALUES (p_client_id, sdp.sdp_auth_key_hash(v_pepper, p_api_key), pg_catalog.left(p_api_key, 6));
  ELSE
    UPDATE sdp.api_client
       SET key_hash = sdp.sdp_auth_key_hash(v_pepper, p_api_key),
           key_prefix = pg_catalog.left(p_api_key, 6),
           key_rotated_at = pg_catalog.now(),
           revoked_at = NULL
     WHERE client_id = p_client_id;
  END IF;
  RETURN p_api_key;
END
$$;

-- ---- Public (operator) API -------------------------------------------------------------------
CREATE FUNCTION sdp.sdp_create_client(client_id text, api_key text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_create_client.client_id;
  v_key text := sdp_create_client.api_key;
  v_row sdp.api_client%ROWTYPE;
BEGIN
  PERFORM sdp.sdp_require_admin();
  PERFORM sdp.sdp_check_client_id(v_client);
  IF v_key IS NULL THEN
    v_key := sdp.sdp_auth_new_key();
  ELSE
    PERFORM sdp.sdp_check_api_key(v_key);
  END IF;
  SELECT * INTO v_row FROM sdp.api_client c WHERE c.client_id = v_client FOR UPDATE;
  IF FOUND THEN
    -- Registering the same client with the same key again is a no-op (idempotent setup
    -- scripts); anything else is a conflict.
    IF sdp_create_client.api_key IS NOT NULL AND v_row.key_hash IS NOT NULL
       AND sdp.sdp_auth_match(sdp.sdp_auth_pepper(), v_key, v_row.key_hash) = 1 THEN
      RETURN v_key;
    END IF;
    PERFORM sdp._raise_conflict(format('client %s already exists', v_client),
                                hint => 'use sdp.sdp_rotate_key(client_id) to give it a new key');
  END IF;
  BEGIN
    RETURN sdp.sdp_store_key(v_client, v_key, true);
  EXCEPTION WHEN unique_violation THEN  -- created concurrently
    PERFORM sdp._raise_conflict(format('client %s already exists', v_client));
  END;
END
$$;
COMMENT ON FUNCTION sdp.sdp_create_client(text, text) IS
  'registers a client; returns its API key (generated when api_key is NULL), shown only this once';

CREATE FUNCTION sdp.sdp_rotate_key(client_id text, api_key text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_rotate_key.client_id;
  v_key text := sdp_rotate_key.api_key;
BEGIN
  PERFORM sdp.sdp_require_admin();
  IF v_key IS NULL THEN
    v_key := sdp.sdp_auth_new_key();
  ELSE
    PERFORM sdp.sdp_check_api_key(v_key);
  END IF;
  PERFORM 1 FROM sdp.api_client c WHERE c.client_id = v_client FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(v_client));
  END IF;
  RETURN sdp.sdp_store_key(v_client, v_key, false);
END
$$;
COMMENT ON FUNCTION sdp.sdp_rotate_key(text, text) IS
  'replaces a client''s API key (the old one stops working at commit); returns the new key';

CREATE FUNCTION sdp.sdp_revoke_key(client_id text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM sdp.sdp_require_admin();
  UPDATE sdp.api_client c SET key_hash = NULL, revoked_at = pg_catalog.now()
   WHERE c.client_id = sdp_revoke_key.client_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404',
      MESSAGE = format('unknown client %s', sdp._echo(sdp_revoke_key.client_id));
  END IF;
END
$$;
COMMENT ON FUNCTION sdp.sdp_revoke_key(text) IS
  'revokes a client''s API key; its data stays; sdp_rotate_key gives it a new one';

-- Verifies an API key and makes its client the tenant of the current transaction
-- (sdp.client_id, set LOCAL: it ends with the transaction, so a pooled PostgREST connection never
-- carries it into the next request). `client_id`, when given (X-Client-Id), must be the key's
-- client. Errors: PT401 missing/unknown/revoked key, PT403 key of a different client. Messages
-- never contain the key, and never name the client a key actually belongs to.
CREATE FUNCTION sdp.sdp_authenticate(api_key text, client_id text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ids text[];
  v_hashes bytea;
  v_pos integer;
  v_client text;
BEGIN
  IF api_key IS NULL OR api_key = '' THEN
    PERFORM sdp.sdp_metrics_count('sdp_auth_failures_total', 1);  -- 65_metrics.sql
    RAISE EXCEPTION USING ERRCODE = 'PT401', MESSAGE = 'missing API key',
      HINT = 'send the client''s key in the X-API-Key header';
  END IF;
  IF pg_catalog.length(api_key) <= 256 THEN
    SELECT pg_catalog.array_agg(c.client_id ORDER BY c.client_id),
           pg_catalog.string_agg(c.key_hash, ''::bytea ORDER BY c.client_id)
      INTO v_ids, v_hashes
      FROM sdp.api_client c
     WHERE c.key_hash IS NOT NULL AND c.revoked_at IS NULL;
    v_pos := sdp.sdp_auth_match(sdp.sdp_auth_pepper(), api_key, coalesce(v_hashes, ''::bytea));
  END IF;
  IF coalesce(v_pos, 0) = 0 THEN
    PERFORM sdp.sdp_metrics_count('sdp_auth_failures_total', 1);  -- 65_metrics.sql
    RAISE EXCEPTION USING ERRCODE = 'PT401', MESSAGE = 'invalid API key',
      HINT = 'the key is unknown or was revoked; ask the operator for a new one';
  END IF;
  v_client := v_ids[v_pos];
  IF sdp_authenticate.client_id IS NOT NULL AND sdp_authenticate.client_id <> v_client THEN
    PERFORM sdp.sdp_metrics_count('sdp_auth_failures_total', 1);  -- 65_metrics.sql
    RAISE EXCEPTION USING ERRCODE = 'PT403',
      MESSAGE = 'the API key does not belong to the client named in the request',
      HINT = 'X-Client-Id (or client_id) must be the client the key was issued to';
  END IF;
  PERFORM pg_catalog.set_config('sdp.client_id', v_client, true);
  RETURN v_client;
END
$$;
COMMENT ON FUNCTION sdp.sdp_authenticate(text, text) IS
  'verifies an API key (constant time) and sets the tenant of this transaction; PT401 / PT403';
