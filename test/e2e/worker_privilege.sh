#!/usr/bin/env bash
# A superuser runs SQL inside databases whose owner need not be one: CREATE EXTENSION sdp, and
# the background worker in every database it visits. In PostgreSQL 15 such an owner may create
# objects in `public` and set per-database defaults. The owner here plants:
#  1. before the extension exists, public.format(text, text), which the install script's calls
#     of format() would resolve to, then a superuser installs the extension;
#  2. afterwards, exact-match `=` operators in `public` for the batch status enum (found from the
#     catalog) and for name, text and uuid, and makes `public` the first schema of the
#     database's search_path; then the worker processes two batches.
# Every planted function records that it ran and tries `ALTER ROLE <owner> SUPERUSER`.
# Expected: the batches are processed, nothing planted ever ran, the owner is not a superuser.
source "$(dirname "$0")/lib.sh"
owner=sdp_e2e_dbowner
db=sdp_e2e_worker_priv
# This script's own superuser sessions never have `public` in their path: the operators planted
# below must not fire in them either.
export PGOPTIONS="-c search_path=pg_catalog,pg_temp -c client_min_messages=warning"
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

reset_worker() {
  q -d postgres -c "ALTER SYSTEM RESET sdp.auto_process" -c "ALTER SYSTEM RESET sdp.worker_naptime" \
    -c "ALTER SYSTEM RESET sdp.worker_databases" -c "SELECT pg_catalog.pg_reload_conf()" >/dev/null 2>&1 || true
}
drop_owner() {
  q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $owner" >/dev/null 2>&1 || true
}
e2e_at_exit drop_owner
e2e_at_exit reset_worker

drop_owner
q -d postgres -c "CREATE ROLE $owner LOGIN NOSUPERUSER NOCREATEROLE" -c "CREATE DATABASE $db OWNER $owner"
# The attacker: owner of the database, no other privilege. SET ROLE keeps the test free of
# passwords; every `SET ROLE $owner` block runs with the owner's rights only.
#
# First, before the extension exists: a public.format(text, text), an exact match where
# pg_catalog only has format(text, VARIADIC "any"). The install script calls format() in DO
# blocks; it runs as the superuser that installs the extension, with the session's search_path
# (public), unless the script pins its own.
q -d "$db" <<SQL || fail "the database owner could not plant format()"
SET ROLE $owner;
CREATE TABLE public.planted_ran (who text, arg_type text, at timestamptz DEFAULT pg_catalog.now());
GRANT INSERT ON public.planted_ran TO PUBLIC;
CREATE FUNCTION public.format(a text, b text) RETURNS text LANGUAGE plpgsql AS \$f\$
BEGIN
  INSERT INTO public.planted_ran (who, arg_type) VALUES (pg_catalog.current_user(), 'format(text, text)');
  BEGIN
    EXECUTE 'ALTER ROLE $owner SUPERUSER';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN pg_catalog.format(a, b);
END
\$f\$;
SQL
# The extension is installed by a superuser (sdp.control: superuser = true), in a session with
# the default search_path, as an operator would.
PGOPTIONS="-c client_min_messages=warning" psql -XAtq -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION sdp" ||
  fail "CREATE EXTENSION"
q -d "$db" -c "SELECT sdp.sdp_create_client('bank_demo')" >/dev/null
ran=$(q -d "$db" -c "SELECT pg_catalog.string_agg(DISTINCT who || ' for ' || arg_type, ', ') FROM public.planted_ran")
[[ -z "$ran" ]] || fail "CREATE EXTENSION ran the owner's planted function as: $ran"
[[ $(q -d postgres -c "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) '$owner'") == f ]] ||
  fail "the database owner made itself SUPERUSER through CREATE EXTENSION"
pass "CREATE EXTENSION by a superuser does not run the database owner's public.format(text, text)"

