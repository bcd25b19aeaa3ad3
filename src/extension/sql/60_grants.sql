-- Function privileges, least privilege (docs/security.md, "Privileges"). Runs after every other
-- part of the install script: first nobody but the owner may execute anything in sdp or sdp_api,
-- then each role gets exactly what it needs. sql/auth.sql lists the result and fails when a new
-- function is left executable by PUBLIC.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sdp, sdp_api FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sdp.sdp_version() TO PUBLIC;  -- 00_schemas.sql: harmless, by design

GRANT USAGE ON SCHEMA sdp TO sdp_anon, sdp_client, sdp_admin;
GRANT USAGE ON SCHEMA sdp_api TO sdp_anon, sdp_client;

-- Tenant context: RLS policies call these as the querying role.
GRANT EXECUTE ON FUNCTION sdp.sdp_current_client(), sdp.sdp_auth_tenant(), sdp.sdp_is_dev(),
                          sdp.sdp_caller_role(), sdp.sdp_caller_is_trusted()
  TO sdp_anon, sdp_client, sdp_admin;

-- sdp_anon: what a request without a verified key may run. pre_request authenticates (as
-- sdp_anon, before the switch); health and readyz answer without a key.
GRANT EXECUTE ON FUNCTION sdp_api.pre_request(), sdp_api.health(), sdp_api.readyz(),
                          sdp.sdp_authenticate(text, text), sdp.sdp_health(), sdp.sdp_ready(),
                          sdp.sdp_api_header(text)
  TO sdp_anon;

-- sdp_client: the PostgREST surface and the tenant-checked SQL API (libpq clients use it
-- directly after sdp_authenticate). Each sdp_* function answers PT404 for other clients' batches.
GRANT EXECUTE ON FUNCTION
    sdp_api.pre_request(), sdp_api.health(), sdp_api.readyz(),
    sdp_api.process(jsonb, text, text, text, text), sdp_api.process_file(text),
    sdp_api.batch_open(text, text, text, text), sdp_api.batch_append(text),
    sdp_api.batch_seal(uuid, integer, text), sdp_api.batch_abort(uuid, text),
    sdp_api.process_batch(uuid),
    sdp_api.dev_process_batch(uuid), sdp_api.batch(uuid), sdp_api.results(uuid),
    sdp_api.results_csv(uuid),
    sdp.sdp_authenticate(text, text), sdp.sdp_health(), sdp.sdp_ready(),
    sdp.sdp_ingest_csv, sdp.sdp_ingest_json, sdp.sdp_batch_open, sdp.sdp_batch_append,
    sdp.sdp_batch_seal, sdp.sdp_batch_abort, sdp.sdp_process_batch, sdp.sdp_dev_process_batch, sdp.sdp_batch_status,
    sdp.sdp_results, sdp.sdp_results_csv,
    sdp.sdp_api_header(text), sdp.sdp_api_client(text), sdp.sdp_api_batch_id(uuid),
    sdp.sdp_api_status(integer), sdp.sdp_api_upload_response(sdp.sdp_batch),
    sdp.sdp_api_upload_json(sdp.sdp_batch),
    sdp.sdp_api_process_response(sdp.sdp_batch)
  TO sdp_client;

-- sdp_admin: the whole sdp_* API (acts for any client) and client/key management; not the
-- C internals that take the pepper, nor the error-bridge self-tests.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sdp TO sdp_admin;
REVOKE EXECUTE ON FUNCTION sdp.sdp_auth_new_secret(), sdp.sdp_auth_key_hash(bytea, text),
                           sdp.sdp_auth_match(bytea, text, bytea), sdp.sdp_auth_pepper(),
                           sdp.sdp_store_key(text, text, boolean),
                           sdp.sdp_selftest_throw(text, text, text, text),
                           sdp.sdp_selftest_throw_std(text), sdp.sdp_selftest_pg_error(text),
                           sdp.sdp_selftest_pg_error_rethrow(text), sdp.sdp_selftest_spin()
  FROM sdp_admin;
-- Internal helpers of the data path (sdp._*) skip the checks the public functions make.
DO $revoke$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'sdp'::regnamespace AND p.proname LIKE '\_%' LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM sdp_admin', f);
  END LOOP;
END
$revoke$;
