-- Privileges: every GRANT and REVOKE of the install script, in one place (docs/security.md,
-- "Privileges"; the role matrix: docs/governance.md, "Roles"). This file runs last, after every
-- object exists.
--
-- First nobody but the owner may use anything: a blanket revoke from PUBLIC of every function
-- and table (views included) in sdp and sdp_api, so a function added to any file starts
-- owner-only. Then one block per role, each a plain list of what that role may use; a new
-- function that a role needs is one line in its role's block (docs/style.md, "Adding a SQL
-- function"). sql/auth.sql and sql/governance_roles.sql check the result, and
-- test/upgrade/acl.sql prints every privilege to compare two installs.
--
-- Left as PostgreSQL creates them: sequences (owner-only by default; a REVOKE would only turn
-- their empty ACL into an explicit owner-only one) and types (USAGE for PUBLIC by default, which
-- row types and function signatures need). Role memberships (sdp_authenticator may switch to
-- sdp_anon and sdp_client) are made where the roles are created, 40_auth.sql; the analyst roles
-- an admin enables for the API are granted to it by sdp.sdp_api_enable_analyst (80_privacy.sql).

REVOKE ALL ON SCHEMA sdp, sdp_api FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sdp, sdp_api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA sdp, sdp_api FROM PUBLIC;

-- ---- PUBLIC: the library version, harmless by design ----------------------------------------
-- No USAGE on schema sdp for PUBLIC: a login holding none of the roles below has no business in
-- it (every role below gets USAGE of its own), so sdp_version() is for those roles.
GRANT EXECUTE ON FUNCTION sdp.sdp_version() TO PUBLIC;

-- ---- sdp_anon: a PostgREST request without a verified key ------------------------------------
-- pre_request authenticates (as sdp_anon, before the switch to sdp_client) and counts the
-- request; health, readyz and metrics answer without a key. The tenant-context functions are
-- what row-level security policies call as the querying role.
GRANT USAGE ON SCHEMA sdp, sdp_api TO sdp_anon;
GRANT EXECUTE ON FUNCTION
    sdp_api.pre_request(), sdp_api.health(), sdp_api.readyz(), sdp_api.metrics(),
    sdp.sdp_authenticate(text, text), sdp.sdp_health(), sdp.sdp_ready(),
    sdp.sdp_api_header(text), sdp._metrics_request(text),
    sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
    sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(), sdp.sdp_caller_has_role(name)
  TO sdp_anon;

-- ---- sdp_client: one verified client ---------------------------------------------------------
-- The PostgREST surface and the tenant-checked SQL API (libpq clients call it directly after
-- sdp_authenticate); each sdp_* function answers PT404 for other clients' batches. Reads its own
-- batches, chunks and the models (row-level security), never the record and result tables: rows
-- are read through sdp_results / sdp_results_csv, which check integrity and log the access.
GRANT USAGE ON SCHEMA sdp, sdp_api TO sdp_client;
GRANT EXECUTE ON FUNCTION
    sdp_api.pre_request(), sdp_api.health(), sdp_api.readyz(), sdp_api.metrics(),
    sdp_api.process(jsonb, text, text, text, text, jsonb), sdp_api.process_file(text),
    sdp_api.batch_open(text, text, text, text, jsonb), sdp_api.batch_append(text),
    sdp_api.batch_seal(uuid, integer, text), sdp_api.batch_abort(uuid, text),
    sdp_api.process_batch(uuid), sdp_api.dev_process_batch(uuid),
    sdp_api.batch(uuid), sdp_api.results(uuid), sdp_api.results_csv(uuid),
    sdp.sdp_authenticate(text, text), sdp.sdp_health(), sdp.sdp_ready(),
    sdp.sdp_ingest_csv(text, text, text, text, text, jsonb), sdp.sdp_ingest_json(text, text, jsonb, text, text, jsonb),
    sdp.sdp_batch_open(text, text, text, text, jsonb), sdp.sdp_batch_append(uuid, integer, text, text),
    sdp.sdp_batch_seal(uuid, integer, text), sdp.sdp_batch_abort(uuid, text),
    sdp.sdp_process_batch(uuid), sdp.sdp_dev_process_batch(uuid), sdp.sdp_batch_status(uuid),
    sdp.sdp_results(uuid), sdp.sdp_results_csv(uuid),
    sdp.sdp_api_header(text), sdp.sdp_api_client(text), sdp.sdp_api_batch_id(uuid),
    sdp.sdp_api_status(integer), sdp.sdp_api_upload_response(sdp.sdp_batch),
    sdp.sdp_api_upload_json(sdp.sdp_batch), sdp.sdp_api_process_response(sdp.sdp_batch),
    sdp._metrics_request(text),
    sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
    sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(), sdp.sdp_caller_has_role(name)
  TO sdp_client;
