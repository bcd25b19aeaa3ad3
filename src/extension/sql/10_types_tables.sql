-- Types and tables shared by ingestion, processing, results and the guardrails.
-- Names of the seeds kept: processing_batch, tokenized_record, processed_result.

-- Not named like any function: sdp.sdp_batch_status('<uuid>') with an untyped literal is read as
-- a cast when a type has the function's name (sql/call_not_cast.sql checks every function).
CREATE TYPE sdp.batch_state AS ENUM ('UPLOADING', 'RECEIVED', 'PROCESSING', 'PROCESSED', 'FAILED');

-- Returned by every batch call (SQL and PostgREST).
CREATE TYPE sdp.sdp_batch AS (
  batch_id          uuid,
  client_id         text,
  processing_type   text,
  status            sdp.batch_state,
  accepted_records  bigint,
  processed_records bigint,
  model_version     text,
  created_at        timestamptz,
  processed_at      timestamptz,
  content_sha256    text
);

-- A client of the service. API keys are stored only as a hash (see 40_auth.sql).
CREATE TABLE sdp.api_client (
  client_id   text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  key_hash    bytea,            -- HMAC-SHA-256 of the key (NULL once revoked)
  key_prefix  text,             -- first 6 characters of the key, to tell keys apart
  created_at  timestamptz NOT NULL DEFAULT now(),
  key_rotated_at timestamptz,
  revoked_at  timestamptz
);

-- Model registry: which model scores which processing type.
CREATE TABLE sdp.model (
  name            text NOT NULL,
  version         text NOT NULL,
  processing_type text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('logistic')),
  features        text[] NOT NULL,
  params          jsonb NOT NULL,  -- logistic: {"weights":[...], "bias":x, "defaults":[...], "bands":{"medium":x,"high":y}}
  dev_only        boolean NOT NULL DEFAULT false,
  is_default      boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);
-- One default model per processing type and environment kind.
CREATE UNIQUE INDEX model_default_per_type ON sdp.model (processing_type, dev_only) WHERE is_default;

CREATE TABLE sdp.processing_batch (
  batch_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id         text NOT NULL REFERENCES sdp.api_client (client_id),
  processing_type   text NOT NULL CHECK (processing_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  key_column        text NOT NULL DEFAULT 'customer_id',
  status            sdp.batch_state NOT NULL DEFAULT 'UPLOADING',
  idempotency_key   text,
  columns           text[],            -- CSV header / JSON keys, in order
  accepted_records  bigint NOT NULL DEFAULT 0,
  processed_records bigint NOT NULL DEFAULT 0,
  received_bytes    bigint NOT NULL DEFAULT 0,
  model_version     text,
  content_sha256    text,
  dev_only          boolean NOT NULL DEFAULT false,
  error             text,              -- why a batch is FAILED
  chunks            integer NOT NULL DEFAULT 0,  -- chunks stored so far (chunked upload)
  hash_state        bytea,             -- running SHA-256 of the chunks while UPLOADING
  created_at        timestamptz NOT NULL DEFAULT now(),
  received_at       timestamptz,
  processed_at      timestamptz,
  UNIQUE (client_id, idempotency_key)
);
CREATE INDEX processing_batch_status ON sdp.processing_batch (status) WHERE status IN ('RECEIVED', 'PROCESSING');

-- Chunks of a resumable upload: the same (batch, seq) with the same hash is a no-op, with a
-- different hash a conflict.
CREATE TABLE sdp.batch_chunk (
  batch_id     uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  seq          integer NOT NULL CHECK (seq >= 0),
  chunk_sha256 text NOT NULL,
  bytes        bigint NOT NULL,
  records      bigint NOT NULL,
  first_row_no bigint NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (batch_id, seq)
);

-- One tokenized row. `fields` follows processing_batch.columns; record_key is the value of the
-- batch's key column (a token, never raw PII).
CREATE TABLE sdp.tokenized_record (
  batch_id   uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  row_no     bigint NOT NULL,
  client_id  text NOT NULL,
  record_key text NOT NULL,
  fields     text[] NOT NULL,
  PRIMARY KEY (batch_id, row_no)
);

CREATE TABLE sdp.processed_result (
  batch_id      uuid NOT NULL REFERENCES sdp.processing_batch (batch_id) ON DELETE CASCADE,
  row_no        bigint NOT NULL,
  client_id     text NOT NULL,
  record_key    text NOT NULL,
  score         double precision NOT NULL CHECK (score >= 0 AND score <= 1),
  risk_band     text NOT NULL CHECK (risk_band IN ('low', 'medium', 'high')),
  model_version text NOT NULL,
  defaulted_features integer NOT NULL DEFAULT 0,  -- features missing or non-numeric in the row
  PRIMARY KEY (batch_id, row_no)
);

-- pg_dump skips the contents of extension tables unless they are marked as configuration:
-- without this a dump of an SDP database would hold the schema and none of the data.
SELECT pg_catalog.pg_extension_config_dump('sdp.api_client', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.processing_batch', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.batch_chunk', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.tokenized_record', '');
SELECT pg_catalog.pg_extension_config_dump('sdp.processed_result', '');