# Then, with the extension installed: `=` for the status enum and for name, text, uuid.
status_type=$(q -d "$db" -c "SELECT a.atttypid::pg_catalog.regtype FROM pg_catalog.pg_attribute a
  WHERE a.attrelid OPERATOR(pg_catalog.=) 'sdp.processing_batch'::pg_catalog.regclass
    AND a.attname OPERATOR(pg_catalog.=) 'status'")
[[ -n "$status_type" ]] || fail "status column of sdp.processing_batch not found"
plant() {  # $1: argument type
  cat <<SQL
CREATE FUNCTION public.planted_eq(a $1, b $1) RETURNS boolean LANGUAGE plpgsql AS \$f\$
BEGIN
  INSERT INTO public.planted_ran (who, arg_type) VALUES (pg_catalog.current_user(), '$1');
  BEGIN
    EXECUTE 'ALTER ROLE $owner SUPERUSER';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN a::pg_catalog.text OPERATOR(pg_catalog.=) b::pg_catalog.text;
END
\$f\$;
CREATE OPERATOR public.= (LEFTARG = $1, RIGHTARG = $1, FUNCTION = public.planted_eq);
SQL
}
# PUBLIC has no USAGE on schema sdp, so an owner holding no sdp role cannot even name the enum
# (sql/privilege_attacks.sql). An owner that also holds one (any sdp role carries USAGE) can:
# give it USAGE so the worker's own defence is what is tested below.
if q -d "$db" -c "SET ROLE $owner" -c "$(plant "$status_type")" >/dev/null 2>"$e2e_work/plant.err"; then
  fail "a database owner without USAGE on schema sdp planted an operator for $status_type"
fi
grep -q 'permission denied for schema sdp' "$e2e_work/plant.err" || fail "plant without USAGE: $(cat "$e2e_work/plant.err")"
q -d "$db" -c "GRANT USAGE ON SCHEMA sdp TO $owner"
q -d "$db" <<SQL || fail "the database owner could not plant its operators"
SET ROLE $owner;
$(plant "$status_type")
$(plant pg_catalog.name)
$(plant pg_catalog.text)
$(plant pg_catalog.uuid)
ALTER DATABASE $db SET search_path = public, pg_catalog;
SQL
[[ $(q -d postgres -c "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) '$owner'") == f ]] ||
  fail "owner is a superuser before the worker ran"
# The trap is armed: a superuser session that uses the database's search_path runs the planted
# function (which is what the worker did before it pinned its search_path).
PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d "$db" \
  -c "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'sdp'" >/dev/null
[[ $(q -d "$db" -c "SELECT pg_catalog.count(*) FROM public.planted_ran") -ge 1 ]] ||
  fail "control: the planted operator did not fire in a session with the database's search_path"
q -d "$db" -c "TRUNCATE public.planted_ran" -c "ALTER ROLE $owner NOSUPERUSER"
pass "a database owner cannot name $status_type without USAGE on sdp; with it, it can plant public.= for $status_type, name, text, uuid and set the database's search_path"

# Batches for the worker: one good, one whose model is broken (FAILED).
good=$(q -d "$db" -c "SELECT batch_id FROM sdp.sdp_ingest_csv('bank_demo', 'risk_scoring', E'customer_id,age\\nc1,20\\nc2,70\\n')")
q -d "$db" -c "INSERT INTO sdp.model (name, version, processing_type, kind, features, params, is_default)
  VALUES ('broken_v1', '1', 'broken', 'logistic', ARRAY['age'], '{\"bias\": 0}', true)"
nomodel=$(q -d "$db" -c "SELECT batch_id FROM sdp.sdp_ingest_csv('bank_demo', 'broken', E'customer_id,age\\nc1,20\\n')")
[[ -n "$good" && -n "$nomodel" ]] || fail "upload"

q -d postgres -c "ALTER SYSTEM SET sdp.worker_databases = '$db'" -c "ALTER SYSTEM SET sdp.worker_naptime = '100ms'" \
  -c "ALTER SYSTEM SET sdp.auto_process = on" -c "SELECT pg_catalog.pg_reload_conf()" >/dev/null
batch_state() {
  q -d "$db" -c "SELECT status FROM sdp.processing_batch WHERE batch_id OPERATOR(pg_catalog.=) '$1'::pg_catalog.uuid"
}
for _ in $(seq 1 600); do
  [[ $(batch_state "$good") != RECEIVED && $(batch_state "$nomodel") != RECEIVED ]] && break
  sleep 0.1
done
# Two more rounds (the retention purge runs after the queue is empty).
sleep 0.5
reset_worker
[[ $(batch_state "$good") == PROCESSED ]] || fail "good batch: $(batch_state "$good")"
[[ $(batch_state "$nomodel") == FAILED ]] || fail "batch with a broken model: $(batch_state "$nomodel")"
pass "the worker processed the batches (PROCESSED, and FAILED for the broken model)"

ran=$(q -d "$db" -c "SELECT pg_catalog.string_agg(DISTINCT who || ' for ' || arg_type, ', ') FROM public.planted_ran")
[[ -z "$ran" ]] || fail "the planted operator ran inside the worker as: $ran"
pass "the planted operators never ran in the worker"
[[ $(q -d postgres -c "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) '$owner'") == f ]] ||
  fail "the database owner made itself SUPERUSER through the worker"
pass "the database owner is still rolsuper = false"
echo "$checks checks passed"