GRANT SELECT ON sdp.processing_batch, sdp.batch_chunk, sdp.model TO sdp_client;
GRANT SELECT (client_id, key_prefix, created_at, key_rotated_at, revoked_at) ON sdp.api_client
  TO sdp_client;

-- ---- sdp_admin: operators --------------------------------------------------------------------
-- The whole sdp_* API, acting for any client; clients and keys; holds, retention, erasure; the
-- audit and access logs; metrics. Not the internals (sdp._*, which skip the checks the public
-- functions make), not the C functions that take the pepper or the functions that read it, not
-- the error-bridge self-tests, and not the record, result and version tables (read through the
-- functions that log the access).
GRANT USAGE ON SCHEMA sdp TO sdp_admin;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_version(), sdp.sdp_health(), sdp.sdp_ready(), sdp.sdp_authenticate(text, text),
    sdp.sdp_create_client(text, text), sdp.sdp_rotate_key(text, text), sdp.sdp_revoke_key(text),
    sdp.sdp_require_admin(), sdp.sdp_check_api_key(text), sdp.sdp_check_client_id(text),
    sdp.sdp_auth_new_key(),
    sdp.sdp_ingest_csv(text, text, text, text, text, jsonb), sdp.sdp_ingest_json(text, text, jsonb, text, text, jsonb),
    sdp.sdp_batch_open(text, text, text, text, jsonb), sdp.sdp_batch_append(uuid, integer, text, text),
    sdp.sdp_batch_seal(uuid, integer, text), sdp.sdp_batch_abort(uuid, text),
    sdp.sdp_process_batch(uuid), sdp.sdp_dev_process_batch(uuid), sdp.sdp_batch_status(uuid),
    sdp.sdp_batch_counts(), sdp.sdp_score_logistic(float8[], float8[], float8),
    sdp.sdp_results(uuid), sdp.sdp_results_csv(uuid),
    sdp.sdp_records(uuid), sdp.sdp_record_id(uuid, bigint), sdp.sdp_record_history(text),
    sdp.sdp_update_record(text, jsonb), sdp.sdp_approve_version(bigint), sdp.sdp_reject_version(bigint),
    sdp.sdp_verify_integrity(uuid), sdp.sdp_integrity_failures_total(),
    sdp.sdp_audit_verify(), sdp.sdp_audit_head(), sdp.sdp_audit_verify_head(bigint, text),
    sdp.sdp_legal_hold(text, uuid, text), sdp.sdp_release_hold(text, uuid),
    sdp.sdp_set_retention(text, interval), sdp.sdp_purge_expired(timestamptz, integer),
    sdp.sdp_forget_batch(uuid), sdp.sdp_forget_client(text),
    sdp.sdp_metrics(), sdp.sdp_metrics_samples(), sdp._metrics_dp_datasets(),
    sdp.sdp_api_header(text), sdp.sdp_api_client(text), sdp.sdp_api_batch_id(uuid),
    sdp.sdp_api_status(integer), sdp.sdp_api_upload_response(sdp.sdp_batch),
    sdp.sdp_api_upload_json(sdp.sdp_batch), sdp.sdp_api_process_response(sdp.sdp_batch),
    sdp.sdp_dp_register(text, regclass, text, integer, numeric, numeric, integer, text),
    sdp.sdp_dp_register_batches(text, text, text, integer, numeric, numeric, jsonb),
    sdp.sdp_dp_grant(name, text, numeric, numeric), sdp.sdp_dp_public_values(text, text, text[]),
    sdp.sdp_api_enable_analyst(name), sdp.sdp_api_disable_analyst(name),
    sdp.sdp_dp_budget(text), sdp.sdp_dp_count(text, numeric, text, jsonb, numeric),
    sdp.sdp_dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_histogram(text, text, numeric[], numeric, jsonb),
    sdp.sdp_dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb),
    sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
    sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(), sdp.sdp_caller_has_role(name)
  TO sdp_admin;
