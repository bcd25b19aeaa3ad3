-- Row-level security on every tenant table (docs/security.md, "Row-level security").
--
-- ENABLE + FORCE on processing_batch, batch_chunk, tokenized_record, processed_result, api_client
-- (and model, for dev-only models). A client sees and changes only its own rows, even with plain
-- SQL as sdp_client; dev-only batches and models are invisible unless sdp.env = 'dev'.
--
-- The tenant comes from sdp.sdp_current_client(): a client id, NULL for a trusted caller (every
-- row), or PT401 for an unauthenticated one. It is wrapped in a scalar sub-select so PostgreSQL
-- evaluates it once per query (an InitPlan), not once per row.
--
-- The sdp_* functions are SECURITY DEFINER and owned by the superuser that created the
-- extension; superusers bypass RLS even when it is FORCEd, so those functions enforce the tenant
-- themselves (PT404 for another client's batch). FORCE still matters: should ownership ever move
-- to a non-superuser role, the owner is bound by the same policies, and the trusted (NULL) branch
-- keeps the owner path working.

ALTER TABLE sdp.processing_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.processing_batch FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.batch_chunk ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.batch_chunk FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.tokenized_record ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.tokenized_record FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.processed_result ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.processed_result FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.api_client ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.api_client FORCE ROW LEVEL SECURITY;
ALTER TABLE sdp.model ENABLE ROW LEVEL SECURITY;
ALTER TABLE sdp.model FORCE ROW LEVEL SECURITY;

-- A batch: the tenant's own, and dev-only ones only in dev. The same condition guards writes
-- (WITH CHECK), so a row cannot be moved to another client or turned dev-only outside dev.
CREATE POLICY batch_tenant ON sdp.processing_batch
  USING ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
         AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())))
  WITH CHECK ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
              AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));

-- Chunks, rows and results follow their batch: visible only when the batch is (the sub-select on
-- processing_batch is itself filtered by batch_tenant). Rows and results also carry client_id,
-- checked directly so a row can never claim another client.
CREATE POLICY chunk_tenant ON sdp.batch_chunk
  USING (EXISTS (SELECT 1 FROM sdp.processing_batch b WHERE b.batch_id = batch_chunk.batch_id))
  WITH CHECK (EXISTS (SELECT 1 FROM sdp.processing_batch b WHERE b.batch_id = batch_chunk.batch_id));

CREATE POLICY record_tenant ON sdp.tokenized_record
  USING ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
         AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                     WHERE b.batch_id = tokenized_record.batch_id AND b.client_id = tokenized_record.client_id))
  WITH CHECK ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
              AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                          WHERE b.batch_id = tokenized_record.batch_id AND b.client_id = tokenized_record.client_id));

CREATE POLICY result_tenant ON sdp.processed_result
  USING ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
         AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                     WHERE b.batch_id = processed_result.batch_id AND b.client_id = processed_result.client_id))
  WITH CHECK ((client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL)
              AND EXISTS (SELECT 1 FROM sdp.processing_batch b
                          WHERE b.batch_id = processed_result.batch_id AND b.client_id = processed_result.client_id));

-- A client sees its own registration (never the key hash: no column privilege, see below);
-- only trusted callers create, change or delete clients.
CREATE POLICY client_self ON sdp.api_client FOR SELECT
  USING (client_id = (SELECT sdp.sdp_current_client()) OR (SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY client_admin_insert ON sdp.api_client FOR INSERT
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY client_admin_update ON sdp.api_client FOR UPDATE
  USING ((SELECT sdp.sdp_current_client()) IS NULL)
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL);
CREATE POLICY client_admin_delete ON sdp.api_client FOR DELETE
  USING ((SELECT sdp.sdp_current_client()) IS NULL);

-- Models are not per client; dev-only ones exist only in dev. Writes: trusted callers only.
CREATE POLICY model_visible ON sdp.model FOR SELECT
  USING (NOT dev_only OR (SELECT sdp.sdp_is_dev()));
CREATE POLICY model_admin_insert ON sdp.model FOR INSERT
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));
CREATE POLICY model_admin_update ON sdp.model FOR UPDATE
  USING ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())))
  WITH CHECK ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));
CREATE POLICY model_admin_delete ON sdp.model FOR DELETE
  USING ((SELECT sdp.sdp_current_client()) IS NULL AND (NOT dev_only OR (SELECT sdp.sdp_is_dev())));

-- Table privileges are in 90_privileges.sql: nothing for PUBLIC; clients and staff read the
-- record, result and version tables only through the functions that check their integrity and
-- log the access. The policies above still bind any role that is ever given SELECT, and the owner.
