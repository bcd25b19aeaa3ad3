-- Column classification and the PII firewall of the ingestion path (issue 19;
-- docs/pii_firewall.md).
--
-- Every upload may carry a manifest, a JSON object that declares for each column how the agent
-- transformed it and what it holds:
--   {"email": {"transform": "HASH", "class": "email"}, "phone": {"transform": "MASKED", ...}}
-- (transform HASH, RANDOM, FPE, FF1, FF3-1, MASKED or CLEAR; class a lowercase name such as
-- email, phone, payment_card, iban, us_ssn, not_pii; sensitivity optional). A column the manifest
-- does not name, and every column of an upload without a manifest, is CLEAR.
--
-- The loaders (sdp._load_csv / sdp._load_json, ingest.cc) check every cell against its column's
-- transform in C++ (src/common/pii/firewall.h): HASH and RANDOM cells must be tokens of their
-- shape, MASKED cells masks, CLEAR cells must hold no e-mail, card number (IIN + Luhn), IBAN
-- (mod 97), US SSN or phone number, obfuscated or not. FPE cells are not checked: a
-- format-preserving ciphertext looks like its plaintext by design. A hit refuses the whole upload
-- with SQLSTATE PT422 (HTTP 422), naming column, row and class, never the value; the error rolls
-- everything back, so nothing is stored. The refusal is counted in
-- sdp_pii_firewall_rejections_total{class}, written to the server log, and appended to the audit
-- log by a background worker in a transaction of its own (firewall.cc), since the caller's is
-- rolled back.
--
-- sdp.column_classification keeps the declared (source 'scan': the agent's scan and config) and
-- corrected (source 'manual', sdp_classify) class of each column of each batch or dataset:
-- classes only, never values. sdp.firewall_allow lists the (client, column, class) an
-- administrator let through (sdp_firewall_allow).

CREATE TABLE sdp.column_classification (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client_id      text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  batch_id       uuid REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  dataset        text CHECK (pg_catalog.length(dataset) BETWEEN 1 AND 63),
  column_name    text NOT NULL CHECK (pg_catalog.length(column_name) BETWEEN 1 AND 256),
  transform      text NOT NULL
                 CHECK (transform IN ('CLEAR', 'HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1', 'MASKED')),
  class          text NOT NULL CHECK (class ~ '^[a-z][a-z0-9_]{0,62}$'),
  sensitivity    text NOT NULL
                 CHECK (sensitivity IN ('public', 'internal', 'confidential', 'restricted')),
  source         text NOT NULL CHECK (source IN ('scan', 'manual')),
  classified_by  text NOT NULL,  -- the calling role (sdp.sdp_caller_role())
  classified_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CHECK ((batch_id IS NULL) <> (dataset IS NULL))
);
COMMENT ON TABLE sdp.column_classification IS
  'class, sensitivity and transform of each column of a batch or dataset (no values)';
CREATE UNIQUE INDEX column_classification_batch ON sdp.column_classification (batch_id, column_name)
  WHERE batch_id IS NOT NULL;
CREATE UNIQUE INDEX column_classification_dataset
  ON sdp.column_classification (client_id, dataset, column_name) WHERE dataset IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('sdp.column_classification', '');

CREATE TABLE sdp.firewall_allow (
  client_id   text NOT NULL REFERENCES sdp.api_client (client_id) ON DELETE CASCADE,
  column_name text NOT NULL CHECK (pg_catalog.length(column_name) BETWEEN 1 AND 256),
  class       text NOT NULL CHECK (class IN ('email', 'payment_card', 'iban', 'us_ssn', 'phone',
                                             'token_shape', 'mask_shape')),
  allowed_by  text NOT NULL,
  allowed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (client_id, column_name, class)
);
COMMENT ON TABLE sdp.firewall_allow IS
  'columns of a client the PII firewall lets through for one class (sdp_firewall_allow)';
SELECT pg_catalog.pg_extension_config_dump('sdp.firewall_allow', '');

-- The sensitivity a class gets when the manifest or sdp_classify does not say. The names are
-- those of sdp-agent scan (src/agent/scan/pii_class.h) and a few generic ones.
CREATE FUNCTION sdp._class_sensitivity(class text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN class IN ('payment_card', 'iban', 'us_ssn', 'national_id', 'de_tax_id', 'fr_nir',
                   'nl_bsn', 'es_dni', 'it_codice_fiscale', 'pl_pesel') THEN 'restricted'
    WHEN class IN ('email', 'phone', 'person_name', 'postal_address', 'date_of_birth',
                   'ip_address', 'ipv4', 'ipv6', 'free_text', 'free_text_pii', 'identifier')
      THEN 'confidential'
    WHEN class IN ('not_pii', 'unclassified') THEN 'internal'
    ELSE 'confidential' END
$$;

-- The rows a manifest declares: 22023 naming the column for anything malformed.
CREATE FUNCTION sdp._manifest_entries(manifest jsonb)
RETURNS TABLE(column_name text, transform text, class text, sensitivity text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text;
  v jsonb;
  t text;
  c text;
  s text;
BEGIN
  IF manifest IS NULL OR manifest = 'null'::jsonb THEN
    RETURN;
  END IF;
  IF pg_catalog.jsonb_typeof(manifest) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'manifest must be a JSON object: {"column": {"transform": "HASH", "class": "email"}, ...}';
  END IF;
  FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(manifest) e ORDER BY e.key LOOP
    IF pg_catalog.length(k) NOT BETWEEN 1 AND 256 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'manifest: a column name has 1 to 256 characters';
    END IF;
    IF pg_catalog.jsonb_typeof(v) <> 'object' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" must map to an object {"transform", "class"}', sdp._echo(k));
    END IF;
    t := pg_catalog.upper(v ->> 'transform');
    IF t IS NULL OR t NOT IN ('CLEAR', 'HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1', 'MASKED') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has transform "%s"; expected HASH, RANDOM, FPE, FF1, FF3-1, MASKED or CLEAR',
                         sdp._echo(k), sdp._echo(coalesce(v ->> 'transform', '')));
    END IF;
    c := coalesce(v ->> 'class', CASE WHEN t = 'CLEAR' THEN 'unclassified' ELSE 'identifier' END);
    IF c !~ '^[a-z][a-z0-9_]{0,62}$' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has class "%s"; a class is lowercase letters, digits and _ (e.g. email)',
                         sdp._echo(k), sdp._echo(c));
    END IF;
    -- The key that made the column (issue 21, 84_rekey.sql): optional, checked when present.
    IF v ? 'domain' AND (pg_catalog.jsonb_typeof(v -> 'domain') <> 'string'
                         OR (v ->> 'domain') !~ '^[A-Za-z0-9_.:-]{1,128}$') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has domain "%s"; a domain is 1 to 128 of A-Z a-z 0-9 _ . : -',
                         sdp._echo(k), sdp._echo(coalesce(v ->> 'domain', '')));
    END IF;
    IF v ? 'key_version' AND (pg_catalog.jsonb_typeof(v -> 'key_version') <> 'number'
                              OR (v ->> 'key_version') !~ '^[0-9]{1,2}$'
                              OR (v ->> 'key_version')::integer NOT BETWEEN 1 AND 61) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has key_version %s; expected an integer from 1 to 61',
                         sdp._echo(k), sdp._echo((v -> 'key_version')::text));
    END IF;
    IF v ? 'key_id' AND (pg_catalog.jsonb_typeof(v -> 'key_id') <> 'string'
                         OR (v ->> 'key_id') !~ '^[0-9a-f]{8}$') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has key_id "%s"; expected 8 lowercase hex digits',
                         sdp._echo(k), sdp._echo(coalesce(v ->> 'key_id', (v -> 'key_id')::text)));
    END IF;
    IF (v ? 'domain' OR v ? 'key_version' OR v ? 'key_id')
       AND t NOT IN ('HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" is %s; domain, key_version and key_id are for HASH, RANDOM and FPE columns',
                         sdp._echo(k), t);
    END IF;
    s := coalesce(v ->> 'sensitivity', sdp._class_sensitivity(c));
    IF s NOT IN ('public', 'internal', 'confidential', 'restricted') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('manifest: column "%s" has sensitivity "%s"; expected public, internal, confidential or restricted',
                         sdp._echo(k), sdp._echo(s));
    END IF;
    column_name := k;
    transform := t;
    class := c;
    sensitivity := s;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Stores the manifest of a new batch as its classification (source 'scan'), before any row is