GRANT SELECT ON sdp.processing_batch, sdp.batch_chunk, sdp.model,
                sdp.audit_log, sdp.access_log, sdp.integrity_failure, sdp.integrity_failures_total,
                sdp.legal_hold, sdp.retention_policy,
                sdp.metrics_batches, sdp.metrics_api_requests, sdp.metrics_pipeline, sdp.metrics_latency,
                sdp.dp_grant, sdp.dp_public_values, sdp.dp_ledger
  TO sdp_admin;
-- Not the bounding key: who knows it can tell which rows of a unit are dropped.
GRANT SELECT (name, relation, privacy_unit, max_rows_per_unit, epsilon_cap, delta_cap, epsilon_spent,
              delta_spent, sum_scale, row_identity, created_at) ON sdp.dp_dataset
  TO sdp_admin;
GRANT SELECT (client_id, key_prefix, created_at, key_rotated_at, revoked_at) ON sdp.api_client
  TO sdp_admin;

-- ---- sdp_engineer: upload and process for any client, read records and results, edit them ----
GRANT USAGE ON SCHEMA sdp TO sdp_engineer;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_ingest_csv(text, text, text, text, text, jsonb), sdp.sdp_ingest_json(text, text, jsonb, text, text, jsonb),
    sdp.sdp_batch_open(text, text, text, text, jsonb), sdp.sdp_batch_append(uuid, integer, text, text),
    sdp.sdp_batch_seal(uuid, integer, text), sdp.sdp_batch_abort(uuid, text),
    sdp.sdp_process_batch(uuid), sdp.sdp_dev_process_batch(uuid),
    sdp.sdp_batch_status(uuid), sdp.sdp_batch_counts(),
    sdp.sdp_records(uuid), sdp.sdp_record_id(uuid, bigint), sdp.sdp_record_history(text),
    sdp.sdp_results(uuid), sdp.sdp_results_csv(uuid),
    sdp.sdp_update_record(text, jsonb), sdp.sdp_approve_version(bigint), sdp.sdp_reject_version(bigint),
    sdp.sdp_verify_integrity(uuid), sdp.sdp_integrity_failures_total(),
    sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
    sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(), sdp.sdp_caller_has_role(name)
  TO sdp_engineer;

-- ---- sdp_analyst: read records and results; propose edits (pending, for an engineer) ----------
GRANT USAGE ON SCHEMA sdp TO sdp_analyst;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_batch_status(uuid), sdp.sdp_batch_counts(),
    sdp.sdp_records(uuid), sdp.sdp_record_id(uuid, bigint), sdp.sdp_record_history(text),
    sdp.sdp_results(uuid), sdp.sdp_results_csv(uuid),
    sdp.sdp_update_record(text, jsonb),
    sdp.sdp_verify_integrity(uuid), sdp.sdp_integrity_failures_total(),
    sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
    sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(), sdp.sdp_caller_has_role(name)
  TO sdp_analyst;

