-- Privileges of the governance roles (docs/governance.md, "Roles"). Runs after 60_grants.sql and
-- every governance file: functions created after 60_grants.sql start executable by PUBLIC, so
-- that is revoked first for each of ours (by name: objects that are not ours are left alone),
-- then each role gets exactly its column of the role matrix (sql/governance_roles.sql checks
-- every cell).
DO $revoke$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'sdp'::regnamespace
              AND p.proname = ANY (ARRAY[
                '_caller_can', '_require_capability', 'sdp_batch_counts',
                '_audit_refuse_change', '_audit_canonical', '_audit', 'sdp_audit_verify', '_access',
                'sdp_audit_head', 'sdp_audit_verify_head',
                '_audit_batch', '_audit_client',
                '_integrity_key', '_record_mac', '_result_mac', '_record_ok', '_result_ok',
                '_count_integrity_failures', '_audited_counts', '_check_batch_integrity', 'sdp_verify_integrity',
                'sdp_integrity_failures_total',
                '_parse_record_id', 'sdp_record_id', '_lock_record', '_current_version', '_apply_version',
                'sdp_update_record', '_decide_version', 'sdp_approve_version', 'sdp_reject_version',
                'sdp_record_history', 'sdp_records',
                '_is_held', '_refuse_held_delete', '_refuse_truncate_under_hold', 'sdp_legal_hold', 'sdp_release_hold',
                'sdp_set_retention', '_delete_batch', 'sdp_purge_expired', 'sdp_forget_batch',
                'sdp_forget_client']) LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$revoke$;

GRANT USAGE ON SCHEMA sdp TO sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;

-- Tenant context, as for the existing roles: policies and functions ask these as the caller.
GRANT EXECUTE ON FUNCTION sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
                          sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(),
                          sdp.sdp_caller_has_role(name)
  TO sdp_anon, sdp_client, sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;

-- Everybody on staff: batch status and aggregate counts.
GRANT EXECUTE ON FUNCTION sdp.sdp_batch_status(uuid), sdp.sdp_batch_counts(), sdp.sdp_record_id(uuid, bigint)
  TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;

-- Readers of records and results (not the viewer).
GRANT EXECUTE ON FUNCTION sdp.sdp_records(uuid), sdp.sdp_record_history(text),
                          sdp.sdp_results(uuid), sdp.sdp_results_csv(uuid),
                          sdp.sdp_verify_integrity(uuid), sdp.sdp_integrity_failures_total()
  TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor;

-- Editing: engineers apply, analysts propose (decided inside sdp_update_record).
GRANT EXECUTE ON FUNCTION sdp.sdp_update_record(text, jsonb) TO sdp_admin, sdp_engineer, sdp_analyst;
GRANT EXECUTE ON FUNCTION sdp.sdp_approve_version(bigint), sdp.sdp_reject_version(bigint)
  TO sdp_admin, sdp_engineer;

-- Engineers upload and process for any client.
GRANT EXECUTE ON FUNCTION sdp.sdp_ingest_csv, sdp.sdp_ingest_json, sdp.sdp_batch_open,
                          sdp.sdp_batch_append, sdp.sdp_batch_seal, sdp.sdp_batch_abort,
                          sdp.sdp_process_batch,
                          sdp.sdp_dev_process_batch
  TO sdp_engineer;

-- Audit: the log, its verification and the access log (auditor and admin).
GRANT EXECUTE ON FUNCTION sdp.sdp_audit_verify(), sdp.sdp_audit_head(),
                          sdp.sdp_audit_verify_head(bigint, text)
  TO sdp_admin, sdp_auditor;
GRANT SELECT ON sdp.audit_log, sdp.access_log TO sdp_admin, sdp_auditor;
-- Not sdp.record_version: it holds every version's fields, so like the record and result tables
-- it is read through sdp_record_history(), which access-logs the read (76_audit.sql).
GRANT SELECT ON sdp.integrity_failure, sdp.integrity_failures_total TO sdp_admin, sdp_auditor;
GRANT SELECT ON sdp.legal_hold, sdp.retention_policy TO sdp_admin, sdp_auditor;

-- Admin only: holds, retention, purge, erasure.
GRANT EXECUTE ON FUNCTION sdp.sdp_legal_hold(text, uuid, text), sdp.sdp_release_hold(text, uuid),
                          sdp.sdp_set_retention(text, interval),
                          sdp.sdp_purge_expired(timestamptz, integer),
                          sdp.sdp_forget_batch(uuid), sdp.sdp_forget_client(text)
  TO sdp_admin;

-- Nobody writes the governance tables directly; the internals (sdp._*, the key) stay owner-only.