-- loaded: the firewall reads the transforms from there (sdp._firewall_spec). The tokenized
-- columns also get their domain and key (sdp.batch_column_key, 84_rekey.sql; version 1 and no
-- key id when the manifest does not say). PL/pgSQL: that table is created after this file.
CREATE FUNCTION sdp._store_manifest(p_client text, p_batch uuid, p_manifest jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO sdp.column_classification (client_id, batch_id, column_name, transform, class,
                                         sensitivity, source, classified_by)
  SELECT p_client, p_batch, m.column_name, m.transform, m.class, m.sensitivity, 'scan',
         sdp.sdp_caller_role()
    FROM sdp._manifest_entries(p_manifest) m;
  INSERT INTO sdp.batch_column_key (batch_id, column_name, client_id, transform, domain, key_version, key_id)
  SELECT p_batch, m.column_name, p_client, m.transform, p_manifest -> m.column_name ->> 'domain',
         coalesce((p_manifest -> m.column_name ->> 'key_version')::integer, 1),
         p_manifest -> m.column_name ->> 'key_id'
    FROM sdp._manifest_entries(p_manifest) m
   WHERE m.transform IN ('HASH', 'RANDOM', 'FPE', 'FF1', 'FF3-1');
END
$$;

-- Once the columns of a batch are known (whole upload, or chunk 0): every column the manifest
-- named must exist (22023), and the columns it did not name are recorded as CLEAR.
CREATE FUNCTION sdp._classify_columns(p_client text, p_batch uuid, p_columns text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_missing text;
BEGIN
  SELECT c.column_name INTO v_missing
    FROM sdp.column_classification c
   WHERE c.batch_id = p_batch AND NOT (c.column_name = ANY (p_columns))
   ORDER BY c.column_name LIMIT 1;
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('manifest names column "%s", which the upload does not have; available columns: %s',
                       sdp._echo(v_missing), sdp._echo(pg_catalog.array_to_string(p_columns, ', '))),
      HINT = 'the manifest describes the columns of this upload (header or JSON keys)';
  END IF;
  INSERT INTO sdp.column_classification (client_id, batch_id, column_name, transform, class,
                                         sensitivity, source, classified_by)
  SELECT p_client, p_batch, u.col, 'CLEAR', 'unclassified', 'internal', 'scan', sdp.sdp_caller_role()
    FROM pg_catalog.unnest(p_columns) AS u(col)
   WHERE NOT EXISTS (SELECT 1 FROM sdp.column_classification c
                      WHERE c.batch_id = p_batch AND c.column_name = u.col)
  ON CONFLICT DO NOTHING;
END
$$;

-- What the loaders check, flattened for C++: [column, transform, allowed classes (comma
-- separated)] for every column the batch declared or the client has an allowance for. A column
-- not listed is CLEAR with nothing allowed.
CREATE FUNCTION sdp._firewall_spec(p_client text, p_batch uuid) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(pg_catalog.array_agg(u.e ORDER BY s.column_name, u.i), '{}')
    FROM (SELECT column_name,
                 ARRAY[column_name, coalesce(d.transform, 'CLEAR'), coalesce(a.classes, '')] AS arr
            FROM (SELECT c.column_name, c.transform FROM sdp.column_classification c
                   WHERE c.batch_id = p_batch) d
            FULL JOIN (SELECT f.column_name, pg_catalog.string_agg(f.class, ',' ORDER BY f.class) AS classes
                         FROM sdp.firewall_allow f WHERE f.client_id = p_client
                        GROUP BY f.column_name) a USING (column_name)) s,
         pg_catalog.unnest(s.arr) WITH ORDINALITY AS u(e, i)
$$;

-- Called by the C++ loader on a refusal, in a background worker's own transaction (the caller's
-- is rolled back by the PT422 that follows): the audit entry names the client, batch, column,
-- row and class, never the value.
CREATE FUNCTION sdp._firewall_audit(p_actor text, p_login text, p_client text, p_batch text,
                                    p_column text, p_row bigint, p_class text, p_transform text)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sdp._audit_as(p_actor, p_login, p_client, 'firewall.refused', p_batch,
                       pg_catalog.jsonb_build_object('column', sdp._echo(p_column), 'row', p_row,
                                                     'class', p_class, 'transform', p_transform))
$$;

-- sdp_classify: an engineer (or admin) sets the class (and sensitivity) of a column of a batch or
-- of a dataset. Audited; returns the classification row's id.
CREATE FUNCTION sdp.sdp_classify(client_id text, column_name text, class text,
                                 sensitivity text DEFAULT NULL, batch_id uuid DEFAULT NULL,
                                 dataset text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_client text := sdp_classify.client_id;
  v_column text := sdp_classify.column_name;
  v_class text := sdp_classify.class;
  v_sens text := coalesce(sdp_classify.sensitivity, sdp._class_sensitivity(sdp_classify.class));
  v_batch uuid := sdp_classify.batch_id;
  v_dataset text := sdp_classify.dataset;
  v_old sdp.column_classification;
  v_id bigint;
BEGIN
  PERFORM sdp._require_capability('engineer', 'classify');
  IF (v_batch IS NULL) = (v_dataset IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of batch_id or dataset';
  END IF;
  IF v_column IS NULL OR pg_catalog.length(v_column) NOT BETWEEN 1 AND 256 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'column_name has 1 to 256 characters';
  END IF;
  IF v_class IS NULL OR v_class !~ '^[a-z][a-z0-9_]{0,62}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('class "%s" is not a class name (lowercase letters, digits and _, e.g. email)',
                       sdp._echo(coalesce(v_class, ''))),
      HINT = 'e.g. the classes of sdp-agent scan: email, phone, payment_card, iban, us_ssn, de_tax_id, fr_nir, nl_bsn, es_dni, it_codice_fiscale, pl_pesel, ipv4, ipv6, date_of_birth, person_name, postal_address, free_text_pii, not_pii';
  END IF;
  IF v_sens NOT IN ('public', 'internal', 'confidential', 'restricted') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('sensitivity "%s" is not public, internal, confidential or restricted', sdp._echo(v_sens));
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = v_client) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(coalesce(v_client, '')));
  END IF;
  IF v_batch IS NOT NULL THEN
    IF NOT EXISTS (SELECT 1 FROM sdp.processing_batch b
                    WHERE b.batch_id = v_batch AND b.client_id = v_client) THEN
      RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('batch %s of client %s not found', v_batch, sdp._echo(v_client));
    END IF;
    SELECT * INTO v_old FROM sdp.column_classification c
     WHERE c.batch_id = v_batch AND c.column_name = v_column FOR UPDATE;
    IF v_old.id IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'PT404',
        MESSAGE = format('batch %s has no column "%s"', v_batch, sdp._echo(v_column));
    END IF;
    UPDATE sdp.column_classification c
       SET class = v_class, sensitivity = v_sens, source = 'manual',
           classified_by = sdp.sdp_caller_role(), classified_at = pg_catalog.clock_timestamp()
     WHERE c.id = v_old.id
    RETURNING c.id INTO v_id;
  ELSE
    SELECT * INTO v_old FROM sdp.column_classification c
     WHERE c.client_id = v_client AND c.dataset = v_dataset AND c.column_name = v_column FOR UPDATE;
    INSERT INTO sdp.column_classification AS c (client_id, dataset, column_name, transform, class,
                                                sensitivity, source, classified_by)
    VALUES (v_client, v_dataset, v_column, coalesce(v_old.transform, 'CLEAR'), v_class, v_sens,
            'manual', sdp.sdp_caller_role())
    ON CONFLICT (client_id, dataset, column_name) WHERE dataset IS NOT NULL
    DO UPDATE SET class = EXCLUDED.class, sensitivity = EXCLUDED.sensitivity, source = 'manual',
                  classified_by = EXCLUDED.classified_by, classified_at = pg_catalog.clock_timestamp()
    RETURNING c.id INTO v_id;
  END IF;
  PERFORM sdp._audit('column.classify', coalesce(v_batch::text, v_dataset),
                     pg_catalog.jsonb_build_object('client', v_client, 'column', sdp._echo(v_column),
                                                   'class', v_class, 'sensitivity', v_sens,
                                                   'previous_class', v_old.class,
                                                   'previous_sensitivity', v_old.sensitivity));
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION sdp.sdp_classify(text, text, text, text, uuid, text) IS
  'sets the class and sensitivity of a column of a batch or dataset (engineer/admin, audited)';