-- ---- sdp_auditor: read records, versions, the audit and access logs; change nothing ----------
GRANT USAGE ON SCHEMA sdp TO sdp_auditor;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_batch_status(uuid), sdp.sdp_batch_counts(),
    sdp.sdp_records(uuid), sdp.sdp_record_id(uuid, bigint), sdp.sdp_record_history(text),
    sdp.sdp_results(uuid), sdp.sdp_results_csv(uuid),
    sdp.sdp_verify_integrity(uuid), sdp.sdp_integrity_failures_total(),
    sdp.sdp_audit_verify(), sdp.sdp_audit_head(), sdp.sdp_audit_verify_head(bigint, text),
    sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
    sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(), sdp.sdp_caller_has_role(name)
  TO sdp_auditor;
GRANT SELECT ON sdp.audit_log, sdp.access_log, sdp.integrity_failure, sdp.integrity_failures_total,
                sdp.legal_hold, sdp.retention_policy, sdp.dp_ledger
  TO sdp_auditor;

-- ---- sdp_viewer: batch status and aggregate counts only --------------------------------------
GRANT USAGE ON SCHEMA sdp TO sdp_viewer;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_batch_status(uuid), sdp.sdp_batch_counts(), sdp.sdp_record_id(uuid, bigint),
    sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
    sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted(), sdp.sdp_caller_has_role(name)
  TO sdp_viewer;

-- ---- sdp_dp_analyst: differentially private statistics, never a dataset row ---------------
-- The query functions charge the grants the caller draws from (80_privacy.sql); its own ledger
-- rows through row-level security. The tenant-context functions are what that policy calls.
-- Over HTTP (an analyst's JWT, PostgREST switched to its role): pre_request, which counts the
-- request and admits the role (sdp._api_admit_analyst) to the dp_* functions only.
GRANT USAGE ON SCHEMA sdp, sdp_api TO sdp_dp_analyst;
GRANT EXECUTE ON FUNCTION
    sdp_api.pre_request(), sdp._metrics_request(text), sdp._api_admit_analyst(text),
    sdp.sdp_dp_budget(text), sdp.sdp_dp_count(text, numeric, text, jsonb, numeric),
    sdp.sdp_dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp.sdp_dp_histogram(text, text, numeric[], numeric, jsonb),
    sdp.sdp_dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb),
    sdp_api.dp_budget(text), sdp_api.dp_count(text, numeric, text, jsonb, numeric),
    sdp_api.dp_sum(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp_api.dp_avg(text, text, numeric, numeric, numeric, text, jsonb, numeric),
    sdp_api.dp_histogram(text, text, numeric[], numeric, jsonb),
    sdp_api.dp_quantiles(text, text, numeric, numeric, numeric[], numeric, jsonb),
    sdp.sdp_caller_role(), sdp.sdp_caller_has_role(name)
  TO sdp_dp_analyst;
GRANT SELECT ON sdp.dp_ledger TO sdp_dp_analyst;

-- ---- pg_monitor: the metrics exporter (postgres_exporter's custom queries) --------------------
GRANT USAGE ON SCHEMA sdp TO pg_monitor;
GRANT EXECUTE ON FUNCTION sdp.sdp_metrics(), sdp.sdp_metrics_samples(), sdp._metrics_dp_datasets() TO pg_monitor;
GRANT SELECT ON sdp.metrics_batches, sdp.metrics_api_requests, sdp.metrics_pipeline,
                sdp.metrics_latency
  TO pg_monitor;

-- ---- column classification and the PII firewall (82_firewall.sql) ---------------------------
-- Engineers and administrators reclassify columns; only administrators let a class through the
-- firewall. The classes (never values) are readable by the governance roles.
GRANT EXECUTE ON FUNCTION sdp.sdp_classify(text, text, text, text, uuid, text)
  TO sdp_admin, sdp_engineer;
GRANT EXECUTE ON FUNCTION sdp.sdp_firewall_allow(text, text, text) TO sdp_admin;
GRANT SELECT ON sdp.column_classes TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor;
GRANT SELECT ON sdp.firewall_allow TO sdp_admin, sdp_auditor;

-- ---- key rotation of stored tokens (84_rekey.sql) ------------------------------------------
-- A client rotates its own domains (PostgREST wrappers or the SQL API, tenant-checked);
-- engineers and administrators for any client. The rotation tables are read through the
-- functions only.
GRANT EXECUTE ON FUNCTION
    sdp_api.rekey_begin(text, integer, integer, text, text), sdp_api.rekey_tokens(uuid, text, integer),
    sdp_api.rekey_pairs(uuid, text), sdp_api.rekey_apply(uuid, integer), sdp_api.rekey_finish(uuid),
    sdp_api.token_versions(text, text), sdp_api.rekey_status(text, text)
  TO sdp_client;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_rekey_begin(text, text, integer, integer, text), sdp.sdp_rekey_tokens(uuid, text, integer),
    sdp.sdp_rekey_pairs(uuid, text), sdp.sdp_rekey_apply(uuid, integer), sdp.sdp_rekey_finish(uuid),
    sdp.sdp_token_versions(text, text), sdp.sdp_rekey_status(text, text)
  TO sdp_client, sdp_admin, sdp_engineer;
-- ---- the dashboard (86_dashboard.sql) ------------------------------------------------------------
-- Sign-in needs no key (sdp_anon). A dashboard token makes PostgREST switch to a governance role or
-- an enabled analyst role: pre_request runs as that role (sdp._api_admit_jwt admits it to the
-- dash_* functions), and each sdp_dash_* function checks the caller's dashboard capability itself.
-- Staff management and the JWT secret: administrators.
GRANT EXECUTE ON FUNCTION sdp_api.login(text, text), sdp.sdp_staff_login(text, text) TO sdp_anon;
GRANT USAGE ON SCHEMA sdp_api TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer;
GRANT EXECUTE ON FUNCTION
    sdp_api.pre_request(), sdp._metrics_request(text), sdp._api_admit_jwt(text),
    sdp_api.dash_me(), sdp_api.dash_overview(), sdp_api.dash_batches(text, text, integer, integer),
    sdp_api.dash_batch(uuid), sdp_api.dash_records(uuid, text, text, integer, integer, text),
    sdp_api.dash_record(text), sdp_api.dash_record_history(text),
    sdp_api.dash_record_update(text, jsonb), sdp_api.dash_record_decide(bigint, boolean),
    sdp_api.dash_audit(text, text, timestamptz, integer, text),
    sdp_api.dash_access_log(text, text, timestamptz, integer), sdp_api.dash_privacy(),
    sdp_api.dash_classification(), sdp_api.dash_compliance(), sdp_api.dash_logout(),
    sdp.sdp_dash_me(), sdp.sdp_dash_overview(), sdp.sdp_dash_batches(text, text, integer, integer),
    sdp.sdp_dash_batch(uuid), sdp.sdp_dash_records(uuid, text, text, integer, integer, text),
    sdp.sdp_dash_record(text), sdp.sdp_dash_record_history(text),
    sdp.sdp_dash_record_update(text, jsonb), sdp.sdp_dash_record_decide(bigint, boolean),
    sdp.sdp_dash_audit(text, text, timestamptz, integer, text),
    sdp.sdp_dash_access_log(text, text, timestamptz, integer), sdp.sdp_dash_privacy(),
    sdp.sdp_dash_classification(), sdp.sdp_dash_compliance(), sdp.sdp_dash_logout()
  TO sdp_admin, sdp_engineer, sdp_analyst, sdp_auditor, sdp_viewer, sdp_dp_analyst;
GRANT EXECUTE ON FUNCTION
    sdp.sdp_set_jwt_secret(text), sdp.sdp_staff_create(text, name, text),
    sdp.sdp_staff_set_password(text, text), sdp.sdp_staff_disable(text), sdp.sdp_staff_unlock(text)
  TO sdp_admin;
-- ---- scale-out on Citus (88_scale.sql) ----------------------------------------------------------
-- Distributing is an administrator's step.
GRANT EXECUTE ON FUNCTION sdp.sdp_distribute(integer) TO sdp_admin;