-- sdp_firewall_allow: an administrator lets one class through in one column of one client's
-- uploads (a column of account numbers that pass Luhn, say). Audited; true when it is new.
CREATE FUNCTION sdp.sdp_firewall_allow(client_id text, column_name text, class text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_client text := sdp_firewall_allow.client_id;
  v_column text := sdp_firewall_allow.column_name;
  v_class text := sdp_firewall_allow.class;
  v_new boolean;
BEGIN
  PERFORM sdp._require_capability('admin', 'firewall_allow');
  IF v_column IS NULL OR pg_catalog.length(v_column) NOT BETWEEN 1 AND 256 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'column_name has 1 to 256 characters';
  END IF;
  IF v_class IS NULL OR v_class NOT IN ('email', 'payment_card', 'iban', 'us_ssn', 'phone',
                                        'token_shape', 'mask_shape') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('class "%s" is not one the firewall refuses', sdp._echo(coalesce(v_class, ''))),
      HINT = 'one of email, payment_card, iban, us_ssn, phone, token_shape, mask_shape';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sdp.api_client c WHERE c.client_id = v_client) THEN
    RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('unknown client %s', sdp._echo(coalesce(v_client, '')));
  END IF;
  INSERT INTO sdp.firewall_allow (client_id, column_name, class, allowed_by)
  VALUES (v_client, v_column, v_class, sdp.sdp_caller_role())
  ON CONFLICT DO NOTHING;
  v_new := FOUND;
  PERFORM sdp._audit('firewall.allow', v_client,
                     pg_catalog.jsonb_build_object('column', sdp._echo(v_column), 'class', v_class,
                                                   'new', v_new));
  RETURN v_new;
END
$$;
COMMENT ON FUNCTION sdp.sdp_firewall_allow(text, text, text) IS
  'lets the PII firewall accept one class in one column of a client''s uploads (admin, audited)';

-- Governance view: the class of every column of every batch and dataset (no values).
CREATE VIEW sdp.column_classes AS
  SELECT c.client_id, c.batch_id, c.dataset, c.column_name, c.transform, c.class, c.sensitivity,
         c.source, c.classified_by, c.classified_at
    FROM sdp.column_classification c;
COMMENT ON VIEW sdp.column_classes IS
  'class, sensitivity and transform of each column of each batch or dataset (governance)';
